"""Stages started warm on the grid runner's workers (tools/grid.py). Each stage that DVC runs as
its own process imports Python's, TensorFlow's, Keras's and MLflow's modules first: 5.7-7.8 s of
a training stage here (tools/stage_breakdown.py's `imports`). Here a server process per worker
thread imports them once and forks a child for each stage; the child runs the stage's command
line as `python -m` would, in a session of its own, its output appended to the stage's log.

A child starts from the imports alone, never from another stage's state: the server runs no
stage code, so TensorFlow's runtime (its thread pools, with the stage's thread count) starts in
each child, and the child draws its own random state as a new process does. The package's source
files are read before the server imports them and again before each stage; when one changed, a
new server imports them, so a stage runs the code that the runner's fingerprint of it read.
Every `python -m fashion_pipeline.stages.<name>` command with this interpreter runs warm; any
other command runs as a process of its own.

What differs from a new process (none of it moved a number: `make bench`'s full-size slice,
forked warm, writes `dvc repro`'s histories byte for byte): the children of one server share its
hash seed; import-time lines go once to the server, not to each stage's log (the package keeps
TensorFlow's quiet anyway); and the threads that the server's imports start, idle when it forks
(numpy's OpenBLAS worker, and the jemalloc background thread of the pyarrow that TensorFlow's
import brings in through pandas), are not in a child. Both libraries hold their locks across a
fork (pthread_atfork). The server holds about 0.8 GB here, shared with its children until they
write.

Run as `python -m fashion_pipeline.tools.warm_start`, it is the server: one JSON request a line
on its standard input, its answers a line each on its standard output. It ends when the thread
that started it ends (PR_SET_PDEATHSIG) or its standard input closes, and its running stage
then stops as if interrupted."""

import atexit
import ctypes
import hashlib
import importlib
import json
import os
import pkgutil
import random
import runpy
import select
import shutil
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path

STAGE_PACKAGE = "fashion_pipeline.stages"
# Set by DVC for each stage; everything else in a stage's environment is the server's.
STAGE_VARIABLES = ("DVC_STAGE", "DVC_ROOT")
# Imported by MLflow only at a stage's first contact with an SQL store (the project's mlflow.db):
# SQLAlchemy, Alembic and MLflow's tracing, 1.2 s of tools/stage_breakdown.py's `store_check` here.
# Its import starts no thread and opens no store.
FIRST_CONTACT = ("mlflow.store.tracking.sqlalchemy_store",)
# The exit status of a stage whose server ended under it (its own status is its parent's to read).
SERVER_ENDED = -signal.SIGKILL


def warm_module(argv, env):
    """The stage module `argv` runs with `python -m`, when this interpreter would run it (so the
    server's imports are the ones the command would make); else None."""
    if len(argv) < 3 or argv[1] != "-m" or not argv[2].startswith(STAGE_PACKAGE + "."):
        return None
    python = shutil.which(argv[0], path=env.get("PATH"))
    return argv[2] if python and os.path.abspath(python) == os.path.abspath(sys.executable) else None


def source_digests(folder):
    """Every Python file under `folder` (the package's), by its content's digest."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(Path(folder).rglob("*.py"))}


def _preload():
    import fashion_pipeline.stages
    from fashion_pipeline import runs

    for module in pkgutil.iter_modules(fashion_pipeline.stages.__path__):
        importlib.import_module(f"{STAGE_PACKAGE}.{module.name}")
    for kind in runs.KINDS.values():
        if kind.training_module:
            importlib.import_module(kind.training_module)
    for module in FIRST_CONTACT:
        importlib.import_module(module)


def _exit_code(code):
    """The exit status Python gives a SystemExit's code."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run_child(argv, cwd, env, log):
    """In the forked child: the stage as `python -m` runs it, then Python's own exit steps (its
    non-daemon threads waited for, its exit hooks) without tearing the modules down. Never
    returns into the server's loop, whatever fails."""
    code = 1
    try:
        os.setsid()
        output = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        # A new process's random state comes from the system; a forked one would share the server's.
        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        sys.argv = [argv[2], *argv[3:]]
        # `python -m` runs the module as __main__ without importing it under its own name first.
        sys.modules.pop(argv[2], None)
        code = 0
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
    except SystemExit as error:
        code = _exit_code(error.code)
    except BaseException:  # noqa: BLE001 - printed and exited with as Python would
        traceback.print_exc()
        code = 1
    finally:
        try:
            threading._shutdown()
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve():
    """The server: its imports, then for each request a forked child, its pid and its exit status."""
    requests, replies = os.dup(0), os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    # Ended with the worker thread that started it, and its running stage with it.
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    import fashion_pipeline

    folder = str(Path(fashion_pipeline.__file__).parent)
    sources = source_digests(folder)
    _preload()
    # Out of the project folder, which each child enters: a runner that stopped leaves no process there.
    os.chdir("/")

    def reply(**message):
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    reply(folder=folder, sources=sources)
    for line in os.fdopen(requests):
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(requests)
            os.close(replies.fileno())
            _run_child(**request)
        reply(pid=pid)
        reply(returncode=os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))


