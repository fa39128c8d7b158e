"""Every conclusion of the coursework, each with the test that answers it: which two runs, which
measure on which set, the direction it claims, and which margin counts as "alike".

A measure is read from one run (experiment or optimizer run) of one seed; a claim compares two
runs seed by seed, or checks one value against zero. Final-epoch claims of Parts A and B are
judged on the test loss and accuracy of `evaluate`: under the coursework's protocol the
validation set is the test set, and these come with one row per test image, so their intervals
carry the sampling of the images as well as the seeds. Which claims are primary, and the margins,
are in params.yaml (`report`).
"""

import dataclasses

from fashion_pipeline.errors import ParamsError
from fashion_pipeline.judging.statistics import HIGHER, LOWER, MATERIAL, NEGLIGIBLE, POSITIVE, SIMILAR


@dataclasses.dataclass(frozen=True)
class Claim:
    name: str  # stable, so params.yaml can list the primary claims
    question: str  # the coursework's numbering, a key of `questions` in params.yaml
    statement: str  # what the coursework says, in brief
    measure: str
    direction: str  # what the coursework claims of first - second (or of first alone)
    margin: str  # a key of report.margins
    first: str
    second: str | None = None
    optimizer: bool = False  # the runs are optimizer runs, not experiments
    # Optimizer claims only: first and second name rate grids (optimizers.rate_grids), each
    # compared, seed by seed, at the rate with that seed's lowest held-out loss.
    best_rate: bool = False
    target: str = ""  # the params.yaml key of the value a measure reads (a target loss, an epoch)
    coursework_says: str = ""
    # A claim the coursework does not make: added here, and never reported as the coursework's.
    ours: bool = False
    # The claim this one qualifies (the same comparison read another way), said beside it in the
    # summary so that a headline never stands without its qualifier.
    qualifies: str = ""

    @property
    def compared(self):
        return f"{self.first} − {self.second}" if self.second else self.first


