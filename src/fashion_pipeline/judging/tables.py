"""The report's tables of numbers, as DataFrames: each is written as a CSV under tables/ and
shown on the page. Measures are given as mean [interval] over seeds (analysis.measured)."""

import pandas as pd

from fashion_pipeline.judging import analysis, statistics
from fashion_pipeline.judging.coursework import COURSEWORK_STARTING_TOTAL_LOSS, COURSEWORK_VALUES
from fashion_pipeline.judging.statistics import NOT_RUN_TEXT


def verdict_table(findings):
    """One row per claim: what is compared on which measure, the interval, the verdict."""
    rows = []
    for finding in findings:
        claim, found = finding.claim, finding.found
        rows.append({
            "question": claim.question, "claim": claim.statement, "coursework": claim.coursework_says,
            "compared": finding.difference_name, "measure": finding.measure_words,
            "family": "primary" if finding.primary else "exploratory",
            "seeds": found.count if found else 0,
            "mean [interval]": found.text(1 if claim.margin == "epochs" else 4) if found else NOT_RUN_TEXT,
            "level": f"{found.confidence:.1%}" if found else "",
            "noise covered": found.covers if found else "",
            "p": f"{finding.p_value:.2g}" if found else "",
            "verdict": finding.verdict.value,
            "seeds needed": finding.seeds_needed.text() if finding.seeds_needed else ""})
    return pd.DataFrame(rows)


def verdict_page_table(findings):
    """The verdict table as the page shows it, narrow enough for A4: what is compared on which
    measure, the interval with its level and noise, the verdict. The full table is the CSV."""
    full = verdict_table(findings)
    return pd.DataFrame({
        "claim": full["claim"] + full["family"].map({"primary": " (primary)", "exploratory": ""}),
        "the coursework": full["coursework"],
        "compared, measure": full["compared"] + "; " + full["measure"],
        "mean [interval]": full["mean [interval]"] + full.apply(
            lambda row: f" ({row['level']}, {row['noise covered']})" if row["level"] else "", axis=1),
        "p": full["p"], "verdict": full["verdict"], "seeds needed": full["seeds needed"]})


def metric_table(runs_by_name, measures, confidence):
    """Per run name: the seeds done and each measure as mean [interval] over them (with the test
    images as a source of noise for the per-image measures)."""
    rows = []
    for name, runs in runs_by_name.items():
        row = {"experiment": name, "seeds": len(runs)}
        for measure in measures:
            row[measure] = analysis.measured(runs, None, measure, confidence).text() if runs else NOT_RUN_TEXT
        rows.append(row)
    return pd.DataFrame(rows)


def coursework_comparison(experiments, confidence, coursework_values=COURSEWORK_VALUES):
    """The coursework's number beside our mean and interval over seeds, and whether it falls inside."""
    rows = []
    for name, reported in coursework_values.items():
        runs = experiments.get(name, {})
        for measure, value in reported.items():
            row = {"experiment": name, "measure": measure, "coursework": value}
            if not runs:
                rows.append({**row, "ours": NOT_RUN_TEXT, "coursework inside": ""})
                continue
            found = statistics.interval(analysis.values_by_seed(runs, measure).values(), confidence)
            inside = "yes" if found.low <= value <= found.high else "no"
            rows.append({**row, "ours": found.text(), "coursework inside": inside if found.count > 1 else ""})
    return pd.DataFrame(rows)


def stage_times(experiments, optimizer_runs, holdout_runs):
    """Minutes of training, evaluation and optimizer stages, summed by part and seed."""
    rows = []
    for part, pool in (("Part A and B training", experiments), ("optimizer study", optimizer_runs),
                       ("protocol check", holdout_runs)):
        for runs in pool.values():
            for seed, run in runs.items():
                rows.append({"stages": part, "seed": seed, "minutes": run.record["stage_seconds"] / 60})
                if run.evaluation:
                    rows.append({"stages": "evaluation", "seed": seed,
                                 "minutes": run.evaluation["evaluate_seconds"] / 60})
    frame = pd.DataFrame(rows, columns=["stages", "seed", "minutes"])
    return frame.groupby(["stages", "seed"], as_index=False, sort=False)["minutes"].sum()


def weight_table(runs_by_name):
    """Per experiment and layer: the weight statistics of evaluate, mean over seeds."""
    rows = []
    for name, runs in runs_by_name.items():
        layers = [run.evaluation["weights"] for run in runs.values()]
        for index, layer in enumerate(layers[0] if layers else []):
            rows.append({"experiment": name, "layer": layer["layer"], "shape": layer["shape"], "seeds": len(layers),
                         **{key: sum(seed[index][key] for seed in layers) / len(layers)
                            for key in ("mean_abs", "share_near_zero")}})
    return pd.DataFrame(rows)


def starting_loss_table(experiments, confidence):
    """The regularized runs' first total loss beside the one read off the coursework's curves."""
    return pd.DataFrame([
        {"experiment": name, "coursework_starting_total_loss": value,
         "our_starting_total_loss": statistics.interval(
             [run.history["train_total_loss"].iloc[0] for run in experiments[name].values()],
             confidence).text() if experiments.get(name) else NOT_RUN_TEXT}
        for name, value in COURSEWORK_STARTING_TOTAL_LOSS.items()])
