"""Pure functions behind the report: gaps, seed comparisons, noise and verdicts, dropout and
weight summaries. Inputs are plain dicts and DataFrames so tests can build them by hand.

`results` maps an experiment name to None (not run) or a dict with "train" (final metrics),
"evaluate" (test metrics) and "history" (per-epoch DataFrame).
"""

import math

import numpy as np
import pandas as pd

from fashion_pipeline.seed_reference import SEED_VALUES

NOT_RUN = "not run"
HOLDS, FAILS, NOISE = "holds", "does not hold", "within noise"


def measures(result):
    """Every number the report can quote for one experiment, in one flat dict."""
    values = {**result["train"], **result["evaluate"]}
    values["gap_loss"] = values["val_loss"] - values["train_loss"]
    values["gap_accuracy"] = values["train_accuracy"] - values["val_accuracy"]
    values["val_loss_rise"] = values["val_loss"] - values["best_val_loss"]
    return values


def seed_comparison(results, seed_values=SEED_VALUES):
    """seed | ours | difference for every number the seed reports."""
    rows = []
    for name, reported in seed_values.items():
        result = results.get(name)
        for measure, seed_value in reported.items():
            ours = measures(result)[measure] if result else None
            rows.append({
                "experiment": name, "measure": measure, "seed": seed_value,
                "ours": ours if ours is not None else NOT_RUN,
                "difference": ours - seed_value if ours is not None else NOT_RUN,
            })
    return pd.DataFrame(rows)


def noise(measure, first, second=None):
    """Two standard errors of a difference due to the finite evaluation set.

    Accuracy: binomial, sqrt(p(1-p)/n) per model. Loss: the standard error of the mean
    per-image loss that `evaluate` measures. A difference below this is within noise."""
    def standard_error(values):
        if "accuracy" in measure:
            p = values[measure]
            return math.sqrt(p * (1 - p) / values["test_count"])
        return values["test_loss_standard_error"]

    errors = [standard_error(values) for values in (first, second) if values is not None]
    return 2 * math.sqrt(sum(error**2 for error in errors))


def judge(claim, results):
    """(verdict, evidence) for one seed claim; 'not run' when an experiment is missing."""
    statement, first_name, second_name, measure, relation = claim
    names = [name for name in (first_name, second_name) if name]
    if any(results.get(name) is None for name in names):
        return NOT_RUN, "missing: " + ", ".join(name for name in names if results.get(name) is None)
    first = measures(results[first_name])
    second = measures(results[second_name]) if second_name else None
    tolerance = noise(measure, first, second)
    if second is None:
        value = first[measure]
        verdict = HOLDS if value > tolerance else NOISE
        return verdict, f"{first_name} {measure} {value:.4f} (noise ±{tolerance:.4f})"
    difference = first[measure] - second[measure]
    evidence = (f"{first_name} {first[measure]:.4f} vs {second_name} {second[measure]:.4f}: "
                f"difference {difference:+.4f}, noise ±{tolerance:.4f}")
    if relation == "similar":
        return (HOLDS if abs(difference) <= tolerance else FAILS), evidence
    if abs(difference) <= tolerance:
        return NOISE, evidence
    return (HOLDS if difference < 0 else FAILS), evidence


def overfitting_table(results, names):
    """Generalization gap and where validation loss bottoms out, per model."""
    rows = []
    for name in names:
        if results.get(name) is None:
            rows.append({"experiment": name, "status": NOT_RUN})
            continue
        values = measures(results[name])
        rows.append({
            "experiment": name, "status": "done",
            "train_loss": values["train_loss"], "val_loss": values["val_loss"],
            "gap_loss": values["gap_loss"], "gap_accuracy": values["gap_accuracy"],
            "best_val_loss": values["best_val_loss"], "best_val_epoch": values["best_val_epoch"],
            "val_loss_rise": values["val_loss_rise"],
        })
    return pd.DataFrame(rows)


def _twin(experiments, name, key, accepts):
    """The first other experiment whose spec equals `name`'s in every key but `key`, and whose
    value of `key` (None when unset) passes `accepts`."""
    spec = experiments[name]
    return next((other for other, candidate in experiments.items()
                 if other != name and {**candidate, key: None} == {**spec, key: None}
                 and accepts(candidate.get(key))), None)


