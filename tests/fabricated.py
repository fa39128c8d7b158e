"""Result files fabricated as the train, evaluate, holdout and optimizer stages write them, so
the report can be built and checked without training anything."""

import numpy as np
import pandas as pd

from fashion_pipeline import files
from fashion_pipeline.data import save_split
from fashion_pipeline.stages.evaluate import TRAINING_METRICS

CLASSES = ("T-shirt/top", "Trouser")


def write_run(results, seed, name, test_loss, test_accuracy, train_loss=0.2, correct=None, epochs=4, images=100):
    folder = results / f"seed_{seed}" / name
    history = pd.DataFrame({
        "epoch": range(1, epochs + 1),
        "train_loss": np.linspace(2 * train_loss, train_loss, epochs),
        "val_loss": ([test_loss + 0.1, test_loss - 0.05, test_loss - 0.02, test_loss][:epochs] if epochs <= 4
                     else test_loss + 0.3 / np.arange(1, epochs + 1) - 0.3 / epochs),
        "train_accuracy": np.linspace(0.5, 0.95, epochs), "val_accuracy": np.linspace(0.5, test_accuracy, epochs),
    })
    history["train_loss_running"] = history["train_loss"] + 0.01
    files.write_csv(folder / "history.csv", history)
    train = {"train_loss": train_loss, "val_loss": test_loss, "train_accuracy": 0.95, "val_accuracy": test_accuracy,
             "best_val_loss": test_loss - 0.05, "best_val_epoch": 2, "epochs": epochs, "parameter_count": 100,
             "train_loss_running": train_loss + 0.01, "train_accuracy_running": 0.94}
    files.write_json(folder / "train.json", train)
    files.write_json(folder / "run.json", {"mlflow_run_id": f"run-{name}-{seed}", "train_seconds": 1.0, "stage_seconds": 2.0})
    files.write_json(folder / "metrics.json", {**{key: train[key] for key in TRAINING_METRICS},
                                               "test_loss": test_loss, "test_accuracy": test_accuracy})
    files.write_json(folder / "evaluation.json", {
        "test_count": 100, "test_loss_standard_error": 0.01, "evaluate_seconds": 0.5,
        "weights": [{"layer": 1, "shape": "784x10", "mean_abs": 0.05, "sum_abs": 392.0, "sum_squares": 3.0,
                     "share_near_zero": 0.1}]})
    correct = np.arange(images) < round(test_accuracy * images) if correct is None else correct
    files.write_csv(folder / "predictions.csv", pd.DataFrame({
        "actual": [CLASSES[0]] * images, "predicted": [CLASSES[0] if hit else CLASSES[1] for hit in correct],
        "loss": np.full(images, test_loss), "confidence": np.full(images, 0.9)}))
    files.write_csv(folder / "per_class.csv", pd.DataFrame({"class": CLASSES, "precision": [0.9, 0.8], "recall": [0.9, 0.8]}))


def write_holdout_run(results, seed, name, held_out_loss, test_loss, test_accuracy):
    folder = results / f"seed_{seed}" / "holdout" / name
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.5, 0.3], "val_loss": [held_out_loss + 0.1, held_out_loss],
                            "train_accuracy": [0.8, 0.9], "val_accuracy": [0.8, 0.85], "train_loss_running": [0.6, 0.35],
                            "test_loss": [test_loss + 0.1, test_loss], "test_accuracy": [test_accuracy - 0.01, test_accuracy]})
    files.write_csv(folder / "history.csv", history)
    train = {"train_loss": 0.3, "train_accuracy": 0.9, "val_loss": held_out_loss, "val_accuracy": 0.85,
             "best_val_loss": held_out_loss, "best_val_epoch": 2, "epochs": 2}
    files.write_json(folder / "train.json", train)
    files.write_json(folder / "run.json", {"mlflow_run_id": f"holdout-{name}-{seed}", "train_seconds": 1.0,
                                           "stage_seconds": 2.0})
    files.write_json(folder / "metrics.json", {**{key: train[key] for key in TRAINING_METRICS},
                                               "held_out_loss": held_out_loss, "held_out_accuracy": 0.85,
                                               "test_loss": test_loss, "test_accuracy": test_accuracy})


def fabricated_test_images(tmp_path, count=100):
    """A prepared folder whose test split has `count` images, as many as the fabricated predictions."""
    prepared = tmp_path / "prepared"
    save_split(prepared, "test", np.random.default_rng(0).random((count, 784), dtype=np.float32),
               np.zeros(count, dtype=np.uint8))
    return prepared


