"""The report's section on the seed's research essay: the optimizer comparison, the
bias-correction ablation and Adam's defaults. Pure table and verdict functions take the runs as
plain dicts ({"train": final metrics, "history": DataFrame, "run": {"run_id"}} or None)."""

from pathlib import Path

import keras
import numpy as np
import pandas as pd

from fashion_pipeline import figures, files, optimizers
from fashion_pipeline.analysis import FAILS, HOLDS, NOISE, NOT_RUN
from fashion_pipeline.seed_reference import ADAM_DEFAULTS_PAPER, ADAM_DEFAULTS_SEED

NOT_TESTED = "not tested"
# The runs the essay's claims are checked with (names in optimizers.runs of params.yaml).
ADAM, MOMENTUM, RMSPROP, DECAY, NO_BIAS_CORRECTION = (
    "adam", "sgd_momentum", "rmsprop", "adam_decay", "adam_no_bias_correction")
# Bias correction matters over the first few hundred steps; the ablation's ratio is read here.
EARLY_STEPS = 10


def load_runs(results_dir, names):
    runs = {}
    for name in names:
        folder = Path(results_dir) / "optimizers" / name
        if not all((folder / part).is_file() for part in ("train.json", "history.csv", "mlflow_run.json")):
            runs[name] = None
            continue
        runs[name] = {"train": files.read_json(folder / "train.json"), "run": files.read_json(folder / "mlflow_run.json"),
                      "history": pd.read_csv(folder / "history.csv")}
    return runs


def _epochs_to_target(run):
    reached = run["train"]["epochs_to_target"]
    return None if reached < 0 else reached


def comparison_table(study, runs):
    """Per run: its optimizer, final and best losses, epochs to the target, wall time."""
    rows = []
    for name, spec in study["runs"].items():
        row = {"run": name, "rule": spec["rule"], "learning_rate": spec["learning_rate"], "decay_rate": spec["decay_rate"]}
        run = runs.get(name)
        if run is None:
            rows.append({**row, "status": NOT_RUN})
            continue
        final = run["train"]
        reached = _epochs_to_target(run)
        rows.append({**row, "status": "done", **{key: final[key] for key in (
            "train_loss", "val_loss", "train_accuracy", "val_accuracy", "best_val_loss", "best_val_epoch")},
            f"epochs_to_val_loss_{study['target_val_loss']}": reached if reached is not None else "not reached",
            "train_seconds": final["train_seconds"], "mlflow_run_id": run["run"]["run_id"]})
    return pd.DataFrame(rows)


def step_size_table(corrected, uncorrected, epochs, beta_1, beta_2):
    """Epoch by epoch: the length of Adam's step with and without bias correction, their
    ratio, and the ratio the equations predict for a steady gradient."""
    epochs = min(epochs, len(corrected["history"]), len(uncorrected["history"]))
    steps = np.arange(1, epochs + 1)
    with_correction = corrected["history"]["update_norm"].to_numpy()[:epochs]
    without = uncorrected["history"]["update_norm"].to_numpy()[:epochs]
    return pd.DataFrame({
        "epoch": steps, "step_with_correction": with_correction, "step_without_correction": without,
        "measured_ratio": without / with_correction,
        "predicted_ratio": optimizers.bias_correction_factor(steps, beta_1, beta_2),
    })


def _first_faster(runs, first, second, target):
    """Does `first` bring the validation loss to `target` in fewer epochs than `second`?"""
    reached = {name: _epochs_to_target(runs[name]) for name in (first, second)}
    evidence = ", ".join(f"{name}: {reached[name] if reached[name] is not None else 'not reached'}" for name in (first, second))
    evidence = f"epochs to validation loss {target}: {evidence}"
    if reached[first] is None and reached[second] is None:
        return NOISE, evidence + " (neither reached it)"
    if reached[second] is None or (reached[first] is not None and reached[first] < reached[second]):
        return HOLDS, evidence
    return (NOISE if reached[first] == reached[second] else FAILS), evidence


def claims(study, runs):
    """The essay's claims as (claim, verdict, evidence) rows."""
    target = study["target_val_loss"]
    rows = []

    def missing(*names):
        absent = [name for name in names if runs.get(name) is None]
        return (NOT_RUN, "missing: " + ", ".join(absent)) if absent else None

    rows.append(("Adam navigates the loss surface better than SGD with momentum (here: reaches the target sooner)",
                 *(missing(ADAM, MOMENTUM) or _first_faster(runs, ADAM, MOMENTUM, target))))
    rows.append(("Adam keeps the goodness of RMSprop (here: reaches the target sooner than RMSprop)",
                 *(missing(ADAM, RMSPROP) or _first_faster(runs, ADAM, RMSPROP, target))))
    rows.append(("Learning-rate decay starts fast (here: reaches the target sooner than constant-rate Adam)",
                 *(missing(DECAY, ADAM) or _first_faster(runs, DECAY, ADAM, target))))
    if missing(ADAM, NO_BIAS_CORRECTION):
        rows.append(("Without bias correction the first steps are too small (m is biased towards zero)",
                     *missing(ADAM, NO_BIAS_CORRECTION)))
    else:
        spec = study["runs"][ADAM]
        table = step_size_table(runs[ADAM], runs[NO_BIAS_CORRECTION], EARLY_STEPS, spec["beta_1"], spec["beta_2"])
        measured, predicted = table["measured_ratio"].mean(), table["predicted_ratio"].mean()
        rows.append(("Without bias correction the first steps are too small (m is biased towards zero)",
                     FAILS if measured > 1 else HOLDS,
                     f"over the first {EARLY_STEPS} epochs the uncorrected step is {measured:.2f} times the corrected "
                     f"one on average (equations for a steady gradient: {predicted:.2f}): v is biased towards zero too, "
                     "and more, so the uncorrected step is larger"))
    rows.append(("Adam has little to tune", NOT_TESTED,
                 "each optimizer ran at one learning rate; a sensitivity sweep would test it"))
    return pd.DataFrame(rows, columns=["claim", "verdict", "evidence"])


