"""The one frame every training stage runs in: fix the thread count, check the store, seed, load
the data, open the checkpoint and the MLflow run, train, then write the history, the final
metrics and the run's record. The training stages differ only in what they train."""

import dataclasses
import time
from pathlib import Path

import keras
import tensorflow as tf

from fashion_pipeline import checkpoints, files
from fashion_pipeline.data import load_training_data
from fashion_pipeline.errors import ParamsError
from fashion_pipeline.tracking import mlflow_runs
from fashion_pipeline.tracking.progress import EpochRecorder

# The training params every training stage reads, DVC tracks and MLflow logs: they shape the
# numbers of every kind alike.
SHARED_TRAINING_KEYS = ("threads", "train_eval_images")


def use_threads(threads):
    """Run TensorFlow's operations (and the XLA programs) on `threads` threads. Float sums are
    split by thread, so the count changes every number: it is a param, set before TensorFlow
    starts, so the numbers do not depend on the machine's cores or on what runs beside."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def seed_everything(seed):
    """Seeded initialisation, shuffling and dropout, and deterministic kernels: the same params
    give the same numbers on the same machine."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def summarize(history):
    """Final metrics: the last epoch's values, the best validation loss and its epoch."""
    final = history.iloc[-1].drop("epoch").to_dict()
    best = int(history["val_loss"].idxmin())
    return {
        **{key: float(value) for key, value in final.items()},
        "best_val_loss": float(history["val_loss"].iloc[best]),
        "best_val_epoch": int(history["epoch"].iloc[best]),
        "epochs": int(history["epoch"].iloc[-1]),
    }


@dataclasses.dataclass
class TrainingJob:
    """What one training stage trains and where its outputs go."""

    stage: str  # the DVC stage, e.g. train_keras@keras_4l-42
    kind: str  # lowlevel, keras or optimizer: which study's tags the MLflow run gets
    run_name: str  # the MLflow run's name
    seed: int
    spec: dict  # the spec the training function reads (pixel scale in `scale`, epochs in `epochs`)
    logged: dict  # every param DVC tracks for the stage, flat: logged to MLflow, fingerprinted
    tags: dict
    modules: tuple  # the modules that train, for the checkpoint's code fingerprint
    results_dir: Path
    checkpoint_dir: Path
    progress_every: int
    # 0: validate on the prepared validation split (the coursework's protocol). > 0: validate on
    # this stratified part of the training set, and record the test set beside it.
    held_out_fraction: float = 0.0


def shared_logged(params, held_out_fraction=0.0):
    """The params outside an experiment's spec that shape every training run's numbers."""
    logged = {"data.scale": params["data"]["scale"], "data.split_seed": params["data"]["split_seed"],
              **{f"training.{key}": params["training"][key] for key in SHARED_TRAINING_KEYS}}
    if held_out_fraction:
        if params["data"]["val_fraction"] > 0:
            raise ParamsError("data.val_fraction", params["data"]["val_fraction"],
                              "0 for runs that hold out their own part of the training set (data.held_out_fraction)")
        logged["data.held_out_fraction"] = held_out_fraction
    return logged


def train(params, job, prepared_dir, train_function, model_path=None):
    """Run `train_function(train, sets, recorder, checkpoint) -> Keras model or None` inside the
    frame (`sets`: the pairs measured after every epoch, by name; see data.load_training_data),
    save the model to `model_path` when there is one, and return the final metrics."""
    stage_started = time.perf_counter()
    use_threads(params["training"]["threads"])
    # An unreachable store stops the stage now, not after the training it could not record.
    uri = mlflow_runs.connect(params["mlflow"])
    seed_everything(job.seed)
    train, sets = load_training_data(prepared_dir, params["data"]["scale"], job.spec.get("scale"),
                                     job.held_out_fraction, params["data"]["split_seed"],
                                     params["training"]["train_eval_images"])
    fingerprint = checkpoints.fingerprint({"seed": job.seed, **job.logged}, job.modules)
    checkpoint = checkpoints.Checkpoint(job.checkpoint_dir, fingerprint, params["training"]["resume"])
    with mlflow_runs.start_training_run(params, uri, job) as active, mlflow_runs.killed_on_interrupt():
        run_id = active.info.run_id
        recorder = EpochRecorder(run_id, job.stage, job.spec["epochs"], params["mlflow"]["log_every_epochs"],
                                 job.progress_every)
        started = time.perf_counter()
        model = train_function(train, sets, recorder, checkpoint)
        train_seconds = time.perf_counter() - started
        history = recorder.history()
        metrics = summarize(history)
        if model is not None:
            metrics["parameter_count"] = int(model.count_params())
            with files.atomic_path(model_path) as temporary:
                model.save(temporary)
            mlflow_runs.log_model(model, train[0][:5], job.run_name)
        # After training: nothing MLflow does with the arrays can touch the seeded state.
        mlflow_runs.log_inputs(prepared_dir, train, sets)
        files.write_csv(job.results_dir / "history.csv", history)
        mlflow_runs.log_training(metrics, job.results_dir / "history.csv")
    checkpoint.clear()
    # train.json and run.json last: DVC takes them as the sign that the stage finished.
    files.write_json(job.results_dir / "train.json", metrics)
    files.write_json(job.results_dir / "run.json", {
        "mlflow_run_id": run_id, "tracking_uri": uri, "train_seconds": round(train_seconds, 2),
        "stage_seconds": round(time.perf_counter() - stage_started, 2),
    })
    return metrics
