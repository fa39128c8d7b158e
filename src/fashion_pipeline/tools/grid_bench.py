"""`make bench`, the grid's part: the grid runner against a sequential `dvc repro` of the same
stages, side by side in one run, and each training stage's speed against its FLOP bound.

Two grids, each in fresh projects of its own (committed files are never touched, and nothing
is recorded into the project's MLflow store):
- the subset grid: the demo's whole DAG (both kinds, two seeds, optimizer runs, a few epochs on
  a subset of the images);
- the full-size slice: params.yaml's `bench.slice`, training stages of one seed at full size.
The subset grid's registered champion is then served and timed (serving_bench.py).
Each grid's project is made once with its data prepared, then copied, so every run starts from
the same state: one copy runs `dvc repro`, one the runner with each stage a process of its own
(`--cold`), one the runner as it runs by default, its stages forked warm (warm_start.py).
"""

import os
import shutil
import statistics
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
from fashion_pipeline.tools.stage_breakdown import breakdown, stage_seconds
from fashion_pipeline.tools.stage_costs import layer_sizes, weight_count

TRAINING_GROUPS = ("train_keras", "train_lowlevel")
# A training stage's breakdown parts that its committed `train_seconds` (frame.train's clock)
# leaves out, and the parts that are the arithmetic itself: the rest is overhead.
BEYOND_TRAIN_SECONDS = ("python_start", "imports", "store_check", "data", "mlflow_run", "model_save", "model_logging",
                        "mlflow_logging", "other", "exit")
ARITHMETIC = ("training", "measurement")


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
    """Three copies of a fresh project of `params` with its data prepared: (sequential, cold
    runner, runner)."""
    base = make_project(root, Path(folder) / "base", params)
    run_logged(["dvc", "repro", "prepare"], base, "prepare.log")
    copies = []
    for kind in ("sequential", "cold_runner", "runner"):
        copies.append(Path(folder) / kind)
        shutil.copytree(base, copies[-1], symlinks=True)
    shutil.rmtree(base)
    return copies


def compare(root, folder, params, targets):
    """({way: seconds}, sequential project, runner project) for `targets` (every stage when empty)
    of a project of `params`, run by sequential `dvc repro`, by the cold runner and by the runner."""
    sequential, cold_runner, runner = prepared_copies(root, folder, params)
    grid = [sys.executable, "-m", "fashion_pipeline.tools.grid", *targets]
    seconds = {"sequential": run_logged(["dvc", "repro", *targets], sequential, "repro.log"),
               "cold_runner": run_logged([*grid, "--cold"], cold_runner, "grid.log"),
               "runner": run_logged(grid, runner, "grid.log")}
    return seconds, sequential, runner


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
        print(f"bench: the {label} grid, by sequential `dvc repro`, then by the runner cold and warm", flush=True)
        seconds, sequential, runner = compare(root, Path(workspace) / label, grid_params, grid_targets)
        results.update({f"{label}_{way}_seconds": took for way, took in seconds.items()})
        results.update({f"{label}_runner_speedup": seconds["sequential"] / seconds["runner"],
                        f"{label}_warm_speedup": seconds["cold_runner"] / seconds["runner"]})
        # The runner's own work (DVC's graph, its checks, `dvc commit`), beside its stages'.
        own_work = files.read_json(runner / LOG_DIR / "own_work.json")
        results[f"{label}_runner_own_work"] = {
            **own_work["seconds"], "stages_run": own_work["stages_run"],
            "share_of_runner_seconds": sum(own_work["seconds"].values()) / seconds["runner"]}
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
        # Forked warm (the runner) against a process of its own (`dvc repro`): every epoch's numbers.
        histories = [(Path(project) / run.results_dir / "history.csv").read_bytes() for project in (sequential, runner)]
        rates["runner_history_equals_sequential"] = histories[0] == histories[1]
        results["slice_stages"][address] = rates
    # Run once more, alone, in the sequential project, where nothing runs beside them: each as its
    # own process, and forked warm as the runner starts it; then their evaluations, whole.
    env = project_env(sequential, own_store=True)
    for key, warm in (("breakdown", False), ("breakdown_warm", True)):
        results[key] = {address: breakdown(sequential, address, env, warm) for address in params["bench"]["breakdown"]}
    results["evaluation"] = evaluation_seconds(sequential, params["bench"]["breakdown"], env)
    committed = committed_grid(Path(root) / "results", params)
    codes = {runs.run_of(address).kind_spec.code for address in params["bench"]["breakdown"]}
    # Estimated only where there is a committed grid and every part of it was measured here.
    measured = committed is not None and {code for code, _ in committed[0]} <= codes and results["evaluation"]["stages"]
    results["grid_overhead"] = None if not measured else {
        way: grid_overhead(*committed, costliest_by_code(results[key]), results["evaluation"][f"{way}_outside_seconds"])
        for way, key in (("cold", "breakdown"), ("warm", "breakdown_warm"))}
    return results


