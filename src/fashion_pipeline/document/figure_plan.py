"""Which figures the report shows, each with its caption, the table that holds its numbers and
its place in the report: the plan the `figures` stage draws and the report composes. A figure
is planned only when its runs have results; within a place, in the order the report shows them."""

import dataclasses

import numpy as np

from fashion_pipeline.data import CLASS_NAMES
from fashion_pipeline.document import drawing
from fashion_pipeline.document.figures import ESSAY_BIAS_CORRECTION, ESSAY_DECAY, ESSAY_MOMENTUM, Figure
from fashion_pipeline.document.markdown import anchor
from fashion_pipeline.judging import analysis, optimizer_study
from fashion_pipeline.judging.coursework import COURSEWORK_VALUES

LOSSES = (("loss", "train"), ("loss", "val"))
LOSSES_AND_ACCURACIES = (*LOSSES, ("accuracy", "train"), ("accuracy", "val"))
BAND = "mean over seeds, band from the lowest to the highest seed"


@dataclasses.dataclass(frozen=True)
class Planned:
    figure: Figure
    draw: object  # () -> a matplotlib figure


def histories(inputs, names, pool=None):
    """label in words -> {seed: history} for the runs that have results."""
    pool = inputs.experiments if pool is None else pool
    return {inputs.labels[name]: {seed: run.history for seed, run in pool[name].items()}
            for name in names if pool.get(name)}


def marks(inputs, names):
    return {inputs.labels[name]: COURSEWORK_VALUES[name] for name in names if name in COURSEWORK_VALUES}


def curves(inputs, name, names, title, panels, table, place, pool=None, with_marks=True):
    groups = histories(inputs, names, pool)
    if not groups:
        return None
    crosses = marks(inputs, names) if with_marks else None
    caption = f"{title} ({BAND}" + ("; crosses: the coursework's final values)" if crosses else ")")
    return Planned(Figure(name, caption, table, place), lambda: drawing.curves(groups, title, panels, crosses))


def gaps(inputs, name, names, title, table):
    groups = {label: {seed: history.assign(gap_loss=history["val_loss"] - history["train_loss"])
                      for seed, history in seeds.items()} for label, seeds in histories(inputs, names).items()}
    if not groups:
        return None
    caption = f"{title}: test minus training loss, each measured at the epoch's final weights ({BAND})"
    return Planned(Figure(name, caption, table, table), lambda: drawing.curves(groups, title, (("loss", "gap"),)))


def claim_difference(inputs, finding):
    """A comparison claim on losses, over the epochs: first minus second, seed by seed."""
    claim = finding.claim
    if claim.second is None or claim.measure not in ("test_loss", "gap_loss", "best_val_loss", "epochs_to_target"):
        return None
    # The runs the claim compared, seed by seed (a best rate chosen in each seed).
    _, _, (first, second) = analysis.claim_runs(claim, inputs.experiments, inputs.optimizer_runs, inputs.params)
    seeds = sorted(set(first) & set(second))
    if not seeds:
        return None
    column = "gap" if claim.measure == "gap_loss" else "val_loss"

    def series(run):
        history = run.history
        return (history["val_loss"] - history["train_loss"] if column == "gap" else history["val_loss"]).to_numpy(float)
    length = min(min(len(first[seed].history), len(second[seed].history)) for seed in seeds)
    table = np.stack([series(first[seed])[:length] - series(second[seed])[:length] for seed in seeds])
    epochs = first[seeds[0]].history["epoch"].to_numpy()[:length]
    words = "test minus training loss" if column == "gap" else "validation loss"
    first_label, second_label = finding.labels
    title = f"{first_label} − {second_label}: {words}"
    margin = inputs.margins[claim.margin] if claim.margin == "loss" else 0.0
    caption = (f"The claim \"{claim.statement}\" over the epochs: {first_label} minus {second_label}, {words}, seed by "
               f"seed (below zero: {first_label} lower; grey: within the margin; the verdict reads "
               f"{finding.measure_words})")
    # A claim's figure opens its question's section, after the answer it shows.
    figure = Figure(f"claim_{claim.name}", caption, "verdicts_" + anchor(claim.question), claim.question)
    return Planned(figure, lambda: drawing.difference(epochs, table, title, f"difference in {words}", margin))


