"""What every training stage does around its training loop: collect the per-epoch rows, send
them to MLflow in batches, print progress, and write the run's files when it is done."""

import keras
import mlflow
import pandas as pd
import tensorflow as tf

from fashion_pipeline import figures, files, lowlevel, tracking


def seed_everything(seed):
    """Seeded initialisation, shuffling and dropout, and deterministic kernels: the same params
    give the same numbers on the same machine."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def restore(state, checkpoint, recorder):
    """Put the checkpoint's arrays into the state variables and replay its history rows to
    the recorder; return the epochs done (0 when there is nothing to resume)."""
    saved, rows = checkpoint.arrays(), checkpoint.rows()
    if saved is None or not rows:
        return 0
    for variable, array in zip(state, saved, strict=True):
        variable.assign(array)
    recorder.resume(len(rows), checkpoint.folder)
    for row in rows:
        recorder(row.pop("epoch"), row)
    return len(rows)


def save(checkpoint, recorder, state):
    """The history so far and every state variable, after an epoch or a chunk of epochs."""
    checkpoint.save(recorder.rows, [variable.numpy() for variable in state])


def run_full_batch(spec, train, val, seed, bind_update, recorder, chunk_epochs, checkpoint):
    """Run the hand-written trainer in compiled chunks of epochs, checkpointing after each;
    resume from the checkpoint when it holds a state. Returns the trained layers."""
    layers, run_epochs, state = lowlevel.build_trainer(spec, train, val, seed, bind_update)
    done = restore(state, checkpoint, recorder)
    while done < spec["epochs"]:
        for values in run_epochs(min(chunk_epochs, spec["epochs"] - done)):
            done += 1
            recorder(done, dict(zip(lowlevel.HISTORY_COLUMNS, values.tolist())))
        save(checkpoint, recorder, state)
    return layers


class EpochRecorder:
    """Called once per epoch with the epoch's metrics; keeps the history for the CSV."""

    def __init__(self, run_id, label, epochs, log_every, progress_every):
        self.logger = tracking.EpochMetricLogger(run_id, log_every)
        self.label, self.epochs, self.progress_every = label, epochs, progress_every
        self.rows = []

    def __call__(self, epoch, metrics):
        self.rows.append({"epoch": epoch, **metrics})
        self.logger.log(epoch, metrics)
        if epoch % self.progress_every == 0 or epoch == self.epochs:
            shown = "  ".join(f"{key} {value:.4g}" for key, value in metrics.items())
            print(f"{self.label}: epoch {epoch}/{self.epochs}  {shown}", flush=True)

    def resume(self, epoch, folder):
        """Say, in the log and on the MLflow run, that training goes on from a checkpoint."""
        print(f"{self.label}: resuming after epoch {epoch} from {folder}", flush=True)
        self.logger.client.set_tag(self.logger.run_id, "resumed_after_epoch", epoch)

    def history(self):
        self.logger.flush()
        return pd.DataFrame(self.rows)


def summarize(history, seconds):
    """Final metrics: the last epoch's values, the best validation loss and its epoch."""
    final = history.iloc[-1].drop("epoch").to_dict()
    best = int(history["val_loss"].idxmin())
    return {
        **{key: float(value) for key, value in final.items()},
        "best_val_loss": float(history["val_loss"].iloc[best]),
        "best_val_epoch": int(history["epoch"].iloc[best]),
        "epochs": int(history["epoch"].iloc[-1]),
        "train_seconds": round(seconds, 2),
    }


def write_outputs(results_dir, title, history, metrics, run_id):
    """history.csv and curves.png (also logged to the run), then train.json and mlflow_run.json,
    which DVC takes as the sign that the stage finished, last."""
    with files.atomic_path(results_dir / "history.csv") as temporary:
        history.to_csv(temporary, index=False)
    figures.save(figures.curves({title: history}, f"{title}: train vs validation"), results_dir / "curves.png")
    # The last epoch's values are already the latest points of the per-epoch curves.
    mlflow.log_metrics({key: value for key, value in metrics.items() if key not in history})
    mlflow.log_artifact(str(results_dir / "history.csv"))
    mlflow.log_artifact(str(results_dir / "curves.png"))
    files.write_json(results_dir / "train.json", metrics)
    files.write_json(results_dir / "mlflow_run.json", {"run_id": run_id, "tracking_uri": tracking.tracking_uri()})
