"""The end-to-end project as a newcomer and a grader meet it: the report rebuilt on a clone
without models, `make report` as typed, and `make verify`'s reproduction check."""

import os
import shutil
import sys

import pandas as pd
import pytest
import yaml
from conftest import ROOT, ran, run

pytestmark = pytest.mark.slow


def test_the_report_rebuilds_from_committed_files_alone(pipeline, tmp_path):
    """A clone without models/, data/ or a DVC cache: an edit to the report's code re-runs the
    report alone, from results/, and gives the same numbers."""
    project, _ = pipeline
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns("models", "data", "cache", "mlflow.db", "mlartifacts"))
    report_code = clone / "src" / "fashion_pipeline" / "stages" / "report.py"
    report_code.write_text(report_code.read_text() + "\n# An edit to the report's code.\n")
    rebuilt = run(["dvc", "repro", "--allow-missing"], clone)
    assert rebuilt.stdout.count("Running stage") == 1 and "Running stage 'report'" in rebuilt.stdout
    for table in ("summary", "verdicts_b-ii", "optimizers"):
        pd.testing.assert_frame_equal(pd.read_csv(clone / "reports" / "tables" / f"{table}.csv"),
                                      pd.read_csv(project / "reports" / "tables" / f"{table}.csv"))


def test_the_runner_leaves_register_out_where_its_held_out_models_are_nowhere(pipeline, tmp_path, monkeypatch):
    """A clone without data of a grid whose `register` never ran where the models were (dvc.lock
    without it). With the models, the runner makes the data again, passes over every stage that
    needs no run and runs `register`; without them it runs nothing, and says why in one line
    instead of failing in `register`."""
    from fashion_pipeline.tools.grid_plan import Grid

    project, _ = pipeline
    clones = {}
    for label, ignored in (("models here", ()), ("no models", ("models",))):
        clone = clones[label] = tmp_path / label
        shutil.copytree(project, clone, ignore=shutil.ignore_patterns("data", "cache", "mlflow.db", "mlartifacts",
                                                                      "champion", *ignored))
        lock = yaml.safe_load((clone / "dvc.lock").read_text())
        del lock["stages"]["register"]
        (clone / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))

    monkeypatch.chdir(clones["no models"])
    grid = Grid([])
    assert grid.plan() == [] and list(grid.left_out) == ["register"]
    assert grid.left_out["register"] and all(stage.startswith("holdout_keras@") for stage in grid.left_out["register"])
    output = run([sys.executable, "-m", "fashion_pipeline.tools.grid"], clones["no models"]).stdout
    assert "grid: register left out: it reads" in output and "grid: 0 of" in output, output
    assert not (clones["no models"] / "data").exists()

    output = run([sys.executable, "-m", "fashion_pipeline.tools.grid"], clones["models here"]).stdout
    assert ran(output, "prepare") and ran(output, "register") and "left out" not in output, output
    assert (clones["models here"] / "champion" / "champion.json").is_file()
    assert "register" in yaml.safe_load((clones["models here"] / "dvc.lock").read_text())["stages"]


def test_make_report_on_a_clone_without_models_draws_writes_and_prints_the_report(pipeline, tmp_path):
    """The newcomer's first command, as typed, on a clone with no models, data or DVC cache and
    no report: the figures, the report and its PDF come back from results/ alone."""
    project, _ = pipeline
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns("models", "data", "cache", "mlflow.db", "mlartifacts",
                                                                  "reports"))
    shutil.copytree(project / "reports" / "mistakes", clone / "reports" / "mistakes")
    for name in ("Makefile", "requirements.txt", "constraints.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, clone / name)
        os.utime(clone / name, (0, 0))  # older than the installed .venv: `make setup` has nothing to do
    (clone / ".venv").symlink_to(ROOT / ".venv")
    made = run(["make", "report"], clone)
    for stage in ("figures", "report", "pdf"):
        assert f"Running stage '{stage}'" in made.stdout, made.stdout
    assert "Running stage 'train" not in made.stdout
    assert (clone / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")
    pd.testing.assert_frame_equal(pd.read_csv(clone / "reports" / "tables" / "summary.csv"),
                                  pd.read_csv(project / "reports" / "tables" / "summary.csv"))


def test_verify_trains_the_sample_again_and_finds_the_committed_numbers(pipeline):
    """`make verify`'s check on the small project: the same machine, versions and params give the
    committed run's numbers exactly, and the project's files are untouched."""
    project, _ = pipeline
    before = {path: path.read_bytes() for path in (project / "results").rglob("*") if path.is_file()}
    result = run(["python", "-m", "fashion_pipeline.tools.verify"], project)
    params = yaml.safe_load((project / "params.yaml").read_text())["verify"]
    lines = [line for line in result.stdout.splitlines() if line.startswith("verify: ") and " val_" in line]
    assert len(lines) == 2 * (len(params["experiments"]) + len(params["optimizer_runs"]))
    assert all("exactly" in line for line in lines), lines
    partings = [line for line in result.stdout.splitlines() if "the committed run at every one of its" in line]
    assert len(partings) == len(params["experiments"]) + len(params["optimizer_runs"]), result.stdout
    assert "every run reproduces" in result.stdout
    assert {path: path.read_bytes() for path in (project / "results").rglob("*") if path.is_file()} == before
