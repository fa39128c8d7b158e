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
import pandas as pd
import tensorflow as tf
from mlflow.models import infer_signature

from fashion_pipeline import figures, files, lowlevel, tracking
from fashion_pipeline.data import load_split, one_hot, rescale
from fashion_pipeline.keras_models import build_model, train_keras
from fashion_pipeline.params import experiment_spec, load_params


def train_lowlevel(spec, train, val, seed, on_epoch, chunk_epochs, name):
    """Run the hand-written trainer in compiled chunks; return an equivalent Keras model."""
    layers, run_epochs = lowlevel.build_trainer(spec, train, val, seed)
    done = 0
    while done < spec["epochs"]:
        rows = run_epochs(min(chunk_epochs, spec["epochs"] - done))
        for row in rows:
            done += 1
            on_epoch(done, dict(zip(lowlevel.HISTORY_COLUMNS, row.tolist())))
    # The same weights in Keras Dense layers, so `evaluate` treats every experiment alike.
    model = build_model(spec["hidden_units"], spec["activation"], 0.0, name)
    model.set_weights(lowlevel.layer_arrays(layers))
    return model


def summarize(history, seconds, model):
    """Final metrics: the last epoch's values, the best validation loss and its epoch."""
    final = history.iloc[-1].drop("epoch").to_dict()
    best = int(history["val_loss"].idxmin())
    return {
        **{key: float(value) for key, value in final.items()},
        "best_val_loss": float(history["val_loss"].iloc[best]),
        "best_val_epoch": int(history["epoch"].iloc[best]),
        "epochs": int(history["epoch"].iloc[-1]),
        "train_seconds": round(seconds, 2),
        "parameter_count": int(model.count_params()),
    }


def log_model(model, features):
    sample = features[:5]
    mlflow.keras.log_model(
        model,
        name="model",
        signature=infer_signature(sample, model.predict(sample, verbose=0)),
        pip_requirements=[f"tensorflow-cpu=={tf.__version__}", f"keras=={keras.__version__}"],
    )


def train_experiment(params, name, prepared_dir, model_path, results_dir):
    spec = experiment_spec(params, name)
    results_dir = Path(results_dir)
    # Seeded initialisation, shuffling and dropout, and deterministic kernels: the same params
    # give the same numbers on the same machine.
    keras.utils.set_random_seed(params["seed"])
    tf.config.experimental.enable_op_determinism()
    scaled = params["data"]["scale"]
    train_x, train_labels = load_split(prepared_dir, "train")
    val_x, val_labels = load_split(prepared_dir, "val")
    # An experiment may ask for the other pixel scale than data.scale (raw 0-255 vs [0, 1]).
    train_x, val_x = (rescale(features, scaled, spec.get("scale", scaled)) for features in (train_x, val_x))
    train, val = (train_x, one_hot(train_labels)), (val_x, one_hot(val_labels))
    progress_every = params["training"]["progress_every_epochs"]

    with tracking.start_training_run(params, name) as run, tracking.killed_on_interrupt():
        logger = tracking.EpochMetricLogger(run.info.run_id, params["mlflow"]["log_every_epochs"])
        rows = []

        def on_epoch(epoch, metrics):
            rows.append({"epoch": epoch, **metrics})
            logger.log(epoch, metrics)
            if epoch % progress_every == 0 or epoch == spec["epochs"]:
                shown = "  ".join(f"{key} {value:.4f}" for key, value in metrics.items())
                print(f"train@{name}: epoch {epoch}/{spec['epochs']}  {shown}", flush=True)

        started = time.perf_counter()
        if spec["kind"] == "lowlevel":
            model = train_lowlevel(spec, train, val, params["seed"], on_epoch, progress_every, name)
        else:
            model = train_keras(spec, params["training"], train, val, on_epoch, name)
        seconds = time.perf_counter() - started
        logger.flush()

        history = pd.DataFrame(rows)
        metrics = summarize(history, seconds, model)
        with files.atomic_path(results_dir / "history.csv") as temporary:
            history.to_csv(temporary, index=False)
        figures.save(figures.curves({name: history}, f"{name}: train vs validation"), results_dir / "curves.png")
        with files.atomic_path(model_path) as temporary:
            model.save(temporary)
        # The last epoch's values are already the latest points of the per-epoch curves.
        mlflow.log_metrics({key: value for key, value in metrics.items() if key not in history})
        mlflow.log_artifact(str(results_dir / "history.csv"))
        mlflow.log_artifact(str(results_dir / "curves.png"))
        log_model(model, np.asarray(train_x))
        files.write_json(results_dir / "train.json", metrics)
        files.write_json(results_dir / "mlflow_run.json", {"run_id": run.info.run_id, "tracking_uri": tracking.tracking_uri()})
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="experiment name, a key of `experiments` in params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--model", required=True, help="output .keras path")
    parser.add_argument("--results", required=True, help="output folder for history, metrics, curves")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    train_experiment(params, arguments.name, arguments.prepared, arguments.model, arguments.results)


if __name__ == "__main__":
    main()
