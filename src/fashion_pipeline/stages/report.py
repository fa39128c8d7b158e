"""Stage `report`: every run over every seed, gathered into reports/report.md and a
self-contained reports/report.html, one section per question of the coursework, with figures
under reports/figures and tables (CSV) under reports/tables. It reads the small committed
files under results/ only, so it rebuilds on any machine without models or a DVC cache. The
report is also logged to MLflow as a run of its own, linking every run it used."""

import argparse
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from fashion_pipeline import cli, files
from fashion_pipeline.tracking import mlflow_runs
from fashion_pipeline.data import CLASS_NAMES
from fashion_pipeline.params import all_experiments, load_params
from fashion_pipeline.reporting import analysis, figures, holdout_report, optimizer_report, results, statistics
from fashion_pipeline.reporting.claims import CLAIMS
from fashion_pipeline.reporting.document import Report, anchor
from fashion_pipeline.reporting.seed_reference import SEED_STARTING_TOTAL_LOSS, SEED_VALUES
from fashion_pipeline.reporting.statistics import NOT_RUN

TITLE = "Fashion-MNIST MLP experiments: the coursework reproduced over seeds"
# The coursework's questions, in its numbering, and the section that answers each.
QUESTIONS = {
    "A 1-1": "A 1-1: the softmax classifier",
    "A 1-2-1, 1-2-2": "A 1-2-1, 1-2-2: Network A and Network B",
    "A 3": "A 3: L1 and L2 regularization of Network B",
    "B i": "B i: from softmax to five layers",
    "B ii": "B ii: dropout",
    "Essay": "Essay: the Adam optimizer, measured",
}
ARCHITECTURES = ["keras_softmax", "keras_2l", "keras_3l", "keras_4l", "keras_5l"]
SUMMARY_MEASURES = ("train_loss", "test_loss", "best_val_loss", "gap_loss", "test_accuracy")


def scorecard(verdicts, claims):
    """One row per question: its headline claim (the seed's words and numbers, ours, the verdict),
    the verdicts of its other claims, and a link to its section."""
    rows = []
    for question, title in QUESTIONS.items():
        indices = [index for index, claim in enumerate(claims) if claim.question == question]
        if not indices:
            continue
        head = next((index for index in indices if claims[index].headline), indices[0])
        row = verdicts.loc[head]
        others = verdicts.loc[[index for index in indices if index != head], "verdict"].value_counts()
        rows.append({"question": f"[{question}](#{anchor(title)})", "the seed's claim": row["claim"],
                     "seed": row["seed"], "measured (mean [95% interval] over seeds)": f"{row['measure']}: {row['measured']}",
                     "verdict": row["verdict"],
                     "other claims": ", ".join(f"{count} {word}" for word, count in others.items())})
    return pd.DataFrame(rows)


def protocol(params, data_summary, verdicts, seeds_done):
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("tensorflow-cpu", "keras", "mlflow", "dvc"))
    settings = params["report"]
    return "\n".join([
        f"- Data: Fashion-MNIST, {data_summary['train_count']:,} training / {data_summary['val_count']:,} validation / "
        f"{data_summary['test_count']:,} test images; validation set: {data_summary['validation']}. Raw files checked by "
        "SHA-256 (appendix).",
        f"- Seeds {', '.join(map(str, params['seeds']))}: each experiment and optimizer run is trained once per seed (its "
        f"initial weights, batch order and dropout masks); done so far: {seeds_done}. TensorFlow op determinism on. "
        f"Versions: {versions}. Git commit `{mlflow_runs.git_commit()}`; machine: {platform.machine()}, Python "
        f"{platform.python_version()}.",
        "- **The validation set is the test set**, as in the seed. Every choice made on it (the best epoch, the best "
        "model) is optimistic: the same images pick and score it. The [protocol check]"
        f"(#{anchor(holdout_report.TITLE)}) makes the best-model choice on a held-out split instead; "
        "`data.val_fraction` does so for every run.",
        f"- A measure is its mean over seeds with a {settings['confidence']:.0%} t-interval. A comparison is paired: the "
        "difference of the two runs of each seed, then its mean and interval over seeds. Beside it, a test on the "
        "images pooled over seeds: McNemar's exact test for accuracy, a paired bootstrap of the mean per-image loss "
        f"({settings['bootstrap_rounds']} resamples). The test loss is computed exactly as training computes the "
        "validation loss (cross-entropy from the logits).",
        f"- Verdicts: **holds** when the interval excludes zero in the claimed direction; **reversed** when it excludes "
        f"zero the other way; **alike** when the whole interval lies inside the margin (±{settings['margins']['accuracy']} "
        f"accuracy, ±{settings['margins']['loss']} loss); **inconclusive** otherwise, and always with fewer than two "
        "seeds. A claim that two runs perform alike holds when the interval lies inside the margin.",
        f"- {len(verdicts)} claims are checked at once: at {settings['confidence']:.0%} each, about "
        f"{len(verdicts) * (1 - settings['confidence']):.1f} of them would exclude zero by chance if no difference were "
        "real. Read a lone 'holds' with an interval close to zero with that in mind.",
    ])


