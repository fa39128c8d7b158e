"""Stage `compare_optimizers@<run>-<seed>`: train the optimizer comparison's network (Part A's
Network B, full batch) with one optimizer written out in lowlevel/optimizers.py, and track it in
MLflow.

Within a seed every run starts from the same initial weights and sees the same data, so the
curves differ by the optimizer alone. The study validates on a held-out part of the training set
(`data.held_out_fraction`), where learning rates are chosen, and records the test set beside it.
Writes the per-epoch history (with the learning rate and the length of each step in weight
space), the final metrics and the run's record.
"""

from fashion_pipeline import cli, frame, runs
from fashion_pipeline.errors import ParamsError, StageError
from fashion_pipeline.lowlevel import optimizers
from fashion_pipeline.lowlevel.trainer import run_full_batch
from fashion_pipeline.params import check_seed
from fashion_pipeline.tracking import mlflow_runs

GROUP = runs.KINDS["optimizer"].train_group
# The keys of the network experiment that shape the network; its own optimizer, learning rate
# and epochs give way to the run's.
NETWORK_KEYS = ("hidden_units", "activation", "initializer", "regularizer", "regularization_rate")


def optimizer_job(params, run_name, seed):
    """The network experiment's network with the study's epochs and this run's optimizer."""
    study = params["optimizers"]
    if run_name not in study["runs"]:
        raise ParamsError("optimizers.runs", run_name, "one of " + ", ".join(study["runs"]))
    network_name = study["network"]
    network = params["experiments"]["lowlevel"][network_name]
    spec = {**{key: network[key] for key in NETWORK_KEYS}, "epochs": study["epochs"], "optimizer": study["runs"][run_name]}
    logged = {
        "optimizers.network": network_name,
        "optimizers.epochs": study["epochs"],
        **mlflow_runs.flatten({key: network[key] for key in NETWORK_KEYS}, f"experiments.lowlevel.{network_name}."),
        **mlflow_runs.flatten(study["runs"][run_name], f"optimizers.runs.{run_name}."),
        **frame.shared_logged(params, params["data"]["held_out_fraction"]),
    }
    return frame.TrainingJob(
        run=runs.Run("optimizer", run_name, seed), spec=spec, logged=logged,
        modules=("fashion_pipeline.stages.compare_optimizers",),
        progress_every=params["training"]["progress_every_epochs"],
        held_out_fraction=params["data"]["held_out_fraction"],
    )


def compare_stage(params, address, prepared_dir="data/prepared"):
    group, run_name, seed = address
    if group != GROUP:
        raise StageError(f"stage group {group!r}: expected {GROUP}")
    check_seed(params, seed)
    job = optimizer_job(params, run_name, seed)

    def train_function(train, sets, recorder, checkpoint):
        bind_update = optimizers.make_update(job.spec["optimizer"])
        run_full_batch(job.spec, train, sets, seed, bind_update, recorder, params["training"]["checkpoint_every_epochs"],
                       checkpoint)

    return frame.train(params, job, prepared_dir, train_function)


main = cli.stage_main(compare_stage, __doc__, "compare_optimizers@adam-42")

if __name__ == "__main__":
    cli.run(main)
