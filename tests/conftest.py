"""Shared fixtures: the project's own params, and a runner for the real DVC pipeline."""

import copy
import gzip
import hashlib
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashion_pipeline import data
from fashion_pipeline.tools.demo import make_project, project_env, small_params  # noqa: F401 - for the tests
from fashion_pipeline.tools.ports import free_port  # noqa: F401 - for the tests

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")


# `make test` runs two pytest-xdist workers. A test file runs whole on one worker, so its module
# fixtures are built once; the files that read the shared end-to-end project (the `pipeline`
# fixture) run on one worker together, so it is built once. The longest units start first, so the
# last one to finish is not a long one started late.
SHARED_PIPELINE_FILES = ("test_pipeline_e2e.py", "test_pipeline_faults.py", "test_pipeline_newcomer.py",
                         "test_serving.py")
LONGEST_FIRST = ("test_interruption.py", *SHARED_PIPELINE_FILES, "test_benchmark.py", "test_team.py", "test_grid.py",
                 "test_demo.py")


def pytest_collection_modifyitems(items):
    """The longest units first (every worker collects the same order), and a test reading the
    shared project outside SHARED_PIPELINE_FILES stops the run, as it would build it twice."""
    for item in items:
        if "pipeline" in getattr(item, "fixturenames", ()) and item.path.name not in SHARED_PIPELINE_FILES:
            raise pytest.UsageError(f"{item.nodeid} reads the `pipeline` fixture: add its file to "
                                    "SHARED_PIPELINE_FILES in tests/conftest.py")
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_xdist_make_scheduler(config, log):
    """Work units of whole files, the shared project's files one unit. (pytest-xdist's own
    `--dist loadgroup` no longer groups under pytest 9.2: it marks a test's id, which pytest now
    rebuilds.)"""
    from xdist.scheduler import LoadScopeScheduling

    # In collection order (LONGEST_FIRST), not xdist's default of the units with most tests first.
    config.option.loadscopereorder = False

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            file = nodeid.split("::", 1)[0]
            return "shared pipeline" if Path(file).name in SHARED_PIPELINE_FILES else file

    return ByFile(config, log)


@pytest.fixture(scope="session")
def project_params():
    """params.yaml as committed, validated."""
    from fashion_pipeline.params import load_params

    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session", autouse=True)
def tensorflow_threads(project_params):
    """TensorFlow takes its thread count only before it starts, and some tests run stages
    in-process, which set params.yaml's: set it first in every test process, so that a test
    starting TensorFlow earlier in the same process does not stop them."""
    from fashion_pipeline import frame

    frame.use_threads(project_params["training"]["threads"])


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
    """The real pipeline on a small subset of the real images over two seeds, built once for
    every test file that reads it by `make repro`'s grid runner, its stages forked warm, on one
    worker (the tests' other worker has the other core); a second `dvc repro` then finds nothing
    to run (test_pipeline_e2e.py), and test_grid.py holds the runner to `dvc repro` file by file:
    (project folder, the runner's output)."""
    params = small_params(copy.deepcopy(project_params), list(EXPERIMENTS), epochs=EPOCHS,
                          optimizer_runs=OPTIMIZER_RUNS, seeds=SEEDS)
    project = copy_project(tmp_path_factory.mktemp("pipeline"), params)
    first = run([sys.executable, "-m", "fashion_pipeline.tools.grid", "--workers", "1"], project)
    return project, first


def ran(output, address):
    """The grid runner's output says that stage `address` ran and was recorded."""
    return f"grid: {address} done;" in output
