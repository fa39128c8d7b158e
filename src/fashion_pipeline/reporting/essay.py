"""The coursework's research essay on Adam, written out: the update rule, why each term is
there, and each statement beside this project's own measurement. Every number is generated
from the optimizer runs and the findings; the wording that depends on a result follows it."""

import numpy as np
import pandas as pd

from fashion_pipeline.reporting import analysis, answers

ADAM, NO_BIAS_CORRECTION = "adam", "adam_no_bias_correction"

# Kingma and Ba's Algorithm 1, with the decayed rate used here; one line per equation.
EQUATIONS = (
    "gₜ = ∇θ L(θₜ₋₁)",
    "mₜ = β₁ mₜ₋₁ + (1 − β₁) gₜ",
    "vₜ = β₂ vₜ₋₁ + (1 − β₂) gₜ²",
    "m̂ₜ = mₜ / (1 − β₁ᵗ),   v̂ₜ = vₜ / (1 − β₂ᵗ)",
    "αₜ = α / (1 + d (t − 1))",
    "θₜ = θₜ₋₁ − αₜ m̂ₜ / (√v̂ₜ + ε)",
)


def bias_correction_factor(step, beta_1, beta_2):
    """How much larger Adam's step is without bias correction, for a steady gradient:
    (1 - beta_1^t) / sqrt(1 - beta_2^t). Above 1 means the uncorrected step is larger."""
    return (1 - beta_1**step) / (1 - beta_2**step) ** 0.5


def step_size_table(corrected, uncorrected, epochs, beta_1, beta_2):
    """Epoch by epoch: the length of Adam's step with and without bias correction, their
    ratio, and the ratio the equations predict for a steady gradient."""
    epochs = min(epochs, len(corrected.history), len(uncorrected.history))
    steps = np.arange(1, epochs + 1)
    with_correction = corrected.history["update_norm"].to_numpy()[:epochs]
    without = uncorrected.history["update_norm"].to_numpy()[:epochs]
    return pd.DataFrame({
        "epoch": steps, "step_with_correction": with_correction, "step_without_correction": without,
        "measured_ratio": without / with_correction,
        "predicted_ratio": bias_correction_factor(steps, beta_1, beta_2),
    })


def _mean(inputs, name, measure):
    runs = inputs.optimizer_runs.get(name, {})
    if not runs:
        return None
    return analysis.measured(runs, None, measure, inputs.confidence,
                             inputs.params["optimizers"]["target_val_loss"]).mean


def _finding(inputs, name):
    return next((finding for finding in inputs.findings if finding.claim.name == name), None)


def _said(inputs, name):
    finding = _finding(inputs, name)
    if finding is None:
        return "(not judged: the claim is not in this configuration)"
    return f"{answers.effect(finding, inputs.labels)}; {answers.verdict_words(finding, inputs.margins)}"


def _spread(inputs, names):
    """'0.312 at rate 0.001 to 0.341 at rate 0.0003' over the runs of a rate grid that have run."""
    runs = inputs.params["optimizers"]["runs"]
    found = {name: _mean(inputs, name, "test_loss") for name in names}
    found = {name: value for name, value in found.items() if value is not None}
    if not found:
        return "not run yet"
    low, high = min(found, key=found.get), max(found, key=found.get)
    return (f"from {found[low]:.3f} (rate {runs[low]['learning_rate']:g}) to {found[high]:.3f} "
            f"(rate {runs[high]['learning_rate']:g})")


