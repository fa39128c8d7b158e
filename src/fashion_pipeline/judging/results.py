"""The committed results, read back for the report: one `Run` per (experiment or optimizer run,
seed) that has finished, from the small files under results/ alone (no model, no DVC cache)."""

import dataclasses
import functools
from pathlib import Path

import pandas as pd

from fashion_pipeline import files, runs
from fashion_pipeline.errors import DataFileError

# Written by every training stage of this version (the loss as training saw it, beside the one
# measured at the epoch's weights); a history without it predates them and is not comparable.
CURRENT_COLUMN = "train_loss_running"


@dataclasses.dataclass(frozen=True)
class Run:
    name: str
    seed: int
    folder: Path
    train: dict  # final metrics of the training stage
    record: dict  # MLflow run id and timings
    history: pd.DataFrame
    metrics: dict  # compact metrics with the test ones (experiments only; {} for optimizer runs)
    evaluation: dict  # test-set standard error, weight statistics (experiments only)

    @functools.cached_property
    def predictions(self):
        """One row per test image: actual, predicted, loss, confidence."""
        return pd.read_csv(self.folder / "predictions.csv")

    @property
    def has_predictions(self):
        return (self.folder / "predictions.csv").is_file()

    def value(self, key):
        """A final metric by name, from the compact metrics or the training's."""
        return self.metrics[key] if key in self.metrics else self.train[key]


def _read(folder, name, seed, extras):
    """The Run in `folder` when its stage has written every file, `extras` too; else None."""
    needed = ["train.json", "run.json", "history.csv", *extras]
    if not all((folder / part).is_file() for part in needed):
        return None
    history = pd.read_csv(folder / "history.csv")
    if CURRENT_COLUMN not in history:
        raise DataFileError(folder / "history.csv", f"written by an earlier version of its stage (no {CURRENT_COLUMN} "
                            "column); `make repro` trains it again")
    return Run(name=name, seed=seed, folder=folder, train=files.read_json(folder / "train.json"),
               record=files.read_json(folder / "run.json"), history=history,
               metrics=files.read_json(folder / "metrics.json") if "metrics.json" in extras else {},
               evaluation=files.read_json(folder / "evaluation.json") if "evaluation.json" in extras else {})


def _load(results_dir, names, seeds, subfolder, extras):
    loaded = {}
    for name in names:
        found = {seed: _read(Path(results_dir) / runs.seed_folder(seed) / subfolder / name, name, seed, extras)
                 for seed in seeds}
        loaded[name] = {seed: run for seed, run in found.items() if run is not None}
    return loaded


def load_experiments(results_dir, names, seeds):
    """name -> {seed: Run} for every experiment and seed that has trained and been evaluated."""
    return _load(results_dir, names, seeds, "", ("metrics.json", "evaluation.json"))


def load_optimizer_runs(results_dir, names, seeds):
    """run name -> {seed: Run} for every optimizer run and seed that has finished."""
    return _load(results_dir, names, seeds, "optimizers", ())


def load_holdout_runs(results_dir, names, seeds):
    """name -> {seed: Run} for every held-out run that has finished (metrics: held-out and test)."""
    return _load(results_dir, names, seeds, "holdout", ("metrics.json",))