def adam_defaults_table():
    """Adam's defaults in the paper, in Keras (read from the installed version) and in the seed."""
    keras_config = keras.optimizers.Adam().get_config()
    keras_row = {key: keras_config[key] for key in ("learning_rate", "beta_1", "beta_2", "epsilon")}
    rows = [{"source": "Kingma & Ba (2015), Algorithm 1", **ADAM_DEFAULTS_PAPER},
            {"source": f"Keras {keras.__version__} (used here)", **keras_row},
            *({"source": source, **values} for source, values in ADAM_DEFAULTS_SEED.items())]
    return pd.DataFrame(rows)


def cross_check(runs, part_a):
    """Our Adam from its equations against Part A's Network B, trained with Keras's Adam from
    the same weights: the validation losses at the same epoch should agree."""
    if runs.get(ADAM) is None or part_a is None:
        return None
    ours = runs[ADAM]["history"]
    epoch = int(ours["epoch"].iloc[-1])
    theirs = part_a["history"]
    if epoch > int(theirs["epoch"].iloc[-1]):
        return None
    value, reference = ours["val_loss"].iloc[-1], theirs.loc[theirs["epoch"] == epoch, "val_loss"].iloc[0]
    return (f"Check of the implementation at full scale: after {epoch} epochs our Adam reaches validation loss "
            f"{value:.4f}; Part A's Network B, trained by Keras's Adam from the same weights, {reference:.4f} at the same "
            f"epoch (difference {value - reference:+.1e}).")


def section(report, params, runs, part_a_network):
    study = params["optimizers"]
    report.heading("The seed's research essay, measured: optimizers from their equations")
    report.text(
        f"Every optimizer below is written out from its update rule (`optimizers.py`; tests check each against the Keras "
        f"optimizer of the same name over 200 steps). Each trains the `{study['network']}` network, full batch, from the "
        f"same initial weights for {study['epochs']} epochs. `update_norm` is the length of the step taken in weight space.")
    report.table(comparison_table(study, runs), "optimizers")
    done = {name: run["history"] for name, run in runs.items() if run is not None}
    report.curves(done, "optimizers", "Optimizers on Network B (full batch)", columns=("loss", "accuracy"))
    check = cross_check(runs, part_a_network)
    if check:
        report.text(check)
    report.heading("Bias correction: Adam's first steps", level=3)
    if runs.get(ADAM) and runs.get(NO_BIAS_CORRECTION):
        spec = study["runs"][ADAM]
        table = step_size_table(runs[ADAM], runs[NO_BIAS_CORRECTION], study["ablation_epochs"], spec["beta_1"], spec["beta_2"])
        report.figure(figures.ablation(table, {name: runs[name]["history"] for name in (ADAM, NO_BIAS_CORRECTION)},
                                       study["ablation_epochs"]),
                      "bias_correction", "Adam with and without bias correction: step length and loss over the first epochs")
        report.table(table.head(EARLY_STEPS), "bias_correction")
    else:
        report.text(f"*Bias-correction ablation: {NOT_RUN}.*")
    beta_1, beta_2 = (study["runs"][ADAM][key] for key in ("beta_1", "beta_2")) if ADAM in study["runs"] else (0.9, 0.999)
    factor = [optimizers.bias_correction_factor(step, beta_1, beta_2) for step in (1, 10, 100, 1000)]
    report.text(
        "The seed argues from the first moment alone: m starts biased towards zero, so dividing by 1 - beta_1^t "
        f"enlarges it. The second moment v is biased towards zero too, and with beta_2 = {beta_2} far more; its square "
        "root divides the step. Without either correction the step is (1 - beta_1^t) / sqrt(1 - beta_2^t) times the "
        f"corrected one: {factor[0]:.1f} at step 1, {factor[1]:.1f} at step 10, {factor[2]:.1f} at step 100, "
        f"{factor[3]:.2f} at step 1000.")
    report.heading("The essay's claims, checked", level=3)
    report.table(claims(study, runs), "optimizer_claims")
    report.heading("Adam's defaults", level=3)
    report.text("The seed gives epsilon as 1e-9 in one place and beta_2 = 0.99 with epsilon = 1e-8 in another. "
                "The paper's defaults and the ones Keras uses (and every Adam run here):")
    report.table(adam_defaults_table(), "adam_defaults")
