"""The committed results, read back for the report: one `Run` per (experiment or optimizer run,
seed) that has finished, from the small files under results/ alone (no model, no DVC cache)."""

import dataclasses
import functools
from pathlib import Path

import pandas as pd

from fashion_pipeline import files, paths


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

    def value(self, key):
        """A final metric by name, from the compact metrics or the training's."""
        return self.metrics[key] if key in self.metrics else self.train[key]


def _read(folder, name, seed, evaluated):
    needed = ["train.json", "run.json", "history.csv"] + (["metrics.json", "evaluation.json"] if evaluated else [])
    if not all((folder / part).is_file() for part in needed):
        return None
    return Run(name=name, seed=seed, folder=folder, train=files.read_json(folder / "train.json"),
               record=files.read_json(folder / "run.json"), history=pd.read_csv(folder / "history.csv"),
               metrics=files.read_json(folder / "metrics.json") if evaluated else {},
               evaluation=files.read_json(folder / "evaluation.json") if evaluated else {})


def load_experiments(results_dir, names, seeds):
    """name -> {seed: Run} for every experiment and seed that has trained and been evaluated."""
    runs = {}
    for name in names:
        found = {seed: _read(Path(results_dir) / paths.seed_folder(seed) / name, name, seed, True) for seed in seeds}
        runs[name] = {seed: run for seed, run in found.items() if run is not None}
    return runs


def load_optimizer_runs(results_dir, names, seeds):
    """run name -> {seed: Run} for every optimizer run and seed that has finished."""
    runs = {}
    for name in names:
        found = {seed: _read(Path(results_dir) / paths.seed_folder(seed) / "optimizers" / name, name, seed, False)
                 for seed in seeds}
        runs[name] = {seed: run for seed, run in found.items() if run is not None}
    return runs
