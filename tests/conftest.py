"""Shared fixtures: the project's own params, and a runner for the real DVC pipeline."""

import copy
import gzip
import hashlib
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fashion_pipeline import data
from fashion_pipeline.tools.demo import make_project, project_env, small_params  # noqa: F401 - for the tests
from fashion_pipeline.tools.screenshots import free_port  # noqa: F401 - for the tests

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")


def pytest_collection_modifyitems(items):
    """Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`), a test file runs whole on one
    worker, so its module fixtures are built once; and every file that reads the shared pipeline
    project runs on the same worker, so that project is built once."""
    shared = {item.path.name for item in items if "pipeline" in getattr(item, "fixturenames", ())}
    for item in items:
        item.add_marker(pytest.mark.xdist_group("pipeline" if item.path.name in shared else item.path.stem))


@pytest.fixture(scope="session")
def project_params():
    """params.yaml as committed, validated."""
    from fashion_pipeline.params import load_params

    return load_params(ROOT / "params.yaml")


@pytest.fixture
def params(project_params):
    """A copy tests may change."""
    return copy.deepcopy(project_params)


def copy_project(destination, params):
    """The project's pipeline in a fresh git + DVC repository, with `params` as params.yaml."""
    return make_project(ROOT, destination, params)


def pipeline_env(project):
    env = {key: value for key, value in project_env(project).items() if not key.startswith("MLFLOW_")}
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


def prepared_fake(project):
    """Tiny prepared arrays of the right shape, as prepare writes them."""
    features = np.random.default_rng(0).random((40, 784), dtype=np.float32)
    labels = np.arange(40) % 10
    for split in ("train", "val", "test"):
        np.savez(project / "data" / "prepared" / f"{split}.npz", features=features, labels=labels.astype(np.uint8))


# Small hand-made IDX files, for the data-file checks.


def image_bytes(count, rows=28, columns=28, magic=data.IMAGE_MAGIC, fill=7):
    return struct.pack(">IIII", magic, count, rows, columns) + bytes([fill]) * (count * rows * columns)


def label_bytes(labels, magic=data.LABEL_MAGIC):
    return struct.pack(">II", magic, len(labels)) + bytes(labels)


def write_source(folder, files):
    """A directory source holding the given name -> uncompressed bytes, gzipped like the mirrors."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(content))
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
        "sha256": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
        "scale": True, "val_fraction": 0.0, "limit_train": 0, "limit_test": 0, "split_seed": 0,
    }


# The end-to-end project: Part A with L1, three Keras experiments (softmax, tapered dropout, raw
# pixels), two optimizer runs.
EXPERIMENTS = {"lowlevel_net_b_l1": "lowlevel", "keras_softmax": "keras", "keras_4l_drop_taper": "keras", "keras_3l_raw": "keras"}
OPTIMIZER_RUNS = ["adam", "adam_no_bias_correction"]
SEEDS = [42, 43]
EPOCHS = 3


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, project_params, real_data):
    """The real pipeline, `dvc repro` on a small subset of the real images over two seeds, built
    once for every test file that reads it: (project folder, the first repro's output)."""
    params = small_params(copy.deepcopy(project_params), list(EXPERIMENTS), epochs=EPOCHS,
                          optimizer_runs=OPTIMIZER_RUNS, seeds=SEEDS)
    project = copy_project(tmp_path_factory.mktemp("pipeline"), params)
    first = run(["dvc", "repro"], project)
    return project, first
