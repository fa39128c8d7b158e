"""The report over seeds, built from fabricated result files (no model, no DVC cache): its
verdicts, its answers in words, its tables and its two renderings. The statistics themselves
are tested in test_statistics.py."""

import copy
import html
import json
import re
import subprocess

import pandas as pd
import pytest

from fabricated import fabricated_results, fabricated_test_images
from fashion_pipeline.document import figures, markdown, page
from fashion_pipeline.errors import DataFileError, ParamsError
from fashion_pipeline.judging import analysis, protocol, statistics, tables
from fashion_pipeline.judging.claims import CLAIMS, Claim, check_claims
from fashion_pipeline.judging.conclusions import CONCLUSIONS
from test_report_words import check_summary_reads_once
from fashion_pipeline.judging.results import load_experiments, load_holdout_runs
from fashion_pipeline.judging.statistics import NOT_RUN_TEXT, Verdict
from fashion_pipeline.stages.mistakes import confident_mistakes, draw_mistakes
from fashion_pipeline.stages.figures import draw_figures
from fashion_pipeline.stages.report import build_report

PARAMS = {"report": {"confidence": 0.95, "margins": {"accuracy": 0.005, "loss": 0.02}, "primary_claims": []},
          "optimizers": {"rate_grids": {}}}


def test_judge_pairs_by_seed_and_counts_the_test_images(tmp_path):
    results = fabricated_results(tmp_path)
    experiments = load_experiments(results, ["keras_4l", "keras_5l", "keras_4l_drop20", "keras_2l"], [42, 43, 44])
    claims = [Claim("dropout", "B ii", "dropout lowers the loss", "test_loss", statistics.LOWER, "loss",
                    "keras_4l_drop20", "keras_4l"),
              Claim("alike", "B i", "4L and 5L alike", "test_accuracy", statistics.SIMILAR, "accuracy", "keras_4l",
                    "keras_5l"),
              Claim("missing", "B i", "2L overfits", "val_loss_rise", statistics.POSITIVE, "loss", "keras_2l")]
    dropout, alike, missing = analysis.judge_all(experiments, {}, PARAMS, claims)
    # Seed by seed -0.12, -0.118, -0.116, the same on every image: the images add no noise, and the
    # interval is the t-interval over seeds, half-width 4.303 * 0.002 / sqrt(3).
    assert dropout.verdict is Verdict.HOLDS and dropout.found.count == 3
    assert dropout.found.covers == statistics.SEEDS_AND_IMAGES
    assert dropout.found.text() == "-0.1180 [-0.1230, -0.1130]" and not dropout.primary
    # The same images right and wrong in both models: no difference at all, alike.
    assert alike.verdict is Verdict.HOLDS and alike.found.text() == "0.0000 (the same in every seed)"
    assert missing.verdict is Verdict.NOT_RUN and missing.found is None and missing.seeds_needed is None


def test_a_primary_claim_is_judged_at_holms_level(tmp_path):
    results = fabricated_results(tmp_path)
    experiments = load_experiments(results, ["keras_4l", "keras_5l", "keras_4l_drop20"], [42, 43, 44])
    claims = [Claim("dropout", "B ii", "dropout lowers the loss", "test_loss", statistics.LOWER, "loss",
                    "keras_4l_drop20", "keras_4l"),
              Claim("against_5l", "B ii", "dropout beats 5 layers", "test_loss", statistics.LOWER, "loss",
                    "keras_4l_drop20", "keras_5l")]
    params = copy.deepcopy(PARAMS)
    alone = analysis.judge_all(experiments, {}, params, claims)
    params["report"]["primary_claims"] = ["dropout", "against_5l"]
    together = analysis.judge_all(experiments, {}, params, claims)
    # Two primary claims: the smaller p (dropout's, the larger difference at the same spread) is
    # doubled, and its interval widens to the matching level.
    smaller = min(together, key=lambda finding: finding.p_value)
    partner = next(finding for finding in alone if finding.claim.name == smaller.claim.name)
    assert smaller.primary and smaller.p_value == pytest.approx(2 * partner.p_value)
    assert smaller.found.confidence == pytest.approx(0.975)
    assert smaller.found.high - smaller.found.low > partner.found.high - partner.found.low


def test_every_claim_names_a_margin_and_the_primary_claims_exist(project_params):
    check_claims(project_params)
    assert set(project_params["report"]["primary_claims"]) <= {claim.name for claim in CLAIMS}
    assert {claim.question for claim in CLAIMS} == set(project_params["questions"])
    params = copy.deepcopy(project_params)
    params["report"]["primary_claims"] = ["no_such_claim"]
    with pytest.raises(ParamsError, match="report.primary_claims"):
        check_claims(params)


