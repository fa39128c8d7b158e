"""Stage `holdout_keras@<name>-<seed>`: the best-model choice made honestly.

The seed validates on the test set, so its best epoch and best model are picked on the images
that score them. This stage trains one of the candidates that `holdout.experiments` names (the
models the report calls best) on the training set less a stratified `holdout.val_fraction`,
validates on that held-out part, and scores the final model once on the untouched test set. The
report then picks the best model on the held-out loss and reads its test score.

Writes, under results/seed_<n>/holdout/<name>/, the history (validation = held-out), train.json,
run.json and metrics.json (with the test metrics), and the model under models/seed_<n>/holdout/.
"""

import argparse
import dataclasses
import tempfile

from sklearn.model_selection import train_test_split

from fashion_pipeline import cli, files, paths, runs, tracking
from fashion_pipeline.data import load_split, rescale, save_split
from fashion_pipeline.errors import ParamsError, StageError
from fashion_pipeline.keras import train_experiment
from fashion_pipeline.models import load_model, log_softmax, logits, per_image_loss
from fashion_pipeline.params import check_seed, load_params
from fashion_pipeline.stages.evaluate import TRAINING_METRICS, scores
from fashion_pipeline.stages.train import training_job

GROUP = "holdout_keras"


def held_out_split(features, labels, fraction, seed):
    """(train, held-out) pairs: a stratified `fraction` of the training set, drawn by `seed`."""
    train_x, val_x, train_y, val_y = train_test_split(features, labels, test_size=fraction, stratify=labels,
                                                      random_state=seed)
    return (train_x, train_y), (val_x, val_y)


def holdout_job(params, name, seed):
    """The training job of `name`, with the held-out protocol's stage, run name, tags and folders."""
    job = training_job(params, "keras", name, seed)
    settings = params["holdout"]
    return dataclasses.replace(
        job, stage=f"{GROUP}@{name}-{seed}", run_name=f"{name}-holdout-seed{seed}",
        logged={**job.logged, "holdout.val_fraction": settings["val_fraction"],
                "data.split_seed": params["data"]["split_seed"]},
        tags={**job.tags, "protocol": "holdout", "studies": "holdout",
              "mlflow.note.content": f"Part B, best model on a held-out split: {name}"},
        modules=(*job.modules, "fashion_pipeline.stages.holdout"),
        results_dir=paths.holdout_results_dir(seed, name),
        checkpoint_dir=paths.checkpoint_dir(GROUP, seed, name),
    )


def holdout_stage(params, address, prepared_dir="data/prepared"):
    group, name, seed = address
    if group != GROUP:
        raise StageError(f"stage group {group!r}: expected {GROUP}")
    check_seed(params, seed)
    settings = params["holdout"]
    if name not in settings["experiments"]:
        raise ParamsError("holdout.experiments", settings["experiments"], f"a list that holds the stage's name {name!r}")
    if params["data"]["val_fraction"] > 0:
        raise ParamsError("data.val_fraction", params["data"]["val_fraction"],
                          "0 for the held-out comparison (it holds out its own part of the full training set)")
    job = holdout_job(params, name, seed)
    features, labels = load_split(prepared_dir, "train")
    train, held_out = held_out_split(features, labels, settings["val_fraction"], params["data"]["split_seed"])
    model_path = paths.holdout_model_path(seed, name)

    def train_function(train_data, val_data, recorder, checkpoint):
        return train_experiment(job.spec, params["training"], train_data, val_data, seed, recorder, checkpoint, name)

    # The frame reads its training and validation sets from a prepared folder: the split's.
    with tempfile.TemporaryDirectory(prefix="holdout-") as split_dir:
        save_split(split_dir, "train", *train)
        save_split(split_dir, "val", *held_out)
        training = runs.run(params, job, split_dir, train_function, model_path=model_path)

    # The one look at the test set: the final model, scored as `evaluate` scores.
    test_x, test_y = load_split(prepared_dir, "test")
    test_x = rescale(test_x, params["data"]["scale"], job.spec.get("scale", params["data"]["scale"]))
    log_probabilities = log_softmax(logits(load_model(model_path), test_x))
    test_metrics, _ = scores(test_y, per_image_loss(test_y, log_probabilities), log_probabilities.argmax(axis=1))
    record = files.read_json(job.results_dir / "run.json")
    tracking.add_to_run(params["mlflow"], record["mlflow_run_id"], test_metrics, [])
    metrics = {**{key: training[key] for key in TRAINING_METRICS}, "held_out_loss": training["val_loss"],
               "held_out_accuracy": training["val_accuracy"], **test_metrics}
    files.write_json(job.results_dir / "metrics.json", metrics)
    print(f"{job.stage}: held-out loss {metrics['held_out_loss']:.4f}  test loss {metrics['test_loss']:.4f}  "
          f"test accuracy {metrics['test_accuracy']:.4f}")
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", help=f"{GROUP}@NAME-SEED outside `dvc repro` (default: $DVC_STAGE)")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    holdout_stage(load_params(arguments.params), paths.stage_address(arguments.stage), arguments.prepared)


if __name__ == "__main__":
    cli.run(main)
