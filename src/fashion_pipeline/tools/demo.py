"""`make demo`: the real pipeline at a small scale, in minutes. Both kinds, two seeds, the
optimizer comparison and the protocol check, a few epochs on a stratified subset of the real
images, run on the grid runner in a project of its own (`demo/`, git-ignored) and recorded in
the MLflow experiment `<experiment>-demo` of the project's store. The committed results are
never touched; it ends with the demo's own report and its runs in `make ui`.
"""

import argparse
import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from fashion_pipeline import cli
from fashion_pipeline.params import load_params


def small_params(params, experiments, epochs=2, limit_train=600, limit_test=300, optimizer_runs=("adam",),
                 seeds=(42,)):
    """The real configuration cut to a few experiments, optimizer runs and seeds, a few epochs
    and a small stratified subset of the real images. The optimizer comparison uses the first
    Part A experiment kept; the protocol check, the kept candidates (else the first Keras
    experiment kept)."""
    params = copy.deepcopy(params)
    params["seeds"] = list(seeds)
    params["data"].update(limit_train=limit_train, limit_test=limit_test)
    params["training"].update(progress_every_epochs=1, checkpoint_every_epochs=1)
    lowlevel = [name for name in experiments if name in params["experiments"]["lowlevel"]]
    study = params["optimizers"]
    if study["network"] not in lowlevel:
        study["network"] = lowlevel[0] if lowlevel else study["network"]
    study.update(epochs=epochs, ablation_epochs=epochs, runs={name: study["runs"][name] for name in optimizer_runs})
    study["rate_grids"] = {rule: names for rule, names in study["rate_grids"].items()
                           if all(name in optimizer_runs for name in names)}
    params["experiments"] = {
        kind: {name: {**spec, "epochs": epochs} for name, spec in group.items()
               if name in experiments or (kind == "lowlevel" and name == study["network"])}
        for kind, group in params["experiments"].items()}
    kept = [name for group in params["experiments"].values() for name in group]
    # The reproduction check's sample: a kept experiment of each kind (a Keras one with dropout if
    # kept) and the first optimizer run kept.
    keras_kept = params["experiments"]["keras"]
    dropout = [name for name, spec in keras_kept.items() if spec["dropout"]] or list(keras_kept)
    params["verify"].update(seed=params["seeds"][0], optimizer_runs=list(study["runs"])[:1],
                            experiments=[*list(params["experiments"]["lowlevel"])[:1], *dropout[:1]])
    # A demo of this project is this project at its own size.
    params["demo"].update(experiments=kept, optimizer_runs=list(study["runs"]), seeds=params["seeds"], epochs=epochs,
                          limit_train=limit_train, limit_test=limit_test)
    params["studies"] = {name: {**spec, "experiments": [member for member in spec["experiments"] if member in kept]}
                         for name, spec in params["studies"].items()
                         if any(member in kept for member in spec["experiments"])}
    keras = list(params["experiments"]["keras"])
    params["holdout"]["experiments"] = [name for name in keras if name in params["holdout"]["experiments"]] or keras[:1]
    return params


def demo_params(params, epochs=None):
    """The demo's configuration, params.yaml's `demo` (its epochs unless `epochs` is given)."""
    demo = params["demo"]
    return small_params(params, demo["experiments"], epochs=epochs or demo["epochs"], limit_train=demo["limit_train"],
                        limit_test=demo["limit_test"], optimizer_runs=demo["optimizer_runs"], seeds=demo["seeds"])


def make_project(root, destination, params):
    """The pipeline of the project at `root` in a new git + DVC repository at `destination`,
    with `params` as params.yaml and a copy of the code, so DVC's hashes follow what runs."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(root / "src", destination / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(root / "dvc.yaml", destination / "dvc.yaml")
    (destination / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=destination, check=True, env=project_env(destination))
    # The project's plot templates (dvc.yaml's top-level plots name them).
    shutil.copytree(root / ".dvc" / "plots", destination / ".dvc" / "plots")
    return destination


def project_env(project, own_store=False):
    """The environment a copied project's stages run in: its own code first on the path; with
    `own_store`, they record into the project's own MLflow store, whatever store is set."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DVC_") and not (own_store and key.startswith("MLFLOW_"))}
    env["PYTHONPATH"] = str(Path(project) / "src")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", default="demo", help="where the demo project is made (replaced if it exists)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: demo.epochs in params.yaml)")
    arguments = parser.parse_args()
    root = Path.cwd()
    params = demo_params(load_params(root / "params.yaml"), arguments.epochs)
    params["mlflow"]["experiment_name"] += "-demo"
    folder = root / arguments.folder
    shutil.rmtree(folder, ignore_errors=True)
    make_project(root, folder, params)
    print(f"demo: a project of its own in {folder}, recorded in the MLflow experiment "
          f"{params['mlflow']['experiment_name']}", flush=True)
    grid = subprocess.run([sys.executable, "-m", "fashion_pipeline.tools.grid", "--times-from", str(root)], cwd=folder,
                          env=project_env(folder))
    if grid.returncode != 0:
        sys.exit(grid.returncode)
    print(f"demo: report {folder / 'reports' / 'report.html'}; runs: make ui", flush=True)


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