def test_coursework_comparison_says_whether_its_value_lies_in_our_interval(tmp_path):
    experiments = load_experiments(fabricated_results(tmp_path), ["keras_4l"], [42, 43, 44])
    values = {"keras_4l": {"test_loss": 0.51, "val_accuracy": 0.5}, "keras_3l": {"val_loss": 0.74}}
    measured = analysis.Measured(intervals={}, over_seeds=analysis.over_seeds(experiments, values, {}, 0.95), best={})
    table = tables.coursework_comparison(measured, experiments, values)
    rows = {(row["experiment"], row["measure"]): row for _, row in table.iterrows()}
    assert rows[("keras_4l", "test_loss")]["coursework inside"] == "yes"
    # Its validation accuracy is set beside our test accuracy, over the seeds and the test images.
    assert rows[("keras_4l", "val_accuracy")]["coursework inside"] == "no"
    assert rows[("keras_3l", "val_loss")]["ours"] == NOT_RUN_TEXT


def test_report_built_from_result_files_alone(tmp_path, project_params):
    results = fabricated_results(tmp_path)
    draw_figures(copy.deepcopy(project_params), results, tmp_path / "reports" / "figures")
    inputs = build_report(copy.deepcopy(project_params), results, tmp_path / "reports")
    verdicts = tables.verdict_table(inputs.findings).set_index("claim")
    assert verdicts.loc["Dropout 0.2 lowers the 4-layer validation loss (final epoch)", "verdict"] == "holds"
    assert verdicts.loc["4 and 5 layers perform alike (accuracy)", "verdict"] == "holds"
    assert verdicts.loc["Network B reaches a lower training loss than Network A", "verdict"] == "not run"
    markdown = (tmp_path / "reports" / "report.md").read_text()
    page = (tmp_path / "reports" / "report.html").read_text()
    reproduction = pd.read_csv(tmp_path / "reports" / "tables" / "reproduction.csv").fillna("")
    # One row per conclusion of the coursework, and one for its reported numbers; none of ours.
    assert len(reproduction) == len(CONCLUSIONS) + 1
    dropout = reproduction[reproduction["the coursework"].str.startswith('"Improvement over the base model"')].iloc[0]
    assert dropout["verdict"] == "reproduced"
    assert dropout["ours"].startswith("The final test loss of 4 layers, dropout 0.2 is 0.1180 lower than that of 4 layers")
    sparse = reproduction[reproduction["the coursework"].str.contains("sparse gradient")]
    assert list(sparse["verdict"]) == ["could not be tested here"]
    # The summary under the title answers that question in words, with the same numbers.
    summary = markdown.split("## The coursework's conclusions", 1)[0]
    assert "**B ii, dropout.**" in summary and "0.1180 lower than that of 4 layers" in summary
    assert "This reproduces the coursework's conclusion." in summary
    check_summary_reads_once(summary, project_params)
    # Each question's section opens with its answer.
    section = markdown.split("## B ii: dropout", 1)[1]
    assert section.lstrip().startswith('**Answer.** The coursework says "Improvement over the base model" (4 layers with '
                                       'dropout 0.2: validation 0.3848 against 0.5939). We find that the final test loss')
    assert "- [Protocol check: the best model on a held-out split](#protocol-check-the-best-model-on-a-held-out-split)" \
        in markdown
    # Every run read is listed by its MLflow run name, a held-out run apart from the experiment.
    listed = pd.read_csv(tmp_path / "reports" / "tables" / "mlflow_runs.csv")
    assert {"keras_5l-seed42", "keras_5l-holdout-seed42", "keras_4l_drop_taper-holdout-seed44"} <= set(
        listed["mlflow_run_name"])
    assert 'id="table-reproduction"' in page and 'id="setup"' in page
    assert "data:image/png;base64," in page and "127.0.0.1:5000/#/runs/" not in markdown
    assert len(inputs.experiments["keras_4l"]) == 3 and inputs.experiments["keras_2l"] == {}


