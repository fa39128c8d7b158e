"""`make serve`: MLflow's own scoring server for the registered champion
(`models:/<champion.registered_model>@champion`) on 127.0.0.1, in the project's environment.

Before it starts it checks, each in one line: the tracking store answers (with the member's
credentials on a team server), the port is free, and the champion is registered. When it is not,
the champion is made through the DAG: its held-out models are trained if the DVC cache lacks
them (how long, from the stage times results/ records, is said first), then `register` runs.
`make register` does only that part.
"""

import argparse
import os
import subprocess
import sys

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from fashion_pipeline import cli, runs
from fashion_pipeline.errors import StageError, TrackingError
from fashion_pipeline.params import load_params
from fashion_pipeline.serving import champion
from fashion_pipeline.tools.ports import check_port
from fashion_pipeline.tracking import mlflow_runs, registry

# Two test images as a request body, written by `register`: the README's curl example sends it.
EXAMPLE = "champion/example_request.json"


def champion_version(params):
    """The registered champion's version, or None; a store that refuses the member says so."""
    uri = mlflow_runs.connect(params["mlflow"])
    name = params["champion"]["registered_model"]
    try:
        return MlflowClient(uri).get_model_version_by_alias(name, registry.ALIAS)
    except MlflowException as error:
        if error.get_http_status_code() in (401, 403):
            raise TrackingError(f"tracking store {uri}: refused the registry to this member (HTTP "
                                f"{error.get_http_status_code()}); set MLFLOW_TRACKING_USERNAME and "
                                "MLFLOW_TRACKING_PASSWORD") from None
        return None


def champion_candidates(params):
    """(the held-out run of every seed of the experiment the committed held-out results pick, the
    finished ones by seed); ([], {}) before any held-out run has finished. `register` reads
    their models."""
    experiment, holdout_runs = champion.protocol_pick(params, "results")
    if experiment is None:
        return [], {}
    return [runs.Run("holdout", experiment, seed) for seed in params["seeds"]], holdout_runs[experiment]


def missing_training(params):
    """(the training stages whose champion candidates' models are missing here, their recorded
    minutes); the pick read from the committed held-out results."""
    candidates, finished = champion_candidates(params)
    if not candidates:
        raise StageError("no held-out run has finished, so no champion can be picked: run `make repro` first")
    missing = [run for run in candidates if not run.model_path.is_file()]
    seconds = sum(finished[run.seed].record.get("stage_seconds", 0) for run in missing if run.seed in finished)
    return [run.stage for run in missing], seconds / 60


def dvc(*arguments):
    result = subprocess.run(["dvc", *arguments])
    if result.returncode != 0:
        sys.exit(result.returncode)


def make_champion(params):
    """Train what the champion lacks, through the DAG, then run `register`."""
    stages, minutes = missing_training(params)
    if stages:
        print(f"serve: the champion's models are not in the DVC cache ({len(stages)} held-out runs; `dvc pull` "
              f"fetches them from a remote if you have one). Training them through the DAG takes about "
              f"{minutes:.0f} min of stage time, as recorded in results/; their files in results/ and dvc.lock are "
              "then this machine's.", flush=True)
        dvc("repro", *stages)
    # --force: `register` may be up to date in dvc.lock while this store has never seen its version.
    dvc("repro", "--single-item", "--force", "register")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--register-only", action="store_true", help="make and register the champion, serve nothing")
    arguments = parser.parse_args()
    params = load_params()
    if not arguments.register_only:
        check_port(arguments.host, arguments.port, "make serve SERVE_PORT=<port>")
    version = champion_version(params)
    if version is None or arguments.register_only:
        make_champion(params)
        version = champion_version(params)
    if arguments.register_only:
        return
    uri = registry.model_uri(params["champion"]["registered_model"])
    address = f"http://{arguments.host}:{arguments.port}"
    print(f"serve: {uri} (version {version.version}) at {address}/invocations; try:\n"
          f"  curl -s {address}/invocations -H 'Content-Type: application/json' "
          f"-d @{EXAMPLE}", flush=True)
    os.execvp("mlflow", ["mlflow", "models", "serve", "-m", uri, "--env-manager", "local", "--host", arguments.host,
                         "--port", str(arguments.port), "--workers", "1"])


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