def plan(inputs):
    """Every figure of the report, each place's in the order the report shows them."""
    studies = {name: list(inputs.study(name)) for name in inputs.params["studies"]}
    get = studies.get

    def claims(question):
        return [claim_difference(inputs, finding) for finding in inputs.findings_of(question) if finding.primary]
    planned = [
        *claims("A 1-1"),
        curves(inputs, "softmax", get("softmax", []), "Softmax classifier, full batch", LOSSES_AND_ACCURACIES,
               "verdicts_a-1-1", "A 1-1"),
        curves(inputs, "rounded_vs_true_accuracy", get("softmax", []),
               "True (argmax) accuracy against the coursework's rounded accuracy",
               (("accuracy", "val"), ("rounded_accuracy", "val")), None, "A 1-1 note 2", with_marks=False),
        *claims("A 1-2-1, 1-2-2"),
        curves(inputs, "network_a_vs_b", get("network_a_vs_b", []), "Network A and Network B", LOSSES_AND_ACCURACIES,
               "network_a_vs_b", "network_a_vs_b"),
        *claims("A 3"),
        curves(inputs, "l1_vs_l2", get("regularization", []), "Network B with and without L1 and L2",
               (("loss", "val"), ("total_loss", "val")), "regularization_starting_loss", "A 3", with_marks=False),
        *claims("B i"),
        curves(inputs, "architectures", get("architectures", []), "Softmax to five layers", LOSSES_AND_ACCURACIES,
               "overfitting", "overfitting"),
        # The 3-, 4- and 5-layer curves lie on top of one another: their differences, seed by seed.
        *[claim_difference(inputs, finding) for finding in inputs.findings_of("B i") if finding.claim.name in
          ("four_lower_loss_than_three", "five_lower_loss_than_four")],
        gaps(inputs, "architectures_gap", get("architectures", []), "How much each depth overfits", "overfitting"),
        *claims("B ii"),
    ]
    for study in ("dropout_4l", "dropout_5l"):
        depth = study.removeprefix("dropout_").removesuffix("l") + " layers"
        planned += [curves(inputs, study, get(study, []), f"{depth} with and without dropout", LOSSES_AND_ACCURACIES,
                           study, study),
                    gaps(inputs, f"{study}_gap", get(study, []), f"{depth}: how much dropout closes the gap", study)]
    planned += [best_model_confusion(inputs), *optimizer_figures(inputs), *claims("Essay")]
    return [figure for figure in planned if figure is not None]


def best_model_confusion(inputs):
    best, _ = analysis.best_models(inputs.experiments, inputs.params["holdout"]["experiments"])
    if best is None:
        return None
    seed = min(inputs.experiments[best])
    predictions = inputs.experiments[best][seed].predictions
    title = f"{inputs.labels[best]}, seed {seed}: test confusion matrix"
    return Planned(Figure("best_model_confusion", title, "best_model_per_class", "best_model_per_class"),
                   lambda: drawing.confusion(predictions["actual"], predictions["predicted"], CLASS_NAMES, title))


def optimizer_figures(inputs):
    """The rules each at one rate (the best of its grid), the rate grids, the Adam variants; and
    the bias-correction ablation."""
    study, runs = inputs.params["optimizers"], inputs.optimizer_runs
    grids = study["rate_grids"]
    in_grids = {name for names in grids.values() for name in names}
    best = [analysis.best_rate(names, runs) for names in grids.values()]
    rules = [name for name in study["runs"] if name not in in_grids and study["runs"][name]["rule"] != "adam"]
    # Each Adam variant (decay, no bias correction) beside the grid's run at its starting rate.
    variants = [name for name in study["runs"] if study["runs"][name]["rule"] == "adam" and name not in in_grids]
    partners = [next((other for other in grids.get("adam", []) if study["runs"][other]["learning_rate"]
                      == study["runs"][name]["learning_rate"]), None) for name in variants]
    adam_variants = list(dict.fromkeys(name for pair in zip(partners, variants) for name in pair if name))
    validation = (("loss", "val"),)
    planned = [
        curves(inputs, "optimizers", [*rules, *[name for name in best if name]], "Each rule at its best rate over the seeds",
               validation, "optimizers", ESSAY_MOMENTUM, runs, with_marks=False),
        *[curves(inputs, f"optimizer_rates_{rule}", names, f"{inputs.labels[names[0]].split(', rate')[0]}: "
                 f"{len(names)} rates", validation, "optimizers", ESSAY_MOMENTUM, runs, with_marks=False)
          for rule, names in grids.items()],
        ablation(inputs),
        curves(inputs, "adam_variants", adam_variants, "Adam: decay and bias correction", validation, "optimizers",
               ESSAY_DECAY, runs, with_marks=False),
    ]
    return planned


def ablation(inputs):
    """Adam with and without bias correction, on the first seed both have."""
    study, runs = inputs.params["optimizers"], inputs.optimizer_runs
    seed = optimizer_study.ablation_seed(runs)
    if seed is None:
        return None
    table = optimizer_study.ablation_table(study, runs)
    labelled = {inputs.labels[name]: runs[name][seed].history
                for name in (optimizer_study.ADAM, optimizer_study.NO_BIAS_CORRECTION)}
    figure = Figure("bias_correction", f"Adam with and without bias correction (seed {seed}): step length and loss",
                    "bias_correction", ESSAY_BIAS_CORRECTION)
    return Planned(figure, lambda: drawing.ablation(table, labelled, study["ablation_epochs"]))
