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
CPU_TABLE = "training_cpus.csv"


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
    cpu: str = ""  # the CPU kind it was trained on (results/training_cpus.csv), "" where not recorded

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


def cpu_by_folder(results_dir):
    """run folder (relative to `results_dir`) -> the CPU kind it was trained on, from the table
    tools/training_cpus.py writes from the git history; {} where there is none (a new project)."""
    path = Path(results_dir) / CPU_TABLE
    return dict(pd.read_csv(path, usecols=["folder", "cpu"]).itertuples(index=False)) if path.is_file() else {}


def _read(folder, name, seed, extras, cpu=""):
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
               evaluation=files.read_json(folder / "evaluation.json") if "evaluation.json" in extras else {}, cpu=cpu)


def _load(results_dir, names, seeds, subfolder, extras):
    loaded = {}
    cpus = cpu_by_folder(results_dir)
    for name in names:
        folders = {seed: Path(runs.seed_folder(seed)) / subfolder / name for seed in seeds}
        found = {seed: _read(Path(results_dir) / folder, name, seed, extras, cpus.get(folder.as_posix(), ""))
                 for seed, folder in folders.items()}
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


def cpu_kinds(first, second):
    """The CPU kinds recorded for the runs a claim reads ({seed: Run} each; the second None for
    one run), over the seeds it judges; the seeds whose two runs were trained on different kinds;
    and the seeds where a run's kind is not recorded (a run trained after the table was written)."""
    seeds = sorted(set(first or {}) & set(second)) if second is not None else sorted(first or {})
    pairs = {seed: [pool[seed].cpu for pool in (first, second) if pool is not None] for seed in seeds}
    kinds = tuple(sorted({cpu for cpus in pairs.values() for cpu in cpus if cpu}))
    mixed = tuple(seed for seed, cpus in pairs.items() if all(cpus) and len(set(cpus)) > 1)
    unrecorded = tuple(seed for seed, cpus in pairs.items() if not all(cpus))
    return kinds, mixed, unrecorded
