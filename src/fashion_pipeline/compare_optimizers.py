"""Stage `compare_optimizers@<run>`: train the optimizer comparison's network (Part A's Network B,
full batch) with one optimizer written out in optimizers.py, and track it in MLflow.

Every run starts from the same initial weights (the network experiment's seed) and sees the same
data, so the curves differ by the optimizer alone. Writes the per-epoch history (with the
learning rate and the length of each step in weight space), the final metrics and the run id.
"""

import argparse
import time
from pathlib import Path

from fashion_pipeline import checkpoints, cli, optimizers, runs, tracking
from fashion_pipeline.data import load_training_data
from fashion_pipeline.params import ParamsError, load_params


def study_spec(params, run_name):
    """The network experiment's spec with the study's epochs and this run's optimizer."""
    study = params["optimizers"]
    if run_name not in study["runs"]:
        raise ParamsError("optimizers.runs", run_name, "one of " + ", ".join(study["runs"]))
    network = params["experiments"][study["network"]]
    return {**network, "epochs": study["epochs"], "optimizer": study["runs"][run_name]}


def epochs_to_reach(history, target):
    """The first epoch whose validation loss is at or below `target`, or None."""
    reached = history.loc[history["val_loss"] <= target, "epoch"]
    return int(reached.iloc[0]) if len(reached) else None


def compare(params, run_name, prepared_dir, results_dir, checkpoint_dir):
    stage_started = time.perf_counter()
    spec = study_spec(params, run_name)
    # An unreachable store stops the stage now, not after the training it could not record.
    uri = tracking.connect(params["mlflow"])
    runs.seed_everything(params["seed"])
    train, val = load_training_data(prepared_dir, params["data"]["scale"], spec.get("scale"))
    stage = f"compare_optimizers@{run_name}"
    checkpoint = checkpoints.Checkpoint(checkpoint_dir, checkpoints.fingerprint(params, spec), params["training"]["resume"])
    progress_every = params["training"]["progress_every_epochs"]
    with tracking.start_training_run(params, uri, stage, f"optimizer_{run_name}", spec) as run, tracking.killed_on_interrupt():
        recorder = runs.EpochRecorder(run.info.run_id, stage, spec["epochs"], params["mlflow"]["log_every_epochs"], progress_every)
        started = time.perf_counter()
        bind_update = optimizers.make_update(spec["optimizer"])
        runs.run_full_batch(spec, train, val, params["seed"], bind_update, recorder, progress_every, checkpoint)
        seconds = time.perf_counter() - started
        history = recorder.history()
        metrics = runs.summarize(history, seconds)
        reached = epochs_to_reach(history, params["optimizers"]["target_val_loss"])
        # -1 when the target was never reached: MLflow metrics must be numbers.
        metrics["epochs_to_target"] = -1 if reached is None else reached
        metrics["stage_seconds"] = round(time.perf_counter() - stage_started, 2)
        runs.write_outputs(Path(results_dir), f"optimizer {run_name}", history, metrics, run.info.run_id)
    checkpoint.clear()
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", help="a key of optimizers.runs in params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--results", required=True, help="output folder for history, metrics, curves")
    parser.add_argument("--checkpoints", help="checkpoint folder (default: checkpoints/compare_optimizers/<run>)")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    checkpoint_dir = arguments.checkpoints or Path("checkpoints") / "compare_optimizers" / arguments.run
    compare(params, arguments.run, arguments.prepared, arguments.results, checkpoint_dir)


if __name__ == "__main__":
    cli.run(main)
