"""`make demo`: the real pipeline at a small scale, in a project of its own."""

import subprocess

import mlflow
import pytest
from conftest import ROOT, pipeline_env, run

pytestmark = pytest.mark.slow


def test_make_demo_runs_a_small_grid_in_a_project_of_its_own(tmp_path):
    """The demo: both kinds, two seeds, the optimizer comparison, in its own folder and MLflow
    experiment, ending with its own report; the project's files are not touched."""
    # What the demo could touch in the project (results/ and dvc.lock belong to `make grid`).
    watched = ["git", "status", "--porcelain", "--", "params.yaml", "dvc.yaml", "src", "reports"]
    before = run(watched, ROOT).stdout
    folder = tmp_path / "demo"
    result = subprocess.run(["python", "-m", "fashion_pipeline.tools.demo", "--folder", str(folder), "--epochs", "1"],
                            cwd=ROOT, env=pipeline_env(ROOT), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "grid: done" in result.stdout and (folder / "reports" / "report.html").stat().st_size > 10_000
    for seed in (42, 43):
        assert (folder / "results" / f"seed_{seed}" / "keras_4l_drop20" / "metrics.json").is_file()
        assert (folder / "results" / f"seed_{seed}" / "optimizers" / "sgd_momentum" / "train.json").is_file()
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp-demo"])
    assert {"lowlevel", "keras"} <= set(runs["tags.kind"]) and set(runs["tags.seed"].dropna()) == {"42", "43"}
    assert run(watched, ROOT).stdout == before
