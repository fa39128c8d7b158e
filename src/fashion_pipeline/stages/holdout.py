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

from fashion_pipeline import cli, files, frame, paths
from fashion_pipeline.errors import StageError
from fashion_pipeline.keras import train_experiment
from fashion_pipeline.params import check_seed
from fashion_pipeline.stages.train import training_job

GROUP = "holdout_keras"
# The compact metrics of a held-out run: how it trained, and its final held-out and test scores.
METRICS = {"train_loss": "train_loss", "train_accuracy": "train_accuracy", "best_val_loss": "best_held_out_loss",
           "best_val_epoch": "best_held_out_epoch", "val_loss": "held_out_loss", "val_accuracy": "held_out_accuracy",
           "test_loss": "test_loss", "test_accuracy": "test_accuracy"}


def holdout_job(params, name, seed):
    """The training job of `name`, with the held-out protocol's stage, run name, tags and folders."""
    job = training_job(params, "keras", name, seed)
    fraction = params["data"]["held_out_fraction"]
    return dataclasses.replace(
        job, stage=f"{GROUP}@{name}-{seed}", run_name=f"{name}-holdout-seed{seed}",
        logged={**job.logged, **frame.shared_logged(params, fraction)},
        tags={**job.tags, "protocol": "holdout", "studies": "holdout",
              "mlflow.note.content": f"Part B, best model on a held-out split: {name}"},
        modules=(*job.modules, "fashion_pipeline.stages.holdout"),
        results_dir=paths.holdout_results_dir(seed, name),
        checkpoint_dir=paths.checkpoint_dir(GROUP, seed, name),
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

    training = frame.train(params, job, prepared_dir, train_function, model_path=paths.holdout_model_path(seed, name))
    metrics = {renamed: training[key] for key, renamed in METRICS.items()}
    files.write_json(job.results_dir / "metrics.json", metrics)
    print(f"{job.stage}: held-out loss {metrics['held_out_loss']:.4f}  test loss {metrics['test_loss']:.4f}  "
          f"test accuracy {metrics['test_accuracy']:.4f}")
    return metrics


main = cli.stage_main(holdout_stage, __doc__, "holdout_keras@keras_4l-42")

if __name__ == "__main__":
    cli.run(main)
