"""Every conclusion of the seed, each with the test that answers it: which two runs, which
measure on which set, the direction it claims, and the margin that counts as "alike".

A measure is read from one run (experiment or optimizer run) of one seed; a claim compares two
runs seed by seed, or checks one value against zero. Final-epoch validation claims are judged
on the test loss and accuracy of `evaluate`: under the seed's protocol the validation set is the
test set, and these are the numbers the paired image-level tests can use.
"""

import dataclasses

import numpy as np

from fashion_pipeline.reporting.statistics import HIGHER, LOWER, MATERIAL, NEGLIGIBLE, POSITIVE, SIMILAR

# The epochs over which the bias-correction ablation compares step lengths.
EARLY_EPOCHS = 10


def best_epoch_accuracy(run):
    """Validation accuracy at the epoch of the lowest validation loss."""
    history = run.history
    return float(history.loc[history["val_loss"].idxmin(), "val_accuracy"])


def mean_abs_weight(run):
    weights = run.evaluation["weights"]
    count = sum(np.prod([int(size) for size in layer["shape"].split("x")]) for layer in weights)
    return sum(layer["sum_abs"] for layer in weights) / count


def epochs_to(target):
    def measure(run):
        reached = run.history.loc[run.history["val_loss"] <= target, "epoch"]
        # Never reached counts as one epoch past the end: slower than any run that did.
        return float(reached.iloc[0]) if len(reached) else float(run.history["epoch"].iloc[-1] + 1)
    return measure


# Measures computed from a run rather than read from its metrics.
DERIVED = {
    "gap_loss": lambda run: run.value("val_loss") - run.value("train_loss"),
    "gap_accuracy": lambda run: run.value("train_accuracy") - run.value("val_accuracy"),
    "val_loss_rise": lambda run: run.value("val_loss") - run.value("best_val_loss"),
    "best_val_accuracy": best_epoch_accuracy,
    "layer1_share_near_zero": lambda run: run.evaluation["weights"][0]["share_near_zero"],
    "mean_abs_weight": mean_abs_weight,
    "rounded_minus_true_accuracy": lambda run: run.value("val_rounded_accuracy") - run.value("val_accuracy"),
    "first_step_length": lambda run: float(run.history["update_norm"].iloc[:EARLY_EPOCHS].mean()),
}


def measure_value(run, measure, target_val_loss):
    if measure == "epochs_to_target":
        return epochs_to(target_val_loss)(run)
    if measure in DERIVED:
        return float(DERIVED[measure](run))
    return float(run.value(measure))


@dataclasses.dataclass(frozen=True)
class Claim:
    question: str  # the coursework's numbering
    statement: str  # what the seed says, in brief
    measure: str
    direction: str  # what the coursework claims of first - second (or of first alone)
    first: str
    second: str | None = None
    optimizer: bool = False  # the runs are optimizer runs, not experiments
    seed_says: str = ""
    headline: bool = False  # the claim that stands for its question on the report's scorecard


