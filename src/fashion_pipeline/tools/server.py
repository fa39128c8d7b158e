"""A shared MLflow tracking server for a class or a team (`make server`, `make server-stop`):
PostgreSQL for runs and users, artifacts served by the server from a folder it owns, MLflow's
basic authentication on, bound to 127.0.0.1 unless told otherwise.

Everything lives under one home folder (`.server/` by default): the database cluster, the
artifacts, the logs, and two files only its owner can read (0600): the admin's password
(`admin_password`, from MLFLOW_ADMIN_PASSWORD or made here, never a default one) and the
authentication config. PostgreSQL refuses to run as root, so it runs as the `postgres` user.
Data survives `stop` and `start`.
"""

import argparse
import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fashion_pipeline import cli, files
from fashion_pipeline.errors import TrackingError

DATABASE_USER = "postgres"
AUTH_CACHE_SECONDS = 60


def _pg_binary(name):
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise TrackingError(f"PostgreSQL's {name} not found under /usr/lib/postgresql; install the Debian package "
                            "postgresql (make server does it when run as root)")
    return str(found[-1])


def _as_database_user(command, **options):
    """Run a PostgreSQL command as the `postgres` user (PostgreSQL refuses root)."""
    prefix = ["runuser", "-u", DATABASE_USER, "--"] if os.geteuid() == 0 else []
    result = subprocess.run(prefix + command, capture_output=True, text=True, **options)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise TrackingError(f"PostgreSQL's {Path(command[0]).name} failed ({said[-1]}); the server's home and "
                            f"every folder above it must be open to the {DATABASE_USER} user")
    return result


def _secret_file(path, value=None):
    """A file only its owner can read, holding `value` (or a new random token), made once."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(value or secrets.token_urlsafe(24))
    path.chmod(0o600)
    return path.read_text().strip()


def start_database(home, port):
    """Initialise the cluster once, start it on 127.0.0.1:`port`, and make the databases."""
    data, sockets = home / "postgres", home / "sockets"
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        for folder in (home / "postgres", sockets):
            folder.mkdir(exist_ok=True)
            shutil.chown(folder, DATABASE_USER, DATABASE_USER)
        data.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        password_file = _password_file_for_database(home)
        _as_database_user([_pg_binary("initdb"), "-D", str(data), "-A", "scram-sha-256", "-U", DATABASE_USER,
                           f"--pwfile={password_file}"])
        password_file.unlink()
    _as_database_user([_pg_binary("pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "start", "-o",
                       f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"])
    password = _secret_file(home / "database_password")
    for database in ("mlflow", "mlflow_auth"):
        environment = {**os.environ, "PGPASSWORD": password}
        found = _as_database_user([_pg_binary("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", DATABASE_USER,
                                   "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{database}'", "postgres"],
                                  env=environment).stdout.strip()
        if found != "1":
            _as_database_user([_pg_binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", DATABASE_USER,
                               database], env=environment)
    # psycopg2 by name: SQLAlchemy would look for psycopg 3 under MLflow.
    return f"postgresql+psycopg2://{DATABASE_USER}:{password}@127.0.0.1:{port}"


def _password_file_for_database(home):
    """initdb reads the superuser's password from a file the postgres user can read."""
    password = _secret_file(home / "database_password")
    copy = home / "postgres_pwfile"
    copy.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(copy, DATABASE_USER, DATABASE_USER)
    copy.chmod(0o600)
    return copy


def start(home, host, port, database_port):
    home = Path(home).resolve()
    files.check_writable([home])
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    database = start_database(home, database_port)
    admin_password = _secret_file(home / "admin_password", os.environ.get("MLFLOW_ADMIN_PASSWORD"))
    config = home / "basic_auth.ini"
    config.touch(mode=0o600)
    config.write_text("[mlflow]\n"
                      # Every user with a password may record runs; without one, nothing at all.
                      "default_permission = EDIT\n"
                      f"database_uri = {database}/mlflow_auth\n"
                      "admin_username = admin\n"
                      f"admin_password = {admin_password}\n"
                      "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                      # Checking a password's hash is slow by design (0.3 s a request here), and a
                      # stage sends one request per epoch: a good check is kept a minute. The one
                      # worker drops it at once when the password is changed through the API.
                      f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n")
    (home / "artifacts").mkdir(exist_ok=True)
    log = (home / "mlflow.log").open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", host, "--port", str(port),
         "--backend-store-uri", f"{database}/mlflow", "--serve-artifacts",
         "--artifacts-destination", str(home / "artifacts"), "--workers", "1"],
        env={**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(config),
             # Signs the UI's forms (CSRF); kept across restarts, so open pages stay valid.
             "MLFLOW_FLASK_SERVER_SECRET_KEY": _secret_file(home / "flask_secret")},
        stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    (home / "mlflow.pid").write_text(str(process.pid))
    (home / "ports").write_text(f"{port} {database_port}\n")
    address = f"http://{host}:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TrackingError(f"the MLflow server exited with status {process.returncode}; see {home / 'mlflow.log'}")
        try:
            with urllib.request.urlopen(f"{address}/health", timeout=2):
                break
        except OSError:
            time.sleep(1)
    else:
        raise TrackingError(f"the MLflow server did not answer at {address} within 120 s; see {home / 'mlflow.log'}")
    # One authenticated request, so the first stage does not wait for the server's first log-in.
    token = base64.b64encode(f"admin:{admin_password}".encode()).decode()
    warm_up = urllib.request.Request(f"{address}/api/2.0/mlflow/experiments/search?max_results=1",
                                     headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(warm_up, timeout=60):
        return address


def stop(home):
    home = Path(home).resolve()
    pid_file = home / "mlflow.pid"
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass
        pid_file.unlink()
    if (home / "postgres" / "postmaster.pid").exists():
        _as_database_user([_pg_binary("pg_ctl"), "-D", str(home / "postgres"), "-w", "stop", "-m", "fast"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--home", default=".server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--database-port", type=int, default=5433)
    arguments = parser.parse_args()
    if arguments.action == "stop":
        stop(arguments.home)
        print("server: stopped (data kept)")
        return
    address = start(arguments.home, arguments.host, arguments.port, arguments.database_port)
    print(f"server: MLflow at {address}, PostgreSQL on 127.0.0.1:{arguments.database_port}")
    print(f"server: admin password in {Path(arguments.home) / 'admin_password'} (readable by its owner only)")
    print(f"server: members set MLFLOW_TRACKING_URI={address} MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD")


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
