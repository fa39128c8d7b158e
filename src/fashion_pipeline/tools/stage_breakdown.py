"""`make bench`, where a training stage's time goes, from its process's start to its exit: the
stage runs as DVC runs it, in a process of its own, with a timer around each step of the frame
(frame.py). Timers only read the clock: the stage trains, records and writes as it always does.

Each timed call counts its own time, less that of the timed calls inside it (the measurement
passes inside an epoch). The first epoch's time above a later epoch's is the XLA compilation.
Part A measures the sets inside its compiled epochs, so its measurement is part of `training`.
"""

import functools
import json
import shlex
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import yaml

from fashion_pipeline.tools import warm_start

PARTS = ("python_start", "imports", "store_check", "data", "model_build", "mlflow_run", "compile", "training",
         "measurement", "epoch_logging", "checkpoints", "model_save", "model_logging", "mlflow_logging", "other",
         "exit")


class Timers:
    """Seconds by part, each call's own: a timed call's time less its timed calls'."""

    def __init__(self):
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.calls = {}  # part -> each call's own seconds, in order
        self._inner = []  # the timed time inside each open call

    def wrap(self, owner, attribute, part):
        function = getattr(owner, attribute)

        @functools.wraps(function)
        def timed(*arguments, **keywords):
            self._inner.append(0.0)
            started = time.perf_counter()
            try:
                return function(*arguments, **keywords)
            finally:
                took = time.perf_counter() - started
                own = took - self._inner.pop()
                if self._inner:
                    self._inner[-1] += took
                self.seconds[part] += own
                self.calls.setdefault(part, []).append(own)

        setattr(owner, attribute, timed)


def compile_seconds(epoch_seconds, epochs_per_call):
    """The first call's seconds above what its epochs took in the later calls (median)."""
    if len(epoch_seconds) < 2:
        return 0.0
    per_epoch = statistics.median(seconds / epochs for seconds, epochs in zip(epoch_seconds[1:], epochs_per_call[1:]))
    return max(0.0, epoch_seconds[0] - per_epoch * epochs_per_call[0])


def in_stage(address, started_at):
    """Run stage `address` in this process with timers on, and return its parts (all but `exit`,
    which only the parent sees) and the clock time at which it ended."""
    first_line = time.time()
    import keras
    import mlflow
    from fashion_pipeline import checkpoints, cli, frame
    from fashion_pipeline.keras import training
    from fashion_pipeline.lowlevel import network
    from fashion_pipeline.stages import train
    from fashion_pipeline.tracking import mlflow_runs, progress
    timers, imported = Timers(), time.time()
    epochs_per_call = []
    for owner, attribute, part in ((mlflow_runs, "connect", "store_check"), (frame, "load_training_data", "data"),
                                   (mlflow_runs, "start_training_run", "mlflow_run"),
                                   (mlflow.ActiveRun, "__exit__", "mlflow_run"),
                                   (training.EpochProgram, "__init__", "model_build"),
                                   (training, "build_model", "model_build"),
                                   (training.EpochProgram, "run_epoch", "training"),
                                   (training.EpochProgram, "measure", "measurement"),
                                   (progress.EpochRecorder, "__call__", "epoch_logging"),
                                   (progress.EpochRecorder, "history", "epoch_logging"),
                                   (checkpoints.Checkpoint, "save_state", "checkpoints"),
                                   (checkpoints.Checkpoint, "restore", "checkpoints"),
                                   (checkpoints.Checkpoint, "clear", "checkpoints"),
                                   (keras.Model, "save", "model_save"), (mlflow_runs, "log_model", "model_logging"),
                                   (mlflow_runs, "log_inputs", "mlflow_logging"),
                                   (mlflow_runs, "log_training", "mlflow_logging")):
        timers.wrap(owner, attribute, part)
    build_trainer = network.build_trainer

    def timed_trainer(*arguments):
        layers, run_epochs, state = build_trainer(*arguments)

        def counted(count):
            epochs_per_call.append(count)
            return run_epochs(count)

        owner = types.SimpleNamespace(run_epochs=counted)
        timers.wrap(owner, "run_epochs", "training")
        return layers, owner.run_epochs, state

    network.build_trainer = timed_trainer
    timers.wrap(network, "build_trainer", "model_build")
    sys.argv = ["train", "--stage", address]
    cli.run(train.main)
    ended_at = time.time()
    parts = timers.seconds
    epoch_calls = timers.calls.get("training", [])
    parts["compile"] = compile_seconds(epoch_calls, epochs_per_call or [1] * len(epoch_calls))
    parts["training"] -= parts["compile"]
    # The stage's own lines between the timed steps: params, fingerprints, results files.
    parts["other"] = ended_at - imported - sum(parts.values())
    parts.update(python_start=first_line - started_at, imports=imported - first_line)
    return parts, ended_at


def timed_run(project, command_at, env, warm, log_path):
    """Run the command `command_at(start)` gives for its start by the clock, in `project`, its
    output to `log_path`: as a process of its own or, with `warm`, forked as the grid runner forks
    a stage (warm_start.py), from a server whose imports come before the clock. Returns its start
    and its end by the clock."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    server = warm_start.Server(str(project), env) if warm else None
    try:
        started_at = time.time()
        command = command_at(started_at)
        with open(log_path, "w") as log:
            process = warm_start.WarmStage(server, command, str(project), env, str(log_path)) if warm else \
                subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
            returncode = process.wait()
        ended_at = time.time()
    finally:
        if server is not None:
            server.close()
    if returncode != 0:
        raise RuntimeError(f"bench: {' '.join(command[2:4])} failed (exit {returncode}): {log_path.read_text()[-2000:]}")
    return started_at, ended_at


def breakdown(project, address, env, warm=False):
    """The parts of stage `address`'s time, run in `project`, from the process's start to its
    exit, in seconds and in shares of the whole (`seconds`); with `warm`, forked as the grid
    runner forks it."""
    out = Path(project) / "logs" / "breakdown.json"
    started_at, ended_at = timed_run(
        project, lambda start: [sys.executable, "-m", "fashion_pipeline.tools.stage_breakdown", address, str(start),
                                str(out)], env, warm, Path(project) / "logs" / f"breakdown-{address}.log")
    recorded = json.loads(out.read_text())
    parts = {**recorded["parts"], "exit": ended_at - recorded["ended_at"]}
    whole = ended_at - started_at
    return {"seconds": whole, "parts": parts, "shares": {part: seconds / whole for part, seconds in parts.items()}}


def stage_seconds(project, address, env, warm=False):
    """Stage `address`'s wall seconds, run in `project` by its command in dvc.yaml (DVC_STAGE
    set), from its process's start to its exit; with `warm`, forked as the grid runner forks it."""
    entry = yaml.safe_load((Path(project) / "dvc.yaml").read_text())["stages"][address.split("@")[0]]
    command = [sys.executable, *shlex.split(entry.get("do", entry)["cmd"])[1:]]
    started_at, ended_at = timed_run(project, lambda start: command, {**env, "DVC_STAGE": address,
                                                                      "DVC_ROOT": str(project)},
                                     warm, Path(project) / "logs" / f"stage-{address}.log")
    return ended_at - started_at


def main():
    address, started_at, out = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
    parts, ended_at = in_stage(address, started_at)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"parts": parts, "ended_at": ended_at}))
    # As a stage run as a program ends (cli.run).
    from fashion_pipeline import cli
    cli.end_now()


if __name__ == "__main__":
    main()