CLAIMS = [
    Claim("softmax_settles", "A 1-1", "The softmax classifier does not clearly overfit in 500 epochs",
          "val_loss_rise", NEGLIGIBLE, "loss", "lowlevel_softmax",
          coursework_says="validation loss 0.518 at epoch 350, 0.521 at epoch 500"),
    Claim("softmax_stagnates", "A 1-1", "The softmax classifier's validation loss stagnates from epoch 350: it falls "
          "by less than the margin after it", "val_loss_fall_after", NEGLIGIBLE, "loss", "lowlevel_softmax",
          target="report.stagnation_epoch", coursework_says="validation loss 0.518 at epoch 350, 0.521 at epoch 500"),
    Claim("rounded_accuracy_reads_high", "A 1-1", "Note 2: the rounded element-wise accuracy reads higher than true accuracy",
          "rounded_minus_true_accuracy", POSITIVE, "accuracy", "lowlevel_softmax",
          coursework_says="0.89999 at the start, 0.91 later"),
    Claim("b_trains_lower", "A 1-2-1, 1-2-2", "Network B reaches a lower training loss than Network A",
          "train_loss", LOWER, "loss", "lowlevel_net_b", "lowlevel_net_a", coursework_says="0.2094 vs 0.2177"),
    Claim("b_beats_a", "A 1-2-1, 1-2-2", "Network B reaches a lower validation loss than Network A",
          "test_loss", LOWER, "loss", "lowlevel_net_b", "lowlevel_net_a",
          coursework_says="0.3329 vs 0.3302, the other way"),
    Claim("a_b_alike", "A 1-2-1, 1-2-2", "Networks A and B perform alike (accuracy)",
          "test_accuracy", SIMILAR, "accuracy", "lowlevel_net_b", "lowlevel_net_a",
          coursework_says="0.9775 vs 0.9775 (rounded metric)"),
    Claim("l2_ends_lower", "A 3", "L2 ends at a lower validation data loss than L1",
          "test_loss", LOWER, "loss", "lowlevel_net_b_l2", "lowlevel_net_b_l1", coursework_says="totals 0.42 vs 0.84"),
    Claim("l2_converges_faster", "A 3", "L2 converges faster than L1 (epochs to the target validation data loss)",
          "epochs_to_target", LOWER, "epochs", "lowlevel_net_b_l2", "lowlevel_net_b_l1",
          target="report.regularization_target_val_loss", coursework_says="stated from the curves"),
    Claim("l2_shrinks_more", "A 3", "L2 is more aggressive at shrinking weights (smaller mean |w|)",
          "mean_abs_weight", LOWER, "weight", "lowlevel_net_b_l2", "lowlevel_net_b_l1",
          coursework_says="stated, not measured"),
    # Mean |w| is the size L1's penalty counts, so it leans towards L1; the root mean square is the
    # size L2's penalty counts ("heavily penalized for bigger weights", the coursework's reason).
    Claim("l2_shrinks_more_rms", "A 3", "L2 is more aggressive at shrinking weights (smaller root-mean-square w)",
          "rms_weight", LOWER, "weight", "lowlevel_net_b_l2", "lowlevel_net_b_l1",
          coursework_says="stated, not measured"),
    Claim("l2_shrinks_largest", "A 3", "L2 is more aggressive at shrinking the largest weights (smaller root-mean-square "
          "w of the output layer)", "output_rms_weight", LOWER, "weight", "lowlevel_net_b_l2", "lowlevel_net_b_l1",
          coursework_says="stated, not measured"),
    Claim("l1_sparser", "A 3", "L1 leaves more first-layer weights near zero than L2 (sparsity)",
          "layer1_share_near_zero", HIGHER, "share", "lowlevel_net_b_l1", "lowlevel_net_b_l2",
          coursework_says="not discussed", ours=True),
    Claim("l1_smaller_gap", "A 3", "L1 has the smaller train-validation gap (\"more careful\")",
          "gap_loss", LOWER, "loss", "lowlevel_net_b_l1", "lowlevel_net_b_l2",
          coursework_says="L1 0.82/0.84 vs L2 0.48/0.42"),
    Claim("two_layers_beat_softmax", "B i", "Two layers improve on the softmax classifier (accuracy)",
          "test_accuracy", HIGHER, "accuracy", "keras_2l", "keras_softmax", coursework_says="\"of course\""),
    Claim("two_layers_overfit", "B i", "Two layers (200) overfit: validation loss ends above its minimum",
          "val_loss_rise", MATERIAL, "loss", "keras_2l", coursework_says="train 0.1413, validation 0.6409"),
    Claim("four_lower_loss_than_three", "B i", "Deeper performs better in loss: 4 layers end at a lower validation "
          "loss than 3", "test_loss", LOWER, "loss", "keras_4l", "keras_3l", coursework_says="0.5939 vs 0.7409"),
    Claim("five_lower_loss_than_four", "B i", "Deeper performs better in loss: 5 layers end at a lower validation "
          "loss than 4", "test_loss", LOWER, "loss", "keras_5l", "keras_4l", coursework_says="0.5802 vs 0.5939"),
    Claim("four_overfit_less_than_three", "B i", "Deeper overfits less: 4 layers have a smaller train-validation "
          "loss gap than 3", "gap_loss", LOWER, "loss", "keras_4l", "keras_3l", coursework_says="gaps 0.446 vs 0.622"),
    Claim("five_overfit_less_than_four", "B i", "Deeper overfits less: 5 layers have a smaller train-validation "
          "loss gap than 4", "gap_loss", LOWER, "loss", "keras_5l", "keras_4l", coursework_says="gaps 0.430 vs 0.446"),
    Claim("four_five_alike", "B i", "4 and 5 layers perform alike (accuracy)",
          "test_accuracy", SIMILAR, "accuracy", "keras_4l", "keras_5l", coursework_says="0.9049 vs 0.9071"),
    Claim("dropout_helps_4l", "B ii", "Dropout 0.2 lowers the 4-layer validation loss (final epoch)",
          "test_loss", LOWER, "loss", "keras_4l_drop20", "keras_4l", coursework_says="0.3848 vs 0.5939"),
    Claim("dropout_helps_4l_best", "B ii", "Dropout 0.2 lowers the 4-layer validation loss (best epoch)",
          "best_val_loss", LOWER, "loss", "keras_4l_drop20", "keras_4l", ours=True, qualifies="dropout_helps_4l"),
    Claim("dropout_shrinks_gap_4l", "B ii", "Dropout 0.2 shrinks the 4-layer train-validation gap",
          "gap_loss", LOWER, "loss", "keras_4l_drop20", "keras_4l", ours=True),
    Claim("dropout_keeps_accuracy_4l", "B ii", "Dropout 0.2 keeps the 4-layer accuracy (final epoch)",
          "test_accuracy", SIMILAR, "accuracy", "keras_4l_drop20", "keras_4l", coursework_says="0.9003 vs 0.9049, no conclusion drawn",
          ours=True),
    Claim("dropout_30_beats_20", "B ii", "Dropout 0.3 beats 0.2 on 4 layers (validation loss)",
          "test_loss", LOWER, "loss", "keras_4l_drop30", "keras_4l_drop20", coursework_says="0.3781 vs 0.3848"),
    Claim("dropout_30_smaller_gap", "B ii", "Dropout 0.3 shrinks the 4-layer train-validation gap below dropout 0.2's",
          "gap_loss", LOWER, "loss", "keras_4l_drop30", "keras_4l_drop20", coursework_says="gaps 0.012 vs 0.091"),
    Claim("taper_beats_30_4l", "B ii", "Tapered dropout beats uniform 0.3 on 4 layers (validation loss)",
          "test_loss", LOWER, "loss", "keras_4l_drop_taper", "keras_4l_drop30", coursework_says="0.3443 vs 0.3781"),
    Claim("taper_more_accurate_4l", "B ii", "Tapered dropout beats uniform 0.3 on 4 layers (accuracy)",
          "test_accuracy", HIGHER, "accuracy", "keras_4l_drop_taper", "keras_4l_drop30",
          coursework_says="0.9034 vs 0.8911"),
    Claim("dropout_helps_5l", "B ii", "Dropout 0.2 lowers the 5-layer validation loss (final epoch)",
          "test_loss", LOWER, "loss", "keras_5l_drop20", "keras_5l", coursework_says="0.4044 vs 0.5802"),
    Claim("dropout_helps_5l_best", "B ii", "Dropout 0.2 lowers the 5-layer validation loss (best epoch)",
          "best_val_loss", LOWER, "loss", "keras_5l_drop20", "keras_5l", ours=True),
    Claim("dropout_keeps_accuracy_5l", "B ii", "Dropout 0.2 keeps the 5-layer accuracy (best epoch)",
          "best_val_accuracy", SIMILAR, "accuracy", "keras_5l_drop20", "keras_5l", ours=True),
    Claim("taper_beats_30_5l", "B ii", "Tapered dropout beats uniform 0.3 on 5 layers (validation loss)",
          "test_loss", LOWER, "loss", "keras_5l_drop_taper", "keras_5l_drop30", coursework_says="0.3469 vs 0.3963"),
    Claim("adam_beats_momentum", "Essay", "Adam beats SGD with momentum, each at its best rate (test loss after "
          "the same epochs)", "test_loss", LOWER, "loss", "adam", "sgd_momentum", optimizer=True, best_rate=True,
          coursework_says="the essay: SGD with momentum does not work well with sparse gradients", ours=True),
    Claim("adam_faster_than_momentum", "Essay", "Adam beats SGD with momentum, each at its best rate (epochs to "
          "the target validation loss)", "epochs_to_target", LOWER, "epochs", "adam", "sgd_momentum", optimizer=True,
          best_rate=True, target="optimizers.target_val_loss",
          coursework_says="the essay: SGD with momentum does not work well with sparse gradients", ours=True),
    Claim("adam_keeps_rmsprop", "Essay", "Adam keeps the goodness of RMSprop: no worse by more than the margin "
          "(test loss)", "test_loss", NEGLIGIBLE, "loss", "adam", "rmsprop", optimizer=True,
          coursework_says="stated in the essay, not measured"),
    Claim("decay_helps", "Essay", "Learning-rate decay helps: from the same starting rate, decayed Adam ends lower",
          "test_loss", LOWER, "loss", "adam_decay", "adam_fast", optimizer=True,
          coursework_says="stated in the essay, not measured"),
    Claim("bias_correction_needed", "Essay", "Without bias correction the first steps are too small",
          "first_step_length", LOWER, "step", "adam_no_bias_correction", "adam", optimizer=True,
          target="optimizers.early_epochs",
          coursework_says="the essay: the moment estimates are biased towards zero at first", ours=True),
]


def check_claims(params, claims=CLAIMS):
    """Before the report starts: the primary claims name claims, and every claim's margin is in
    params.yaml."""
    names = [claim.name for claim in claims]
    for name in params["report"]["primary_claims"]:
        if name not in names:
            raise ParamsError("report.primary_claims", name, "one of the claims: " + ", ".join(names))
    # A configuration with fewer seeds (the demo, the tests' subsets) keeps the full list: a seed it
    # does not train is simply not judged.
    for name in params["report"].get("blind_seeds", {}):
        if name not in params["report"]["primary_claims"]:
            raise ParamsError("report.blind_seeds", name, "a primary claim (report.primary_claims)")
    for claim in claims:
        if claim.margin not in params["report"]["margins"]:
            raise ParamsError("report.margins", sorted(params["report"]["margins"]),
                              f"a margin named {claim.margin!r} (claim {claim.name})")
