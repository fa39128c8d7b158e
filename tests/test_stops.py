"""A stop at any point of a stage's life: its MLflow run ends KILLED (never left RUNNING), it
exits within seconds, and its outputs are the ones it found. First the stop machinery itself, on
small scripts that place the signal exactly; then the real stages of both kinds, stopped at each
point of their lives."""

import copy
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ROOT, copy_project, pipeline_env, run, small_params

pytestmark = pytest.mark.reliability


def script(text, folder):
    """A stage-like script run in `folder`, its output readable line by line."""
    return subprocess.Popen([sys.executable, "-c", text], cwd=folder, env=pipeline_env(ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop_on(process, line_start, number=signal.SIGTERM):
    """Send `number` once the process prints a line starting `line_start`; its output and the
    seconds it took to exit after the signal."""
    for line in process.stdout:
        if line.startswith(line_start):
            break
    process.send_signal(number)
    signalled = time.monotonic()
    output = process.communicate(timeout=120)[0]
    return output, time.monotonic() - signalled


def earlier_model(folder):
    """`out/model.txt` as an earlier run of the stage left it."""
    (folder / "out").mkdir()
    (folder / "out" / "model.txt").write_text("the earlier model")


def only_the_earlier_model(folder):
    return sorted(path.name for path in (folder / "out").iterdir()) == ["model.txt"] and \
        (folder / "out" / "model.txt").read_text() == "the earlier model"


def test_the_watcher_waits_for_a_clean_up_the_main_thread_began(tmp_path):
    # The main thread is still ending the run (a slow store) when the watcher's grace is over: the
    # watcher waits for it rather than exiting with the run half-ended, and does not run it twice.
    stage = ("import time\n"
             "from fashion_pipeline import cli, files\n"
             "def end_run():\n"
             "    print('ending the run', flush=True)\n"
             "    time.sleep(cli.STOP_GRACE_SECONDS + 1)\n"
             "    open('ended', 'a').write('KILLED\\n')\n"
             "def main():\n"
             "    with files.outputs_together([]):\n"
             "        files.add_clean_up(end_run)\n"
             "        print('training', flush=True)\n"
             "        time.sleep(60)\n"
             "cli.run(main)\n")
    output, _ = stop_on(script(stage, tmp_path), "training")
    assert (tmp_path / "ended").read_text() == "KILLED\n", output
    assert output.splitlines()[-1].startswith("error: interrupted") and "Traceback" not in output, output


def test_a_stop_inside_a_compiled_call_is_cleaned_up_by_the_watcher(tmp_path):
    # A C call that does not return to Python (as TensorFlow's compiled epochs; here C's system(),
    # which goes on waiting through signals): the watcher runs the clean-ups itself, puts the
    # earlier output back, and ends the process.
    stage = ("import ctypes\n"
             "from pathlib import Path\n"
             "from fashion_pipeline import cli, files\n"
             "def main():\n"
             "    with files.outputs_together(['out']):\n"
             "        files.add_clean_up(lambda: open('ended', 'w').write('KILLED' if files.STOPPED.is_set() else 'FAILED'))\n"
             "        files.write_text('out/model.txt', 'the new model')\n"
             "        ctypes.CDLL(None).system(b'echo training; exec sleep 20 >/dev/null 2>&1')\n"
             "cli.run(main)\n")
    earlier_model(tmp_path)
    process = script(stage, tmp_path)
    output, seconds = stop_on(process, "training")
    assert process.returncode == 130 and seconds >= 1, output
    assert (tmp_path / "ended").read_text() == "KILLED"
    assert only_the_earlier_model(tmp_path)
    assert seconds < 30, f"the stage went on for {seconds:.0f} s after the signal"


def test_a_stop_inside_an_uninterrupted_block_comes_as_the_block_ends(tmp_path):
    # A run made and registered to end KILLED is one step: a stop between the two would leave the
    # run RUNNING for good.
    stage = ("import time\n"
             "from fashion_pipeline import cli, files\n"
             "def main():\n"
             "    with files.outputs_together([]):\n"
             "        with files.uninterrupted():\n"
             "            print('making the run', flush=True)\n"
             "            time.sleep(1)\n"
             "            files.add_clean_up(lambda: open('ended', 'w').write('KILLED'))\n"
             "        print('training', flush=True)\n"
             "cli.run(main)\n")
    process = script(stage, tmp_path)
    output, _ = stop_on(process, "making the run")
    assert process.returncode == 130 and "training" not in output, output
    assert (tmp_path / "ended").read_text() == "KILLED"


def test_a_stop_during_a_failed_stages_clean_up_does_not_cut_it_short(tmp_path):
    # The stage fails (a full disk, say) and Ctrl-C comes while it puts the earlier outputs back:
    # every clean-up still runs to its end.
    stage = ("import time\n"
             "from fashion_pipeline import cli, files\n"
             "def main():\n"
             "    with files.outputs_together(['out']):\n"
             "        files.write_text('out/model.txt', 'the new model')\n"
             "        files.add_clean_up(lambda: (print('cleaning up', flush=True), time.sleep(2)))\n"
             "        raise OSError(28, 'No space left on device', 'out/history.csv')\n"
             "cli.run(main)\n")
    earlier_model(tmp_path)
    output, _ = stop_on(script(stage, tmp_path), "cleaning up", signal.SIGINT)
    assert only_the_earlier_model(tmp_path), output


def test_what_a_stage_killed_outright_had_set_aside_is_put_back_by_the_next_run(tmp_path):
    # SIGKILL (the kernel's OOM killer, a power loss) between the new model and the last output:
    # no clean-up runs, and the next run of the stage puts the earlier model back first.
    killed = ("import os, signal\n"
              "from fashion_pipeline import files\n"
              "with files.outputs_together(['out']):\n"
              "    files.write_text('out/model.txt', 'the new model')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    earlier_model(tmp_path)
    assert script(killed, tmp_path).wait(timeout=60) == -signal.SIGKILL
    assert (tmp_path / "out" / "model.txt").read_text() == "the new model"
    again = ("from fashion_pipeline import files\n"
             "with files.outputs_together(['out']):\n"
             "    print(open('out/model.txt').read(), flush=True)\n"
             "    raise SystemExit(3)\n")
    process = script(again, tmp_path)
    assert process.communicate(timeout=60)[0].strip() == "the earlier model" and process.returncode == 3
    assert only_the_earlier_model(tmp_path)


# Both kinds of stage, 8 epochs on 1,000 images, progress every 2 epochs.
STAGES = ["train_lowlevel@lowlevel_net_b-42", "train_keras@keras_4l_drop_taper-42"]


@pytest.fixture(scope="module")
def stop_project(tmp_path_factory, project_params, real_data):
    params = small_params(copy.deepcopy(project_params), ["lowlevel_net_b", "keras_4l_drop_taper"], epochs=8,
                          limit_train=1000, limit_test=300)
    params["training"].update(resume=False, progress_every_epochs=2)
    project = copy_project(tmp_path_factory.mktemp("stops"), params)
    run(["dvc", "repro", "prepare"], project)
    return project


def run_statuses(store, address):
    """The status of every run the stage `address` made in the SQLite store `store`."""
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as connection:
            return [status for (status,) in connection.execute(
                "SELECT runs.status FROM runs JOIN tags ON tags.run_uuid = runs.run_uuid "
                "WHERE tags.key = 'dvc_stage' AND tags.value = ?", (address,))]
    except sqlite3.OperationalError:
        # No store yet, or MLflow is making its tables.
        return []


def outputs(project):
    return {path.relative_to(project).as_posix(): path.read_bytes()
            for folder in ("models", "results") if (project / folder).is_dir()
            for path in sorted((project / folder).rglob("*")) if path.is_file()}


# When the signal comes: during the imports, as soon as the run is in the store (its params and
# artifacts being logged, the model compiled), in the middle of training, and after the last
# epoch (the model saved and logged, the outputs written).
POINTS = ["start", "run made", "training", "last epoch"]


@pytest.mark.parametrize("address", STAGES)
@pytest.mark.parametrize("point", POINTS)
def test_a_stage_stopped_at_any_point_ends_its_run_killed_within_seconds(stop_project, point, address, tmp_path):
    # Each point twice, with SIGTERM (dvc repro, the grid runner, a parent's death) and SIGINT
    # (Ctrl-C); the second try lands a little later than the first.
    store = tmp_path / "stops.db"
    env = {**pipeline_env(stop_project), "MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
    before = outputs(stop_project)
    for number, delay in ((signal.SIGTERM, 0.0), (signal.SIGINT, 0.3)):
        # With Ctrl-C's default action, as from a terminal (a shell's background job ignores it).
        process = subprocess.Popen([sys.executable, "-m", "fashion_pipeline.stages.train", "--stage", address],
                                   cwd=stop_project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            made = len(run_statuses(store, address))
            if point == "start":
                time.sleep(0.5)
            elif point == "run made":
                while len(run_statuses(store, address)) == made and process.poll() is None:
                    time.sleep(0.02)
            else:
                epoch = "epoch 2/8" if point == "training" else "epoch 8/8"
                for line in process.stdout:
                    if f": {epoch} " in line:
                        break
            time.sleep(delay)
            assert process.poll() is None, f"the stage ended before the signal ({point})"
            process.send_signal(number)
            signalled = time.monotonic()
            output = process.communicate(timeout=120)[0]
        finally:
            # A failed check must not leave the stage to write its outputs under the next test.
            if process.poll() is None:
                process.kill()
                process.wait()
        seconds = time.monotonic() - signalled
        print(f"{address}, {point}, {signal.Signals(number).name}: exited {seconds:.1f} s after the signal")
        # Killed by the signal itself only while Python imports, before any handler is set.
        assert process.returncode == 130 or (point == "start" and process.returncode == -number), output
        assert "Traceback" not in output or point == "start", output
        assert "RUNNING" not in run_statuses(store, address), (point, output)
        assert set(run_statuses(store, address)) <= {"KILLED"}, (point, output)
        assert seconds < 15, f"{address} exited {seconds:.1f} s after the signal ({point})"
    if point != "start":
        assert run_statuses(store, address) == ["KILLED", "KILLED"]
    assert outputs(stop_project) == before
    left = [path for folder in ("results", "models") for path in (stop_project / folder).rglob(".*")]
    assert left == [], left
