"""Stage `holdout_keras@<name>-<seed>`: the best-model choice made blind.

The coursework validates on the test set, so its best epoch and best model are picked on the
images that score them. This stage trains each of the candidates that `holdout.experiments`
lists (a rule fixed before any result: every Part B model the coursework trains) on the training
set less a stratified `data.held_out_fraction`, validates on that held-out part, and records the
test set beside it after every epoch. The report then picks the best model on the held-out loss,
and, on the same runs trained on the same images, the one the test set would pick.

Writes, under results/seed_<n>/holdout/<name>/, the history (val = held-out, test beside it),
train.json, run.json and metrics.json, and the model under models/seed_<n>/holdout/.
"""

import dataclasses

from fashion_pipeline import cli, files, frame, runs
from fashion_pipeline.errors import StageError
from fashion_pipeline.keras import train_experiment
from fashion_pipeline.params import check_seed

GROUP = runs.KINDS["holdout"].train_group
# The compact metrics of a held-out run: how it trained, and its final held-out and test scores.
METRICS = {"train_loss": "train_loss", "train_accuracy": "train_accuracy", "best_val_loss": "best_held_out_loss",
           "best_val_epoch": "best_held_out_epoch", "val_loss": "held_out_loss", "val_accuracy": "held_out_accuracy",
           "test_loss": "test_loss", "test_accuracy": "test_accuracy"}


def holdout_job(params, name, seed):
    """The training job of `name`, as the held-out protocol's run (its stage, names and folders)."""
    job = frame.training_job(params, "keras", name, seed, "fashion_pipeline.stages.holdout")
    fraction = params["data"]["held_out_fraction"]
    return dataclasses.replace(
        job, run=runs.Run("holdout", name, seed), logged={**job.logged, **frame.shared_logged(params, fraction)},
        held_out_fraction=fraction,
    )


def holdout_stage(params, address, prepared_dir="data/prepared"):
    group, name, seed = address
    if group != GROUP:
        raise StageError(f"stage group {group!r}: expected {GROUP}")
    check_seed(params, seed)
    if name not in params["holdout"]["experiments"]:
        raise StageError(f"stage {GROUP}@{name}-{seed}: {name!r} is not one of holdout.experiments")
    job = holdout_job(params, name, seed)

    def train_function(train, sets, recorder, checkpoint):
        return train_experiment(job.spec, params["training"], train, sets, seed, recorder, checkpoint, name)

    training = frame.train(params, job, prepared_dir, train_function)
    metrics = {renamed: training[key] for key, renamed in METRICS.items()}
    files.write_json(job.run.results_dir / "metrics.json", metrics)
    print(f"{job.run.stage}: held-out loss {metrics['held_out_loss']:.4f}  test loss {metrics['test_loss']:.4f}  "
          f"test accuracy {metrics['test_accuracy']:.4f}")
    return metrics


main = cli.stage_main(holdout_stage, __doc__, "holdout_keras@keras_4l-42")

if __name__ == "__main__":
    cli.run(main)
