"""The coursework's research essay on Adam, written out: the update rule, why each term is
there, and each statement beside this project's own measurement; then the runs behind it.
Every number comes from the essay's findings (judging.findings.Essay); the wording that depends
on a result follows it."""

import math

from fashion_pipeline.document import answers, sections
from fashion_pipeline.document.figures import ESSAY_BIAS_CORRECTION, ESSAY_DECAY, ESSAY_MOMENTUM
from fashion_pipeline.judging.optimizer_study import ADAM, bias_correction_factor

# The figures after each part of the essay: those of its place, then the essay's claims' own.
PLACES = {"Momentum: the first moment": (ESSAY_MOMENTUM, "Essay"), "Bias correction": (ESSAY_BIAS_CORRECTION,),
          "Learning-rate decay": (ESSAY_DECAY,)}

# Kingma and Ba's Algorithm 1, with the decayed rate used here; one line per equation.
EQUATIONS = (
    "gₜ = ∇θ L(θₜ₋₁)",
    "mₜ = β₁ mₜ₋₁ + (1 − β₁) gₜ",
    "vₜ = β₂ vₜ₋₁ + (1 − β₂) gₜ²",
    "m̂ₜ = mₜ / (1 − β₁ᵗ),   v̂ₜ = vₜ / (1 − β₂ᵗ)",
    "αₜ = α / (1 + d (t − 1))",
    "θₜ = θₜ₋₁ − αₜ m̂ₜ / (√v̂ₜ + ε)",
)


def _said(essay, name):
    finding = essay.finding(name)
    if finding is None:
        return "(not judged: the claim is not in this configuration)"
    # Said inside a sentence that ends it: the verdict's own full stop is left to the caller.
    return f"{answers.effect(finding)}. {answers.verdict_words(finding).removesuffix('.')}"


def _spread(essay, names):
    """'0.312 at rate 0.001 to 0.341 at rate 0.0003' over the runs of a rate grid that have run."""
    runs = essay.study["runs"]
    found = {name: essay.test_losses.get(name) for name in names}
    diverged = [name for name, value in found.items() if value is not None and not math.isfinite(value)]
    found = {name: value for name, value in found.items() if value is not None and math.isfinite(value)}
    if not found:
        return "not run yet"
    low, high = min(found, key=found.get), max(found, key=found.get)
    text = (f"from {found[low]:.3f} (rate {runs[low]['learning_rate']:g}) to {found[high]:.3f} "
            f"(rate {runs[high]['learning_rate']:g})")
    if diverged:
        rates = ", ".join(f"{runs[name]['learning_rate']:g}" for name in diverged)
        text += f", and at rate {rates} it diverges"
    return text


