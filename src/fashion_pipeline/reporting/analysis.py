"""The report's tables and verdicts over seeds. Inputs are `name -> {seed: Run}` mappings
(reporting/results.py), so tests can build them by hand; the statistics are statistics.py's."""

import numpy as np
import pandas as pd

from fashion_pipeline.reporting import statistics
from fashion_pipeline.reporting.claims import CLAIMS, measure_value
from fashion_pipeline.reporting.seed_reference import SEED_VALUES
from fashion_pipeline.reporting.statistics import NOT_RUN

# Measures whose final-epoch value comes from the test-set predictions, so a paired test on the
# images applies: McNemar for accuracy, the paired bootstrap for loss.
IMAGE_TESTS = {"test_accuracy": "mcnemar", "test_loss": "bootstrap"}


def values_by_seed(runs, measure, target_val_loss=None):
    """{seed: value} of one measure over the seeds a run has."""
    return {seed: measure_value(run, measure, target_val_loss) for seed, run in runs.items()}


def image_test(first_runs, second_runs, measure, settings):
    """The paired image-level test pooled over the seeds both runs have, as text."""
    seeds = sorted(set(first_runs) & set(second_runs))
    if not seeds or measure not in IMAGE_TESTS:
        return ""
    first = [first_runs[seed].predictions for seed in seeds]
    second = [second_runs[seed].predictions for seed in seeds]
    if IMAGE_TESTS[measure] == "mcnemar":
        only_first, only_second, p_value = statistics.mcnemar(
            np.concatenate([(frame["actual"] == frame["predicted"]).to_numpy() for frame in first]),
            np.concatenate([(frame["actual"] == frame["predicted"]).to_numpy() for frame in second]))
        return f"McNemar over {len(seeds)} seed(s): {only_first} images right only in the first, {only_second} only in the second, p = {p_value:.2g}"
    mean, low, high = statistics.paired_bootstrap([frame["loss"].to_numpy() for frame in first],
                                                  [frame["loss"].to_numpy() for frame in second],
                                                  settings["bootstrap_rounds"], seed=0, confidence=settings["confidence"])
    return f"paired bootstrap over images, {len(seeds)} seed(s): {mean:+.4f} [{low:+.4f}, {high:+.4f}]"


def margin_for(measure, settings):
    """The equivalence margin of a measure: the accuracy margin for accuracies and shares, the
    loss margin for the rest (losses, gaps); epochs and step lengths have none."""
    if measure in ("epochs_to_target", "first_step_length", "mean_abs_weight"):
        return 0.0
    return settings["margins"]["accuracy"] if "accuracy" in measure or "share" in measure else settings["margins"]["loss"]


def judge(claim, experiments, optimizer_runs, settings, target_val_loss):
    """One row of the verdict table: what was compared, the interval over seeds, the image-level
    test, and the verdict by statistics.verdict's rules."""
    pool = optimizer_runs if claim.optimizer else experiments
    first = pool.get(claim.first, {})
    second = pool.get(claim.second, {}) if claim.second else None
    row = {"question": claim.question, "claim": claim.statement, "seed": claim.seed_says,
           "compared": f"{claim.first} - {claim.second}" if claim.second else claim.first, "measure": claim.measure}
    if not first or (second is not None and not second):
        return {**row, "seeds": 0, "measured": NOT_RUN, "image_test": "", "verdict": NOT_RUN}
    first_values = values_by_seed(first, claim.measure, target_val_loss)
    if second is None:
        found = statistics.interval(first_values.values(), settings["confidence"])
        test = ""
    else:
        found = statistics.paired_interval(first_values, values_by_seed(second, claim.measure, target_val_loss),
                                           settings["confidence"])
        test = image_test(first, second, claim.measure, settings) if found else ""
    if found is None:
        return {**row, "seeds": 0, "measured": "no seed in common", "image_test": "", "verdict": NOT_RUN}
    verdict = statistics.verdict(found, claim.direction, margin_for(claim.measure, settings))
    return {**row, "seeds": found.count, "measured": found.text(), "image_test": test, "verdict": verdict}


def verdict_table(experiments, optimizer_runs, settings, target_val_loss, claims=CLAIMS):
    return pd.DataFrame([judge(claim, experiments, optimizer_runs, settings, target_val_loss) for claim in claims])


def metric_table(runs_by_name, measures, confidence):
    """Per run name: the seeds done and each measure as mean [95 % interval] over them."""
    rows = []
    for name, runs in runs_by_name.items():
        row = {"experiment": name, "seeds": len(runs)}
        for measure in measures:
            row[measure] = (statistics.interval(values_by_seed(runs, measure).values(), confidence).text()
                            if runs else NOT_RUN)
        rows.append(row)
    return pd.DataFrame(rows)


def best(runs_by_name, measure, confidence, highest=True):
    """The run name with the best mean of `measure` over its seeds (None when none has run)."""
    means = {name: statistics.interval(values_by_seed(runs, measure).values(), confidence).mean
             for name, runs in runs_by_name.items() if runs}
    if not means:
        return None
    return (max if highest else min)(means, key=means.get)


def seed_comparison(experiments, confidence, seed_values=SEED_VALUES):
    """The seed's number beside our mean and interval over seeds, and whether it falls inside."""
    rows = []
    for name, reported in seed_values.items():
        runs = experiments.get(name, {})
        for measure, seed_value in reported.items():
            row = {"experiment": name, "measure": measure, "seed": seed_value}
            if not runs:
                rows.append({**row, "ours": NOT_RUN, "seed_inside": ""})
                continue
            found = statistics.interval(values_by_seed(runs, measure).values(), confidence)
            inside = "yes" if found.low <= seed_value <= found.high else "no"
            rows.append({**row, "ours": found.text(), "seed_inside": inside if found.count > 1 else ""})
    return pd.DataFrame(rows)


def stage_times(experiments, optimizer_runs):
    """Seconds of every training, evaluation and optimizer stage that has run."""
    rows = []
    for name, runs in experiments.items():
        for seed, run in sorted(runs.items()):
            rows.append({"stage": f"train {name} seed {seed}", "seconds": run.record["stage_seconds"]})
            rows.append({"stage": f"evaluate {name} seed {seed}", "seconds": run.evaluation["evaluate_seconds"]})
    for name, runs in optimizer_runs.items():
        for seed, run in sorted(runs.items()):
            rows.append({"stage": f"optimizer {name} seed {seed}", "seconds": run.record["stage_seconds"]})
    return pd.DataFrame(rows, columns=["stage", "seconds"])
