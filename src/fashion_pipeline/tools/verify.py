"""`make verify`: a grader's reproduction check. It trains again, on this machine, a sample of
the committed grid (params.yaml's `verify`: a Part A experiment, a Keras experiment with dropout
and an optimizer run, one seed, at full length) in a temporary project of its own, so no
committed file is touched. For each run it prints whether its final numbers equal the committed
run's of the same seed (same CPU kind, library versions and params give the same numbers), or
else whether they fall inside the 95 % prediction interval of the committed seeds, and how many
standard deviations from their mean, and where its history parts from the committed run's.
The exit status is 1 when a run falls outside.
"""

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from fashion_pipeline import cli, files, runs
from fashion_pipeline.errors import StageError
from fashion_pipeline.params import all_experiments, load_params
from fashion_pipeline.judging.results import cpu_by_folder
from fashion_pipeline.tools.demo import make_project, project_env
from fashion_pipeline.tracking.mlflow_runs import cpu_name

# Compared per run: its final validation loss and accuracy (for Parts A and B the validation set
# is the test set; for the optimizer runs, the held-out split).
MEASURES = ("val_loss", "val_accuracy")
# Equal up to float32's last digit, as a re-run on the same CPU kind and versions gives.
EXACT = 1e-6


def sample_stages(params):
    """The training stages of the sample, each with its results' folder under a seed's folder."""
    settings, kinds = params["verify"], {name: spec["kind"] for name, spec in all_experiments(params).items()}
    sample = [runs.Run(kinds[name], name, settings["seed"]) for name in settings["experiments"]]
    sample += [runs.Run("optimizer", name, settings["seed"]) for name in settings["optimizer_runs"]]
    return {run.stage: Path(run.kind_spec.folder) / run.name for run in sample}


def committed_values(results_dir, folder, seeds):
    """measure -> {seed: value} over the committed seeds that have the run."""
    found = {measure: {} for measure in MEASURES}
    for seed in seeds:
        train = Path(results_dir) / runs.seed_folder(seed) / folder / "train.json"
        if train.is_file():
            values = files.read_json(train)
            for measure in MEASURES:
                found[measure][seed] = float(values[measure])
    return found


def judge(value, committed, seed, level):
    """(inside, words) for one measure: an exact match of the committed run of the same seed, or
    its place in the `level` prediction interval of the committed seeds (t over n - 1 degrees of freedom,
    sd * sqrt(1 + 1/n) wide, for one new observation)."""
    same = committed.get(seed)
    if same is not None and abs(value - same) <= EXACT * max(1.0, abs(same)):
        return True, f"{value:.4f}, the committed seed {seed}'s exactly"
    others = np.array(list(committed.values()))
    if others.size < 2:
        return True, f"{value:.4f}; {others.size} committed seed(s): no interval to judge by"
    mean, spread = float(others.mean()), float(others.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, others.size - 1)) * spread * math.sqrt(1 + 1 / others.size)
    inside = mean - half <= value <= mean + half
    distance = (value - mean) / spread if spread > 0 else math.inf
    return inside, (f"{value:.4f}, {'inside' if inside else 'OUTSIDE'} [{mean - half:.4f}, {mean + half:.4f}] of "
                    f"{others.size} committed seeds ({distance:+.1f} sd from their mean)")


def parting_epoch(new_history, committed_history):
    """The first epoch whose validation loss differs between two histories beyond float32's
    last digit (None when they agree throughout): where another CPU's rounding shows."""
    for (epoch, new), (_, committed) in zip(new_history[["epoch", "val_loss"]].itertuples(index=False),
                                           committed_history[["epoch", "val_loss"]].itertuples(index=False)):
        if abs(new - committed) > EXACT * max(1.0, abs(committed)):
            return int(epoch)
    return None


def parting_words(project_folder, committed_folder):
    """Where this run's history parts from the committed run of the same seed, in words."""
    committed = Path(committed_folder) / "history.csv"
    if not committed.is_file():
        return "no committed history of this seed to compare with"
    new_history, committed_history = pd.read_csv(Path(project_folder) / "history.csv"), pd.read_csv(committed)
    epoch = parting_epoch(new_history, committed_history)
    final = new_history["val_loss"].iloc[-1] - committed_history["val_loss"].iloc[-1]
    if epoch is None:
        return f"the same validation loss as the committed run at every one of its {len(new_history)} epochs"
    return (f"the validation loss equals the committed run's through epoch {epoch - 1} of {len(new_history)} and "
            f"parts at epoch {epoch}; at the end it differs by {final:+.4f}")


def verify(root, params, results_dir):
    """Train the sample in a temporary project and judge it; True when every run is inside."""
    if params["verify"]["seed"] not in params["seeds"]:
        raise StageError(f"verify.seed {params['verify']['seed']} is not one of params.yaml's seeds; the committed "
                         "runs it is compared with are trained for those")
    stages = sample_stages(params)
    with tempfile.TemporaryDirectory(prefix="verify-") as workspace:
        project = make_project(root, Path(workspace) / "project", params)
        print(f"verify: training {len(stages)} runs again in {project}: {', '.join(stages)}", flush=True)
        # On the grid runner, two stages at a time on 2 cores: each stage's thread count is its
        # param, so its numbers are those of a sequential `dvc repro`.
        result = subprocess.run([sys.executable, "-m", "fashion_pipeline.tools.grid", "--times-from", str(root), *stages],
                                cwd=project, env=project_env(project, own_store=True))
        if result.returncode != 0:
            raise StageError(f"verify: the sample did not train (grid runner exit {result.returncode}, its reason above)")
        verdicts = []
        seed = params["verify"]["seed"]
        # Another CPU kind's rounding is where a history parts first: the committed run's is said.
        trained_on = cpu_by_folder(results_dir)
        for stage, folder in stages.items():
            trained = project / "results" / runs.seed_folder(seed) / folder
            new = files.read_json(trained / "train.json")
            committed = committed_values(results_dir, folder, params["seeds"])
            kind = trained_on.get(f"{runs.seed_folder(seed)}/{folder}")
            where = f" (the committed run was trained on {kind}; this machine: {cpu_name()})" if kind else ""
            print(f"verify: {stage}: {parting_words(trained, Path(results_dir) / runs.seed_folder(seed) / folder)}{where}")
            for measure in MEASURES:
                inside, words = judge(float(new[measure]), committed[measure], seed, params["verify"]["level"])
                verdicts.append(inside)
                print(f"verify: {stage} {measure}: {words}")
    print("verify: every run reproduces" if all(verdicts) else "verify: a run falls outside its interval")
    return all(verdicts)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--results", default="results", help="the committed results to compare with")
    arguments = parser.parse_args()
    if not verify(Path.cwd(), load_params(arguments.params), arguments.results):
        sys.exit(1)


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