CLAIMS = [
    Claim("A 1-1", "The softmax classifier does not clearly overfit in 500 epochs (validation loss still at its minimum)",
          "val_loss_rise", NEGLIGIBLE, "lowlevel_softmax", seed_says="train 0.486, validation 0.521 at epoch 500",
          headline=True),
    Claim("A 1-1", "Note 2: the rounded element-wise accuracy reads higher than true accuracy",
          "rounded_minus_true_accuracy", POSITIVE, "lowlevel_softmax", seed_says="0.89999 at the start, 0.91 later"),
    Claim("A 1-2-1, 1-2-2", "Network B reaches a lower training loss than Network A (training set)",
          "train_loss", LOWER, "lowlevel_net_b", "lowlevel_net_a", seed_says="0.2094 vs 0.2177"),
    Claim("A 1-2-1, 1-2-2", "Network B reaches a lower validation loss than Network A",
          "test_loss", LOWER, "lowlevel_net_b", "lowlevel_net_a", seed_says="0.3329 vs 0.3302 (the other way)",
          headline=True),
    Claim("A 1-2-1, 1-2-2", "Networks A and B perform alike (accuracy)",
          "test_accuracy", SIMILAR, "lowlevel_net_b", "lowlevel_net_a", seed_says="0.9775 vs 0.9775 (rounded metric)"),
    Claim("A 3", "L2 ends at a lower validation data loss than L1 (converges faster)",
          "test_loss", LOWER, "lowlevel_net_b_l2", "lowlevel_net_b_l1", seed_says="totals 0.42 vs 0.84",
          headline=True),
    Claim("A 3", "L2 is more aggressive at shrinking weights (smaller mean |w|)",
          "mean_abs_weight", LOWER, "lowlevel_net_b_l2", "lowlevel_net_b_l1", seed_says="stated, not measured"),
    Claim("A 3", "L1 leaves more first-layer weights near zero than L2 (sparsity)",
          "layer1_share_near_zero", HIGHER, "lowlevel_net_b_l1", "lowlevel_net_b_l2", seed_says="not discussed"),
    Claim("A 3", "L1 has the smaller train-validation gap (\"more careful\")",
          "gap_loss", LOWER, "lowlevel_net_b_l1", "lowlevel_net_b_l2", seed_says="L1 0.82/0.84 vs L2 0.48/0.42"),
    Claim("B i", "Two layers improve on the softmax classifier (accuracy)",
          "test_accuracy", HIGHER, "keras_2l", "keras_softmax", seed_says="\"of course\""),
    Claim("B i", "Two layers (200) overfit: validation loss ends above its minimum",
          "val_loss_rise", MATERIAL, "keras_2l", seed_says="train 0.1413, validation 0.6409"),
    Claim("B i", "Deeper overfits less: 4 layers have a smaller train-validation loss gap than 3",
          "gap_loss", LOWER, "keras_4l", "keras_3l", seed_says="gaps 0.446 vs 0.622",
          headline=True),
    Claim("B i", "Deeper overfits less: 5 layers have a smaller train-validation loss gap than 4",
          "gap_loss", LOWER, "keras_5l", "keras_4l", seed_says="gaps 0.430 vs 0.446"),
    Claim("B i", "4 and 5 layers perform alike (accuracy)",
          "test_accuracy", SIMILAR, "keras_4l", "keras_5l", seed_says="0.9049 vs 0.9071"),
    Claim("B ii", "Dropout 0.2 lowers the 4-layer validation loss (final epoch)",
          "test_loss", LOWER, "keras_4l_drop20", "keras_4l", seed_says="0.3848 vs 0.5939",
          headline=True),
    Claim("B ii", "Dropout 0.2 lowers the 4-layer validation loss (best epoch)",
          "best_val_loss", LOWER, "keras_4l_drop20", "keras_4l"),
    Claim("B ii", "Dropout 0.2 shrinks the 4-layer train-validation gap",
          "gap_loss", LOWER, "keras_4l_drop20", "keras_4l"),
    Claim("B ii", "Dropout 0.2 keeps the 4-layer accuracy (final epoch)",
          "test_accuracy", SIMILAR, "keras_4l_drop20", "keras_4l", seed_says="0.9003 vs 0.9049"),
    Claim("B ii", "Dropout 0.3 beats 0.2 on 4 layers (validation loss)",
          "test_loss", LOWER, "keras_4l_drop30", "keras_4l_drop20", seed_says="0.3781 vs 0.3848"),
    Claim("B ii", "Tapered dropout beats uniform 0.3 on 4 layers (validation loss)",
          "test_loss", LOWER, "keras_4l_drop_taper", "keras_4l_drop30", seed_says="0.3443 vs 0.3781"),
    Claim("B ii", "Tapered dropout beats uniform 0.3 on 4 layers (accuracy)",
          "test_accuracy", HIGHER, "keras_4l_drop_taper", "keras_4l_drop30", seed_says="0.9034 vs 0.8911"),
    Claim("B ii", "Dropout 0.2 lowers the 5-layer validation loss (final epoch)",
          "test_loss", LOWER, "keras_5l_drop20", "keras_5l", seed_says="0.4044 vs 0.5802"),
    Claim("B ii", "Dropout 0.2 lowers the 5-layer validation loss (best epoch)",
          "best_val_loss", LOWER, "keras_5l_drop20", "keras_5l"),
    Claim("B ii", "Dropout 0.2 keeps the 5-layer accuracy (best epoch)",
          "best_val_accuracy", SIMILAR, "keras_5l_drop20", "keras_5l"),
    Claim("B ii", "Tapered dropout beats uniform 0.3 on 5 layers (validation loss)",
          "test_loss", LOWER, "keras_5l_drop_taper", "keras_5l_drop30", seed_says="0.3469 vs 0.3963"),
    Claim("Essay", "Adam beats SGD with momentum (validation loss after the same epochs)",
          "val_loss", LOWER, "adam", "sgd_momentum", optimizer=True, headline=True,
          seed_says="stated in the essay, not measured"),
    Claim("Essay", "Adam beats SGD with momentum (epochs to the target validation loss)",
          "epochs_to_target", LOWER, "adam", "sgd_momentum", optimizer=True,
          seed_says="stated in the essay, not measured"),
    Claim("Essay", "Adam keeps the goodness of RMSprop (validation loss after the same epochs)",
          "val_loss", LOWER, "adam", "rmsprop", optimizer=True,
          seed_says="stated in the essay, not measured"),
    Claim("Essay", "Learning-rate decay helps: from the same starting rate, decayed Adam ends lower",
          "val_loss", LOWER, "adam_decay", "adam_fast", optimizer=True,
          seed_says="stated in the essay, not measured"),
    Claim("Essay", "Without bias correction the first steps are too small",
          "first_step_length", LOWER, "adam_no_bias_correction", "adam", optimizer=True,
          seed_says="stated in the essay, not measured"),
]
