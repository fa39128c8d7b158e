"""`make predict IMAGES=<folders or files>`: classify images with the registered champion
(`models:/<champion.registered_model>@champion`) and write one CSV row per image: the file, the
class name, the confidence and the ten probabilities.

PNG files must be 28x28 8-bit grayscale with the dataset's polarity (the garment bright on
black); an IDX images file (plain or gzipped, as Fashion-MNIST ships) gives one row per image. A
file that cannot be classified gets one line naming it and what was found; the others are still
classified, and the exit status is 1.
"""

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fashion_pipeline import cli, files
from fashion_pipeline.data import CLASS_NAMES, parse_images
from fashion_pipeline.errors import DataFileError, StageError
from fashion_pipeline.params import load_params
from fashion_pipeline.serving.champion import IMAGE_SHAPE
from fashion_pipeline.tracking import mlflow_runs, registry

BATCH = 256
IDX_SUFFIXES = ("-ubyte", "-ubyte.gz", ".idx", ".idx.gz")


def read_png(path):
    """One PNG as a (1, 28, 28) uint8 array; refused with what was found."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode != "L":
                raise DataFileError(path, f"mode {image.mode}; expected 8-bit grayscale (L), 28x28")
            if image.size != IMAGE_SHAPE:
                raise DataFileError(path, f"{image.size[0]}x{image.size[1]} pixels; expected 28x28")
            return np.asarray(image, dtype=np.uint8)[None]
    except UnidentifiedImageError:
        raise DataFileError(path, "not an image (no PNG could be read from it)") from None


def read_images(path):
    """The images of one file, (n, 28, 28) uint8, with a name for each row."""
    path = Path(path)
    try:
        if path.name.endswith(IDX_SUFFIXES):
            data = path.read_bytes()
            images = parse_images(gzip.decompress(data) if path.suffix == ".gz" else data, path)
            return images, [f"{path}#{index}" for index in range(len(images))]
        return read_png(path), [str(path)]
    except OSError as error:
        raise DataFileError(path, f"cannot be read ({error.strerror or error})") from None


def image_files(given):
    """The files named, and every PNG and IDX file in the folders named, in order."""
    found = []
    for item in map(Path, given):
        if item.is_dir():
            # Symbolic links too, even broken ones: a file the user put there is named if it cannot be read.
            found += sorted(path for path in item.rglob("*") if (path.is_file() or path.is_symlink())
                            and (path.suffix.lower() == ".png" or path.name.endswith(IDX_SUFFIXES)))
        else:
            found.append(item)
    return found


def classify(model, images, names):
    """Rows of the output CSV for these images, in batches, with a progress bar on a terminal."""
    rows = []
    for start in tqdm(range(0, len(images), BATCH), desc="predict", unit="batch", disable=len(images) <= BATCH):
        answers = model.predict(images[start:start + BATCH].astype(np.float64))
        probabilities = pd.DataFrame(np.stack(answers["probabilities"]).round(8), columns=list(CLASS_NAMES))
        rows.append(pd.concat([pd.DataFrame({"file": names[start:start + BATCH], "class_name": answers["class_name"],
                                             "confidence": answers["confidence"].round(8)}), probabilities], axis=1))
    return pd.concat(rows, ignore_index=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("images", nargs="+", help="PNG or IDX files, or folders holding them")
    parser.add_argument("--out", default="predictions.csv")
    arguments = parser.parse_args()
    params = load_params()
    paths = image_files(arguments.images)
    if not paths:
        raise StageError(f"no PNG or IDX file in {' '.join(arguments.images)}")
    mlflow_runs.connect(params["mlflow"])
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    uri = registry.model_uri(params["champion"]["registered_model"])
    try:
        model = mlflow.pyfunc.load_model(uri)
    except MlflowException:
        raise StageError(f"{uri}: no champion is registered in this store; `make register` makes one") from None
    images, names, failed = [], [], 0
    for path in paths:
        try:
            found, labels = read_images(path)
        except DataFileError as error:
            print(f"predict: {error}", file=sys.stderr)
            failed += 1
            continue
        images.append(found)
        names += labels
    if images:
        table = classify(model, np.concatenate(images), names)
        files.write_csv(Path(arguments.out), table)
        print(f"predict: {len(table)} images classified -> {arguments.out}")
    if failed:
        print(f"predict: {failed} of {len(paths)} files could not be classified", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    cli.run(main)
