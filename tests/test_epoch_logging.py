"""Per-epoch metrics go to MLflow on its asynchronous queue, and the store ends with exactly the
history the stage writes: every epoch once, each value as the loop handed it over."""

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from fashion_pipeline.tracking.progress import EpochRecorder


def test_every_epoch_reaches_the_store_once_with_its_exact_values(tmp_path, monkeypatch):
    # The recorder's store is MLFLOW_TRACKING_URI's; the test's client names it too, whatever store
    # an earlier test of this process set.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("epochs", artifact_location=tmp_path.as_uri()))
    epochs, names = 120, ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "update_norm"]
    values = np.random.default_rng(0).random((epochs, len(names)), dtype=np.float32)
    recorder = EpochRecorder(run.info.run_id, "test", epochs, progress_every=1000)
    for epoch in range(1, epochs + 1):
        recorder(epoch, {name: float(value) for name, value in zip(names, values[epoch - 1])})
    history = recorder.history()
    expected = pd.DataFrame({"epoch": range(1, epochs + 1), **{name: values[:, index].astype(float)
                                                                for index, name in enumerate(names)}})
    pd.testing.assert_frame_equal(history, expected, check_exact=True)
    for name in names:
        points = sorted(client.get_metric_history(run.info.run_id, name), key=lambda point: point.step)
        assert [point.step for point in points] == list(history["epoch"])
        assert [point.value for point in points] == list(history[name])


def test_a_resumed_run_sends_the_checkpoints_rows_and_marks_the_run(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("resumed", artifact_location=tmp_path.as_uri()))
    recorder = EpochRecorder(run.info.run_id, "test", 4, progress_every=1)
    recorder.resume([{"epoch": 1, "val_loss": 0.9}, {"epoch": 2, "val_loss": 0.7}], tmp_path)
    recorder(3, {"val_loss": 0.6})
    recorder(4, {"val_loss": 0.65})
    assert list(recorder.history()["val_loss"]) == [0.9, 0.7, 0.6, 0.65]
    points = sorted(client.get_metric_history(run.info.run_id, "val_loss"), key=lambda point: point.step)
    assert [(point.step, point.value) for point in points] == [(1, 0.9), (2, 0.7), (3, 0.6), (4, 0.65)]
    assert client.get_run(run.info.run_id).data.tags["resumed_after_epoch"] == "2"
