"""The committed grid browsable in MLflow without training: imported into a store that never saw
it trained, each run with the params its study shares, its curves, metrics and tags; and the
runs table's views that `make ui` prints, opened in a fresh browser."""

import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pandas as pd
from conftest import ROOT, free_port
from mlflow.tracking import MlflowClient

from fashion_pipeline import runs
from fashion_pipeline.params import load_params
from fashion_pipeline.tracking import imported, views

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

    # Every run the report names (tables/mlflow_runs.csv) is found by that name in the store
    # `make ui` builds, and it is the run of the stage its identity names, for every kind.
    imported_runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id], max_results=1000)}
    identities = {folder_run.mlflow_run_name: folder_run for _, folder_run, _ in folders}
    named = pd.read_csv(ROOT / "reports" / "tables" / "mlflow_runs.csv")["mlflow_run_name"]
    of_seed = [name for name in named if name.endswith(f"-{SEED.replace('_', '')}")]
    assert set(of_seed) == set(identities)
    for name in of_seed:
        assert imported_runs[name].data.tags["dvc_stage"] == identities[name].stage
    assert {identity.kind for identity in identities.values()} == set(runs.KINDS)


def test_a_study_view_opens_the_runs_table_on_the_study_in_a_fresh_browser(tmp_path, monkeypatch):
    """The address `make ui` prints for a study, in headless Chromium with a fresh profile: the runs
    table lists the study's runs and no other, with its params and metrics as columns."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / SEED, results / SEED)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    params = load_params(ROOT / "params.yaml")
    imported.import_results(results, params, "abc123")
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name(params["mlflow"]["experiment_name"]).experiment_id
    views.save_views(client, experiment, params["studies"])
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store, "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{address}/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        with tempfile.TemporaryDirectory() as profile:
            dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                                  "--window-size=1600,1000", "--virtual-time-budget=30000", "--dump-dom",
                                  views.view_address(address, experiment, "study-dropout_4l")],
                                 capture_output=True, text=True, timeout=180).stdout
    finally:
        server.terminate()
        server.wait(timeout=60)
    seed = SEED.replace("_", "")
    shown = set(re.findall(rf"(keras_[a-z0-9_]+)-{seed}", dom))
    assert shown == {f"{name}" for name in params["studies"]["dropout_4l"]["experiments"]}
    assert "test_accuracy" in dom and "dropout" in dom and "hidden_units" in dom
