"""Stage `train@<name>`: train one experiment from params.yaml and track it in MLflow.

Writes the model (.keras), the per-epoch history (CSV), the final metrics (JSON), the curves
(PNG) and the MLflow run id; logs params, per-epoch metrics, artifacts and the model.
"""

import argparse
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
import tensorflow as tf
from mlflow.models import infer_signature

from fashion_pipeline import checkpoints, cli, files, lowlevel, runs, tracking
from fashion_pipeline.data import load_training_data
from fashion_pipeline.keras_models import build_model
from fashion_pipeline.keras_training import train_keras
from fashion_pipeline.params import experiment_spec, load_params


def train_lowlevel(spec, train, val, seed, recorder, chunk_epochs, name, checkpoint):
    """Part A; returns the same weights in an equivalent Keras model, so `evaluate` treats
    every experiment alike."""
    bind_update = lowlevel.keras_adam(spec["learning_rate"])
    layers = runs.run_full_batch(spec, train, val, seed, bind_update, recorder, chunk_epochs, checkpoint)
    model = build_model(spec["hidden_units"], spec["activation"], 0.0, name)
    model.set_weights(lowlevel.layer_arrays(layers))
    return model


def log_model(model, features):
    sample = features[:5]
    mlflow.keras.log_model(
        model,
        name="model",
        signature=infer_signature(sample, model.predict(sample, verbose=0)),
        pip_requirements=[f"tensorflow-cpu=={tf.__version__}", f"keras=={keras.__version__}"],
    )


def train_experiment(params, name, prepared_dir, model_path, results_dir, checkpoint_dir):
    stage_started = time.perf_counter()
    spec = experiment_spec(params, name)
    results_dir = Path(results_dir)
    # An unreachable store stops the stage now, not after the training it could not record.
    uri = tracking.connect(params["mlflow"])
    runs.seed_everything(params["seed"])
    train, val = load_training_data(prepared_dir, params["data"]["scale"], spec.get("scale"))
    checkpoint = checkpoints.Checkpoint(checkpoint_dir, checkpoints.fingerprint(params, spec), params["training"]["resume"])
    with tracking.start_training_run(params, uri, f"train@{name}", name, spec) as run, tracking.killed_on_interrupt():
        recorder = runs.EpochRecorder(run.info.run_id, f"train@{name}", spec["epochs"],
                                      params["mlflow"]["log_every_epochs"], params["training"]["progress_every_epochs"])
        started = time.perf_counter()
        if spec["kind"] == "lowlevel":
            model = train_lowlevel(spec, train, val, params["seed"], recorder, params["training"]["progress_every_epochs"],
                                   name, checkpoint)
        else:
            model = train_keras(spec, params["training"], train, val, params["seed"], recorder, name, checkpoint)
        seconds = time.perf_counter() - started
        metrics = {**runs.summarize(recorder.history(), seconds), "parameter_count": int(model.count_params())}
        with files.atomic_path(model_path) as temporary:
            model.save(temporary)
        log_model(model, np.asarray(train[0]))
        metrics["stage_seconds"] = round(time.perf_counter() - stage_started, 2)
        runs.write_outputs(results_dir, name, recorder.history(), metrics, run.info.run_id)
    checkpoint.clear()
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="experiment name, a key of `experiments` in params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--model", required=True, help="output .keras path")
    parser.add_argument("--results", required=True, help="output folder for history, metrics, curves")
    parser.add_argument("--checkpoints", help="checkpoint folder (default: checkpoints/train/<name>)")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    checkpoint_dir = arguments.checkpoints or Path("checkpoints") / "train" / arguments.name
    train_experiment(params, arguments.name, arguments.prepared, arguments.model, arguments.results, checkpoint_dir)


if __name__ == "__main__":
    cli.run(main)
