"""Stage `report`: every run over every seed, gathered into reports/report.md and a
self-contained reports/report.html. It opens with the answers, in words, to the coursework's
questions, then gives one section per question, with figures under reports/figures and tables
(CSV) under reports/tables. It reads the small committed files under results/ only, so it
rebuilds on any machine without models or a DVC cache. The report is also logged to MLflow as a
run of its own, linking every run it used."""

from pathlib import Path

from fashion_pipeline import cli
from fashion_pipeline.document import essay, overview, sections, training_setup
from fashion_pipeline.document.report import Report
from fashion_pipeline.judging import inputs as judging_inputs
from fashion_pipeline.judging import tables
from fashion_pipeline.judging.findings import judge_report
from fashion_pipeline.params import load_params
from fashion_pipeline.tracking import mlflow_runs

TITLE = "Fashion-MNIST MLP experiments: the coursework reproduced over seeds"


def build_report(params, results_dir, out_dir, figures_dir=None, mistakes_dir=None):
    """Write the report under out_dir, showing the figures the `figures` stage drew (by default
    in out_dir/figures); return what it was built from. The judging is done first, once; each
    section is handed the part of it that it shows."""
    inputs = judging_inputs.gather(params, results_dir)
    judged = judge_report(inputs)
    # The front and back matter in words first, so the page is then laid out in its order.
    summary, how_to_read = overview.summary(judged.questions, judged.protocol["picks"], judged.confirmatory), overview.how_to_read(judged.method)
    limitations = overview.limitations(judged.method)
    reproduction = overview.reproduction_table(judged.reproductions, judged.appendix["coursework_misses"],
                                               judged.labels)
    report = Report(out_dir, Path(out_dir) / "figures" if figures_dir is None else figures_dir)
    report.heading(TITLE, level=1)
    report.text(summary)
    report.heading("The coursework's conclusions, reproduced or not")
    report.text(overview.REPRODUCTION_INTRO)
    report.table(reproduction, "reproduction")
    report.text("**Contents**")
    report.contents()
    report.heading("How to read this report")
    report.text(how_to_read)
    training_setup.section(report, judged.params, inputs.data_summary, judged.labels)
    report.heading("Registration: the primary claims on the seeds they were blind to")
    report.text(overview.REGISTRATION_INTRO)
    report.table(overview.registration_table(judged.questions, judged.confirmatory,
                                             judged.params["report"].get("blind_seeds", {})), "registration")
    sections.part_a(report, judged.questions, judged.tables, judged.near_zero_weight)
    sections.part_b(report, judged.questions, judged.tables, judged.raw_pixels)
    sections.best_model(report, judged.best_model, Path(out_dir) / "mistakes" if mistakes_dir is None else mistakes_dir)
    sections.protocol_check(report, judged.protocol)
    essay.section(report, judged.essay)
    report.heading("Limitations")
    report.text(limitations)
    overview.appendix(report, judged.appendix)
    report.write(TITLE)
    return inputs


def report_stage(arguments):
    inputs = build_report(load_params(arguments.params), arguments.results, arguments.out, arguments.figures)
    mlflow_runs.log_report(inputs.params["mlflow"], arguments.out, dict(inputs.used_runs),
                           tables.verdict_table(inputs.findings))
    print(f"report: {Path(arguments.out) / 'report.html'}")


main = cli.files_stage_main(report_stage, __doc__, {"results": "results", "out": "reports",
                                                    "figures": "reports/figures", "params": "params.yaml"})

if __name__ == "__main__":
    cli.run(main)
