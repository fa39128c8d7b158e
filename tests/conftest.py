"""Shared fixtures: the project's own params, and a runner for the real DVC pipeline."""

import copy
import gzip
import hashlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fashion_pipeline import data

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def project_params():
    """params.yaml as committed, validated."""
    from fashion_pipeline.params import load_params

    return load_params(ROOT / "params.yaml")


@pytest.fixture
def params(project_params):
    """A copy tests may change."""
    return copy.deepcopy(project_params)


def shrink(params, experiments, epochs=2, limit_train=600, limit_test=300, optimizer_runs=("adam",), seeds=(42,)):
    """The real configuration cut to a few experiments, optimizer runs and seeds, a few epochs
    and a small real subset. The optimizer comparison uses the first lowlevel experiment kept."""
    params["seeds"] = list(seeds)
    params["data"]["limit_train"] = limit_train
    params["data"]["limit_test"] = limit_test
    params["training"]["progress_every_epochs"] = 1
    params["training"]["checkpoint_every_epochs"] = 1
    params["mlflow"]["log_every_epochs"] = 1
    params["report"]["bootstrap_rounds"] = 200
    lowlevel = [name for name in experiments if name in params["experiments"]["lowlevel"]]
    study = params["optimizers"]
    if study["network"] not in lowlevel:
        study["network"] = lowlevel[0] if lowlevel else study["network"]
    study.update(epochs=epochs, ablation_epochs=epochs, runs={name: study["runs"][name] for name in optimizer_runs})
    study["rate_grids"] = {rule: names for rule, names in study["rate_grids"].items()
                           if all(name in optimizer_runs for name in names)}
    params["experiments"] = {
        kind: {name: {**spec, "epochs": epochs} for name, spec in group.items()
               if name in experiments or (kind == "lowlevel" and name == study["network"])}
        for kind, group in params["experiments"].items()}
    # The held-out comparison: the kept candidates, else the first Keras experiment kept.
    keras = list(params["experiments"]["keras"])
    params["holdout"]["experiments"] = [name for name in keras if name in params["holdout"]["experiments"]] or keras[:1]
    return params


def copy_project(destination, params):
    """The project's pipeline in a fresh git + DVC repository, with `params` as params.yaml."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "src", destination / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", destination / "dvc.yaml")
    (destination / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        run(command, destination)
    # The project's plot templates (dvc.yaml's top-level plots name them).
    shutil.copytree(ROOT / ".dvc" / "plots", destination / ".dvc" / "plots")
    return destination


def pipeline_env(project):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "DVC_"))}
    # The copy's own modules, not the installed checkout's, so DVC's hashes match what runs.
    env["PYTHONPATH"] = str(project / "src")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def run(command, project, check=True):
    result = subprocess.run(command, cwd=project, env=pipeline_env(project), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def real_data():
    """The real Fashion-MNIST files from the Debian package (make test installs it)."""
    if not DEBIAN_DATA.is_dir():
        raise RuntimeError(f"{DEBIAN_DATA} is missing: run `make data` (installs dataset-fashion-mnist)")
    return DEBIAN_DATA


# Small hand-made IDX files, for the data-file checks.


def image_bytes(count, rows=28, columns=28, magic=data.IMAGE_MAGIC, fill=7):
    return struct.pack(">IIII", magic, count, rows, columns) + bytes([fill]) * (count * rows * columns)


def label_bytes(labels, magic=data.LABEL_MAGIC):
    return struct.pack(">II", magic, len(labels)) + bytes(labels)


def write_source(folder, files):
    """A directory source holding the given name -> uncompressed bytes, gzipped like the mirrors."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(data))
    return folder


def fake_dataset(train_count=40, test_count=20):
    labels = lambda count: [index % 10 for index in range(count)]  # noqa: E731
    return {
        "train-images-idx3-ubyte": image_bytes(train_count),
        "train-labels-idx1-ubyte": label_bytes(labels(train_count)),
        "t10k-images-idx3-ubyte": image_bytes(test_count, fill=200),
        "t10k-labels-idx1-ubyte": label_bytes(labels(test_count)),
    }


def data_params(sources, files):
    return {
        "sources": [str(source) for source in sources],
        "download_timeout_seconds": 2,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "scale": True, "val_fraction": 0.0, "limit_train": 0, "limit_test": 0, "split_seed": 0,
    }
