"""The CPU kind each committed run was trained on, from the git history: what its training wrote took
its content in one commit (the last that changed its history and final metrics), and that commit
belongs to one machine's stretch of the history, as `report.training_machines` in params.yaml
states it (each machine through its last commit, the newest through HEAD). Another CPU kind rounds
float sums differently, so the report says whether the two arms of a comparison ran on one kind.

`python -m fashion_pipeline.tools.training_cpus` writes results/training_cpus.csv, which the report
reads; tests/test_registration.py holds the committed file to the history."""

import collections
import csv
import subprocess
from pathlib import Path

from fashion_pipeline import cli
from fashion_pipeline.params import load_params
from fashion_pipeline.tools.registration import git

TABLE = Path("results") / "training_cpus.csv"
COLUMNS = ("folder", "cpu", "commit")
TRAINED = ("history.csv", "train.json")


def run_folders(results):
    """Every committed run's folder under `results`, relative to it (seed_42/keras_2l,
    seed_42/optimizers/adam, seed_42/holdout/keras_2l)."""
    return sorted(str(path.parent.relative_to(results)) for path in Path(results).glob("seed_*/**/train.json"))


def numbers_commit(root, folder):
    """The last commit that changed what training wrote (its history and final metrics): an
    evaluation may have run later, elsewhere, and run.json records where and how long only."""
    return git(root, "log", "-1", "--format=%H", "--", *(f"{folder}/{name}" for name in TRAINED)).strip()


def is_ancestor(root, commit, of):
    """Whether `commit` is `of` or lies before it; a commit git does not know is an error."""
    result = subprocess.run(["git", "merge-base", "--is-ancestor", commit, of], cwd=root, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise ValueError(f"report.training_machines: git cannot place {commit} against {of!r} "
                         f"({result.stderr.strip() or 'no message'}); a machine's `through` must be a commit of this history")
    return result.returncode == 0


def machine_of(root, commit, machines):
    """The first machine whose stretch of the history holds `commit`."""
    for machine in machines:
        if is_ancestor(root, commit, machine["through"]):
            return machine["cpu"]
    raise ValueError(f"commit {commit} lies in no machine's stretch of report.training_machines")


def training_cpus(root, params, results="results"):
    """One row per committed run: its folder, the CPU kind it was trained on, and the commit."""
    root = Path(root)
    rows = []
    for folder in run_folders(root / results):
        commit = numbers_commit(root, f"{results}/{folder}")
        if commit:
            rows.append({"folder": folder, "cpu": machine_of(root, commit, params["report"]["training_machines"]),
                         "commit": commit})
    return rows


def write(rows, path):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main():
    rows = training_cpus(Path.cwd(), load_params())
    write(rows, TABLE)
    counts = collections.Counter(row["cpu"] for row in rows)
    print(f"{TABLE}: {len(rows)} runs, " + ", ".join(f"{count} on {kind}" for kind, count in sorted(counts.items())))


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
