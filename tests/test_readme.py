"""The README and docs/ against the files they describe: every count they state equals what
params.yaml and dvc.yaml give, and every link between them leads to a file."""

import json
import math
import os
import re
import subprocess

import yaml
from conftest import ROOT

from fashion_pipeline.tools.times import shell

DOCS = ROOT / "docs"
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
# A link's target in Markdown: [text](target) or ![alt](target).
LINK = re.compile(r"\]\(([^)\s]+)\)")


def texts():
    """file name -> text, for the README and every page of docs/."""
    return {path.relative_to(ROOT).as_posix(): path.read_text()
            for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]}


def number(word):
    return WORDS[word.lower()] if word.lower() in WORDS else int(word.replace(",", ""))


def resolve(params, reference):
    """`${experiments.keras}` -> that value of params.yaml."""
    value = params
    for key in reference.strip("${}").split("."):
        value = value[key]
    return value


def stage_count(params, stages):
    """How many stages dvc.yaml's DAG has: one per plain stage, and for a `matrix` stage one per
    combination of its axes, each axis a list or mapping of params.yaml."""
    return sum(math.prod(len(resolve(params, axis)) for axis in stage["matrix"].values()) if "matrix" in stage else 1
               for stage in stages.values())


def stated_counts():
    """(pattern, what params.yaml and dvc.yaml give for each of its groups): every count the
    README and docs/ state in these words."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    lowlevel, keras = params["experiments"]["lowlevel"], params["experiments"]["keras"]
    dropout = [name for name, spec in keras.items() if spec["dropout"] not in (0, 0.0)]
    raw = [name for name, spec in keras.items() if spec.get("scale") is False]
    slice_kinds = [address.split("@")[0] for address in params["bench"]["slice"]]
    grids = {len(runs) for runs in params["optimizers"]["rate_grids"].values()}
    return [
        (r"(\d+) seeds \((\d+) to (\d+)\)", (len(params["seeds"]), min(params["seeds"]), max(params["seeds"]))),
        (r"(\d+) experiments \((\d+) in Part A, (\d+) in Part B\)", (len(lowlevel) + len(keras), len(lowlevel), len(keras))),
        (r"(\d+) optimizer runs", (len(params["optimizers"]["runs"]),)),
        (r"(\d+) held-out candidates", (len(params["holdout"]["experiments"]),)),
        (r"(\d+) stages in `dvc\.yaml`'s DAG", (stage_count(params, stages),)),
        (r"(\w+) dropout variants", (len(dropout),)),
        (r"(\w+) runs on raw pixels", (len(raw),)),
        (r"(\w+) runs that differ only in learning rate", tuple(grids) if len(grids) == 1 else (None,)),
        (r"(\w+) Keras stages and a Part A one", (slice_kinds.count("train_keras"),)),
        (r"full batch, (\d+) epochs", tuple({spec["epochs"] for spec in lowlevel.values()})),
        (r"\(batch (\d+), (\d+) epochs\)", (*{spec["batch_size"] for spec in keras.values()},
                                            *{spec["epochs"] for spec in keras.values()})),
        (r"for (\d+) epochs", (params["optimizers"]["epochs"],)),
    ]


def test_every_count_the_readme_and_docs_state_is_what_params_and_dvc_yaml_give():
    pages = texts()
    for pattern, expected in stated_counts():
        # A sentence may break its line anywhere.
        pattern = pattern.replace(" ", r"\s+")
        found = [(name, match) for name, text in pages.items() for match in re.finditer(pattern, text)]
        # Each count is stated somewhere: a reworded sentence must bring its check along.
        assert found, f"no page states {pattern!r}"
        for name, match in found:
            stated = tuple(number(group) for group in match.groups())
            assert stated == expected, f"{name}: {match.group(0)!r} states {stated}, the project has {expected}"


def test_the_stage_count_matches_a_matrix_expanded_by_hand():
    params = {"seeds": [1, 2], "experiments": {"keras": {"a": {}, "b": {}, "c": {}}}}
    stages = {"prepare": {}, "train": {"matrix": {"experiment": "${experiments.keras}", "seed": "${seeds}"}}}
    assert stage_count(params, stages) == 1 + 3 * 2


def test_every_page_the_readme_links_in_docs_exists_and_every_page_is_linked():
    readme = (ROOT / "README.md").read_text()
    linked = {target.split("#")[0] for target in LINK.findall(readme) if target.startswith("docs/")}
    assert linked, "the README links no page of docs/"
    for target in linked:
        assert (ROOT / target).is_file(), f"README.md links {target}, which does not exist"
    assert {path.relative_to(ROOT).as_posix() for path in DOCS.glob("*.md")} <= linked


def test_every_relative_link_inside_docs_resolves():
    for page in DOCS.glob("*.md"):
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            assert (page.parent / target.split("#")[0]).resolve().exists(), f"{page.name}: {target}"


# A fenced shell block of the README or docs/.
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
# DVC commands that only read: a block of nothing else ends in seconds.
READING = re.compile(r"dvc (metrics show|metrics diff|plots show|params diff|status|dag)\b")


def test_the_command_blocks_that_end_in_seconds_run_as_written_on_a_fresh_clone_and_change_nothing(tmp_path):
    blocks = [block for text in texts().values() for block in BLOCK.findall(text)
              if all(READING.match(line) for line in block.splitlines() if line.strip())]
    assert blocks, "no page shows a block of DVC commands that only read"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (clone / ".venv").symlink_to(ROOT / ".venv")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DVC_", "MLFLOW_"))}
    for block in blocks:
        # After the README's first lines: the project's environment active.
        result = subprocess.run(shell(block), cwd=clone, env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, block + result.stdout + result.stderr
        assert "ERROR" not in result.stderr, block + result.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == ""


def test_the_times_table_of_docs_speed_is_what_make_times_wrote():
    from fashion_pipeline.tools.times import MARKERS, table

    times = json.loads((ROOT / "reports" / "times.json").read_text())
    page = (DOCS / "speed.md").read_text()
    written = page[page.index(MARKERS[0]) + len(MARKERS[0]):page.index(MARKERS[1])]
    assert written == table(times)
    assert {entry["command"] for entry in times["commands"]} >= {"make report", "make demo", "make verify", "make ui"}


def test_no_page_states_a_time_of_its_own():
    # A duration in words ("about 2 minutes", "53 s", "in 9 s") outside the times table and the
    # benchmark's section: each is measured by `make times` or `make bench`, and written there.
    duration = re.compile(r"\b(\d+(\.\d+)?\s?(s|sec|seconds?|min|minutes?|h|hours?)|(an?|a few) (minute|hour)s?)\b(?![-/])")
    for name, text in texts().items():
        if name == "docs/speed.md":
            continue
        found = [match.group(0) for match in duration.finditer(text)]
        assert not found, f"{name} states {found}: link docs/speed.md#how-long-the-commands-take instead"
