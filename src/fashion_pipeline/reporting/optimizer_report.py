"""The report's section on the coursework's research essay: the optimizer comparison over
seeds, the bias-correction ablation and Adam's defaults. Runs arrive as `name -> {seed: Run}`."""

from importlib import metadata

import numpy as np
import pandas as pd

from fashion_pipeline.reporting import analysis, answers, figures, sections, statistics
from fashion_pipeline.reporting.coursework import ADAM_DEFAULTS_COURSEWORK, ADAM_DEFAULTS_PAPER
from fashion_pipeline.reporting.statistics import NOT_RUN

# The runs the ablation and the cross-check use (names in optimizers.runs of params.yaml).
ADAM, NO_BIAS_CORRECTION = "adam", "adam_no_bias_correction"
# Bias correction matters over the first few hundred steps; the ablation's table shows these.
EARLY_STEPS = 10


def bias_correction_factor(step, beta_1, beta_2):
    """How much larger Adam's step is without bias correction, for a steady gradient:
    (1 - beta_1^t) / sqrt(1 - beta_2^t). Above 1 means the uncorrected step is larger."""
    return (1 - beta_1**step) / (1 - beta_2**step) ** 0.5


def comparison_table(study, runs, confidence):
    """Per run: its optimizer, and over seeds the final and best losses and the epochs it takes
    to bring the validation loss to the target."""
    measures = ("train_loss", "val_loss", "best_val_loss", "val_accuracy", "epochs_to_target")
    rows = []
    for name, spec in study["runs"].items():
        row = {"run": name, "rule": spec["rule"], "learning_rate": spec["learning_rate"], "decay_rate": spec["decay_rate"],
               "seeds": len(runs.get(name, {}))}
        for measure in measures:
            done = runs.get(name, {})
            values = analysis.values_by_seed(done, measure, study["target_val_loss"]).values()
            row[measure] = statistics.interval(values, confidence).text(2 if measure == "epochs_to_target" else 4) if done else NOT_RUN
        rows.append(row)
    return pd.DataFrame(rows)


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


def adam_defaults_table(adam_spec):
    """Adam's defaults in the paper, the ones every Adam run here uses (Keras's defaults, as
    params.yaml gives them; a test checks them against the installed Keras), and the coursework's."""
    ours = {key: adam_spec[key] for key in ("learning_rate", "beta_1", "beta_2", "epsilon")}
    rows = [{"source": "Kingma & Ba (2015), Algorithm 1", **ADAM_DEFAULTS_PAPER},
            {"source": f"Keras {metadata.version('keras')} defaults (every Adam run here)", **ours},
            *({"source": source, **values} for source, values in ADAM_DEFAULTS_COURSEWORK.items())]
    return pd.DataFrame(rows)


def cross_check(runs, part_a):
    """Our Adam from its equations against Part A's Network B trained by Keras's Adam from the
    same weights (same seed): the validation losses at the same epoch should agree."""
    seeds = sorted(set(runs.get(ADAM, {})) & set(part_a))
    if not seeds:
        return None
    differences = []
    for seed in seeds:
        ours, theirs = runs[ADAM][seed].history, part_a[seed].history
        epoch = int(ours["epoch"].iloc[-1])
        if epoch > int(theirs["epoch"].iloc[-1]):
            return None
        differences.append(ours["val_loss"].iloc[-1] - theirs.loc[theirs["epoch"] == epoch, "val_loss"].iloc[0])
    return (f"Check of the implementation at full scale: after {epoch} epochs our Adam and Part A's Network B, trained by "
            f"Keras's Adam from the same weights, reach validation losses that differ by at most "
            f"{max(abs(value) for value in differences):.1e} over {len(seeds)} seed(s).")


def section(report, inputs):
    params, runs, confidence = inputs.params, inputs.optimizer_runs, inputs.confidence
    study = params["optimizers"]
    part_a_network = inputs.experiments.get(study["network"], {})
    sections.open_question(report, inputs, "Essay")
    report.text(
        f"Every optimizer below is written out from its update rule (`lowlevel/optimizers.py`; tests check each against "
        f"the Keras optimizer of the same name over 200 steps). Each trains the `{study['network']}` network, full batch, "
        f"for {study['epochs']} epochs; within a seed every run starts from the same weights. `epochs_to_target` counts "
        f"the epochs to a validation loss of {study['target_val_loss']} (a run that never gets there counts as "
        f"{study['epochs'] + 1}). `adam_fast` is Adam at `adam_decay`'s starting rate without decay, so the decay alone "
        "is judged.")
    report.table(comparison_table(study, runs, confidence), "optimizers")
    done = {name: {seed: run.history for seed, run in seeds.items()} for name, seeds in runs.items()}
    # Validation only: nine optimizers with train and validation each would be eighteen lines.
    report.curves(done, "optimizers", "Optimizers on Network B (full batch), validation loss", columns=("loss",),
                  table="optimizers", splits=("val",))
    check = cross_check(runs, part_a_network)
    if check:
        report.text(check)
    report.heading("Bias correction: Adam's first steps", level=3)
    first_seed = min(set(runs.get(ADAM, {})) & set(runs.get(NO_BIAS_CORRECTION, {})), default=None)
    if first_seed is not None:
        spec = study["runs"][ADAM]
        pair = {name: runs[name][first_seed] for name in (ADAM, NO_BIAS_CORRECTION)}
        table = step_size_table(pair[ADAM], pair[NO_BIAS_CORRECTION], study["ablation_epochs"], spec["beta_1"], spec["beta_2"])
        report.figure(figures.ablation(table, {name: run.history for name, run in pair.items()}, study["ablation_epochs"]),
                      "bias_correction", f"Adam with and without bias correction (seed {first_seed}): step length and loss",
                      table="bias_correction")
        report.table(table.head(EARLY_STEPS), "bias_correction")
    else:
        report.text(f"*Bias-correction ablation: {NOT_RUN}.*")
    beta_1, beta_2 = (study["runs"][ADAM][key] for key in ("beta_1", "beta_2")) if ADAM in study["runs"] else (0.9, 0.999)
    factor = [bias_correction_factor(step, beta_1, beta_2) for step in (1, 10, 100, 1000)]
    report.text(
        "The coursework argues from the first moment alone: m starts biased towards zero, so dividing by 1 - beta_1^t "
        f"enlarges it. The second moment v is biased towards zero too, and with beta_2 = {beta_2} far more; its square "
        "root divides the step. Without either correction the step is (1 - beta_1^t) / sqrt(1 - beta_2^t) times the "
        f"corrected one: {factor[0]:.1f} at step 1, {factor[1]:.1f} at step 10, {factor[2]:.1f} at step 100, "
        f"{factor[3]:.2f} at step 1000.")
    report.heading("Adam's defaults", level=3)
    report.text("The coursework gives epsilon as 1e-9 in one place and beta_2 = 0.99 with epsilon = 1e-8 in another. "
                "The paper's defaults and the ones Keras uses (and every Adam run here):")
    report.table(adam_defaults_table(study["runs"][ADAM]), "adam_defaults")
    sections.verdict_block(report, inputs, "Essay")
