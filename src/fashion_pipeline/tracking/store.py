"""Whether a tracking store can be used, checked before any work: a stage fails within seconds,
in one line naming the URI, instead of waiting out MLflow's retries or ending in a traceback."""

import base64
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from fashion_pipeline.errors import TrackingError

# The stores the pipeline records into: the project's SQLite file, or a tracking server.
SCHEMES = ("sqlite:///", "http://", "https://")
USE_DEFAULT = "or unset MLFLOW_TRACKING_URI to use the project's mlflow.db"


def project_root(start=None):
    """The outermost folder holding dvc.yaml, so `dvc exp run --queue` workspaces (which live
    under the project's .dvc/tmp) share the project's one store."""
    start = Path(start or Path.cwd()).resolve()
    roots = [folder for folder in (start, *start.parents) if (folder / "dvc.yaml").is_file()]
    return roots[-1] if roots else start


def tracking_uri():
    """MLFLOW_TRACKING_URI when set, else the SQLite store mlflow.db at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def _credentials():
    """MLflow's basic-auth variables, as an Authorization header (none when unset)."""
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not user and not password:
        return {}
    token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _check_server(uri, timeout_seconds):
    """The server answers /health within `timeout_seconds`, then an authenticated read of its REST
    API with JSON within MLflow's own request timeout: a server that answers /health is there, and
    one busy with a team's stages (each request checks a password hash) may take seconds more."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_seconds):
            pass
    except urllib.error.HTTPError as error:
        raise TrackingError(f"MLFLOW_TRACKING_URI {uri}: answers HTTP {error.code} at /health, so it is not an MLflow "
                            f"tracking server; check the address, {USE_DEFAULT}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TrackingError(
            f"MLFLOW_TRACKING_URI {uri}: no MLflow server answered within {timeout_seconds} s ({reason}); "
            f"start the server, {USE_DEFAULT}") from None
    request = urllib.request.Request(uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1",
                                     headers=_credentials())
    # Imported here: `make ui` reads tracking_uri from this module without loading MLflow.
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT
    request_seconds = MLFLOW_HTTP_REQUEST_TIMEOUT.get()
    try:
        with urllib.request.urlopen(request, timeout=request_seconds) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            given = "refused the credentials in" if _credentials() else "needs credentials: set"
            raise TrackingError(f"MLFLOW_TRACKING_URI {uri}: the server {given} MLFLOW_TRACKING_USERNAME and "
                                f"MLFLOW_TRACKING_PASSWORD (HTTP {error.code})") from None
        raise TrackingError(f"MLFLOW_TRACKING_URI {uri}: answers HTTP {error.code} to MLflow's REST API, so it is "
                            f"not an MLflow tracking server; check the address, {USE_DEFAULT}") from None
    except (ValueError, OSError) as error:
        if isinstance(getattr(error, "reason", error), TimeoutError):
            raise TrackingError(f"MLFLOW_TRACKING_URI {uri}: answered /health, but not MLflow's REST API within "
                                f"{request_seconds} s; the server is there but busy: try again, or raise "
                                "MLFLOW_HTTP_REQUEST_TIMEOUT") from None
        raise TrackingError(f"MLFLOW_TRACKING_URI {uri}: its answer to MLflow's REST API is not MLflow's ({error}); "
                            f"check the address, {USE_DEFAULT}") from None
    if not isinstance(answer, dict):
        raise TrackingError(f"MLFLOW_TRACKING_URI {uri}: its answer to MLflow's REST API is not MLflow's; "
                            f"check the address, {USE_DEFAULT}")


def _check_sqlite(uri):
    """The file's folder exists and both can be written (SQLite writes a journal beside it)."""
    path = Path(uri[len("sqlite:///"):])
    if not path.parent.is_dir():
        raise TrackingError(f"tracking URI {uri}: folder {path.parent} does not exist")
    if path.exists() and (not path.is_file() or not os.access(path, os.R_OK | os.W_OK)):
        raise TrackingError(f"tracking store {path}: not a file that can be read and written; fix its permissions, "
                            "or move it aside to start a new store")
    if not os.access(path.parent, os.W_OK):
        raise TrackingError(f"tracking store {path}: its folder {path.parent} cannot be written; fix its permissions")


def check_store(uri, timeout_seconds):
    """Fail within seconds, in one line naming the URI, when the store cannot be used: MLflow's
    own client retries an HTTP server for minutes, and a broken SQLite file ends in a traceback."""
    if not uri.startswith(SCHEMES):
        raise TrackingError(f"MLFLOW_TRACKING_URI {uri}: unknown kind of store; allowed: a URI starting with "
                            + ", ".join(SCHEMES))
    if uri.startswith("sqlite:///"):
        _check_sqlite(uri)
    else:
        _check_server(uri, timeout_seconds)
