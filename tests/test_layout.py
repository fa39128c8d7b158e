"""The house: a package root that reads as a table of contents, and a map in the README that
cannot drift from the tree."""

import re

from conftest import ROOT

PACKAGE = ROOT / "src" / "fashion_pipeline"


def readme_map():
    """The README's "Where things live" block: folder ('' for the package root) -> the modules
    its lines name. A line `  name/ ...` opens a folder, `  name.py ...` the root; an indented
    line goes on with the one above."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Where things live", 1)[1].split("```", 2)[1]
    named, folder = {}, ""
    for line in block.splitlines()[2:]:
        opening = re.match(r"  ([a-z_]+)(/|\.py)", line)
        if opening:
            folder = opening.group(1) if opening.group(2) == "/" else ""
        named.setdefault(folder, set()).update(re.findall(r"\b([a-z_]+)\.py\b", line))
    return named


def test_the_readme_map_lists_every_module_under_its_folder_and_nothing_else():
    tree = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py":
            folder = path.parent.relative_to(PACKAGE).as_posix()
            tree.setdefault("" if folder == "." else folder, set()).add(path.stem)
    assert readme_map() == tree


def test_the_package_root_holds_at_most_twelve_modules():
    assert len(list(PACKAGE.glob("*.py"))) <= 12


def test_no_module_or_test_file_runs_much_past_300_lines():
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py")]:
        assert len(path.read_text().splitlines()) <= 320, path.relative_to(ROOT)
