"""Reliability: bad inputs refused before any work with nothing left behind, grouped by family
(params, data files, intermediate files, tracking store, disk, names); damaged checkpoints; the
same numbers from the same params; experiments queued side by side."""

import copy
import gzip
import http.server
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_project, data_params, fake_dataset, image_bytes, label_bytes, pipeline_env, run, small_params, write_source

from fashion_pipeline import cli, files
from fashion_pipeline.stages import compare_optimizers, download, evaluate, holdout, prepare, train

pytestmark = pytest.mark.reliability
KERAS_STAGE = "train_keras@keras_2l-42"


def set_key(params, path, value):
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[last] = value


def download_case(damage):
    """A download stage whose only source holds the fake dataset with one file damaged."""
    def setup(project, params):
        dataset = fake_dataset()
        source = write_source(project / "source", dataset)
        damage(source / "train-labels-idx1-ubyte.gz")
        params["data"] = {**params["data"], **data_params([source], dataset)}
        return download.main, ["raw"], ["raw"]
    return setup


def prepare_case(name, content):
    """A prepare stage whose raw folder holds the fake dataset with `name` replaced."""
    def setup(project, params):
        raw = project / "raw"
        raw.mkdir()
        for file_name, data in {**fake_dataset(), name: content}.items():
            if data is not None:
                (raw / file_name).write_bytes(data)
        (raw / "manifest.json").write_text("{}")
        return prepare.main, ["raw", "prepared", "data.json"], ["prepared", "data.json"]
    return setup


def params_case(path, value, stage=train.main, address=KERAS_STAGE):
    """A stage run with one value of params.yaml changed."""
    def setup(project, params):
        set_key(params, path, value)
        return stage, ["--stage", address], ["models", "results", "mlflow.db"]
    return setup


def params_text_case(text):
    """A stage run with params.yaml replaced by `text`."""
    def setup(project, params):
        (project / "params.yaml.text").write_text(text)
        return prepare.main, ["raw", "prepared", "data.json"], ["prepared", "data.json"]
    return setup


def prepared_fake(project):
    """Tiny prepared arrays of the right shape, as prepare writes them."""
    features = np.random.default_rng(0).random((40, 784), dtype=np.float32)
    labels = np.arange(40) % 10
    for split in ("train", "val", "test"):
        np.savez(project / "data" / "prepared" / f"{split}.npz", features=features, labels=labels.astype(np.uint8))


def intermediate_case(damage, stage=train.main, address=KERAS_STAGE):
    """A stage whose input, written by an earlier stage, is damaged by `damage(project)`."""
    def setup(project, params):
        (project / "data" / "prepared").mkdir(parents=True)
        prepared_fake(project)
        damage(project)
        produced = ["models"] if stage is train.main else ["results/seed_42/keras_2l/metrics.json",
                                                            "results/seed_42/keras_2l/predictions.csv"]
        return stage, ["--stage", address], produced
    return setup


def write(relative, content):
    def damage(project):
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return damage


def with_trained_files(model_bytes, train_text='{"train_loss": 1}'):
    """The files evaluate reads, with the model's bytes and train.json's text as given."""
    def damage(project):
        write("models/seed_42/keras_2l.keras", model_bytes)(project)
        write("results/seed_42/keras_2l/train.json", train_text)(project)
        write("results/seed_42/keras_2l/run.json", '{"mlflow_run_id": "x"}')(project)
    return damage


def npz_without_arrays(project):
    np.savez(project / "data" / "prepared" / "train.npz", other=np.zeros(3))


def npz_wrong_width(project):
    np.savez(project / "data" / "prepared" / "train.npz", features=np.zeros((5, 100), np.float32), labels=np.zeros(5, np.uint8))


def store_case(content=None, uri=None):
    """A training stage pointed at a broken or foreign tracking store."""
    def setup(project, params):
        (project / "data" / "prepared").mkdir(parents=True)
        prepared_fake(project)
        if content is not None:
            (project / "mlflow.db").write_bytes(content)
        return train.main, ["--stage", KERAS_STAGE], ["models", "results"], uri
    return setup