def paragraphs(essay):
    """The essay as (subheading, text) pairs; equations come as the first part's own block."""
    study = essay.study
    adam = study["runs"][ADAM]
    beta_1, beta_2 = adam["beta_1"], adam["beta_2"]
    factors = {step: bias_correction_factor(step, beta_1, beta_2) for step in (1, 10, 100, 1000)}
    seeds = essay.seeds
    grids = study["rate_grids"]
    decay_runs = [spec for spec in study["runs"].values() if spec["decay_rate"] > 0]
    target = study["target_val_loss"]
    parts = [(
        "What Adam is",
        f"Adam (Kingma and Ba, 2015) joins two older ideas and repairs a flaw they share. From momentum it takes an "
        f"average of past gradients, so that the step keeps its direction where gradients agree; from RMSprop, a "
        f"per-weight scaling by the recent size of the gradient, so that every weight moves by about the same "
        f"amount whatever its gradient's scale. Both averages start at zero, and Adam corrects them for that. The "
        f"coursework's essay says that Adam retains the goodness of RMSprop while solving SGD with momentum's trouble "
        f"with sparse gradients, that its moment estimates are biased towards zero at first and need correcting, and "
        f"that a learning rate should start fast and end slow. Where the essay states no test, the test is ours (Adam "
        f"against SGD with momentum, each at its best rate; the size of the first steps without correction). Each is "
        f"measured here on Network B, full batch, for {study['epochs']} epochs over {seeds} seeds, every "
        f"optimizer written out from its update rule and started from the same weights within a seed. At step t, "
        f"with the gradient gₜ of the loss L with respect to the weights θ:"),
        ("Momentum: the first moment",
         f"mₜ averages the gradients over about 1 / (1 − β₁) = {1 / (1 - beta_1):.0f} steps. Along a direction where "
         f"successive gradients agree it grows to the gradient's size; across a ravine, where they alternate in sign, "
         f"it cancels, so the step follows the valley floor instead of bouncing between its walls. SGD with momentum "
         f"does the same with an undamped sum. Each rule was run at {len(grids.get('adam', []))} learning rates, and "
         f"in each seed the rate with the lowest held-out loss is the one compared, as a user tuning on the held-out "
         f"split would choose it. After the same epochs: {_said(essay, 'adam_beats_momentum')}. "
         f"Counting the epochs each needs to bring the held-out loss to {target}: "
         f"{_said(essay, 'adam_faster_than_momentum')}."),
        ("Scaling: the second moment",
         f"vₜ averages the squared gradients over about 1 / (1 − β₂) = {1 / (1 - beta_2):.0f} steps. Dividing by its "
         f"square root makes the step of each weight nearly independent of its gradient's scale: a weight whose "
         f"gradients are tiny still moves, and one whose gradients are large does not overshoot. This is RMSprop's "
         f"rule, and Adam keeps it; ε = {adam['epsilon']:g} only stops a division by zero. Against RMSprop at its "
         f"default rate, the claim that Adam is no worse: {_said(essay, 'adam_keeps_rmsprop')}. Adagrad divides by the "
         f"root of the sum of all past squared gradients instead of a moving average, so its steps only shrink; it "
         f"ends at a test loss of {_fmt(essay.test_losses.get('adagrad'))}."),
        ("Bias correction",
         f"Started at zero, both averages are too small at first: after one step m₁ = (1 − β₁) g₁, a tenth of the "
         f"gradient, and v₁ = (1 − β₂) g₁², a thousandth of its square. Dividing by 1 − β₁ᵗ and 1 − β₂ᵗ removes this "
         f"bias exactly for a steady gradient. The coursework says the estimates are biased towards zero and need "
         f"correcting; read from m alone, the first steps would be too small without it. But v is biased far more, and its square root divides the step: without both "
         f"corrections the step is (1 − β₁ᵗ) / √(1 − β₂ᵗ) times the corrected one, {factors[1]:.2f} at step 1, "
         f"{factors[10]:.2f} at step 10, {factors[100]:.2f} at step 100 and {factors[1000]:.2f} at step 1000: larger, "
         f"not smaller. {_ablation_sentence(essay.first_step_ratios)} Our own claim, that the "
         f"first steps are too small without correction: {_said(essay, 'bias_correction_needed')}."),
        ("Learning-rate decay",
         "A rate large enough to travel fast at first can be too large to settle at the end. Dividing it by "
         "1 + d (t − 1) keeps the early speed and shrinks the late steps. "
         + (f"Here Adam starts at {decay_runs[0]['learning_rate']:g} with d = {decay_runs[0]['decay_rate']:g}, down to "
            f"{decay_runs[0]['learning_rate'] / (1 + decay_runs[0]['decay_rate'] * (study['epochs'] - 1)):.2g} by epoch "
            f"{study['epochs']}; against Adam at the same starting rate without decay, so that the decay alone is "
            f"judged: {_said(essay, 'decay_helps')}." if decay_runs else "No run of this configuration decays.")),
        ("How much tuning it needs",
         f"The essay says Adam needs little tuning. Over its {len(grids.get('adam', []))} rates Adam's final test "
         "loss runs "
         f"{_spread(essay, grids.get('adam', []))}; SGD with momentum's runs {_spread(essay, grids.get('sgd_momentum', []))}. "
         "Each rate was chosen on the held-out split; the test set only scores the choice."),
    ]
    return parts


def _fmt(value):
    return "not run yet" if value is None else f"{value:.3f}"


def _ablation_sentence(ratios):
    if not ratios:
        return "The ablation has not run yet."
    low, high = f"{min(ratios):.2f}", f"{max(ratios):.2f}"
    seeds_text = f"{len(ratios)} seed{'s' if len(ratios) > 1 else ''}"
    return (f"Measured on the first step over {seeds_text}, the uncorrected step is "
            f"{low if low == high else f'{low} to {high}'} times the corrected one.")


def section(report, essay):
    """The essay, term by term, each beside its measurement; then the tables behind it."""
    study = essay.study
    # The essay's claim figures come with the text that cites them, not under its answer.
    sections.open_question(report, essay.question, claim_figures=False)
    parts = paragraphs(essay)
    for heading, text in parts:
        report.heading(heading, level=3)
        report.text(text)
        if heading == parts[0][0]:
            report.equations(EQUATIONS)
            report.text("α is the learning rate, β₁ and β₂ the decay rates of the two averages, d the rate's decay "
                        "(0: none), ε a small constant; squares, roots and divisions are taken weight by weight.")
        for place in PLACES.get(heading, ()):
            report.figures(place)
    report.heading("The runs behind the essay", level=3)
    report.text(
        f"Each run trains {essay.network_label}, full batch, for {study['epochs']} epochs, on the training "
        f"set less a held-out {essay.held_out_fraction:.0%} (`val_*`); `test_*` is the test set, at the "
        f"last epoch. `epochs_to_target` counts the epochs to a held-out loss of {study['target_val_loss']} (a run "
        f"that never gets there counts as {study['epochs'] + 1}). Every optimizer is written out from its update rule "
        "(`lowlevel/optimizers.py`); tests check each against the Keras optimizer of the same name over 200 steps.")
    report.table(essay.comparison, "optimizers")
    if essay.ablation is not None:
        report.text(f"Adam's step with and without bias correction, first {study['early_epochs']} epochs (seed "
                    f"{essay.ablation_seed}):")
        report.table(essay.ablation.head(study["early_epochs"]), "bias_correction")
    report.text("The coursework gives epsilon as 1e-9 in one place and beta_2 = 0.99 with epsilon = 1e-8 in another. "
                "The paper's defaults and the ones every Adam run here uses:")
    report.table(essay.adam_defaults, "adam_defaults")
    sections.verdict_block(report, essay.question)
