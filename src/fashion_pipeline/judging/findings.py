"""What each part of the report shows, judged once from the Inputs: a small frozen dataclass per
part, holding its questions' findings and its tables, so a section of the page is handed only
what it shows and computes nothing."""

import dataclasses

import pandas as pd

from fashion_pipeline.judging import analysis, optimizer_study, protocol, statistics, tables
from fashion_pipeline.judging.coursework import COURSEWORK_VALUES
from fashion_pipeline.judging.inputs import used_runs

SUMMARY_MEASURES = ("train_loss", "test_loss", "best_val_loss", "gap_loss", "test_accuracy")


@dataclasses.dataclass(frozen=True)
class Question:
    """One of the coursework's questions and its claims, judged."""
    name: str  # the coursework's numbering, "A 1-1"
    words: str  # the question, as params.yaml `questions` gives it
    findings: tuple  # analysis.Finding, in the order of the claims

    @property
    def title(self):
        return f"{self.name}: {self.words}"

    @property
    def head(self):
        """The finding the question is answered by: its primary claim, else its first (None
        when no claim of this configuration asks it)."""
        return next((finding for finding in self.findings if finding.primary), next(iter(self.findings), None))

    @property
    def primary(self):
        return [finding for finding in self.findings if finding.primary]

    def verdicts(self):
        """Every claim of the question, one row each, all columns (tables.verdict_table)."""
        return tables.verdict_table(self.findings)

    def page_verdicts(self):
        """The same, narrow enough for the page (tables.verdict_page_table)."""
        return tables.verdict_page_table(self.findings)


@dataclasses.dataclass(frozen=True)
class Method:
    """The settings "How to read this report" and "Limitations" state."""
    train_count: int
    test_count: int
    held_out_fraction: float
    seeds: tuple
    runs_done: str
    threads: int
    margins: dict
    confidence: float
    primary_count: int


@dataclasses.dataclass(frozen=True)
class BestModel:
    name: str
    label: str
    accuracy: statistics.Interval  # test accuracy over seeds and test images
    lowest_loss: str  # the run with the lowest mean test loss
    lowest_loss_label: str
    seed: int  # whose per-class table and confusion matrix are shown
    per_class: pd.DataFrame


@dataclasses.dataclass(frozen=True)
class RawPixels:
    """A raw-pixel run's final test loss beside the coursework's for its architecture."""
    label: str
    found: statistics.Interval
    coursework: float


@dataclasses.dataclass(frozen=True)
class Essay:
    question: Question
    study: dict  # params.yaml `optimizers`
    seeds: int
    held_out_fraction: float
    test_losses: dict  # run name -> mean final test loss (None before it has run)
    first_step_ratios: list  # per seed, the uncorrected first step over the corrected one
    comparison: pd.DataFrame
    ablation_seed: int | None
    ablation: pd.DataFrame | None
    adam_defaults: pd.DataFrame

    def finding(self, claim_name):
        return next((finding for finding in self.question.findings if finding.claim.name == claim_name), None)


@dataclasses.dataclass(frozen=True)
class Judged:
    """The report's content, part by part, in the order the page shows it."""
    questions: dict  # name -> Question
    best_model: BestModel | None
    method: Method
    tables: dict  # the tables of Parts A and B and the appendix, by their CSV name
    near_zero_weight: float
    raw_pixels: tuple
    protocol: dict  # the protocol check's candidates, held-out fraction, picks and tables
    essay: Essay
    appendix: dict


def judge_report(inputs):
    """Every part of the report from the Inputs."""
    params, confidence = inputs.params, inputs.confidence
    questions = {name: Question(name, words, tuple(inputs.findings_of(name)))
                 for name, words in params["questions"].items()}

    def metric(study, extra=()):
        return tables.metric_table(inputs.study(study), SUMMARY_MEASURES + extra, confidence)
    part_tables = {
        "network_a_vs_b": metric("network_a_vs_b"),
        "regularization_starting_loss": tables.starting_loss_table(inputs.experiments, confidence),
        "regularization_weights": tables.weight_table(inputs.study("regularization")),
        "overfitting": metric("architectures"), "scale_hypothesis": metric("pixel_scale"),
        "dropout_4l": metric("dropout_4l", ("best_val_accuracy",)),
        "dropout_5l": metric("dropout_5l", ("best_val_accuracy",))}
    return Judged(questions=questions, best_model=best_model(inputs), method=method(inputs), tables=part_tables,
                  near_zero_weight=params["evaluate"]["near_zero_weight"], raw_pixels=raw_pixels(inputs),
                  protocol=protocol_check(inputs), essay=essay(inputs, questions["Essay"]),
                  appendix=appendix(inputs))


