"""The optimizer study in numbers, for the essay: each run's measures over seeds, the
bias-correction ablation's step lengths and Adam's defaults. Runs arrive as `name -> {seed: Run}`,
their intervals as analysis.measure_all measured them."""

from importlib import metadata

import numpy as np
import pandas as pd

from fashion_pipeline.judging.analysis import OPTIMIZER_MEASURES
from fashion_pipeline.judging.coursework import ADAM_DEFAULTS_COURSEWORK, ADAM_DEFAULTS_PAPER
from fashion_pipeline.judging.statistics import NOT_RUN_TEXT

# The runs the ablation and the cross-check use (names in optimizers.runs of params.yaml).
ADAM, NO_BIAS_CORRECTION = "adam", "adam_no_bias_correction"


def bias_correction_factor(step, beta_1, beta_2):
    """How much larger Adam's step is without bias correction, for a steady gradient:
    (1 - beta_1^t) / sqrt(1 - beta_2^t). Above 1 means the uncorrected step is larger. Each
    power is taken on a Python float: NumPy's vectorised power rounds the last bit differently
    from one CPU to another, and the committed table must read the same everywhere."""
    factor = [(1 - beta_1 ** int(t)) / (1 - beta_2 ** int(t)) ** 0.5 for t in np.atleast_1d(step)]
    return np.asarray(factor) if np.ndim(step) else factor[0]


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


def ablation_seed(runs):
    """The first seed both Adam runs of the ablation have, or None."""
    return min(set(runs.get(ADAM, {})) & set(runs.get(NO_BIAS_CORRECTION, {})), default=None)


def ablation_table(study, runs):
    """The ablation's step lengths on its first seed (None before both runs have one)."""
    seed = ablation_seed(runs)
    if seed is None:
        return None
    spec = study["runs"][ADAM]
    return step_size_table(runs[ADAM][seed], runs[NO_BIAS_CORRECTION][seed], study["ablation_epochs"],
                           spec["beta_1"], spec["beta_2"])


def first_step_ratios(runs):
    """Seed by seed, the first uncorrected step over the first corrected one."""
    seeds = sorted(set(runs.get(ADAM, {})) & set(runs.get(NO_BIAS_CORRECTION, {})))
    return [runs[NO_BIAS_CORRECTION][seed].history["update_norm"].iloc[0]
            / runs[ADAM][seed].history["update_norm"].iloc[0] for seed in seeds]


def mean_test_losses(measured, study, runs):
    """Run name -> its final test loss, mean over its seeds (None before it has run)."""
    return {name: measured.intervals["optimizers", name, "test_loss"].mean if runs.get(name) else None
            for name in study["runs"]}


def comparison_table(measured, study, runs):
    """Per run: its optimizer, and over seeds the final and best losses and the epochs it takes
    to bring the validation loss to the target."""
    rows = []
    for name, spec in study["runs"].items():
        row = {"run": name, "rule": spec["rule"], "learning_rate": spec["learning_rate"], "decay_rate": spec["decay_rate"],
               "seeds": len(runs.get(name, {}))}
        for measure in OPTIMIZER_MEASURES:
            found = measured.intervals["optimizers", name, measure] if runs.get(name) else None
            row[measure] = found.text(2 if measure == "epochs_to_target" else 4) if found else NOT_RUN_TEXT
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
