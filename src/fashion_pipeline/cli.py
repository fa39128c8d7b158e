"""Entry point for every stage: a user's mistake (bad params, a missing or damaged data file,
an unreachable tracking store) ends the stage with one line naming it, not a traceback."""

import sys

from fashion_pipeline.errors import USER_ERRORS


def run(main):
    """Call main(); on a user error print `error: <message>` to stderr and exit with status 2."""
    try:
        main()
    except USER_ERRORS as error:
        missing_file = isinstance(error, FileNotFoundError) and error.filename
        message = f"{error.filename}: {error.strerror}" if missing_file else error
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
