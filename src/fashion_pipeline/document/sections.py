"""The report's sections on Parts A and B, the best model and the protocol check, one function
per question of the coursework. Each opens with its answer in words, then shows the figures and
tables behind it and ends with the verdict on every claim of the question. Each is handed the
judged questions and tables it shows (judging/findings.py) and computes nothing."""

from pathlib import Path

import pandas as pd

from fashion_pipeline.document import answers
from fashion_pipeline.document.markdown import anchor
from fashion_pipeline.judging.tables import seed_list


def open_question(report, question, claim_figures=True):
    """A question's heading, its answer in words and (unless its text cites them later) the
    figure of each of its primary claims: the difference over the epochs."""
    report.heading(question.title)
    report.text(answers.question_answer(question))
    if claim_figures:
        report.figures(question.name)


def verdict_block(report, question):
    name = "verdicts_" + anchor(question.name)
    report.text(f"Every claim of {question.name} (all columns: `tables/{name}_full.csv`):")
    report.table(question.page_verdicts(), name)
    report.save_table(question.verdicts(), name + "_full")
    report.text(cpu_sentence(question.findings))


def cpu_sentence(findings):
    """Which comparisons of a question set runs trained on two CPU kinds against each other, and
    which read a run whose kind is not recorded."""
    compared = [finding for finding in findings if finding.claim.second is not None]
    if not any(finding.cpus for finding in findings):
        return "The CPU each run was trained on is not recorded for these runs."
    if not compared:
        return "Each claim here reads one run."
    mixed = [finding for finding in compared if finding.mixed_cpu_seeds]
    unrecorded = [finding for finding in compared if finding.unrecorded_cpu_seeds]
    sentence = ("In every seed, the two runs of each comparison here were trained on one CPU kind"
                if not mixed else
                "Runs trained on two CPU kinds, which round differently, are compared in some seeds: "
                + "; ".join(f"{finding.claim.statement} ({seed_list(finding.mixed_cpu_seeds)})" for finding in mixed)
                + ". That seed's difference then carries the CPUs' rounding as well; the pairing of seeds stays. "
                "Every other comparison here set runs of one kind against each other in each seed")
    if unrecorded:
        sentence += (". A run's CPU kind is not recorded for "
                     + "; ".join(f"{finding.claim.statement} ({seed_list(finding.unrecorded_cpu_seeds)})"
                                 for finding in unrecorded))
    return sentence + " (`results/training_cpus.csv`)."


def part_a(report, questions, shown, near_zero_weight):
    """Part A; `shown` holds the section's tables by name."""
    question = questions["A 1-1"]
    open_question(report, question)
    report.text(
        "The coursework's note 2: it rounded each of the 10 softmax outputs to 0 or 1 and compared them element-wise "
        "with the one-hot label. At most one probability can exceed 0.5, so at most two of an image's ten entries "
        "disagree: the metric never falls below **0.8**, and near-uniform outputs score **0.9**, the coursework's "
        "\"0.89999\" at the start.")
    report.figures("A 1-1 note 2")
    verdict_block(report, question)

    question = questions["A 1-2-1, 1-2-2"]
    open_question(report, question)
    report.table(shown["network_a_vs_b"], "network_a_vs_b")
    report.figures("network_a_vs_b")
    verdict_block(report, question)

    question = questions["A 3"]
    open_question(report, question)
    report.table(shown["regularization_starting_loss"], "regularization_starting_loss")
    report.text("Weight matrices after training, mean over seeds (`share_near_zero`: share of |w| below "
                f"{near_zero_weight:g}):")
    report.table(shown["regularization_weights"], "regularization_weights")
    verdict_block(report, question)


def scale_verdict(raw_pixels):
    """Whether raw pixels reproduce the coursework's validation losses (judging.findings.RawPixels)."""
    if not raw_pixels:
        return "*The raw-pixel runs have not run yet.*"
    lines = [f"{run.label}: {run.found.text(3)} against the coursework's {run.coursework:.3f}" for run in raw_pixels]
    inside = [run.found.low <= run.coursework <= run.found.high for run in raw_pixels]
    if all(inside):
        conclusion = "every coursework value lies in our interval: raw pixels are consistent with its losses"
    elif not any(inside):
        conclusion = "no coursework value lies in our interval: raw pixels alone do not explain its losses"
    else:
        conclusion = "some coursework values lie in our intervals and some do not: the hypothesis is not settled"
    return f"**Raw pixels.** Final test loss, {'; '.join(lines)}. So {conclusion}."


def part_b(report, questions, shown, raw_pixels):
    """Part B; `shown` holds the section's tables by name."""
    question = questions["B i"]
    open_question(report, question)
    report.text("`gap_loss`: test minus training loss at the last epoch (how much the model overfits), the training "
                "loss measured as the test loss is, in inference mode at the epoch's final weights; `best_val_loss`: "
                "the lowest validation loss over the epochs (picked on the test set, so optimistic).")
    report.table(shown["overfitting"], "overfitting")
    report.figures("overfitting")
    report.text("A hypothesis for the coursework's high validation losses (0.58-0.74 for 3-5 layers): unscaled "
                "0-255 pixels. The same architectures on raw pixels beside scaled ones:")
    report.table(shown["scale_hypothesis"], "scale_hypothesis")
    report.text(scale_verdict(raw_pixels))
    verdict_block(report, question)

    question = questions["B ii"]
    open_question(report, question)
    for study in ("dropout_4l", "dropout_5l"):
        report.table(shown[study], study)
        report.figures(study)
    verdict_block(report, question)


