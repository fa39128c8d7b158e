"""The verdicts over seeds: a measure's interval, the claims judged, the best runs. Inputs are
`name -> {seed: Run}` mappings (judging/results.py), so tests can build them by hand; the
statistics are statistics.py's."""

import dataclasses
import functools

import numpy as np

from fashion_pipeline.judging import statistics
from fashion_pipeline.judging.claims import CLAIMS, Claim, measure_value, measure_words
from fashion_pipeline.judging.statistics import Verdict

# Final-epoch measures that `evaluate` also gives image by image (predictions.csv): their
# intervals carry the sampling of the test images as well as the seeds.
PER_IMAGE = {"test_loss": lambda frame: frame["loss"].to_numpy(float),
             "test_accuracy": lambda frame: (frame["actual"] == frame["predicted"]).to_numpy(float)}


def values_by_seed(runs, measure, target=None):
    """{seed: value} of one measure over the seeds a run has."""
    return {seed: measure_value(run, measure, target) for seed, run in runs.items()}


def per_image_table(runs, measure, seeds):
    """Seeds-by-images values of a PER_IMAGE measure, the images in the same order for every seed."""
    frames = [runs[seed].predictions for seed in seeds]
    for frame in frames[1:]:
        if not np.array_equal(frame["actual"].to_numpy(), frames[0]["actual"].to_numpy()):
            raise ValueError(f"{runs[seeds[0]].name}: predictions of different seeds list different test images")
    return np.stack([PER_IMAGE[measure](frame) for frame in frames])


def measured(first, second, measure, confidence, target=None):
    """The interval of a run's measure (second None) or of the paired difference first - second,
    over the seeds they share: with the images as a source of noise where the measure has them."""
    seeds = sorted(set(first) & set(second)) if second is not None else sorted(first)
    if not seeds:
        return None
    if measure in PER_IMAGE and all(run.has_predictions for pool in (first, second or {}) for run in pool.values()):
        table = per_image_table(first, measure, seeds)
        if second is not None:
            table = table - per_image_table(second, measure, seeds)
        return statistics.two_way_interval(table, confidence)
    values = values_by_seed({seed: first[seed] for seed in seeds}, measure, target)
    if second is None:
        return statistics.interval(values.values(), confidence)
    return statistics.paired_interval(values, values_by_seed({seed: second[seed] for seed in seeds}, measure, target),
                                      confidence)


def params_value(params, dotted):
    return functools.reduce(lambda node, key: node[key], dotted.split("."), params)


def best_rate(grid_runs, optimizer_runs):
    """The run of a rate grid with the lowest final held-out loss, mean over its seeds."""
    means = {name: np.mean([run.value("val_loss") for run in optimizer_runs[name].values()])
             for name in grid_runs if optimizer_runs.get(name)}
    return min(means, key=means.get) if means else None


def claim_runs(claim, experiments, optimizer_runs, params):
    """The two run names a claim compares (best rates resolved) and their `{seed: Run}`."""
    names = [claim.first, claim.second]
    if claim.best_rate:
        grids = params["optimizers"]["rate_grids"]
        names = [best_rate(grids[name], optimizer_runs) if name in grids else name for name in names]
    pool = optimizer_runs if claim.optimizer else experiments
    return names, [pool.get(name, {}) if name else None for name in names]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One claim, judged: everything its sentence and its table row say."""
    claim: Claim
    runs: tuple  # the run names compared (a best rate resolved), the second None for one value
    labels: tuple  # the same runs in words
    found: statistics.Interval | None  # at the claim's level (Holm's, for a primary claim)
    margin: float  # the value of the claim's margin
    primary: bool
    p_value: float  # Holm-adjusted for a primary claim
    verdict: Verdict
    seeds_needed: statistics.SeedsNeeded | None  # for an inconclusive verdict only
    target: float | None = None  # the params.yaml value the measure reads (claim.target), if any

    @property
    def measure_words(self):
        return measure_words(self.claim.measure, self.target)

    @property
    def difference_name(self):
        return " − ".join(name for name in self.runs if name)


def judge_all(experiments, optimizer_runs, params, claims=CLAIMS, labels=None):
    """Every claim judged, its runs named by `labels` (run name -> words; the name itself where
    missing). Primary claims (report.primary_claims) are one family: Holm's method
    adjusts their p-values, and each one's interval is drawn at the level that decides as the
    adjusted p does (alpha * p / adjusted p). Other claims are exploratory, each at the level
    of report.confidence."""
    settings = params["report"]
    alpha = 1 - settings["confidence"]
    primary = set(settings["primary_claims"])
    rows = []
    for claim in claims:
        names, (first, second) = claim_runs(claim, experiments, optimizer_runs, params)
        ran = first and (second is None or second)
        target = params_value(params, claim.target) if claim.target else None
        found = measured(first, second, claim.measure, settings["confidence"], target) if ran else None
        margin = settings["margins"][claim.margin]
        p_value = statistics.p_value(found, claim.direction, margin) if found else 1.0
        rows.append([claim, tuple(names), found, margin, p_value, target])
    family = [index for index, row in enumerate(rows) if row[0].name in primary and row[2] is not None]
    adjusted = dict(zip(family, statistics.holm([rows[index][4] for index in family])))
    findings = []
    for index, (claim, names, found, margin, p_value, target) in enumerate(rows):
        if index in adjusted and found is not None:
            level = alpha * (p_value / adjusted[index] if adjusted[index] > 0 else 1.0)
            found, p_value = found.at(1 - level), adjusted[index]
        verdict = statistics.verdict(found, claim.direction, margin)
        needed = statistics.seeds_needed(found, claim.direction, margin) if verdict is Verdict.INCONCLUSIVE else None
        words = tuple((labels or {}).get(name, name) if name else None for name in names)
        findings.append(Finding(claim, names, words, found, margin, claim.name in primary, p_value, verdict, needed,
                                target))
    return findings


def best(runs_by_name, measure, highest=True):
    """The run name with the best mean of `measure` over its seeds (None when none has run)."""
    means = {name: np.mean(list(values_by_seed(runs, measure).values())) for name, runs in runs_by_name.items() if runs}
    if not means:
        return None
    return (max if highest else min)(means, key=means.get)


def best_models(experiments, candidates):
    """Among the coursework's Part B models (`holdout.experiments`, the protocol check's
    candidates), the one with the highest mean test accuracy and the one with the lowest mean
    test loss, chosen on the test set as the coursework did; None when none has run."""
    runs = {name: experiments.get(name, {}) for name in candidates}
    return best(runs, "test_accuracy"), best(runs, "test_loss", highest=False)
