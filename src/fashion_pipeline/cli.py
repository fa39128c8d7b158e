"""Entry point for every stage: a user's mistake (bad params, a missing or damaged data file,
an unusable tracking store, a full disk) ends the stage with one line naming it, not a
traceback; SIGTERM interrupts like Ctrl-C, so temporary files are removed on the way out, and so
does the death of the process that started the stage."""

import argparse
import atexit
import contextlib
import ctypes
import errno
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from fashion_pipeline import files
from fashion_pipeline.errors import USER_ERRORS
from fashion_pipeline.params import load_params
from fashion_pipeline.runs import stage_address, stage_folders, stage_outputs

# Failures of the machine rather than of the code, with what to do about each.
DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device; free some space and run the stage again",
    errno.EDQUOT: "disk quota exceeded; free some space and run the stage again",
    errno.EROFS: "the file system is read-only; run the stage where outputs can be written",
    errno.EACCES: "permission denied; fix the permissions and run the stage again",
    errno.EPERM: "operation not permitted; fix the permissions and run the stage again",
    errno.ENOTDIR: "a part of the path is a file where a folder is needed; move the file aside",
    errno.EISDIR: "a folder stands where a file is written; move the folder aside",
    errno.ENAMETOOLONG: "the path is too long for the file system; run from a shorter folder",
    errno.EIO: "the device failed to read or write; check the disk and run the stage again",
}

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
INTERRUPTED = "interrupted; outputs in progress were removed, and the stage runs again at the next `dvc repro`"
# Python acts on a signal only between its own steps, and TensorFlow runs a compiled call (a chunk
# of Part A's epochs, a Keras epoch) to its end first. So once a stop signal has come, a watcher
# thread gives the stage this long to wind down on its own; past it, the watcher runs the stage's
# clean-ups (its MLflow run KILLED, its temporaries removed: files.clean_ups), says so as the
# stage would, and ends the process.
STOP_GRACE_SECONDS = 3
# How long the watcher then waits for what the main thread has begun and a stop must not cut: an
# MLflow run being made or ended (a busy store), an output being put in place or put back.
CLEAN_UP_SECONDS = 30
# Written to the watcher's pipe when its block ends (no signal has the number 0).
STAND_DOWN = 0


def _interrupt(signal_number, frame):
    # Once: Ctrl-C sends SIGINT to the whole group, and the parent's SIGTERM or death may follow
    # within the second. A second KeyboardInterrupt raised while the first is handled would cut
    # short the KILLED status and the removal of temporary files, and end in a traceback.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    files.STOPPED.set()
    # A stop that lands inside a read of the MLflow store makes SQLAlchemy log, with a traceback,
    # the cursor it then cannot close; the stage says once that it was interrupted instead.
    logging.getLogger("sqlalchemy").setLevel(logging.CRITICAL)
    if not files.OUT_OF_BLOCKS.is_set():
        # Raised as the block ends (files.uninterrupted).
        return
    raise KeyboardInterrupt(f"signal {signal_number}")


# The main thread and the stop watcher may both come to say that the stage was interrupted: it is
# said once, and the second waits until it is said (the watcher then ends the process).
_SAYING = threading.Lock()
_said = [False]


def _say_interrupted():
    with _SAYING:
        if not _said[0]:
            print(f"error: {INTERRUPTED}", file=sys.stderr, flush=True)
            _said[0] = True


