"""Screenshots for the README, taken as a person would see the pages (`make screenshots`): the
MLflow runs view and the 4-layer dropout study's view as `make ui` prints them, MLflow's compare
view of that study, and DVC's plots page, each in headless Chromium with a fresh profile. Writes
reports/screenshots/*.png."""

import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from mlflow.tracking import MlflowClient

from fashion_pipeline import cli, params
from fashion_pipeline.tools import ui
from fashion_pipeline.tools.ports import free_port
from fashion_pipeline.tracking import mlflow_runs, views

OUT = Path("reports/screenshots")


def shoot(url, path, width=1400, height=900):
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                        f"--window-size={width},{height}", "--virtual-time-budget=20000", "--hide-scrollbars",
                        f"--screenshot={path}", url], check=True, capture_output=True, timeout=180)
    print(f"screenshots: {path}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    project = params.load_params()
    settings = project["mlflow"]
    uri = mlflow_runs.tracking_uri()
    port = free_port()
    server = subprocess.Popen(ui.server_command("127.0.0.1", port, 1), env=ui.server_env(uri),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}"
    try:
        for _ in range(90):
            try:
                urllib.request.urlopen(f"{address}/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name(settings["experiment_name"])
        views.save_views(client, experiment.experiment_id, project)
        shoot(views.view_address(address, experiment.experiment_id, "runs"), OUT / "mlflow_runs.png")
        shoot(views.view_address(address, experiment.experiment_id, "study-dropout_4l"), OUT / "mlflow_dropout_4l.png")
        study = views.study_runs(client, experiment.experiment_id, "dropout_4l", project["seeds"][0])
        shoot(views.compare_address(address, experiment.experiment_id, study), OUT / "mlflow_compare_dropout_4l.png",
              height=1300)
    finally:
        server.terminate()
    subprocess.run(["dvc", "plots", "show", "--out", "dvc_plots"], check=False, capture_output=True)
    shoot((Path("dvc_plots") / "index.html").resolve().as_uri(), OUT / "dvc_plots.png", height=1300)


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
