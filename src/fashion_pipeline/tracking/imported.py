"""The committed grid in an MLflow store that never saw it trained (`make ui` on a fresh clone):
one run per result folder under results/, with its params under the names runs share, its
per-epoch curves, its final and test metrics and its tags, marked as imported from its commit.
A run whose training recorded into this store, or that an earlier import brought, is not
imported again. Imported runs carry no model: the models live in the DVC cache."""

import argparse
import hashlib
import json
import time
from pathlib import Path

import mlflow.utils.time
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from fashion_pipeline import cli, runs
from fashion_pipeline.params import load_params
from fashion_pipeline.tracking import mlflow_runs, studies


def result_folders(results_dir, params):
    """(folder, run, spec) of every finished run under `results_dir`: its folder, its identity
    (runs.Run) and its spec in params.yaml."""
    kinds = {name: kind for kind, group in params["experiments"].items() for name in group}
    for seed_dir in sorted(Path(results_dir).glob("seed_*")):
        seed = int(seed_dir.name.removeprefix(runs.seed_folder("")))
        for folder in sorted(path.parent for path in seed_dir.glob("**/train.json")):
            subfolder, name = folder.parent.relative_to(seed_dir).as_posix(), folder.name
            if not (folder / "history.csv").is_file():
                continue
            if subfolder == runs.KINDS["optimizer"].folder and name in params["optimizers"]["runs"]:
                yield folder, runs.Run("optimizer", name, seed), params["optimizers"]["runs"][name]
            elif subfolder == runs.KINDS["holdout"].folder and name in kinds:
                yield folder, runs.Run("holdout", name, seed), params["experiments"][kinds[name]][name]
            elif subfolder == "." and name in kinds:
                yield folder, runs.Run(kinds[name], name, seed), params["experiments"][kinds[name]][name]


def import_results(results_dir, params, commit, say=print):
    """Import every result folder not yet in the store, saying how far it is; return how many
    were imported."""
    uri = mlflow_runs.connect(params["mlflow"])
    client = MlflowClient(uri)
    experiment = mlflow_runs.experiment_id(params["mlflow"], uri)
    known = {run.info.run_id for run in client.search_runs([experiment], max_results=50000)}
    known_digests = {run.data.tags.get("imported_history_md5") for run in client.search_runs(
        [experiment], filter_string="tags.imported_from_commit != ''", max_results=50000)}
    missing = []
    for folder, run, spec in result_folders(results_dir, params):
        record = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
        digest = hashlib.md5((folder / "history.csv").read_bytes()).hexdigest()
        if record.get("mlflow_run_id") not in known and digest not in known_digests:
            missing.append((folder, run, spec, digest))
    if missing:
        say(f"MLflow: importing {len(missing)} committed runs into {mlflow_runs.recorded_uri(uri)}, once "
            "(params, curves, metrics and tags; no models)")
    started = time.perf_counter()
    for done, (folder, run, spec, digest) in enumerate(missing, 1):
        log_run(client, experiment, folder, run, spec, commit, digest, params["studies"])
        if done % 25 == 0 or done == len(missing):
            say(f"MLflow: {done} of {len(missing)} imported, {time.perf_counter() - started:.0f} s")
    return len(missing)


def log_run(client, experiment, folder, run, spec, commit, digest, study_params):
    """One finished run, as its stage would have recorded it, without the model."""
    history = pd.read_csv(folder / "history.csv")
    final = json.loads((folder / "train.json").read_text())
    if (folder / "metrics.json").is_file():
        final.update(json.loads((folder / "metrics.json").read_text()))
    study_tags = studies.tags(run, study_params)
    tags = {**study_tags, **run.tags, "seed": str(run.seed), "dvc_stage": run.stage, "imported_from_commit": commit,
            "imported_history_md5": digest,
            "mlflow.note.content": study_tags["mlflow.note.content"] + " (imported from the committed results)"}
    created = client.create_run(experiment, run_name=run.mlflow_run_name, tags=tags)
    shared = mlflow_runs.shared_params({f"spec.{key}": value for key, value in spec.items()})
    now = int(mlflow.utils.time.get_current_time_millis())
    metrics = [Metric(column, float(value), now, int(row["epoch"]))
               for _, row in history.iterrows() for column, value in row.items() if column != "epoch"]
    metrics += [Metric(key, float(value), now, 0) for key, value in final.items()
                if not key.startswith(("train_", "val_")) and isinstance(value, (int, float))]
    params = [Param(key, str(value)) for key, value in {"seed": run.seed, **shared}.items()]
    for start in range(0, max(len(metrics), 1), 1000):
        client.log_batch(created.info.run_id, metrics=metrics[start:start + 1000], params=params if start == 0 else [],
                         tags=[RunTag("results_folder", folder.as_posix())] if start == 0 else [], synchronous=True)
    client.set_terminated(created.info.run_id, "FINISHED")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results")
    arguments = parser.parse_args()
    import_results(arguments.results, load_params(), mlflow_runs.git_commit(),
                   say=lambda line: print(line, flush=True))


if __name__ == "__main__":
    cli.run(main)
