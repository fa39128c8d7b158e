"""Atomic file output: a stage interrupted mid-write never leaves a file that looks finished."""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix last: Keras and numpy pick the format from it.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a temporary folder beside `path`; it replaces `path` only if the block succeeds,
    so a failed stage leaves neither a half-filled folder nor a stale one that looks new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield temporary
        os.chmod(temporary, 0o755)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_bytes(path, data):
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text(path, text):
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_csv(path, frame):
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (has the stage that writes it run?)")
    with path.open() as handle:
        return json.load(handle)
