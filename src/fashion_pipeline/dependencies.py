"""Which source files can change a stage's numbers: the files its module imports, directly or
through others, less the modules that only record a run. dvc.yaml lists exactly these as each
stage's code deps (a test compares the two), and a checkpoint is resumed only while they are
unchanged.
"""

import ast
import hashlib
from pathlib import Path

PACKAGE_ROOT = Path(__file__).parent
PACKAGE = PACKAGE_ROOT.name

# Modules that record or report on a run but never change its numbers, and why. An edit to one
# of them re-runs no stage; everything else a stage imports is one of its DVC deps.
RECORDING_ONLY = {
    "__init__.py": "the package's docstring; quietens TensorFlow's and MLflow's log lines",
    "stages/__init__.py": "the folder's docstring",
    "tracking/": "MLflow at the edges: params, metrics, artifacts, the store's checks, progress lines, study tags",
    "cli.py": "prints a user's error as one line; ends a stopped stage that TensorFlow keeps busy",
    "errors.py": "the error classes and their messages",
    "files.py": "writes files atomically; the bytes written are the caller's",
    "params.py": "reads and validates params.yaml, returning its values unchanged",
    "value_checks.py": "the checkers params.py applies to each value",
    "runs.py": "a run's names and paths, and which stage is running",
    "checkpoints.py": "saves and restores training state exactly (a resumed run equals an uninterrupted one)",
    "dependencies.py": "this list, and the import closure that dvc.yaml and checkpoints follow",
}


def recording_only(path):
    """Whether a file (relative to the package) is listed, by itself or by its folder."""
    path = Path(path).as_posix()
    return any(path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in RECORDING_ONLY)


def module_file(module):
    """`fashion_pipeline.keras.training` -> keras/training.py (relative to the package)."""
    parts = module.split(".")[1:]
    folder = PACKAGE_ROOT.joinpath(*parts)
    if folder.is_dir():
        return (folder / "__init__.py").relative_to(PACKAGE_ROOT)
    return folder.with_suffix(".py").relative_to(PACKAGE_ROOT)


def _imported_modules(path):
    """The package's modules that one file imports, by name."""
    modules = set()
    for node in ast.walk(ast.parse((PACKAGE_ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            modules.add(node.module)
            # `from package import module` names a module; `from module import function` does not.
            modules.update(f"{node.module}.{alias.name}" for alias in node.names
                           if _exists(f"{node.module}.{alias.name}"))
    return modules


def _exists(module):
    parts = module.split(".")[1:]
    folder = PACKAGE_ROOT.joinpath(*parts)
    return folder.is_dir() or folder.with_suffix(".py").is_file()


def _with_parents(module):
    """A module and the packages above it, whose __init__ runs when it is imported."""
    parts = module.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)}


def import_closure(modules):
    """Every file of the package that importing `modules` runs, as paths relative to it; the
    imports of a RECORDING_ONLY module are not followed, as they cannot reach the numbers."""
    pending = {parent for module in modules for parent in _with_parents(module)}
    seen = set()
    while pending:
        module = pending.pop()
        path = module_file(module)
        if path in seen:
            continue
        seen.add(path)
        if recording_only(path):
            continue
        for imported in _imported_modules(path):
            pending.update(_with_parents(imported))
    return seen


def numbers_files(modules):
    """The files that can change the numbers of a stage running `modules`."""
    return sorted(path for path in import_closure(modules) if not recording_only(path))


def code_digest(modules):
    """A digest of those files' contents, for checkpoints."""
    digest = hashlib.sha256()
    for path in numbers_files(modules):
        digest.update(path.as_posix().encode() + b"\0" + (PACKAGE_ROOT / path).read_bytes())
    return digest.hexdigest()
