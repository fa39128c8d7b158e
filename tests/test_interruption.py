"""Interruption and resumption: an interrupted download, damaged checkpoints, a run resumed from
its checkpoint equal to one that never stopped (which also shows determinism), and experiments
queued side by side into one store."""

import copy
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_project, pipeline_env, prepared_fake, run, small_params

from fashion_pipeline import cli, files
from fashion_pipeline.stages import train

pytestmark = pytest.mark.reliability
KERAS_STAGE = "train_keras@keras_2l-42"



def python_script(script, folder):
    """A stage-like script run in `folder`, its output readable line by line."""
    return subprocess.Popen([sys.executable, "-c", script], cwd=folder, env=pipeline_env(ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_an_interrupted_download_leaves_no_temporary_folder_and_stale_ones_are_cleaned(tmp_path, project_params):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
    stale = project / "data" / ".raw.left_by_a_killed_process"
    stale.mkdir()
    # The real stage, with the fetch of the second file held up: the signal then always lands
    # mid-download, whatever the machine's speed.
    stalled = ("import sys, time\n"
               "from fashion_pipeline import cli\n"
               "from fashion_pipeline.stages import download\n"
               "fetch = download.fetch\n"
               "def slow_fetch(source, name, timeout):\n"
               "    if name != 'train-images-idx3-ubyte':\n"
               "        time.sleep(60)\n"
               "    return fetch(source, name, timeout)\n"
               "download.fetch = slow_fetch\n"
               "sys.argv = ['download', 'data/raw']\n"
               "cli.run(download.main)\n")
    process = python_script(stalled, project)
    for line in process.stdout:
        if line.startswith("download: train-images"):
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    assert "error: interrupted" in output and "Traceback" not in output
    assert sorted(path.name for path in (project / "data").iterdir()) == [], "a temporary folder was left"


def test_a_second_signal_does_not_cut_short_the_clean_up_of_the_first(tmp_path):
    # Ctrl-C reaches a stage with SIGINT, and `dvc repro`'s SIGTERM or death follows: the clean-up
    # the first started (the run ended KILLED, temporary files removed) must still finish.
    stage = ("import sys, time\n"
             "from fashion_pipeline import cli\n"
             "def main():\n"
             "    try:\n"
             "        print('training', flush=True)\n"
             "        time.sleep(60)\n"
             "    finally:\n"
             "        print('cleaning up', flush=True)\n"
             "        time.sleep(2)\n"
             "        print('cleaned up', flush=True)\n"
             "cli.run(main)\n")
    process = python_script(stage, tmp_path)
    for line in process.stdout:
        if line.startswith("training"):
            process.send_signal(signal.SIGINT)
        if line.startswith("cleaning up"):
            process.send_signal(signal.SIGTERM)
            break
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130, output
    assert output.splitlines()[0] == "cleaned up" and "Traceback" not in output, output
    assert output.splitlines()[-1].startswith("error: interrupted"), output


def test_a_stop_whose_interrupt_python_dropped_still_puts_no_output_in_place(tmp_path):
    # Python drops an exception raised inside a garbage collector's callback, as the
    # KeyboardInterrupt of a signal landing there is: here the stage drops it itself.
    stage = ("import time\n"
             "from fashion_pipeline import cli, files\n"
             "def main():\n"
             "    try:\n"
             "        print('training', flush=True)\n"
             "        time.sleep(60)\n"
             "    except KeyboardInterrupt:\n"
             "        pass\n"
             "    files.write_text('output.txt', 'trained')\n"
             "cli.run(main)\n")
    process = python_script(stage, tmp_path)
    for line in process.stdout:
        if line.startswith("training"):
            process.send_signal(signal.SIGTERM)
            break
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130 and "error: interrupted" in output, output
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "an output was put in place after the stop"


def test_a_damaged_checkpoint_is_reported_in_one_line_and_training_starts_afresh(tmp_path, monkeypatch, capsys,
                                                                                project_params):
    params = small_params(copy.deepcopy(project_params), ["keras_softmax"], epochs=2)
    params["training"]["resume"] = True
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "data" / "prepared").mkdir(parents=True)
    prepared_fake(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "argv", ["train", "--stage", "train_keras@keras_softmax-42"])
    checkpoint = tmp_path / "checkpoints" / "train_keras" / "seed_42" / "keras_softmax"
    for damage in ("garbage", "empty history"):
        shutil.rmtree(tmp_path / "checkpoints", ignore_errors=True)
        monkeypatch.setattr("fashion_pipeline.checkpoints.Checkpoint.__init__", _trusting_init)
        (checkpoint / "state").mkdir(parents=True)
        files.write_json(checkpoint / "meta.json", {"fingerprint": "any"})
        if damage == "garbage":
            (checkpoint / "state" / "state.npz").write_bytes(b"garbage")
            (checkpoint / "state" / "history.csv").write_text("epoch,train_loss\n1,0.5\n")
        else:
            np.savez(checkpoint / "state" / "state.npz", array_0=np.zeros(3))
            (checkpoint / "state" / "history.csv").write_text("")
        cli.run(train.main)
        output = capsys.readouterr().out
        if damage == "garbage":
            assert f"checkpoint {checkpoint.relative_to(tmp_path)}: damaged" in output, output
        history = pd.read_csv(tmp_path / "results" / "seed_42" / "keras_softmax" / "history.csv")
        assert list(history["epoch"]) == [1, 2], damage
        assert not checkpoint.exists()


def _trusting_init(self, folder, digest, resume):
    """Checkpoint.__init__ taking any checkpoint as made with these params, to reach restore."""
    self.folder, self.digest = Path(folder), digest


# Part A, and Keras's compiled epochs with dropout.
RESUMED = [("lowlevel", "lowlevel_net_b"), ("keras", "keras_4l_drop_taper")]


@pytest.fixture(scope="module")
def prepared_project(tmp_path_factory, project_params, real_data):
    """A project copy with two experiments, 8 epochs, resume on, and its data prepared."""
    params = small_params(copy.deepcopy(project_params), [name for _, name in RESUMED], epochs=8, limit_train=1000, limit_test=300)
    params["training"].update(resume=True, progress_every_epochs=2)
    project = copy_project(tmp_path_factory.mktemp("reliability"), params)
    run(["dvc", "repro", "prepare"], project)
    return project


def train_command(address):
    return ["python", "-m", "fashion_pipeline.stages.train", "--stage", address]


def interrupt_after(project, command, line_start):
    """Start a training process, send SIGTERM once it prints a line starting `line_start`."""
    process = subprocess.Popen(command, cwd=project, env=pipeline_env(project), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith(line_start):
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 130, output


@pytest.mark.parametrize(("kind", "name"), RESUMED)
def test_an_interrupted_run_resumes_from_its_checkpoint_and_equals_an_uninterrupted_one(prepared_project, kind, name):
    """Three processes: one stopped after epoch 4, one resuming it (seed 42), and one running
    straight through. The resumed run equals the straight one exactly."""
    address = f"train_{kind}@{name}-42"
    interrupt_after(prepared_project, train_command(address), f"{address}: epoch 4/8")
    checkpoint = prepared_project / "checkpoints" / f"train_{kind}" / "seed_42" / name
    assert (checkpoint / "state" / "history.csv").is_file()
    results = prepared_project / "results" / "seed_42" / name
    assert not (results / "run.json").exists()

    resumed = run(train_command(address), prepared_project).stdout
    assert f"{address}: resuming after epoch" in resumed
    history = pd.read_csv(results / "history.csv")
    assert list(history["epoch"]) == list(range(1, 9))
    assert not checkpoint.exists(), "the checkpoint outlived its finished stage"
    mlflow.set_tracking_uri(f"sqlite:///{prepared_project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"], filter_string=f"tags.dvc_stage = '{address}'")
    assert sorted(runs["status"]) == ["FINISHED", "KILLED"]
    finished = runs[runs["status"] == "FINISHED"].iloc[0]
    assert int(finished["tags.resumed_after_epoch"]) >= 2
    steps = [point.step for point in mlflow.MlflowClient().get_metric_history(finished["run_id"], "val_loss")]
    assert steps == list(range(1, 9))
    # Straight through, again with seed 42: the same numbers exactly.
    shutil.rmtree(results)
    run(train_command(address), prepared_project)
    pd.testing.assert_frame_equal(history, pd.read_csv(results / "history.csv"), check_exact=True)


def test_a_stop_does_not_wait_for_part_a_to_end_its_compiled_chunk_of_epochs(prepared_project):
    """SIGTERM while Part A trains inside one compiled call of 20,000 epochs, which alone takes
    minutes: the stage ends within seconds, its MLflow run KILLED, no temporary left behind."""
    params = yaml.safe_load((prepared_project / "params.yaml").read_text())
    params["experiments"]["lowlevel"]["lowlevel_net_b"]["epochs"] = 20000
    params["training"].update(checkpoint_every_epochs=20000, progress_every_epochs=20000)
    (prepared_project / "one_long_chunk.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    address = "train_lowlevel@lowlevel_net_b-42"
    started_ms = int(time.time() * 1000)
    process = subprocess.Popen([*train_command(address), "--params", "one_long_chunk.yaml"], cwd=prepared_project,
                               env=pipeline_env(prepared_project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    client = mlflow.MlflowClient(f"sqlite:///{prepared_project / 'mlflow.db'}")

    def statuses():
        experiment = client.get_experiment_by_name(params["mlflow"]["experiment_name"])
        return [found.info.status for found in client.search_runs(
            [experiment.experiment_id], f"tags.dvc_stage = '{address}' AND attributes.start_time >= {started_ms}")
            ] if experiment else []

    deadline = time.monotonic() + 300
    while "RUNNING" not in statuses() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    # The run has its params: the next thing is the chunk, being compiled or trained.
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    output = process.communicate(timeout=600)[0]
    stopped_after = time.monotonic() - signalled
    assert process.returncode == 130, output
    assert output.strip().splitlines()[-1].startswith("error: interrupted") and "Traceback" not in output, output
    assert stopped_after < 30, f"the stage trained on for {stopped_after:.0f} s after SIGTERM"
    assert statuses() == ["KILLED"]
    left = [path for folder in ("results", "models") for path in (prepared_project / folder).rglob(".*")]
    assert left == [], left


@pytest.mark.slow
def test_queued_experiments_run_two_at_a_time_into_one_store(tmp_path, project_params, real_data):
    """`dvc exp run --queue` twice, `dvc queue start -j 2`: two finished runs, made side by side,
    each with its metrics, in the project's one SQLite store."""
    params = small_params(copy.deepcopy(project_params), ["lowlevel_softmax", "keras_softmax"], epochs=1,
                    limit_train=300, limit_test=100)
    project = copy_project(tmp_path / "project", params)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "project"], project)
    # Each experiment runs only what its test metrics need, not the whole DAG.
    for epochs in (1, 2):
        run(["dvc", "exp", "run", "--queue", "-S", f"experiments.keras.keras_softmax.epochs={epochs}",
             "evaluate_keras@keras_softmax-42"], project)
    run(["dvc", "queue", "start", "-j", "2"], project)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], project).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    assert "Failed" not in status and "Success" in status, status
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"],
                              filter_string="tags.dvc_stage = 'train_keras@keras_softmax-42'")
    assert sorted(runs["params.epochs"].astype(int)) == [1, 2]
    assert set(runs["status"]) == {"FINISHED"}
    assert runs["metrics.test_accuracy"].notna().all()
    client = mlflow.MlflowClient()
    for _, row in runs.iterrows():
        steps = [point.step for point in client.get_metric_history(row["run_id"], "val_loss")]
        assert steps == list(range(1, int(row["params.epochs"]) + 1))
    with sqlite3.connect(project / "mlflow.db") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    assert shown
