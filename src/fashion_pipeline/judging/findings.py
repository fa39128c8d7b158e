"""What each part of the report shows, from the Inputs: everything is measured once
(analysis.measure_all), the tables are built from that (tables.all_tables), and each part of the
page gets a small frozen dataclass holding its findings and its tables, so a section of the page
is handed only what it shows and computes nothing."""

import collections
import dataclasses

import pandas as pd

from fashion_pipeline.judging import analysis, conclusions, optimizer_study, protocol, statistics, tables
from fashion_pipeline.judging.coursework import COURSEWORK_STARTING_TOTAL_LOSS, COURSEWORK_VALUES


@dataclasses.dataclass(frozen=True)
class Question:
    """One of the coursework's questions and its claims, judged."""
    name: str  # the coursework's numbering, "A 1-1"
    words: str  # the question, as params.yaml `questions` gives it
    findings: tuple  # analysis.Finding, in the order of the claims
    # claim name -> the conclusion of the coursework it tests (conclusions.Conclusion)
    conclusion_of: dict = dataclasses.field(default_factory=dict)

    @property
    def head_conclusion(self):
        """The coursework's conclusion the question's answer tests, if the coursework states one."""
        return self.conclusion_of.get(self.head.claim.name) if self.head else None

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
    cpu_counts: dict  # CPU kind -> how many of the runs were trained on it ("" where not recorded)


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
    network_label: str = "the study's network"  # optimizers.network, in words

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
    reproductions: tuple  # conclusions.Reproduction, one per conclusion of the coursework
    confirmatory: tuple  # analysis.Finding of each primary claim on the seeds it was blind to
    labels: dict  # run name -> its name in words
    params: dict  # params.yaml, for the setup section


# Which of tables.all_tables each part shows.
PART_TABLES = ("network_a_vs_b", "regularization_starting_loss", "regularization_weights", "overfitting",
               "scale_hypothesis", "dropout_4l", "dropout_5l")
PROTOCOL_TABLES = ("holdout", "holdout_choice", "holdout_picks_by_seed")
APPENDIX_TABLES = ("summary", "coursework_comparison", "stage_times", "mlflow_runs")


def judge_report(inputs):
    """Every part of the report from the Inputs."""
    params = inputs.params
    measured = analysis.measure_all(inputs, COURSEWORK_VALUES, COURSEWORK_STARTING_TOTAL_LOSS)
    shown = tables.all_tables(inputs, measured)
    reproductions = tuple(conclusions.reproduce(inputs.findings))
    tested = {name: reproduction.conclusion for reproduction in reproductions for name in reproduction.conclusion.claims}
    questions = {name: Question(name, words, tuple(finding for finding in inputs.findings
                                                   if finding.claim.question == name), tested)
                 for name, words in params["questions"].items()}
    study, runs = params["optimizers"], inputs.optimizer_runs
    return Judged(
        questions=questions, best_model=best_model(inputs, measured), method=method(inputs),
        tables={name: shown[name] for name in PART_TABLES}, near_zero_weight=params["evaluate"]["near_zero_weight"],
        raw_pixels=raw_pixels(inputs, measured),
        protocol={"candidates": params["holdout"]["experiments"], "held_out_fraction": params["data"]["held_out_fraction"],
                  "labels": [inputs.labels[name] for name in params["holdout"]["experiments"]],
                  "registered_model": params["champion"]["registered_model"],
                  "picks": protocol.picks(measured, shown["holdout_picks_by_seed"], inputs.labels, inputs.holdout_runs,
                                          inputs.confidence, inputs.margins["accuracy"]),
                  **{name: shown[name] for name in PROTOCOL_TABLES}},
        essay=Essay(questions["Essay"], study, len(params["seeds"]), params["data"]["held_out_fraction"],
                    optimizer_study.mean_test_losses(measured, study, runs), optimizer_study.first_step_ratios(runs),
                    optimizer_study.comparison_table(measured, study, runs), optimizer_study.ablation_seed(runs),
                    optimizer_study.ablation_table(study, runs),
                    optimizer_study.adam_defaults_table(study["runs"][optimizer_study.ADAM]),
                    inputs.labels.get(study["network"], study["network"])),
        appendix={**{name: shown[name] for name in APPENDIX_TABLES}, "raw_files": inputs.data_summary["raw_files"],
                  "coursework_misses": tables.coursework_misses(measured, inputs.experiments)},
        reproductions=reproductions, confirmatory=tuple(confirmatory(inputs)), labels=inputs.labels, params=params)


def confirmatory(inputs):
    """The primary claims judged again on the seeds each was blind to (report.blind_seeds), as one
    Holm family; a claim blind to fewer than two seeds has no confirmatory test."""
    params = inputs.params
    blind = params["report"].get("blind_seeds", {})
    claims = [finding.claim for finding in inputs.findings if len(blind.get(finding.claim.name, ())) >= 2]
    family = {**params, "report": {**params["report"], "primary_claims": [claim.name for claim in claims]}}
    return analysis.judge_all(inputs.experiments, inputs.optimizer_runs, family, claims, inputs.labels, blind)


def method(inputs):
    params, settings = inputs.params, inputs.params["report"]
    seeds = len(params["seeds"])
    runs_done = (f"{sum(map(len, inputs.experiments.values()))} of {seeds * len(inputs.experiments)} experiment runs, "
                 f"{sum(map(len, inputs.optimizer_runs.values()))} of {seeds * len(inputs.optimizer_runs)} optimizer runs, "
                 f"{sum(map(len, inputs.holdout_runs.values()))} of {seeds * len(inputs.holdout_runs)} held-out runs")
    return Method(inputs.data_summary["train_count"], inputs.data_summary["test_count"],
                  params["data"]["held_out_fraction"], tuple(params["seeds"]), runs_done,
                  params["training"]["threads"], settings["margins"], settings["confidence"],
                  len(settings["primary_claims"]), cpu_counts(inputs))


def cpu_counts(inputs):
    return dict(collections.Counter(run.cpu for pool in (inputs.experiments, inputs.optimizer_runs, inputs.holdout_runs)
                                    for runs in pool.values() for run in runs.values()))


def best_model(inputs, measured):
    """Among the protocol check's candidates, the best by mean test accuracy (None before any has run)."""
    by_accuracy, by_loss = measured.best["experiments", "test_accuracy"], measured.best["experiments", "test_loss"]
    if by_accuracy is None:
        return None
    runs = inputs.experiments[by_accuracy]
    seed = min(runs)
    return BestModel(by_accuracy, inputs.labels[by_accuracy], measured.intervals["experiments", by_accuracy, "test_accuracy"],
                     by_loss, inputs.labels[by_loss], seed, pd.read_csv(runs[seed].folder / "per_class.csv"))


def raw_pixels(inputs, measured):
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
            found.append(RawPixels(inputs.labels[raw], measured.intervals["experiments", raw, "test_loss"], theirs))
    return tuple(found)
