"""Shared fixtures: the project's own params, and a runner for the real DVC pipeline."""

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def shrink(params, experiments, epochs=2, limit_train=600, limit_test=300):
    """The real configuration cut to a few experiments, a few epochs and a small real subset."""
    params["data"]["limit_train"] = limit_train
    params["data"]["limit_test"] = limit_test
    params["training"]["progress_every_epochs"] = 1
    params["mlflow"]["log_every_epochs"] = 1
    params["experiments"] = {name: {**params["experiments"][name], "epochs": epochs} for name in experiments}
    return params


def copy_project(destination, params):
    """The project's pipeline in a fresh git + DVC repository, with `params` as params.yaml."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "src", destination / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", destination / "dvc.yaml")
    (destination / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        run(command, destination)
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
