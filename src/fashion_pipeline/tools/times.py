"""`make times`: how long the commands the README and docs/ show take, on this machine, as a
newcomer types them on a fresh clone (of the last commit, with this project's environment, so
`make setup` is not part of it). Writes reports/times.json, the one place the docs' times come
from, and the table of docs/speed.md between its `times` markers.

Timed: `make report`, `make demo`, `make verify`, the first `make ui` (it imports the committed
runs) and the second (until each answers at its address), and the experiment blocks of
docs/experiments.md, each as written there (the queued one until its queue is done)."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from fashion_pipeline import cli, files
from fashion_pipeline.tools.ports import free_port
from fashion_pipeline.tools.stage_costs import in_words
from fashion_pipeline.tracking.mlflow_runs import cpu_name, git_commit

OUT = Path("reports") / "times.json"
PAGE = Path("docs") / "speed.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
MARKERS = ("<!-- times: written by `make times` -->\n", "<!-- /times -->\n")
# The environment is this project's: make must not build it again in the clone.
MAKE = ["make", "-o", ".venv/.installed", "-o", ".venv/plots_template.html"]


def timed(command, clone):
    started = time.perf_counter()
    subprocess.run(command, cwd=clone, env=clean_env(), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def clean_env():
    return {key: value for key, value in os.environ.items() if not key.startswith(("DVC_", "MLFLOW_"))}


def until_ui_answers(clone):
    """`make ui` until it has printed its views' addresses (the import done) and its address
    answers; then Ctrl-C, as a person stops it."""
    port = free_port()
    started = time.perf_counter()
    ui = subprocess.Popen([*MAKE, "ui", f"UI_PORT={port}"], cwd=clone, env=clean_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in ui.stdout:
            if line.startswith("MLflow UI: http"):
                break
        while ui.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                return time.perf_counter() - started
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"make ui ended with status {ui.returncode} before it answered")
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGINT)
            ui.communicate(timeout=60)


def experiment_blocks(page=Path("docs") / "experiments.md"):
    """The blocks of docs/experiments.md that run an experiment, {"--temp": block, "--queue": block}."""
    blocks = BLOCK.findall(page.read_text())
    return {flag: next(block for block in blocks if f"dvc exp run {flag}" in block) for flag in ("--temp", "--queue")}


def shell(block):
    """A docs block as the README's reader runs it: after `. .venv/bin/activate`."""
    return ["bash", "-e", "-c", ". .venv/bin/activate\n" + block]


def until_queue_done(clone):
    while re.search(r"Queued|Running", subprocess.run(shell("dvc queue status"), cwd=clone, env=clean_env(),
                                                      capture_output=True, text=True).stdout):
        time.sleep(2)


def measure(root):
    blocks = experiment_blocks(root / "docs" / "experiments.md")
    measured = []
    with tempfile.TemporaryDirectory(prefix="times-") as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
        (clone / ".venv").symlink_to(root / ".venv")

        def note(command, seconds, what):
            measured.append({"command": command, "seconds": round(seconds, 1), "what": what})
            print(f"times: {command}: {seconds:.0f} s", flush=True)

        for target, what in (("report", "the report from the committed results"),
                             ("demo", "the small grid in demo/, its report and champion"),
                             ("verify", "params.yaml's verify sample trained again and judged")):
            note(f"make {target}", timed([*MAKE, target], clone), what)
        note("make ui", until_ui_answers(clone), "the first start: the committed runs imported, its views' "
                                                  "addresses printed, and it answers")
        note("make ui", until_ui_answers(clone), "a second start, until the same")
        note("dvc exp run --temp", timed(shell(blocks["--temp"]), clone),
             "docs/experiments.md's block on a fresh clone (data downloaded and prepared first)")
        started = time.perf_counter()
        # Into a file, not a pipe: `dvc queue start`'s worker inherits the block's output and may
        # outlive it, and a pipe would keep this waiting for the worker, not for the block.
        with tempfile.TemporaryFile() as output:
            subprocess.run(shell(blocks["--queue"]), cwd=clone, env=clean_env(), check=True, stdout=output,
                           stderr=subprocess.STDOUT)
        until_queue_done(clone)
        note("dvc exp run --queue", time.perf_counter() - started, "docs/experiments.md's block, until both are done")
    return measured


def table(times):
    """docs/speed.md's table of `times` (reports/times.json), rounded as `in_words` rounds."""
    rows = [f"| `{entry['command']}` | {entry['what']} | {in_words(entry['seconds'])} |" for entry in times["commands"]]
    return "\n".join([f"Measured by `make times` on {times['machine']}, commit {times['commit'][:7]}, on a fresh "
                      "clone with the project's environment:", "", "| command | what | took |", "|---|---|---|",
                      *rows]) + "\n"


def write_page(times, page=PAGE):
    text = page.read_text()
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    page.write_text(text[:start] + table(times) + text[end:])


def main():
    root = Path.cwd()
    if shutil.which("make") is None:
        raise FileNotFoundError("make: not found; `make times` runs the README's make commands")
    times = {"machine": cpu_name(), "commit": git_commit(), "commands": measure(root)}
    files.write_json(OUT, times)
    write_page(times)
    print(f"times: {OUT} and {PAGE}", flush=True)


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