def best_model(report, best, mistakes_dir):
    """The best model (judging.findings.BestModel), when one has run, and its confident mistakes."""
    if best is None:
        return
    accuracy = best.accuracy
    report.heading("The most accurate model on the test set, class by class")
    also = ("It also has the lowest test loss." if best.lowest_loss == best.name else
            f"The lowest mean test loss among them belongs to another model, {best.lowest_loss_label}.")
    report.text(f"The best model is the one the held-out split picks (the summary and the protocol check below). Among "
                f"the Part B runs trained on the whole training set, the most accurate on the test set is {best.label}, "
                f"at {interval_words(accuracy, 'accuracy')}, a score flattered by choosing on the same images. {also} "
                f"Below, the precision and recall of {best.label} class by class, and its most confident mistakes.")
    report.text(f"Per-class precision and recall, seed {best.seed}:")
    report.table(best.per_class, "best_model_per_class")
    report.figures("best_model_per_class")
    mistakes = Path(mistakes_dir) / "confident_mistakes.png"
    if mistakes.is_file():
        shown = pd.read_csv(mistakes.with_suffix(".csv"))
        report.image(mistakes, f"{best.label}, seed {shown['seed'].iloc[0]}: its {len(shown)} most "
                               "confident mistakes on the test set, with true and predicted labels and the confidence")


def interval_words(found, margin_name=None):
    """A value: "0.340 (95% interval 0.336 to 0.345, 5 seeds)", "88.9% (...)", rounded to what
    its interval supports."""
    mean, places, sure = answers.how_sure(found, margin_name, difference=False)
    return f"{mean:.{places}f}{'%' if margin_name in answers.SCALES else ''} {sure}"


def listed(names):
    """Names that hold commas themselves ("4 layers, dropout 0.2"), listed with semicolons."""
    return "; ".join(names[:-1]) + f"; and {names[-1]}" if len(names) > 1 else "".join(names)


def picks_answer(picks):
    """The best model in words (judging.protocol.Picks): the held-out pick, the models tied with
    it, and what picking on the test set, model or epoch, would have changed."""
    if picks is None:
        return "*The held-out runs have not run yet.*"
    text = (f"Picked on a held-out part of the training set by the lowest loss, as a user without the test set would "
            f"pick, the best model is {picks.held_out}, with a test loss of {interval_words(picks.held_out_score)}. "
            f"The held-out split picks it in {picks.agreeing_seeds} of {picks.seeds} seeds.")
    if picks.accuracy is not None:
        text += f" Its test accuracy is {interval_words(picks.accuracy, 'accuracy')}."
    if picks.tied:
        text += (f" Seed by seed, the test accuracy of {len(picks.tied)} other candidates is not shown to be lower than "
                 f"the pick's, so none is told apart from it on accuracy at {picks.seeds} seeds: {listed(picks.tied)}.")
    if picks.on_test != picks.held_out:
        text += (f" Picking among the same runs on the test set, as the coursework does, would name {picks.on_test} "
                 f"instead, at a test "
                 f"loss of {interval_words(picks.on_test_score)}, a score flattered by the choice.")
    else:
        text += " Picking among the same runs on the test set, as the coursework does, names the same model."
    if picks.epoch_optimism is not None:
        cost = picks.epoch_optimism
        shown = "" if cost.low > 0 else ", an interval that includes zero: no cost is shown at these seeds"
        text += (f" Reading the pick at its best epoch on the test images, instead of the epoch the held-out split "
                 f"picks, would make its test loss look lower by {interval_words(cost)}{shown}.")
    return text


def protocol_check(report, check):
    """The protocol check (judging.findings.protocol_check): picks and tables."""
    report.heading("Protocol check: the best model on a held-out split")
    report.text(
        "The coursework picks its best epoch and best model on the test set, so the score of the pick is optimistic. "
        f"Here every candidate ({'; '.join(check['labels'])}: every Part B model the coursework trains, a rule "
        "set after seed 42's first Keras results of an earlier version of the grid, before any result of this one) is "
        f"trained once more per seed on the training set less a stratified "
        f"{check['held_out_fraction']:.0%}, validated on that held-out part, with the test set recorded beside "
        "it. Both protocols then pick among the same runs, trained on the same images: one on the held-out split, one on "
        "the test set. `held_out_*` are on the held-out split; `test_*` on the test set, at the final epoch.")
    report.text(f"**Answer.** {picks_answer(check['picks'])}")
    report.table(check["holdout"], "holdout")
    report.text("The pick of each protocol, with the test score of the model picked (mean over seeds with its "
                "interval):")
    report.table(check["holdout_choice"], "holdout_choice")
    report.text("The pick by loss, seed by seed:")
    report.table(check["holdout_picks_by_seed"], "holdout_picks_by_seed")
    report.text(
        f"**The model to use.** The `register` stage puts this pick in MLflow's Model Registry as "
        f"`{check['registered_model']}@champion`: its best single run or the ensemble averaging its seeds' runs, "
        "whichever has the lower held-out loss, scored once on the test set (into `champion/champion.json`, on the "
        "machine that registers it: `make register` trains the pick's held-out models first where they are not). "
        "`make serve` serves it over HTTP and `make predict` classifies image files with it (docs/serving.md).")
