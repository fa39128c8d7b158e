"""The errors a user can cause. Each message names the key, file or URI, what was found and
what is allowed; `cli.run` prints it as one line."""


def outline(value):
    """A value as an error shows it: a section or a long list by its shape, not every line of it."""
    if isinstance(value, dict):
        return f"<a section with keys {', '.join(map(str, value))}>"
    if isinstance(value, list) and len(value) > 3:
        return f"<a list of {len(value)} items>"
    return value


class ParamsError(ValueError):
    """A value in params.yaml that the pipeline cannot use: the message names its key and the
    value found there (outlined when it is a whole section)."""

    def __init__(self, key, found, allowed):
        super().__init__(f"params.yaml: '{key}' is {outline(found)!r}; allowed: {allowed}")
        self.key = key


class DataFileError(ValueError):
    """A data file that is not what the pipeline expects."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = path


class ParamsFileError(ValueError):
    """A params file that cannot be read as the pipeline's params: not YAML, a tag that would
    build Python objects, a key given twice."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")


class DownloadError(RuntimeError):
    """Every source failed for one file."""


class TrackingError(RuntimeError):
    """The MLflow store cannot be reached or used."""


class StageError(ValueError):
    """A stage asked for by a name that is not in params.yaml or not safe to use."""


USER_ERRORS = (ParamsError, ParamsFileError, DataFileError, DownloadError, TrackingError, StageError, FileNotFoundError)
