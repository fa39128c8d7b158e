"""How long each stage of the grid takes, for the runner's order and its time left: the time
recorded by the stage's last run (at any seed, on the machine that ran it) in this project's
results/, or else in another project's, scaled to this project's epochs and images (the demo and
verify read the committed grid's); for a stage never run, its arithmetic scaled by the recorded
ones. While the grid runs, the clock corrects the estimate: the stages that ended took so many
times their estimates, and the stages left will too."""

import json
import time
from pathlib import Path

import numpy as np

from fashion_pipeline import runs
from fashion_pipeline.data import CLASS_NAMES, FEATURE_COUNT
from fashion_pipeline.params import all_experiments, load_params


def recorded_seconds(address, results="results"):
    """(a stage's seconds, the part of them that grows with its epochs and images) as its last
    run at any seed recorded them in `results`; None when none is recorded."""
    run = runs.run_of(address)
    if run is None:
        return None
    # The address of a run that is not its training stage's is its evaluate stage's.
    evaluates = address != run.stage
    file = "evaluation.json" if evaluates else "run.json"
    folder = Path(run.kind_spec.folder, run.name).as_posix()
    for record in sorted(Path(results).glob(f"seed_*/{folder}/{file}")):
        try:
            values = json.loads(record.read_text())
            if evaluates:
                return float(values["evaluate_seconds"]), float(values["evaluate_seconds"])
            return float(values["stage_seconds"]), float(values.get("train_seconds", values["stage_seconds"]))
        except (OSError, ValueError, KeyError):
            continue
    return None


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


def size(address, params, counts):
    """A stage's work, to scale a time recorded at another size: a training stage's arithmetic
    times its training images, an evaluation's test images. `counts`: the full splits' image
    counts (prepare's results/data.json)."""
    data = params["data"]
    if address == runs.run_of(address).stage:
        return training_cost(address, params) * (data["limit_train"] or counts["train_count"])
    return float(data["limit_test"] or counts["test_count"])


class Recorded:
    """The stage times a project's results/ records, scaled to the size of another project."""

    def __init__(self, folder="."):
        self.folder = Path(folder)
        self.params = load_params(self.folder / "params.yaml")
        try:
            self.counts = json.loads((self.folder / "results" / "data.json").read_text())
        except (OSError, ValueError):
            self.counts = None

    def seconds(self, address, params):
        """What `address` takes at the size `params` give it, by this project's records (0 when
        none is recorded, or its size cannot be compared)."""
        recorded = recorded_seconds(address, self.folder / "results")
        if recorded is None:
            return 0.0
        seconds, growing = recorded
        if params == self.params:
            return seconds
        try:
            scale = size(address, params, self.counts) / size(address, self.params, self.counts)
        except (TypeError, KeyError, ZeroDivisionError):
            # No data.json there, or a run its params do not have.
            return 0.0
        return seconds - growing + growing * scale


def fill_estimates(recorded, costs):
    """The recorded seconds, and for a stage without them its cost at the median seconds per
    unit of cost of the recorded ones (its cost alone when none is recorded: only the order of
    the stages counts then)."""
    rates = sorted(recorded[address] / costs[address] for address in recorded
                   if recorded[address] > 0 and costs[address] > 0)
    rate = rates[len(rates) // 2] if rates else 1.0
    return {address: recorded[address] or costs[address] * rate for address in recorded}


def estimates(addresses, params, sources):
    """Each stage's seconds by the first of `sources` (Recorded) that records it, the rest
    filled by their arithmetic; {} when no source records any of them."""
    recorded = {address: next((seconds for source in sources if (seconds := source.seconds(address, params))), 0.0)
                for address in addresses}
    if not any(recorded.values()):
        return {}
    return fill_estimates(recorded, {address: training_cost(address, params) for address in addresses})


def in_words(seconds):
    if seconds >= 3600:
        return f"about {seconds / 3600:.1f} h"
    # In minutes a short grid's estimate would not move while it runs.
    if seconds >= 150:
        return f"about {round(seconds / 60)} min"
    # Tens of seconds, as a run to run spread allows; under 15 s, whole seconds.
    return f"about {round(seconds, -1):.0f} s" if seconds >= 15 else f"about {max(1, round(seconds))} s"


class TimeLeft:
    """The time left of a grid, by its own clock: the time so far, times the work left over the
    work done. A stage's work is its start-up (its process, imports) and its estimate times a
    factor; once stages of two sizes have ended, both are fitted to the seconds they ran. Before
    that, the stages that ended scale the estimates, and a stage with no estimate (the report, a
    stage of no run) counts as the median such stage ran."""

    def __init__(self, seconds, workers, clock=time.perf_counter):
        self.seconds, self.workers, self.clock = dict(seconds), workers, clock
        self.started, self.ended_stages = clock(), []

    def ended(self, address, took):
        self.ended_stages.append((self.seconds.pop(address, 0.0), took))

    def skipped(self, address):
        self.seconds.pop(address, None)

    def fitted(self):
        """(the seconds of a stage with no estimate, the start-up of a stage with one, the
        seconds per estimated second)."""
        estimated, took = np.array(self.ended_stages or [(0.0, 0.0)]).T
        if np.ptp(estimated) > 0:
            factor, start_up = np.polyfit(estimated, took, 1)
            if factor < 0:
                return took.mean(), took.mean(), 0.0
            if start_up < 0:
                return 0.0, 0.0, took @ estimated / (estimated @ estimated)
            return start_up, start_up, factor
        unestimated = took[estimated == 0] if self.ended_stages else []
        factor = took[estimated > 0].sum() / estimated.sum() if estimated.sum() else 1.0
        return (float(np.median(unestimated)) if len(unestimated) else 0.0), 0.0, factor

    def words(self, left):
        """What the stages `left` take, in words ("about 1.2 h", "about 25 min"); None before
        anything is known."""
        unestimated, start_up, factor = self.fitted()

        def work(estimate):
            return start_up + factor * estimate if estimate else unestimated

        done = sum(work(estimate) for estimate, _ in self.ended_stages)
        work_left = sum(work(self.seconds.get(address, 0.0)) for address in left)
        # The clock scales the estimates once a stage with one has ended: the download ending in
        # a few seconds says nothing of how long training takes.
        timed = any(estimate for estimate, _ in self.ended_stages)
        seconds = (self.clock() - self.started) * work_left / done if done and timed else work_left / self.workers
        return in_words(seconds) if seconds else None
