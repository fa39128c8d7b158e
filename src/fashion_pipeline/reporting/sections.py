"""The report's sections on Parts A and B and the best model, one function per question of the
coursework. Each opens with its answer in words, then shows the figures and tables behind it
and ends with the verdict on every claim of the question."""

from pathlib import Path

import pandas as pd

from fashion_pipeline.reporting import analysis, answers, statistics
from fashion_pipeline.reporting.coursework import COURSEWORK_STARTING_TOTAL_LOSS, COURSEWORK_VALUES
from fashion_pipeline.reporting.document import anchor
from fashion_pipeline.reporting.statistics import NOT_RUN

SUMMARY_MEASURES = ("train_loss", "test_loss", "best_val_loss", "gap_loss", "test_accuracy")


def title(inputs, question):
    return f"{question}: {inputs.params['questions'][question]}"


def open_question(report, inputs, question, claim_figures=True):
    """A question's heading, its answer in words and (unless its text cites them later) the
    figure of each of its primary claims: the difference over the epochs."""
    report.heading(title(inputs, question))
    report.text(answers.question_answer(inputs.findings, question, inputs.labels, inputs.margins))
    if claim_figures:
        for finding in inputs.findings_of(question):
            if finding.primary:
                report.show(f"claim_{finding.claim.name}")


def verdict_block(report, inputs, question):
    mine = inputs.findings_of(question)
    name = "verdicts_" + anchor(question)
    report.text(f"Every claim of {question} (all columns: `tables/{name}_full.csv`):")
    report.table(analysis.verdict_page_table(mine), name)
    report.save_table(analysis.verdict_table(mine), name + "_full")


def part_a(report, inputs):
    question = "A 1-1"
    open_question(report, inputs, question)
    report.show("softmax")
    report.text(
        "The coursework's note 2: it rounded each of the 10 softmax outputs to 0 or 1 and compared them element-wise "
        "with the one-hot label. At most one probability can exceed 0.5, so at most two of an image's ten entries "
        "disagree: the metric never falls below **0.8**, and near-uniform outputs score **0.9**, the coursework's "
        "\"0.89999\" at the start.")
    report.show("rounded_vs_true_accuracy")
    verdict_block(report, inputs, question)

    question = "A 1-2-1, 1-2-2"
    open_question(report, inputs, question)
    report.table(analysis.metric_table(inputs.study("network_a_vs_b"), SUMMARY_MEASURES, inputs.confidence),
                 "network_a_vs_b")
    report.show("network_a_vs_b")
    verdict_block(report, inputs, question)

    question = "A 3"
    open_question(report, inputs, question)
    report.show("l1_vs_l2")
    starts = [{"experiment": name, "coursework_starting_total_loss": value,
               "our_starting_total_loss": statistics.interval(
                   [run.history["train_total_loss"].iloc[0] for run in inputs.experiments[name].values()],
                   inputs.confidence).text() if inputs.experiments.get(name) else NOT_RUN}
              for name, value in COURSEWORK_STARTING_TOTAL_LOSS.items()]
    report.table(pd.DataFrame(starts), "regularization_starting_loss")
    report.text("Weight matrices after training, mean over seeds (`share_near_zero`: share of |w| below "
                f"{inputs.params['evaluate']['near_zero_weight']:g}):")
    report.table(weight_table(inputs.study("regularization")), "regularization_weights")
    verdict_block(report, inputs, question)


def scale_verdict(inputs):
    """Whether raw pixels reproduce the coursework's validation losses: each raw-pixel run's
    final test loss beside the coursework's for the same architecture on its (scaled) pixels."""
    specs = {**inputs.params["experiments"]["keras"]}
    study = inputs.study("pixel_scale")
    lines, inside = [], []
    for raw, runs in study.items():
        if specs[raw].get("scale") is not False or not runs:
            continue
        twin = next((name for name in study if name != raw and specs[name].get("scale") is not False
                     and specs[name]["hidden_units"] == specs[raw]["hidden_units"]), None)
        theirs = COURSEWORK_VALUES.get(twin, {}).get("val_loss")
        if theirs is None:
            continue
        found = analysis.measured(runs, None, "test_loss", inputs.confidence)
        inside.append(found.low <= theirs <= found.high)
        lines.append(f"{inputs.labels[raw]}: {found.text(3)} against the coursework's {theirs:.3f}")
    if not lines:
        return "*The raw-pixel runs have not run yet.*"
    if all(inside):
        conclusion = "every coursework value lies in our interval: raw pixels are consistent with its losses"
    elif not any(inside):
        conclusion = "no coursework value lies in our interval: raw pixels alone do not explain its losses"
    else:
        conclusion = "some coursework values lie in our intervals and some do not: the hypothesis is not settled"
    return f"**Raw pixels.** Final test loss, {'; '.join(lines)}. So {conclusion}."


