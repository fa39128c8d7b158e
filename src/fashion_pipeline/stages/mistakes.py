"""Stage `mistakes`: the best model's most confident mistakes, as images with their true and
predicted labels, for the report.

A plotting stage of its own because it needs the test images, which live in data/prepared (the
DVC cache), while the report reads committed files only. The best model is the report's: among
the coursework's Part B models, the highest mean test accuracy over seeds; its lowest seed's
predictions are used. Writes
reports/mistakes/confident_mistakes.png and .csv (test-set index, labels, confidence).
"""

from pathlib import Path

import pandas as pd

from fashion_pipeline import cli, files
from fashion_pipeline.data import load_split
from fashion_pipeline.document import drawing
from fashion_pipeline.judging import analysis, results
from fashion_pipeline.params import all_experiments, load_params


def confident_mistakes(predictions, count):
    """The `count` wrong predictions made with the highest confidence, most confident first (ties,
    common at a confidence that rounds to 1, broken by the larger loss), with their row (the test
    image's index) as `index`."""
    wrong = predictions[predictions["actual"] != predictions["predicted"]]
    ordered = wrong.sort_values(["confidence", "loss"], ascending=False, kind="stable")
    return ordered.head(count).rename_axis("index").reset_index()


def draw_mistakes(params, results_dir, prepared_dir, out_dir):
    experiments = results.load_experiments(results_dir, all_experiments(params), params["seeds"])
    best, _ = analysis.best_models(experiments, params["holdout"]["experiments"])
    out_dir = Path(out_dir)
    if best is None:
        raise FileNotFoundError(f"{results_dir}: no evaluated experiment yet; run the evaluate stages first")
    seed = min(experiments[best])
    chosen = confident_mistakes(experiments[best][seed].predictions, params["report"]["mistakes_shown"])
    images, _ = load_split(prepared_dir, "test")
    titles = [f"true: {row.actual}\nsaid: {row.predicted}\nloss {row.loss:.1f}" for row in chosen.itertuples()]
    figure = drawing.image_grid(images[chosen["index"].to_numpy()], titles,
                                f"{best}, seed {seed}: the most confident mistakes on the test set")
    drawing.save(figure, out_dir / "confident_mistakes.png")
    files.write_csv(out_dir / "confident_mistakes.csv",
                    pd.DataFrame({"experiment": best, "seed": seed, **chosen.to_dict("list")}))
    print(f"mistakes: {len(chosen)} of {best}, seed {seed} -> {out_dir / 'confident_mistakes.png'}")
    return chosen


def mistakes_stage(arguments):
    draw_mistakes(load_params(arguments.params), arguments.results, arguments.prepared, arguments.out)


main = cli.files_stage_main(mistakes_stage, __doc__, {"results": "results", "prepared": "data/prepared",
                                                      "out": "reports/mistakes", "params": "params.yaml"})

if __name__ == "__main__":
    cli.run(main)