def verdict_block(report, verdicts, question):
    mine = verdicts[verdicts["question"] == question].drop(columns="question")
    report.table(mine, "verdicts_" + anchor(question))


def marks_for(names, columns=("train_loss", "val_loss", "train_accuracy", "val_accuracy")):
    return {name: {column: SEED_VALUES[name][column] for column in columns if column in SEED_VALUES.get(name, {})}
            for name in names}


def histories(experiments, names):
    return {name: {seed: run.history for seed, run in experiments.get(name, {}).items()} for name in names}


def part_a(report, experiments, verdicts, confidence):
    report.heading(QUESTIONS["A 1-1"])
    report.curves(histories(experiments, ["lowlevel_softmax"]), "lowlevel_softmax", "Softmax classifier, 500 full-batch epochs",
                  marks=marks_for(["lowlevel_softmax"]), table="verdicts_a-1-1")
    report.text(
        "The seed's note 2: it rounded each of the 10 softmax outputs to 0 or 1 and compared them element-wise with the "
        "one-hot label. At most one probability can exceed 0.5, so at most two of an image's ten entries disagree: the "
        "metric never falls below **0.8**, and near-uniform outputs score **0.9**, the seed's \"0.89999\" at the start.")
    report.curves(histories(experiments, ["lowlevel_softmax", "lowlevel_net_b"]), "rounded_vs_true_accuracy",
                  "True (argmax) accuracy against the seed's rounded accuracy", columns=("accuracy", "rounded_accuracy"))
    verdict_block(report, verdicts, "A 1-1")

    report.heading(QUESTIONS["A 1-2-1, 1-2-2"])
    names = ["lowlevel_net_a", "lowlevel_net_b"]
    report.table(analysis.metric_table({name: experiments.get(name, {}) for name in names}, SUMMARY_MEASURES, confidence),
                 "network_a_vs_b")
    report.curves(histories(experiments, names), "network_a_vs_b", "Network A (300) and Network B (300-100)",
                  marks=marks_for(names), table="network_a_vs_b")
    verdict_block(report, verdicts, "A 1-2-1, 1-2-2")

    report.heading(QUESTIONS["A 3"])
    names = ["lowlevel_net_b", "lowlevel_net_b_l1", "lowlevel_net_b_l2"]
    report.curves(histories(experiments, names[1:]), "l1_vs_l2", "Network B with L1 and L2: data loss and loss with penalty",
                  columns=("loss", "total_loss"), table="regularization_starting_loss")
    starts = [{"experiment": name, "seed_starting_total_loss": seed_value,
               "our_starting_total_loss": statistics.interval(
                   [run.history["train_total_loss"].iloc[0] for run in experiments[name].values()], confidence).text()
               if experiments.get(name) else NOT_RUN} for name, seed_value in SEED_STARTING_TOTAL_LOSS.items()]
    report.table(pd.DataFrame(starts), "regularization_starting_loss")
    report.text("Weight matrices after training, mean over seeds (`share_near_zero`: share of |w| below "
                "`evaluate.near_zero_weight`):")
    report.table(weight_table(experiments, names), "regularization_weights")
    verdict_block(report, verdicts, "A 3")


def weight_table(experiments, names):
    rows = []
    for name in names:
        layers = [run.evaluation["weights"] for run in experiments.get(name, {}).values()]
        for index, layer in enumerate(layers[0] if layers else []):
            rows.append({"experiment": name, "layer": layer["layer"], "shape": layer["shape"], "seeds": len(layers),
                         **{key: sum(seed[index][key] for seed in layers) / len(layers)
                            for key in ("mean_abs", "share_near_zero")}})
    return pd.DataFrame(rows)