def _paired(row, results, name, other, label, compared):
    """`row` with name's value of each compared measure beside other's (prefixed by `label`),
    or marked 'not run' when either has no results."""
    if other is None or results.get(name) is None or results.get(other) is None:
        return {**row, "status": NOT_RUN}
    ours, theirs = measures(results[name]), measures(results[other])
    row = {**row, "status": "done"}
    for measure in compared:
        row[measure], row[f"{label}_{measure}"] = ours[measure], theirs[measure]
    return row


def _has_dropout(rates):
    return bool(np.any(np.asarray(rates if rates is not None else 0.0) > 0))


def dropout_table(experiments, results):
    """Each dropout variant beside the model with the same spec and no dropout."""
    rows = []
    for name, spec in experiments.items():
        if spec["kind"] != "keras" or not _has_dropout(spec.get("dropout")):
            continue
        baseline = _twin(experiments, name, "dropout", lambda rates: not _has_dropout(rates))
        row = {"experiment": name, "dropout": str(spec["dropout"]), "baseline": baseline or "none"}
        row = _paired(row, results, name, baseline, "baseline", ("val_loss", "val_accuracy", "gap_loss"))
        if row["status"] == "done":
            row["gap_removed"] = row["baseline_gap_loss"] - row["gap_loss"]
        rows.append(row)
    return pd.DataFrame(rows)


def weight_summary(kernels, near_zero=1e-3):
    """Per weight matrix: mean |w|, sum |w|, sum w^2 and the share of weights near zero."""
    return pd.DataFrame([
        {
            "layer": index + 1, "shape": "x".join(str(size) for size in kernel.shape),
            "mean_abs": float(np.abs(kernel).mean()), "sum_abs": float(np.abs(kernel).sum()),
            "sum_squares": float(np.square(kernel).sum()),
            "share_near_zero": float((np.abs(kernel) < near_zero).mean()),
        }
        for index, kernel in enumerate(kernels)
    ])


def scale_hypothesis(experiments, results, data_scaled, seed_values=SEED_VALUES):
    """Pair each experiment whose pixel scale departs from data.scale with its twin on the
    default scale, beside the seed's validation loss. Returns (table, verdict, evidence): the
    hypothesis holds when every departing run lands closer to the seed's value than its twin."""
    rows = []
    for name, spec in experiments.items():
        if spec.get("scale", data_scaled) == data_scaled:
            continue
        twin = _twin(experiments, name, "scale", lambda scale: scale in (None, data_scaled))
        seed = seed_values.get(twin, {}).get("val_loss")
        row = {"experiment": name, "twin": twin or "none", "seed_val_loss": seed if seed is not None else "none"}
        row = _paired(row, results, name, twin if seed is not None else None, "twin",
                      ("val_loss", "train_loss", "val_accuracy"))
        if row["status"] == "done":
            row["closer_to_seed"] = abs(row["val_loss"] - seed) < abs(row["twin_val_loss"] - seed)
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table) == 0 or (table["status"] != "done").any():
        return table, NOT_RUN, "not every experiment of the check has run"
    verdict = HOLDS if table["closer_to_seed"].all() else FAILS
    evidence = "; ".join(
        f"{row.twin}: seed {row.seed_val_loss:.4f}, default scale {row.twin_val_loss:.4f}, "
        f"{row.experiment} {row.val_loss:.4f}" for row in table.itertuples())
    return table, verdict, evidence


def stage_times(results, optimizer_runs):
    """Seconds of every training, evaluation and optimizer stage that has run, from each
    stage's start to its last output (without the start-up of Python and TensorFlow)."""
    rows = []
    for name, result in results.items():
        if result is not None:
            rows.append({"stage": f"train@{name}", "seconds": result["train"]["stage_seconds"]})
            rows.append({"stage": f"evaluate@{name}", "seconds": result["evaluate"]["evaluate_seconds"]})
    for name, run in optimizer_runs.items():
        if run is not None:
            rows.append({"stage": f"compare_optimizers@{name}", "seconds": run["train"]["stage_seconds"]})
    return pd.DataFrame(rows, columns=["stage", "seconds"])