def paragraphs(inputs):
    """The essay as (subheading, text) pairs; equations come as the first part's own block."""
    study = inputs.params["optimizers"]
    adam = study["runs"][ADAM]
    beta_1, beta_2 = adam["beta_1"], adam["beta_2"]
    factors = {step: bias_correction_factor(step, beta_1, beta_2) for step in (1, 10, 100, 1000)}
    seeds = len(inputs.params["seeds"])
    grids = study["rate_grids"]
    decay_runs = [spec for spec in study["runs"].values() if spec["decay_rate"] > 0]
    target = study["target_val_loss"]
    parts = [(
        "What Adam is",
        f"Adam (Kingma and Ba, 2015) joins two older ideas and repairs a flaw they share. From momentum it takes an "
        f"average of past gradients, so that the step keeps its direction where gradients agree; from RMSprop, a "
        f"per-weight scaling by the recent size of the gradient, so that every weight moves by about the same "
        f"amount whatever its gradient's scale. Both averages start at zero, and Adam corrects them for that. The "
        f"coursework's essay makes four claims about it: it converges faster than SGD with momentum, it keeps "
        f"RMSprop's goodness, its bias correction matters for the first steps, and a decaying learning rate helps. "
        f"Each is measured here on Network B, full batch, for {study['epochs']} epochs over {seeds} seeds, every "
        f"optimizer written out from its update rule and started from the same weights within a seed. At step t, "
        f"with the gradient gₜ of the loss L with respect to the weights θ:"),
        ("Momentum: the first moment",
         f"mₜ averages the gradients over about 1 / (1 − β₁) = {1 / (1 - beta_1):.0f} steps. Along a direction where "
         f"successive gradients agree it grows to the gradient's size; across a ravine, where they alternate in sign, "
         f"it cancels, so the step follows the valley floor instead of bouncing between its walls. SGD with momentum "
         f"does the same with an undamped sum. Each rule was run at three learning rates and compared at the rate with "
         f"the lowest loss on the held-out split. After the same epochs: {_said(inputs, 'adam_beats_momentum')}. "
         f"Counting the epochs each needs to bring the held-out loss to {target}: "
         f"{_said(inputs, 'adam_faster_than_momentum')}."),
        ("Scaling: the second moment",
         f"vₜ averages the squared gradients over about 1 / (1 − β₂) = {1 / (1 - beta_2):.0f} steps. Dividing by its "
         f"square root makes the step of each weight nearly independent of its gradient's scale: a weight whose "
         f"gradients are tiny still moves, and one whose gradients are large does not overshoot. This is RMSprop's "
         f"rule, and Adam keeps it; ε = {adam['epsilon']:g} only stops a division by zero. Against RMSprop at its "
         f"default rate, the claim that Adam is no worse: {_said(inputs, 'adam_keeps_rmsprop')}. Adagrad divides by the "
         f"root of the sum of all past squared gradients instead of a moving average, so its steps only shrink; it "
         f"ends at a test loss of {_fmt(_mean(inputs, 'adagrad', 'test_loss'))}."),
        ("Bias correction",
         f"Started at zero, both averages are too small at first: after one step m₁ = (1 − β₁) g₁, a tenth of the "
         f"gradient, and v₁ = (1 − β₂) g₁², a thousandth of its square. Dividing by 1 − β₁ᵗ and 1 − β₂ᵗ removes this "
         f"bias exactly for a steady gradient. The coursework argues from m alone that without correction the first "
         f"steps are too small. But v is biased far more, and its square root divides the step: without both "
         f"corrections the step is (1 − β₁ᵗ) / √(1 − β₂ᵗ) times the corrected one, {factors[1]:.2f} at step 1, "
         f"{factors[10]:.2f} at step 10, {factors[100]:.2f} at step 100 and {factors[1000]:.2f} at step 1000: larger, "
         f"not smaller. {_ablation_sentence(inputs)} The claim as the coursework states it: "
         f"{_said(inputs, 'bias_correction_needed')}."),
        ("Learning-rate decay",
         "A rate large enough to travel fast at first can be too large to settle at the end. Dividing it by "
         "1 + d (t − 1) keeps the early speed and shrinks the late steps. "
         + (f"Here Adam starts at {decay_runs[0]['learning_rate']:g} with d = {decay_runs[0]['decay_rate']:g}, down to "
            f"{decay_runs[0]['learning_rate'] / (1 + decay_runs[0]['decay_rate'] * (study['epochs'] - 1)):.2g} by epoch "
            f"{study['epochs']}; against Adam at the same starting rate without decay, so that the decay alone is "
            f"judged: {_said(inputs, 'decay_helps')}." if decay_runs else "No run of this configuration decays.")),
        ("How much tuning it needs",
         "The essay says Adam needs little tuning. Over its three rates Adam's final test loss runs "
         f"{_spread(inputs, grids.get('adam', []))}; SGD with momentum's runs {_spread(inputs, grids.get('sgd_momentum', []))}. "
         "Each rate was chosen on the held-out split; the test set only scores the choice."),
    ]
    return parts


def _fmt(value):
    return "not run yet" if value is None else f"{value:.3f}"


def _ablation_sentence(inputs):
    runs = inputs.optimizer_runs
    seeds = sorted(set(runs.get(ADAM, {})) & set(runs.get(NO_BIAS_CORRECTION, {})))
    if not seeds:
        return "The ablation has not run yet."
    ratios = [runs[NO_BIAS_CORRECTION][seed].history["update_norm"].iloc[0]
              / runs[ADAM][seed].history["update_norm"].iloc[0] for seed in seeds]
    low, high = f"{min(ratios):.2f}", f"{max(ratios):.2f}"
    seeds_text = f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}"
    return (f"Measured on the first step over {seeds_text}, the uncorrected step is "
            f"{low if low == high else f'{low} to {high}'} times the corrected one.")
