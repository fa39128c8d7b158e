"""The grid runner (`make grid`, `make repro`): DVC's stages as tasks on Dask's distributed
scheduler, several at a time.

DVC runs one stage at a time, and two `dvc repro` processes contend for the repository's lock.
Here this process keeps DVC's graph and its lock to itself: it picks the stale stages in the
order of DVC's graph, hands each stage's command to a Dask worker as DVC would run it (in the
project folder, DVC_STAGE and DVC_ROOT set), and records each finished stage in dvc.lock with
`dvc commit`, as `dvc repro` would have. The workers only run commands, so they may be local
processes (a LocalCluster, the default) or the workers of a scheduler on other machines that
share the project folder (`--scheduler tcp://host:8786`). A worker forks the stages from a process
that has imported TensorFlow, Keras and MLflow once (tools/warm_start.py), not each stage
importing them again; `--cold` starts each as a process of its own.

When an input of a stage to run is not in the folder (a model trained on another machine), it is
checked out of the DVC cache, or, when the cache lacks it too, its stage runs again first.

A stage that fails is tried once more, then reported, and the stages that do not need it go on.
A stage whose code or params changed while it ran is not recorded. Ctrl-C stops every running
stage as Ctrl-C stops `dvc repro`: the stages remove what they had half-written, their MLflow
runs end KILLED, and with `training.resume` they continue from their checkpoints next time.
"""

import argparse
import hashlib
import json
import logging
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import yaml

from fashion_pipeline import cli
from fashion_pipeline.params import load_params
from fashion_pipeline.tools.grid_plan import Grid
from fashion_pipeline.tools import warm_start
from fashion_pipeline.tools.stage_costs import Recorded, TimeLeft, estimates

LOG_DIR = Path("logs") / "grid"
# How long Ctrl-C waits for the running stages to wind down.
STOP_SECONDS = 120


def fingerprint(root, watched):
    """A digest of a stage's code files and params values as they are now: `watched` is
    (paths relative to `root`, dotted params keys)."""
    files, keys = watched
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.encode() + (Path(root) / path).read_bytes())
    params = yaml.safe_load((Path(root) / "params.yaml").read_text())
    for key in keys:
        value = params
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        digest.update(json.dumps([key, value], sort_keys=True).encode())
    return digest.hexdigest()


def run_command(address, argv, root, stop_event, log_path, watched, warm=True):
    """On a worker: run one stage's command as DVC would, its output to `log_path`, forked warm
    (tools/warm_start.py) unless `warm` is False; stop it
    (SIGTERM, as Ctrl-C) when `stop_event` is set. Returns the stage's code and params
    fingerprint as the command started and the seconds it ran, or None when it was stopped; a
    failure raises, so Dask tries the stage once more.

    The stage runs in a session of its own, so a terminal's Ctrl-C reaches the runner only, and
    the runner stops every stage the same way, local or remote, and waits for it to end."""
    from distributed import Event, get_worker

    stop = Event(stop_event)
    if stop.is_set():
        return None
    started_as = fingerprint(root, watched)
    env, started = {**os.environ, "DVC_STAGE": address, "DVC_ROOT": root}, time.perf_counter()
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    # Appended: a stage tried again, or moved to another worker, keeps each attempt's lines.
    with open(log_path, "a") as log:
        def ready(way):
            """Once a worker's warm-start server has imported: no start after a stop came."""
            if stop.is_set():
                return False
            log.write(f"grid: {address} on worker {get_worker().name} ({way})\n")
            log.flush()
            return True

        process = warm_start.start(argv, root, env, log, warm, ready)
        if process is None:
            return None
        stopped = False
        try:
            while process.poll() is None and not stopped:
                stopped = stop.wait(timeout=1)
        finally:
            # Stopped, or left by an error here (the scheduler gone): SIGTERM, and it is waited for.
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait()
    if stopped or (process.returncode != 0 and stop.is_set()):
        return None
    if process.returncode != 0:
        raise RuntimeError(f"{address}: exited with {process.returncode}; see {log_path}")
    return started_as, time.perf_counter() - started


