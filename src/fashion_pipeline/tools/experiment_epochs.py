"""`make bench-epochs`: every experiment of params.yaml, its compiled epoch alone against its
roofline per epoch (roofline.py), each pair measured here one after the other, on the
experiment's own pixel scale. `make bench` trains a slice of stages whole; this reaches the
experiments the slice does not, at the epoch: a stage's ratio adds what it does besides its
epochs (its compilation, epoch rows and checkpoints), which `make bench`'s breakdown measures.

Writes reports/experiment_epochs.json and prints it. A benchmark, not a test: nothing here
asserts a speed.
"""

import argparse

from fashion_pipeline import cli, files
from fashion_pipeline.params import load_params
from fashion_pipeline.tools.benchmark import machine, pipeline_conditions, rounded, show, timed_trainer, training_data
from fashion_pipeline.tools.fit_paths import compiled_epoch
from fashion_pipeline.tools.roofline import seconds_per_epoch, stage_roofline

KINDS = ("lowlevel", "keras")


def experiment_epoch(spec, kind, train, sets, epochs=3, rounds=3):
    """An experiment's compiled epoch (the best after the first; Part A's as its stages run it, a
    TensorFlow graph) and its roofline's parts, side by side."""
    measured_counts = [len(features) for features, _ in sets.values()]
    roofline = stage_roofline(spec, kind, len(train[0]), measured_counts, spec["epochs"])
    per_epoch = seconds_per_epoch(roofline)
    seconds = (compiled_epoch(spec, train, sets, roofline, epochs=epochs)["seconds_per_epoch"] if kind == "keras"
               else timed_trainer(spec, train, sets, epochs, rounds)[0])
    return {"kind": kind, "epochs": spec["epochs"], "seconds_per_epoch": seconds,
            "roofline_seconds_per_epoch": per_epoch, "over_roofline": seconds / per_epoch,
            "roofline": {key: roofline[key] for key in ("seconds_per_epoch", "elementwise_seconds_per_epoch",
                                                        "pretransposed_products_seconds_per_epoch", "products_gflops")}}


def experiment_epochs(experiments, data_by_scale, default_scale, **timing):
    """name -> experiment_epoch of each experiment of `experiments` ({kind: {name: spec}}), on
    the data of its pixel scale (`data_by_scale`: {scaled: (train, sets)})."""
    return {name: experiment_epoch(spec, kind, *data_by_scale[spec.get("scale", default_scale)], **timing)
            for kind in KINDS for name, spec in experiments[kind].items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--out", default="reports/experiment_epochs.json")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    pipeline_conditions(params)
    data_by_scale = {scale: training_data(params, arguments.prepared, scale=scale) for scale in (True, False)}
    results = {"machine": machine(),
               "experiments": experiment_epochs(params["experiments"], data_by_scale, params["data"]["scale"])}
    show(results)
    files.write_json(arguments.out, rounded(results))


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
