"""Reliability: bad inputs refused before any work with nothing left behind, the same numbers
from the same params, a tracking store that fails fast, and experiments queued side by side."""

import copy
import gzip
import json
import signal
import sqlite3
import subprocess
import sys
import time

import mlflow
import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_project, data_params, fake_dataset, image_bytes, label_bytes, pipeline_env, run, shrink, write_source

from fashion_pipeline import cli, compare_optimizers, download, prepare, train

pytestmark = pytest.mark.reliability


def set_key(params, path, value):
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[last] = value


def download_case(damage):
    """A download stage whose only source holds the fake dataset with one file damaged."""
    def setup(project, params):
        files = fake_dataset()
        source = write_source(project / "source", files)
        damage(source / "train-labels-idx1-ubyte.gz")
        params["data"] = {**params["data"], **data_params([source], files)}
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
        return prepare.main, ["raw", "prepared"], ["prepared"]
    return setup


def params_case(path, value, stage=train.main, name="keras_2l"):
    """A train stage (or another) run with one value of params.yaml changed."""
    def setup(project, params):
        set_key(params, path, value)
        arguments = [name, "--model", "models/model.keras", "--results", "results/run"]
        if stage is compare_optimizers.main:
            arguments = [name, "--results", "results/run"]
        return stage, arguments, ["models", "results", "mlflow.db"]
    return setup


CATALOGUE = {
    "data file missing": (download_case(lambda path: path.unlink()), "does not exist"),
    "data file truncated": (download_case(lambda path: path.write_bytes(path.read_bytes()[:30])), "truncated or corrupt gzip"),
    "data file not gzip": (download_case(lambda path: path.write_bytes(b"plain bytes")), "not gzip"),
    "data file hash mismatch": (download_case(lambda path: path.write_bytes(gzip.compress(b"x"))), "SHA-256 mismatch"),
    "raw file missing": (prepare_case("t10k-labels-idx1-ubyte", None), "t10k-labels-idx1-ubyte: not found"),
    "IDX truncated": (prepare_case("train-images-idx3-ubyte", image_bytes(40)[:-100]), "expected 31376 for 40 images"),
    "IDX wrong magic": (prepare_case("train-labels-idx1-ubyte", label_bytes([1] * 40, magic=0x0803)), "wrong magic number"),
    "IDX wrong dimensions": (prepare_case("t10k-images-idx3-ubyte", image_bytes(20, rows=32, columns=32)), "images are 32x32"),
    "labels out of range": (prepare_case("train-labels-idx1-ubyte", label_bytes([12] * 40)), "label 12 out of range; allowed 0..9"),
    "count mismatch": (prepare_case("t10k-labels-idx1-ubyte", label_bytes([1] * 19)), "19 labels for 20 images"),
    "params unknown key": (params_case("training.speed", "fast"), "'training.speed' is 'fast'; allowed: known keys"),
    "params wrong type": (params_case("experiments.keras_2l.epochs", "30"), "'experiments.keras_2l.epochs' is '30'"),
    "params zero epochs": (params_case("experiments.keras_2l.epochs", 0), "is 0; allowed: an integer >= 1"),
    "params negative epochs": (params_case("experiments.keras_2l.epochs", -5), "is -5; allowed: an integer >= 1"),
    "dropout rate 1": (params_case("experiments.keras_2l.dropout", 1.0), "'experiments.keras_2l.dropout' is 1.0; allowed: a number in [0.0, 1.0)"),
    "dropout list length": (params_case("experiments.keras_4l.dropout", [0.1, 0.1], name="keras_4l"), "a list of 3 rates"),
    "unknown activation": (params_case("experiments.keras_2l.activation", "swish"), "'swish'; allowed: one of relu"),
    "unknown regularizer": (params_case("experiments.lowlevel_net_b_l1.regularizer", "l3"), "'l3'; allowed: one of none, l1, l2"),
    "unknown optimizer": (params_case("experiments.keras_2l.optimizer", "lion"), "'lion'; allowed: one of adam"),
    "unknown optimizer rule": (params_case("optimizers.runs.sgd.rule", "nadam", compare_optimizers.main, "sgd"), "'nadam'; allowed: one of sgd"),
    "bad experiment name": (params_case("experiments.Keras-2L", {"kind": "keras"}), "'Keras-2L'; allowed: a name matching"),
    "unknown experiment on the command line": (params_case("seed", 42, name="keras_9l"), "'keras_9l'; allowed: one of lowlevel_softmax"),
    "unknown optimizer run on the command line": (params_case("seed", 42, compare_optimizers.main, "nadam"), "'nadam'; allowed: one of sgd"),
}


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_bad_input_is_refused_in_one_line_with_nothing_left_behind(case, tmp_path, monkeypatch, capsys, project_params):
    setup, message = CATALOGUE[case]
    params = copy.deepcopy(project_params)
    main, arguments, outputs = setup(tmp_path, params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "argv", ["stage", *arguments])
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main)
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and message in error_lines[0], error_lines
    for output in outputs:
        left = tmp_path / output
        assert not left.exists() or (left.is_dir() and not any(left.iterdir())), f"{output} left behind"
    assert not list(tmp_path.glob(".*.*")), "a temporary file was left behind"


def test_a_stage_prints_the_error_without_a_traceback(tmp_path, project_params):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**project_params, "seed": -1}, sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "fashion_pipeline.train", "keras_2l", "--model", "m.keras",
                             "--results", "r"], cwd=tmp_path, capture_output=True, text=True, env=pipeline_env(ROOT))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: params.yaml: 'seed' is -1")
    assert "Traceback" not in result.stderr


