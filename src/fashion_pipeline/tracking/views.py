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
from fashion_pipeline.params import all_experiments, load_params
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
# The params a study's view may show: those its experiments differ in.
STUDY_PARAMS = ("hidden_units", "dropout", "scale", "regularizer", "regularization_rate", "optimizer", "learning_rate",
                "epochs", "batch_size")
# A study's view opens on its params beside the test loss, on screen at 1400 px even while MLflow's
# Assistant panel is open (it opens on a first visit to a local server, and no setting stops it).
STUDY_METRICS = ("test_loss",)


def view_state(search_filter, params, metrics=TRAINING_METRICS):
    """The runs table's state as the UI shares it: filter, sort, and the columns in view."""
    return {"searchFilter": search_filter, "orderByKey": "metrics.`test_loss`", "orderByAsc": True,
            "runsHiddenMode": "SHOW_ALL",
            "selectedColumns": [f"params.`{name}`" for name in params] + [f"metrics.`{name}`" for name in metrics]}


def study_params(params, study):
    """The params the experiments of `study` differ in, and the seed."""
    experiments = all_experiments(params)
    specs = [experiments[name] for name in params["studies"][study]["experiments"] if name in experiments]
    return [key for key in STUDY_PARAMS if len({json.dumps(spec.get(key), sort_keys=True) for spec in specs}) > 1] + ["seed"]


def views(params):
    """key -> the view's state: every training run, each study of params.yaml, the optimizer
    study and the protocol check's held-out runs."""
    found = {key: view_state(search, columns) for key, (search, columns) in VIEWS.items()}
    for name in params["studies"]:
        found[f"study-{name}"] = view_state(f"tags.studies LIKE '%{name}%'", study_params(params, name), STUDY_METRICS)
    return found


def save_views(client, experiment_id, params):
    """Save (or refresh) every view on the experiment; idempotent."""
    for key, state in views(params).items():
        client.set_experiment_tag(experiment_id, SHARED_VIEW_TAG + key, json.dumps(state))


# The UI's sidebar on model training (runs, models, the registry) rather than on GenAI (traces,
# judges, prompts), where MLflow 3.17 opens a browser that has not chosen yet.
WORKFLOW = "workflowType=machine_learning"


def view_address(address, experiment_id, key):
    return f"{address}/#/experiments/{experiment_id}/runs?viewStateShareKey={key}&{WORKFLOW}"


def compare_address(address, experiment_id, run_ids):
    """MLflow's compare view of `run_ids`: their params lined up, and parallel coordinates."""
    quoted = lambda value: urllib.parse.quote(json.dumps(value, separators=(",", ":")), safe="[],")  # noqa: E731
    return f"{address}/#/compare-runs?runs={quoted(list(run_ids))}&experiments={quoted([experiment_id])}&{WORKFLOW}"


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
        save_views(client, experiment.experiment_id, params)
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
        save_views(client, demo.experiment_id, params)
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
