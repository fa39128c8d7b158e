"""Stage `train_<kind>@<name>-<seed>`: train one experiment of params.yaml with one seed and
track it in MLflow.

Writes the model (.keras), the per-epoch history (CSV), the final metrics (train.json) and the
run's record (run.json: MLflow run id, timings). The experiment's kind (`lowlevel` for Part A,
`keras` for Part B) picks the package that trains it (runs.KINDS names it), imported alone, so the
code of one kind is no dependency of the other.
"""

import importlib

from fashion_pipeline import cli, frame, runs
from fashion_pipeline.errors import StageError
from fashion_pipeline.params import check_seed


def train_stage(params, address, prepared_dir="data/prepared"):
    group, name, seed = address
    kind = group.removeprefix("train_")
    if not group.startswith("train_") or kind not in frame.TRAINING_KEYS:
        raise StageError(f"stage group {group!r}: expected one of "
                         + ", ".join(f"train_{kind}" for kind in frame.TRAINING_KEYS))
    check_seed(params, seed)
    job = frame.training_job(params, kind, name, seed, "fashion_pipeline.stages.train")
    trainer = importlib.import_module(runs.KINDS[kind].training_module)

    def train_function(train, sets, recorder, checkpoint):
        return trainer.train_experiment(job.spec, params["training"], train, sets, seed, recorder, checkpoint, name)

    return frame.train(params, job, prepared_dir, train_function)


main = cli.stage_main(train_stage, __doc__, "train_keras@keras_4l-42")

if __name__ == "__main__":
    cli.run(main)
