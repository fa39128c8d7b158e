"""`make bench`: how fast the pipeline trains on this machine, measured side by side in one run:
the training loops (this module and fit_paths.py), the team server's logging latency (server_bench.py), and the
grid runner against sequential `dvc repro` (grid_bench.py).

Prints a table and writes reports/benchmark.json. A benchmark, not a test: nothing here
asserts a speed.
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

# Plain model.fit with numpy validation data, timed here and nowhere in the pipeline, has
# TensorFlow's native code log an ERROR-level note at every call ("NodeDef mentions attribute
# use_unbounded_threadpool ..."), which the package's level 2 lets through. Set before TensorFlow
# loads; FASHION_PIPELINE_VERBOSE=1 keeps it.
if not os.environ.get("FASHION_PIPELINE_VERBOSE"):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np  # noqa: E402 - after the log level
import pandas as pd
import tensorflow as tf
from mlflow.tracking import MlflowClient

from fashion_pipeline import cli, files, frame, runs
from fashion_pipeline.tracking import mlflow_runs
from fashion_pipeline.data import load_training_data
from fashion_pipeline.lowlevel import network
from fashion_pipeline.lowlevel.trainer import keras_adam
from fashion_pipeline.params import load_params
from fashion_pipeline.tools.fit_paths import compare_paths, compiled_epoch, pixel_scale
from fashion_pipeline.tools.stage_costs import layer_sizes, weight_count
from fashion_pipeline.tools.grid_bench import grid_benchmark, slice_stages
from fashion_pipeline.tools.roofline import seconds_per_epoch, stage_roofline
from fashion_pipeline.tools.server_bench import server_results

# The bench makes many EpochPrograms, each with its own compiled epoch, on purpose: TensorFlow's
# warning that so many functions were traced says nothing here.
if not os.environ.get("FASHION_PIPELINE_VERBOSE"):
    tf.get_logger().setLevel("ERROR")


def machine():
    """This machine, as the bench files name it: its architecture and TensorFlow's thread count."""
    return f"{platform.machine()}, {tf.config.threading.get_intra_op_parallelism_threads() or 'default'} threads"


def pipeline_conditions(params):
    """The pipeline's conditions: its thread count, seeded, TensorFlow op determinism on."""
    frame.use_threads(params["training"]["threads"])
    frame.seed_everything(params["seeds"][0])


def seconds(work):
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def best_seconds(work, rounds):
    """The fastest of `rounds` timings of work(): on a shared virtual machine one timing can
    catch a slow moment (seen here: 93 to 136 GFLOP/s for the same matrix product, minutes
    apart)."""
    return min(seconds(work) for _ in range(rounds))


def matmul_gflops(size=2048, repeats=10, rounds=5):
    """This machine's fp32 matrix-product rate through TensorFlow."""
    left, right = tf.random.normal([size, size]), tf.random.normal([size, size])
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(left, right)))
    product().numpy()

    def products():
        for _ in range(repeats):
            product().numpy()

    return 2 * size**3 * repeats / best_seconds(products, rounds) / 1e9


def timed_trainer(spec, train, sets, epochs, rounds, xla=False):
    """(seconds per full-batch epoch of the hand-written trainer after compilation, the weights
    it leaves), as its stages run it or, with `xla`, compiled by XLA."""
    layers, run_epochs, _ = network.build_trainer(spec, train, sets, 0, keras_adam(spec["learning_rate"]))
    run_epochs = xla_epochs(run_epochs) if xla else run_epochs
    run_epochs(1)
    return best_seconds(lambda: run_epochs(epochs), rounds) / epochs, network.layer_arrays(layers)


def lowlevel_epoch_seconds(spec, train, sets, epochs=5, rounds=4):
    """Seconds per full-batch epoch of the hand-written trainer, after compilation."""
    return timed_trainer(spec, train, sets, epochs, rounds)[0]


def xla_epochs(run_epochs):
    """The same epochs compiled by XLA: the trainer's tf.function, which the callable that
    network.build_trainer returns holds, traced again with jit_compile=True (same variables)."""
    function = next(cell.cell_contents for cell in run_epochs.__closure__
                    if hasattr(cell.cell_contents, "python_function"))
    compiled = tf.function(function.python_function, jit_compile=True)
    return lambda count: compiled(tf.constant(count, tf.int32)).numpy()


def lowlevel_compiled_epoch(spec, train, sets, roofline, epochs=5, rounds=3):
    """Part A's compiled epochs alone, as a stage runs them (a TensorFlow graph, no XLA), and the
    same epochs compiled by XLA from the same weights, each against the stage's `roofline` per
    epoch (its parts are timed under XLA); and how far apart the two leave the weights."""
    per_epoch = seconds_per_epoch(roofline)
    results, weights = {"roofline_seconds_per_epoch": per_epoch}, {}
    for path in ("graph", "xla"):
        seconds, weights[path] = timed_trainer(spec, train, sets, epochs, rounds, xla=path == "xla")
        results[path] = {"seconds_per_epoch": seconds, "over_roofline": seconds / per_epoch}
    results["xla_max_weight_difference"] = float(max(np.abs(graph - xla).max()
                                                     for graph, xla in zip(weights["graph"], weights["xla"])))
    return results


