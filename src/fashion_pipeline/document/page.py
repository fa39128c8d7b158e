"""report.html from report.md: markdown-it-py renders the Markdown (CommonMark with tables) and
a Jinja2 template sets it in a page with its style sheet, one file that opens offline. A few
rules over markdown-it's tokens give the page what plain Markdown lacks: headings take the
GitHub anchor the contents link to, a table takes the id of the anchor written before it, a
figure (an image paragraph and its italic caption) becomes <figure> with the PNG embedded,
verdict words in a cell take their colour, an interval in a cell never breaks inside, and the
indented block of equations is set as such."""

import base64
import html
import re
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markdown_it.token import Token

from fashion_pipeline.document.markdown import anchor
from fashion_pipeline.judging.statistics import Verdict

# Verdict words in tables, coloured beside the word itself: Okabe and Ito's colour-blind-safe
# hues, darkened to a contrast of at least 4.5:1 on white (WCAG AA; a test computes it).
VERDICT_COLOURS = {Verdict.HOLDS: "#007A5A", Verdict.REVERSED: "#B04A00", Verdict.ALIKE: "#005A8C",
                   Verdict.INCONCLUSIVE: "#555555", Verdict.NOT_RUN: "#666666"}

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
figure img{max-height:250mm;max-width:100%;width:auto}
a{color:inherit;text-decoration:none}
}"""

TEMPLATE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ style | safe }}</style></head><body>
{{ body | safe }}
</body></html>
""")


def to_html(markdown, title, base_dir):
    """The page of a Markdown report whose images lie under base_dir."""
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    parser.add_render_rule("image", _embedded_image)
    parser.add_render_rule("code_block", _equations)
    tokens = parser.parse(markdown)
    for rule in (_heading_ids, _table_ids, _figures, _table_cells):
        tokens = rule(tokens)
    body = parser.renderer.render(tokens, parser.options, {"base_dir": Path(base_dir)})
    return TEMPLATE.render(title=title, style=STYLE, body=body)


def _heading_ids(tokens):
    for token, following in zip(tokens, tokens[1:]):
        if token.type == "heading_open":
            token.attrSet("id", anchor(following.content))
    return tokens


def _table_ids(tokens):
    """`<a id="table-x"></a>` alone in the paragraph before a table: the id goes on the table."""
    result, index = [], 0
    while index < len(tokens):
        if (_is_paragraph_of(tokens, index, "html_inline", "html_inline") and index + 3 < len(tokens)
                and tokens[index + 3].type == "table_open" and tokens[index + 1].content.startswith('<a id="')):
            tokens[index + 3].attrSet("id", tokens[index + 1].content.split('"')[1])
            index += 3
        else:
            result.append(tokens[index])
            index += 1
    return result


def _html(content):
    token = Token("html_block", "", 0)
    token.content = content
    return token


def _is_paragraph_of(tokens, index, first, last=None):
    """Whether tokens[index:index + 3] is a paragraph whose inline children start with `first`
    and end with `last` (a lone child when last is None)."""
    if index + 2 >= len(tokens) or tokens[index].type != "paragraph_open":
        return False
    children = [child.type for child in tokens[index + 1].children or []]
    return bool(children) and children[0] == first and (children == [first] if last is None else children[-1] == last)


def _figures(tokens):
    """An image alone in its paragraph, then a paragraph in italics: a figure and its caption."""
    result, index = [], 0
    while index < len(tokens):
        if _is_paragraph_of(tokens, index, "image") and _is_paragraph_of(tokens, index + 3, "em_open", "em_close"):
            caption = tokens[index + 4]
            caption.children = caption.children[1:-1]  # the <figcaption> style sets it in italics
            result += [_html("<figure>"), tokens[index + 1], _html("<figcaption>"), caption,
                       _html("</figcaption></figure>\n")]
            index += 6
        else:
            result.append(tokens[index])
            index += 1
    return result


def verdict_cell(text):
    """A cell made of verdict words, each with an optional count ("holds", "2 alike, 1 reversed"),
    in their colours and bold; None for any other cell."""
    words = {verdict.value: verdict for verdict in Verdict}
    parts = [part.lstrip("0123456789 ") for part in text.split(", ")]
    if not all(part in words for part in parts):
        return None
    coloured = [f"{part[:len(part) - len(word)]}<b style='color:{VERDICT_COLOURS[words[word]]}'>{word}</b>"
                for part, word in zip(text.split(", "), parts)]
    return ", ".join(coloured)


# An interval in a table cell, "[0.1270, 0.1572]": a narrow column breaks the cell before it,
# never inside it, so a number's interval reads on one line. A column name breaks after its
# underscores ("epochs_to_target"), so a long name does not widen its column past the page.
INTERVAL = re.compile(r"\[([^\[\],\s]+), ([^\[\],\s]+)\]")


def _table_cells(tokens):
    inside_cell = header = False
    for token in tokens:
        if token.type in ("td_open", "td_close", "th_open", "th_close"):
            inside_cell, header = token.type.endswith("_open"), token.type.startswith("th")
        elif inside_cell and token.type == "inline":
            for child in (child for child in token.children if child.type == "text"):
                child.content = (child.content.replace("_", "_\u200b") if header
                                 else INTERVAL.sub("[\\1,\u00a0\\2]", child.content))
        if inside_cell and not header and token.type == "inline" and [child.type for child in token.children] == ["text"]:
            coloured = verdict_cell(token.content)
            if coloured is not None:
                replacement = Token("html_inline", "", 0)
                replacement.content = coloured
                token.children = [replacement]
    return tokens


def _embedded_image(renderer, tokens, index, options, env):
    """The PNG inside the page, so the HTML file opens offline on its own."""
    token = tokens[index]
    encoded = base64.b64encode((env["base_dir"] / token.attrGet("src")).read_bytes()).decode()
    alt = renderer.renderInlineAsText(token.children, options, env)
    return f"<img src='data:image/png;base64,{encoded}' alt=\"{html.escape(alt)}\">"


def _equations(renderer, tokens, index, options, env):
    """The report's one indented block is its equations, one per line, set in serif."""
    lines = tokens[index].content.rstrip("\n").split("\n")
    return "<div class='equations'>" + "<br>".join(html.escape(line) for line in lines) + "</div>\n"
