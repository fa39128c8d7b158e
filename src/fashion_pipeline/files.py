"""Atomic file output: a stage interrupted mid-write never leaves a file that looks finished, even
when it is ended from outside its main thread (cli.py's stop watcher runs `clean_ups`)."""

import contextlib
import errno
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from fashion_pipeline.errors import DataFileError

# What to undo if the stage is ended from outside its main thread: (id, function), the latest last.
_clean_ups = []
# Set by cli.py when a stop signal comes. Python drops the KeyboardInterrupt a signal raises inside
# a garbage collector's callback, and the stage would go on to write its outputs; no output is put
# in place after a stop.
STOPPED = threading.Event()


@contextlib.contextmanager
def clean_up_if_ended(function):
    """Inside the block, `function()` runs if the stage is ended from outside its main thread."""
    entry = (object(), function)
    _clean_ups.append(entry)
    try:
        yield
    finally:
        _clean_ups.remove(entry)


def clean_ups():
    """The clean-ups registered now, the latest first."""
    return [function for _, function in reversed(list(_clean_ups))]


def remove_stale_temporaries(folder, prefix):
    """Remove the temporaries named `prefix`* that a killed process (SIGKILL, power loss) left in
    `folder`; an interrupted one removes its own. DVC runs one stage per output at a time, so
    none of them is in use."""
    for stale in Path(folder).glob(f"{prefix}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def check_writable(folders):
    """Raise OSError naming the folder when one of `folders` could not be written: a file
    where a folder is needed, a read-only file system, no permission. Checked on the nearest
    folder that exists, so nothing is made: a failed check leaves nothing behind."""
    for folder in map(Path, folders):
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
        try:
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(folder)) from None


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, f".{path.stem}.")
    # Keep the real suffix last: Keras and numpy pick the format from it.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        with clean_up_if_ended(lambda: os.remove(temporary)):
            yield Path(temporary)
        _unless_stopped(path)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        _raise_as_output(error, temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a temporary folder beside `path`; it replaces `path` only if the block succeeds,
    so a failed stage leaves neither a half-filled folder nor a stale one that looks new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, f".{path.name}.")
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        with clean_up_if_ended(lambda: shutil.rmtree(temporary, ignore_errors=True)):
            yield temporary
        _unless_stopped(path)
        os.chmod(temporary, 0o755)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(temporary, path)
    except OSError as error:
        _raise_as_output(error, temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _unless_stopped(path):
    if STOPPED.is_set():
        raise KeyboardInterrupt(f"stopped before {path} was put in place")


def _raise_as_output(error, temporary, path):
    """Re-raise an error met while writing `path` through its temporary, naming the output the
    user knows: the temporary's name (or none at all, as a full disk gives) becomes the output's."""
    name = None if error.filename is None else str(error.filename)
    if error.errno is None or (name is not None and not name.startswith(str(temporary))):
        raise error
    inside = name[len(str(temporary)):] if name else ""
    raise type(error)(error.errno, error.strerror, f"{path}{inside}") from None


def write_text(path, text):
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_csv(path, frame):
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path):
    """A JSON file a stage wrote; missing or damaged, it is refused naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "not found; run the stage that writes it first (dvc repro)")
    try:
        with path.open() as handle:
            return json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise DataFileError(path, f"not valid JSON ({error}); run the stage that writes it again "
                                  "(dvc repro --force <stage>)") from None
