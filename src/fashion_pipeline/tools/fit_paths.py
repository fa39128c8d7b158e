"""`make bench`, the training loop against the paths a Keras user would pick: this project's
compiled epoch (keras/training.py), plain default `model.fit` (whose jit_compile="auto" means no XLA under
op determinism, which the stages turn on), and keras-io's
`compile(jit_compile=True, steps_per_execution=N)` at N of FIT_STEPS and a whole epoch.

Every path trains the same model from the same initial weights on the same batches, in the
same order (`epoch_batches`), and measures the validation set after each epoch. Each is warmed
up by one epoch (its compilation), then timed over `rounds` epochs; the best epoch counts. After
the same epochs, each path's weights are set against the project's: equal to the last bit, or
by how much they moved.

`compiled_epoch` times the project's compiled epoch alone, in this process, against the stage's
roofline (roofline.py, measured once for the bench): a stage's own ratio adds what it does
between epochs (the measurement's host side, the history row, MLflow, the checkpoint), which
weighs most where an epoch is short.

`pixel_scale` times the project's compiled epoch on scaled and on raw pixels, the same model
from the same weights, epoch by epoch in turn so a change in the machine's speed falls on both;
and counts the subnormal floats (a CPU's slow path) in each one's weights, Adam state and
activations, and whether TensorFlow flushes them to zero here.
"""

import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from fashion_pipeline.keras.training import EpochProgram, compile_model, epoch_batches
from fashion_pipeline.models import build_model
from fashion_pipeline.tools.roofline import seconds_per_epoch

FIT_STEPS = (32, 256)


def _model(spec, initial):
    model = build_model(spec["hidden_units"], spec["activation"], spec["dropout"])
    model.set_weights(initial)
    return model


def project_path(spec, train, sets, seed, epochs, initial):
    """(each epoch's seconds, the final weights, True: XLA) of this project's compiled epochs."""
    model = _model(spec, initial)
    program = EpochProgram(model, spec["learning_rate"], train, sets, spec["batch_size"], seed)
    timings = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        program.run_epoch(epoch)
        timings.append(time.perf_counter() - started)
    return timings, model.get_weights(), True


def fit_path(spec, train, sets, seed, epochs, initial, steps_per_execution, jit_compile):
    """(each epoch's seconds, the final weights, whether XLA ran) of `model.fit`, compiled as asked."""
    model = _model(spec, initial)
    compile_model(model, spec["learning_rate"], steps_per_execution)
    if jit_compile:
        # Keras turns XLA off under op determinism, which the stages and this bench turn on
        # (frame.seed_everything); past that check it runs as a user without determinism has it.
        model._jit_compile = True
    # One fit per epoch, on that epoch's batches alone: with N steps per execution that do not
    # divide an epoch, one fit over every epoch's batches would run its epochs across the
    # epochs' ends (Keras counts N-step blocks), the same batches in another grouping.
    timings = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        with warnings.catch_warnings():
            # Keras says so when the epoch's batches end, as they are meant to.
            warnings.filterwarnings("ignore", "Your input ran out of data")
            model.fit(epoch_batches(train, spec["batch_size"], seed, [epoch]), epochs=1, shuffle=False, verbose=0,
                      validation_data=sets["val"])
        timings.append(time.perf_counter() - started)
    return timings, model.get_weights(), model.jit_compile


