"""A drawn figure as the report receives it: its file, caption, the table with its numbers and
the place in the report it goes. The `figures` stage writes them to figures.json beside the
PNGs; the report reads them back and shows each at its place, exactly once."""

import dataclasses
from pathlib import Path

from fashion_pipeline import files
from fashion_pipeline.errors import DataFileError

# What the `figures` stage writes beside the PNGs.
MANIFEST = "figures.json"
# The essay's places, after the part of its text that cites them (the other places are a
# question, or the table a figure follows).
ESSAY_MOMENTUM, ESSAY_BIAS_CORRECTION, ESSAY_DECAY = "Essay: momentum", "Essay: bias correction", "Essay: decay"


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str  # figures/<name>.png
    caption: str
    table: str | None  # the report table with the figure's numbers
    place: str  # where the report shows it: a question ("A 1-1") or a named spot in a section
    panels: tuple = ()  # drawing.panels: each panel's title, y scale and series, once drawn


def write_manifest(folder, figures):
    files.write_json(Path(folder) / MANIFEST, [dataclasses.asdict(figure) for figure in figures])


class Shelf:
    """The figures the `figures` stage drew, in its order, each taken from the shelf by the
    section that shows it."""

    def __init__(self, folder):
        self.folder = Path(folder)
        manifest = self.folder / MANIFEST
        entries = files.read_json(manifest) if manifest.is_file() else []
        self.figures = {entry["name"]: Figure(**entry) for entry in entries}
        self.shown = set()

    def path(self, figure):
        return self.folder / f"{figure.name}.png"

    def named(self, name):
        """One figure by name; an unknown name is an error that lists the known ones."""
        if name not in self.figures:
            raise DataFileError(self.folder / MANIFEST, f"no figure named {name!r}; the figures drawn are "
                                + (", ".join(self.figures) or "none"))
        return self.figures[name]

    def at(self, place):
        """The figures planned for one place of the report, in the plan's order (none when
        their runs have no results yet)."""
        found = [figure for figure in self.figures.values() if figure.place == place]
        self.shown.update(figure.name for figure in found)
        return found

    def check_all_shown(self):
        """Every figure drawn has found its place: a place no section shows is an error."""
        left = [f"{figure.name} (place {figure.place!r})" for figure in self.figures.values()
                if figure.name not in self.shown]
        if left:
            raise DataFileError(self.folder / MANIFEST, "figures drawn for a place the report does not show: "
                                + ", ".join(left))