def fabricated_results(tmp_path, seeds=(42, 43, 44)):
    """keras_4l_drop20 clearly below keras_4l in test loss; keras_4l and keras_5l alike in
    accuracy; nothing else run."""
    results = tmp_path / "results"
    for offset, seed in enumerate(seeds):
        write_run(results, seed, "keras_4l", 0.50 + 0.01 * offset, 0.880)
        write_run(results, seed, "keras_5l", 0.48 + 0.01 * offset, 0.880)
        write_run(results, seed, "keras_4l_drop20", 0.38 + 0.012 * offset, 0.885)
        # Held out, keras_4l_drop_taper looks best, but keras_5l scores best on the test set.
        write_holdout_run(results, seed, "keras_4l_drop_taper", 0.30, 0.36 + 0.01 * offset, 0.880)
        write_holdout_run(results, seed, "keras_5l", 0.34, 0.33 + 0.01 * offset, 0.890)
    files.write_json(results / "data.json", {"validation": "the test set (as in the coursework)", "scale": True,
                                             "train_count": 1000, "val_count": 100, "test_count": 100,
                                             "raw_files": {"t10k-labels-idx1-ubyte": {"sha256": "ab" * 32}}})
    return results




def write_optimizer_run(results, seed, name, final_loss, epochs, update_norm=0.05):
    """One optimizer run: held-out (val_*) and test losses over the epochs, its step lengths."""
    folder = results / f"seed_{seed}" / "optimizers" / name
    losses = final_loss + 2.0 / np.arange(1, epochs + 1)
    history = pd.DataFrame({"epoch": range(1, epochs + 1), "train_loss": losses - 0.05, "val_loss": losses,
                            "train_accuracy": np.linspace(0.3, 0.9, epochs), "val_accuracy": np.linspace(0.3, 0.88, epochs),
                            "update_norm": np.full(epochs, update_norm), "train_loss_running": losses})
    files.write_csv(folder / "history.csv", history)
    files.write_json(folder / "train.json", {"train_loss": losses[-1] - 0.05, "val_loss": losses[-1],
                                             "best_val_loss": losses.min(), "val_accuracy": 0.88,
                                             "test_loss": losses[-1] + 0.02, "test_accuracy": 0.87, "epochs": epochs})
    files.write_json(folder / "run.json", {"mlflow_run_id": f"opt-{name}-{seed}", "train_seconds": 1.0,
                                           "stage_seconds": 2.0})


def fabricated_grid(tmp_path, params, images=500):
    """Every experiment, optimizer run and held-out run of `params` over all its seeds, with its
    real epoch counts: a report of the real size, for its layout."""
    results = tmp_path / "results"
    generator = np.random.default_rng(0)
    for offset, seed in enumerate(params["seeds"]):
        for kind, group in params["experiments"].items():
            for index, (name, spec) in enumerate(group.items()):
                loss = 0.3 + 0.01 * index + 0.005 * offset
                write_run(results, seed, name, loss, 0.88 + 0.001 * index, correct=generator.random(images) < 0.88,
                          epochs=spec["epochs"], images=images)
                folder = results / f"seed_{seed}" / name
                history = pd.read_csv(folder / "history.csv")
                history = history.assign(train_total_loss=history["train_loss"] + 0.1, val_total_loss=history["val_loss"] + 0.1,
                                          val_rounded_accuracy=history["val_accuracy"] + 0.09,
                                          rounded_accuracy=history["val_accuracy"] + 0.09)
                files.write_csv(folder / "history.csv", history)
                train = files.read_json(folder / "train.json")
                files.write_json(folder / "train.json", {**train, "val_rounded_accuracy": 0.97,
                                                         "train_rounded_accuracy": 0.98, "train_total_loss": 0.5,
                                                         "val_total_loss": 0.6})
        for index, name in enumerate(params["optimizers"]["runs"]):
            write_optimizer_run(results, seed, name, 0.3 + 0.01 * index + 0.003 * offset, params["optimizers"]["epochs"])
        for index, name in enumerate(params["holdout"]["experiments"]):
            write_holdout_run(results, seed, name, 0.3 + 0.01 * index, 0.32 + 0.01 * index + 0.002 * offset, 0.88)
    files.write_json(results / "data.json", {"validation": "the test set (as in the coursework)", "scale": True,
                                             "train_count": 60000, "val_count": images, "test_count": images,
                                             "raw_files": {"t10k-labels-idx1-ubyte": {"sha256": "ab" * 32}}})
    return results
