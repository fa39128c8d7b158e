"""Each epoch's row on its way from the training loop to the history, the MLflow run and the
stage log. Nothing here changes a number: rows are kept as the loop hands them over."""

import time

import pandas as pd
from mlflow.tracking import MlflowClient

from fashion_pipeline.tracking import mlflow_runs


class EpochRecorder:
    """Called once per epoch with the epoch's metrics; keeps the history for the CSV, sends
    the rows to MLflow asynchronously, and prints a progress line every `progress_every` epochs
    with the time per epoch and an estimate of the time left."""

    def __init__(self, run_id, label, epochs, progress_every):
        self.client, self.run_id = MlflowClient(mlflow_runs.tracking_uri()), run_id
        self.label, self.epochs, self.progress_every = label, epochs, progress_every
        self.rows, self.pending = [], []
        self.timed_from = (0, time.perf_counter())

    def __call__(self, epoch, metrics):
        self.rows.append({"epoch": epoch, **metrics})
        self.pending.append(mlflow_runs.log_epoch(self.client, self.run_id, epoch, metrics))
        if epoch % self.progress_every == 0 or epoch == self.epochs:
            first_epoch, started = self.timed_from
            per_epoch = (time.perf_counter() - started) / max(epoch - first_epoch, 1)
            left = per_epoch * (self.epochs - epoch)
            shown = "  ".join(f"{key} {value:.4g}" for key, value in metrics.items())
            print(f"{self.label}: epoch {epoch}/{self.epochs}  {shown}  "
                  f"[{per_epoch:.2f} s/epoch, {left / 60:.1f} min left]", flush=True)

    def resume(self, rows, folder):
        """Take a checkpoint's rows as the history so far (sent to the new MLflow run too), and
        say in the log and on the run that training goes on from there."""
        for row in rows:
            epoch = row.pop("epoch")
            self.rows.append({"epoch": epoch, **row})
            self.pending.append(mlflow_runs.log_epoch(self.client, self.run_id, epoch, row))
        print(f"{self.label}: resuming after epoch {len(rows)} from {folder}", flush=True)
        self.client.set_tag(self.run_id, "resumed_after_epoch", len(rows))
        self.timed_from = (len(rows), time.perf_counter())

    def history(self):
        """Every row so far, once the store has recorded each of them."""
        mlflow_runs.wait_for(self.pending)
        self.pending = []
        return pd.DataFrame(self.rows)