def weight_table(runs_by_name):
    rows = []
    for name, runs in runs_by_name.items():
        layers = [run.evaluation["weights"] for run in runs.values()]
        for index, layer in enumerate(layers[0] if layers else []):
            rows.append({"experiment": name, "layer": layer["layer"], "shape": layer["shape"], "seeds": len(layers),
                         **{key: sum(seed[index][key] for seed in layers) / len(layers)
                            for key in ("mean_abs", "share_near_zero")}})
    return pd.DataFrame(rows)


def part_b(report, inputs):
    question = "B i"
    open_question(report, inputs, question)
    report.text("`gap_loss`: test minus training loss at the last epoch (how much the model overfits), the training "
                "loss measured as the test loss is, in inference mode at the epoch's final weights; `best_val_loss`: "
                "the lowest validation loss over the epochs (picked on the test set, so optimistic).")
    architectures = inputs.study("architectures")
    report.table(analysis.metric_table(architectures, SUMMARY_MEASURES, inputs.confidence), "overfitting")
    report.show("architectures")
    report.show("architectures_gap")
    report.text("A hypothesis for the coursework's high validation losses (0.58-0.74 for 3-5 layers): unscaled "
                "0-255 pixels. The same architectures on raw pixels beside scaled ones:")
    report.table(analysis.metric_table(inputs.study("pixel_scale"), SUMMARY_MEASURES, inputs.confidence),
                 "scale_hypothesis")
    report.text(scale_verdict(inputs))
    verdict_block(report, inputs, question)

    question = "B ii"
    open_question(report, inputs, question)
    for study in ("dropout_4l", "dropout_5l"):
        report.table(analysis.metric_table(inputs.study(study), SUMMARY_MEASURES + ("best_val_accuracy",),
                                           inputs.confidence), study)
        report.show(study)
        report.show(f"{study}_gap")
    verdict_block(report, inputs, question)


def best_model_section(report, inputs, mistakes_dir):
    by_accuracy, by_loss = analysis.best_models(inputs.experiments, inputs.params["holdout"]["experiments"])
    if by_accuracy is None:
        return
    runs = inputs.experiments[by_accuracy]
    accuracy = analysis.measured(runs, None, "test_accuracy", inputs.confidence)
    report.heading(f"The best model: {inputs.labels[by_accuracy]}")
    also = ("It also has the lowest test loss." if by_loss == by_accuracy else
            f"The lowest mean test loss belongs to another model, {inputs.labels[by_loss]}: the two measures rank "
            "the models differently, and accuracy is what the coursework asks about.")
    report.text(f"**Answer.** {inputs.labels[by_accuracy]} (`{by_accuracy}`) has the highest mean test accuracy, "
                f"{accuracy.mean:.4f} ({accuracy.confidence:.0%} interval {accuracy.low:.4f} to {accuracy.high:.4f} over "
                f"{accuracy.count} seeds and the test images). {also} It is chosen on the test set, as in the "
                "coursework, so its score is optimistic: the protocol check below picks on a held-out split instead.")
    seed = min(runs)
    report.text(f"Per-class precision and recall, seed {seed}:")
    report.table(pd.read_csv(runs[seed].folder / "per_class.csv"), "best_model_per_class")
    report.show("best_model_confusion")
    mistakes = Path(mistakes_dir) / "confident_mistakes.png"
    if mistakes.is_file():
        shown = pd.read_csv(mistakes.with_suffix(".csv"))
        report.image(mistakes, f"{shown['experiment'].iloc[0]}, seed {shown['seed'].iloc[0]}: its {len(shown)} most "
                               "confident mistakes on the test set, with true and predicted labels and the confidence")
