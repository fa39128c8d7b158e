"""Part B: Keras MLPs built from an experiment spec, and their training with model.fit."""

import keras
import tensorflow as tf
from keras import layers

from fashion_pipeline.data import CLASS_NAMES
from fashion_pipeline.params import ACTIVATIONS, ParamsError

INPUT_SIZE = 28 * 28


def dropout_rates(hidden_units, dropout):
    """One rate per hidden layer from a single float or a per-layer list."""
    if isinstance(dropout, list):
        if len(dropout) != len(hidden_units):
            raise ParamsError(
                "dropout", dropout, f"one rate or a list of {len(hidden_units)} rates (one per hidden layer)"
            )
        rates = list(dropout)
    else:
        rates = [dropout] * len(hidden_units)
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise ParamsError("dropout", rate, "a rate in [0, 1)")
    return rates


def build_model(hidden_units, activation, dropout=0.0, name="mlp"):
    """Dense(units, activation) [+ Dropout] per hidden layer, then Dense(10, softmax)."""
    if activation not in ACTIVATIONS:
        raise ParamsError("activation", activation, "one of " + ", ".join(ACTIVATIONS))
    for units in hidden_units:
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ParamsError("hidden_units", hidden_units, "a list of positive integers")
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(INPUT_SIZE,)))
    for units, rate in zip(hidden_units, dropout_rates(hidden_units, dropout)):
        model.add(layers.Dense(units, activation=activation))
        if rate > 0:
            model.add(layers.Dropout(rate))
    model.add(layers.Dense(len(CLASS_NAMES), activation="softmax"))
    return model


def load_model(path):
    """A saved .keras model for prediction. Safe mode refuses models that would run arbitrary
    code when loaded (Lambda layers holding Python bytecode)."""
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def compile_model(model, learning_rate, jit_compile=False, steps_per_execution=1):
    """Adam and categorical cross-entropy on softmax probabilities, as the seed did."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    dropout = any(isinstance(layer, layers.Dropout) for layer in model.layers)
    if dropout:
        # XLA's random-number kernels on the CPU make a dropout model about 4x slower than
        # without XLA (measured here: keras_5l with dropout 0.2, 97 vs 26 s per epoch).
        model.jit_compile = False
    elif jit_compile and not model.jit_compile and not tf.config.list_physical_devices("GPU"):
        # Keras turns XLA off whenever TensorFlow's op determinism is on, because some XLA
        # kernels on GPUs have no deterministic version. XLA on the CPU is deterministic (the
        # reliability tests run an experiment twice and compare every number), so keep it.
        model._jit_compile = True
    return model


class EpochCallback(keras.callbacks.Callback):
    """Hands each epoch's metrics, renamed to the history's columns, to `recorder`, then saves
    the rows to the checkpoint (before BackupAndRestore saves the weights, so the rows never
    run ahead of the weights)."""

    def __init__(self, recorder, checkpoint):
        super().__init__()
        self.recorder, self.checkpoint = recorder, checkpoint

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.recorder(epoch + 1, {
            "train_loss": logs["loss"], "train_accuracy": logs["accuracy"],
            "val_loss": logs["val_loss"], "val_accuracy": logs["val_accuracy"],
        })
        self.checkpoint.save(self.recorder.rows)


def train_keras(spec, training, train, val, recorder, name, checkpoint):
    """Build, compile and fit the experiment's model, resuming from the checkpoint's last
    finished epoch when it has one; return the model."""
    model = build_model(spec["hidden_units"], spec["activation"], spec["dropout"], name)
    compile_model(model, spec["learning_rate"], training["jit_compile"], training["steps_per_execution"])
    resumed = checkpoint.keras_epoch()
    if resumed:
        recorder.resume(resumed, checkpoint.folder)
        for row in checkpoint.rows(up_to_epoch=resumed):
            recorder(row.pop("epoch"), row)
    (train_x, train_y), (val_x, val_y) = train, val
    model.fit(
        train_x, train_y,
        validation_data=(val_x, val_y),
        epochs=spec["epochs"],
        batch_size=spec["batch_size"],
        shuffle=True,
        verbose=0,
        callbacks=[EpochCallback(recorder, checkpoint), keras.callbacks.BackupAndRestore(str(checkpoint.keras_dir))],
    )
    return model
