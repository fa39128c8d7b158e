"""dvc.yaml's code deps are exactly what can change each stage's numbers: the files its module
imports, directly or through others, less dependencies.RECORDING_ONLY. The table of which edits
re-run which stages is printed (pytest -s) and held to the layout's promises."""

import yaml
from conftest import ROOT

from fashion_pipeline import dependencies, runs

PACKAGE = "src/fashion_pipeline/"
# Stage groups that train, and the groups each feeds (through its outputs).
# What reads the results: the mistakes sample, the figures, the report and its PDF, and the
# champion's registration.
PAGES = {"mistakes", "figures", "report", "pdf"}
READERS = {*PAGES, "register"}
DOWNSTREAM = {
    "train_lowlevel": {"evaluate_lowlevel", *READERS},
    "train_keras": {"evaluate_keras", *READERS},
    "evaluate_lowlevel": READERS,
    "evaluate_keras": READERS,
    "compare_optimizers": READERS,
    "holdout_keras": READERS,
    "mistakes": {"report", "pdf"},
    "figures": {"report", "pdf"},
    "download": {"prepare", "train_lowlevel", "train_keras", "evaluate_lowlevel", "evaluate_keras",
                 "compare_optimizers", "holdout_keras", *READERS},
    "prepare": {"train_lowlevel", "train_keras", "evaluate_lowlevel", "evaluate_keras", "compare_optimizers",
                "holdout_keras", *READERS},
    "report": {"pdf"},
    "pdf": set(),
    "register": set(),
}
TRAINING = {"train_lowlevel", "train_keras", "compare_optimizers", "holdout_keras"}


def stages():
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def stage_modules(name, stage):
    """The modules a stage runs: the one its command names, and for train_<kind> the package of
    that kind, which stages/train.py imports by its name in runs.KINDS."""
    module = stage["cmd"].split(" -m ", 1)[1].split()[0]
    kind = runs.KINDS.get(name.removeprefix("train_"))
    return [module, kind.training_module] if name.startswith("train_") else [module]


def declared_code(stage):
    """The package files a stage's deps name, folders expanded to their .py files."""
    found = set()
    for dep in stage["deps"]:
        if not dep.startswith(PACKAGE):
            continue
        path = ROOT / dep
        if path.is_dir():
            found.update(file.relative_to(ROOT / PACKAGE).as_posix() for file in path.rglob("*.py"))
        else:
            found.add(dep[len(PACKAGE):])
    return found


def test_every_stage_depends_on_exactly_the_code_that_can_change_its_numbers():
    for name, stage in stages().items():
        expected = {path.as_posix() for path in dependencies.numbers_files(stage_modules(name, stage))}
        assert declared_code(stage) == expected, name


def rerun_table():
    """file -> the stage groups an edit to it re-runs, directly or downstream."""
    declared = {name: declared_code(stage) for name, stage in stages().items()}
    table = {}
    for file in sorted(path.relative_to(ROOT / PACKAGE).as_posix() for path in (ROOT / PACKAGE).rglob("*.py")):
        direct = {name for name, code in declared.items() if file in code}
        table[file] = direct.union(*(DOWNSTREAM[name] for name in direct)) if direct else set()
    return table


def test_edits_re_run_only_the_results_they_can_change():
    table = rerun_table()
    print("\nfile edited -> stage groups re-run")
    for file, groups in table.items():
        print(f"  {file:40s} {', '.join(sorted(groups)) or '(nothing)'}")
    for file in ("lowlevel/network.py", "lowlevel/trainer.py"):
        assert table[file] == {"train_lowlevel", "evaluate_lowlevel", "compare_optimizers", *READERS}, file
    assert table["lowlevel/optimizers.py"] == {"compare_optimizers", *READERS}
    assert table["keras/training.py"] == {"train_keras", "evaluate_keras", "holdout_keras", *READERS}
    # A sentence of the report re-draws no figure, and a figure's look re-judges no claim.
    assert table["document/sections.py"] == {"report", "pdf"}
    assert table["document/drawing.py"] == PAGES and table["stages/pdf.py"] == {"pdf"}
    for file in ("tracking/mlflow_runs.py", "tracking/progress.py", "cli.py", "errors.py", "checkpoints.py",
                 "params.py", "files.py", "document/drawing.py", "document/markdown.py", "judging/analysis.py",
                 "stages/report.py"):
        assert not table[file] & TRAINING, file
    for file, groups in table.items():
        if dependencies.recording_only(file):
            assert groups == set(), file


def test_recording_only_modules_are_named_with_a_reason_and_exist():
    for entry, reason in dependencies.RECORDING_ONLY.items():
        path = ROOT / PACKAGE / entry
        assert path.is_dir() if entry.endswith("/") else path.is_file(), entry
        assert len(reason) > 10, entry


def test_closure_follows_imports_but_not_through_recording_modules():
    closure = {path.as_posix() for path in dependencies.import_closure(["fashion_pipeline.stages.train"])}
    # stages/train.py imports frame, which imports data: both reach the numbers.
    assert {"stages/train.py", "frame.py", "data.py"} <= closure
    # tracking is reached, but what tracking imports (studies, store) is not followed.
    assert "tracking/mlflow_runs.py" in closure
    assert "tracking/studies.py" not in closure
    numbers = {path.as_posix() for path in dependencies.numbers_files(["fashion_pipeline.stages.train"])}
    assert not any(dependencies.recording_only(path) for path in numbers)
    # The kind packages are imported by name at run time, never statically.
    assert not any(path.startswith(("keras/", "lowlevel/")) for path in numbers)


def test_checkpoint_fingerprint_changes_with_numbers_code_only(tmp_path, monkeypatch):
    """The digest covers the numbers files' contents: a copy of the package with one changed
    numbers file digests differently; one with a changed recording-only file does not."""
    import shutil

    copy = tmp_path / "fashion_pipeline"
    shutil.copytree(ROOT / PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(dependencies, "PACKAGE_ROOT", copy)
    modules = ["fashion_pipeline.stages.train", "fashion_pipeline.keras"]
    before = dependencies.code_digest(modules)
    recording = copy / "tracking" / "mlflow_runs.py"
    recording.write_text(recording.read_text() + "\n# a comment\n")
    assert dependencies.code_digest(modules) == before
    (copy / "keras" / "training.py").write_text((copy / "keras" / "training.py").read_text() + "\n# a comment\n")
    assert dependencies.code_digest(modules) != before
