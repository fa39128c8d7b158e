"""The one frame every training stage runs in: fix the thread count, check the store, seed, load
the data, open the checkpoint and the MLflow run, train, then write the history, the final
metrics and the run's record. The training stages differ only in what they train."""

import dataclasses
import time
from pathlib import Path

import keras
import tensorflow as tf

from fashion_pipeline import checkpoints, files, runs
from fashion_pipeline.data import load_training_data
from fashion_pipeline.errors import ParamsError
from fashion_pipeline.params import experiment_spec
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
    """What one training stage trains; its names and paths are its run's (runs.Run)."""

    run: runs.Run
    spec: dict  # the spec the training function reads (pixel scale in `scale`, epochs in `epochs`)
    logged: dict  # every param DVC tracks for the stage, flat: logged to MLflow, fingerprinted
    modules: tuple  # the modules that train, for the checkpoint's code fingerprint
    progress_every: int
    # 0: validate on the prepared validation split (the coursework's protocol). > 0: validate on
    # this stratified part of the training set, and record the test set beside it.
    held_out_fraction: float = 0.0


# The training params each kind reads, besides its experiment's spec and frame.shared_logged.
TRAINING_KEYS = {"lowlevel": (), "keras": ("jit_compile", "steps_per_execution")}
# How often each kind prints a progress line.
PROGRESS_KEYS = {"lowlevel": "progress_every_epochs", "keras": "keras_progress_every_epochs"}


def training_job(params, kind, name, seed, stage_module):
    """What the stage (`stage_module`) trains of experiment `name` of `kind`, and what it logs."""
    spec = experiment_spec(params, name, kind)
    own_spec = {key: value for key, value in spec.items() if key != "kind"}
    logged = {**mlflow_runs.flatten(own_spec, f"experiments.{kind}.{name}."), **shared_logged(params)}
    logged.update({f"training.{key}": params["training"][key] for key in TRAINING_KEYS[kind]})
    return TrainingJob(
        run=runs.Run(kind, name, seed), spec=spec, logged=logged,
        modules=(stage_module, runs.KINDS[kind].training_module),
        progress_every=params["training"][PROGRESS_KEYS[kind]],
    )


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


def train(params, job, prepared_dir, train_function):
    """Run `train_function(train, sets, recorder, checkpoint) -> Keras model or None` inside the
    frame (`sets`: the pairs measured after every epoch, by name; see data.load_training_data),
    save the model to its run's model path when there is one, and return the final metrics."""
    stage_started = time.perf_counter()
    run = job.run
    use_threads(params["training"]["threads"])
    # An unreachable store stops the stage now, not after the training it could not record.
    uri = mlflow_runs.connect(params["mlflow"])
    seed_everything(run.seed)
    train, sets = load_training_data(prepared_dir, params["data"]["scale"], job.spec.get("scale"),
                                     job.held_out_fraction, params["data"]["split_seed"],
                                     params["training"]["train_eval_images"])
    fingerprint = checkpoints.fingerprint({"seed": run.seed, **job.logged}, job.modules)
    checkpoint = checkpoints.Checkpoint(run.checkpoint_dir, fingerprint, params["training"]["resume"])
    with mlflow_runs.start_training_run(params, uri, job) as active, mlflow_runs.killed_on_interrupt():
        run_id = active.info.run_id
        recorder = EpochRecorder(run_id, run.stage, job.spec["epochs"], job.progress_every)
        started = time.perf_counter()
        model = train_function(train, sets, recorder, checkpoint)
        train_seconds = time.perf_counter() - started
        history = recorder.history()
        metrics = summarize(history)
        if model is not None:
            metrics["parameter_count"] = int(model.count_params())
            with files.atomic_path(run.model_path) as temporary:
                model.save(temporary)
            mlflow_runs.log_model(model, train[0][:5], run.mlflow_run_name)
        # After training: nothing MLflow does with the arrays can touch the seeded state.
        mlflow_runs.log_inputs(prepared_dir, train, sets)
        files.write_csv(run.results_dir / "history.csv", history)
        mlflow_runs.log_training(metrics, run.results_dir / "history.csv")
    checkpoint.clear()
    # train.json and run.json last: DVC takes them as the sign that the stage finished.
    files.write_json(run.results_dir / "train.json", metrics)
    files.write_json(run.results_dir / "run.json", {
        "mlflow_run_id": run_id, "tracking_uri": mlflow_runs.recorded_uri(uri), "train_seconds": round(train_seconds, 2),
        "stage_seconds": round(time.perf_counter() - stage_started, 2),
    })
    return metrics