def method(inputs):
    params, settings = inputs.params, inputs.params["report"]
    return Method(inputs.data_summary["train_count"], inputs.data_summary["test_count"],
                  params["data"]["held_out_fraction"], tuple(params["seeds"]), inputs.seeds_done(),
                  params["training"]["threads"], settings["margins"], settings["confidence"],
                  len(settings["primary_claims"]))


def best_model(inputs):
    """Among the protocol check's candidates, the best by mean test accuracy (None before any has run)."""
    by_accuracy, by_loss = analysis.best_models(inputs.experiments, inputs.params["holdout"]["experiments"])
    if by_accuracy is None:
        return None
    runs = inputs.experiments[by_accuracy]
    seed = min(runs)
    return BestModel(by_accuracy, inputs.labels[by_accuracy],
                     analysis.measured(runs, None, "test_accuracy", inputs.confidence), by_loss, inputs.labels[by_loss], seed,
                     pd.read_csv(runs[seed].folder / "per_class.csv"))


def raw_pixels(inputs):
    """Each raw-pixel run of the pixel-scale study that has run, beside the coursework's value
    for the same architecture on its (scaled) pixels."""
    specs = inputs.params["experiments"]["keras"]
    study = inputs.study("pixel_scale")
    found = []
    for raw, runs in study.items():
        if specs[raw].get("scale") is not False or not runs:
            continue
        twin = next((name for name in study if name != raw and specs[name].get("scale") is not False
                     and specs[name]["hidden_units"] == specs[raw]["hidden_units"]), None)
        theirs = COURSEWORK_VALUES.get(twin, {}).get("val_loss")
        if theirs is not None:
            found.append(RawPixels(inputs.labels[raw], analysis.measured(runs, None, "test_loss", inputs.confidence),
                                   theirs))
    return tuple(found)


def protocol_check(inputs):
    runs, confidence = inputs.holdout_runs, inputs.confidence
    return {"candidates": inputs.params["holdout"]["experiments"],
            "held_out_fraction": inputs.params["data"]["held_out_fraction"],
            "picks": protocol.picks(runs, inputs.labels, confidence),
            "holdout": tables.metric_table(runs, protocol.HELD_OUT_MEASURES, confidence),
            "holdout_choice": protocol.choices(runs, confidence),
            "holdout_picks_by_seed": protocol.picks_by_seed(runs)}


def essay(inputs, question):
    study, runs = inputs.params["optimizers"], inputs.optimizer_runs
    return Essay(question, study, len(inputs.params["seeds"]), inputs.params["data"]["held_out_fraction"],
                 {name: optimizer_study.mean_test_loss(runs, name, inputs.confidence) for name in study["runs"]},
                 optimizer_study.first_step_ratios(runs),
                 optimizer_study.comparison_table(study, runs, inputs.confidence), optimizer_study.ablation_seed(runs),
                 optimizer_study.ablation_table(study, runs),
                 optimizer_study.adam_defaults_table(study["runs"][optimizer_study.ADAM]))


def appendix(inputs):
    return {"summary": tables.metric_table(inputs.experiments, SUMMARY_MEASURES, inputs.confidence),
            "coursework_comparison": tables.coursework_comparison(inputs.experiments, inputs.confidence),
            "stage_times": tables.stage_times(inputs.experiments, inputs.optimizer_runs, inputs.holdout_runs),
            "mlflow_runs": pd.DataFrame(used_runs(inputs), columns=["mlflow_run_name", "mlflow_run_id"]),
            "raw_files": inputs.data_summary["raw_files"]}
