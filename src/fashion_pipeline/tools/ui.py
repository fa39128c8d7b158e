"""`make ui`: the MLflow UI on this project's store, quiet and light on two cores.

On a store that never saw the committed grid trained (a fresh clone), its runs are imported first
(tracking/imported.py), saying how far it is; then the runs table's views are saved and their
addresses printed (tracking/views.py). MLflow's server then runs with one worker process and
without its job consumers (they run GenAI jobs, which this project has none of); its own start-up
lines and warnings go to logs/mlflow_ui.log. No TensorFlow is loaded.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from fashion_pipeline import cli
from fashion_pipeline.params import load_params
from fashion_pipeline.tools.ports import check_port
from fashion_pipeline.tracking import imported, mlflow_runs, views

LOG = Path("logs") / "mlflow_ui.log"


def server_command(uri, host, port, workers):
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port),
            "--workers", str(workers)]


def server_env():
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONWARNINGS": "ignore"}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="the server's worker processes")
    arguments = parser.parse_args()
    check_port(arguments.host, arguments.port, "make ui UI_PORT=<port>")
    params = load_params()
    uri = mlflow_runs.tracking_uri()
    imported.import_results("results", params, mlflow_runs.git_commit(), say=lambda line: print(line, flush=True))
    address = f"http://{arguments.host}:{arguments.port}"
    views.show(MlflowClient(uri), params, address)
    LOG.parent.mkdir(exist_ok=True)
    print(f"MLflow UI: {address} ({arguments.workers} worker; its own lines in {LOG}; Ctrl-C stops it)", flush=True)
    with open(LOG, "a") as log:
        server = subprocess.Popen(server_command(uri, arguments.host, arguments.port, arguments.workers),
                                  env=server_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            status = server.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached the server too (one process group); SIGTERM reaches only this process.
            server.terminate()
            server.wait()
            print("MLflow UI: stopped", flush=True)
            return
    if status != 0:
        raise SystemExit(f"error: the MLflow UI ended with status {status}; see {LOG}")


if __name__ == "__main__":
    cli.run(main)