def last_line(path):
    """The last line a stage printed (its one-line error when it failed)."""
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def dask_setup(worker):
    """Dask's preload hook, run in each local worker process as it starts. A terminal's Ctrl-C
    reaches every process of its foreground group; the workers leave it to the runner, which
    stops their stages, waits for them, and then stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_client(scheduler, workers):
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    # Its HTTP endpoint on a free loopback port: on 8787, Dask's default, a second runner warns.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", preload=[__name__])
    return Client(cluster), cluster


class Stopping:
    """Ctrl-C (SIGINT) and SIGTERM, noted rather than raised: a signal that lands while DVC
    writes dvc.lock, or in one of Dask's threads, would otherwise be raised inside their code,
    or wait for the next stage to end. The runner looks at `signal` between its steps."""

    def __init__(self):
        self.signal = None

    def __enter__(self):
        self.previous = {number: signal.signal(number, self.note) for number in (signal.SIGINT, signal.SIGTERM)}
        return self

    def note(self, number, frame):
        self.signal = number

    def __exit__(self, *error):
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def run_grid(targets, scheduler=None, workers=2, times_from=None, warm=True):
    """Run every stale stage of `targets` (all of dvc.yaml when empty) and every stage after
    them, forked warm unless `warm` is False; return the ones that failed. The time left is told
    by the stage times results/ records, or else those of the project in the folder `times_from`."""
    from distributed import Event, wait

    own_work, stages_run = dict.fromkeys(("planning", "checks", "recording"), 0.0), 0
    planning_started = time.perf_counter()
    grid = Grid(targets)
    # DVC's own notes on each commit ("Updating lock file 'dvc.lock'") between the runner's lines;
    # set after DVC has set up its logging.
    logging.getLogger("dvc").setLevel(logging.WARNING)
    pending = grid.plan()
    own_work["planning"] = time.perf_counter() - planning_started
    sources = [Recorded(), *([Recorded(times_from)] if times_from else [])]
    clock = TimeLeft(estimates(pending, load_params(), sources), workers)
    estimate, recorded_in = clock.words(pending), " and ".join(str(source.folder / "results") for source in sources)
    for address, lacking in grid.left_out.items():
        print(f"grid: {address} left out: it reads the models of {len(lacking)} stages that are neither here nor in "
              f"the DVC cache ({', '.join(lacking)}); `dvc pull` fetches them from a remote, `make register` trains "
              "them and runs it", flush=True)
    remade = f" ({len(grid.remade)} again: outputs another machine made, not in this cache)" if grid.remade else ""
    print(f"grid: {len(pending)} of {len(grid.order)} stages to run{remade}, {workers} at a time; "
          + (f"{estimate} by the stage times recorded in {recorded_in} (their machine's, at their size), "
             "corrected by the clock as stages end" if estimate
             else f"no stage time recorded in {recorded_in}: the time left is told once stages end"), flush=True)
    client, cluster = start_client(scheduler, workers)
    stop_name = f"grid-stop-{uuid.uuid4().hex}"
    stop = Event(stop_name, client=client)
    # A stage that needs no run counts as done for the stages after it.
    running, finished, failed = {}, set(grid.order) - set(pending) - set(grid.left_out), []
    started, root = time.perf_counter(), str(Path.cwd())
    try:
        with Stopping() as stopping:
            while (pending or running) and not stopping.signal:
                # Until no stage is ready: a stage that needs no run makes the stages after it ready.
                while ready := [address for address in pending if grid.needs[address] <= finished | set(failed)]:
                    for address in ready:
                        pending.remove(address)
                        if grid.needs[address] & set(failed):
                            failed.append(address)
                            print(f"grid: {address} not run: a stage it needs failed", flush=True)
                        elif not timed(own_work, "checks", grid.needs_run, address):
                            finished.add(address)
                            clock.skipped(address)
                        else:
                            log_path = str(Path(root) / LOG_DIR / f"{address}.log")
                            future = client.submit(run_command, address, grid.argv(address), root, stop_name,
                                                   log_path, grid.watched(address), warm,
                                                   key=f"{address}-{uuid.uuid4().hex[:8]}", retries=1, pure=False,
                                                   priority=-grid.order.index(address))
                            running[future] = (address, log_path)
                if not running:
                    break
                # A second at most, so that a signal is acted on within a second.
                try:
                    wait(list(running), timeout=1, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    continue
                for future in [future for future in running if future.done()]:
                    address, log_path = running.pop(future)
                    stages_run += 1
                    if timed(own_work, "recording", finish, grid, future, address, log_path, root, failed):
                        finished.add(address)
                        clock.ended(address, future.result()[1])
                        left = pending + [other for other, _ in running.values()]
                        estimate = clock.words(left)
                        print(f"grid: {address} done; {len(finished & set(grid.order))} done, {len(left)} to go, "
                              + (f"{estimate} left, " if estimate else "")
                              + f"{(time.perf_counter() - started) / 60:.0f} min so far", flush=True)
            if stopping.signal:
                # Queued stages never start; running ones get SIGTERM from their worker, and the
                # runner waits for them to remove what they had half-written and end their MLflow runs.
                stop.set()
                try:
                    wait(list(running), timeout=STOP_SECONDS)
                except TimeoutError:
                    print(f"grid: a stage did not stop within {STOP_SECONDS} s", flush=True)
                client.cancel(list(running))
                raise KeyboardInterrupt(f"signal {stopping.signal}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / "own_work.json").write_text(json.dumps({"seconds": own_work, "stages_run": stages_run}))
    print("grid: done" + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return failed


def timed(own_work, part, function, *arguments):
    """function(*arguments), its seconds added to the runner's own work under `part`."""
    started = time.perf_counter()
    try:
        return function(*arguments)
    finally:
        own_work[part] += time.perf_counter() - started


def finish(grid, future, address, log_path, root, failed):
    """Record a stage whose task ended, in dvc.lock; False (with a line saying why, and the stage
    in `failed`) when it failed, changed while it ran, or DVC refused it."""
    if future.status == "error":
        reason = f"FAILED twice: {last_line(log_path)}"
    elif (future.result() or (None,))[0] != fingerprint(root, grid.watched(address)):
        reason = "not recorded: its code or params changed while it ran"
    elif (refused := grid.record(address)) is not None:
        reason = f"not recorded: {refused}"
    else:
        return True
    failed.append(address)
    print(f"grid: {address} {reason}", flush=True)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="stages to run with the stages they need (default: all)")
    parser.add_argument("--scheduler", default=os.environ.get("SCHEDULER") or None,
                        help="address of a running Dask scheduler (default: a LocalCluster on this machine)")
    parser.add_argument("--workers", type=int, default=0,
                        help="local worker processes (default: the cores over training.threads)")
    parser.add_argument("--times-from", help="a project folder whose results/ tell the time left of stages this "
                                             "project's results/ records no time for (default: none)")
    parser.add_argument("--cold", action="store_true",
                        help="start each stage as a process of its own, as `dvc repro` does (default: forked from a "
                             "process per worker that has imported TensorFlow, Keras and MLflow once)")
    arguments = parser.parse_args()
    threads = load_params()["training"]["threads"]
    workers = arguments.workers or max(1, (os.cpu_count() or 1) // threads)
    failed = run_grid(arguments.targets, arguments.scheduler, workers, arguments.times_from, not arguments.cold)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    cli.run(main, stop_watch=False)
