"""The MLflow UI opened where a user compares: one shared view of the runs table per study of
params.yaml (its runs, its params and metrics as columns, sorted by test loss), and one of every
training run. MLflow keeps a shared view as an experiment tag `mlflow.sharedViewState.<key>`
holding the table's state as JSON, and opens it from `#/experiments/<id>/runs?viewStateShareKey=<key>`
(the UI's own "share" link). `make ui` saves them and prints their addresses."""

import argparse
import json

from mlflow.tracking import MlflowClient

from fashion_pipeline import cli
from fashion_pipeline.params import load_params
from fashion_pipeline.tracking.mlflow_runs import tracking_uri

SHARED_VIEW_TAG = "mlflow.sharedViewState."
TRAINING_METRICS = ("test_accuracy", "test_loss", "val_loss", "train_loss", "best_val_loss")
# The columns each view shows: the params its runs differ in, then the metrics they are judged on.
VIEWS = {
    "runs": ("tags.kind != 'report'", ("seed", "hidden_units", "dropout", "optimizer", "learning_rate")),
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True, help="where the UI is served (make ui passes its own)")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    client = MlflowClient(tracking_uri())
    experiment = client.get_experiment_by_name(params["mlflow"]["experiment_name"])
    if experiment is None:
        print(f"MLflow UI: {arguments.address} (no runs yet)")
        return
    save_views(client, experiment.experiment_id, params["studies"])
    print(f"Training runs:     {view_address(arguments.address, experiment.experiment_id, 'runs')}")
    for name in params["studies"]:
        print(f"Study {name + ':':<16} {view_address(arguments.address, experiment.experiment_id, 'study-' + name)}")
    print(f"Optimizer study:   {view_address(arguments.address, experiment.experiment_id, 'optimizers')}")


if __name__ == "__main__":
    cli.run(main)
