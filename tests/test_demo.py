"""`make demo`: the real pipeline at a small scale, in a project of its own."""

import copy
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_project, pipeline_env, run
from mlflow.tracking import MlflowClient

from fashion_pipeline import runs as run_identity

pytestmark = pytest.mark.slow


def test_make_demo_trains_records_and_judges_a_small_grid_in_a_project_of_its_own(tmp_path, project_params):
    """The demo: params.yaml's `demo` grid in its own folder and MLflow experiment, every run
    recorded with its params and curves, ending with its own report's verdicts; the project's
    files are not touched. The demo's grid is cut here to one seed, a model of each kind and one
    optimizer run, in a committed copy of the project (two seeds run in test_pipeline_e2e.py)."""
    project_params = copy.deepcopy(project_params)
    project_params["demo"].update(experiments=["lowlevel_net_b", "keras_4l_drop20"], optimizer_runs=["adam"],
                                  seeds=[42])
    project = copy_project(tmp_path / "project", project_params)
    # The committed results, whose stage times tell the demo how long it takes.
    shutil.copytree(ROOT / "results", project / "results")
    (project / ".gitignore").write_text("__pycache__/\n")
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "project"], project)
    folder, epochs = tmp_path / "demo", 1
    result = subprocess.run(["python", "-m", "fashion_pipeline.tools.demo", "--folder", str(folder), "--epochs",
                             str(epochs)], cwd=project, env=pipeline_env(project), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"by the stage times recorded in results and {project}/results" in result.stdout, result.stdout
    # The project's own files (results/ and dvc.lock belong to `make grid`) as committed.
    assert run(["git", "status", "--porcelain"], project).stdout == ""

    demo = project_params["demo"]
    params = yaml.safe_load((folder / "params.yaml").read_text())
    kinds = {name: kind for kind, group in params["experiments"].items() for name in group}
    expected = [run_identity.Run(kinds[name], name, seed) for name in demo["experiments"] for seed in demo["seeds"]]
    expected += [run_identity.Run("optimizer", name, seed) for name in demo["optimizer_runs"] for seed in demo["seeds"]]
    expected += [run_identity.Run("holdout", name, seed) for name in params["holdout"]["experiments"]
                 for seed in demo["seeds"]]

    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"{project_params['mlflow']['experiment_name']}-demo")
    recorded = {found.info.run_name: found for found in client.search_runs([experiment.experiment_id])
                if found.data.tags.get("kind") not in ("report", "champion")}
    assert set(recorded) == {identity.mlflow_run_name for identity in expected}
    for identity in expected:
        found = recorded[identity.mlflow_run_name]
        assert found.info.status == "FINISHED", identity
        assert found.data.tags["dvc_stage"] == identity.stage and found.data.tags["seed"] == str(identity.seed)
        assert found.data.params["seed"] == str(identity.seed) and "learning_rate" in found.data.params
        curve = client.get_metric_history(found.info.run_id, "val_loss")
        run_epochs = params["optimizers"]["epochs"] if identity.kind == "optimizer" else epochs
        assert [point.step for point in sorted(curve, key=lambda point: point.step)] == list(range(1, run_epochs + 1))
        assert (folder / identity.results_dir / "history.csv").is_file()

    # The report judged the coursework's conclusions on the demo's runs: each row names one of the
    # four reproduction verdicts.
    reproduction = pd.read_csv(folder / "reports" / "tables" / "reproduction.csv")
    assert len(reproduction) > 0
    assert set(reproduction["verdict"]) <= {"reproduced", "not reproduced", "reversed", "could not be tested here"}
    # And its champion, registered in its store, picked among its held-out runs.
    champion = client.get_model_version_by_alias(params["champion"]["registered_model"], "champion")
    assert champion.tags["experiment"] in params["holdout"]["experiments"]
    used = pd.read_csv(folder / "reports" / "tables" / "mlflow_runs.csv")
    assert set(used["mlflow_run_name"]) <= set(recorded)
