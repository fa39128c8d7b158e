"""Stage `figures`: every figure of the report, drawn from the committed results into
reports/figures (PNG), with figures.json giving each one's caption and the table that holds its
numbers. The report stage only composes them: a figure's look changes without re-judging a
claim, and the report's text changes without redrawing a figure."""

import dataclasses
from pathlib import Path

from fashion_pipeline import cli
from fashion_pipeline.document import drawing
from fashion_pipeline.document.figure_plan import plan
from fashion_pipeline.document.figures import write_manifest
from fashion_pipeline.judging.inputs import gather
from fashion_pipeline.params import load_params


def draw_figures(params, results_dir, out_dir):
    out_dir = Path(out_dir)
    planned = plan(gather(params, results_dir))
    described = []
    for planned_figure in planned:
        figure = planned_figure.draw()
        described.append(dataclasses.replace(planned_figure.figure, panels=tuple(drawing.panels(figure))))
        drawing.save(figure, out_dir / f"{planned_figure.figure.name}.png")
    # The folder persists between runs: a figure no longer planned goes.
    drawn = {out_dir / f"{planned_figure.figure.name}.png" for planned_figure in planned}
    for stale in set(out_dir.glob("*.png")) - drawn:
        stale.unlink()
    write_manifest(out_dir, described)
    return planned


def figures_stage(arguments):
    planned = draw_figures(load_params(arguments.params), arguments.results, arguments.out)
    print(f"figures: {len(planned)} -> {arguments.out}")


main = cli.files_stage_main(figures_stage, __doc__,
                            {"results": "results", "out": "reports/figures", "params": "params.yaml"})

if __name__ == "__main__":
    cli.run(main)
