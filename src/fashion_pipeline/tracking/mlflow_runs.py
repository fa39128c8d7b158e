"""MLflow at the edges: where the store is, one run per experiment, per-epoch metrics sent asynchronously."""

import atexit
import contextlib
import fcntl
import functools
import os
import platform
import subprocess
import warnings
from pathlib import Path

import mlflow
import mlflow.data
import numpy as np
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.file_utils import local_file_uri_to_path

from fashion_pipeline import files
from fashion_pipeline.tracking import studies
from fashion_pipeline.errors import TrackingError
from fashion_pipeline.tracking.store import check_store, project_root, tracking_uri


def recorded_uri(uri):
    """The store as a committed file records it: a SQLite file inside the project relative to
    the project (the same on every clone), any other store as the user gave it."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if path.is_absolute() and path.is_relative_to(project_root()):
            return f"sqlite:///{path.relative_to(project_root()).as_posix()}"
    return uri


# The experiment tag the MLflow UI reads to open an experiment on its runs (model training)
# rather than on traces (GenAI development).
EXPERIMENT_KIND, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"


def git_commit():
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_name(cpuinfo=Path("/proc/cpuinfo")):
    """The CPU as its kind shows in the numbers: another kind rounds float sums differently, so
    runs compare exactly only within one. "AMD EPYC, AVX-512"; the machine's name where Linux's
    /proc/cpuinfo is not there."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return platform.machine() or "unknown"
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in lines if ":" in line)}
    flags = fields.get("flags", "").split()
    vectors = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{fields.get('model name', platform.machine() or 'unknown')}, {vectors}"


