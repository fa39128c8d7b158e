"""`make bench`, the serving part: the registered champion of a project that ran the demo's grid,
served by MLflow's scoring server on the loopback (`make serve`), against the same model called
in-process (`make predict`), and against its FLOP bound at the matrix-product rate measured in the
same run. Latency for one image (p50, p99) and throughput in batches of 256."""

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from fashion_pipeline import files
from fashion_pipeline.errors import StageError
from fashion_pipeline.tools.demo import project_env
from fashion_pipeline.tools.ports import free_port
from fashion_pipeline.tools.stage_costs import layer_sizes, weight_count

BATCH = 256


def percentiles(timings):
    return {"p50": float(np.percentile(timings, 50)), "p99": float(np.percentile(timings, 99))}


def timed(call, count):
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def post(address, images):
    body = json.dumps({"inputs": images.tolist()}).encode()
    request = urllib.request.Request(f"{address}/invocations", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()


def started_server(project, port, deadline_seconds=300):
    server = subprocess.Popen([sys.executable, "-m", "fashion_pipeline.tools.serve", "--port", str(port)], cwd=project,
                              env=project_env(project, own_store=True), stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    deadline = time.monotonic() + deadline_seconds
    while server.poll() is None and time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise StageError(f"bench: the scoring server did not start in {project}; run `make serve` there to see why")


def served(project, singles=100, batches=20):
    """Latency and throughput of the champion registered in `project`, served and in-process."""
    project = Path(project)
    summary = files.read_json(project / "champion" / "champion.json")
    with np.load(project / "data" / "prepared" / "test.npz") as arrays:
        # Pixels 0-255 in float64, the model's input type.
        images = np.rint(arrays["features"] * 255.0).reshape(-1, 28, 28).astype(np.float64)
    batch = np.resize(images, (BATCH, 28, 28))
    port = free_port()
    server = started_server(project, port)
    try:
        address = f"http://127.0.0.1:{port}"
        post(address, images[:1])
        single = timed(lambda: post(address, images[:1]), singles)
        batched = timed(lambda: post(address, batch), batches)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return summary, single, batched, batch


def in_process(project, summary, batch, singles=100, batches=20):
    """The same model loaded by MLflow in this process, as `make predict` loads it."""
    import mlflow.pyfunc

    from fashion_pipeline.tracking import registry

    mlflow.set_tracking_uri(f"sqlite:///{Path(project) / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(registry.model_uri(summary["registered_model"]))
    model.predict(batch[:1])
    return timed(lambda: model.predict(batch[:1]), singles), timed(lambda: model.predict(batch), batches)


def serving_results(project, hidden_units, gflops):
    summary, single, batched, batch = served(project)
    local_single, local_batched = in_process(project, summary, batch)
    # The forward pass alone: 2 FLOPs per weight and image, once per member of the ensemble.
    bound = gflops * 1e9 / (2 * weight_count(layer_sizes(hidden_units)) * len(summary["seeds"]))
    return {"model": f"{summary['experiment']}, {len(summary['seeds'])} member(s)",
            "served_one_image_seconds": percentiles(single),
            "served_images_per_second_in_batches": BATCH / float(np.median(batched)),
            "in_process_one_image_seconds": percentiles(local_single),
            "in_process_images_per_second_in_batches": BATCH / float(np.median(local_batched)),
            "flop_bound_images_per_second": bound}
