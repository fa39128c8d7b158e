"""Every number the report states, measured once: a run's measures (measures.py), their intervals over seeds,
the claims judged, the best runs. Inputs are `name -> {seed: Run}` mappings (judging/results.py),
so tests can build them by hand; the statistics are statistics.py's. `measure_all` hands the
rest of the report plain results (Measured), so no table or section measures anything again."""

import dataclasses
import functools

import numpy as np

from fashion_pipeline.judging import results, statistics
from fashion_pipeline.judging.claims import CLAIMS, Claim
from fashion_pipeline.judging.coursework import like_measure
from fashion_pipeline.judging.measures import measure_value, measure_words
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


def sample(first, second, measure, seeds, target=None):
    """What an interval is drawn from: seeds-by-images values of a PER_IMAGE measure where every
    run has its predictions, else one value per seed; of first - second where second is given."""
    if measure in PER_IMAGE and all(run.has_predictions for pool in (first, second or {}) for run in pool.values()):
        table = per_image_table(first, measure, seeds)
        return table - per_image_table(second, measure, seeds) if second is not None else table
    values = [measure_value(first[seed], measure, target) for seed in seeds]
    if second is None:
        return values
    return [value - measure_value(second[seed], measure, target) for value, seed in zip(values, seeds)]


def measured(first, second, measure, confidence, target=None):
    """The interval of a run's measure (second None) or of the paired difference first - second,
    over the seeds they share: with the images as a source of noise where the measure has them."""
    seeds = sorted(set(first) & set(second)) if second is not None else sorted(first)
    if not seeds:
        return None
    drawn = sample(first, second, measure, seeds, target)
    return statistics.estimate(drawn, confidence)


def params_value(params, dotted):
    return functools.reduce(lambda node, key: node[key], dotted.split("."), params)


def held_out_loss(run):
    """A run's final held-out loss, a diverged run's (NaN) counted as infinite: never the best."""
    loss = run.value("val_loss")
    return loss if np.isfinite(loss) else np.inf


def best_rate(grid_runs, optimizer_runs):
    """The run of a rate grid with the lowest final held-out loss, mean over its seeds."""
    means = {name: np.mean([held_out_loss(run) for run in optimizer_runs[name].values()])
             for name in grid_runs if optimizer_runs.get(name)}
    return min(means, key=means.get) if means else None


def best_rate_by_seed(grid_runs, optimizer_runs):
    """Seed by seed, the run of a rate grid with the lowest final held-out loss, as a user tuning
    the rate on the held-out split in each training would choose it (nested): {seed: run name}."""
    chosen = {}
    for seed in sorted({seed for name in grid_runs for seed in optimizer_runs.get(name, {})}):
        losses = {name: held_out_loss(optimizer_runs[name][seed]) for name in grid_runs
                  if seed in optimizer_runs.get(name, {})}
        chosen[seed] = min(losses, key=losses.get)
    return chosen


def nested_words(chosen, labels, specs):
    """A rate grid chosen seed by seed, in words: "Adam at each seed's best rate (rate 0.003 in 4
    seeds, rate 0.01 in 1 seed)"."""
    counts = {}
    for name in chosen.values():
        counts[name] = counts.get(name, 0) + 1
    rule = labels.get(next(iter(counts)), "").split(", rate")[0]
    rates = ", ".join(f"rate {specs[name]['learning_rate']:g} in {count} seed{'s' if count > 1 else ''}"
                      for name, count in sorted(counts.items(), key=lambda item: -item[1]))
    return f"{rule} at each seed's best rate ({rates})"


def claim_runs(claim, experiments, optimizer_runs, params, labels=None):
    """The two runs a claim compares, named, in words, and as `{seed: Run}`; a best-rate claim's
    arm is its rate grid's run chosen seed by seed (best_rate_by_seed), named by those runs."""
    names = [claim.first, claim.second]
    pool = optimizer_runs if claim.optimizer else experiments
    words = [(labels or {}).get(name, name) if name else None for name in names]
    runs = [pool.get(name, {}) if name else None for name in names]
    if claim.best_rate:
        grids, specs = params["optimizers"]["rate_grids"], params["optimizers"]["runs"]
        for index, name in enumerate(names):
            chosen = best_rate_by_seed(grids[name], optimizer_runs) if name in grids else {}
            if chosen:
                runs[index] = {seed: optimizer_runs[run][seed] for seed, run in chosen.items()}
                names[index] = "/".join(dict.fromkeys(chosen.values()))
                words[index] = nested_words(chosen, labels or {}, specs)
    return names, words, runs


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
    cpus: tuple = ()  # the CPU kinds its runs were trained on (results.cpu_kinds)
    mixed_cpu_seeds: tuple = ()  # the seeds whose two runs were trained on different kinds
    unrecorded_cpu_seeds: tuple = ()  # the seeds where a run's CPU kind is not recorded

    @property
    def measure_words(self):
        return measure_words(self.claim.measure, self.target)

    @property
    def difference_name(self):
        return " − ".join(name for name in self.runs if name)


