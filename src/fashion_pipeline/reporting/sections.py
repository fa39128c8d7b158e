"""The report's sections on Parts A and B and the best model, one function per question of the
coursework. Each opens with its answer in words, then shows the figures and tables behind it
and ends with the verdict on every claim of the question."""

from pathlib import Path

import pandas as pd

from fashion_pipeline.data import CLASS_NAMES
from fashion_pipeline.reporting import analysis, answers, figures, statistics
from fashion_pipeline.reporting.coursework import COURSEWORK_STARTING_TOTAL_LOSS, COURSEWORK_VALUES
from fashion_pipeline.reporting.document import anchor
from fashion_pipeline.reporting.statistics import NOT_RUN

SUMMARY_MEASURES = ("train_loss", "test_loss", "best_val_loss", "gap_loss", "test_accuracy")


def title(inputs, question):
    return f"{question}: {inputs.params['questions'][question]}"


def open_question(report, inputs, question):
    report.heading(title(inputs, question))
    report.text(answers.question_answer(inputs.findings, question, inputs.labels, inputs.margins))


def verdict_block(report, inputs, question):
    mine = [finding for finding in inputs.findings if finding.claim.question == question]
    report.table(analysis.verdict_table(mine).drop(columns="question"), "verdicts_" + anchor(question))


def marks_for(names, columns=("train_loss", "val_loss", "train_accuracy", "val_accuracy")):
    return {name: {column: COURSEWORK_VALUES[name][column] for column in columns
                   if column in COURSEWORK_VALUES.get(name, {})} for name in names}


def histories(runs_by_name):
    return {name: {seed: run.history for seed, run in runs.items()} for name, runs in runs_by_name.items()}


def part_a(report, inputs):
    question = "A 1-1"
    open_question(report, inputs, question)
    softmax = inputs.study("softmax")
    report.curves(histories(softmax), "lowlevel_softmax", "Softmax classifier, 500 full-batch epochs",
                  marks=marks_for(softmax), table="verdicts_a-1-1")
    report.text(
        "The coursework's note 2: it rounded each of the 10 softmax outputs to 0 or 1 and compared them element-wise "
        "with the one-hot label. At most one probability can exceed 0.5, so at most two of an image's ten entries "
        "disagree: the metric never falls below **0.8**, and near-uniform outputs score **0.9**, the coursework's "
        "\"0.89999\" at the start.")
    pair = inputs.study("network_a_vs_b")
    report.curves(histories({**softmax, **pair}), "rounded_vs_true_accuracy",
                  "True (argmax) accuracy against the coursework's rounded accuracy",
                  columns=("accuracy", "rounded_accuracy"))
    verdict_block(report, inputs, question)

    question = "A 1-2-1, 1-2-2"
    open_question(report, inputs, question)
    report.table(analysis.metric_table(pair, SUMMARY_MEASURES, inputs.confidence), "network_a_vs_b")
    report.curves(histories(pair), "network_a_vs_b", "Network A (300) and Network B (300-100)",
                  marks=marks_for(pair), table="network_a_vs_b")
    verdict_block(report, inputs, question)

    question = "A 3"
    open_question(report, inputs, question)
    regularized = {name: runs for name, runs in inputs.study("regularization").items()
                   if name in COURSEWORK_STARTING_TOTAL_LOSS}
    report.curves(histories(regularized), "l1_vs_l2", "Network B with L1 and L2: data loss and loss with penalty",
                  columns=("loss", "total_loss"), table="regularization_starting_loss")
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
    names = list(architectures)
    report.curves(histories({name: architectures[name] for name in names[:3]}), "architectures_shallow",
                  "Softmax, 2 and 3 layers", marks=marks_for(names[:3]), table="overfitting")
    report.curves(histories({name: architectures[name] for name in names[3:]}), "architectures_deep",
                  "4 and 5 layers", marks=marks_for(names[3:]), table="overfitting")
    report.gap(histories(architectures), "architectures_gap", "How much each depth overfits", table="overfitting")
    report.text("A hypothesis for the coursework's high validation losses (0.58-0.74 for 3-5 layers): unscaled "
                "0-255 pixels. The same architectures on raw pixels beside scaled ones:")
    report.table(analysis.metric_table(inputs.study("pixel_scale"), SUMMARY_MEASURES, inputs.confidence),
                 "scale_hypothesis")
    verdict_block(report, inputs, question)

    question = "B ii"
    open_question(report, inputs, question)
    for study in ("dropout_4l", "dropout_5l"):
        runs = inputs.study(study)
        depth = study.removeprefix("dropout_").upper()
        report.table(analysis.metric_table(runs, SUMMARY_MEASURES + ("best_val_accuracy",), inputs.confidence), study)
        report.curves(histories(runs), study, f"{depth} with and without dropout", marks=marks_for(runs), table=study)
        report.gap(histories(runs), f"{study}_gap", f"{depth}: how much dropout closes the gap", table=study)
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
    predictions = runs[seed].predictions
    caption = f"{inputs.labels[by_accuracy]}, seed {seed}: test confusion matrix"
    report.figure(figures.confusion(predictions["actual"], predictions["predicted"], CLASS_NAMES, caption),
                  "best_model_confusion", caption, table="best_model_per_class")
    mistakes = Path(mistakes_dir) / "confident_mistakes.png"
    if mistakes.is_file():
        shown = pd.read_csv(mistakes.with_suffix(".csv"))
        report.image(mistakes, f"{shown['experiment'].iloc[0]}, seed {shown['seed'].iloc[0]}: its {len(shown)} most "
                               "confident mistakes on the test set, with true and predicted labels and the confidence")