def mlflow_seconds(epochs, metrics_per_epoch):
    """Time to log `epochs` epochs of metrics the way training does (asynchronously), into a
    fresh SQLite store, until the store has recorded every one: what logging costs at most."""
    with tempfile.TemporaryDirectory() as folder:
        previous = os.environ.get("MLFLOW_TRACKING_URI")
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(folder) / 'bench.db'}"
        try:
            client = MlflowClient(mlflow_runs.tracking_uri())
            run = client.create_run(client.create_experiment("bench", artifact_location=Path(folder).as_uri()))
            started = time.perf_counter()
            mlflow_runs.wait_for([mlflow_runs.log_epoch(client, run.info.run_id, epoch,
                                                        {f"metric_{index}": 0.5 for index in range(metrics_per_epoch)})
                                  for epoch in range(1, epochs + 1)])
            return time.perf_counter() - started
        finally:
            os.environ.pop("MLFLOW_TRACKING_URI")
            if previous is not None:
                os.environ["MLFLOW_TRACKING_URI"] = previous


def full_grid_minutes(stage_times_path):
    """The stages' wall time in the last run, summed over every seed, as the report's stage-times
    table records it (in minutes)."""
    if not Path(stage_times_path).is_file():
        return None
    return float(pd.read_csv(stage_times_path)["minutes"].sum())


def training_data(params, prepared_dir, scale=None):
    """(train, sets) as the project's experiments load them: the training pairs, and the sets
    measured after every epoch; in the pixel scale `scale` asks for (the data's own if None)."""
    return load_training_data(prepared_dir, params["data"]["scale"], scale, 0.0, params["data"]["split_seed"],
                              params["training"]["train_eval_images"])


def slice_rooflines(params, train, sets):
    """Each `bench.slice` stage's roofline (roofline.py), measured once for the run: the grid
    sets the stages' times against them, and the compiled epochs against the Keras ones'."""
    experiments = {**params["experiments"]["lowlevel"], **params["experiments"]["keras"]}
    measured_counts = [len(features) for features, _ in sets.values()]
    return {address: stage_roofline(experiments[run.name], run.kind, len(train[0]), measured_counts,
                                    experiments[run.name]["epochs"])
            for address, run in ((address, runs.run_of(address)) for address in params["bench"]["slice"])}


def run_benchmark(params, train, sets, raw, rooflines, stage_times_path):
    train_x = train[0]
    experiments = {**params["experiments"]["lowlevel"], **params["experiments"]["keras"]}
    results = {"machine": machine(), "matmul_gflops": matmul_gflops()}

    spec = experiments["lowlevel_net_b"]
    seconds = lowlevel_epoch_seconds(spec, train, sets)
    weights = weight_count(layer_sizes(spec["hidden_units"]))
    # Forward and backward passes: about 3 matrix products of 2 x samples x weights FLOPs each.
    gflops = 3 * 2 * len(train_x) * weights / seconds / 1e9
    results.update(lowlevel_seconds_per_epoch=seconds, lowlevel_gflops=gflops,
                   lowlevel_matmul_ratio=gflops / results["matmul_gflops"])

    results["fit_paths"] = {name: compare_paths(experiments[name], train, sets) for name in ("keras_5l", "keras_2l")}
    results["keras_speedup_vs_default_fit"] = results["fit_paths"]["keras_5l"]["project_epoch"]["speedup_vs_default_fit"]
    results["pixel_scale"] = pixel_scale(experiments["keras_4l"], {"scaled": (train, sets), "raw": raw})
    results["compiled_epochs"] = {
        run.name: (compiled_epoch if run.kind == "keras" else lowlevel_compiled_epoch)(
            experiments[run.name], train, sets, rooflines[address])
        for address, run in ((address, runs.run_of(address)) for address in rooflines)}

    epochs = spec["epochs"]
    logging = mlflow_seconds(epochs, len(network.history_columns(sets)))
    results["mlflow_overhead_fraction"] = logging / (logging + epochs * seconds)
    results["full_grid_minutes"] = full_grid_minutes(stage_times_path)
    results["team_server"] = server_results(params["bench"]["server_writers"], params["bench"]["server_epochs"],
                                            len(network.history_columns(sets)))
    return results


def rounded(value):
    if isinstance(value, dict):
        return {key: rounded(inner) for key, inner in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def show(results, indent=""):
    for key, value in results.items():
        if isinstance(value, dict):
            print(f"{indent}{key}")
            show(value, indent + "  ")
        else:
            print(f"{indent}{key:{45 - len(indent)}s} {f'{value:,.3f}' if isinstance(value, float) else value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--stage-times", default="reports/tables/stage_times.csv")
    parser.add_argument("--out", default="reports/benchmark.json")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--no-grid", action="store_true",
                        help="leave out the runner against sequential `dvc repro` (about 30 minutes on 2 cores)")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    if not arguments.no_grid:
        slice_stages(params)
    # The pipeline's conditions, the training subset and the validation set measured after every epoch.
    pipeline_conditions(params)
    train, sets = training_data(params, arguments.prepared)
    rooflines = slice_rooflines(params, train, sets)
    results = run_benchmark(params, train, sets, training_data(params, arguments.prepared, scale=False), rooflines,
                            arguments.stage_times)
    if not arguments.no_grid:
        with tempfile.TemporaryDirectory(prefix="bench-") as workspace:
            results["grid"] = grid_benchmark(Path.cwd(), params, results["matmul_gflops"], workspace, len(train[0]),
                                             rooflines)
    show(results)
    files.write_json(arguments.out, rounded(results))


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
