"""The prepared arrays: how they are stored and read back (no pickle anywhere)."""

import zipfile
from pathlib import Path

import numpy as np

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


def load_training_data(prepared_dir, data_scaled, experiment_scale=None):
    """((train_x, train_y), (val_x, val_y)) with one-hot labels, in the pixel scale the
    experiment asks for (`experiment_scale`, else the prepared data's own)."""
    want = data_scaled if experiment_scale is None else experiment_scale
    splits = []
    for split in ("train", "val"):
        features, labels = load_split(prepared_dir, split)
        splits.append((rescale(features, data_scaled, want), one_hot(labels)))
    return tuple(splits)