def outside_arithmetic(parts):
    """A breakdown's seconds in all but its epochs' training and measurement."""
    return sum(seconds for part, seconds in parts.items() if part not in ARITHMETIC)


def costliest_by_code(breakdowns):
    """Of the stages broken down (by address), the parts of each code's stage with the most time
    outside its arithmetic: an estimate from them leans high."""
    by_code = {}
    for address, timed in breakdowns.items():
        code = runs.run_of(address).kind_spec.code
        if code not in by_code or outside_arithmetic(timed["parts"]) > outside_arithmetic(by_code[code]):
            by_code[code] = timed["parts"]
    return by_code


def evaluation_seconds(project, addresses, env):
    """The evaluations of the trained `addresses` that have one, each run as its own process and
    forked warm: their wall seconds from start to exit, and the mean of that outside the stage's
    own `evaluate_seconds`, by way."""
    timed = {}
    for address in addresses:
        run = runs.run_of(address)
        if run.kind_spec.evaluate_group:
            evaluate = runs.address(run.kind_spec.evaluate_group, run.name, run.seed)
            for way, warm in (("cold", False), ("warm", True)):
                seconds = stage_seconds(project, evaluate, env, warm)
                own = files.read_json(Path(project) / run.results_dir / "evaluation.json")["evaluate_seconds"]
                timed.setdefault(evaluate, {}).update({f"{way}_seconds": seconds, f"{way}_evaluate_seconds": own})
    return {"stages": timed, **{f"{way}_outside_seconds": statistics.mean(
        stage[f"{way}_seconds"] - stage[f"{way}_evaluate_seconds"] for stage in timed.values()) if timed else None
        for way in ("cold", "warm")}}


def committed_grid(results, params):
    """The committed grid in `results`: ([(code, train_seconds)] of its runs, [evaluate_seconds]
    of its evaluations); None where no run is committed (a fresh project)."""
    # The code of a run by its folder under seed_<n>/: its kind's folder, or an experiment's name.
    codes = {kind.folder: kind.code for kind in runs.KINDS.values() if kind.folder}
    codes.update({name: runs.KINDS[kind].code for kind in ("lowlevel", "keras") for name in params["experiments"][kind]})
    trained = [(codes[path.parent.relative_to(results).parts[1]], files.read_json(path)["train_seconds"])
               for path in sorted(Path(results).glob("seed_*/**/run.json"))]
    evaluated = [files.read_json(path)["evaluate_seconds"] for path in sorted(Path(results).glob("seed_*/**/evaluation.json"))]
    return (trained, evaluated) if trained else None


def grid_overhead(trained, evaluated, parts, evaluation_outside):
    """A grid's time outside its arithmetic, estimated from its runs' recorded seconds and one way
    of starting stages as measured here: each training stage takes its `train_seconds` and what
    the measured stage of its code (`parts`, a breakdown by code) spent beyond that clock, and its
    overhead is all the measured stage spent but its epochs' training and measurement, whatever
    the run's own size; each evaluation takes its `evaluate_seconds` and `evaluation_outside`, its
    overhead. Optimizer runs save no model, yet are charged a Part A stage's model save and
    logging: the estimate leans high."""
    def beyond(code):
        return sum(parts[code][part] for part in BEYOND_TRAIN_SECONDS)

    seconds = sum(train + beyond(code) for code, train in trained) + sum(evaluated) \
        + len(evaluated) * evaluation_outside
    outside = sum(outside_arithmetic(parts[code]) for code, _ in trained) + len(evaluated) * evaluation_outside
    return {"training_stages": len(trained), "evaluations": len(evaluated), "stage_hours": seconds / 3600,
            "overhead_hours": outside / 3600, "overhead_share": outside / seconds}
