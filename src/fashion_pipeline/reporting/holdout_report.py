"""The report's protocol check: the best model picked on a held-out split of the training set
(stages/holdout.py) beside the same pick made, as the seed does, on the test set."""

import pandas as pd

from fashion_pipeline.reporting import analysis
from fashion_pipeline.reporting.statistics import NOT_RUN

HELD_OUT_MEASURES = ("best_val_loss", "held_out_loss", "held_out_accuracy", "test_loss", "test_accuracy")
TITLE = "Protocol check: the best model on a held-out split"


def choices(holdout_runs, experiments, confidence):
    """Which candidate each protocol picks, by loss and by accuracy, and the test score of the pick.
    On the test set the score is the one that picked it (optimistic); on the held-out split it is
    the pick's first look at the test set."""
    candidates = {name: experiments.get(name, {}) for name in holdout_runs}
    rows = []
    for label, on_test, on_held_out, score, highest in (
            ("lowest loss", "test_loss", "held_out_loss", "test_loss", False),
            ("highest accuracy", "test_accuracy", "held_out_accuracy", "test_accuracy", True)):
        row = {"picked by": label}
        for protocol, runs, measure in (("on the test set (the seed's protocol)", candidates, on_test),
                                        ("on the held-out split", holdout_runs, on_held_out)):
            pick = analysis.best(runs, measure, confidence, highest=highest)
            row[protocol] = NOT_RUN if pick is None else (
                f"{pick}: {score} " + analysis.metric_table({pick: runs[pick]}, (score,), confidence)[score].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def section(report, params, holdout_runs, experiments, confidence):
    settings = params["holdout"]
    report.heading(TITLE)
    report.text(
        "The seed picks its best epoch and best model on the test set, so the score of the pick is optimistic. Here the "
        f"candidates ({', '.join(settings['experiments'])}) are trained once more per seed on the training set less a "
        f"stratified {params['data']['held_out_fraction']:.0%}, validated on that held-out part, and scored once on the test set. "
        "`best_val_loss` and `held_out_*` are on the held-out split; `test_*` is the final model on the test set.")
    report.table(analysis.metric_table(holdout_runs, HELD_OUT_MEASURES, confidence), "holdout")
    report.text("The pick of each protocol among the candidates, with the test score of the model picked (mean over "
                "seeds with its interval):")
    report.table(choices(holdout_runs, experiments, confidence), "holdout_choice")
