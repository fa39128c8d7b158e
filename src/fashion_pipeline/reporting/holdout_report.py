"""The report's protocol check: the best model picked on a held-out split of the training set
(stages/holdout.py) beside the pick the test set would make among the same runs, trained on the
same images, so the two protocols differ only in where they look."""

import pandas as pd

from fashion_pipeline.reporting import analysis
from fashion_pipeline.reporting.statistics import NOT_RUN

HELD_OUT_MEASURES = ("held_out_loss", "held_out_accuracy", "test_loss", "test_accuracy")
TITLE = "Protocol check: the best model on a held-out split"
# (picked by, the held-out measure, the test measure, higher is better)
PICKS = (("lowest loss", "held_out_loss", "test_loss", False),
         ("highest accuracy", "held_out_accuracy", "test_accuracy", True))
# Each protocol, and whether it looks at the test set to choose.
PROTOCOLS = {"on the test set (the coursework's protocol)": True, "on the held-out split": False}


def choices(holdout_runs, confidence):
    """Which candidate each protocol picks, by loss and by accuracy, with the test score of the
    pick: on the test set that score is the one that picked it (optimistic); on the held-out
    split it is the pick's first look at the test set."""
    rows = []
    for label, held_out, test, highest in PICKS:
        row = {"picked by": label}
        for protocol, on_test in PROTOCOLS.items():
            measure = test if on_test else held_out
            pick = analysis.best(holdout_runs, measure, highest=highest)
            row[protocol] = NOT_RUN if pick is None else (
                f"{pick}: {test} " + analysis.metric_table({pick: holdout_runs[pick]}, (test,), confidence)[test].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def picks_by_seed(holdout_runs):
    """Seed by seed, the candidate each protocol picks by loss: how stable the pick is."""
    seeds = sorted({seed for runs in holdout_runs.values() for seed in runs})
    rows = []
    for seed in seeds:
        row = {"seed": seed}
        for protocol, measure in (("held-out pick", "held_out_loss"), ("test-set pick", "test_loss")):
            scores = {name: runs[seed].value(measure) for name, runs in holdout_runs.items() if seed in runs}
            row[protocol] = min(scores, key=scores.get) if scores else NOT_RUN
        rows.append(row)
    return pd.DataFrame(rows)


def answer(holdout_runs, labels, confidence):
    """The check in words: what each protocol picks by loss, the test score of each pick, and how
    often the held-out pick holds seed by seed."""
    held_out = analysis.best(holdout_runs, "held_out_loss", highest=False)
    on_test = analysis.best(holdout_runs, "test_loss", highest=False)
    if held_out is None:
        return "*The held-out runs have not run yet.*"
    score = {name: analysis.measured(holdout_runs[name], None, "test_loss", confidence) for name in {held_out, on_test}}
    by_seed = picks_by_seed(holdout_runs)
    agree = int((by_seed["held-out pick"] == held_out).sum())
    same = ("Both protocols pick it." if held_out == on_test else
            f"The test set would pick {labels[on_test]} instead, at {score[on_test].text(3)}: the optimism of choosing "
            f"on the images that score the choice is {score[held_out].mean - score[on_test].mean:.3f} in test loss.")
    return (f"**Answer.** Picked on the held-out split, by the lowest loss, the best model is {labels[held_out]}, whose "
            f"test loss is {score[held_out].text(3)}. {same} Seed by seed the held-out split picks it in {agree} of "
            f"{len(by_seed)} seeds.")


def section(report, inputs):
    params, holdout_runs, confidence = inputs.params, inputs.holdout_runs, inputs.confidence
    report.heading(TITLE)
    report.text(
        "The coursework picks its best epoch and best model on the test set, so the score of the pick is optimistic. "
        f"Here every candidate ({', '.join(params['holdout']['experiments'])}, a rule fixed before any result) is "
        f"trained once more per seed on the training set less a stratified "
        f"{params['data']['held_out_fraction']:.0%}, validated on that held-out part, with the test set recorded beside "
        "it. Both protocols then pick among the same runs, trained on the same images: one on the held-out split, one on "
        "the test set. `held_out_*` are on the held-out split; `test_*` on the test set, at the final epoch.")
    report.text(answer(holdout_runs, inputs.labels, confidence))
    report.table(analysis.metric_table(holdout_runs, HELD_OUT_MEASURES, confidence), "holdout")
    report.text("The pick of each protocol, with the test score of the model picked (mean over seeds with its "
                "interval):")
    report.table(choices(holdout_runs, confidence), "holdout_choice")
    report.text("The pick by loss, seed by seed:")
    report.table(picks_by_seed(holdout_runs), "holdout_picks_by_seed")