def flatten(mapping, prefix=""):
    """{'a': {'b': 1}} -> {'a.b': 1}; lists become their string form, as MLflow params are."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value) if isinstance(value, list) else value
    return flat


def connect(mlflow_params):
    """Point MLflow at the store after checking that it answers."""
    uri = tracking_uri()
    check_store(uri, mlflow_params["connect_timeout_seconds"])
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:///"):
        # MLflow creates or migrates the SQLite schema on first contact; two stages starting at
        # once (dvc queue start -j 2) would race on it, so the first contact is taken in turn.
        with open(uri[len("sqlite:///"):] + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                MlflowClient(uri).search_experiments(max_results=1)
            except Exception as error:  # noqa: BLE001 - SQLAlchemy's and MLflow's errors alike
                reason = str(error).strip().splitlines()[0][:160]
                raise TrackingError(f"tracking store {uri[len('sqlite:///'):]}: not a usable MLflow SQLite store "
                                    f"({reason}); move it aside (a new one is made) or set MLFLOW_TRACKING_URI "
                                    "to another store") from None
    return uri


def experiment_id(mlflow_params, uri):
    """Find or create the MLflow experiment in the store at `uri` (which `connect` returned),
    keeping artifacts beside the SQLite store."""
    name = mlflow_params["experiment_name"]
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if EXPERIMENT_KIND not in experiment.tags:
            # A store made before the tag was set: mark it now.
            MlflowClient(uri).set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND, MODEL_TRAINING)
        return experiment.experiment_id
    artifacts = (project_root() / "mlartifacts").as_uri() if uri.startswith("sqlite:///") else None
    try:
        # Marked as model training, so the UI opens it on its runs, not on a GenAI overview.
        return mlflow.create_experiment(name, artifact_location=artifacts, tags={EXPERIMENT_KIND: MODEL_TRAINING})
    except MlflowException:
        # A stage running beside this one (dvc queue start -j 2) created it first.
        return mlflow.get_experiment_by_name(name).experiment_id


# Spec keys whose last part names a value every run of a study shares under another name.
SHARED_NAMES = {"rule": "optimizer"}


def shared_params(logged):
    """`logged` (DVC's dotted paths -> values) under the short names runs share (`dropout`,
    `hidden_units`, `learning_rate`, `threads`...), so MLflow's compare view lines the runs of a
    study up param by param. A spec's own value wins over a shared default of the same name
    (keras_3l_raw's `scale` over data.scale); lists become their string form, as MLflow keeps them."""
    shared = {}
    own_last = sorted(logged, key=lambda key: key.startswith(("experiments.", "optimizers.runs.")))
    for key in own_last:
        name = key.rsplit(".", 1)[-1]
        value = logged[key]
        shared[SHARED_NAMES.get(name, name)] = str(value) if isinstance(value, list) else value
    return shared


def start_training_run(params, uri, job):
    """Open the MLflow run of one training stage in the store at `uri` (which `connect`
    returned), tagged, with every param DVC tracks for the stage under its short name, and the
    same params under their params.yaml paths as params.json."""
    run = job.run
    # The run's own tags win over the study's (a held-out run of keras_3l is not in B i's study).
    tags = {"dvc_stage": run.stage, "git_commit": git_commit(), "seed": str(run.seed), "cpu": cpu_name(),
            **studies.tags(run, params["studies"]), **run.tags}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    experiment = experiment_id(params["mlflow"], uri)
    # Made and registered to end KILLED (or FAILED) in one step, so a stop cannot fall between.
    with files.uninterrupted():
        # System metrics (CPU, memory) sampled while the run trains.
        active = mlflow.start_run(experiment_id=experiment, run_name=run.mlflow_run_name, tags=tags,
                                  log_system_metrics=True)
        _ending[active.info.run_id] = files.add_clean_up(functools.partial(_end_unfinished, active.info.run_id, uri))
    try:
        mlflow.log_params({"seed": run.seed, **shared_params(job.logged)})
        log_artifact_dict(job.logged, "params.json")
    except BaseException:
        # The caller's `with` has not begun: end the run here, or it stays open (and active in
        # this process) after a failure such as a full disk under the artifacts, or Ctrl-C.
        _ended_here(active.info.run_id)
        raise
    return active


# The clean-up of each training run this process has started, by run id (`start_training_run`).
_ending = {}


def _end_unfinished(run_id, uri):
    """End a run whose stage did not finish: KILLED if it was stopped, FAILED if it failed while
    the run was open. By the stage's main thread, through MLflow's active run; by cli.py's stop
    watcher (or after the run's end, as the stage writes its last outputs) through a client."""
    status = "KILLED" if files.STOPPED.is_set() else "FAILED"
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        mlflow.end_run(status=status)
    elif files.STOPPED.is_set():
        MlflowClient(uri).set_terminated(run_id, status)


def _ended_here(run_id):
    """End the run through its clean-up (once, by whichever thread comes first), then leave
    MLflow's active run if the watcher ended it: the run's `with` would end it FAILED again."""
    _ending[run_id].run()
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        mlflow.end_run(status="KILLED" if files.STOPPED.is_set() else "FAILED")


@atexit.register
def _killed_at_exit():
    # Run before MLflow's exit hook (registered earlier), which would end it FINISHED.
    if files.STOPPED.is_set() and mlflow.active_run() is not None:
        mlflow.end_run(status="KILLED")


# The MLflow dataset context of each set a run is measured on (data.load_training_data).
DATASET_CONTEXTS = {"train": "train_eval", "val": "validation", "test": "test"}


def names_the_artifacts(function):
    """An artifact the store could not take is named in the store: a full disk gives no name, a
    copy names its source (MLflow's temporary) first. MLflow's temporary's own errors stay."""
    @functools.wraps(function)
    def logging(*arguments, **keywords):
        try:
            return function(*arguments, **keywords)
        except OSError as error:
            location = local_file_uri_to_path(mlflow.get_artifact_uri())
            store = str(Path(location).parents[1])  # the experiment's: the run's and its models' artifacts
            destination = next((str(name) for name in (error.filename2, error.filename)
                                if name is not None and str(name).startswith(store)), None)
            if error.errno is None or (error.filename is not None and destination is None):
                raise
            raise type(error)(error.errno, error.strerror, destination or location) from None
    return logging


@names_the_artifacts
def log_artifact_dict(mapping, name):
    mlflow.log_dict(mapping, name)


@names_the_artifacts
def log_inputs(prepared_dir, train, sets):
    """The training set and the sets measured after every epoch as MLflow datasets (name,
    digest, context)."""
    named = [("train", train), *((DATASET_CONTEXTS[name], pair) for name, pair in sets.items())]
    for context, (features, targets) in named:
        with warnings.catch_warnings():
            # MLflow registers two local-file source classes and warns that a path fits both.
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_numpy(features, targets=targets, source=str(Path(prepared_dir).resolve()),
                                             name=f"fashion-mnist-{context}")
        mlflow.log_input(dataset, context=context)


@names_the_artifacts
def log_training(metrics, history_path):
    """The final metrics that are not already the last points of the per-epoch curves, and the
    history CSV."""
    mlflow.log_metrics({key: value for key, value in metrics.items() if not key.startswith(("train_", "val_"))})
    mlflow.log_artifact(str(history_path))


@names_the_artifacts
def log_model(model, sample, name):
    """The model, named after its experiment, with its signature. (MLflow 3.17's Keras flavour
    fails to save an input example: it writes it before making the model's folder.)"""
    # Imported here: the rest of this module serves `make ui` too, which must start without
    # loading TensorFlow.
    import keras
    import mlflow.keras
    import tensorflow as tf
    from mlflow.models import infer_signature

    mlflow.keras.log_model(
        model, name=name,
        # Called directly, not through predict, which starts a tf.data pipeline for five rows.
        signature=infer_signature(sample, np.asarray(model(sample))),
        pip_requirements=[f"tensorflow-cpu=={tf.__version__}", f"keras=={keras.__version__}"],
    )


@contextlib.contextmanager
def killed_on_interrupt():
    """Inside an active run: an interrupted run (Ctrl-C, or SIGTERM, which cli.run turns into
    the same) ends KILLED before the run's own `with` would end it FAILED, which would blame the
    code. A stage ended from outside its main thread, or stopped after the run's end (while it
    writes its last outputs), is ended KILLED by the same clean-up (files.run_clean_ups)."""
    run_id = mlflow.active_run().info.run_id
    try:
        yield
    except KeyboardInterrupt:
        _ended_here(run_id)
        raise


def add_to_run(mlflow_params, run_id, metrics, artifacts):
    """Add metrics and artifacts to a finished run through the client, without re-opening it,
    so the run's duration stays its training's."""
    uri = connect(mlflow_params)
    client = MlflowClient(uri)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise TrackingError(f"tracking store {uri}: has no run {run_id}, the run its training recorded (run.json); "
                            "the training recorded into another store: train it again with this one "
                            "(dvc repro --force <its train stage>)") from None
    timestamp = int(mlflow.utils.time.get_current_time_millis())
    client.log_batch(run_id, metrics=[Metric(key, float(value), timestamp, 0) for key, value in metrics.items()],
                     synchronous=True)
    for path in artifacts:
        client.log_artifact(run_id, str(path))


def log_epoch(client, run_id, epoch, metrics):
    """One epoch's metrics, on MLflow's asynchronous logging queue: training goes on while the
    store records them, and the queue sends what has gathered in one batch. Returns the
    operation to wait for (`wait_for`)."""
    timestamp = int(mlflow.utils.time.get_current_time_millis())
    return client.log_batch(run_id, metrics=[Metric(key, float(value), timestamp, epoch) for key, value in metrics.items()],
                            synchronous=False)


def wait_for(operations):
    """Wait until the store has recorded every operation; raise the first one's failure."""
    for operation in operations:
        operation.wait()


def log_report(mlflow_params, out_dir, used_runs, verdicts):
    """The report as a run named 'report': its files, the verdicts as metrics' companions (a
    table), and the id of every run it used as a param, so the UI links them."""
    uri = connect(mlflow_params)
    tags = {"dvc_stage": "report", "git_commit": git_commit(), "kind": "report"}
    with mlflow.start_run(experiment_id=experiment_id(mlflow_params, uri), run_name="report", tags=tags):
        mlflow.log_params({f"run.{name}": run_id for name, run_id in sorted(used_runs.items())})
        mlflow.log_metric("runs_used", len(used_runs))
        mlflow.log_table(verdicts, "verdicts.json")
        for name in ("report.md", "report.html"):
            mlflow.log_artifact(str(Path(out_dir) / name))
        mlflow.log_artifacts(str(Path(out_dir) / "tables"), artifact_path="tables")
