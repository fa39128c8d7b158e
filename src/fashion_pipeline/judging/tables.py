"""The report's tables of numbers, as DataFrames: each is written as a CSV under tables/ and
shown on the page. They are built from what analysis.measure_all measured (a Measured), so a
measure is given as the mean [interval] over seeds it found, and nothing is measured here."""

import pandas as pd

from fashion_pipeline.judging import protocol
from fashion_pipeline.judging.analysis import HELD_OUT_MEASURES, SUMMARY_MEASURES
from fashion_pipeline.judging.coursework import COURSEWORK_STARTING_TOTAL_LOSS, COURSEWORK_VALUES
from fashion_pipeline.judging.statistics import NOT_RUN_TEXT, percent


def verdict_table(findings):
    """One row per claim: what is compared on which measure, the interval, the verdict."""
    rows = []
    for finding in findings:
        claim, found = finding.claim, finding.found
        rows.append({
            "question": claim.question, "claim": claim.statement, "whose": "ours" if claim.ours else "the coursework's",
            "coursework": claim.coursework_says,
            "compared": finding.difference_name, "measure": finding.measure_words,
            "family": "primary" if finding.primary else "exploratory",
            "seeds": found.count if found else 0,
            "mean [interval]": found.text(1 if claim.margin == "epochs" else 4) if found else NOT_RUN_TEXT,
            "level": percent(found.confidence) if found else "",
            "noise covered": found.covers if found else "",
            "p": f"{finding.p_value:.2g}" if found else "",
            "verdict": finding.verdict.value,
            "seeds needed": finding.seeds_needed.text() if finding.seeds_needed else "",
            "training CPUs": finding_cpu_words(finding)})
    return pd.DataFrame(rows)


def finding_cpu_words(finding):
    """The CPU kinds a claim's runs were trained on and, for a comparison, whether its two runs
    were trained on one kind seed by seed: another kind rounds differently."""
    if not finding.cpus:
        return "not recorded"
    words = " and ".join(finding.cpus)
    if finding.unrecorded_cpu_seeds:
        words += f"; not recorded in {seed_list(finding.unrecorded_cpu_seeds)}"
    if finding.claim.second is None:
        return words
    if finding.mixed_cpu_seeds:
        return f"{words}; the two runs on different kinds in {seed_list(finding.mixed_cpu_seeds)}"
    return f"{words}; the two runs on one kind in every seed recorded"


def seed_list(seeds):
    """"seed 45", "seeds 45, 46"."""
    return f"seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}"


def verdict_page_table(findings):
    """The verdict table as the page shows it, narrow enough for A4: what is compared on which
    measure, the interval with its level and noise, the verdict. The full table is the CSV."""
    full = verdict_table(findings)
    return pd.DataFrame({
        "claim": full["claim"] + full["family"].map({"primary": " (primary)", "exploratory": ""})
        + full["whose"].map({"ours": " (ours)", "the coursework's": ""}),
        "the coursework": full["coursework"],
        "compared, measure": full["compared"] + "; " + full["measure"],
        "mean [interval]": full["mean [interval]"] + full.apply(
            lambda row: f" ({row['level']}, {row['noise covered']})" if row["level"] else "", axis=1),
        "p (Holm's for a primary claim)": full["p"], "verdict": full["verdict"], "seeds needed": full["seeds needed"]})


def study_runs(params, experiments, name):
    """name -> {seed: Run} for the experiments of a study of params.yaml, in its order (none
    when the study is not in this configuration)."""
    study = params["studies"].get(name, {"experiments": []})
    return {experiment: experiments.get(experiment, {}) for experiment in study["experiments"]}


def all_tables(inputs, measured):
    """Every table of Parts A and B, the protocol check and the appendix, by its CSV name."""
    params, experiments = inputs.params, inputs.experiments
    shown = {table: metric_table(measured, "experiments", study_runs(params, experiments, study),
                                 SUMMARY_MEASURES + extra)
             for table, study, extra in (("network_a_vs_b", "network_a_vs_b", ()), ("overfitting", "architectures", ()),
                                         ("scale_hypothesis", "pixel_scale", ()),
                                         ("dropout_4l", "dropout_4l", ("best_val_accuracy",)),
                                         ("dropout_5l", "dropout_5l", ("best_val_accuracy",)))}
    return {**shown, "regularization_starting_loss": starting_loss_table(measured, experiments),
            "regularization_weights": weight_table(study_runs(params, experiments, "regularization")),
            "summary": metric_table(measured, "experiments", experiments, SUMMARY_MEASURES),
            "coursework_comparison": coursework_comparison(measured, experiments),
            "stage_times": stage_times(experiments, inputs.optimizer_runs, inputs.holdout_runs),
            "mlflow_runs": pd.DataFrame(inputs.used_runs, columns=["mlflow_run_name", "mlflow_run_id"]),
            "holdout": metric_table(measured, "holdout", inputs.holdout_runs, HELD_OUT_MEASURES),
            "holdout_choice": protocol.choices(measured, inputs.holdout_runs),
            "holdout_picks_by_seed": protocol.picks_by_seed(inputs.holdout_runs)}


def metric_table(measured, pool, runs_by_name, measures):
    """Per run name: the seeds done and each measure as mean [interval] over them (with the test
    images as a source of noise for the per-image measures)."""
    rows = []
    for name, runs in runs_by_name.items():
        row = {"experiment": name, "seeds": len(runs)}
        for measure in measures:
            row[measure] = measured.intervals[pool, name, measure].text() if runs else NOT_RUN_TEXT
        rows.append(row)
    return pd.DataFrame(rows)


def coursework_comparison(measured, experiments, coursework_values=COURSEWORK_VALUES):
    """The coursework's number beside our mean and interval over seeds, and whether it falls inside."""
    rows = []
    for name, reported in coursework_values.items():
        for measure, value in reported.items():
            row = {"experiment": name, "measure": measure, "coursework": value}
            if not experiments.get(name, {}):
                rows.append({**row, "ours": NOT_RUN_TEXT, "coursework inside": ""})
                continue
            found = measured.over_seeds[name, measure]
            inside = "yes" if found.low <= value <= found.high else "no"
            rows.append({**row, "ours": found.text(), "coursework inside": inside if found.count > 1 else ""})
    return pd.DataFrame(rows)


def coursework_misses(measured, experiments, coursework_values=COURSEWORK_VALUES):
    """How many of the coursework's numbers were judged (a run of more than one seed), and those
    outside our interval as (run, measure, its value, our mean), the farthest first."""
    judged = [(name, measure, value, measured.over_seeds[name, measure]) for name, reported in coursework_values.items()
              if experiments.get(name) for measure, value in reported.items()]
    judged = [(name, measure, value, found) for name, measure, value, found in judged if found.count > 1]
    misses = [(name, measure, value, found.mean) for name, measure, value, found in judged
              if not found.low <= value <= found.high]
    return len(judged), sorted(misses, key=lambda miss: -abs(miss[3] - miss[2]))


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


def starting_loss_table(measured, experiments):
    """The regularized runs' first total loss beside the one read off the coursework's curves."""
    return pd.DataFrame([
        {"experiment": name, "coursework_starting_total_loss": value,
         "our_starting_total_loss": measured.over_seeds[name, "starting_total_loss"].text()
         if experiments.get(name) else NOT_RUN_TEXT}
        for name, value in COURSEWORK_STARTING_TOTAL_LOSS.items()])
