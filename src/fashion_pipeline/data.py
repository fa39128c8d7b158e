"""Fashion-MNIST on disk: the IDX files parsed and validated (the format of the MNIST family), and
the prepared arrays, how they are stored and read back (no pickle anywhere)."""

import struct
import zipfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from fashion_pipeline.errors import DataFileError
from fashion_pipeline.files import atomic_path

FEATURE_COUNT = 28 * 28
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def save_split(prepared_dir, split, features, labels):
    with atomic_path(Path(prepared_dir) / f"{split}.npz") as temporary:
        np.savez(temporary, features=features, labels=labels)


def load_split(prepared_dir, split):
    """(features float32 (n, 784), labels uint8 (n,)) of one split; a missing, damaged or
    misshapen file is refused with its path and what to run."""
    path = Path(prepared_dir) / f"{split}.npz"
    again = "re-run the prepare stage (dvc repro --force prepare)"
    if not path.is_file():
        raise DataFileError(path, "not found; run the prepare stage first (dvc repro prepare)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            features, labels = arrays["features"], arrays["labels"]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise DataFileError(path, f"not a prepared split ({type(error).__name__}: {error}); {again}") from None
    if features.ndim != 2 or features.shape[1] != FEATURE_COUNT or labels.shape != (len(features),):
        raise DataFileError(path, f"features of shape {features.shape} and labels of shape {labels.shape}; "
                                  f"expected (n, {FEATURE_COUNT}) and (n,); {again}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataFileError(path, f"labels outside 0..{len(CLASS_NAMES) - 1}; {again}")
    return features, labels


def one_hot(labels, class_count=len(CLASS_NAMES)):
    return np.eye(class_count, dtype=np.float32)[labels]


def rescale(features, scaled, want_scaled):
    """Prepared features in the pixel scale an experiment asks for. Exact both ways: pixels
    are integers 0-255, so rounding undoes the division's float error."""
    if scaled == want_scaled:
        return features
    return features / np.float32(255.0) if want_scaled else np.rint(features * np.float32(255.0))


def held_out_split(features, labels, fraction, seed):
    """(train, held-out) pairs of (features, labels): a stratified `fraction` held out, drawn by
    `seed`, so every run and every seed holds out the same images."""
    train_x, held_x, train_y, held_y = train_test_split(features, labels, test_size=fraction, stratify=labels,
                                                        random_state=seed)
    return (train_x, train_y), (held_x, held_y)


def stratified_subset(features, labels, size, seed):
    """A fixed stratified subset of `size` images (all of them when `size` is 0 or too large):
    where the training metrics are measured in inference mode after each epoch."""
    if size == 0 or size >= len(labels):
        return features, labels
    subset_x, _, subset_y, _ = train_test_split(features, labels, train_size=size, stratify=labels,
                                                random_state=seed)
    return subset_x, subset_y


def load_training_data(prepared_dir, data_scaled, experiment_scale, held_out_fraction, split_seed, train_eval_images):
    """(train, sets): the training pairs, and the pairs measured after every epoch, by name,
    with one-hot labels, in the pixel scale the experiment asks for (`experiment_scale`, else
    the prepared data's own):
    - `train`: a fixed stratified subset of `train_eval_images` training images;
    - `val`: the prepared validation split (the test set under the coursework's protocol), or,
      when `held_out_fraction` > 0, that stratified part of the training set, held out of training;
    - `test`: with a held-out split only, the test set, recorded but never used to choose."""
    want = data_scaled if experiment_scale is None else experiment_scale

    def ready(pair):
        return rescale(pair[0], data_scaled, want), one_hot(pair[1])

    train = load_split(prepared_dir, "train")
    sets = {}
    if held_out_fraction > 0:
        train, sets["val"] = held_out_split(*train, held_out_fraction, split_seed)
        sets["test"] = load_split(prepared_dir, "test")
    else:
        sets["val"] = load_split(prepared_dir, "val")
    sets = {"train": stratified_subset(*train, train_eval_images, split_seed), **sets}
    return ready(train), {name: ready(pair) for name, pair in sets.items()}


# IDX files.
IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
IMAGE_SIDE = 28


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
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataFileError(path, f"label {int(labels.max())} out of range; allowed 0..{len(CLASS_NAMES) - 1}")
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
