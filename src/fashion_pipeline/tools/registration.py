"""Which seeds each primary claim was blind to, from the git history: a claim is blind to a seed
when it stood in `report.primary_claims`, with the measure, direction and runs it has today,
before that seed's result files took the content they have today. `report.blind_seeds` in
params.yaml states these seeds; tests/test_registration.py checks that it never claims a seed the
history does not show, and `python -m fashion_pipeline.tools.registration` prints them."""

import ast
import subprocess
from pathlib import Path

import yaml

from fashion_pipeline import cli
from fashion_pipeline.judging.claims import CLAIMS
from fashion_pipeline.params import load_params

# Where claims.py has lived.
CLAIM_FILES = ("src/fashion_pipeline/judging/claims.py", "src/fashion_pipeline/reporting/claims.py")
# Claim's positional fields, and those of them that decide what a claim tests (its wording may change).
ARGUMENTS = ("name", "question", "statement", "measure", "direction", "margin", "first", "second")
TESTED = ("measure", "direction", "first", "second")


def git(root, *arguments):
    return subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True, check=True).stdout


def shown(root, commit, path):
    """A file's text at a commit, or None where it did not exist."""
    result = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def signatures(source):
    """claim name -> (measure, direction, first, second) of each Claim(...) in a claims.py, read
    without importing it (direction constants by name)."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Claim" and node.args:
            values = [argument.value if isinstance(argument, ast.Constant) else getattr(argument, "id", None)
                      for argument in node.args]
            if isinstance(values[0], str):
                fields = dict(zip(ARGUMENTS, values))
                found[values[0]] = tuple(str(fields.get(key)).lower() for key in TESTED)
    return found


def current_signature(claim):
    return tuple(str(getattr(claim, key)).lower() for key in TESTED)


def registered_since(root, names):
    """claim name -> the commit time (Unix) since which it has stood, unchanged, among the primary
    claims (None for a claim that does not stand so at HEAD)."""
    today = {claim.name: current_signature(claim) for claim in CLAIMS}
    commits = git(root, "log", "--format=%H %ct", "--", "params.yaml", *CLAIM_FILES).split("\n")
    since = {}
    standing = set(names)
    for line in filter(None, commits):  # newest first
        commit, time = line.split()
        params = yaml.safe_load(shown(root, commit, "params.yaml") or "{}") or {}
        primary = set((params.get("report") or {}).get("primary_claims") or [])
        source = next((text for text in (shown(root, commit, path) for path in CLAIM_FILES) if text), "")
        found = signatures(source) if source else {}
        for name in list(standing):
            if name in primary and found.get(name) == today.get(name):
                since[name] = int(time)
            else:
                standing.discard(name)
        if not standing:
            break
    return {name: since.get(name) for name in names}


def run_folders(claim, params, seed):
    """The result folders a claim reads for one seed."""
    grids = params["optimizers"]["rate_grids"]
    names = [name for name in (claim.first, claim.second) if name]
    if claim.optimizer:
        runs = [run for name in names for run in (grids.get(name, [name]) if claim.best_rate else [name])]
        return [f"results/seed_{seed}/optimizers/{run}" for run in runs]
    return [f"results/seed_{seed}/{name}" for name in names]


def seen_since(root, claim, params, seed):
    """The commit time at which the numbers of the claim's result files of one seed took today's
    content (the last commit that changed any of them; run.json, the run's record of where and
    how long, holds none), or None when none is committed."""
    times = [git(root, "log", "-1", "--format=%ct", "--", folder, f":(exclude){folder}/run.json").strip()
             for folder in run_folders(claim, params, seed)]
    times = [int(time) for time in times if time]
    return max(times) if times else None


def blind_seeds(root, params):
    """claim name -> the seeds whose result files took their content after the claim stood."""
    primary = params["report"]["primary_claims"]
    since = registered_since(root, primary)
    claims = {claim.name: claim for claim in CLAIMS}
    found = {}
    for name in primary:
        seen = {seed: seen_since(root, claims[name], params, seed) for seed in params["seeds"]}
        found[name] = [seed for seed, time in seen.items()
                       if since[name] is not None and time is not None and since[name] < time]
    return found


def main():
    root = Path.cwd()
    for name, seeds in blind_seeds(root, load_params()).items():
        print(f"{name}: blind to seeds {', '.join(map(str, seeds)) or 'none'}")


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
