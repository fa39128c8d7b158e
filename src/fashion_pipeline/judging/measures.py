"""What a measure reads from one run (judging/results.py's Run), by name: a final metric, or one
computed from the run's history or weights, some reading a value of params.yaml as well (a
claim's `target`); and each measure in words, as the report names it."""

import numpy as np


def best_epoch_accuracy(run):
    """Validation accuracy at the epoch of the lowest validation loss."""
    history = run.history
    return float(history.loc[history["val_loss"].idxmin(), "val_accuracy"])


def weight_size(run, power, layers=slice(None)):
    """The weights' mean |w|^power, to the 1/power: the size L1's penalty counts (power 1), or
    L2's (power 2, the root mean square, where large weights weigh more); of every layer, or of
    `layers`."""
    layers = run.evaluation["weights"][layers]
    count = sum(np.prod([int(size) for size in layer["shape"].split("x")]) for layer in layers)
    return (sum(layer["sum_abs" if power == 1 else "sum_squares"] for layer in layers) / count) ** (1 / power)


def epochs_to(run, target):
    """The first epoch whose validation loss is at most `target`; never reached counts as one
    epoch past the end, slower than any run that did."""
    reached = run.history.loc[run.history["val_loss"] <= target, "epoch"]
    return float(reached.iloc[0]) if len(reached) else float(run.history["epoch"].iloc[-1] + 1)


def fall_after(history, epoch):
    """How far the validation loss falls from epoch `epoch` to the last; NaN (the claim has not
    run) for a run that never reached that epoch, as a short demo's."""
    at = history.loc[history["epoch"] == epoch, "val_loss"]
    return float(at.iloc[0] - history["val_loss"].iloc[-1]) if len(at) and epoch < history["epoch"].iloc[-1] else np.nan


# Measures computed from a run rather than read from its metrics.
DERIVED = {
    "gap_loss": lambda run: run.value("val_loss") - run.value("train_loss"),
    "gap_accuracy": lambda run: run.value("train_accuracy") - run.value("val_accuracy"),
    "val_loss_rise": lambda run: run.value("val_loss") - run.value("best_val_loss"),
    "best_val_accuracy": best_epoch_accuracy,
    "layer1_share_near_zero": lambda run: run.evaluation["weights"][0]["share_near_zero"],
    "mean_abs_weight": lambda run: weight_size(run, 1),
    "rms_weight": lambda run: weight_size(run, 2),
    # The output layer holds a network's largest weights: where "bigger weights" are.
    "output_rms_weight": lambda run: weight_size(run, 2, slice(-1, None)),
    "rounded_minus_true_accuracy": lambda run: run.value("val_rounded_accuracy") - run.value("val_accuracy"),
}
# Measures that read a value of params.yaml (the claim's `target`) as well as the run.
DERIVED_WITH_TARGET = {
    "epochs_to_target": epochs_to,
    "val_loss_fall_after": lambda run, epoch: fall_after(run.history, epoch),
    # `target`: how many first epochs (optimizers.early_epochs).
    "first_step_length": lambda run, epochs: float(run.history["update_norm"].iloc[:epochs].mean()),
}

# Each measure in words, as the report names it.
MEASURE_WORDS = {
    "train_loss": "final training loss",
    "test_loss": "final test loss",
    "test_accuracy": "final test accuracy",
    "best_val_loss": "lowest validation loss",
    "best_val_accuracy": "validation accuracy at the lowest-loss epoch",
    "gap_loss": "final test-minus-training loss gap",
    "val_loss_rise": "rise of the validation loss above its minimum",
    "layer1_share_near_zero": "share of first-layer weights near zero",
    "mean_abs_weight": "mean |weight|",
    "rms_weight": "root-mean-square weight",
    "output_rms_weight": "root-mean-square weight of the output layer",
    "val_loss_fall_after": "fall of the validation loss from epoch {target} to the last",
    "rounded_minus_true_accuracy": "rounded minus true accuracy",
    "first_step_length": "mean step length over the first {target} epochs",
    "epochs_to_target": "epochs to the target validation loss",
}


def measure_words(measure, target=None):
    """A measure in words, with the value of params.yaml it reads (its claim's target) in them."""
    words = MEASURE_WORDS.get(measure, measure)
    return words.format(target=target) if "{target}" in words else words


def measure_value(run, measure, target=None):
    if measure in DERIVED_WITH_TARGET:
        return float(DERIVED_WITH_TARGET[measure](run, target))
    if measure in DERIVED:
        return float(DERIVED[measure](run))
    return float(run.value(measure))