def test_an_unreachable_tracking_server_fails_within_seconds_naming_it(tmp_path, monkeypatch, capsys, project_params):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    # Port 9 (discard) on the loopback interface: nothing listens there.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setattr(sys, "argv", ["train", "keras_softmax", "--model", "m.keras", "--results", "r"])
    started = time.monotonic()
    with pytest.raises(SystemExit):
        cli.run(train.main)
    assert time.monotonic() - started < 60  # a hang would take MLflow's retries: many minutes
    error = capsys.readouterr().err
    assert "error: MLFLOW_TRACKING_URI http://127.0.0.1:9: no MLflow server answered" in error
    assert not (tmp_path / "r").exists()


# Part A, and Keras's compiled epochs with dropout.
RESUMED_EXPERIMENTS = ["lowlevel_net_b", "keras_4l_drop_taper"]


@pytest.fixture(scope="module")
def prepared_project(tmp_path_factory, project_params, real_data):
    """A project copy with two experiments, 8 epochs, resume on, and its data prepared."""
    params = shrink(copy.deepcopy(project_params), RESUMED_EXPERIMENTS, epochs=8, limit_train=1000, limit_test=300)
    params["training"].update(resume=True, progress_every_epochs=2)
    project = copy_project(tmp_path_factory.mktemp("reliability"), params)
    run(["dvc", "repro", "prepare"], project)
    return project


def train_command(name, label):
    return ["python", "-m", "fashion_pipeline.train", name, "--model", f"models/{label}.keras",
            "--results", f"results/{label}", "--checkpoints", f"checkpoints/{label}"]


def interrupt_after(project, command, line_start):
    """Start a training process, send SIGTERM once it prints a line starting `line_start`."""
    process = subprocess.Popen(command, cwd=project, env=pipeline_env(project), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith(line_start):
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=300)[0]
    assert process.returncode != 0, output


@pytest.mark.parametrize("name", RESUMED_EXPERIMENTS)
def test_an_interrupted_run_resumes_from_its_checkpoint_and_equals_an_uninterrupted_one(prepared_project, name):
    """Three processes: one stopped after epoch 4, one resuming it, one running straight
    through. The straight run's first epochs equal the stopped one's (the same params give the
    same numbers), and its last equal the resumed one's (resuming changes nothing)."""
    label = f"resumed_{name}"
    interrupt_after(prepared_project, train_command(name, label), f"train@{name}: epoch 4/8")
    checkpoint = prepared_project / "checkpoints" / label
    assert (checkpoint / "state" / "history.csv").is_file()
    assert not (prepared_project / "results" / label / "train.json").exists()

    resumed = run(train_command(name, label), prepared_project).stdout
    assert f"train@{name}: resuming after epoch" in resumed
    history = pd.read_csv(prepared_project / "results" / label / "history.csv")
    assert list(history["epoch"]) == list(range(1, 9))
    assert not checkpoint.exists(), "the checkpoint outlived its finished stage"
    mlflow.set_tracking_uri(f"sqlite:///{prepared_project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"], filter_string=f"tags.dvc_stage = 'train@{name}'")
    finished = runs[runs["status"] == "FINISHED"].sort_values("start_time").iloc[-1]
    assert int(finished["tags.resumed_after_epoch"]) >= 2
    steps = [point.step for point in mlflow.MlflowClient().get_metric_history(finished["run_id"], "val_loss")]
    assert steps == list(range(1, 9))
    # The checkpoint holds every variable, and each epoch's batch order and dropout masks follow
    # from the seed, the epoch and that state: the resumed run equals an uninterrupted one.
    run(train_command(name, f"straight_{name}"), prepared_project)
    straight = pd.read_csv(prepared_project / "results" / f"straight_{name}" / "history.csv")
    pd.testing.assert_frame_equal(history, straight, check_exact=True)


@pytest.mark.slow
def test_queued_experiments_run_two_at_a_time_into_one_store(tmp_path, project_params, real_data):
    """`dvc exp run --queue` twice, `dvc queue start -j 2`: two finished runs, made side by side,
    each with its metrics, in the project's one SQLite store."""
    params = shrink(copy.deepcopy(project_params), ["lowlevel_softmax", "keras_softmax"], epochs=1,
                    limit_train=300, limit_test=100)
    project = copy_project(tmp_path / "project", params)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "project"], project)
    # Each experiment runs only what its test metrics need, not the whole DAG.
    for epochs in (1, 2):
        run(["dvc", "exp", "run", "--queue", "-S", f"experiments.keras_softmax.epochs={epochs}",
             "evaluate@keras_softmax"], project)
    run(["dvc", "queue", "start", "-j", "2"], project)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], project).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    assert "Failed" not in status and "Success" in status, status
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"], filter_string="tags.dvc_stage = 'train@keras_softmax'")
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
    import numpy as np

    from fashion_pipeline.data import load_split

    np.savez(tmp_path / "train.npz", features=np.array([{"code": "run me"}], dtype=object), labels=np.zeros(1))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        load_split(tmp_path, "train")


def test_a_model_that_would_run_code_on_loading_is_refused(tmp_path):
    import keras

    from fashion_pipeline.keras_models import load_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(tmp_path / "lambda.keras")


def test_downloads_accept_only_https_sources_and_verified_bytes(tmp_path, project_params):
    from fashion_pipeline.download import obtain
    from fashion_pipeline.params import ParamsError, validate_params

    params = copy.deepcopy(project_params)
    params["data"]["sources"] = ["http://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion"]
    with pytest.raises(ParamsError, match="an https:// URL"):
        validate_params(params)
    files = fake_dataset()
    source = write_source(tmp_path / "source", files)
    with pytest.raises(Exception, match="SHA-256 mismatch"):
        obtain("train-labels-idx1-ubyte", [str(source)], "0" * 64, 2)