def _fail(message, status):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def _interrupted_with_parent():
    """Ask Linux to send SIGTERM when the parent process dies: a stage whose `dvc repro`, grid
    worker or supervisor was killed stops as if interrupted, instead of training on and writing
    outputs nobody waits for. Elsewhere nothing changes."""
    try:
        set_parent_death_signal = 1  # PR_SET_PDEATHSIG
        ctypes.CDLL(None, use_errno=True).prctl(set_parent_death_signal, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        # The parent died before the request was made.
        raise KeyboardInterrupt("parent process gone")


@contextlib.contextmanager
def _watched():
    """The block under the stop watcher; from the main thread, with the stop signals' Python
    handlers set (Python writes each such signal's number to its wake-up descriptor at once, even
    while the main thread is inside TensorFlow). When the block ends, the watcher stands down."""
    reading, writing = os.pipe()
    os.set_blocking(writing, False)
    previous = signal.set_wakeup_fd(writing)

    def wait_and_end():
        while (number := os.read(reading, 1)[0]) not in STOP_SIGNALS:
            if number == STAND_DOWN:
                os.close(reading)
                return
        # Noted here too: the handler that notes it runs only once the main thread is back in Python.
        files.STOPPED.set()
        time.sleep(STOP_GRACE_SECONDS)
        # A clean-up the main thread has begun is waited for, not run twice.
        files.OUT_OF_BLOCKS.wait(CLEAN_UP_SECONDS)
        for error in files.run_clean_ups(timeout=CLEAN_UP_SECONDS):
            print(f"error: while stopping: {error}", file=sys.stderr, flush=True)
        _say_interrupted()
        os._exit(130)

    threading.Thread(target=wait_and_end, name="stop watcher", daemon=True).start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.write(writing, bytes([STAND_DOWN]))
        os.close(writing)


def run(main, stop_watch=True):
    """Call main(); on a user error print `error: <message>` to stderr and exit with status 2.
    With `stop_watch`, a stop signal ends the process within STOP_GRACE_SECONDS even
    inside TensorFlow; a tool that waits for processes of its own to stop goes without."""
    files.STOPPED.clear()
    _said[0] = False
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _interrupt)
    try:
        with _watched() if stop_watch else contextlib.nullcontext():
            _interrupted_with_parent()
            main()
    except USER_ERRORS as error:
        missing_file = isinstance(error, FileNotFoundError) and error.filename
        _fail(f"{error.filename}: {error.strerror}" if missing_file else error, 2)
    except OSError as error:
        if error.errno not in DISK_ERRORS:
            raise
        _fail(f"{error.filename or 'writing an output'}: {DISK_ERRORS[error.errno]}", 2)
    except KeyboardInterrupt:
        _say_interrupted()
        sys.exit(130)
    main_module = getattr(sys.modules.get("__main__"), "__spec__", None)
    if main_module is not None and main_module.name.startswith("fashion_pipeline.stages."):
        end_now()


def end_now():
    """End the process once its work is done and its exit hooks have run. Python's own clean-up
    of TensorFlow's and MLflow's modules after that took 2.1-2.2 s a stage here, for nothing a
    stage needs (tools/stage_breakdown.py's `exit`). Not while a thread Python would wait for
    still runs."""
    if any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def stage_main(stage_function, description, example):
    """The `main` of a stage that DVC runs once per name and seed: it learns which from
    DVC_STAGE (or --stage, run by hand), reads the prepared data and the params, and calls
    `stage_function(params, (group, name, seed), prepared_dir)`; `run(main)` runs it."""
    def main():
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--stage", help=f"GROUP@NAME-SEED outside `dvc repro`, for example {example} "
                                            "(default: $DVC_STAGE)")
        parser.add_argument("--prepared", default="data/prepared")
        parser.add_argument("--params", default="params.yaml")
        arguments = parser.parse_args()
        params, address = load_params(arguments.params), stage_address(arguments.stage)
        # Before the data is read or a minute is trained: a folder that cannot take the outputs.
        files.check_writable(stage_folders(*address))
        with files.outputs_together(stage_outputs(*address)):
            stage_function(params, address, arguments.prepared)

    return main


def files_stage_main(stage_function, description, options):
    """The `main` of a stage whose files come as options: `options` maps each option to its
    default, and `out` is what the stage writes. Where `--out` goes is checked as stage_main
    checks its folders, then `stage_function(arguments)` runs; `run(main)` runs it."""
    def main():
        parser = argparse.ArgumentParser(description=description)
        for option, default in options.items():
            parser.add_argument(f"--{option}", default=default)
        arguments = parser.parse_args()
        out = Path(arguments.out)
        files.check_writable([out.parent, *([out] if out.is_dir() else [])])
        stage_function(arguments)

    return main