def test_the_page_is_the_markdown_rendered_by_markdown_it(tmp_path):
    """Headings, tables, links and figures of the Markdown become their HTML elements: a heading
    with its anchor, a table with the id of the anchor before it, a figure with its PNG inside."""
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "curve.png").write_bytes(b"\x89PNG not really")
    frame = pd.DataFrame({"question": ["[A 1-1](#a-1-1)"], "value": [1e-7], "verdict": ["holds"],
                          "test_loss": ["0.3404 [0.3358, 0.3449]"]})
    blocks = [markdown.Heading(2, "A 1-1"), markdown.Text("Some **bold** and `code`."),
              markdown.Table(frame, "t"), markdown.Image(tmp_path / "figures" / "curve.png", "A curve ([its table](#table-t))")]
    text = markdown.to_markdown(blocks, tmp_path)
    rendered = page.to_html(text, "title <1>", tmp_path)
    assert rendered.startswith("<!DOCTYPE html>") and "<title>title &lt;1&gt;</title>" in rendered
    assert '<h2 id="a-1-1">A 1-1</h2>' in rendered and "<strong>bold</strong>" in rendered
    assert '<table id="table-t">' in rendered and "<td><a href=\"#a-1-1\">A 1-1</a></td>" in rendered
    assert "1e-07" in rendered and f"<b style='color:{page.VERDICT_COLOURS[Verdict.HOLDS]}'>holds</b>" in rendered
    # A cell breaks before an interval, never inside it; a column name after an underscore.
    assert "<td>0.3404 [0.3358,\u00a00.3449]</td>" in rendered and "<th>test_\u200bloss</th>" in rendered
    assert "<figure><img src='data:image/png;base64," in rendered
    assert '<figcaption>A curve (<a href="#table-t">its table</a>)</figcaption></figure>' in rendered
    assert markdown.anchor("A 1-2-1, 1-2-2: Network A and Network B") == "a-1-2-1-1-2-2-network-a-and-network-b"
    assert markdown.format_number(0.5) == "0.5000" and markdown.format_number(0.0) == "0.0000"
    assert page.verdict_cell("2 alike, 1 reversed").count("<b style=") == 2 and page.verdict_cell("3 hold") is None


def test_a_figure_is_shown_at_its_place_and_an_unknown_name_is_an_error(tmp_path):
    shelf_dir = tmp_path / "figures"
    shelf_dir.mkdir()
    figures.write_manifest(shelf_dir, [figures.Figure("softmax", "Softmax", "verdicts_a-1-1", "A 1-1"),
                                       figures.Figure("network_a_vs_b", "A and B", None, "network_a_vs_b")])
    shelf = figures.Shelf(shelf_dir)
    assert shelf.named("softmax").caption == "Softmax"
    with pytest.raises(DataFileError, match=r"no figure named 'sofmax'; the figures drawn are softmax, network_a_vs_b"):
        shelf.named("sofmax")
    assert [figure.name for figure in shelf.at("A 1-1")] == ["softmax"] and shelf.at("B i") == []
    # A figure drawn for a place no section shows stops the report instead of vanishing from it.
    with pytest.raises(DataFileError, match=r"network_a_vs_b \(place 'network_a_vs_b'\)"):
        shelf.check_all_shown()


def test_judging_never_imports_the_document():
    import ast
    from pathlib import Path

    folder = Path(analysis.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(name.startswith("fashion_pipeline.document") for name in names), path.name


BROWSER_CHECK = """<script>
window.addEventListener('load', () => {
  const wide = [...document.body.querySelectorAll('*')].filter(element => element.getBoundingClientRect().right > window.innerWidth + 1)
    .map(element => element.tagName);
  const broken = [...document.images].filter(image => !image.complete || image.naturalWidth === 0).length;
  const dangling = [...document.querySelectorAll('a[href^="#"]')].filter(link => !document.getElementById(link.getAttribute('href').slice(1)))
    .map(link => link.getAttribute('href'));
  const result = document.createElement('pre');
  result.id = 'browser-check';
  result.textContent = JSON.stringify({wide, broken, images: document.images.length, dangling});
  document.body.appendChild(result);
});
</script>"""


def test_the_report_reads_well_in_a_browser_at_1400_px(tmp_path, project_params):
    """Headless Chromium at 1400 px: no element wider than the window, every image loads, every
    internal link has its target. The page is one file that opens offline."""
    results = fabricated_results(tmp_path)
    params = copy.deepcopy(project_params)
    draw_mistakes(params, results, fabricated_test_images(tmp_path), tmp_path / "reports" / "mistakes")
    draw_figures(params, results, tmp_path / "reports" / "figures")
    build_report(params, results, tmp_path / "reports")
    html = (tmp_path / "reports" / "report.html").read_text()
    assert "src='http" not in html and 'src="http' not in html
    page = tmp_path / "checked.html"
    page.write_text(html.replace("</body>", BROWSER_CHECK + "</body>"))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                          "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = json.loads(dom.split("<pre id=\"browser-check\">", 1)[1].split("</pre>", 1)[0].replace("&quot;", '"'))
    assert found["wide"] == [] and found["broken"] == 0 and found["dangling"] == []
    # Every figure the report drew, and the sample of mistakes the mistakes stage drew.
    assert found["images"] == len(list((tmp_path / "reports" / "figures").glob("*.png"))) + 1 >= 4


