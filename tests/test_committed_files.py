"""Committed results, reports and dvc.lock are the same on every clone: nothing in them names a
folder of the machine that made them."""

import re
import subprocess

from conftest import ROOT

# A path under a machine's own folders: a home, a work tree, a temporary folder. (Paths that
# every Debian machine shares, such as the data package's /usr/share/datasets, are no machine's.)
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:home|root|work|tmp|Users|private|var/folders|mnt|srv|opt)/[\w.-]+")
SQLITE_ABSOLUTE = "sqlite:////"


def committed_files(*paths):
    listed = subprocess.run(["git", "ls-files", "-z", "--", *paths], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name]


def machine_paths(text):
    found = MACHINE_PATH.findall(text)
    return found + ([SQLITE_ABSOLUTE] if SQLITE_ABSOLUTE in text else [])


def test_the_pattern_finds_a_machines_paths_and_spares_shared_ones():
    assert machine_paths('"tracking_uri": "sqlite:////work/main/mlflow.db"') == ["/work/main", SQLITE_ABSOLUTE]
    assert machine_paths("source: /home/ana/fashion/data") == ["/home/ana"]
    assert machine_paths("- /usr/share/datasets/fashion-mnist\n sqlite:///mlflow.db, ./work/x") == []


def test_no_committed_result_report_or_lock_names_a_machines_folder():
    files = committed_files("results", "reports", "dvc.lock")
    assert len(files) > 100
    offending = {}
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        # This checkout's own folder too, wherever it is.
        found = machine_paths(text) + ([str(ROOT)] if str(ROOT) in text else [])
        if found:
            offending[path.relative_to(ROOT).as_posix()] = sorted(set(found))
    assert offending == {}
