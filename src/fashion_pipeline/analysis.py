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


def dropout_table(experiments, results):
    """Each dropout variant beside the model with the same layers and no dropout."""
    rows = []
    for name, spec in experiments.items():
        rates = spec.get("dropout", 0.0)
        if spec["kind"] != "keras" or not np.any(np.asarray(rates) > 0):
            continue
        baseline = next((other for other, candidate in experiments.items()
                         if candidate == {**spec, "dropout": candidate.get("dropout")}
                         and not np.any(np.asarray(candidate.get("dropout", 0.0)) > 0)), None)
        row = {"experiment": name, "dropout": str(rates), "baseline": baseline or "none"}
        if results.get(name) is None or baseline is None or results.get(baseline) is None:
            rows.append({**row, "status": NOT_RUN})
            continue
        ours, base = measures(results[name]), measures(results[baseline])
        rows.append({
            **row, "status": "done",
            "val_loss": ours["val_loss"], "baseline_val_loss": base["val_loss"],
            "val_accuracy": ours["val_accuracy"], "baseline_val_accuracy": base["val_accuracy"],
            "gap_loss": ours["gap_loss"], "baseline_gap_loss": base["gap_loss"],
            "gap_removed": base["gap_loss"] - ours["gap_loss"],
        })
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
        twin = next((other for other, candidate in experiments.items()
                     if {**candidate, "scale": spec["scale"]} == spec and other != name), None)
        seed = seed_values.get(twin, {}).get("val_loss")
        row = {"experiment": name, "twin": twin or "none", "seed_val_loss": seed if seed is not None else "none"}
        if twin is None or results.get(name) is None or results.get(twin) is None or seed is None:
            rows.append({**row, "status": NOT_RUN})
            continue
        departing, default = measures(results[name]), measures(results[twin])
        rows.append({
            **row, "status": "done",
            "val_loss_default_scale": default["val_loss"], "val_loss_other_scale": departing["val_loss"],
            "train_loss_default_scale": default["train_loss"], "train_loss_other_scale": departing["train_loss"],
            "val_accuracy_default_scale": default["val_accuracy"], "val_accuracy_other_scale": departing["val_accuracy"],
            "closer_to_seed": abs(departing["val_loss"] - seed) < abs(default["val_loss"] - seed),
        })
    table = pd.DataFrame(rows)
    done = table[table["status"] == "done"] if len(table) else table
    if len(done) == 0 or len(done) < len(table):
        return table, NOT_RUN, "not every experiment of the check has run"
    verdict = HOLDS if done["closer_to_seed"].all() else FAILS
    evidence = "; ".join(
        f"{row.twin}: seed {row.seed_val_loss:.4f}, default scale {row.val_loss_default_scale:.4f}, "
        f"other scale {row.val_loss_other_scale:.4f}" for row in done.itertuples())
    return table, verdict, evidence