def compare_paths(spec, train, sets, seed=0, rounds=2):
    """Each path's training samples per second (its best timed epoch), its speed-up over plain
    `model.fit`, and the largest difference of its weights from the project path's."""
    epochs = rounds + 1
    steps = -(-len(train[0]) // spec["batch_size"])
    keras.utils.set_random_seed(seed)
    initial = build_model(spec["hidden_units"], spec["activation"], spec["dropout"]).get_weights()
    runs = {"project_epoch": project_path(spec, train, sets, seed, epochs, initial),
            "fit_default": fit_path(spec, train, sets, seed, epochs, initial, 1, None),
            **{f"fit_xla_steps_{count}": fit_path(spec, train, sets, seed, epochs, initial, count, True)
               for count in FIT_STEPS},
            "fit_xla_steps_epoch": fit_path(spec, train, sets, seed, epochs, initial, steps, True)}
    _, reference, _ = runs["project_epoch"]
    results = {}
    for path, (timings, weights, xla) in runs.items():
        difference = max(float(np.max(np.abs(mine - theirs))) for mine, theirs in zip(weights, reference))
        results[path] = {"samples_per_second": len(train[0]) / min(timings[1:]), "xla": bool(xla),
                         "max_weight_difference": difference, "same_numbers": difference == 0.0}
    for path in results:
        results[path]["speedup_vs_default_fit"] = (results[path]["samples_per_second"]
                                                   / results["fit_default"]["samples_per_second"])
    return results


def subnormal_count(arrays):
    tiny = np.finfo(np.float32).tiny
    return int(sum(np.count_nonzero((array != 0) & (np.abs(array) < tiny)) for array in map(np.asarray, arrays)))


def flushes_subnormals():
    """Whether a compiled product of a subnormal and a normal float comes out as zero: training's
    arithmetic is compiled, so its subnormals are flushed too."""
    product = tf.function(lambda left, right: left * right, jit_compile=True)
    return float(product(tf.constant(np.float32(1e-39)), tf.constant(np.float32(1.5)))) == 0.0


def _outputs(model, features):
    for layer in model.layers:
        features = layer(features)
        yield features


def time_epochs(programs, epochs):
    """Each EpochProgram's epochs timed, epoch by epoch in turn (every other epoch in the other
    order), so a change in the machine's speed falls on all of them."""
    timings = {name: [] for name in programs}
    for epoch in range(1, epochs + 1):
        for name in (list(programs) if epoch % 2 else list(programs)[::-1]):
            started = time.perf_counter()
            programs[name].run_epoch(epoch)
            timings[name].append(time.perf_counter() - started)
    return timings


def pixel_scale(spec, data_by_scale, seed=0, epochs=4):
    """Seconds per epoch (the best after the first) of the project's compiled epochs on each
    pixel scale of `data_by_scale` ({"scaled": (train, sets), "raw": ...}), their ratio, and
    the subnormal values each leaves in its weights, Adam state and first 1,000 images'
    activations."""
    keras.utils.set_random_seed(seed)
    initial = build_model(spec["hidden_units"], spec["activation"], spec["dropout"]).get_weights()
    programs = {name: EpochProgram(_model(spec, initial), spec["learning_rate"], *data, spec["batch_size"], seed)
                for name, data in data_by_scale.items()}
    timings = time_epochs(programs, epochs)
    results = {"flushes_subnormals": flushes_subnormals()}
    for name, program in programs.items():
        # The activations as training computes them: compiled.
        forward = tf.function(lambda features, model=program.model: [*_outputs(model, features)], jit_compile=True)
        activations = forward(tf.constant(data_by_scale[name][0][0][:1000]))
        results[name] = {"seconds_per_epoch": min(timings[name][1:]),
                         "subnormal_state": subnormal_count(program.state[:-1]),
                         "subnormal_activations": subnormal_count(activations)}
    results["raw_over_scaled"] = results["raw"]["seconds_per_epoch"] / results["scaled"]["seconds_per_epoch"]
    return results


def compiled_epoch(spec, train, sets, roofline, seed=0, epochs=3):
    """The project's compiled epoch of a Keras experiment (the best after the first, with its
    measurement of every set) against its stage's `roofline` (roofline.stage_roofline) per epoch,
    and the rest of a step beside it."""
    keras.utils.set_random_seed(seed)
    model = build_model(spec["hidden_units"], spec["activation"], spec["dropout"])
    timings = time_epochs({"project": EpochProgram(model, spec["learning_rate"], train, sets, spec["batch_size"],
                                                   seed)}, epochs)
    seconds, per_epoch = min(timings["project"][1:]), seconds_per_epoch(roofline)
    return {"seconds_per_epoch": seconds, "roofline_seconds_per_epoch": per_epoch,
            "elementwise_seconds_per_epoch": roofline["elementwise_seconds_per_epoch"], "over_roofline": seconds / per_epoch}
