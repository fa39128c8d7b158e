"""A stop that never waits for TensorFlow. Python acts on a signal only between its own steps,
and TensorFlow runs a compiled call (a chunk of Part A's epochs, a Keras epoch) to its end first:
a stage stopped at the start of a chunk would train on for a minute. So, once a stop signal has
come, a watcher thread gives the stage STOP_GRACE_SECONDS to wind down on its own (end its MLflow
run KILLED, remove its temporaries); past that, it runs the same clean-ups itself, says so as the
stage would, and ends the process."""

import contextlib
import os
import signal
import sys
import threading
import time

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_SECONDS = 3
INTERRUPTED = "interrupted; outputs in progress were removed, and the stage runs again at the next `dvc repro`"
# What to undo if the process is ended from the watcher: (id, function), the latest last.
_clean_ups = []
# Written to the watcher's pipe when its block ends (no signal has the number 0).
STAND_DOWN = 0


@contextlib.contextmanager
def clean_up_if_ended(function):
    """Inside the block, `function()` runs if the watcher ends the process."""
    entry = (object(), function)
    _clean_ups.append(entry)
    try:
        yield
    finally:
        _clean_ups.remove(entry)


@contextlib.contextmanager
def watched():
    """The block under the watcher; from the main thread, with the stop signals' Python handlers
    set (each signal Python handles writes its number to the wake-up descriptor at once, even
    while the main thread is inside TensorFlow). When the block ends, the watcher stands down."""
    reading, writing = os.pipe()
    os.set_blocking(writing, False)
    previous = signal.set_wakeup_fd(writing)

    def wait_and_end():
        while (number := os.read(reading, 1)[0]) not in STOP_SIGNALS:
            if number == STAND_DOWN:
                os.close(reading)
                return
        time.sleep(STOP_GRACE_SECONDS)
        for _, function in reversed(list(_clean_ups)):
            with contextlib.suppress(Exception):
                function()
        print(f"error: {INTERRUPTED}", file=sys.stderr, flush=True)
        os._exit(130)

    threading.Thread(target=wait_and_end, name="stop watcher", daemon=True).start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.write(writing, bytes([STAND_DOWN]))
        os.close(writing)
