"""Stage `prepare`: validated IDX -> flat float32 arrays for train, validation and test.

By default the validation set is the 10,000 test images, as in the coursework; `data.val_fraction`
instead holds out a stratified part of the training set and leaves the test set to `evaluate`.
"""

import argparse
from pathlib import Path

import numpy as np

from fashion_pipeline import cli, data, files
from fashion_pipeline.errors import ParamsError
from fashion_pipeline.params import load_params


def limited(images, labels, limit, seed, key):
    """Keep `limit` items with the class balance of the whole (0 keeps everything)."""
    if 0 < limit < len(data.CLASS_NAMES):
        raise ParamsError(key, limit, f"0 (everything) or at least {len(data.CLASS_NAMES)}, one per class")
    return data.stratified_subset(images, labels, limit, seed)


def features(images, scale):
    """(n, 28, 28) uint8 -> (n, 784) float32, in [0, 1] when scale is on."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    return flat / 255.0 if scale else flat


def prepare(data_params, raw_dir, out_dir, summary_path):
    """The prepared arrays in `out_dir`; a summary of the data (counts, where the validation set
    comes from, each raw file's source and SHA-256) in `summary_path`, a small file the report reads."""
    raw_dir, seed = Path(raw_dir), data_params["split_seed"]
    train_images, train_labels = data.load_pair(
        raw_dir / "train-images-idx3-ubyte", raw_dir / "train-labels-idx1-ubyte"
    )
    test_images, test_labels = data.load_pair(
        raw_dir / "t10k-images-idx3-ubyte", raw_dir / "t10k-labels-idx1-ubyte"
    )
    train_images, train_labels = limited(train_images, train_labels, data_params["limit_train"], seed, "data.limit_train")
    test_images, test_labels = limited(test_images, test_labels, data_params["limit_test"], seed, "data.limit_test")
    if data_params["val_fraction"] > 0:
        (train_images, train_labels), (val_images, val_labels) = data.held_out_split(
            train_images, train_labels, data_params["val_fraction"], seed)
        validation = "stratified hold-out of the training set"
    else:
        val_images, val_labels = test_images, test_labels
        validation = "the test set (as in the coursework)"
    splits = {
        "train": (train_images, train_labels),
        "val": (val_images, val_labels),
        "test": (test_images, test_labels),
    }
    summary = {"validation": validation, "scale": data_params["scale"],
               "raw_files": files.read_json(raw_dir / "manifest.json")}
    with files.atomic_directory(out_dir) as folder:
        for split, (images, labels) in splits.items():
            data.save_split(folder, split, features(images, data_params["scale"]), labels)
            summary[f"{split}_count"] = int(len(labels))
            print(f"prepare: {split}: {len(labels):,} images")
    files.write_json(summary_path, summary)
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_dir")
    parser.add_argument("out_dir")
    parser.add_argument("summary_path")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    prepare(load_params(arguments.params)["data"], arguments.raw_dir, arguments.out_dir, arguments.summary_path)


if __name__ == "__main__":
    cli.run(main)
