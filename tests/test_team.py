"""Team mode on real services: the MLflow server on PostgreSQL with basic authentication, and a
DVC folder remote that gives a teammate every model and data file."""

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import copy_project, free_port, pipeline_env, run, small_params

from fashion_pipeline.tools import server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team_server():
    # Under /tmp itself: pytest's own folders are closed to the postgres user.
    home = Path(tempfile.mkdtemp(prefix="fashion-team-server-"))
    home.chmod(0o755)
    ports = {"port": free_port(), "database_port": free_port()}
    try:
        address = server.start(home, "127.0.0.1", **ports)
        yield home, address, ports
    finally:
        server.stop(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_params, real_data):
    params = small_params(copy.deepcopy(project_params), ["keras_softmax"], epochs=2, limit_train=300, limit_test=100)
    return copy_project(tmp_path_factory.mktemp("team"), params)


def member_env(project, address, user="admin", password=None):
    env = pipeline_env(project)
    env.update(MLFLOW_TRACKING_URI=address, MLFLOW_TRACKING_USERNAME=user)
    if password is not None:
        env["MLFLOW_TRACKING_PASSWORD"] = password
    return env


def test_secrets_are_made_once_and_readable_by_their_owner_only(team_server):
    home, _, _ = team_server
    for name in ("admin_password", "database_password", "basic_auth.ini", "flask_secret"):
        assert (home / name).stat().st_mode & 0o777 == 0o600, name
    assert len((home / "admin_password").read_text()) >= 24
    assert not (home / "postgres_pwfile").exists()


def test_stages_record_into_the_server_and_runs_read_back(team_server, project):
    home, address, _ = team_server
    password = (home / "admin_password").read_text()
    result = subprocess.run(["dvc", "repro"], cwd=project, env=member_env(project, address, password=password),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    record = json.loads((project / "results" / "seed_42" / "keras_softmax" / "run.json").read_text())
    assert record["tracking_uri"] == address
    os.environ.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=password)
    try:
        client = mlflow.MlflowClient(address)
        run_data = client.get_run(record["mlflow_run_id"])
        assert run_data.data.params["epochs"] == "2" and "params.json" in {
            artifact.path for artifact in client.list_artifacts(run_data.info.run_id)}
        assert [point.step for point in client.get_metric_history(run_data.info.run_id, "val_loss")] == [1, 2]
        assert 0 < run_data.data.metrics["test_accuracy"] <= 1
        artifacts = {artifact.path for artifact in client.list_artifacts(run_data.info.run_id)}
        assert {"history.csv", "per_class.csv"} <= artifacts
        downloaded = client.download_artifacts(run_data.info.run_id, "history.csv", str(project / "download"))
        assert open(downloaded).read() == (project / "results" / "seed_42" / "keras_softmax" / "history.csv").read_text()
        # The artifacts live in the server's own folder, not the member's.
        assert list((home / "artifacts").rglob("history.csv"))
    finally:
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(key, None)


def test_the_champion_is_registered_on_the_server_and_served_from_it_with_the_members_credentials(team_server,
                                                                                                   project):
    """`dvc repro` above ran `register` into the server's registry; `make serve` serves it from
    there for a member with a password, and refuses one without, in one line."""
    home, address, _ = team_server
    password = (home / "admin_password").read_text()
    port = free_port()
    served = subprocess.Popen([sys.executable, "-m", "fashion_pipeline.tools.serve", "--port", str(port)], cwd=project,
                              env=member_env(project, address, password=password), stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert served.poll() is None and time.monotonic() < deadline
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        with np.load(project / "data" / "prepared" / "test.npz") as arrays:
            image = np.rint(arrays["features"][:1] * 255.0).reshape(1, 28, 28)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", headers={"Content-Type": "application/json"},
                                         data=json.dumps({"inputs": image.tolist()}).encode())
        with urllib.request.urlopen(request, timeout=60) as answer:
            said = json.loads(answer.read())["predictions"][0]["class_name"]
        assert said == pd.read_csv(project / "champion" / "predictions.csv")["predicted"][0]
    finally:
        served.terminate()
        served.wait(timeout=30)
    # The version lives in the server's registry (PostgreSQL), its files in the server's folder.
    assert list((home / "artifacts").rglob("python_model.pkl"))
    refused = subprocess.run([sys.executable, "-m", "fashion_pipeline.tools.serve", "--port", str(free_port())],
                             cwd=project, env=member_env(project, address), capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"error: MLFLOW_TRACKING_URI {address}: the server refused the credentials in MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD (HTTP 401)"]


@pytest.mark.parametrize("credentials", [None, ("admin", "wrong"), ("nobody", "x")])
def test_writes_without_the_right_password_are_refused(team_server, credentials):
    _, address, _ = team_server
    request = urllib.request.Request(f"{address}/api/2.0/mlflow/experiments/create", method="POST",
                                     data=json.dumps({"name": "intruder"}).encode(),
                                     headers={"Content-Type": "application/json"})
    if credentials:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code in (401, 403)


