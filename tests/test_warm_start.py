"""Stages forked warm (tools/warm_start.py), as the grid runner starts them: a stage's command
runs as `python -m` runs it, its output in its log and its exit status its own; a project module
changed on disk is imported again before the next stage; any other command runs as a process of
its own. That a warm stage's results equal `dvc repro`'s, file by file, is test_grid.py's first
test; that a stopped warm stage removes what it had begun, its second."""

import subprocess
import sys
import time
from pathlib import Path

from conftest import copy_project, pipeline_env, small_params

from fashion_pipeline.cli import INTERRUPTED
from fashion_pipeline.tools import warm_start

# Appended to the copied project's cli.py, which every stage imports: a stage that prints this
# ran the module as it is on disk.
EDIT = '''
_run_before_edit = run


def run(main, stop_watch=True):
    print("cli.py as edited", flush=True)
    return _run_before_edit(main, stop_watch)
'''


def test_a_warm_stage_runs_as_its_command_and_a_changed_module_is_imported_again(tmp_path, project_params):
    project = copy_project(tmp_path / "project", small_params(project_params, ["keras_2l"]))
    env, log_path = pipeline_env(project), project / "logs" / "stage.log"
    log_path.parent.mkdir()
    stage_command = ["python", "-m", "fashion_pipeline.stages.download"]

    ways = []

    def ended(argv, stage_env=env, warm=True):
        """(the started process, its exit status, what it added to the log)."""
        before = log_path.read_text() if log_path.exists() else ""
        with open(log_path, "a") as log:
            process = warm_start.start(argv, str(project), stage_env, log, warm, lambda way: ways.append(way) or True)
            returncode = process.wait()
        return process, returncode, log_path.read_text()[len(before):]

    servers = []
    try:
        process, returncode, output = ended([*stage_command, "--help"])
        servers.append(process.server)
        assert isinstance(process, warm_start.WarmStage) and process.pid != process.server.process.pid
        assert returncode == 0 and output.startswith("usage: download")
        # A user's mistake: argparse's own line and status, from the same server.
        process, returncode, output = ended([*stage_command, "data/raw", "--no-such-option"])
        assert process.server is servers[0]
        assert returncode == 2 and "error: unrecognized arguments: --no-such-option" in output
        # DVC's variables reach the stage, and it reads the project's params.yaml.
        process, returncode, output = ended(["python", "-m", "fashion_pipeline.stages.train"],
                                            {**env, "DVC_STAGE": "train_keras@keras_2l-7", "DVC_ROOT": str(project)})
        assert process.server is servers[0]
        assert returncode == 2 and output == "error: stage seed 7 is not one of params.yaml's seeds; add it there " \
            "to train it\n"

        with open(project / "src" / "fashion_pipeline" / "cli.py", "a") as cli_file:
            cli_file.write(EDIT)
        process, returncode, output = ended([*stage_command, "--help"])
        servers.append(process.server)
        assert servers[1] is not servers[0] and servers[0].process.poll() is not None
        assert returncode == 0 and output.startswith("cli.py as edited\nusage: download")
        # A stop that comes while the server imports: nothing starts.
        before = log_path.read_text()
        with open(log_path, "a") as log:
            assert warm_start.start([*stage_command, "--help"], str(project), env, log, ready=lambda way: False) is None
        time.sleep(1)
        assert log_path.read_text() == before
    finally:
        for server in servers:
            server.close()

    # Not a stage's command, or run cold: a process of its own.
    process, returncode, output = ended(["python", "-c", "print('not a stage')"])
    assert isinstance(process, subprocess.Popen) and returncode == 0 and output == "not a stage\n"
    process, returncode, output = ended([*stage_command, "--help"], warm=False)
    assert isinstance(process, subprocess.Popen) and returncode == 0 and output.startswith("cli.py as edited\nusage")
    assert ways == ["forked warm"] * 4 + ["its own process"] * 2


# A stage of the copied project that waits to be stopped, as a stage inside a long epoch does.
WAITING_STAGE = '''import time

from fashion_pipeline import cli


def main():
    print("waiting", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    cli.run(main)
'''


def test_a_stage_whose_server_dies_stops_as_if_interrupted_before_the_runner_hears_of_it(tmp_path, project_params):
    project = copy_project(tmp_path / "project", small_params(project_params, ["keras_2l"]))
    (project / "src" / "fashion_pipeline" / "stages" / "waiting.py").write_text(WAITING_STAGE)
    log_path = project / "logs" / "stage.log"
    log_path.parent.mkdir()
    with open(log_path, "a") as log:
        stage = warm_start.start(["python", "-m", "fashion_pipeline.stages.waiting"], str(project),
                                 pipeline_env(project), log)
    try:
        deadline = time.monotonic() + 120
        while "waiting" not in log_path.read_text():
            assert time.monotonic() < deadline and stage.poll() is None, log_path.read_text()
            time.sleep(0.1)
        # As when its worker is killed: the server goes at once, and Linux sends its child SIGTERM.
        stage.server.process.kill()
        assert stage.wait() == warm_start.SERVER_ENDED
        # By then the stage had stopped as a stage stops on SIGTERM; nothing of it runs on.
        assert log_path.read_text().endswith("error: " + INTERRUPTED + "\n")
        status = Path(f"/proc/{stage.pid}/stat")
        assert not status.exists() or status.read_text().split(") ")[1].startswith("Z")
    finally:
        stage.server.close()


def test_only_this_interpreters_stage_modules_run_warm(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent)}
    assert warm_start.warm_module(["python", "-m", "fashion_pipeline.stages.train"], env) == "fashion_pipeline.stages.train"
    assert warm_start.warm_module([sys.executable, "-m", "fashion_pipeline.stages.pdf", "--out", "x"], env)
    assert warm_start.warm_module(["python", "-m", "fashion_pipeline.tools.grid"], env) is None
    assert warm_start.warm_module(["python", "-c", "import fashion_pipeline.stages.train"], env) is None
    assert warm_start.warm_module(["dvc", "repro"], env) is None
    # Another `python` first on the PATH (DVC would run that one): cold.
    other = tmp_path / "python"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert warm_start.warm_module(["python", "-m", "fashion_pipeline.stages.train"], {"PATH": str(tmp_path)}) is None
