"""Parse and validate Fashion-MNIST IDX files (the format of the MNIST family)."""

import struct

import numpy as np

from fashion_pipeline.errors import DataFileError

IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
IMAGE_SIDE = 28
CLASS_COUNT = 10


def _header(data, path, magic, dimensions):
    header_size = 4 + 4 * dimensions
    if len(data) < header_size:
        raise DataFileError(path, f"truncated: {len(data)} bytes, the header alone needs {header_size}")
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise DataFileError(path, f"wrong magic number 0x{found:08x}; expected 0x{magic:08x}")
    return struct.unpack(f">{dimensions}I", data[4:header_size]), header_size


def parse_images(data, path):
    """IDX bytes -> uint8 array of shape (count, 28, 28)."""
    (count, rows, columns), offset = _header(data, path, IMAGE_MAGIC, 3)
    if (rows, columns) != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataFileError(path, f"images are {rows}x{columns}; expected {IMAGE_SIDE}x{IMAGE_SIDE}")
    expected = offset + count * rows * columns
    if len(data) != expected:
        raise DataFileError(path, f"{len(data)} bytes, expected {expected} for {count} images")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(count, rows, columns)


def parse_labels(data, path):
    """IDX bytes -> uint8 array of shape (count,), every label in 0..9."""
    (count,), offset = _header(data, path, LABEL_MAGIC, 1)
    if len(data) != offset + count:
        raise DataFileError(path, f"{len(data)} bytes, expected {offset + count} for {count} labels")
    labels = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if labels.size and labels.max() >= CLASS_COUNT:
        raise DataFileError(path, f"label {int(labels.max())} out of range; allowed 0..{CLASS_COUNT - 1}")
    return labels


def load_pair(images_path, labels_path):
    """Read an images file and its labels file; their counts must agree."""
    for path in (images_path, labels_path):
        if not path.is_file():
            raise DataFileError(path, "not found (run the download stage first)")
    images = parse_images(images_path.read_bytes(), images_path)
    labels = parse_labels(labels_path.read_bytes(), labels_path)
    if len(images) != len(labels):
        raise DataFileError(
            labels_path, f"{len(labels)} labels for {len(images)} images in {images_path.name}"
        )
    return images, labels