@pytest.mark.parametrize(("user", "password", "said"), [
    ("admin", "wrong", "the server refused the credentials in"),
    (None, None, "the server needs credentials: set"),
])
def test_a_wrong_or_missing_password_stops_a_stage_in_one_line_before_training(team_server, project, user, password, said):
    _, address, _ = team_server
    env = member_env(project, address, password=password)
    if user is None:
        env.pop("MLFLOW_TRACKING_USERNAME")
    result = subprocess.run([sys.executable, "-m", "fashion_pipeline.stages.train", "--stage", "train_keras@keras_softmax-42"],
                            cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: MLFLOW_TRACKING_URI {address}: {said} MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (HTTP 401)"]


def test_runs_survive_a_restart(team_server, project):
    home, address, ports = team_server
    server.stop(home)
    assert server.start(home, "127.0.0.1", **ports) == address
    os.environ.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=(home / "admin_password").read_text())
    try:
        client = mlflow.MlflowClient(address)
        runs = client.search_runs([client.get_experiment_by_name("fashion-mnist-mlp").experiment_id])
        assert "keras_softmax-seed42" in {run.info.run_name for run in runs}
    finally:
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(key, None)


def test_a_teammate_pulls_every_model_and_has_nothing_to_run(team_server, project, tmp_path):
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "shared", str(remote)], project)
    run(["dvc", "push"], project)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "results"], project)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    assert (clone / "models" / "seed_42" / "keras_softmax.keras").is_file()
    assert (clone / "data" / "prepared" / "train.npz").is_file()
    assert json.loads(run(["dvc", "status", "--json"], clone).stdout) == {}
    again = run(["dvc", "repro"], clone)
    assert "Running stage" not in again.stdout


# Both kinds, two seeds: eight stages at once, as eight Dask workers would run them.
LOAD = ["lowlevel_softmax", "lowlevel_net_a", "keras_softmax", "keras_2l"]


def server_errors(lines):
    """The requests the server answered with an HTTP 5xx, from its access log lines."""
    return [line for line in lines if re.search(r'HTTP/1\.1" 5\d\d', line)]


def test_eight_stages_at_once_record_every_epoch_once_and_ride_out_a_restart(team_server, tmp_path, project_params,
                                                                              real_data):
    home, address, ports = team_server
    password = (home / "admin_password").read_text()
    params = small_params(copy.deepcopy(project_params), LOAD, epochs=4, limit_train=300, limit_test=100, seeds=(42, 43))
    project = copy_project(tmp_path / "load", params)
    run(["dvc", "repro", "prepare"], project)
    addresses = [f"train_{name.split('_')[0]}@{name}-{seed}" for seed in (42, 43) for name in LOAD]
    log = home / "mlflow.log"
    earlier = len(log.read_text().splitlines())
    started = time.time() * 1000
    stages = [subprocess.Popen([sys.executable, "-m", "fashion_pipeline.stages.train", "--stage", stage_address],
                               cwd=project, env=member_env(project, address, password=password),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for stage_address in addresses]
    os.environ.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=password)
    try:
        client = mlflow.MlflowClient(address)

        def runs_started():
            experiment = client.get_experiment_by_name("fashion-mnist-mlp")
            return client.search_runs([experiment.experiment_id], f"attributes.start_time >= {int(started)}") \
                if experiment else []

        # Once every stage records (its run open, its epochs on the way), the server restarts.
        deadline = time.monotonic() + 600
        while len(runs_started()) < 8:
            assert time.monotonic() < deadline and all(stage.poll() is None for stage in stages), \
                [stage.communicate()[0] for stage in stages if stage.poll() is not None]
            time.sleep(0.5)
        before_restart = log.read_text().splitlines()[earlier:]
        server.stop(home)
        assert server.start(home, "127.0.0.1", **ports) == address
        after_restart = len(log.read_text().splitlines())
        outputs = [stage.communicate(timeout=900)[0] for stage in stages]
        assert [stage.returncode for stage in stages] == [0] * 8, outputs
        for stage_address in addresses:
            name, seed = stage_address.split("@")[1].rsplit("-", 1)
            record = json.loads((project / "results" / f"seed_{seed}" / name / "run.json").read_text())
            finished = client.get_run(record["mlflow_run_id"])
            assert finished.info.status == "FINISHED", stage_address
            # Every epoch of every curve there once, with the history's values.
            history = pd.read_csv(project / "results" / f"seed_{seed}" / name / "history.csv")
            for column in ("train_loss", "val_loss", "val_accuracy"):
                points = sorted((point.step, point.value)
                                for point in client.get_metric_history(finished.info.run_id, column))
                assert [step for step, _ in points] == list(range(1, 5)), (stage_address, column)
                assert [value for _, value in points] == pytest.approx(list(history[column])), (stage_address, column)
            artifacts = {artifact.path for artifact in client.list_artifacts(finished.info.run_id)}
            assert {"params.json", "history.csv"} <= artifacts, (stage_address, artifacts)
            models = client.search_logged_models([finished.info.experiment_id],
                                                 filter_string=f"source_run_id = '{finished.info.run_id}'")
            assert len(models) == 1 and "MLmodel" in {
                artifact.path for artifact in client.list_logged_model_artifacts(models[0].model_id)}, stage_address
    finally:
        for stage in stages:
            if stage.poll() is None:
                stage.kill()
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(key, None)
    # No request failed on the server under the load, before the restart or after it; its log
    # holds every request (each stage's run made, before the restart).
    assert sum('POST /api/2.0/mlflow/runs/create HTTP/1.1" 200' in line for line in before_restart) == 8
    assert server_errors(before_restart) == [] and server_errors(log.read_text().splitlines()[after_restart:]) == []
