"""Stage `register`: the champion, picked on the held-out split and registered in MLflow.

The protocol check picks, among `holdout.experiments`, the experiment with the lowest mean
held-out loss over the seeds (never the test set). Two candidates of that experiment are weighed
on the same held-out split: its best single run (the seed with the lowest held-out loss) and the
ensemble that averages the probabilities of all its seeds' runs. The lower held-out loss wins.
The champion is scored once on the test set, and registered in MLflow's Model Registry
(`champion.registered_model`, alias `champion`), taking 28x28 pixels 0-255 (serving/champion.py).

Writes, under champion/: champion.json (the pick, every candidate's held-out loss, the test
metrics with their intervals over the test images), predictions.csv (each test image's class and
ten probabilities, as the served model answers), per_class.csv, and example_request.json (two
test images as a request to the scoring server, for the README's curl example).
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_pipeline import cli, files, runs
from fashion_pipeline.data import CLASS_NAMES, held_out_split, load_split, rescale
from fashion_pipeline.errors import StageError
from fashion_pipeline.judging import statistics
from fashion_pipeline.models import load_model
from fashion_pipeline.params import experiment_spec, load_params
from fashion_pipeline.serving import champion
from fashion_pipeline.tracking import mlflow_runs, registry

# The request body of the README's curl example: this many test images.
EXAMPLE_IMAGES = 2


def mean_loss(log_probabilities, labels):
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def pick_champion(member_rows, labels):
    """Weigh, on the held-out split, the best single run against the ensemble of all of them;
    `member_rows`: seed -> held-out log-probabilities. Returns (the seeds the champion averages,
    every candidate's held-out loss)."""
    losses = {f"seed {seed}": mean_loss(rows, labels) for seed, rows in member_rows.items()}
    best_seed = min(member_rows, key=lambda seed: losses[f"seed {seed}"])
    losses["ensemble"] = mean_loss(champion.ensemble_log_probabilities(list(member_rows.values())), labels)
    chosen = list(member_rows) if losses["ensemble"] < losses[f"seed {best_seed}"] else [best_seed]
    return chosen, losses


def scores(log_probabilities, labels, confidence, split):
    """Loss and accuracy on a split, each with its interval over the split's images (one model:
    the images are the only noise)."""
    correct = (log_probabilities.argmax(axis=1) == labels).astype(float)
    found = {}
    for name, values in (("loss", -log_probabilities[np.arange(len(labels)), labels]), ("accuracy", correct)):
        interval = statistics.interval(values, confidence)
        found[f"{split}_{name}"] = {"mean": interval.mean, "low": interval.low, "high": interval.high,
                                    "confidence": confidence}
    return found


def test_scores(log_probabilities, labels, confidence):
    """Test loss and accuracy with their intervals, the per-class accuracy and the pairs of
    classes confused most."""
    predicted = log_probabilities.argmax(axis=1)
    correct = (predicted == labels).astype(float)
    scores_found = scores(log_probabilities, labels, confidence, "test")
    per_class = pd.DataFrame({"class": CLASS_NAMES,
                              "accuracy": [correct[labels == index].mean() for index in range(len(CLASS_NAMES))],
                              "images": np.bincount(labels, minlength=len(CLASS_NAMES))})
    pairs = pd.crosstab(labels, predicted).stack()
    confused = pairs[[true != said for true, said in pairs.index]].sort_values(ascending=False, kind="stable").head(3)
    scores_found["confused_most"] = [{"actual": CLASS_NAMES[true], "predicted": CLASS_NAMES[said],
                                      "images": int(count)} for (true, said), count in confused.items()]
    return scores_found, per_class


def digest(paths, spec):
    """What makes a champion this champion: its members' model files and its spec."""
    hashed = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    for path in paths:
        hashed.update(Path(path).read_bytes())
    return hashed.hexdigest()


def model_card(summary, per_class):
    """The version's description: what it is, how it was picked, how good, where it errs."""
    test = summary["test"]
    interval = lambda key: f"{test[key]['mean']:.4f} ({test[key]['confidence']:.0%} interval {test[key]['low']:.4f} to {test[key]['high']:.4f})"  # noqa: E731
    members = ", ".join(map(str, summary["seeds"]))
    what = f"the ensemble (mean probabilities) of {summary['experiment']}'s held-out runs, seeds {members}" \
        if len(summary["seeds"]) > 1 else f"{summary['experiment']}'s held-out run of seed {members}"
    weakest = per_class.sort_values("accuracy").head(3)
    lines = [
        f"**{what}.**", "",
        f"Trained on {summary['images']['train']:,} Fashion-MNIST training images (a stratified "
        f"{summary['held_out_fraction']:.0%} of the training set, {summary['images']['held_out']:,} images, held out); "
        "input 28x28 grayscale, pixels 0-255, scaled inside the model.", "",
        f"Picked on the held-out split, never on the test set: {summary['experiment']} has the lowest mean held-out "
        "loss of the protocol check's candidates; then the ensemble of its seeds against its best single seed: "
        + ", ".join(f"{name} {loss:.4f}" for name, loss in summary["held_out_losses"].items()) + ".", "",
        f"Test set ({summary['images']['test']:,} images, seen once): accuracy {interval('test_accuracy')}, loss {interval('test_loss')}.", "",
        "Accuracy per class: " + ", ".join(f"{row['class']} {row['accuracy']:.3f}" for _, row in per_class.iterrows())
        + ".", "",
        "Known weaknesses: the weakest classes are " + ", ".join(row["class"] for _, row in weakest.iterrows())
        + "; confused most: " + ", ".join(f"{pair['actual']} read as {pair['predicted']} ({pair['images']} images)"
                                          for pair in test["confused_most"]) + ".",
    ]
    return "\n".join(lines)


def register_stage(arguments):
    out = Path(arguments.out)
    params = load_params(arguments.params)
    seeds, data = params["seeds"], params["data"]
    experiment, holdout_runs = champion.protocol_pick(params, arguments.results)
    if experiment is None or set(holdout_runs[experiment]) != set(seeds):
        raise StageError("register: the held-out runs of every seed are needed to pick the champion; "
                         "run the holdout_keras stages first")
    # An unusable store stops the stage before the models are read.
    mlflow_runs.connect(params["mlflow"])
    spec = experiment_spec(params, experiment, "keras")
    scaled = spec.get("scale", data["scale"])
    member_paths = {seed: runs.Run("holdout", experiment, seed).model_path for seed in seeds}
    members = {seed: load_model(path) for seed, path in member_paths.items()}

    # The held-out split and the test set as a user has them: pixels 0-255 (exact: rescale rounds).
    train_features, train_labels = load_split(arguments.prepared, "train")
    _, (held_features, held_labels) = held_out_split(train_features, train_labels, data["held_out_fraction"],
                                                     data["split_seed"])
    test_features, test_labels = load_split(arguments.prepared, "test")
    held_pixels, test_pixels = (rescale(part, data["scale"], False) for part in (held_features, test_features))

    held_rows = {seed: champion.member_log_probabilities(model, held_pixels, scaled) for seed, model in members.items()}
    chosen, held_losses = pick_champion(held_rows, held_labels)
    test_rows = champion.ensemble_log_probabilities(
        [champion.member_log_probabilities(members[seed], test_pixels, scaled) for seed in chosen])
    confidence = params["report"]["confidence"]
    test, per_class = test_scores(test_rows, test_labels, confidence)
    held_out = scores(champion.ensemble_log_probabilities([held_rows[seed] for seed in chosen]), held_labels,
                      confidence, "held_out")
    answers = champion.answer(test_rows)
    summary = {"experiment": experiment, "seeds": chosen, "held_out_fraction": data["held_out_fraction"],
               "held_out_losses": held_losses, "held_out": held_out, "test": test,
               "images": {"train": len(train_labels) - len(held_labels), "held_out": len(held_labels),
                          "test": len(test_labels)},
               "registered_model": params["champion"]["registered_model"]}

    chosen_paths = [member_paths[seed] for seed in chosen]
    tags = {"git_commit": mlflow_runs.git_commit(), "experiment": experiment, "seeds": chosen,
            "model_md5": {str(path): hashlib.md5(path.read_bytes()).hexdigest() for path in chosen_paths},
            "data_sha256": data["sha256"], "params": spec, "held_out_candidates": held_losses, **held_out,
            "test_accuracy": test["test_accuracy"], "test_loss": test["test_loss"],
            "trained_on_cpu": registry.training_cpus([holdout_runs[experiment][seed].record["mlflow_run_id"]
                                                      for seed in chosen]),
            "registered_on_cpu": mlflow_runs.cpu_name()}

    def log(experiment_id):
        sample = test_pixels[:5].reshape(-1, *champion.IMAGE_SHAPE)
        return registry.log_champion(champion.ChampionModel(scaled), {seed: member_paths[seed] for seed in chosen},
                                     sample, answers.head(5), "champion", {"dvc_stage": "register", "kind": "champion"},
                                     experiment_id)

    version, new = registry.register(params["mlflow"], summary["registered_model"], digest(chosen_paths, spec), log,
                                     tags, model_card(summary, per_class))
    # The files after the registry: a stage that fails leaves them as they were.
    probabilities = pd.DataFrame(np.stack(answers["probabilities"]).round(8), columns=list(CLASS_NAMES))
    files.write_csv(out / "predictions.csv", pd.concat([pd.DataFrame({
        "actual": [CLASS_NAMES[label] for label in test_labels], "predicted": answers["class_name"],
        "confidence": answers["confidence"].round(8)}), probabilities], axis=1))
    files.write_csv(out / "per_class.csv", per_class.round(6))
    files.write_json(out / "example_request.json", {"inputs": test_pixels[:EXAMPLE_IMAGES].reshape(
        -1, *champion.IMAGE_SHAPE).astype(int).tolist()})
    files.write_json(out / "champion.json", summary)
    what = "ensemble of seeds " + ", ".join(map(str, chosen)) if len(chosen) > 1 else f"seed {chosen[0]}"
    print(f"register: {experiment} ({what}), test accuracy {test['test_accuracy']['mean']:.4f}; "
          f"{registry.model_uri(summary['registered_model'])} is version {version}"
          + ("" if new else " (already registered)"))


main = cli.files_stage_main(register_stage, __doc__, {"results": "results", "prepared": "data/prepared",
                                                      "out": "champion", "params": "params.yaml"})

if __name__ == "__main__":
    cli.run(main)
