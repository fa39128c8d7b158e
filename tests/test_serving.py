"""The champion as a product, on the shared end-to-end project: `register` put it in the project's
MLflow registry; MLflow's scoring server (`make serve`) answers what `register` wrote for the test
images, refuses bad requests with HTTP 400 and goes on serving; `make predict` classifies PNG and
IDX files; and each thing that stops them says so in one line."""

import gzip
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import free_port, pipeline_env, run
from mlflow.tracking import MlflowClient
from PIL import Image

from fashion_pipeline.data import CLASS_NAMES
from fashion_pipeline.tracking import mlflow_runs, registry

pytestmark = pytest.mark.slow
NAME = "fashion-mnist-mlp"


def pixels_of(project):
    """The project's test images as a user has them: (n, 28, 28) pixels 0-255."""
    with np.load(project / "data" / "prepared" / "test.npz") as arrays:
        return np.rint(arrays["features"] * 255.0).reshape(-1, 28, 28).astype(np.uint8)


def post(address, body, content_type="application/json"):
    """(HTTP status, the answer's JSON) of one request to the scoring server."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{address}/invocations", data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def served(pipeline):
    """`make serve`'s code on a free port of the loopback, serving the project's champion."""
    project, _ = pipeline
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "fashion_pipeline.tools.serve", "--port", str(port)], cwd=project,
                              env=pipeline_env(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        assert server.poll() is None and time.monotonic() < deadline, server.stdout.read() if server.poll() else "slow"
        try:
            urllib.request.urlopen(f"{address}/ping", timeout=5)
            break
        except OSError:
            time.sleep(0.5)
    yield project, address
    server.terminate()
    server.wait(timeout=30)


def test_register_picks_on_the_held_out_split_and_registers_once(pipeline):
    project, first = pipeline
    summary = json.loads((project / "champion" / "champion.json").read_text())
    # The pick is the candidate of lowest mean held-out loss; its seeds' held-out losses are those
    # its training measured (float32 sums against float64: 1e-5).
    held_out = {name: np.mean([json.loads((project / "results" / f"seed_{seed}" / "holdout" / name / "metrics.json")
                                          .read_text())["held_out_loss"] for seed in (42, 43)])
                for name in ("keras_softmax", "keras_4l_drop_taper")}
    assert summary["experiment"] == min(held_out, key=held_out.get)
    for seed in (42, 43):
        recorded = json.loads((project / "results" / f"seed_{seed}" / "holdout" / summary["experiment"] /
                               "metrics.json").read_text())["held_out_loss"]
        assert summary["held_out_losses"][f"seed {seed}"] == pytest.approx(recorded, abs=1e-5)
    losses = summary["held_out_losses"]
    best_single = min(losses[f"seed {seed}"] for seed in (42, 43))
    assert summary["seeds"] == ([42, 43] if losses["ensemble"] < best_single else
                                [min((42, 43), key=lambda seed: losses[f"seed {seed}"])])
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    version = client.get_model_version_by_alias(NAME, registry.ALIAS)
    assert version.tags["experiment"] == summary["experiment"] and json.loads(version.tags["seeds"]) == summary["seeds"]
    assert {"git_commit", "model_md5", "data_sha256", "params", "held_out_loss", "held_out_accuracy", "test_loss",
            "test_accuracy", "registered_on_cpu"} <= set(version.tags)
    # The members trained in this store, on this machine.
    assert version.tags["trained_on_cpu"] == mlflow_runs.cpu_name()
    accuracy = json.loads(version.tags["test_accuracy"])
    assert accuracy["low"] < accuracy["mean"] == summary["test"]["test_accuracy"]["mean"] < accuracy["high"]
    card = version.description
    assert "Picked on the held-out split" in card and "confused most" in card
    # Every class's accuracy, as per_class.csv holds it.
    per_class = pd.read_csv(project / "champion" / "per_class.csv")
    assert all(f"{row['class']} {row['accuracy']:.3f}" in card for _, row in per_class.iterrows())
    # The same champion again: no new version.
    run(["dvc", "repro", "--single-item", "--force", "register"], project)
    assert [found.version for found in client.search_model_versions(f"name = '{NAME}'")] == [version.version]


def test_promoting_another_champion_moves_the_alias_and_keeps_the_old_version(pipeline, tmp_path):
    project, _ = pipeline
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(uri)
    old = client.get_model_version_by_alias(NAME, registry.ALIAS)
    mlflow.set_tracking_uri(uri)
    # Another champion: the same model files, another digest.
    source = client.get_model_version(NAME, old.version).source
    promoted, new = registry.register({"experiment_name": "fashion-mnist-mlp", "connect_timeout_seconds": 5}, NAME,
                                      f"another champion {uuid.uuid4()}", lambda experiment_id: (old.run_id, source), {"note": "test"},
                                      "another")
    try:
        assert new and client.get_model_version_by_alias(NAME, registry.ALIAS).version == promoted != old.version
        assert client.get_model_version(NAME, old.version).description == old.description
    finally:
        client.set_registered_model_alias(NAME, registry.ALIAS, old.version)


def test_the_server_answers_as_register_scored_the_test_images(served):
    project, address = served
    expected = pd.read_csv(project / "champion" / "predictions.csv")
    images = pixels_of(project)[:64]
    status, answer = post(address, {"inputs": images.tolist()})
    assert status == 200
    predictions = answer["predictions"]
    assert [row["class_name"] for row in predictions] == list(expected["predicted"][:64])
    # Float32 matrix products on another thread count than the stage's: 1e-6.
    np.testing.assert_allclose([row["probabilities"] for row in predictions],
                               expected[list(CLASS_NAMES)][:64].to_numpy(), atol=1e-6)
    assert [row["class_index"] for row in predictions] == [CLASS_NAMES.index(name) for name in expected["predicted"][:64]]


@pytest.mark.parametrize(("body", "said"), [
    ({"inputs": np.zeros((1, 28, 27)).tolist()}, "Shape of input (1, 28, 27)"),
    ({"inputs": np.zeros((2, 784)).tolist()}, "Shape of input (2, 784)"),
    ({"inputs": [[["a"] * 28] * 28]}, "could not convert string to float"),
    (b'{"inputs": [' + json.dumps(np.zeros((28, 28)).tolist()).replace("0.0", "NaN", 1).encode() + b"]}",
     "NaN or infinite values: 1 of them"),
    ({"inputs": np.full((1, 28, 28), 256).tolist()}, "pixel values must lie in 0-255; found 256 to 256"),
    ({"inputs": np.full((1, 28, 28), -1).tolist()}, "pixel values must lie in 0-255; found -1 to -1"),
    ({"inputs": []}, "Failed to enforce schema of data '[]'"),
    (b"not json", "valid JSON"),
])
def test_a_bad_request_gets_400_naming_what_was_wrong_and_the_server_goes_on(served, body, said):
    project, address = served
    status, answer = post(address, body)
    assert status == 400 and said in answer["message"], answer
    status, _ = post(address, {"inputs": pixels_of(project)[:1].tolist()})
    assert status == 200


def predict(project, *arguments, env=None):
    return subprocess.run([sys.executable, "-m", "fashion_pipeline.tools.predict", *map(str, arguments)], cwd=project,
                          env=env or pipeline_env(project), capture_output=True, text=True)


def test_predict_classifies_png_and_idx_files_and_names_each_file_it_cannot(pipeline, tmp_path):
    project, _ = pipeline
    images = pixels_of(project)
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(images[index]).save(folder / f"test_{index}.png")
    Image.fromarray(images[0]).resize((32, 32)).save(folder / "large.png")
    Image.fromarray(images[0]).convert("RGB").save(folder / "colour.png")
    (folder / "text.png").write_text("not an image")
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    idx = tmp_path / "some-images-idx3-ubyte.gz"
    idx.write_bytes(gzip.compress(np.array([0x803, 5, 28, 28], ">u4").tobytes() + images[:5].tobytes()))
    result = predict(project, "--out", tmp_path / "out.csv", folder, idx)
    assert result.returncode == 1, result.stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith("predict: ") and "could not" not in line]
    assert sorted(failures) == sorted([
        f"predict: {folder / 'colour.png'}: mode RGB; expected 8-bit grayscale (L), 28x28",
        f"predict: {folder / 'gone.png'}: cannot be read (No such file or directory)",
        f"predict: {folder / 'large.png'}: 32x32 pixels; expected 28x28",
        f"predict: {folder / 'text.png'}: not an image (no PNG could be read from it)"]), result.stderr
    table = pd.read_csv(tmp_path / "out.csv")
    expected = pd.read_csv(project / "champion" / "predictions.csv")
    assert list(table["file"]) == [str(folder / f"test_{index}.png") for index in range(3)] + \
        [f"{idx}#{index}" for index in range(5)]
    assert list(table["class_name"]) == list(expected["predicted"][:3]) + list(expected["predicted"][:5])
    np.testing.assert_allclose(table[list(CLASS_NAMES)].to_numpy()[3:], expected[list(CLASS_NAMES)][:5].to_numpy(),
                               atol=1e-6)


def test_no_champion_an_unreachable_store_or_a_taken_port_end_in_one_line(pipeline, tmp_path):
    project, _ = pipeline
    env = {**pipeline_env(project), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'empty.db'}"}
    png = tmp_path / "one.png"
    Image.fromarray(pixels_of(project)[0]).save(png)
    result = predict(project, png, env=env)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        f"error: models:/{NAME}@champion: no champion is registered in this store; `make register` makes one")
    down = f"http://127.0.0.1:{free_port()}"
    for command in (["tools.predict", png], ["tools.serve", "--port", free_port()]):
        result = subprocess.run([sys.executable, "-m", f"fashion_pipeline.{command[0]}", *map(str, command[1:])],
                                cwd=project, env={**pipeline_env(project), "MLFLOW_TRACKING_URI": down},
                                capture_output=True, text=True, timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: MLFLOW_TRACKING_URI {down}: no MLflow server answered within 5 s")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "fashion_pipeline.tools.serve", "--port", str(port)],
                                cwd=project, env=pipeline_env(project), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is taken (Address already in use); stop what uses it, or choose another: "
        "make serve SERVE_PORT=<port>"]
