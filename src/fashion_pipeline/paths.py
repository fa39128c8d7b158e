"""Where each stage's outputs live, and which stage a process is running.

A stage learns its experiment and seed from DVC's `DVC_STAGE` variable (for example
`train_keras@keras_4l-42`), never from its command line: no name from params.yaml ever reaches a
shell. dvc.yaml lists the same paths as outputs; a test holds the two together.
"""

import os
import re
from pathlib import Path

from fashion_pipeline.errors import StageError

NAME = re.compile(r"[a-z0-9_]+")
# group@name-seed, as DVC names the stages of a `matrix` over names and seeds.
ADDRESS = re.compile(r"(?P<group>[a-z_]+)@(?P<name>.*)-(?P<seed>[0-9]+)", re.DOTALL)


def stage_address(given=None):
    """(group, name, seed) of the running stage: `given` (--stage) or DVC_STAGE. A name outside
    [a-z0-9_]+ is refused here, before it is used in any path."""
    address = given or os.environ.get("DVC_STAGE")
    if not address:
        raise StageError("no stage given: run it through `dvc repro`, or pass --stage GROUP@NAME-SEED "
                         "(for example --stage train_keras@keras_4l-42)")
    match = ADDRESS.fullmatch(address)
    if not match:
        raise StageError(f"stage {address!r}: expected GROUP@NAME-SEED, for example train_keras@keras_4l-42")
    name = match["name"]
    if not NAME.fullmatch(name):
        raise StageError(f"stage {address!r}: name {name!r} is not allowed; names match [a-z0-9_]+")
    return match["group"], name, int(match["seed"])


def seed_folder(seed):
    return f"seed_{seed}"


def model_path(seed, name):
    return Path("models") / seed_folder(seed) / f"{name}.keras"


def results_dir(seed, name):
    return Path("results") / seed_folder(seed) / name


def holdout_model_path(seed, name):
    return Path("models") / seed_folder(seed) / "holdout" / f"{name}.keras"


def holdout_results_dir(seed, name):
    return Path("results") / seed_folder(seed) / "holdout" / name


def optimizer_results_dir(seed, run):
    return Path("results") / seed_folder(seed) / "optimizers" / run


def checkpoint_dir(group, seed, name):
    return Path("checkpoints") / group / seed_folder(seed) / name


def stage_folders(group, name, seed):
    """The folders the stage `group@name-seed` writes into (dvc.yaml's outputs, and its
    checkpoint), checked before it starts work."""
    if group.startswith("evaluate_"):
        return [results_dir(seed, name)]
    if group == "compare_optimizers":
        return [optimizer_results_dir(seed, name), checkpoint_dir(group, seed, name)]
    if group == "holdout_keras":
        return [holdout_results_dir(seed, name), holdout_model_path(seed, name).parent,
                checkpoint_dir(group, seed, name)]
    return [results_dir(seed, name), model_path(seed, name).parent, checkpoint_dir(group, seed, name)]