CATALOGUE = {
    # Params.
    "params: unknown key": (params_case("training.speed", "fast"), "'training.speed' is 'fast'; allowed: known keys"),
    "params: wrong type": (params_case("experiments.keras.keras_2l.epochs", "30"), "'experiments.keras.keras_2l.epochs' is '30'"),
    "params: zero epochs": (params_case("experiments.keras.keras_2l.epochs", 0), "is 0; allowed: an integer >= 1"),
    "params: dropout rate 1": (params_case("experiments.keras.keras_2l.dropout", 1.0), "is 1.0; allowed: a number in [0.0, 1.0)"),
    "params: dropout list length": (params_case("experiments.keras.keras_4l.dropout", [0.1, 0.1]), "a list of 3 rates"),
    "params: unknown activation": (params_case("experiments.keras.keras_2l.activation", "swish"), "'swish'; allowed: one of relu"),
    "params: unknown regularizer": (params_case("experiments.lowlevel.lowlevel_net_b_l1.regularizer", "l3"), "'l3'; allowed: one of none"),
    "params: unknown optimizer rule": (params_case("optimizers.runs.sgd.rule", "nadam", compare_optimizers.main, "compare_optimizers@sgd-42"), "'nadam'; allowed: one of sgd"),
    "params: seeds not a list": (params_case("seeds", 42), "'seeds' is 42; allowed: a non-empty list"),
    "params: a seed the stage is not for": (params_case("seeds", [7]), "stage seed 42 is not one of params.yaml's seeds"),
    "params: experiment of another kind": (params_case("seeds", [42], address="train_keras@lowlevel_net_b-42"), "'lowlevel_net_b'; allowed: one of keras_softmax"),
    "params: held-out candidate not a Keras experiment": (params_case("holdout.experiments", ["lowlevel_net_b"], holdout.main, "holdout_keras@keras_2l-42"), "'holdout.experiments' is ['lowlevel_net_b']; allowed: a non-empty list of distinct keras"),
    "params: held-out stage for a name not listed": (params_case("holdout.experiments", ["keras_4l"], holdout.main, "holdout_keras@keras_2l-42"), "'keras_2l' is not one of holdout.experiments"),
    "params: YAML syntax error": (params_text_case("seeds: [42, 43\n"), "params.yaml: not valid YAML at line 2"),
    "params: python tag": (params_text_case("seeds: !!python/object/apply:os.system [touch owned]\n"), "no tags such as !!python"),
    "params: duplicate key": (params_text_case("seeds: [42]\ndata: {}\nseeds: [43]\n"), "key 'seeds' is given twice, on lines 1 and 3"),
    # Data files.
    "data: file missing": (download_case(lambda path: path.unlink()), "does not exist"),
    "data: file truncated": (download_case(lambda path: path.write_bytes(path.read_bytes()[:30])), "truncated or corrupt gzip"),
    "data: file not gzip": (download_case(lambda path: path.write_bytes(b"plain bytes")), "not gzip"),
    "data: hash mismatch": (download_case(lambda path: path.write_bytes(gzip.compress(b"x"))), "SHA-256 mismatch"),
    "data: raw file missing": (prepare_case("t10k-labels-idx1-ubyte", None), "t10k-labels-idx1-ubyte: not found"),
    "data: IDX truncated": (prepare_case("train-images-idx3-ubyte", image_bytes(40)[:-100]), "expected 31376 for 40 images"),
    "data: IDX wrong magic": (prepare_case("train-labels-idx1-ubyte", label_bytes([1] * 40, magic=0x0803)), "wrong magic number"),
    "data: IDX wrong dimensions": (prepare_case("t10k-images-idx3-ubyte", image_bytes(20, rows=32, columns=32)), "images are 32x32"),
    "data: labels out of range": (prepare_case("train-labels-idx1-ubyte", label_bytes([12] * 40)), "label 12 out of range; allowed 0..9"),
    "data: count mismatch": (prepare_case("t10k-labels-idx1-ubyte", label_bytes([1] * 19)), "19 labels for 20 images"),
    # Intermediate files, between stages.
    "intermediate: prepared split garbage": (intermediate_case(write("data/prepared/train.npz", b"garbage" * 10)), "train.npz: not a prepared split"),
    "intermediate: prepared split empty": (intermediate_case(write("data/prepared/train.npz", b"")), "train.npz: not a prepared split"),
    "intermediate: prepared split without arrays": (intermediate_case(npz_without_arrays), "train.npz: not a prepared split (KeyError"),
    "intermediate: prepared split of the wrong width": (intermediate_case(npz_wrong_width), "features of shape (5, 100)"),
    "intermediate: prepared split missing": (intermediate_case(lambda project: (project / "data/prepared/val.npz").unlink()), "val.npz: not found; run the prepare stage"),
    "intermediate: evaluate before train": (intermediate_case(lambda project: None, evaluate.main, "evaluate_keras@keras_2l-42"), "train.json: not found; run the stage that writes it"),
    "intermediate: model not a model": (intermediate_case(with_trained_files(b"not a zip"), evaluate.main, "evaluate_keras@keras_2l-42"), "keras_2l.keras: not a usable Keras model"),
    "intermediate: train.json garbage": (intermediate_case(with_trained_files(b"", "{oops"), evaluate.main, "evaluate_keras@keras_2l-42"), "train.json: not valid JSON"),
    # Tracking store.
    "store: random bytes": (store_case(bytes(range(256)) * 20), "not a usable MLflow SQLite store"),
    "store: a text file": (store_case(b"these are my notes\n" * 100), "not a usable MLflow SQLite store"),
    "store: unknown scheme": (store_case(uri="ftp://127.0.0.1/store"), "unknown kind of store; allowed: a URI starting with sqlite:///"),
    "store: nothing listening": (store_case(uri="http://127.0.0.1:9"), "no MLflow server answered"),
    # Names: every name of params.yaml must match [a-z0-9_]+ before it is used anywhere.
    "names: experiment with a shell command": (params_case("experiments.keras.x;touch owned", {}), "'x;touch owned'; allowed: a name matching [a-z0-9_]+"),
    "names: optimizer run with a substitution": (params_case("optimizers.runs.$(touch owned)", {"rule": "sgd"}), "allowed: a name matching [a-z0-9_]+"),
    "names: stage address with a shell command": (params_case("seeds", [42], address="train_keras@x;touch owned-42"), "name 'x;touch owned' is not allowed"),
}


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_bad_input_is_refused_in_one_line_with_nothing_left_behind(case, tmp_path, monkeypatch, capsys, project_params):
    setup, message = CATALOGUE[case]
    params = copy.deepcopy(project_params)
    main, arguments, outputs, *uri = setup(tmp_path, params)
    text = tmp_path / "params.yaml.text"
    (tmp_path / "params.yaml").write_text(text.read_text() if text.exists() else yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    store_before = (tmp_path / "mlflow.db").read_bytes() if (tmp_path / "mlflow.db").exists() else None
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    if uri and uri[0]:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri[0])
    else:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "argv", ["stage", *arguments])
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main)
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and message in error_lines[0], error_lines
    for output in outputs:
        left = tmp_path / output
        assert not left.exists() or (left.is_dir() and not any(left.rglob("*.keras"))), f"{output} left behind"
    assert not list(tmp_path.rglob(".*.*")), "a temporary file was left behind"
    assert not (tmp_path / "owned").exists()
    if store_before is not None:
        assert (tmp_path / "mlflow.db").read_bytes() == store_before, "the store was changed"


