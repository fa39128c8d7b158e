"""The committed grid browsable in MLflow without training: imported into a store that never saw
it trained, each run with the params its study shares, its curves, metrics and tags; and the
runs table's views that `make ui` prints, opened in a fresh browser; `make ui` itself, quiet and
light."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import browser
import pandas as pd
from conftest import ROOT, free_port
from mlflow.tracking import MlflowClient

from fashion_pipeline import runs
from fashion_pipeline.params import load_params
from fashion_pipeline.tools import ui
from fashion_pipeline.tracking import imported, views

SEED = "seed_44"


def test_the_committed_results_import_once_with_shared_params_and_curves(tmp_path, monkeypatch):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / SEED, results / SEED)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = load_params(ROOT / "params.yaml")
    folders = list(imported.result_folders(results, params))
    assert len(folders) >= 20
    said = []
    assert imported.import_results(results, params, "abc123", say=said.append) == len(folders)
    # It says what it does first, then how far it is, to the last run.
    assert said[0].startswith(f"MLflow: importing {len(folders)} committed runs into sqlite:///")
    counts = [int(line.split()[1]) for line in said[1:]]
    assert counts == sorted(counts) and counts[-1] == len(folders) and len(counts) >= len(folders) // 25
    # Idempotent: a second import finds every run there already, and says nothing.
    said.clear()
    assert imported.import_results(results, params, "abc123", say=said.append) == 0 and said == []

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(params["mlflow"]["experiment_name"])
    study = client.search_runs([experiment.experiment_id], filter_string="tags.studies LIKE '%dropout_4l%'")
    assert len(study) >= 4
    for run in study:
        # The runs of one study line up param by param in MLflow's compare view.
        assert {"dropout", "hidden_units", "learning_rate", "epochs", "batch_size", "seed"} <= set(run.data.params)
        assert run.data.tags["imported_from_commit"] == "abc123" and run.info.status == "FINISHED"
        name = run.data.tags["experiment"]
        history = pd.read_csv(results / SEED / name / "history.csv")
        curve = client.get_metric_history(run.info.run_id, "val_loss")
        assert [point.step for point in curve] == list(history["epoch"])
        assert [point.value for point in curve] == list(history["val_loss"])
        assert run.data.tags["mlflow.runName"] == f"{name}-{SEED.replace('_', '')}"

    # Every run the report names (tables/mlflow_runs.csv) is found by that name in the store
    # `make ui` builds, and it is the run of the stage its identity names, for every kind.
    imported_runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id], max_results=1000)}
    identities = {folder_run.mlflow_run_name: folder_run for _, folder_run, _ in folders}
    named = pd.read_csv(ROOT / "reports" / "tables" / "mlflow_runs.csv")["mlflow_run_name"]
    of_seed = [name for name in named if name.endswith(f"-{SEED.replace('_', '')}")]
    assert set(of_seed) == set(identities)
    for name in of_seed:
        assert imported_runs[name].data.tags["dvc_stage"] == identities[name].stage
    assert {identity.kind for identity in identities.values()} == set(runs.KINDS)


# Each header cell of the runs table: its text, and whether it is on screen, its left edge and its
# middle on top (not under MLflow's Assistant panel, not past the table's edge; a long name may be
# cut short in a column of MLflow's width, which no view state sets).
HEADERS_ON_SCREEN = """JSON.stringify([...document.querySelectorAll('.ag-header-cell [data-testid^=sort-header-]')].map(label => {
    const cell = label.closest('.ag-header-cell'), box = cell.getBoundingClientRect(), middle = box.top + box.height / 2;
    const on_top = x => x >= 0 && x < innerWidth && cell.contains(document.elementFromPoint(x, middle));
    return [label.innerText.trim(), box.width > 0 && on_top(box.left + 2) && on_top(box.left + box.width / 2)];
}))"""


def test_each_study_view_opens_on_its_params_beside_the_test_loss_at_1400_px_in_a_fresh_browser(tmp_path, monkeypatch):
    """The address `make ui` prints for each study, in headless Chromium with a fresh profile and
    a 1400 px window, with the Assistant panel MLflow opens on a first visit: the study's runs and
    no other, the params its experiments differ in and the test loss on screen, and the sidebar on
    model training."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / SEED, results / SEED)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    params = load_params(ROOT / "params.yaml")
    imported.import_results(results, params, "abc123")
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name(params["mlflow"]["experiment_name"]).experiment_id
    views.save_views(client, experiment, params)
    port = free_port()
    server = subprocess.Popen(ui.server_command("127.0.0.1", port, 1), env=ui.server_env(store),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}"
    seed = SEED.replace("_", "")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{address}/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        for study in ("dropout_4l", "regularization", "pixel_scale"):
            with browser.opened(views.view_address(address, experiment, f"study-{study}"), 1400, 900) as page:
                expected = set(params["studies"][study]["experiments"])
                page.wait_for(f"document.querySelectorAll('.ag-row').length >= {len(expected)}")
                page.wait_for("document.querySelector('.ag-header-cell') !== null")
                shown = set(re.findall(rf"([a-z0-9_]+)-{seed}", page.evaluate("document.body.innerText")))
                on_screen = {text for text, whole in json.loads(page.evaluate(HEADERS_ON_SCREEN)) if whole}
                sidebar = page.evaluate("document.querySelector('aside').innerText")
            assert shown == expected, study
            assert {*views.study_params(params, study)[:-1], "test_loss"} <= on_screen, (study, on_screen)
            assert "Model registry" in sidebar and "Judges" not in sidebar, sidebar
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_make_ui_starts_mlflows_server_as_mlflow_ui_would(monkeypatch):
    """`make ui` starts MLflow's app under uvicorn itself, a start quicker than `mlflow ui`'s: the
    command and the settings it hands the server are the ones MLflow's own `_run_server` builds for
    `mlflow ui` on the same store (job consumers off), so a new MLflow that changes them fails here."""
    import mlflow.server

    started = []

    class Started:
        def poll(self):
            return 0

        def wait(self):
            return 0

    def exec_command(command, extra_env, **_):
        started.append((command, extra_env))
        return Started()

    monkeypatch.setattr(mlflow.server, "_exec_cmd", exec_command)
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    store = "sqlite:///mlflow.db"
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        mlflow.server._run_server(file_store_path=store, registry_store_uri=store, default_artifact_root="mlflow-artifacts:/",
                                  serve_artifacts=True, artifacts_only=False, artifacts_destination=None,
                                  host="127.0.0.1", port=5000, workers=1)
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    [(command, settings)] = started
    settings.pop("_MLFLOW_SERVER_BOOT_ID")  # one per start, for MLflow's sandboxes, which it does not use here
    ours = ui.server_env(store)
    assert {name: ours.get(name) for name in settings} == settings
    log_config = command.index("--log-config")
    assert command[:log_config] + command[log_config + 2:] == ui.server_command("127.0.0.1", 5000, 1)


