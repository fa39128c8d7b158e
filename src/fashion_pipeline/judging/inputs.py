"""Everything the report reads, gathered once: params, every run over every seed, the findings
on the coursework's claims, the run names in words, and the MLflow runs they came from."""

import dataclasses
from pathlib import Path

from fashion_pipeline import files, runs
from fashion_pipeline.judging import analysis, results
from fashion_pipeline.judging.claims import CLAIMS, check_claims
from fashion_pipeline.params import all_experiments

RULE_NAMES = {"sgd": "SGD", "sgd_momentum": "SGD with momentum", "rmsprop": "RMSprop", "adagrad": "Adagrad",
              "adamax": "Adamax", "adam": "Adam"}


def label(spec):
    """A run's human name from its spec: "4 layers, dropout 0.2", "Part A 300-100, L1",
    "Adam, rate 0.003, decay"."""
    if "rule" in spec:
        extras = [f"rate {spec['learning_rate']:g}"]
        extras += ["decay"] if spec.get("decay_rate") else []
        extras += ["no bias correction"] if spec.get("bias_correction") is False else []
        return f"{RULE_NAMES.get(spec['rule'], spec['rule'])}, " + ", ".join(extras)
    hidden = spec["hidden_units"]
    if spec["kind"] == "lowlevel":
        shape = "-".join(map(str, hidden)) or "softmax"
        regularizer = "" if spec["regularizer"] == "none" else f", {spec['regularizer'].upper()}"
        return f"Part A {shape}{regularizer}"
    text = f"{len(hidden) + 1} layers" if hidden else "softmax"
    dropout = spec["dropout"]
    if isinstance(dropout, list):
        text += ", dropout " + "-".join(f"{rate:g}" for rate in dropout)
    elif dropout:
        text += f", dropout {dropout:g}"
    return text + (", raw pixels" if spec.get("scale") is False else "")


@dataclasses.dataclass
class Inputs:
    params: dict
    experiments: dict  # name -> {seed: Run}
    optimizer_runs: dict
    holdout_runs: dict
    findings: list  # analysis.Finding, one per claim
    data_summary: dict
    labels: dict  # run name -> its name in words
    used_runs: tuple  # (MLflow run name, run id) of every run read (used_runs)

    @property
    def confidence(self):
        return self.params["report"]["confidence"]

    @property
    def margins(self):
        return self.params["report"]["margins"]

    def study(self, name):
        """name -> {seed: Run} for the experiments of a study of params.yaml, in its order (none
        when the study is not in this configuration)."""
        study = self.params["studies"].get(name, {"experiments": []})
        return {experiment: self.experiments.get(experiment, {}) for experiment in study["experiments"]}

    def findings_of(self, question):
        return [finding for finding in self.findings if finding.claim.question == question]


def gather(params, results_dir, claims=CLAIMS):
    """Read every finished run under results_dir and judge every claim."""
    check_claims(params, claims)
    seeds, specs = params["seeds"], all_experiments(params)
    experiments = results.load_experiments(results_dir, specs, seeds)
    optimizer_runs = results.load_optimizer_runs(results_dir, params["optimizers"]["runs"], seeds)
    holdout_runs = results.load_holdout_runs(results_dir, params["holdout"]["experiments"], seeds)
    labels = {name: params["labels"].get(name) or label(spec)
              for name, spec in {**specs, **params["optimizers"]["runs"]}.items()}
    return Inputs(params=params, experiments=experiments, optimizer_runs=optimizer_runs, holdout_runs=holdout_runs,
                  findings=analysis.judge_all(experiments, optimizer_runs, params, claims, labels),
                  data_summary=files.read_json(Path(results_dir) / "data.json"), labels=labels,
                  used_runs=tuple(used_runs(params, experiments, optimizer_runs, holdout_runs)))


def used_runs(params, experiments, optimizer_runs, holdout_runs):
    """(MLflow run name, run id) of every run the report reads, named as its stage named it."""
    kinds = {name: kind for kind, group in params["experiments"].items() for name in group}
    for pool, kind in ((experiments, None), (optimizer_runs, "optimizer"), (holdout_runs, "holdout")):
        for name, seeds in pool.items():
            for seed, run in sorted(seeds.items()):
                yield runs.Run(kind or kinds[name], name, seed).mlflow_run_name, run.record["mlflow_run_id"]