def test_a_stage_prints_the_error_without_a_traceback(tmp_path, project_params):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**project_params, "seeds": [-1]}, sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "fashion_pipeline.stages.train", "--stage", KERAS_STAGE],
                            cwd=tmp_path, capture_output=True, text=True, env=pipeline_env(ROOT))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: params.yaml: 'seeds[0]' is -1")
    assert "Traceback" not in result.stderr


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


@pytest.mark.parametrize(("handler", "message"), [
    (NotMlflow, "answer to MLflow's REST API is not MLflow's"),
    (LockedMlflow, "the server refused the credentials in MLFLOW_TRACKING_USERNAME"),
])
def test_a_foreign_or_locked_server_is_refused(handler, message, tmp_path, monkeypatch, capsys, project_params):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "student")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
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


@pytest.fixture
def small_mount(tmp_path):
    """A tmpfs of `size` mounted at a folder; unmounted afterwards."""
    mounted = []

    def mount(folder, size="16k", full=False):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        if full:
            # Filled to the last byte.
            with open(folder / ".filler", "wb", buffering=0) as filler:
                try:
                    while True:
                        filler.write(b"\0" * 1024)
                except OSError:
                    pass
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


@pytest.mark.parametrize("full", ["models/seed_42", "results/seed_42/keras_softmax", "mlartifacts"])
def test_a_full_disk_ends_in_one_line_with_nothing_finished_left(full, tmp_path, monkeypatch, capsys, project_params,
                                                                 small_mount):
    params = small_params(copy.deepcopy(project_params), ["keras_softmax"], epochs=1)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "data" / "prepared").mkdir(parents=True)
    prepared_fake(tmp_path)
    small_mount(tmp_path / full, size="64k", full=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "argv", ["train", "--stage", "train_keras@keras_softmax-42"])
    with pytest.raises(SystemExit) as exit_info:
        cli.run(train.main)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "no space left on the device" in error and "Traceback" not in error, error
    assert not (tmp_path / "results" / "seed_42" / "keras_softmax" / "run.json").exists()
    assert not [path for path in tmp_path.rglob(".*.*") if path.name != ".filler"], "a temporary file was left behind"


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
    process = subprocess.Popen([sys.executable, "-c", stalled], cwd=project, env=pipeline_env(ROOT),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith("download: train-images"):
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    assert "error: interrupted" in output and "Traceback" not in output
    assert sorted(path.name for path in (project / "data").iterdir()) == [], "a temporary folder was left"


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


def test_the_mlflow_ui_binds_the_loopback_interface_unless_told_otherwise():
    default = subprocess.run(["make", "-n", "ui"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "--host 127.0.0.1" in default
    shared = subprocess.run(["make", "-n", "ui", "UI_HOST=0.0.0.0"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "--host 0.0.0.0" in shared


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
    from fashion_pipeline.params import ParamsError, validate_params
    from fashion_pipeline.stages.download import obtain

    params = copy.deepcopy(project_params)
    params["data"]["sources"] = ["http://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion"]
    with pytest.raises(ParamsError, match="an https:// URL"):
        validate_params(params)
    dataset = fake_dataset()
    source = write_source(tmp_path / "source", dataset)
    with pytest.raises(Exception, match="SHA-256 mismatch"):
        obtain("train-labels-idx1-ubyte", [str(source)], "0" * 64, 2)
