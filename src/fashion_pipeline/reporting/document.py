"""A tiny document model rendered twice: Markdown for git diffs, self-contained HTML for reading.

A document is a list of blocks, each a small dataclass: Heading, Text, Table, Figure and
Contents (the section headings, linked). `Report` collects them and writes each table (CSV) and figure (PNG) as it goes. Both
renderings come from the same blocks, so they hold the same sections and numbers.
"""

import base64
import dataclasses
import html
import re
import shutil
from pathlib import Path

import pandas as pd

from fashion_pipeline import files


@dataclasses.dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclasses.dataclass(frozen=True)
class Text:
    markdown: str


@dataclasses.dataclass(frozen=True)
class Table:
    frame: pd.DataFrame
    name: str  # its CSV under tables/ and its link target


@dataclasses.dataclass(frozen=True)
class Figure:
    path: Path
    caption: str


@dataclasses.dataclass(frozen=True)
class Contents:
    pass


@dataclasses.dataclass(frozen=True)
class Equations:
    lines: tuple  # one equation per line, in Unicode


# What the `figures` stage writes beside the PNGs: each figure's caption and table.
FIGURES_MANIFEST = "figures.json"


def anchor(text):
    """The link target of a heading, as GitHub makes it for Markdown: lowercase, punctuation
    other than hyphens and underscores dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


class Report:
    """Collects blocks, and writes tables as it goes; figures come drawn (stages/figures.py)."""

    def __init__(self, out_dir, figures_dir):
        self.out_dir, self.figures_dir = Path(out_dir), Path(figures_dir)
        manifest = self.figures_dir / FIGURES_MANIFEST
        self.figures = files.read_json(manifest) if manifest.is_file() else {}
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

    def show(self, name):
        """A figure the `figures` stage drew, with its caption, linked to its table."""
        entry = self.figures.get(name)
        if entry is None:
            return
        self.image(self.figures_dir / f"{name}.png", entry["caption"], entry["table"])

    def image(self, path, caption, table=None):
        """A PNG already on disk (under the report's folder), captioned, linked to its table."""
        self.blocks.append(Figure(Path(path), caption + (f" ([its table](#table-{table}))" if table else "")))

    def write(self, title):
        files.write_text(self.out_dir / "report.md", to_markdown(self.blocks, self.out_dir))
        files.write_text(self.out_dir / "report.html", to_html(self.blocks, title))


def _markdown_table(frame):
    header = "| " + " | ".join(str(column) for column in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def format_number(value):
    """Four decimals, except for small non-zero values such as Adam's epsilon (1e-07), which
    four decimals would show as 0."""
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4f}"


def _cell(value):
    if pd.isna(value):
        return ""
    if isinstance(value, float):
        return format_number(value)
    return str(value).replace("|", "\\|")


def _contents(blocks):
    """The contents as Markdown bullets: every section heading after the contents block, linked."""
    start = next(index for index, block in enumerate(blocks) if isinstance(block, Contents))
    return "\n".join(f"- [{block.text}](#{anchor(block.text)})" for block in blocks[start:]
                     if isinstance(block, Heading) and block.level == 2)


def _caption_text(caption):
    """A caption without its Markdown links, for alt text."""
    return re.sub(r"\[(.+?)\]\(.+?\)", r"\1", caption)


def to_markdown(blocks, base_dir):
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Text):
            parts.append(block.markdown)
        elif isinstance(block, Contents):
            parts.append(_contents(blocks))
        elif isinstance(block, Equations):
            parts.append("\n".join(f"    {line}" for line in block.lines))
        elif isinstance(block, Table):
            parts.append(f'<a id="table-{block.name}"></a>\n\n' + _markdown_table(block.frame.convert_dtypes()))
        elif isinstance(block, Figure):
            relative = block.path.resolve().relative_to(Path(base_dir).resolve())
            parts.append(f"![{_caption_text(block.caption)}]({relative.as_posix()})\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"


# Verdict words in tables, coloured beside the word itself: Okabe and Ito's colour-blind-safe
# hues, darkened to a contrast of at least 4.5:1 on white (WCAG AA; a test computes it).
VERDICT_COLOURS = {"holds": "#007A5A", "reversed": "#B04A00", "alike": "#005A8C", "inconclusive": "#555555",
                   "not run": "#666666"}


def _verdict_cell(text):
    """A cell made of verdict words (and counts), such as "holds" or "2 holds, 1 not run", in
    their colours, bold; any other cell as it is."""
    if not re.fullmatch(r"(?:[0-9 ,]*(?:holds|reversed|alike|inconclusive|not run))+", text):
        return text
    return re.sub(r"\b(holds|reversed|alike|inconclusive|not run)\b",
                  lambda match: f"<b style='color:{VERDICT_COLOURS[match[1]]}'>{match[1]}</b>", text)


def _inline_html(text):
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)
    return re.sub(r"\[(.+?)\]\((.+?)\)", r'<a href="\2">\1</a>', escaped)


def _text_html(text):
    """Paragraphs and '- ' bullet lists, the only Markdown the report's prose uses."""
    parts = []
    for paragraph in text.split("\n\n"):
        lines = paragraph.splitlines()
        if lines and all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline_html(line[2:])}</li>" for line in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(f"<p>{_inline_html(' '.join(lines))}</p>")
    return "\n".join(parts)


STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em}
td,th{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top;overflow-wrap:break-word}
td b{white-space:nowrap}
th{background:#eee}img{max-width:100%}figcaption{font-style:italic;color:#555}code{background:#f4f4f4}
figure{margin:1em 0}
.equations{font-family:serif;font-size:1.15em;line-height:1.9;margin:1em 2em}
@page{size:A4;margin:14mm 12mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:9.5pt;line-height:1.35}
table{font-size:7pt;width:100%}td,th{padding:1px 3px}
tr,figure,img,.equations{break-inside:avoid}
h1,h2,h3{break-after:avoid}
figure img{max-height:85mm;max-width:100%;width:auto}
a{color:inherit;text-decoration:none}
}"""


def to_html(blocks, title):
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level} id='{anchor(block.text)}'>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            parts.append(_text_html(block.markdown))
        elif isinstance(block, Contents):
            parts.append(_text_html(_contents(blocks)))
        elif isinstance(block, Equations):
            parts.append("<div class='equations'>" + "<br>".join(html.escape(line) for line in block.lines) + "</div>")
        elif isinstance(block, Table):
            # Cells are escaped here, so that a cell's [link](#target) becomes a link.
            frame = block.frame.convert_dtypes().map(
                lambda value: _verdict_cell(_inline_html(value)) if isinstance(value, str) else value)
            parts.append(frame.to_html(index=False, float_format=format_number, na_rep="", escape=False,
                                       table_id=f"table-{block.name}"))
        elif isinstance(block, Figure):
            # Embedded, so the HTML file opens offline on its own.
            encoded = base64.b64encode(block.path.read_bytes()).decode()
            parts.append(f"<figure><img src='data:image/png;base64,{encoded}' "
                         f"alt='{html.escape(_caption_text(block.caption))}'>"
                         f"<figcaption>{_inline_html(block.caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
