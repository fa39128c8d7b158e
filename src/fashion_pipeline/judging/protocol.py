"""The protocol check in numbers: the best model picked on a held-out split of the training set
(stages/holdout.py) beside the pick the test set would make among the same runs, trained on the
same images, so the two protocols differ only in where they look."""

import dataclasses

import pandas as pd

from fashion_pipeline.judging import analysis, statistics
from fashion_pipeline.judging.statistics import NOT_RUN_TEXT, Verdict

# (picked by, the held-out measure, the test measure); analysis.BEST_OF picks the best of each.
PICKS = (("lowest loss", "held_out_loss", "test_loss"),
         ("highest accuracy", "held_out_accuracy", "test_accuracy"))
# Each protocol, and whether it looks at the test set to choose.
PROTOCOLS = {"on the test set (the coursework's protocol)": True, "on the held-out split": False}


def choices(measured, holdout_runs):
    """Which candidate each protocol picks, by loss and by accuracy, with the test score of the
    pick (analysis.Measured): on the test set that score is the one that picked it (optimistic);
    on the held-out split it is the pick's first look at the test set."""
    rows = []
    for label, held_out, test in PICKS:
        row = {"picked by": label}
        for protocol, on_test in PROTOCOLS.items():
            pick = measured.best["holdout", test if on_test else held_out]
            row[protocol] = NOT_RUN_TEXT if pick is None else (
                f"{pick}: {test} " + measured.intervals["holdout", pick, test].text())
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
            row[protocol] = min(scores, key=scores.get) if scores else NOT_RUN_TEXT
        rows.append(row)
    return pd.DataFrame(rows)


@dataclasses.dataclass(frozen=True)
class Picks:
    """What each protocol picks by the lowest loss, with the test loss of each pick, in how many
    seeds the held-out split picks the same run, the candidates its test accuracy does not beat,
    and what reading a run at the epoch the test set picks would add."""
    held_out: str  # in words
    on_test: str
    held_out_score: statistics.Interval
    on_test_score: statistics.Interval
    agreeing_seeds: int
    seeds: int
    tied: tuple = ()  # the candidates, in words, whose test accuracy the pick's does not beat
    accuracy: statistics.Interval | None = None  # the pick's test accuracy
    epoch_optimism: statistics.Interval | None = None  # see epoch_optimism


def tied_with(holdout_runs, pick, confidence, margin):
    """The candidates whose test accuracy the pick's is not shown to beat: the paired interval of
    candidate minus pick over the seeds includes zero, or lies within +-margin."""
    tied = []
    for name, runs in holdout_runs.items():
        if name == pick or not runs:
            continue
        found = analysis.measured(runs, holdout_runs[pick], "test_accuracy", confidence)
        if statistics.verdict(found, statistics.LOWER, margin) in (Verdict.INCONCLUSIVE, Verdict.ALIKE):
            tied.append(name)
    return tied


def epoch_optimism(runs, confidence):
    """What picking a run's epoch on the test images hides, as the coursework's best epochs do: per
    seed, the test loss at the epoch of the lowest held-out loss minus the lowest test loss over
    the epochs (at least zero), with its interval over the seeds."""
    values = []
    for run in runs.values():
        history = run.history
        values.append(float(history.loc[history["val_loss"].idxmin(), "test_loss"] - history["test_loss"].min()))
    return statistics.interval(values, confidence) if values else None


def picks(measured, by_seed, labels, holdout_runs, confidence, margin):
    """The protocols' picks by loss (None before the held-out runs have run), from what
    analysis.measure_all measured and the picks seed by seed (picks_by_seed)."""
    held_out, on_test = measured.best["holdout", "held_out_loss"], measured.best["holdout", "test_loss"]
    if held_out is None:
        return None
    score = {name: measured.intervals["holdout", name, "test_loss"] for name in {held_out, on_test}}
    return Picks(labels[held_out], labels[on_test], score[held_out], score[on_test],
                 int((by_seed["held-out pick"] == held_out).sum()), len(by_seed),
                 tuple(labels[name] for name in tied_with(holdout_runs, held_out, confidence, margin)),
                 measured.intervals["holdout", held_out, "test_accuracy"],
                 epoch_optimism(holdout_runs[held_out], confidence))
