"""Stage `evaluate@<name>`: score a trained model on the test set and add the results to its
MLflow run: test loss and accuracy, per-class precision/recall, a confusion matrix."""

import argparse
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, precision_recall_fscore_support

from fashion_pipeline import cli, figures, files, tracking
from fashion_pipeline.data import CLASS_NAMES, load_split, rescale
from fashion_pipeline.keras_models import load_model
from fashion_pipeline.params import experiment_spec, load_params


def scores(labels, probabilities):
    """Test metrics and a per-class table from true labels and predicted probabilities."""
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(CLASS_NAMES)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    per_class = pd.DataFrame({
        "class": CLASS_NAMES, "precision": precision, "recall": recall, "f1": f1, "support": support,
    })
    # Per-image cross-entropy, clipped as log_loss clips, for the loss's standard error: the
    # report's yardstick for which differences between models are within noise.
    per_image = -np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-15, 1.0))
    metrics = {
        "test_loss": float(log_loss(labels, probabilities, labels=classes)),
        "test_loss_standard_error": float(per_image.std(ddof=1) / np.sqrt(len(labels))),
        "test_accuracy": float(accuracy_score(labels, predicted)),
        "test_count": int(len(labels)),
    }
    return metrics, per_class, predicted


def evaluate(params, name, prepared_dir, model_path, results_dir):
    started = time.perf_counter()
    results_dir = Path(results_dir)
    scaled = params["data"]["scale"]
    features, labels = load_split(prepared_dir, "test")
    features = rescale(features, scaled, experiment_spec(params, name).get("scale", scaled))
    model = load_model(model_path)
    probabilities = np.asarray(model.predict(features, batch_size=2048, verbose=0), dtype=np.float64)
    # float32 softmax rows sum to 1 only within rounding; log_loss wants exact probabilities.
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    metrics, per_class, predicted = scores(labels, probabilities)

    # DVC's confusion template counts (actual, predicted) rows.
    predictions = pd.DataFrame({
        "actual": [CLASS_NAMES[label] for label in labels],
        "predicted": [CLASS_NAMES[label] for label in predicted],
    })
    with files.atomic_path(results_dir / "predictions.csv") as temporary:
        predictions.to_csv(temporary, index=False)
    with files.atomic_path(results_dir / "per_class.csv") as temporary:
        per_class.to_csv(temporary, index=False)
    figures.save(
        figures.confusion(labels, predicted, CLASS_NAMES, f"{name}: test confusion matrix"),
        results_dir / "confusion.png",
    )
    run_id = files.read_json(results_dir / "mlflow_run.json")["run_id"]
    with tracking.resume_run(params["mlflow"], run_id):
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(results_dir / "per_class.csv"))
        mlflow.log_artifact(str(results_dir / "confusion.png"))
    metrics["evaluate_seconds"] = round(time.perf_counter() - started, 2)
    files.write_json(results_dir / "evaluate.json", metrics)
    print(f"evaluate@{name}: test loss {metrics['test_loss']:.4f}  test accuracy {metrics['test_accuracy']:.4f}")
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--model", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    evaluate(params, arguments.name, arguments.prepared, arguments.model, arguments.results)


if __name__ == "__main__":
    cli.run(main)