def test_holdout_picks_on_the_held_out_split_and_reads_the_test_score(tmp_path):
    results = fabricated_results(tmp_path)
    held_out = load_holdout_runs(results, ["keras_4l_drop_taper", "keras_5l"], [42, 43, 44])
    measured = analysis.Measured(
        intervals={("holdout", name, measure): analysis.measured(runs, None, measure, 0.95)
                   for name, runs in held_out.items() for measure in analysis.HELD_OUT_MEASURES},
        over_seeds={}, best={("holdout", measure): analysis.best(held_out, measure, highest="accuracy" in measure)
                             for measure in analysis.BEST_OF["holdout"]})
    table = protocol.choices(measured, held_out).set_index("picked by")
    # The held-out loss picks keras_4l_drop_taper; its test loss is 0.36, 0.37, 0.38.
    assert table.loc["lowest loss", "on the held-out split"] == "keras_4l_drop_taper: test_loss 0.3700 [0.3452, 0.3948]"
    # Among the same runs the test set picks keras_5l, whose test losses (0.33-0.35) are lower.
    assert table.loc["lowest loss", "on the test set (the coursework's protocol)"].startswith("keras_5l: test_loss 0.3400")
    assert table.loc["highest accuracy", "on the held-out split"].startswith("keras_4l_drop_taper")
    by_seed = protocol.picks_by_seed(held_out)
    assert list(by_seed["seed"]) == [42, 43, 44]
    assert set(by_seed["held-out pick"]) == {"keras_4l_drop_taper"} and set(by_seed["test-set pick"]) == {"keras_5l"}


def test_confident_mistakes_are_the_wrong_answers_given_most_surely():
    predictions = pd.DataFrame({"actual": ["Bag", "Bag", "Coat", "Coat", "Shirt"],
                                "predicted": ["Bag", "Coat", "Shirt", "Coat", "Coat"],
                                "confidence": [0.99, 0.6, 0.95, 0.97, 0.95], "loss": [0.01, 1.0, 9.0, 0.03, 12.0]})
    chosen = confident_mistakes(predictions, 2)
    # Rows 2 and 4 tie at 0.95: the larger loss first.
    assert list(chosen["index"]) == [4, 2] and list(chosen["predicted"]) == ["Coat", "Shirt"]
    assert len(confident_mistakes(predictions, 10)) == 3


def test_markdown_and_html_twins_hold_the_same_sections_and_numbers(tmp_path, project_params):
    """Both renderings come from the same blocks: the same headings in the same order, and every
    number of the Markdown in the HTML's text (so a diff of report.md shows what changed)."""
    results = fabricated_results(tmp_path)
    build_report(copy.deepcopy(project_params), results, tmp_path / "reports")
    markdown = (tmp_path / "reports" / "report.md").read_text()
    page = (tmp_path / "reports" / "report.html").read_text()
    md_headings = re.findall(r"^#{1,3} (.+)$", markdown, flags=re.MULTILINE)
    html_headings = [html.unescape(text) for text in re.findall(r'<h[1-3] id="[^"]*">(.*?)</h[1-3]>', page)]
    assert md_headings == html_headings and len(md_headings) > 8
    body = page.split("<body>", 1)[1]  # the text a reader sees, not the style sheet
    visible = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"src='data:[^']+'", "", body)))
    number = r"-?\d+\.\d+(?:e-?\d+)?"
    assert set(re.findall(number, markdown)) == set(re.findall(number, visible))
    assert len(re.findall(number, markdown)) > 50


def contrast(colour, background="#ffffff"):
    """WCAG 2 contrast ratio of two sRGB colours."""
    def luminance(hex_colour):
        channels = [int(hex_colour[index:index + 2], 16) / 255 for index in (1, 3, 5)]
        linear = [value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4 for value in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    lighter, darker = sorted((luminance(colour), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_verdict_words_are_readable_on_the_table():
    assert contrast("#000000") == pytest.approx(21.0)
    assert all(contrast(colour) >= 4.5 for colour in page.VERDICT_COLOURS.values())
    assert set(page.VERDICT_COLOURS) == set(Verdict)


def test_a_result_from_an_earlier_version_of_its_stage_stops_the_report_in_one_line(tmp_path, project_params):
    results = fabricated_results(tmp_path)
    history = results / "seed_43" / "keras_4l" / "history.csv"
    pd.read_csv(history).drop(columns="train_loss_running").to_csv(history, index=False)
    with pytest.raises(DataFileError, match=r"seed_43/keras_4l/history.csv: written by an earlier version"):
        build_report(copy.deepcopy(project_params), results, tmp_path / "reports")
    assert not (tmp_path / "reports" / "report.html").exists()
