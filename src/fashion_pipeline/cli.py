"""Entry point for every stage: a user's mistake (bad params, a missing or damaged data file,
an unusable tracking store, a full disk) ends the stage with one line naming it, not a
traceback; SIGTERM interrupts like Ctrl-C, so temporary files are removed on the way out."""

import errno
import signal
import sys

from fashion_pipeline.errors import USER_ERRORS

# Failures of the machine rather than of the code, with what to do about each.
DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device; free some space and run the stage again",
    errno.EDQUOT: "disk quota exceeded; free some space and run the stage again",
    errno.EROFS: "the file system is read-only; run the stage where outputs can be written",
    errno.EACCES: "permission denied; fix the permissions and run the stage again",
}


def _interrupt(signal_number, frame):
    raise KeyboardInterrupt(f"signal {signal_number}")


def _fail(message, status):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def run(main):
    """Call main(); on a user error print `error: <message>` to stderr and exit with status 2."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        main()
    except USER_ERRORS as error:
        missing_file = isinstance(error, FileNotFoundError) and error.filename
        _fail(f"{error.filename}: {error.strerror}" if missing_file else error, 2)
    except OSError as error:
        if error.errno not in DISK_ERRORS:
            raise
        _fail(f"{error.filename or 'writing an output'}: {DISK_ERRORS[error.errno]}", 2)
    except KeyboardInterrupt:
        _fail("interrupted; outputs in progress were removed, and the stage runs again at the next `dvc repro`", 130)
