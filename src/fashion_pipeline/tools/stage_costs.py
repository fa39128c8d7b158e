"""How long each stage of the grid takes, for the runner's order and its time left: the time
recorded by the stage's last run (at any seed, on the machine that ran it), and for a stage
never run, its arithmetic scaled by the recorded ones."""

import json
from pathlib import Path

from fashion_pipeline import runs
from fashion_pipeline.data import CLASS_NAMES, FEATURE_COUNT
from fashion_pipeline.params import all_experiments


def estimate_seconds(address):
    """A stage's time on the machine that ran it last, at any seed (0 when none is known)."""
    run = runs.run_of(address)
    if run is None:
        return 0.0
    # The address of a run that is not its training stage's is its evaluate stage's.
    evaluates = address != run.stage
    file, key = ("evaluation.json", "evaluate_seconds") if evaluates else ("run.json", "stage_seconds")
    folder = Path(run.kind_spec.folder, run.name).as_posix()
    for record in sorted(Path("results").glob(f"seed_*/{folder}/{file}")):
        try:
            return float(json.loads(record.read_text())[key])
        except (OSError, ValueError, KeyError):
            continue
    return 0.0


def layer_sizes(hidden_units):
    """An MLP's layer sizes, from the image's pixels through its hidden layers to the classes."""
    return [FEATURE_COUNT, *hidden_units, len(CLASS_NAMES)]


def weight_count(sizes):
    return sum(fan_in * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def training_cost(address, params):
    """A training stage's arithmetic in its own units, epochs x weights (every stage of a
    project trains on the same images), for the stages no time is recorded for; 0 for the
    others, which train nothing."""
    run, experiments = runs.run_of(address), all_experiments(params)
    if run is None or address != run.stage:
        return 0.0
    if run.kind == "optimizer":
        spec, epochs = experiments[params["optimizers"]["network"]], params["optimizers"]["epochs"]
    elif run.name in experiments:
        spec = experiments[run.name]
        epochs = spec["epochs"]
    else:
        return 0.0
    return float(epochs * weight_count(layer_sizes(spec["hidden_units"])))


def fill_estimates(recorded, costs):
    """The recorded seconds, and for a stage without them its cost at the median seconds per
    unit of cost of the recorded ones (its cost alone when none is recorded: only the order of
    the stages counts then)."""
    rates = sorted(recorded[address] / costs[address] for address in recorded
                   if recorded[address] > 0 and costs[address] > 0)
    rate = rates[len(rates) // 2] if rates else 1.0
    return {address: recorded[address] or costs[address] * rate for address in recorded}


def time_left(addresses, workers):
    """What `addresses` take on `workers` by the recorded stage times, in words ("about 1.2 h",
    "about 25 min"); None when no time is recorded for any of them."""
    seconds = sum(estimate_seconds(address) for address in addresses) / workers
    if not seconds:
        return None
    return f"about {seconds / 3600:.1f} h" if seconds >= 3600 else f"about {max(1, round(seconds / 60))} min"
