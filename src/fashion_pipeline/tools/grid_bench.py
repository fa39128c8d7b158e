"""`make bench`, the grid's part: the grid runner against a sequential `dvc repro` of the same
stages, side by side in one run, and each training stage's speed against its FLOP bound.

Two grids, each in fresh projects of its own (committed files are never touched, and nothing
is recorded into the project's MLflow store):
- the subset grid: the demo's whole DAG (both kinds, two seeds, optimizer runs, a few epochs on
  a subset of the images);
- the full-size slice: params.yaml's `bench.slice`, training stages of one seed at full size.
The subset grid's registered champion is then served and timed (serving_bench.py).
Each grid's project is made once with its data prepared, then copied twice, so both runs start
from the same state: one copy runs `dvc repro`, the other the runner.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fashion_pipeline import files, runs
from fashion_pipeline.errors import StageError
from fashion_pipeline.params import all_experiments
from fashion_pipeline.tools.demo import demo_params, make_project, project_env
from fashion_pipeline.tools.grid import LOG_DIR
from fashion_pipeline.tools.serving_bench import serving_results
from fashion_pipeline.tools.stage_breakdown import breakdown
from fashion_pipeline.tools.stage_costs import layer_sizes, weight_count

TRAINING_GROUPS = ("train_keras", "train_lowlevel")


def slice_stages(params):
    """`bench.slice`, checked before anything runs: training stages of experiments and seeds
    that params.yaml has."""
    experiments = all_experiments(params)
    for address in params["bench"]["slice"]:
        match = runs.ADDRESS.fullmatch(address)
        if not (match and match["group"] in TRAINING_GROUPS and match["name"] in experiments
                and int(match["seed"]) in params["seeds"]):
            raise StageError(f"bench.slice: {address!r} is not a training stage of params.yaml; expected "
                             "train_<kind>@<experiment>-<seed>, for example train_keras@keras_2l-42")
    for address in params["bench"]["breakdown"]:
        if address not in params["bench"]["slice"]:
            raise StageError(f"bench.breakdown: {address!r} is not in bench.slice; allowed: "
                             + ", ".join(params["bench"]["slice"]))
    return list(params["bench"]["slice"])


def run_logged(command, project, log_name):
    """Run `command` in `project`, its output to logs/<log_name>; return its wall seconds."""
    log_path = Path(project) / "logs" / log_name
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "w") as log:
        result = subprocess.run(command, cwd=project, env=project_env(project, own_store=True), stdout=log,
                                stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise StageError(f"bench: {' '.join(command[:4])} failed in {project} (exit {result.returncode}); see {log_path}")
    return time.perf_counter() - started


def prepared_copies(root, folder, params):
    """Two copies of a fresh project of `params` with its data prepared: (sequential, runner)."""
    base = make_project(root, Path(folder) / "base", params)
    run_logged(["dvc", "repro", "prepare"], base, "prepare.log")
    copies = []
    for kind in ("sequential", "runner"):
        copies.append(Path(folder) / kind)
        shutil.copytree(base, copies[-1], symlinks=True)
    shutil.rmtree(base)
    return copies


def compare(root, folder, params, targets):
    """(sequential seconds, runner seconds, sequential project, runner project) for `targets`
    (every stage when empty) of a project of `params`."""
    sequential, runner = prepared_copies(root, folder, params)
    sequential_seconds = run_logged(["dvc", "repro", *targets], sequential, "repro.log")
    runner_seconds = run_logged([sys.executable, "-m", "fashion_pipeline.tools.grid", *targets], runner, "grid.log")
    return sequential_seconds, runner_seconds, sequential, runner


def flop_bound_samples_per_second(hidden_units, gflops):
    """Training samples per second if every FLOP ran at `gflops`: a sample's forward pass costs 2
    FLOPs per weight, its backward pass 4 (the gradients of the weights and of the inputs)."""
    return gflops * 1e9 / (6 * weight_count(layer_sizes(hidden_units)))


def train_seconds(project, address):
    """A finished training stage's training seconds (which also hold each epoch's measurement
    of the training subset and the validation set)."""
    return files.read_json(Path(project) / runs.run_of(address).results_dir / "run.json")["train_seconds"]


def grid_benchmark(root, params, gflops, workspace, train_count, rooflines):
    """The runner against sequential `dvc repro`, on the subset grid and on the full-size slice,
    and each slice stage's time both ways against its roofline (`rooflines`, by address, measured
    in the same run for `train_count` training images) and against its FLOP bound at `gflops`, the
    matrix-product rate measured in the same run at the stages' thread count."""
    targets = slice_stages(params)
    results = {"grid_workers": max(1, (os.cpu_count() or 1) // params["training"]["threads"])}
    for label, grid_params, grid_targets in (("subset", demo_params(params), []), ("slice", params, targets)):
        print(f"bench: the {label} grid, by sequential `dvc repro`, then by the runner", flush=True)
        sequential_seconds, runner_seconds, sequential, runner = compare(root, Path(workspace) / label, grid_params,
                                                                         grid_targets)
        results.update({f"{label}_sequential_seconds": sequential_seconds, f"{label}_runner_seconds": runner_seconds,
                        f"{label}_runner_speedup": sequential_seconds / runner_seconds})
        # The runner's own work (DVC's graph, its checks, `dvc commit`), beside its stages'.
        own_work = files.read_json(runner / LOG_DIR / "own_work.json")
        results[f"{label}_runner_own_work"] = {
            **own_work["seconds"], "stages_run": own_work["stages_run"],
            "share_of_runner_seconds": sum(own_work["seconds"].values()) / runner_seconds}
        if label == "subset":
            # The subset grid ends with `register`: its champion, served.
            champion = files.read_json(runner / "champion" / "champion.json")["experiment"]
            results["serving"] = serving_results(runner, all_experiments(grid_params)[champion]["hidden_units"], gflops)
    experiments = all_experiments(params)
    results["slice_stages"] = {}
    for address in targets:
        run = runs.run_of(address)
        spec = experiments[run.name]
        bound = flop_bound_samples_per_second(spec["hidden_units"], gflops)
        roofline = rooflines[address]
        rates = {"flop_bound_samples_per_second": bound, "roofline": roofline}
        for way, project in (("sequential", sequential), ("runner", runner)):
            seconds = train_seconds(project, address)
            rate = train_count * spec["epochs"] / seconds
            with_rest = roofline["roofline_seconds"] + spec["epochs"] * roofline["elementwise_seconds_per_epoch"]
            rates.update({f"{way}_train_seconds": seconds, f"{way}_over_roofline": seconds / roofline["roofline_seconds"],
                          f"{way}_over_roofline_and_elementwise": seconds / with_rest,
                          f"{way}_samples_per_second": rate, f"{way}_share_of_bound": rate / bound})
        results["slice_stages"][address] = rates
    # Run once more, alone, in the sequential project, where nothing runs beside them.
    results["breakdown"] = {address: breakdown(sequential, address, project_env(sequential, own_store=True))
                            for address in params["bench"]["breakdown"]}
    return results