def judge_all(experiments, optimizer_runs, params, claims=CLAIMS, labels=None, only_seeds=None):
    """Every claim judged, its runs named by `labels` (run name -> words; the name itself where
    missing). Primary claims (report.primary_claims) are one family: Holm's method
    adjusts their p-values, and each one's interval is drawn at the level that decides as the
    adjusted p does (alpha * p / adjusted p). Other claims are exploratory, each at the level
    of report.confidence. `only_seeds` (claim name -> seeds) judges a claim on those seeds alone."""
    settings = params["report"]
    alpha = 1 - settings["confidence"]
    primary = set(settings["primary_claims"])
    rows = []
    for claim in claims:
        names, words, (first, second) = claim_runs(claim, experiments, optimizer_runs, params, labels)
        if only_seeds is not None:
            kept = set(only_seeds.get(claim.name, ()))
            first, second = ({seed: run for seed, run in pool.items() if seed in kept} if pool is not None else None
                             for pool in (first, second))
        ran = first and (second is None or second)
        target = params_value(params, claim.target) if claim.target else None
        margin = settings["margins"][claim.margin]
        found = measured(first, second, claim.measure, settings["confidence"], target) if ran else None
        # A measure a run cannot give (an epoch it never reached) leaves the claim not run.
        found = found if found is None or np.isfinite(found.mean) else None
        p_value = statistics.p_value(found, claim.direction, margin) if found else 1.0
        rows.append([claim, tuple(names), tuple(words), found, margin, p_value, target, results.cpu_kinds(first, second)])
    family = [index for index, row in enumerate(rows) if row[0].name in primary and row[3] is not None]
    adjusted = dict(zip(family, statistics.holm([rows[index][5] for index in family])))
    findings = []
    for index, (claim, names, words, found, margin, p_value, target, cpus) in enumerate(rows):
        if index in adjusted and found is not None:
            level = alpha * (p_value / adjusted[index] if adjusted[index] > 0 else 1.0)
            found, p_value = found.at(1 - level), adjusted[index]
        verdict = statistics.verdict(found, claim.direction, margin)
        needed = statistics.seeds_needed(found, claim.direction, margin) if verdict is Verdict.INCONCLUSIVE else None
        findings.append(Finding(claim, names, words, found, margin, claim.name in primary, p_value, verdict, needed,
                                target, *cpus))
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


# What the report's tables show of each pool of runs: every experiment's summary measures (the
# dropout studies' with the accuracy at the best epoch too), each held-out run's measures on both
# sets, each optimizer run's final and best values and its epochs to the target loss.
SUMMARY_MEASURES = ("train_loss", "test_loss", "best_val_loss", "gap_loss", "test_accuracy")
DROPOUT_STUDIES = ("dropout_4l", "dropout_5l")
HELD_OUT_MEASURES = ("held_out_loss", "held_out_accuracy", "test_loss", "test_accuracy")
OPTIMIZER_MEASURES = ("train_loss", "val_loss", "test_loss", "test_accuracy", "epochs_to_target")
# The best run of a pool by a measure: the highest accuracy, the lowest loss.
BEST_OF = {"experiments": ("test_accuracy", "test_loss"),
           "holdout": ("held_out_loss", "test_loss", "held_out_accuracy", "test_accuracy")}


@dataclasses.dataclass(frozen=True)
class Measured:
    """Every interval and best run the report shows, measured once (measure_all)."""
    intervals: dict  # (pool, run name, measure) -> Interval, for the runs that have run
    over_seeds: dict  # (run name, measure) -> Interval over the seeds alone (analysis.over_seeds)
    best: dict  # (pool, measure) -> the run with the best mean (None when none has run)


def over_seeds(experiments, coursework_values, starting_losses, confidence, running_mean_runs=()):
    """Intervals beside the coursework's values, (run name, measure) -> Interval, each measured as
    its value was (like_measure; validation numbers on the test images, `running_mean_runs`'
    training numbers as a running mean); and each regularized run's first total loss (measure
    "starting_total_loss") beside the one read off its curves, over the seeds alone."""
    found = {}
    for name, reported in coursework_values.items():
        for measure in reported if experiments.get(name) else ():
            ours = like_measure(measure, name in running_mean_runs)
            found[name, measure] = measured(experiments[name], None, ours, confidence)
    samples = {(name, "starting_total_loss"): [run.history["train_total_loss"].iloc[0]
                                               for run in experiments[name].values()]
               for name in starting_losses if experiments.get(name)}
    return found | {key: statistics.estimate(values, confidence) for key, values in samples.items()}


def measure_all(inputs, coursework_values, starting_losses):
    """The intervals of every table of the report, and the best runs, from the Inputs; the
    coursework's values say which measures of which runs are set beside its numbers."""
    params, confidence = inputs.params, inputs.confidence
    candidates = {name: inputs.experiments.get(name, {}) for name in params["holdout"]["experiments"]}
    # A configuration may leave a dropout study out (the demo, the tests' subsets).
    studies = [params["studies"][study] for study in DROPOUT_STUDIES if study in params["studies"]]
    dropout = {name for study in studies for name in study["experiments"]}
    cells = [("experiments", name, runs, measure, None) for name, runs in inputs.experiments.items()
             for measure in SUMMARY_MEASURES + (("best_val_accuracy",) if name in dropout else ())]
    cells += [("holdout", name, runs, measure, None) for name, runs in inputs.holdout_runs.items()
              for measure in HELD_OUT_MEASURES]
    cells += [("optimizers", name, runs, measure, params["optimizers"]["target_val_loss"])
              for name, runs in inputs.optimizer_runs.items() for measure in OPTIMIZER_MEASURES]
    pools = {"experiments": candidates, "holdout": inputs.holdout_runs}
    return Measured(intervals={(pool, name, measure): measured(runs, None, measure, confidence, target)
                               for pool, name, runs, measure, target in cells if runs},
                    over_seeds=over_seeds(inputs.experiments, coursework_values, starting_losses, confidence,
                                          set(params["experiments"].get("keras", {}))),
                    best={(pool, measure): best(pools[pool], measure, highest="accuracy" in measure)
                          for pool, measures in BEST_OF.items() for measure in measures})
