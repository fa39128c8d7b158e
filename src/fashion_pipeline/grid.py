"""Run the whole grid seed by seed (`make grid`): for each seed, every experiment's training
then its evaluation, then the optimizer runs, then the held-out runs of the best candidates.
Each target is one `dvc repro --allow-missing`, so a finished stage is skipped, a stage whose
outputs only live in another machine's cache is not re-run, and with `training.resume: true` an
interrupted stage continues from its checkpoint.
A failed target is tried once more, then reported, and the grid goes on. The data is prepared
first, as a fresh clone has no data/prepared."""

import subprocess
import sys

from fashion_pipeline.params import load_params


def targets(params):
    """The grid's DVC targets, seed-major, each evaluation right after its training."""
    for seed in params["seeds"]:
        for kind, experiments in params["experiments"].items():
            yield from (f"evaluate_{kind}@{name}-{seed}" for name in experiments)
        yield from (f"compare_optimizers@{run}-{seed}" for run in params["optimizers"]["runs"])
        yield from (f"holdout_keras@{name}-{seed}" for name in params["holdout"]["experiments"])


def main():
    # The data first, without --allow-missing: on a machine that has not run it, its outputs are
    # missing, and the training stages need them (made again, they hash the same).
    if subprocess.run(["dvc", "repro", "prepare"]).returncode != 0:
        sys.exit("grid: the data could not be prepared")
    failed = []
    for target in targets(load_params()):
        for attempt in (1, 2):
            print(f"grid: {target} (attempt {attempt})", flush=True)
            if subprocess.run(["dvc", "repro", "--allow-missing", target]).returncode == 0:
                break
        else:
            failed.append(target)
    print("grid: done" + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