class Server:
    """A server as seen from the worker thread that started it, for one project folder and
    environment: one stage at a time."""

    def __init__(self, cwd, env):
        self.key, self.stage = (cwd, _base(env)), None
        self.process = subprocess.Popen([sys.executable, "-m", __name__], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.buffer = b""
        ready = self.read()
        self.folder, self.sources = ready["folder"], ready["sources"]

    def read(self, timeout=None):
        """The server's next answer; None when none came within `timeout` seconds. A server that
        ended answers EOFError."""
        descriptor = self.process.stdout.fileno()
        waiting = select.poll()
        waiting.register(descriptor, select.POLLIN)
        while b"\n" not in self.buffer:
            if not waiting.poll(None if timeout is None else timeout * 1000):
                return None
            chunk = os.read(descriptor, 65536)
            if not chunk:
                raise EOFError("the warm-start server ended")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def current(self, cwd, env):
        """Still the server for this folder and environment, alive, idle, and the project's
        source files as it read them before its imports."""
        if self.key != (cwd, _base(env)) or self.process.poll() is not None:
            return False
        if self.stage is not None and self.stage.poll() is None:
            return False
        return source_digests(self.folder) == self.sources

    def close(self):
        self.process.kill()
        self.process.wait()


def _base(env):
    return tuple(sorted((name, value) for name, value in env.items() if name not in STAGE_VARIABLES))


class WarmStage:
    """A stage's forked child, with the part of subprocess.Popen's interface the runner uses. It
    is the server's child, so it is signalled and awaited through a pidfd, which cannot reach
    another process that took its pid after it ended."""

    def __init__(self, server, argv, cwd, env, log):
        self.server, self.returncode, self.pidfd = server, None, None
        server.stage = self
        server.process.stdin.write((json.dumps({"argv": argv, "cwd": cwd, "env": env, "log": log}) + "\n").encode())
        server.process.stdin.flush()
        self.pid = server.read()["pid"]
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            pass  # It has ended already; its status is on its way.

    def poll(self, timeout=0):
        if self.returncode is None:
            try:
                answer = self.server.read(timeout)
            except EOFError:
                # Its server ended (killed with the worker): the child, sent SIGTERM, removes what
                # it had begun; it is waited for, so that nothing runs on after the runner moves on.
                if self.pidfd is not None:
                    select.select([self.pidfd], [], [])
                answer = {"returncode": SERVER_ENDED}
            if answer is not None:
                self.returncode = answer["returncode"]
                if self.pidfd is not None:
                    os.close(self.pidfd)
                    self.pidfd = None
        return self.returncode

    def wait(self):
        return self.poll(timeout=None)

    def send_signal(self, number):
        if self.poll() is None and self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, number)
            except ProcessLookupError:
                pass  # It ended meanwhile.


# A server per thread: Linux ends it (PR_SET_PDEATHSIG) with the thread that started it.
_servers = threading.local()


def start(argv, cwd, env, log, warm=True, ready=None):
    """The stage's command `argv` started in `cwd` with environment `env`, its output appended to
    the open file `log`: forked from this thread's server when `warm` and it can run warm, else a
    process of its own as DVC starts it. `ready(way)` is told which ("forked warm" or "its own
    process") just before the start; when it says False (a stop came while the server imported),
    nothing starts and None is returned."""
    server = None
    if warm and warm_module(argv, env):
        server = getattr(_servers, "server", None)
        if server is not None and not server.current(cwd, env):
            server.close()
            server = None
        try:
            server = server or Server(cwd, env)
        except EOFError:
            # The server could not import the project (a broken module): the stage, run cold, says why.
            server = None
        _servers.server = server
    if ready is not None and not ready("forked warm" if server is not None else "its own process"):
        return None
    if server is not None:
        return WarmStage(server, argv, cwd, env, log.name)
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


if __name__ == "__main__":
    serve()
