"""Stage `evaluate_<kind>@<name>-<seed>`: score a trained model on the test set.

Writes the compact metrics of the run (metrics.json: final and best training metrics beside the
test ones), every image's prediction and loss (predictions.csv, for paired comparisons), the
per-class precision and recall, and statistics of the weights (evaluation.json); adds them to
the training's MLflow run through the client, so the run's duration stays its training's.
The test loss is computed exactly as training computes the validation loss: cross-entropy from
the softmax layer's logits, unclipped.
"""

import time

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from fashion_pipeline import cli, files, frame, runs
from fashion_pipeline.data import CLASS_NAMES, load_split, rescale
from fashion_pipeline.errors import StageError
from fashion_pipeline.models import load_model, log_softmax, logits, per_image_loss
from fashion_pipeline.params import KINDS, check_seed, experiment_spec
from fashion_pipeline.tracking import mlflow_runs

# The training metrics that, with the test ones, make an experiment's compact metrics: one row of
# `dvc metrics show` that fits 160 columns. The final validation metrics stay in train.json: with
# the coursework's protocol (validation = test) they repeat the test ones.
TRAINING_METRICS = ("train_loss", "train_accuracy", "best_val_loss", "best_val_epoch")


def scores(labels, image_losses, predicted):
    """Test metrics and a per-class table from true labels, each image's loss and prediction."""
    classes = list(range(len(CLASS_NAMES)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    per_class = pd.DataFrame({
        "class": CLASS_NAMES, "precision": precision, "recall": recall, "f1": f1, "support": support,
    })
    metrics = {"test_loss": float(image_losses.mean()), "test_accuracy": float((predicted == labels).mean())}
    return metrics, per_class


def weight_statistics(model, near_zero):
    """Per weight matrix: mean |w|, sum |w|, sum w^2 and the share of weights below `near_zero`
    in size (the L1-against-L2 sparsity question)."""
    kernels = [layer.get_weights()[0] for layer in model.layers if layer.get_weights()]
    return [
        {
            "layer": index + 1, "shape": "x".join(str(size) for size in kernel.shape),
            "mean_abs": float(np.abs(kernel).mean()), "sum_abs": float(np.abs(kernel).sum()),
            "sum_squares": float(np.square(kernel).sum()),
            "share_near_zero": float((np.abs(kernel) < near_zero).mean()),
        }
        for index, kernel in enumerate(kernels)
    ]


def evaluate_stage(params, address, prepared_dir="data/prepared"):
    started = time.perf_counter()
    group, name, seed = address
    kind = group.removeprefix("evaluate_")
    if not group.startswith("evaluate_") or kind not in KINDS:
        raise StageError(f"stage group {group!r}: expected one of " + ", ".join(f"evaluate_{kind}" for kind in KINDS))
    check_seed(params, seed)
    spec = experiment_spec(params, name, kind)
    frame.use_threads(params["training"]["threads"])
    run = runs.Run(kind, name, seed)
    results_dir = run.results_dir
    training = files.read_json(results_dir / "train.json")
    record = files.read_json(results_dir / "run.json")
    scaled = params["data"]["scale"]
    features, labels = load_split(prepared_dir, "test")
    features = rescale(features, scaled, spec.get("scale", scaled))
    model = load_model(run.model_path)
    log_probabilities = log_softmax(logits(model, features))
    image_losses = per_image_loss(labels, log_probabilities)
    predicted = log_probabilities.argmax(axis=1)
    test_metrics, per_class = scores(labels, image_losses, predicted)

    # One row per test image, in the test set's order: what paired comparisons and the report's
    # sample of confident mistakes need. DVC's confusion template reads (actual, predicted).
    files.write_csv(results_dir / "predictions.csv", pd.DataFrame({
        "actual": [CLASS_NAMES[label] for label in labels],
        "predicted": [CLASS_NAMES[label] for label in predicted],
        "loss": np.round(image_losses, 7),
        "confidence": np.round(np.exp(log_probabilities.max(axis=1)), 7),
    }))
    files.write_csv(results_dir / "per_class.csv", per_class)
    mlflow_runs.add_to_run(params["mlflow"], record["mlflow_run_id"], test_metrics, [results_dir / "per_class.csv"])
    files.write_json(results_dir / "evaluation.json", {
        "test_count": int(len(labels)),
        "test_loss_standard_error": float(image_losses.std(ddof=1) / np.sqrt(len(labels))),
        "weights": weight_statistics(model, params["evaluate"]["near_zero_weight"]),
        "evaluate_seconds": round(time.perf_counter() - started, 2),
    })
    metrics = {**{key: training[key] for key in TRAINING_METRICS}, **test_metrics}
    files.write_json(results_dir / "metrics.json", metrics)
    print(f"{group}@{name}-{seed}: test loss {metrics['test_loss']:.4f}  test accuracy {metrics['test_accuracy']:.4f}")
    return metrics


main = cli.stage_main(evaluate_stage, __doc__, "evaluate_keras@keras_4l-42")

if __name__ == "__main__":
    cli.run(main)