def part_b(report, params, experiments, verdicts, confidence):
    report.heading(QUESTIONS["B i"])
    report.text("`gap_loss` = validation minus training loss at the last epoch (how much the model overfits); "
                "`best_val_loss` = the lowest validation loss over the epochs (chosen on the test set, so optimistic).")
    report.table(analysis.metric_table({name: experiments.get(name, {}) for name in ARCHITECTURES}, SUMMARY_MEASURES,
                                       confidence), "overfitting")
    report.curves(histories(experiments, ARCHITECTURES[:3]), "architectures_shallow", "Softmax, 2 and 3 layers",
                  marks=marks_for(ARCHITECTURES[:3]), table="overfitting")
    report.curves(histories(experiments, ARCHITECTURES[3:]), "architectures_deep", "4 and 5 layers",
                  marks=marks_for(ARCHITECTURES[3:]), table="overfitting")
    report.gap(histories(experiments, ARCHITECTURES), "architectures_gap", "How much each depth overfits",
               table="overfitting")
    raw = [name for name, spec in all_experiments(params).items() if spec.get("scale") is False]
    report.text("A hypothesis for the seed's high validation losses (0.58-0.74 for 3-5 layers): unscaled 0-255 pixels. "
                "The same architectures on raw pixels:")
    report.table(analysis.metric_table({name: experiments.get(name, {}) for name in raw}, SUMMARY_MEASURES, confidence),
                 "scale_hypothesis")
    verdict_block(report, verdicts, "B i")

    report.heading(QUESTIONS["B ii"])
    for depth in ("4l", "5l"):
        # Named by depth, and only the dropout variants and their baseline (not the raw-pixel runs).
        names = [name for name in params["experiments"]["keras"] if name == f"keras_{depth}"
                 or name.startswith(f"keras_{depth}_drop")]
        report.table(analysis.metric_table({name: experiments.get(name, {}) for name in names},
                                           SUMMARY_MEASURES + ("best_val_accuracy",), confidence), f"dropout_{depth}")
        report.curves(histories(experiments, names), f"dropout_{depth}", f"{depth.upper()} with and without dropout",
                      marks=marks_for(names), table=f"dropout_{depth}")
        report.gap(histories(experiments, names), f"dropout_{depth}_gap", f"{depth.upper()}: how much dropout closes "
                   "the gap", table=f"dropout_{depth}")
    verdict_block(report, verdicts, "B ii")


def best_model_section(report, experiments, mistakes_dir, confidence):
    best = analysis.best(experiments, "test_accuracy", confidence)
    if best is None:
        return
    seed = min(experiments[best])
    report.heading(f"The best model: {best}")
    report.text(f"Chosen by mean accuracy over seeds on the seed's validation set, which is the test set: the figure is "
                f"optimistic (the protocol check below picks on a held-out split). Per-class precision and recall, "
                f"seed {seed}:")
    report.table(pd.read_csv(experiments[best][seed].folder / "per_class.csv"), "best_model_per_class")
    predictions = experiments[best][seed].predictions
    report.figure(figures.confusion(predictions["actual"], predictions["predicted"], CLASS_NAMES,
                                    f"{best}, seed {seed}: test confusion matrix"),
                  "best_model_confusion", f"{best}, seed {seed}: test confusion matrix", table="best_model_per_class")
    mistakes = Path(mistakes_dir) / "confident_mistakes.png"
    if mistakes.is_file():
        shown = pd.read_csv(mistakes.with_suffix(".csv"))
        report.image(mistakes, f"{shown['experiment'].iloc[0]}, seed {shown['seed'].iloc[0]}: its {len(shown)} most "
                               "confident mistakes on the test set, with true and predicted labels and the confidence")


def used_runs(experiments, optimizer_runs, holdout_runs):
    """(label, seed, Run) for every run the report reads, labelled as MLflow names it less the seed:
    a held-out run is `<name>-holdout`, apart from the experiment of the same name."""
    for suffix, pool in (("", experiments), ("", optimizer_runs), ("-holdout", holdout_runs)):
        for name, seeds in pool.items():
            for seed, run in sorted(seeds.items()):
                yield f"{name}{suffix}", seed, run


