"""The report on paper: the `figures`, `report` and `pdf` stages on a fabricated grid of the real
size (every experiment, optimizer run and seed of params.yaml), printed by headless Chromium."""

import copy
import json
import re
import subprocess

import pytest

from fabricated import fabricated_grid
from fashion_pipeline.document import drawing
from fashion_pipeline.stages.figures import draw_figures
from fashion_pipeline.stages.pdf import page_count, print_pdf
from fashion_pipeline.stages.report import build_report

# The setup section and the table of the coursework's conclusions took it from 20 to 23 pages,
# figures printed large enough for 9-point type to 28, and the differences of the 3-, 4- and
# 5-layer curves (which overlap) to 31 for this fabricated grid.
MOST_PAGES = 31
# A4 less the print style sheet's 12 mm side margins, at CSS's 96 px per inch.
PRINTED_WIDTH_PX = round((210 - 2 * 12) / 25.4 * 96)

PRINT_CHECK = """<script>
window.addEventListener('load', () => {
  const body = document.body.getBoundingClientRect().width;
  const wide = [...document.querySelectorAll('table, img, pre, .equations')]
    .filter(element => element.getBoundingClientRect().width > body + 1 || element.scrollWidth > element.clientWidth + 1)
    .map(element => element.id || element.tagName);
  const result = document.createElement('pre');
  result.id = 'print-check';
  // Each figure's printed scale: its width on the page over its width as drawn (PNG pixels).
  const scales = [...document.querySelectorAll('figure img')]
    .map(image => [image.alt, image.getBoundingClientRect().width / image.naturalWidth]);
  result.textContent = JSON.stringify({wide, scales, tables: document.querySelectorAll('table').length});
  document.body.appendChild(result);
});
</script>"""


@pytest.fixture(scope="module")
def full_report(tmp_path_factory, project_params):
    """The figures and the report of a fabricated grid of the real size, built once."""
    folder = tmp_path_factory.mktemp("full")
    params = copy.deepcopy(project_params)
    results = fabricated_grid(folder, params)
    draw_figures(params, results, folder / "reports" / "figures")
    build_report(params, results, folder / "reports")
    return folder / "reports"


def test_the_report_prints_on_at_most_31_a4_pages_with_every_table_and_figure_readable(tmp_path, full_report):
    pdf = print_pdf(full_report / "report.html", tmp_path / "report.pdf")
    assert 10 <= page_count(pdf) <= MOST_PAGES
    # The print style sheet applied on screen, at the printed width: no table, figure or equation
    # wider than the page, none scrolling (a printed table would lose its right-hand columns).
    page = (full_report / "report.html").read_text().replace("@media print{", "@media all{")
    checked = tmp_path / "print.html"
    checked.write_text(page.replace("</body>", PRINT_CHECK + "</body>"))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={PRINTED_WIDTH_PX},1000",
                          "--virtual-time-budget=10000", "--dump-dom", checked.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = json.loads(dom.split('<pre id="print-check">', 1)[1].split("</pre>", 1)[0].replace("&quot;", '"'))
    assert found["tables"] > 20 and found["wide"] == []
    # Every figure's smallest type (a point below the legends) prints at 9 pt or more: drawn at
    # drawing.DPI pixels an inch, printed at CSS's 96.
    assert len(found["scales"]) > 15
    for alt, scale in found["scales"]:
        assert (drawing.FONT_POINTS - 1) * scale * drawing.DPI / 96 >= 9, (alt, scale)


def test_figures_json_says_each_panels_scale_and_series(full_report):
    """Accuracy on a linear axis (zoomed to the data, never a log axis that squeezes 0.83-0.89),
    losses on a log axis only where a first-epoch spike needs one, and one to six series a panel."""
    figures = json.loads((full_report / "figures" / "figures.json").read_text())
    panels = [panel for figure in figures for panel in figure["panels"]]
    assert all(figure["panels"] for figure in figures)
    accuracy = [panel for panel in panels if "accuracy" in panel["title"]]
    assert accuracy and {panel["y_scale"] for panel in accuracy} == {"linear"}
    assert all(1 <= panel["series"] <= drawing.MOST_SERIES for panel in panels if not panel["image"]), panels


def decimals(text):
    return len(text.split(".")[1]) if "." in text else 0


def table_numbers(tables_dir):
    """Every decimal number in the report's tables, as printed, and in percentage points."""
    found = []
    for table in tables_dir.glob("*.csv"):
        for text in re.findall(r"-?\d+\.\d+", table.read_text()):
            found += [(abs(float(text)), decimals(text)), (abs(float(text)) * 100, max(decimals(text) - 2, 0))]
    return found


def test_every_number_in_the_answers_comes_from_a_table(full_report):
    """The summary and each section's answer are generated: every decimal they print equals a
    number of the tables, up to the rounding of both."""
    markdown = (full_report / "report.md").read_text()
    # The generated answers: every section but the method, the limitations and the appendix.
    sections = [part for part in re.split(r"^## ", markdown, flags=re.MULTILINE)
                if not part.startswith(("How to read", "Limitations", "Appendix"))]
    prose = [line for part in sections for line in part.splitlines()
             if line.startswith(("**Answer.**", "**Raw pixels.**", "- ")) and not line.startswith("- [")]
    assert len(prose) > 20
    candidates = table_numbers(full_report / "tables")
    for line in prose:
        for text in re.findall(r"(?<![\w.])\d+\.\d+", line):
            value, places = float(text), decimals(text)
            assert any(abs(value - other) <= 0.5 * 10 ** -places + 0.5 * 10 ** -other_places + 1e-12
                       for other, other_places in candidates), (text, line)
    # The essay, 600 to 1,200 words between its first part and the runs behind it, with its equations.
    essay = markdown.split("### What Adam is", 1)[1].split("### The runs behind the essay", 1)[0]
    words = [word for line in essay.splitlines() if not line.startswith(("!", "*", "    ")) for word in line.split()]
    assert 600 <= len(words) <= 1200
    page = (full_report / "report.html").read_text()
    assert "<div class='equations'>" in page and "m̂ₜ = mₜ / (1 − β₁ᵗ)" in page
