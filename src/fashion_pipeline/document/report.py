"""The report as it is composed: sections add blocks (markdown.py) and figures from the shelf
the `figures` stage filled; tables are written as CSV as they come, and at the end report.md
and report.html (page.py) are written from the same blocks."""

import shutil
from pathlib import Path

from fashion_pipeline import files
from fashion_pipeline.document import page
from fashion_pipeline.document.figures import Shelf
from fashion_pipeline.document.markdown import Contents, Equations, Heading, Image, Table, Text, to_markdown


class Report:
    """Collects blocks, and writes tables as it goes; figures come drawn (stages/figures.py)."""

    def __init__(self, out_dir, figures_dir):
        self.out_dir = Path(out_dir)
        self.shelf = Shelf(figures_dir)
        self.blocks = []
        shutil.rmtree(self.out_dir / "tables", ignore_errors=True)
        (self.out_dir / "tables").mkdir(parents=True)

    def heading(self, text, level=2):
        self.blocks.append(Heading(level, text))

    def text(self, text):
        self.blocks.append(Text(text))

    def equations(self, lines):
        self.blocks.append(Equations(tuple(lines)))

    def contents(self):
        self.blocks.append(Contents())

    def table(self, frame, name):
        self.save_table(frame, name)
        self.blocks.append(Table(frame, name))

    def save_table(self, frame, name):
        """A table as CSV under tables/ only, too long for the page."""
        files.write_csv(self.out_dir / "tables" / f"{name}.csv", frame)

    def figures(self, place):
        """The figures the `figures` stage drew for this place, each captioned and linked to its table."""
        for figure in self.shelf.at(place):
            self.image(self.shelf.path(figure), figure.caption, figure.table)

    def image(self, path, caption, table=None):
        """A PNG already on disk (under the report's folder), captioned, linked to its table."""
        self.blocks.append(Image(Path(path), caption + (f" ([its table](#table-{table}))" if table else "")))

    def write(self, title):
        """report.md, and report.html rendered from it; every figure drawn must have been shown."""
        self.shelf.check_all_shown()
        markdown = to_markdown(self.blocks, self.out_dir)
        files.write_text(self.out_dir / "report.md", markdown)
        files.write_text(self.out_dir / "report.html", page.to_html(markdown, title, self.out_dir))
