"""DVC's comparison views of the committed results fit a 160-column terminal."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import ROOT


def test_dvc_metrics_show_of_the_committed_grid_fits_160_columns(tmp_path):
    """One row per experiment and seed, six metrics, nothing cut to an ellipsis: on a clone, as a
    reader gets the project (metrics files are in git, not in the DVC cache)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "COLUMNS": "160", "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    shown = subprocess.run([shutil.which("dvc", path=env["PATH"]), "metrics", "show"], cwd=clone, env=env,
                           capture_output=True, text=True, check=True).stdout
    lines = shown.rstrip("\n").splitlines()
    params = yaml.safe_load((clone / "params.yaml").read_text())
    experiments = sum(len(group) for group in params["experiments"].values())
    committed = len(list(clone.glob("results/seed_*/*/metrics.json")))
    assert committed >= experiments  # at least one seed of every experiment is committed
    # One row per declared metrics file, every experiment at every seed (a seed still training
    # shows dashes).
    assert len(lines) == 1 + experiments * len(params["seeds"])
    assert max(len(line) for line in lines) <= 160 and "…" not in shown
    assert lines[0].split() == ["Path", "best_val_epoch", "best_val_loss", "test_accuracy", "test_loss",
                                "train_accuracy", "train_loss"]