def appendix(report, params, experiments, optimizer_runs, holdout_runs, data_summary, confidence):
    report.heading("Appendix: every experiment, the seed's numbers, times")
    report.table(analysis.metric_table(experiments, SUMMARY_MEASURES, confidence), "summary")
    report.text("The seed's numbers beside ours (mean [interval] over seeds; `seed_inside`: the seed's value lies in "
                "our interval). The seed's Part A accuracies are its rounded metric, its L1/L2 losses include the penalty.")
    report.table(analysis.seed_comparison(experiments, confidence), "seed_comparison")
    address = params["report"]["mlflow_ui"]
    runs = [{"run": label, "seed": seed, "mlflow_run": f"[{run.record['mlflow_run_id'][:8]}]"
                                                      f"({address}/#/runs/{run.record['mlflow_run_id']})"}
            for label, seed, run in used_runs(experiments, optimizer_runs, holdout_runs)]
    report.text(f"MLflow runs: each link opens the run in the UI that `make ui` serves at {address}:")
    report.table(pd.DataFrame(runs, columns=["run", "seed", "mlflow_run"]), "mlflow_runs")
    report.text("\n".join(f"- `{name}`: SHA-256 `{entry['sha256']}`" for name, entry in sorted(data_summary["raw_files"].items())))
    times = analysis.stage_times(experiments, optimizer_runs)
    report.text(f"Stage times on this machine, {times['seconds'].sum() / 60:.1f} min in all:")
    report.table(times, "stage_times")


def build_report(params, results_dir, out_dir, data_summary, mistakes_dir=None):
    settings, seeds = params["report"], params["seeds"]
    experiments = results.load_experiments(results_dir, all_experiments(params), seeds)
    optimizer_runs = results.load_optimizer_runs(results_dir, params["optimizers"]["runs"], seeds)
    holdout_runs = results.load_holdout_runs(results_dir, params["holdout"]["experiments"], seeds)
    verdicts = analysis.verdict_table(experiments, optimizer_runs, settings, params["optimizers"]["target_val_loss"], CLAIMS)
    done = sum(len(runs) for runs in experiments.values())
    expected = len(seeds) * len(experiments)
    seeds_done = f"{done} of {expected} experiment runs, {sum(len(runs) for runs in optimizer_runs.values())} of " \
                 f"{len(seeds) * len(optimizer_runs)} optimizer runs"
    figures.assign_colours(*params["experiments"].values(), params["optimizers"]["runs"])
    mistakes_dir = Path(out_dir) / "mistakes" if mistakes_dir is None else mistakes_dir
    report = Report(out_dir)
    report.heading(TITLE, level=1)
    report.text(f"Each conclusion of the coursework, tested over seeds ({seeds_done}). Runs not yet done show as "
                f"'{NOT_RUN}'.")
    report.heading("Scorecard")
    report.table(scorecard(verdicts, CLAIMS), "scorecard")
    report.text("**Contents**")
    report.contents()
    report.heading("How to read this report")
    report.text(protocol(params, data_summary, verdicts, seeds_done))
    part_a(report, experiments, verdicts, settings["confidence"])
    part_b(report, params, experiments, verdicts, settings["confidence"])
    best_model_section(report, experiments, mistakes_dir, settings["confidence"])
    holdout_report.section(report, params, holdout_runs, settings["confidence"])
    report.heading(QUESTIONS["Essay"])
    optimizer_report.section(report, params, optimizer_runs, experiments.get(params["optimizers"]["network"], {}),
                             settings["confidence"])
    verdict_block(report, verdicts, "Essay")
    report.heading("Limitations")
    report.text("- One machine and one set of library versions; other machines may differ in the last digits.\n"
                "- The validation set is the test set (the seed's protocol), so best-epoch and best-model figures are "
                "optimistic; only the protocol check's candidates are also picked on a held-out split.\n"
                f"- {len(seeds)} seeds give wide intervals: 'inconclusive' often means 'not enough seeds', not 'no effect'.\n"
                "- Each optimizer ran at one learning rate: the essay's 'little to tune' is not tested.")
    appendix(report, params, experiments, optimizer_runs, holdout_runs, data_summary, settings["confidence"])
    report.write(TITLE)
    return report, verdicts, experiments, optimizer_runs, holdout_runs


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    data_summary = files.read_json(Path(arguments.results) / "data.json")
    _, verdicts, experiments, optimizer_runs, holdout_runs = build_report(params, arguments.results, arguments.out,
                                                                          data_summary)
    used = {f"{label}-seed{seed}": run.record["mlflow_run_id"]
            for label, seed, run in used_runs(experiments, optimizer_runs, holdout_runs)}
    mlflow_runs.log_report(params["mlflow"], arguments.out, used, verdicts)
    print(f"report: {Path(arguments.out) / 'report.html'}")


if __name__ == "__main__":
    cli.run(main)
