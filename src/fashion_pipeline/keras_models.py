"""Part B: Keras MLPs built from an experiment spec, loaded back, and compiled for plain fit."""

import keras
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


def seed_loss():
    """Categorical cross-entropy on softmax probabilities, as the seed used; both training
    paths take their loss from here."""
    return keras.losses.CategoricalCrossentropy()


def compile_model(model, learning_rate, steps_per_execution=1):
    """Adam and the seed's loss for the plain `model.fit` path; every other setting is Keras's
    default unless given."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=seed_loss(),
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)
    return model
