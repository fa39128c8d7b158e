"""`make bench`, the team server's part: how long one epoch's metrics take to be recorded by the
team server (MLflow's server with basic auth on PostgreSQL, `make server`) with one writer, and
with as many at once as a Dask cluster's workers would be. Each writer is a process of its own,
as a stage is, and sends one batch of metrics per epoch and waits for the answer; the latency of
every request is kept, and p50 and p99 reported for each number of writers."""

import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

from fashion_pipeline.tools import server
from fashion_pipeline.tools.ports import free_port
from fashion_pipeline.tools.serving_bench import percentiles


def _write(address, credentials, experiment_id, epochs, metric_names, start, timings):
    """One writer: a run, then one batch of metrics per epoch, each timed to its answer."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    # Without MLflow's "View run at" line for every writer in the benchmark's table.
    os.environ.update(MLFLOW_TRACKING_USERNAME=credentials[0], MLFLOW_TRACKING_PASSWORD=credentials[1],
                      MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="true")
    client = MlflowClient(address)
    run_id = client.create_run(experiment_id).info.run_id
    start.wait()
    for epoch in range(1, epochs + 1):
        now = int(time.time() * 1000)
        metrics = [Metric(name, 0.5, now, epoch) for name in metric_names]
        started = time.perf_counter()
        client.log_batch(run_id, metrics=metrics, synchronous=True)
        timings.put(time.perf_counter() - started)
    client.set_terminated(run_id)


def logging_latency(address, credentials, writers, epochs, metric_count):
    """Seconds per epoch's batch of `metric_count` metrics, p50 and p99, with `writers` processes
    writing `epochs` epochs each at once into the server at `address`."""
    from mlflow.tracking import MlflowClient

    os.environ.update(MLFLOW_TRACKING_USERNAME=credentials[0], MLFLOW_TRACKING_PASSWORD=credentials[1])
    client = MlflowClient(address)
    experiment_id = client.create_experiment(f"latency-{writers}-writers-{time.time_ns()}")
    context = multiprocessing.get_context("spawn")
    start, timings = context.Event(), context.Queue()
    names = [f"metric_{index}" for index in range(metric_count)]
    processes = [context.Process(target=_write, args=(address, credentials, experiment_id, epochs, names, start, timings))
                 for _ in range(writers)]
    for process in processes:
        process.start()
    # Every writer has its run before the first is timed: they write at once.
    while len(client.search_runs([experiment_id])) < writers:
        if any(process.exitcode not in (None, 0) for process in processes):
            raise RuntimeError("a writer failed before writing")
        time.sleep(0.2)
    start.set()
    measured = [timings.get(timeout=600) for _ in range(writers * epochs)]
    for process in processes:
        process.join()
    return {**percentiles(measured), "requests": len(measured)}


def server_results(writer_counts, epochs, metric_count):
    """Start a team server of its own (PostgreSQL and MLflow on free loopback ports, in a
    temporary home), measure the logging latency at each number of writers, and stop it."""
    home = Path(tempfile.mkdtemp(prefix="bench-team-server-"))
    try:
        address = server.start(home, "127.0.0.1", free_port(), free_port())
        credentials = ("admin", (home / "admin_password").read_text())
        return {f"{writers}_writers": {**logging_latency(address, credentials, writers, epochs, metric_count),
                                       "epochs_per_writer": epochs, "metrics_per_epoch": metric_count}
                for writers in writer_counts}
    finally:
        server.stop(home)
        shutil.rmtree(home, ignore_errors=True)
