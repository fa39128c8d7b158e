"""A tiny document model written as Markdown: a list of blocks, each a small dataclass
(Heading, Text, Table, Image, Equations and Contents, the section headings linked), and the
Markdown they make. report.py collects the blocks; page.py renders that same Markdown as HTML,
so the two hold the same sections and numbers.
"""

import dataclasses
import re
from pathlib import Path

import pandas as pd


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
class Image:
    path: Path
    caption: str


@dataclasses.dataclass(frozen=True)
class Contents:
    pass


@dataclasses.dataclass(frozen=True)
class Equations:
    lines: tuple  # one equation per line, in Unicode


def anchor(text):
    """The link target of a heading, as GitHub makes it for Markdown: lowercase, punctuation
    other than hyphens and underscores dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


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
        elif isinstance(block, Image):
            relative = block.path.resolve().relative_to(Path(base_dir).resolve())
            parts.append(f"![{_caption_text(block.caption)}]({relative.as_posix()})\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"
