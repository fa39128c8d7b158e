"""The real pipeline end to end: real DVC, real MLflow (SQLite), real TensorFlow, on a small
stratified subset of the real Fashion-MNIST files."""

import copy
import json
import signal
import sqlite3
import subprocess

import mlflow
import pandas as pd
import pytest
import yaml
from conftest import copy_project, pipeline_env, run, shrink

pytestmark = pytest.mark.slow

EXPERIMENTS = ["lowlevel_net_b_l1", "keras_softmax", "keras_4l_drop_taper", "keras_3l_raw"]
OPTIMIZER_RUNS = ["adam", "adam_no_bias_correction"]
EPOCHS = 3


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, project_params, real_data):
    params = shrink(copy.deepcopy(project_params), EXPERIMENTS, epochs=EPOCHS, optimizer_runs=OPTIMIZER_RUNS)
    project = copy_project(tmp_path_factory.mktemp("pipeline"), params)
    first = run(["dvc", "repro"], project)
    return project, first


def test_every_stage_runs_and_writes_sane_metrics(pipeline):
    project, first = pipeline
    for name in EXPERIMENTS:
        assert f"Running stage 'train@{name}'" in first.stdout
        assert f"Running stage 'evaluate@{name}'" in first.stdout
        train = json.loads((project / "results" / name / "train.json").read_text())
        assert train["epochs"] == EPOCHS
        assert 0.1 < train["val_accuracy"] <= 1.0
        assert train["val_loss"] > 0
        history = pd.read_csv(project / "results" / name / "history.csv")
        assert list(history["epoch"]) == list(range(1, EPOCHS + 1))
        # The loss falls over the run on real data.
        assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
        evaluation = json.loads((project / "results" / name / "evaluate.json").read_text())
        assert 0.1 < evaluation["test_accuracy"] <= 1.0
        predictions = pd.read_csv(project / "results" / name / "predictions.csv")
        assert len(predictions) == 300
    summary = pd.read_csv(project / "reports" / "tables" / "summary.csv")
    assert sorted(summary["experiment"]) == sorted(EXPERIMENTS)
    assert set(summary["status"]) == {"done"}
    html = (project / "reports" / "report.html").read_text()
    assert "data:image/png;base64," in html


def test_optimizer_comparison_runs_each_optimizer_from_the_same_weights(pipeline):
    project, first = pipeline
    histories = {}
    for name in OPTIMIZER_RUNS:
        assert f"Running stage 'compare_optimizers@{name}'" in first.stdout
        histories[name] = pd.read_csv(project / "results" / "optimizers" / name / "history.csv")
        assert list(histories[name]["epoch"]) == list(range(1, EPOCHS + 1))
        assert (histories[name]["update_norm"] > 0).all()
    # Same weights and data: the first forward pass, before any update, gives the same loss.
    assert histories["adam"]["train_loss"].iloc[0] == histories["adam_no_bias_correction"]["train_loss"].iloc[0]
    # The uncorrected first step is longer, as the equations predict.
    assert histories["adam_no_bias_correction"]["update_norm"].iloc[0] > 2 * histories["adam"]["update_norm"].iloc[0]
    table = pd.read_csv(project / "reports" / "tables" / "optimizers.csv")
    assert list(table["run"]) == OPTIMIZER_RUNS
    assert set(table["status"]) == {"done"}
    assert (project / "reports" / "figures" / "bias_correction.png").stat().st_size > 10_000


def test_mlflow_store_holds_each_run_with_its_curves(pipeline):
    project, _ = pipeline
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"])
    report_runs = runs[runs["tags.dvc_stage"] == "report"]
    assert len(report_runs) == 1
    client = mlflow.MlflowClient()
    assert {artifact.path for artifact in client.list_artifacts(report_runs["run_id"].iloc[0])} >= {"report.md", "report.html"}
    optimizer_runs = runs[runs["tags.dvc_stage"].str.startswith("compare_optimizers@")]
    assert sorted(optimizer_runs["tags.mlflow.runName"]) == sorted(f"optimizer_{name}" for name in OPTIMIZER_RUNS)
    assert set(optimizer_runs["status"]) == {"FINISHED"}
    assert set(optimizer_runs["params.optimizer.rule"]) == {"adam"}
    runs = runs[runs["tags.dvc_stage"].str.startswith("train@")]
    assert sorted(runs["tags.mlflow.runName"]) == sorted(EXPERIMENTS)
    assert set(runs["status"]) == {"FINISHED"}
    for _, row in runs.iterrows():
        name = row["tags.mlflow.runName"]
        assert row["tags.dvc_stage"] == f"train@{name}"
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            steps = [point.step for point in client.get_metric_history(row["run_id"], key)]
            assert steps == list(range(1, EPOCHS + 1)), (name, key)
        assert 0 < row["metrics.test_accuracy"] <= 1
        assert row["params.data.limit_train"] == "600"
        assert (row["params.scale"] == "False") if name.endswith("_raw") else pd.isna(row["params.scale"])
        run_file = json.loads((project / "results" / name / "mlflow_run.json").read_text())
        assert run_file["run_id"] == row["run_id"]
    # Nothing logged twice: one row per (run, key, step).
    with sqlite3.connect(project / "mlflow.db") as connection:
        duplicates = connection.execute(
            "SELECT COUNT(*) FROM (SELECT run_uuid, key, step, COUNT(*) AS n FROM metrics "
            "GROUP BY run_uuid, key, step HAVING n > 1)"
        ).fetchone()[0]
    assert duplicates == 0
    models = mlflow.search_logged_models(experiment_ids=[runs["experiment_id"].iloc[0]], output_format="list")
    assert len(models) == len(EXPERIMENTS)


def test_second_repro_does_nothing(pipeline):
    project, _ = pipeline
    again = run(["dvc", "repro"], project)
    assert "Running stage" not in again.stdout
    status = json.loads(run(["dvc", "status", "--json"], project).stdout)
    assert status == {}


def test_dvc_sees_metrics_and_plots(pipeline):
    project, _ = pipeline
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    text = json.dumps(metrics)
    for name in EXPERIMENTS:
        assert f"results/{name}/train.json" in text
        assert f"results/{name}/evaluate.json" in text
    plots = run(["dvc", "plots", "show", "--json"], project)
    assert "results/keras_softmax/history.csv" in plots.stdout


@pytest.mark.reliability
def test_sigterm_during_training_ends_the_run_killed_and_leaves_no_finished_output(pipeline):
    project, _ = pipeline
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["experiments"]["keras_softmax"]["epochs"] = 10_000
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    results = project / "results" / "interrupted"
    process = subprocess.Popen(
        ["python", "-m", "fashion_pipeline.train", "keras_softmax", "--model", "models/interrupted.keras",
         "--results", str(results)],
        cwd=project, env=pipeline_env(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in process.stdout:
        if "epoch 2/" in line:
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    (project / "params.yaml").write_text(original)
    assert process.returncode != 0, output
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"], filter_string="tags.mlflow.runName = 'keras_softmax'")
    assert sorted(runs["status"]) == ["FINISHED", "KILLED"]
    assert not (results / "train.json").exists()
    assert not (project / "models" / "interrupted.keras").exists()
