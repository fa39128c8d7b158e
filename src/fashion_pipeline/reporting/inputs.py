"""Everything the report reads, gathered once: params, every run over every seed, the findings
on the coursework's claims, and the run names in words."""

import dataclasses
from pathlib import Path

from fashion_pipeline import files
from fashion_pipeline.params import all_experiments
from fashion_pipeline.reporting import analysis, answers, results
from fashion_pipeline.reporting.claims import CLAIMS, check_claims


@dataclasses.dataclass
class Inputs:
    params: dict
    experiments: dict  # name -> {seed: Run}
    optimizer_runs: dict
    holdout_runs: dict
    findings: list  # analysis.Finding, one per claim
    data_summary: dict
    labels: dict  # run name -> its name in words

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

    def seeds_done(self):
        seeds = len(self.params["seeds"])
        return (f"{sum(map(len, self.experiments.values()))} of {seeds * len(self.experiments)} experiment runs, "
                f"{sum(map(len, self.optimizer_runs.values()))} of {seeds * len(self.optimizer_runs)} optimizer runs, "
                f"{sum(map(len, self.holdout_runs.values()))} of {seeds * len(self.holdout_runs)} held-out runs")


def gather(params, results_dir, claims=CLAIMS):
    """Read every finished run under results_dir and judge every claim."""
    check_claims(params, claims)
    seeds, specs = params["seeds"], all_experiments(params)
    experiments = results.load_experiments(results_dir, specs, seeds)
    optimizer_runs = results.load_optimizer_runs(results_dir, params["optimizers"]["runs"], seeds)
    holdout_runs = results.load_holdout_runs(results_dir, params["holdout"]["experiments"], seeds)
    labels = {name: params["labels"].get(name) or answers.label(spec)
              for name, spec in {**specs, **params["optimizers"]["runs"]}.items()}
    return Inputs(params=params, experiments=experiments, optimizer_runs=optimizer_runs, holdout_runs=holdout_runs,
                  findings=analysis.judge_all(experiments, optimizer_runs, params, claims),
                  data_summary=files.read_json(Path(results_dir) / "data.json"), labels=labels)
