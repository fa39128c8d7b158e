"""Stage `report`: every run over every seed, gathered into reports/report.md and a
self-contained reports/report.html. It opens with the answers, in words, to the coursework's
questions, then gives one section per question, with figures under reports/figures and tables
(CSV) under reports/tables. It reads the small committed files under results/ only, so it
rebuilds on any machine without models or a DVC cache. The report is also logged to MLflow as a
run of its own, linking every run it used."""

from pathlib import Path

from fashion_pipeline import cli
from fashion_pipeline.params import load_params
from fashion_pipeline.reporting import analysis, holdout_report, optimizer_report, overview, sections
from fashion_pipeline.reporting.document import Report
from fashion_pipeline.reporting.inputs import gather
from fashion_pipeline.tracking import mlflow_runs

TITLE = "Fashion-MNIST MLP experiments: the coursework reproduced over seeds"


def build_report(params, results_dir, out_dir, figures_dir=None, mistakes_dir=None):
    """Write the report under out_dir, showing the figures the `figures` stage drew (by default
    in out_dir/figures); return what it was built from."""
    inputs = gather(params, results_dir)
    report = Report(out_dir, Path(out_dir) / "figures" if figures_dir is None else figures_dir)
    report.heading(TITLE, level=1)
    report.text(overview.summary(inputs))
    report.heading("Scorecard")
    report.table(overview.scorecard(inputs), "scorecard")
    report.text("**Contents**")
    report.contents()
    report.heading("How to read this report")
    report.text(overview.how_to_read(inputs))
    sections.part_a(report, inputs)
    sections.part_b(report, inputs)
    sections.best_model_section(report, inputs, Path(out_dir) / "mistakes" if mistakes_dir is None else mistakes_dir)
    holdout_report.section(report, inputs)
    optimizer_report.section(report, inputs)
    report.heading("Limitations")
    report.text(overview.limitations(inputs))
    overview.appendix(report, inputs)
    report.write(TITLE)
    return inputs


def report_stage(arguments):
    inputs = build_report(load_params(arguments.params), arguments.results, arguments.out, arguments.figures)
    mlflow_runs.log_report(inputs.params["mlflow"], arguments.out, dict(overview.used_runs(inputs)),
                           analysis.verdict_table(inputs.findings))
    print(f"report: {Path(arguments.out) / 'report.html'}")


main = cli.files_stage_main(report_stage, __doc__, {"results": "results", "out": "reports",
                                                    "figures": "reports/figures", "params": "params.yaml"})

if __name__ == "__main__":
    cli.run(main)
