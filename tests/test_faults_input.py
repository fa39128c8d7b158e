"""Bad input refused before any work, in one line, with nothing left behind, by family: params,
data files, intermediate files, the tracking store."""

import copy
import gzip
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import ROOT, data_params, fake_dataset, image_bytes, label_bytes, pipeline_env, prepared_fake, write_source

from fashion_pipeline import cli
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
    "params: held-out candidate not a Keras experiment": (params_case("holdout.experiments", ["lowlevel_net_b"], holdout.main, "holdout_keras@keras_2l-42"), "'holdout.experiments[0]' is 'lowlevel_net_b'; allowed: a non-empty list of distinct keras"),
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
