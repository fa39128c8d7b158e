"""The MLflow UI opened where a user compares: one shared view of the runs table per study of
params.yaml (its runs, its params and metrics as columns, sorted by test loss), and one of every
training run. MLflow keeps a shared view as an experiment tag `mlflow.sharedViewState.<key>`
holding the table's state as JSON, and opens it from `#/experiments/<id>/runs?viewStateShareKey=<key>`
(the UI's own "share" link). `make ui` saves them and prints their addresses, with the compare
view of each study's runs of the first seed, and the demo's runs when `make demo` has run."""

import argparse
import json
import urllib.parse

from mlflow.tracking import MlflowClient

from fashion_pipeline import cli
from fashion_pipeline.params import load_params
from fashion_pipeline.tracking.mlflow_runs import tracking_uri

SHARED_VIEW_TAG = "mlflow.sharedViewState."
TRAINING_METRICS = ("test_accuracy", "test_loss", "val_loss", "train_loss", "best_val_loss")
# The columns each view shows: the params its runs differ in, then the metrics they are judged on.
VIEWS = {
    "runs": ("tags.dvc_stage LIKE 'train_%'", ("seed", "hidden_units", "dropout", "optimizer", "learning_rate")),
    "optimizers": ("tags.studies = 'optimizers'", ("seed", "optimizer", "learning_rate", "decay_rate",
                                                   "bias_correction")),
    "holdout": ("tags.studies = 'holdout'", ("seed", "hidden_units", "dropout")),
}
STUDY_PARAMS = ("seed", "hidden_units", "dropout", "scale", "regularizer", "regularization_rate")


def view_state(search_filter, params, metrics=TRAINING_METRICS):
    """The runs table's state as the UI shares it: filter, sort, and the columns in view."""
    return {"searchFilter": search_filter, "orderByKey": "metrics.`test_loss`", "orderByAsc": True,
            "runsHiddenMode": "SHOW_ALL",
            "selectedColumns": [f"params.`{name}`" for name in params] + [f"metrics.`{name}`" for name in metrics]}


def views(studies):
    """key -> the view's state: every training run, each study of params.yaml, the optimizer
    study and the protocol check's held-out runs."""
    found = {key: view_state(search, params) for key, (search, params) in VIEWS.items()}
    for name in studies:
        found[f"study-{name}"] = view_state(f"tags.studies LIKE '%{name}%'", STUDY_PARAMS)
    return found


def save_views(client, experiment_id, studies):
    """Save (or refresh) every view on the experiment; idempotent."""
    for key, state in views(studies).items():
        client.set_experiment_tag(experiment_id, SHARED_VIEW_TAG + key, json.dumps(state))


def view_address(address, experiment_id, key):
    return f"{address}/#/experiments/{experiment_id}/runs?viewStateShareKey={key}"


def compare_address(address, experiment_id, run_ids):
    """MLflow's compare view of `run_ids`: their params lined up, and parallel coordinates."""
    quoted = lambda value: urllib.parse.quote(json.dumps(value, separators=(",", ":")), safe="[],")  # noqa: E731
    return f"{address}/#/compare-runs?runs={quoted(list(run_ids))}&experiments={quoted([experiment_id])}"


def study_runs(client, experiment_id, study, seed):
    """The training runs of `study` with `seed`, as the compare view takes them."""
    found = client.search_runs([experiment_id], f"tags.studies LIKE '%{study}%' AND tags.seed = '{seed}' "
                                                "AND tags.dvc_stage LIKE 'train_%'")
    return [run.info.run_id for run in found]


def addresses(client, params, address):
    """(label, address) of every view: the project's experiment, then the demo's if it has runs."""
    found = []
    name = params["mlflow"]["experiment_name"]
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        save_views(client, experiment.experiment_id, params["studies"])
        found.append(("Training runs", view_address(address, experiment.experiment_id, "runs")))
        for study in params["studies"]:
            found.append((f"Study {study}", view_address(address, experiment.experiment_id, f"study-{study}")))
            run_ids = study_runs(client, experiment.experiment_id, study, params["seeds"][0])
            if len(run_ids) > 1:
                found.append((f"  compared, seed {params['seeds'][0]}",
                              compare_address(address, experiment.experiment_id, run_ids)))
        found.append(("Optimizer study", view_address(address, experiment.experiment_id, "optimizers")))
        found.append(("Held-out runs", view_address(address, experiment.experiment_id, "holdout")))
    demo = client.get_experiment_by_name(f"{name}-demo")
    if demo is not None:
        save_views(client, demo.experiment_id, params["studies"])
        found.append(("The demo's runs", view_address(address, demo.experiment_id, "runs")))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True, help="where the UI is served (make ui passes its own)")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    show(MlflowClient(tracking_uri()), load_params(arguments.params), arguments.address)


def show(client, params, address):
    """Save the views and print their addresses, a line each."""
    for label, view in addresses(client, params, address) or [("MLflow UI (no runs yet)", address)]:
        print(f"{label + ':':<22} {view}", flush=True)


if __name__ == "__main__":
    cli.run(main)
