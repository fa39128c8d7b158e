"""The committed grid browsable in MLflow without training: imported into a store that never saw
it trained, each run with the params its study shares, its curves, metrics and tags."""

import shutil

import pandas as pd
from conftest import ROOT
from mlflow.tracking import MlflowClient

from fashion_pipeline.params import load_params
from fashion_pipeline.tracking import imported

SEED = "seed_44"


def test_the_committed_results_import_once_with_shared_params_and_curves(tmp_path, monkeypatch):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / SEED, results / SEED)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = load_params(ROOT / "params.yaml")
    folders = list(imported.result_folders(results, params))
    assert len(folders) >= 20
    assert imported.import_results(results, params, "abc123") == len(folders)
    # Idempotent: a second import finds every run there already.
    assert imported.import_results(results, params, "abc123") == 0

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(params["mlflow"]["experiment_name"])
    study = client.search_runs([experiment.experiment_id], filter_string="tags.studies LIKE '%dropout_4l%'")
    assert len(study) >= 4
    for run in study:
        # The runs of one study line up param by param in MLflow's compare view.
        assert {"dropout", "hidden_units", "learning_rate", "epochs", "batch_size", "seed"} <= set(run.data.params)
        assert run.data.tags["imported_from_commit"] == "abc123" and run.info.status == "FINISHED"
        name = run.data.tags["experiment"]
        history = pd.read_csv(results / SEED / name / "history.csv")
        curve = client.get_metric_history(run.info.run_id, "val_loss")
        assert [point.step for point in curve] == list(history["epoch"])
        assert [point.value for point in curve] == list(history["val_loss"])
        assert run.data.tags["mlflow.runName"] == f"{name}-{SEED.replace('_', '')}"
