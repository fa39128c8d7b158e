"""The grid runner on a real Dask cluster on loopback: a scheduler and two workers as separate
processes run a subset grid (both kinds, optimizer and held-out runs), its stages forked warm
(tools/warm_start.py), and it ends as a sequential `dvc repro` of the same subset ends, each
stage there a process of its own, even when a worker dies mid-stage. Ctrl-C
stops it as it stops `dvc repro`. Its order, and `make bench`'s checks and arithmetic."""

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
import yaml
from conftest import copy_project, free_port, pipeline_env, run, small_params
from mlflow.tracking import MlflowClient

from fashion_pipeline import files
from fashion_pipeline.errors import StageError
from fashion_pipeline.models import build_model
from fashion_pipeline.tools import grid_bench
from fashion_pipeline.tools.grid_plan import Grid
from fashion_pipeline.tools.stage_costs import Recorded, TimeLeft

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


@pytest.mark.slow
def test_the_runner_on_a_scheduler_with_two_workers_ends_as_dvc_repro_even_when_a_worker_dies(tmp_path, subset_params,
                                                                                               real_data):
    # Every kind of training stage once, and an evaluation that reads another worker's model,
    # twice over. The report and the champion under the runner are the demo's (test_demo.py); the
    # order across seeds is tested below without training.
    subset_params = {**subset_params, "seeds": SEEDS[:1]}
    targets = [f"evaluate_keras@{EXPERIMENTS[1]}-{SEEDS[0]}", f"train_lowlevel@{EXPERIMENTS[0]}-{SEEDS[0]}",
               f"compare_optimizers@adam-{SEEDS[0]}", f"holdout_keras@{EXPERIMENTS[1]}-{SEEDS[0]}"]
    sequential = copy_project(tmp_path / "sequential", subset_params)
    run(["dvc", "repro", *targets], sequential)

    distributed = copy_project(tmp_path / "distributed", subset_params)
    port = free_port()
    scheduler = dask_process(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], distributed)
    address = f"tcp://127.0.0.1:{port}"
    # Without a nanny, a killed worker stays dead, as a lost machine would.
    workers = {name: dask_process(["worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                                   "--no-dashboard"], distributed) for name in ("w0", "w1")}
    runner = None
    try:
        runner = subprocess.Popen([sys.executable, "-m", "fashion_pipeline.tools.grid", "--scheduler", address,
                                   *targets], cwd=distributed, env=pipeline_env(distributed), stdout=subprocess.PIPE,
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
    assert "up to date" in run(["dvc", "status", *targets], distributed).stdout
    assert lock_entries(distributed) == lock_entries(sequential)
    assert result_files(distributed) == result_files(sequential)
    # The stage ran again on the other worker: its log holds both attempts, the first stopped.
    attempts = training.read_text().split("grid: ")[1:]
    assert [attempt.split(" on worker ")[1].split()[0] for attempt in attempts] == [killed, ({"w0", "w1"} - {killed}).pop()]
    # Every attempt of every stage was forked warm, none started as a process of its own.
    headers = [line for log in (distributed / "logs" / "grid").glob("*.log") for line in log.read_text().splitlines()
               if line.startswith("grid: ")]
    assert len(headers) > len(targets) and all(line.endswith(" (forked warm)") for line in headers), headers
    assert "error: interrupted" in attempts[0] and "epoch 3/3" in attempts[1]


def processes_in(folder):
    """The processes whose working folder is `folder` or inside it."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# Ctrl-C from a terminal sends SIGINT to the whole foreground group: the runner, its Dask workers
# and the stages they run. A supervisor (systemd, a batch system) sends SIGTERM to the runner alone.
STOPS = [("ctrl-c", signal.SIGINT, True), ("sigterm", signal.SIGTERM, False)]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "number", "to_group"), STOPS, ids=[name for name, *_ in STOPS])
def test_a_stopped_grid_ends_its_running_stages_killed_and_leaves_nothing_half_written(name, number, to_group, tmp_path,
                                                                                      subset_params, real_data):
    # A Part A and a Keras stage training side by side, Part A long enough to be stopped mid-way.
    params = copy.deepcopy(subset_params)
    params["experiments"]["lowlevel"][EXPERIMENTS[0]]["epochs"] = 2000
    project = copy_project(tmp_path / "project", params)
    run(["dvc", "repro", "prepare"], project)
    lock = (project / "dvc.lock").read_text()
    targets = [f"train_lowlevel@{EXPERIMENTS[0]}-42", f"train_keras@{EXPERIMENTS[1]}-42"]
    runner = subprocess.Popen([sys.executable, "-m", "fashion_pipeline.tools.grid", *targets], cwd=project,
                              env=pipeline_env(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    logs = [project / "logs" / "grid" / f"{address}.log" for address in targets]
    try:
        deadline = time.monotonic() + 600
        while not all(log.is_file() and "epoch 1/" in log.read_text() for log in logs):
            assert time.monotonic() < deadline and runner.poll() is None, "the two stages did not both train"
            time.sleep(0.1)
        if to_group:
            os.killpg(runner.pid, number)
        else:
            runner.send_signal(number)
        signalled = time.monotonic()
        output = runner.communicate(timeout=300)[0]
        seconds = time.monotonic() - signalled
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    assert runner.returncode == 130, output
    assert output.strip().splitlines()[-1].startswith("error: interrupted"), output
    assert all("error: interrupted" in log.read_text() for log in logs)
    assert seconds < 60, f"the runner took {seconds:.0f} s to stop"
    left = processes_in(project)
    assert left == [], [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs([experiment.experiment_id for experiment in client.search_experiments()])
    assert sorted((run.data.tags.get("dvc_stage"), run.info.status) for run in runs) == \
        [(address, "KILLED") for address in sorted(targets)]
    assert not [path for path in project.rglob(".*.*") if ".git" not in path.parts and ".dvc" not in path.parts], \
        "a temporary file was left behind"
    for address in targets:
        _, _, rest = address.partition("@")
        results = project / "results" / "seed_42" / rest.rsplit("-", 1)[0]
        assert not (results / "train.json").exists() and not (results / "run.json").exists()
    # dvc.lock as it was, and DVC still reads it: both stages are to run, nothing else.
    assert (project / "dvc.lock").read_text() == lock
    status = run(["dvc", "status", *targets], project).stdout
    stale = [line.rstrip(":") for line in status.splitlines() if line and not line[0].isspace()]
    assert sorted(stale) == sorted(targets), status


def test_the_runner_runs_seed_by_seed_and_the_longest_stages_of_a_seed_first(tmp_path, subset_params, monkeypatch):
    project = copy_project(tmp_path / "project", subset_params)
    monkeypatch.chdir(project)

    def trained_first():
        return [address.split("@")[1].rsplit("-", 1)[0] for address in Grid([]).order
                if address.startswith("train_") and address.endswith("-42")]

    def seeds():
        return [address.rsplit("-", 1)[1] for address in Grid([]).order if address.startswith("train_")]

    # Never run: by arithmetic, keras_4l_drop20's 792,400 weights before lowlevel_softmax's 7,840.
    assert trained_first() == ["keras_4l_drop20", "lowlevel_softmax"]
    # Recorded times come first, even against the arithmetic.
    for name, seconds in (("lowlevel_softmax", 400.0), ("keras_4l_drop20", 50.0)):
        files.write_json(project / "results" / "seed_42" / name / "run.json", {"stage_seconds": seconds})
    assert trained_first() == ["lowlevel_softmax", "keras_4l_drop20"]
    assert seeds() == ["42", "42", "43", "43"]


def test_the_time_left_is_corrected_by_the_clock_as_stages_end():
    now = [0.0]
    clock = TimeLeft({"train_keras@a-42": 600.0, "train_keras@b-42": 600.0, "train_keras@c-42": 600.0}, workers=1,
                     clock=lambda: now[0])
    everything = ["train_keras@a-42", "train_keras@b-42", "train_keras@c-42", "report"]
    assert clock.words(everything) == "about 30 min"
    # The first stage took twice its estimate: so will the others.
    now[0] = 1200.0
    clock.ended("train_keras@a-42", 1200.0)
    assert clock.words(everything[1:]) == "about 40 min"
    # A stage no time was known for: a start-up of 120 s, and 1.8 times the estimate.
    now[0] = 1320.0
    clock.ended("figures", 120.0)
    assert clock.words(everything[2:]) == "about 22 min"
    # The runner's own work doubles the grid's time: so it will for the stages left.
    now[0] = 2 * (1320.0 + 1200.0)
    clock.ended("train_keras@b-42", 1200.0)
    assert clock.words(everything[3:]) == "about 4 min"


def test_the_time_left_waits_for_a_stage_with_an_estimate_before_the_clock_scales_it():
    """The download ends in 2 s of a grid's first 30: the training left is still its estimate over
    the workers (10 min), not 30 s times 1200 s over 2 s (5 h)."""
    now = [30.0]
    clock = TimeLeft({"train_keras@a-42": 600.0, "train_keras@b-42": 600.0}, workers=2, clock=lambda: now[0])
    clock.ended("download", 2.0)
    assert clock.words(["train_keras@a-42", "train_keras@b-42"]) == "about 10 min"


def test_a_time_recorded_at_full_size_is_scaled_to_a_smaller_project(tmp_path, project_params):
    files.write_json(tmp_path / "results" / "data.json", {"train_count": 60000, "test_count": 10000})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
    files.write_json(tmp_path / "results" / "seed_44" / "keras_2l" / "run.json",
                     {"stage_seconds": 110.0, "train_seconds": 100.0})
    files.write_json(tmp_path / "results" / "seed_44" / "keras_2l" / "evaluation.json", {"evaluate_seconds": 3.0})
    recorded = Recorded(tmp_path)
    assert recorded.seconds("train_keras@keras_2l-42", project_params) == 110.0
    smaller = small_params(copy.deepcopy(project_params), ["keras_2l"], epochs=3, limit_train=6000, limit_test=1000)
    # A tenth of the epochs on a tenth of the images: the training part a hundredth.
    assert recorded.seconds("train_keras@keras_2l-42", smaller) == pytest.approx(10.0 + 1.0)
    assert recorded.seconds("evaluate_keras@keras_2l-42", smaller) == pytest.approx(0.3)
    assert recorded.seconds("train_keras@keras_4l-42", smaller) == 0.0


@pytest.mark.slow
def test_a_stage_to_run_takes_its_inputs_from_the_cache_or_makes_them_again(tmp_path, subset_params, real_data,
                                                                           monkeypatch):
    # As on a clone of a grid trained elsewhere: a trained stage's model is in dvc.lock, but the
    # stage that reads it has not run here.
    project = copy_project(tmp_path / "project", subset_params)
    trained, reader = "train_lowlevel@lowlevel_softmax-42", "evaluate_lowlevel@lowlevel_softmax-42"
    run(["dvc", "repro", trained], project)
    model = project / "models" / "seed_42" / "lowlevel_softmax.keras"
    locked_model = yaml.safe_load((project / "dvc.lock").read_text())["stages"][trained]["outs"]
    monkeypatch.chdir(project)

    # Missing here but in the cache: checked out, nothing trained again.
    model.unlink()
    grid = Grid([reader])
    assert grid.plan() == [reader] and grid.remade == set()
    assert model.is_file()

    # Missing from the cache too: the model's stage runs again, then the stage that reads it.
    model.unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    grid = Grid([reader])
    assert grid.plan() == [trained, reader] and grid.remade == {trained}
    output = run([sys.executable, "-m", "fashion_pipeline.tools.grid", reader], project).stdout
    assert "(1 again: outputs another machine made" in output and "FAILED" not in output, output
    assert model.is_file() and (project / "results" / "seed_42" / "lowlevel_softmax" / "evaluation.json").is_file()
    assert "up to date" in run(["dvc", "status", reader], project).stdout
    # Its outputs are recorded anew, model and all.
    assert yaml.safe_load((project / "dvc.lock").read_text())["stages"][trained]["outs"] != locked_model

    # A stage DVC refuses to record (its model added to git by hand) is one line, not a crash.
    run(["git", "add", "--force", str(model)], project)
    reason = Grid([reader]).record(trained)
    assert "is already tracked by SCM" in reason and "\n" not in reason, reason


def test_the_bench_slice_is_checked_before_anything_runs(project_params):
    assert grid_bench.slice_stages(project_params) == project_params["bench"]["slice"]
    for address in ("evaluate_keras@keras_2l-42", "train_keras@keras_2l-7", "train_keras@no_such-42", "keras_2l"):
        params = copy.deepcopy(project_params)
        params["bench"]["slice"] = [address]
        with pytest.raises(StageError, match=f"bench.slice: {address!r}"):
            grid_bench.slice_stages(params)


def test_the_flop_bound_counts_the_weights_keras_trains(project_params):
    spec = project_params["experiments"]["keras"]["keras_4l"]
    model = build_model(spec["hidden_units"], spec["activation"], spec["dropout"])
    kernels = sum(keras.ops.size(layer.kernel) for layer in model.layers if hasattr(layer, "kernel"))
    assert grid_bench.weight_count([784, *spec["hidden_units"], 10]) == int(kernels)
    # 784-100-10 has 79,400 weights, 784-50-10 half as many: twice the samples per second, and
    # twice again at twice the matrix-product rate.
    bound = grid_bench.flop_bound_samples_per_second([100], 100.0)
    assert bound == pytest.approx(100e9 / (6 * 79_400))
    assert grid_bench.flop_bound_samples_per_second([50], 200.0) == pytest.approx(4 * bound)
