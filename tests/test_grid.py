"""The grid runner on a real Dask cluster on loopback: a scheduler and two workers as separate
processes run a subset grid (two seeds, both kinds, optimizer and held-out runs), and it ends
as a sequential `dvc repro` of the same subset ends, even when a worker dies mid-stage."""

import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import copy_project, free_port, pipeline_env, run, small_params

pytestmark = pytest.mark.slow

EXPERIMENTS = ["lowlevel_softmax", "keras_4l_drop20"]
SEEDS = [42, 43]
# Files whose bytes carry a time or an id beside the results: a saved .keras file stamps its
# saving time, run.json its MLflow run and timings, evaluation.json its evaluation's time.
STAMPED = (".keras", "run.json", "evaluation.json")


def dask_process(arguments, project):
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *arguments], cwd=project,
                            env=pipeline_env(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def training_log(logs):
    """The log of a training stage that has trained its first epoch, if any."""
    return next((log for log in sorted(logs.glob("train_*.log")) if "epoch 1/" in log.read_text()), None) \
        if logs.is_dir() else None


def result_files(project):
    """Every result file's content, with the times of the evaluation record left out."""
    found = {}
    for path in sorted((project / "results").rglob("*")):
        if not path.is_file() or path.name == "run.json":
            continue
        content = path.read_text()
        if path.suffix == ".json":
            content = {key: value for key, value in json.loads(content).items() if not key.endswith("_seconds")}
        found[path.relative_to(project).as_posix()] = content
    return found


def lock_entries(project):
    """dvc.lock's stages: their command, params, and every dep and output with its hash, but
    for the stamped files and the results folder that holds them (their paths only), and the
    report's pages."""
    def hashed(files):
        return {item["path"]: None if item["path"].endswith(STAMPED) or item["path"] == "results" else item.get("md5")
                for item in files if not item["path"].startswith("reports")}

    stages = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    return {name: {"cmd": entry["cmd"], "params": entry.get("params"), "deps": hashed(entry.get("deps", [])),
                   "outs": hashed(entry.get("outs", []))} for name, entry in stages.items()}


@pytest.fixture(scope="module")
def subset_params(project_params):
    return small_params(copy.deepcopy(project_params), EXPERIMENTS, epochs=3, optimizer_runs=("adam",), seeds=SEEDS)


def test_the_runner_on_a_scheduler_with_two_workers_ends_as_dvc_repro_even_when_a_worker_dies(tmp_path, subset_params,
                                                                                               real_data):
    sequential = copy_project(tmp_path / "sequential", subset_params)
    run(["dvc", "repro"], sequential)

    distributed = copy_project(tmp_path / "distributed", subset_params)
    port = free_port()
    scheduler = dask_process(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], distributed)
    address = f"tcp://127.0.0.1:{port}"
    # Without a nanny, a killed worker stays dead, as a lost machine would.
    workers = {name: dask_process(["worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                                   "--no-dashboard"], distributed) for name in ("w0", "w1")}
    runner = None
    try:
        runner = subprocess.Popen([sys.executable, "-m", "fashion_pipeline.tools.grid", "--scheduler", address],
                                  cwd=distributed, env=pipeline_env(distributed), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        # Kill the worker of the first stage to train an epoch, in the middle of that stage.
        deadline = time.monotonic() + 600
        while not (training := training_log(distributed / "logs" / "grid")):
            assert time.monotonic() < deadline and runner.poll() is None, "no stage trained an epoch"
            time.sleep(0.1)
        killed = training.read_text().split(" on worker ")[1].split()[0]
        workers[killed].send_signal(signal.SIGKILL)
        output = runner.communicate(timeout=1200)[0]
    finally:
        for process in [runner, *workers.values(), scheduler]:
            if process is not None and process.poll() is None:
                process.kill()
    assert runner.returncode == 0, output
    assert "grid: done" in output and "FAILED" not in output, output
    assert "up to date" in run(["dvc", "status"], distributed).stdout
    assert lock_entries(distributed) == lock_entries(sequential)
    assert result_files(distributed) == result_files(sequential)
    # The stage ran again on the other worker: its log holds both attempts, the first stopped.
    attempts = training.read_text().split("grid: ")[1:]
    assert [attempt.split(" on worker ")[1].split()[0] for attempt in attempts] == [killed, ({"w0", "w1"} - {killed}).pop()]
    assert "error: interrupted" in attempts[0] and "epoch 3/3" in attempts[1]
