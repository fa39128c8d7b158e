"""Atomic file output: a stage interrupted mid-write never leaves a file that looks finished, even
when it is ended from outside its main thread (cli.py's stop watcher runs `run_clean_ups`), and a
stage's outputs are replaced together or not at all (`outputs_together`)."""

import contextlib
import errno
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import uuid
from pathlib import Path

from fashion_pipeline.errors import DataFileError

# Set by cli.py when a stop signal comes. Python drops the KeyboardInterrupt a signal raises inside
# a garbage collector's callback, and the stage would go on to write its outputs; no output is put
# in place after a stop.
STOPPED = threading.Event()
# How deep the main thread is in blocks a stop must not cut in two (`uninterrupted`), and whether
# it is out of them (cli.py's stop watcher waits for that).
_depth = 0
OUT_OF_BLOCKS = threading.Event()
OUT_OF_BLOCKS.set()


class CleanUp:
    """What to undo if the stage fails or is stopped. It runs once, by whichever thread comes
    first (the main thread unwinding, or cli.py's stop watcher); the other waits for it to end."""

    def __init__(self, function):
        self.function, self.lock, self.done = function, threading.Lock(), False

    def run(self, timeout=-1):
        if not self.lock.acquire(timeout=timeout):
            return
        try:
            if not self.done:
                self.done = True
                self.function()
        finally:
            self.lock.release()


# The clean-ups registered now, the latest last.
_clean_ups = []


def add_clean_up(function):
    """Register `function` to run if the stage fails or is stopped (`outputs_together`)."""
    clean_up = CleanUp(function)
    _clean_ups.append(clean_up)
    return clean_up


@contextlib.contextmanager
def clean_up_if_ended(function):
    """Inside the block, `function()` runs if the stage is ended from outside its main thread."""
    clean_up = add_clean_up(function)
    try:
        yield clean_up
    finally:
        with contextlib.suppress(ValueError):
            _clean_ups.remove(clean_up)


def run_clean_ups(timeout=-1):
    """Run every registered clean-up not yet run, the latest first, each to its end even if a stop
    signal comes meanwhile; return the errors they raised."""
    errors = []
    with uninterrupted(raise_after=False):
        for clean_up in reversed(list(_clean_ups)):
            try:
                clean_up.run(timeout)
            except BaseException as error:  # noqa: BLE001 - one failed clean-up must not stop the others
                errors.append(error)
    return errors


@contextlib.contextmanager
def uninterrupted(raise_after=True):
    """A block of the main thread that a stop signal does not cut: the signal is noted, and, with
    `raise_after`, raised as the outermost such block ends."""
    global _depth
    _depth += 1
    OUT_OF_BLOCKS.clear()
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            OUT_OF_BLOCKS.set()
    if raise_after and _depth == 0 and STOPPED.is_set():
        raise KeyboardInterrupt("stopped")


# An output set aside while its stage runs: `.<stem>.<8 hex digits>.previous<suffix>` beside it.
SET_ASIDE = re.compile(r"\.(?P<stem>.+)\.[0-9a-f]{8}\.previous(?P<suffix>.*)")


class _Replaced:
    """The outputs a stage has put in place, each with the one it replaced set aside."""

    def __init__(self, outputs):
        self.outputs, self.replaced = [Path(output).absolute() for output in outputs], []

    def covers(self, path):
        path = Path(path).absolute()
        return any(path == output or path.is_relative_to(output) for output in self.outputs)

    def recover(self):
        """Put back what a stage killed outright (SIGKILL, power loss) had set aside."""
        for output in self.outputs:
            places = [output.parent, *([output] if output.is_dir() else [])]
            for aside in [found for place in places for found in place.glob(".*.previous*")]:
                match = SET_ASIDE.fullmatch(aside.name)
                if match and self.covers(original := aside.parent / f"{match['stem']}{match['suffix']}"):
                    _remove(original)
                    os.replace(aside, original)

    def set_aside(self, path, folder):
        """Move the output at `path` (a folder or a file, as `folder` says) aside before its new
        version takes its place; the first version of this stage's run is the one kept."""
        path = Path(path).absolute()
        if any(path == replaced for replaced, _ in self.replaced):
            if folder and path.is_dir():
                shutil.rmtree(path)
            return
        aside = None
        if path.is_dir() if folder else path.is_file():
            aside = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.previous{path.suffix}")
        # Noted before the rename: put_back then knows of it whatever happens next.
        self.replaced.append((path, aside))
        if aside is not None:
            os.replace(path, aside)

    def put_back(self):
        """Every output as it was before the stage: each set aside goes back, each new one goes."""
        failed = []
        for path, aside in reversed(self.replaced):
            try:
                if aside is None:
                    _remove(path)
                elif os.path.lexists(aside):
                    _remove(path)
                    os.replace(aside, path)
            except OSError as error:
                failed.append(f"{path} ({error.strerror}; the earlier one is beside it, .*.previous)")
        self.replaced.clear()
        if failed:
            raise OSError(f"could not put back {', '.join(failed)}")

    def keep(self):
        for _, aside in self.replaced:
            if aside is not None:
                _remove(aside)
        self.replaced.clear()


_replacing = None


@contextlib.contextmanager
def outputs_together(outputs):
    """Inside, the outputs under `outputs` (files or folders) written with atomic_path and
    atomic_directory are replaced together: if the block fails or is stopped, every one of them
    goes back to what it was before (none, if there was none), and every registered clean-up runs."""
    global _replacing
    _clean_ups.clear()
    _replacing = replaced = _Replaced(outputs)
    replaced.recover()
    add_clean_up(replaced.put_back)
    try:
        yield
    except BaseException:
        for error in run_clean_ups():
            print(f"warning: {error}", file=sys.stderr)
        raise
    else:
        with uninterrupted(raise_after=False):
            replaced.keep()
    finally:
        _replacing = None
        _clean_ups.clear()


def _remove(path):
    if Path(path).is_dir() and not Path(path).is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _put_in_place(temporary, path, folder=False):
    """Rename `temporary` to `path`; the output it replaces is set aside while its stage runs."""
    with uninterrupted():
        if _replacing is not None and _replacing.covers(path):
            _replacing.set_aside(path, folder)
        elif folder:
            shutil.rmtree(path, ignore_errors=True)
        os.replace(temporary, path)


def remove_stale_temporaries(folder, prefix):
    """Remove the temporaries named `prefix`* that a killed process (SIGKILL, power loss) left in
    `folder`; an interrupted one removes its own. DVC runs one stage per output at a time, so
    none of them is in use."""
    kept = {aside for _, aside in _replacing.replaced} if _replacing is not None else set()
    for stale in Path(folder).glob(f"{prefix}*"):
        if stale.absolute() in kept:
            continue
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
        _put_in_place(temporary, path)
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
        _put_in_place(temporary, path, folder=True)
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
