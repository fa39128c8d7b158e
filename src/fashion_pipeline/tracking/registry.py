"""The champion in MLflow's Model Registry: one version per distinct champion, under one name,
with the alias `champion` on the newest; a description that is its model card, and tags that
say where it came from. Registering the same champion again creates no version."""

import json
import warnings

import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from fashion_pipeline.tracking import mlflow_runs

ALIAS = "champion"
# The tag that tells one champion from another: a digest of its members' model files and its spec.
DIGEST_TAG = "champion_digest"


def model_uri(registered_name):
    return f"models:/{registered_name}@{ALIAS}"


def version_with_digest(client, registered_name, digest):
    """The registered version of this very champion, if there is one."""
    try:
        found = client.search_model_versions(f"name = '{registered_name}' and tag.{DIGEST_TAG} = '{digest}'")
    except MlflowException:
        return None
    return found[0] if found else None


def training_cpus(run_ids):
    """The CPU kinds the members trained on, from their runs' `cpu` tags in the store (the
    numbers are exact only within one kind); "unknown" for a run the store does not hold."""
    client = MlflowClient()
    found = set()
    for run_id in run_ids:
        try:
            found.add(client.get_run(run_id).data.tags.get("cpu", "unknown"))
        except MlflowException:
            found.add("unknown")
    return ", ".join(sorted(found))


def log_champion(python_model, member_paths, sample_images, sample_output, run_name, run_tags, experiment_id):
    """Log the champion's MLflow model in a run of its own, with its signature and an input
    example; returns (run id, model URI)."""
    from mlflow.models import infer_signature

    import keras
    import tensorflow as tf

    # Pixels travel as float64: JSON's integers cast to it, and NaN reaches the model's own checks.
    sample_images = np.asarray(sample_images, np.float64)
    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values: class_index never misses.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        signature = infer_signature(sample_images, sample_output)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=run_tags) as run:
        info = mlflow.pyfunc.log_model(
            name=ALIAS, python_model=python_model, signature=signature, input_example=sample_images,
            artifacts={f"member_{seed}": str(path) for seed, path in member_paths.items()},
            pip_requirements=[f"mlflow=={mlflow.__version__}", f"tensorflow-cpu=={tf.__version__}",
                              f"keras=={keras.__version__}", f"numpy=={np.__version__}"])
    return run.info.run_id, info.model_uri


def register(mlflow_params, registered_name, digest, log, tags, description):
    """Make this champion the alias `champion` of `registered_name`: an existing version with
    the same digest gets the alias back; otherwise `log(experiment_id)` logs the model and a new
    version is made. Earlier versions stay. Returns (version, whether it is new)."""
    uri = mlflow_runs.connect(mlflow_params)
    client = MlflowClient(uri)
    existing = version_with_digest(client, registered_name, digest)
    if existing is not None:
        client.set_registered_model_alias(registered_name, ALIAS, existing.version)
        return existing.version, False
    try:
        client.create_registered_model(registered_name, description="Fashion-MNIST classifier: 28x28 grayscale "
                                       "images, pixels 0-255, to one of ten classes. Alias `champion`: the pick of "
                                       "the held-out protocol (stages/register.py).")
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    _, source = log(mlflow_runs.experiment_id(mlflow_params, uri))
    # register_model, not the client's create_model_version: a tracking server needs the logged
    # model's id beside its `models:/` source, which register_model passes.
    version = mlflow.register_model(source, registered_name,
                                    tags={DIGEST_TAG: digest, **{key: text(value) for key, value in tags.items()}})
    client.update_model_version(registered_name, version.version, description=description)
    client.set_registered_model_alias(registered_name, ALIAS, version.version)
    return version.version, True


def text(value):
    """A tag's value: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
