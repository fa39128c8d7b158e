"""The machine and the world around a stage: a server that is not MLflow or refuses the
credentials, a full disk, a read-only store, hostile names through DVC, and the security of
what is loaded and served."""

import copy
import errno
import http.server
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient
from conftest import ROOT, copy_project, fake_dataset, pipeline_env, prepared_fake, run, small_params, write_source

from fashion_pipeline import cli
from fashion_pipeline.stages import train

pytestmark = pytest.mark.reliability
KERAS_STAGE = "train_keras@keras_2l-42"



class NotMlflow(http.server.BaseHTTPRequestHandler):
    """A web service that is not MLflow: it answers /health, then HTML to everything else."""
    status, body = 200, b"<html>a wiki</html>"

    def do_GET(self):  # noqa: N802 - the name http.server calls
        status, body = (200, b"OK") if self.path == "/health" else (self.status, self.body)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


class LockedMlflow(NotMlflow):
    """A server that wants credentials for its REST API, as MLflow's basic auth does."""
    status, body = 401, b"You are not authenticated."


class BusyMlflow(NotMlflow):
    """A server that answers /health at once and its REST API only after seconds, as a team
    server checking each request's password hash under many stages does."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        if self.path != "/health":
            time.sleep(4)
        try:
            super().do_GET()
        except (BrokenPipeError, ConnectionResetError):
            # The stage gave up on this answer long ago, as it should; nothing to print under
            # the next test's output.
            pass


@pytest.mark.parametrize(("handler", "message"), [
    (NotMlflow, "answer to MLflow's REST API is not MLflow's"),
    (LockedMlflow, "the server refused the credentials in MLFLOW_TRACKING_USERNAME"),
    (BusyMlflow, "answered /health, but not MLflow's REST API within 2 s; the server is there but busy"),
])
def test_a_foreign_locked_or_busy_server_is_refused(handler, message, tmp_path, monkeypatch, capsys,
                                                    project_params):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "student")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setattr(sys, "argv", ["train", "--stage", KERAS_STAGE])
        started = time.monotonic()
        with pytest.raises(SystemExit):
            cli.run(train.main)
        assert time.monotonic() - started < 60
    finally:
        server.shutdown()
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def fill(folder, room=0):
    """Fill the file system under `folder` to the last byte, then free `room` bytes."""
    with open(folder / ".filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 1024)
        except OSError:
            pass
        filler.truncate(max(filler.tell() - room, 0))


@pytest.fixture
def small_mount(tmp_path):
    """A tmpfs of `size` mounted at a folder; unmounted afterwards."""
    mounted = []

    def mount(folder, size="16k", full=False):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        if full:
            fill(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


# A stage's outputs, as an earlier run of it left them.
EARLIER = {"models/seed_42/keras_softmax.keras": b"the earlier model",
           **{f"results/seed_42/keras_softmax/{name}": f"the earlier {name}".encode()
              for name in ("history.csv", "train.json", "run.json")}}


# The store's folder keeps room for the run's params, not for its model: it refuses an artifact
# after the model is saved.
@pytest.mark.parametrize(("full", "room"), [("models/seed_42", 0), ("results/seed_42/keras_softmax", 0),
                                            ("mlartifacts", 32 * 1024)])
def test_a_full_disk_ends_in_one_line_and_leaves_the_earlier_outputs_as_they_were(full, room, tmp_path, monkeypatch,
                                                                                 capsys, project_params, small_mount):
    params = small_params(copy.deepcopy(project_params), ["keras_softmax"], epochs=1)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "data" / "prepared").mkdir(parents=True)
    prepared_fake(tmp_path)
    small_mount(tmp_path / full, size="256k")
    for path, content in EARLIER.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    fill(tmp_path / full, room)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "argv", ["train", "--stage", "train_keras@keras_softmax-42"])
    with pytest.raises(SystemExit) as exit_info:
        cli.run(train.main)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "no space left on the device" in error and "Traceback" not in error, error
    # The line names the output that could not be written, never a temporary of the stage's own.
    named = error.split("error: ", 1)[1].split(": ", 1)[0]
    assert full in named and "/." not in named, error
    # Every output as the earlier run left it, byte for byte, and nothing of the failed run's beside.
    outputs = [path for folder in ("models", "results") for path in (tmp_path / folder).rglob("*") if path.is_file()]
    assert {path.relative_to(tmp_path).as_posix(): path.read_bytes() for path in outputs
            if path.name != ".filler"} == EARLIER
    assert not [path for path in tmp_path.rglob(".*.*") if path.name != ".filler"], "a temporary file was left behind"
    # The failed run is recorded as failed.
    store = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [run.info.status for run in store.search_runs([store.get_experiment_by_name(
        params["mlflow"]["experiment_name"]).experiment_id])] == ["FAILED"]


def test_a_read_only_store_ends_in_one_line(tmp_path, monkeypatch, capsys, project_params, small_mount):
    store = small_mount(tmp_path / "store", size="4m")
    # Made by another process, so that no open connection keeps the mount busy.
    subprocess.run([sys.executable, "-c", "import mlflow, sys; mlflow.MlflowClient(sys.argv[1]).search_experiments()",
                    f"sqlite:///{store / 'mlflow.db'}"], check=True, env=pipeline_env(ROOT))
    before = (store / "mlflow.db").read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(store)], check=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setattr(sys, "argv", ["train", "--stage", KERAS_STAGE])
    with pytest.raises(SystemExit):
        cli.run(train.main)
    error = capsys.readouterr().err
    assert "not a file that can be read and written" in error and "Traceback" not in error
    assert (store / "mlflow.db").read_bytes() == before


# Every place the project writes, made unwritable before the command starts: (what is made
# unwritable, how, the command, what its one line names). None of them has the inputs it would
# read first (prepared data, results, a report), so an error about the place shows that it was
# checked before any work.
UNWRITABLE = {
    "results": ("results", "read-only", ["fashion_pipeline.stages.train", "--stage", "train_keras@keras_2l-42"],
                "results/seed_42/keras_2l: the file system is read-only"),
    "models": ("models", "a file", ["fashion_pipeline.stages.train", "--stage", "train_lowlevel@lowlevel_net_a-42"],
               "models: a part of the path is a file where a folder is needed"),
    "checkpoints": ("checkpoints", "read-only", ["fashion_pipeline.stages.compare_optimizers", "--stage",
                                                 "compare_optimizers@adam-42"],
                    "checkpoints/compare_optimizers/seed_42/adam: the file system is read-only"),
    "reports": ("reports", "read-only", ["fashion_pipeline.stages.figures"],
                "reports: the file system is read-only"),
    "data": ("data", "read-only", ["fashion_pipeline.stages.download", "data/raw"], "the file system is read-only"),
    "server home": ("team", "read-only", ["fashion_pipeline.tools.server", "start", "--home", "team/server"],
                    "team/server: the file system is read-only"),
}


@pytest.mark.parametrize("place", UNWRITABLE)
def test_a_place_that_cannot_be_written_ends_in_one_line_before_any_work(place, tmp_path, project_params,
                                                                         small_mount):
    folder, how, command, said = UNWRITABLE[place]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
    if how == "a file":
        (tmp_path / folder).write_text("not a folder")
    else:
        small_mount(tmp_path / folder)
        subprocess.run(["mount", "-o", "remount,ro", str(tmp_path / folder)], check=True)
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))
    result = subprocess.run([sys.executable, "-m", *command], cwd=tmp_path, env=pipeline_env(ROOT),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()] and said in result.stderr, result.stderr
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == before, "something was left behind"


def test_shell_metacharacters_in_names_run_nothing_through_dvc(tmp_path, project_params):
    """Names go into stage names and paths, never into a command: `dvc repro` of a stage named
    after a hostile experiment runs the pipeline's own command, which refuses the name."""
    marker = tmp_path / "owned"
    params = small_params(copy.deepcopy(project_params), ["keras_softmax"], epochs=1, limit_train=100, limit_test=50)
    hostile = [f"x;touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"x' && touch {marker} && '"]
    for name in hostile:
        params["experiments"]["keras"][name] = params["experiments"]["keras"]["keras_softmax"]
    project = copy_project(tmp_path / "project", params)
    # The prepared data the stage depends on (prepare itself refuses these params).
    (project / "data" / "prepared").mkdir(parents=True)
    prepared_fake(project)
    for name in hostile:
        result = run(["dvc", "repro", "--single-item", f"train_keras@{name}-42"], project, check=False)
        assert result.returncode != 0
        assert "error: " in result.stderr and "[a-z0-9_]+" in result.stderr, result.stderr
        assert not marker.exists(), f"{name!r} ran a command"
    dvc_yaml = (project / "dvc.yaml").read_text()
    assert "${item.experiment}" not in "".join(line for line in dvc_yaml.splitlines() if "cmd:" in line)


def test_arrays_with_python_objects_are_refused(tmp_path):
    from fashion_pipeline.data import load_split
    from fashion_pipeline.errors import DataFileError

    np.savez(tmp_path / "train.npz", features=np.array([{"code": "run me"}], dtype=object), labels=np.zeros(1))
    with pytest.raises(DataFileError, match="allow_pickle=False"):
        load_split(tmp_path, "train")


def test_a_model_that_would_run_code_on_loading_is_refused(tmp_path):
    import keras

    from fashion_pipeline.errors import DataFileError
    from fashion_pipeline.models import load_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(DataFileError, match="safe_mode"):
        load_model(tmp_path / "lambda.keras")


def test_downloads_accept_only_https_sources_and_verified_bytes(tmp_path, project_params):
    from fashion_pipeline.errors import DownloadError
    from fashion_pipeline.params import ParamsError, validate_params
    from fashion_pipeline.stages.download import obtain

    params = copy.deepcopy(project_params)
    params["data"]["sources"] = ["http://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion"]
    with pytest.raises(ParamsError, match="an https:// URL"):
        validate_params(params)
    dataset = fake_dataset()
    source = write_source(tmp_path / "source", dataset)
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        obtain("train-labels-idx1-ubyte", [str(source)], "0" * 64, 2)


def test_a_failed_output_is_named_as_the_user_knows_it_never_by_its_temporary(tmp_path):
    from fashion_pipeline import files

    # A full disk while the caller writes: the error has no file name at all.
    target = tmp_path / "models" / "seed_42" / "keras_2l.keras"
    with pytest.raises(OSError) as raised:
        with files.atomic_path(target):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    # A folder output whose path is taken by a file: the rename names the temporary folder.
    taken = tmp_path / "scratch" / "afile"
    taken.parent.mkdir()
    taken.write_text("a file the user made")
    with pytest.raises(OSError) as raised:
        with files.atomic_directory(taken) as folder:
            (folder / "train.npz").write_bytes(b"data")
    assert raised.value.filename == str(taken) and ".afile." not in str(raised.value)
    assert taken.read_text() == "a file the user made"
    assert sorted(path.name for path in taken.parent.iterdir()) == ["afile"]
    # A file inside the temporary folder is named inside the output.
    with pytest.raises(OSError) as raised:
        with files.atomic_directory(tmp_path / "results" / "run") as folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(folder / "history.csv"))
    assert raised.value.filename == str(tmp_path / "results" / "run" / "history.csv")
    assert isinstance(raised.value, PermissionError)
