"""One run's identity: from (kind, name, seed), or from a DVC stage address, everything named
after it: the stage, the MLflow run's name and tags, the result, model and checkpoint paths.
Every module that names a run asks here, so the stage, the store and the report agree.

A stage learns its experiment and seed from DVC's `DVC_STAGE` variable (for example
`train_keras@keras_4l-42`), never from its command line: no name from params.yaml ever reaches a
shell. dvc.yaml lists the same paths as outputs; a test holds the two together.
"""

import dataclasses
import os
import re
from pathlib import Path

from fashion_pipeline.errors import StageError

NAME = re.compile(r"[a-z0-9_]+")
# group@name-seed, as DVC names the stages of a `matrix` over names and seeds.
ADDRESS = re.compile(r"(?P<group>[a-z_]+)@(?P<name>.*)-(?P<seed>[0-9]+)", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Kind:
    """What trains a kind of run, and how its runs are named and filed."""

    train_group: str  # the DVC stage group that trains it
    code: str  # which code trains it, `lowlevel` (Part A's network) or `keras`: the MLflow tag `kind`
    training_module: str  # the package whose train_experiment trains it (None: the stage trains it)
    folder: str  # under results/seed_<n>/ (and models/seed_<n>/)
    run_prefix: str = ""  # of the MLflow run's name and its tag `experiment`
    run_suffix: str = ""  # of the MLflow run's name, before -seed<n>
    evaluate_group: str = ""  # the DVC stage group that scores its model on the test set
    has_model: bool = True


KINDS = {
    "lowlevel": Kind("train_lowlevel", "lowlevel", "fashion_pipeline.lowlevel", "", evaluate_group="evaluate_lowlevel"),
    "keras": Kind("train_keras", "keras", "fashion_pipeline.keras", "", evaluate_group="evaluate_keras"),
    "holdout": Kind("holdout_keras", "keras", "fashion_pipeline.keras", "holdout", run_suffix="-holdout"),
    "optimizer": Kind("compare_optimizers", "lowlevel", None, "optimizers", run_prefix="optimizer_", has_model=False),
}
# Each stage group's kind of run: the stage that trains it, and the one that evaluates it.
GROUP_KINDS = {**{kind.train_group: name for name, kind in KINDS.items()},
               **{kind.evaluate_group: name for name, kind in KINDS.items() if kind.evaluate_group}}


@dataclasses.dataclass(frozen=True)
class Run:
    """One trained run: its kind (a key of KINDS), its experiment or optimizer run's name, its seed."""

    kind: str
    name: str
    seed: int

    @property
    def kind_spec(self):
        return KINDS[self.kind]

    @property
    def stage(self):
        """The DVC stage that trains it, e.g. train_keras@keras_4l-42."""
        return address(self.kind_spec.train_group, self.name, self.seed)

    @property
    def experiment(self):
        """The MLflow tag `experiment`: the name the run's seeds share."""
        return f"{self.kind_spec.run_prefix}{self.name}"

    @property
    def mlflow_run_name(self):
        return f"{self.experiment}{self.kind_spec.run_suffix}-seed{self.seed}"

    @property
    def tags(self):
        tags = {"experiment": self.experiment, "kind": self.kind_spec.code}
        if self.kind == "holdout":
            tags.update(protocol="holdout", studies="holdout")
        return tags

    @property
    def results_dir(self):
        return Path("results") / seed_folder(self.seed) / self.kind_spec.folder / self.name

    @property
    def model_path(self):
        return Path("models") / seed_folder(self.seed) / self.kind_spec.folder / f"{self.name}.keras"

    @property
    def checkpoint_dir(self):
        return Path("checkpoints") / self.kind_spec.train_group / seed_folder(self.seed) / self.name


def address(group, name, seed):
    return f"{group}@{name}-{seed}"


def seed_folder(seed):
    return f"seed_{seed}"


def parse_address(given):
    """(group, name, seed) of a stage address; a name outside [a-z0-9_]+ is refused here,
    before it is used in any path."""
    match = ADDRESS.fullmatch(given)
    if not match:
        raise StageError(f"stage {given!r}: expected GROUP@NAME-SEED, for example train_keras@keras_4l-42")
    name = match["name"]
    if not NAME.fullmatch(name):
        raise StageError(f"stage {given!r}: name {name!r} is not allowed; names match [a-z0-9_]+")
    return match["group"], name, int(match["seed"])


def stage_address(given=None):
    """(group, name, seed) of the running stage: `given` (--stage) or DVC_STAGE."""
    given = given or os.environ.get("DVC_STAGE")
    if not given:
        raise StageError("no stage given: run it through `dvc repro`, or pass --stage GROUP@NAME-SEED "
                         "(for example --stage train_keras@keras_4l-42)")
    return parse_address(given)


def run_of_stage(group, name, seed):
    """The run a stage trains or evaluates; None for a stage that is no run's (prepare, report)."""
    kind = GROUP_KINDS.get(group)
    return Run(kind, name, seed) if kind else None


def run_of(stage):
    """The run of a stage address, None for the stages every run shares."""
    return run_of_stage(*parse_address(stage)) if "@" in stage else None


def seed_of(stage):
    """The seed a stage runs with (-1 for the stages every seed shares)."""
    match = ADDRESS.fullmatch(stage)
    return int(match["seed"]) if match else -1


def stage_outputs(group, name, seed):
    """dvc.yaml's outputs of the stage `group@name-seed`: its results folder, and its model."""
    run = run_of_stage(group, name, seed)
    if run is None:
        return []
    if group == run.kind_spec.evaluate_group or not run.kind_spec.has_model:
        return [run.results_dir]
    return [run.results_dir, run.model_path]


def stage_folders(group, name, seed):
    """The folders the stage `group@name-seed` writes into (its outputs', and its checkpoint),
    checked before it starts work."""
    run = run_of_stage(group, name, seed)
    if run is None:
        return []
    if group == run.kind_spec.evaluate_group:
        return [run.results_dir]
    folders = [run.results_dir]
    if run.kind_spec.has_model:
        folders.append(run.model_path.parent)
    return [*folders, run.checkpoint_dir]
