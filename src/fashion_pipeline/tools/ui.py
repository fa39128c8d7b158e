"""`make ui`: the MLflow UI on this project's store, quiet and light on two cores.

On a store that never saw the committed grid trained (a fresh clone), its runs are imported first
(tracking/imported.py), saying how far it is; then the runs table's views are saved and their
addresses printed (tracking/views.py). MLflow's server then runs with one worker process and
without its job consumers (they run GenAI jobs, which this project has none of); its own start-up
lines and warnings go to logs/mlflow_ui.log. No TensorFlow is loaded.

The server is MLflow's own app under uvicorn, started the way `mlflow ui` starts it but without
`mlflow ui`'s own process: that process imports MLflow and opens the store once more before it
starts uvicorn, which doubled a start (5.6 s against 2.9 s to answer, on the same store).
"""

import argparse
import functools
import os
import subprocess
import sys
from pathlib import Path

from fashion_pipeline import cli
from fashion_pipeline.params import load_params
from fashion_pipeline.tools.ports import check_port
from fashion_pipeline.tracking.store import tracking_uri

LOG = Path("logs") / "mlflow_ui.log"


MLFLOW_APP = "mlflow.server.fastapi_app:app"


def server_command(host, port, workers):
    return [sys.executable, "-m", "uvicorn", "--host", host, "--port", str(port), "--workers", str(workers), MLFLOW_APP]


def server_env(uri):
    """What `mlflow ui --backend-store-uri <uri>` hands its server workers (mlflow/server/__init__.py's
    `_run_server`; tests/test_mlflow_views.py checks the names against MLflow's), with its job
    consumers off and Python's warnings silenced."""
    return {**os.environ, "_MLFLOW_SERVER_FILE_STORE": uri, "_MLFLOW_SERVER_REGISTRY_STORE": uri,
            "_MLFLOW_SERVER_ARTIFACT_ROOT": "mlflow-artifacts:/", "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
            "_MLFLOW_SGI_NAME": "uvicorn", "_MLFLOW_IN_JOB_EXECUTOR": "false", "MLFLOW_ENABLE_WORKSPACES": "false",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONWARNINGS": "ignore"}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="the server's worker processes")
    arguments = parser.parse_args()
    check_port(arguments.host, arguments.port, "make ui UI_PORT=<port>")
    params = load_params()
    uri = tracking_uri()
    address = f"http://{arguments.host}:{arguments.port}"
    LOG.parent.mkdir(exist_ok=True)
    with open(LOG, "a") as log:
        # MLflow's server takes most of a start: on a store made before, it starts first and the
        # import check and the views go on beside it. A new store's schema is made by the import
        # alone, before the server touches it.
        start = functools.partial(subprocess.Popen, server_command(arguments.host, arguments.port, arguments.workers),
                                  env=server_env(uri), stdout=log, stderr=subprocess.STDOUT)
        server = start() if store_exists(uri) else None
        try:
            # MLflow's client takes 1.6 s to import: after the server has started, not before.
            from mlflow.tracking import MlflowClient

            from fashion_pipeline.tracking import imported, mlflow_runs, views
            imported.import_results("results", params, mlflow_runs.git_commit(), say=lambda line: print(line, flush=True))
            views.show(MlflowClient(uri), params, address)
            print(f"MLflow UI: {address} ({arguments.workers} worker; its own lines in {LOG}; Ctrl-C stops it)",
                  flush=True)
            server = server or start()
            status = server.wait()
        except KeyboardInterrupt:
            stop(server)
            print("MLflow UI: stopped", flush=True)
            return
        finally:
            stop(server)
    if status != 0:
        raise SystemExit(f"error: the MLflow UI ended with status {status}; see {LOG}")


def stop(server):
    """Ctrl-C reached the server too (one process group); SIGTERM or an error, only this process."""
    if server is not None and server.poll() is None:
        server.terminate()
        server.wait()


def store_exists(uri):
    """Whether the tracking store is there already: a SQLite file, or any server."""
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).is_file()


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
