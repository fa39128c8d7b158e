"""Stage `train_<kind>@<name>-<seed>`: train one experiment of params.yaml with one seed and
track it in MLflow.

Writes the model (.keras), the per-epoch history (CSV), the final metrics (train.json) and the
run's record (run.json: MLflow run id, timings). The experiment's kind (`lowlevel` for Part A,
`keras` for Part B) picks the package that trains it, imported alone, so the code of one kind is
no dependency of the other.
"""

import importlib

from fashion_pipeline import cli, frame, paths
from fashion_pipeline.errors import StageError
from fashion_pipeline.params import check_seed, experiment_spec
from fashion_pipeline.tracking import mlflow_runs

# The training params each kind reads, besides its experiment's spec and frame.shared_logged.
TRAINING_KEYS = {"lowlevel": (), "keras": ("jit_compile", "steps_per_execution")}
# How often each kind prints a progress line.
PROGRESS_KEYS = {"lowlevel": "progress_every_epochs", "keras": "keras_progress_every_epochs"}


def training_job(params, kind, name, seed):
    """What the stage trains, what it logs, and where its outputs go."""
    spec = experiment_spec(params, name, kind)
    own_spec = {key: value for key, value in spec.items() if key != "kind"}
    logged = {**mlflow_runs.flatten(own_spec, f"experiments.{kind}.{name}."), **frame.shared_logged(params)}
    logged.update({f"training.{key}": params["training"][key] for key in TRAINING_KEYS[kind]})
    return frame.TrainingJob(
        stage=f"train_{kind}@{name}-{seed}", kind=kind, run_name=f"{name}-seed{seed}", seed=seed, spec=spec,
        logged=logged, tags={"experiment": name, "kind": kind},
        modules=("fashion_pipeline.stages.train", f"fashion_pipeline.{kind}"),
        results_dir=paths.results_dir(seed, name), checkpoint_dir=paths.checkpoint_dir(f"train_{kind}", seed, name),
        progress_every=params["training"][PROGRESS_KEYS[kind]],
    )


def train_stage(params, address, prepared_dir="data/prepared"):
    group, name, seed = address
    kind = group.removeprefix("train_")
    if not group.startswith("train_") or kind not in TRAINING_KEYS:
        raise StageError(f"stage group {group!r}: expected one of " + ", ".join(f"train_{kind}" for kind in TRAINING_KEYS))
    check_seed(params, seed)
    job = training_job(params, kind, name, seed)
    trainer = importlib.import_module(f"fashion_pipeline.{kind}")

    def train_function(train, sets, recorder, checkpoint):
        return trainer.train_experiment(job.spec, params["training"], train, sets, seed, recorder, checkpoint, name)

    return frame.train(params, job, prepared_dir, train_function, model_path=paths.model_path(seed, name))


main = cli.stage_main(train_stage, __doc__, "train_keras@keras_4l-42")

if __name__ == "__main__":
    cli.run(main)