def listening_addresses(port):
    """The IPv4 addresses a local socket listens on at `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(int(address[index:index + 2], 16)) for index in (6, 4, 2, 0)))
    return found


def processes_of_session(session):
    """The command lines of the processes in a session."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getsid(int(entry.name)) == session:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_make_ui_serves_on_the_loopback_interface_by_default_quietly_with_one_worker(tmp_path):
    """`make ui` as a user types it, in a project with no runs: the UI answers on 127.0.0.1 and
    listens there alone, not on every interface; one server process and no job consumer; the
    terminal shows the project's lines only (MLflow's go to logs/mlflow_ui.log); a second `make ui`
    on the same port is refused in one line."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Makefile", "requirements.txt", "constraints.txt", "pyproject.toml", "params.yaml"):
        shutil.copy(ROOT / name, project / name)
        os.utime(project / name, (0, 0))  # older than the installed .venv, so `make` reinstalls nothing
    (project / ".venv").symlink_to(ROOT / ".venv")
    (project / "results").mkdir()
    port = free_port()
    terminal = tmp_path / "terminal.txt"
    with open(terminal, "w") as output:
        server = subprocess.Popen(["make", "--no-print-directory", "ui", f"UI_PORT={port}"], cwd=project,
                                  stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not listening_addresses(port) and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)
        assert listening_addresses(port) == {"127.0.0.1"}
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30)
        processes = processes_of_session(server.pid)
        assert not [command for command in processes if "huey" in command], processes
        # make, its shell, tools/ui.py and the one server process (19 with `mlflow ui`'s defaults).
        assert len(processes) <= 4, processes
        again = subprocess.run(["make", "--no-print-directory", "ui", f"UI_PORT={port}"], cwd=project,
                               capture_output=True, text=True)
        assert again.returncode != 0 and again.stderr.splitlines()[0] == (
            f"error: port {port} on 127.0.0.1 is taken (Address already in use); stop what uses it, or choose "
            "another: make ui UI_PORT=<port>"), again.stderr
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)
    said = terminal.read_text().splitlines()
    assert f"MLflow UI: http://127.0.0.1:{port} (1 worker; its own lines in logs/mlflow_ui.log; Ctrl-C stops it)" \
        in said, said
    assert not [line for line in said if any(word in line.lower() for word in ("warning", "info", "uvicorn"))], said
    assert "Started server process" in (project / "logs" / "mlflow_ui.log").read_text()
