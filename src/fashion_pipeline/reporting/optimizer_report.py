"""The report's section on the coursework's research essay: the optimizer comparison over
seeds, the bias-correction ablation and Adam's defaults. Runs arrive as `name -> {seed: Run}`."""

from importlib import metadata

import pandas as pd

from fashion_pipeline.reporting import analysis, essay, sections
from fashion_pipeline.reporting.coursework import ADAM_DEFAULTS_COURSEWORK, ADAM_DEFAULTS_PAPER
from fashion_pipeline.reporting.statistics import NOT_RUN

# The runs the ablation and the cross-check use (names in optimizers.runs of params.yaml).
ADAM, NO_BIAS_CORRECTION = essay.ADAM, essay.NO_BIAS_CORRECTION
# Bias correction matters over the first few hundred steps; the ablation's table shows these.
EARLY_STEPS = 10


def comparison_table(study, runs, confidence):
    """Per run: its optimizer, and over seeds the final and best losses and the epochs it takes
    to bring the validation loss to the target."""
    measures = ("train_loss", "val_loss", "test_loss", "test_accuracy", "epochs_to_target")
    rows = []
    for name, spec in study["runs"].items():
        row = {"run": name, "rule": spec["rule"], "learning_rate": spec["learning_rate"], "decay_rate": spec["decay_rate"],
               "seeds": len(runs.get(name, {}))}
        for measure in measures:
            done = runs.get(name, {})
            found = analysis.measured(done, None, measure, confidence, study["target_val_loss"]) if done else None
            row[measure] = found.text(2 if measure == "epochs_to_target" else 4) if found else NOT_RUN
        rows.append(row)
    return pd.DataFrame(rows)


def adam_defaults_table(adam_spec):
    """Adam's defaults in the paper, the ones every Adam run here uses (Keras's defaults, as
    params.yaml gives them; a test checks them against the installed Keras), and the coursework's."""
    ours = {key: adam_spec[key] for key in ("learning_rate", "beta_1", "beta_2", "epsilon")}
    rows = [{"source": "Kingma & Ba (2015), Algorithm 1", **ADAM_DEFAULTS_PAPER},
            {"source": f"Keras {metadata.version('keras')} defaults (every Adam run here)", **ours},
            *({"source": source, **values} for source, values in ADAM_DEFAULTS_COURSEWORK.items())]
    return pd.DataFrame(rows)


def section(report, inputs):
    """The essay, term by term, each beside its measurement; then the tables behind it."""
    params, runs, confidence = inputs.params, inputs.optimizer_runs, inputs.confidence
    study = params["optimizers"]
    sections.open_question(report, inputs, "Essay", claim_figures=False)
    parts = essay.paragraphs(inputs)
    # Where each figure reads best: after the part that cites it.
    after = {"Momentum: the first moment": ("optimizers", "optimizer_rates", "claim_adam_beats_momentum"),
             "Bias correction": ("bias_correction",), "Learning-rate decay": ("adam_variants",)}
    for heading, text in parts:
        report.heading(heading, level=3)
        report.text(text)
        if heading == parts[0][0]:
            report.equations(essay.EQUATIONS)
            report.text("α is the learning rate, β₁ and β₂ the decay rates of the two averages, d the rate's decay "
                        "(0: none), ε a small constant; squares, roots and divisions are taken weight by weight.")
        for name in after.get(heading, ()):
            report.show(name)
    report.heading("The runs behind the essay", level=3)
    report.text(
        f"Each run trains the `{study['network']}` network, full batch, for {study['epochs']} epochs, on the training "
        f"set less a held-out {params['data']['held_out_fraction']:.0%} (`val_*`); `test_*` is the test set, at the "
        f"last epoch. `epochs_to_target` counts the epochs to a held-out loss of {study['target_val_loss']} (a run "
        f"that never gets there counts as {study['epochs'] + 1}). Every optimizer is written out from its update rule "
        "(`lowlevel/optimizers.py`); tests check each against the Keras optimizer of the same name over 200 steps.")
    report.table(comparison_table(study, runs, confidence), "optimizers")
    first_seed = min(set(runs.get(ADAM, {})) & set(runs.get(NO_BIAS_CORRECTION, {})), default=None)
    if first_seed is not None:
        spec = study["runs"][ADAM]
        table = essay.step_size_table(runs[ADAM][first_seed], runs[NO_BIAS_CORRECTION][first_seed], study["ablation_epochs"],
                                spec["beta_1"], spec["beta_2"])
        report.text(f"Adam's step with and without bias correction, first {EARLY_STEPS} epochs (seed {first_seed}):")
        report.table(table.head(EARLY_STEPS), "bias_correction")
    report.text("The coursework gives epsilon as 1e-9 in one place and beta_2 = 0.99 with epsilon = 1e-8 in another. "
                "The paper's defaults and the ones every Adam run here uses:")
    report.table(adam_defaults_table(study["runs"][ADAM]), "adam_defaults")
    sections.verdict_block(report, inputs, "Essay")
