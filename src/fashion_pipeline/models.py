"""The MLP both kinds of experiment save, as a Keras model: Part B trains it, Part A copies its
hand-trained weights into it, and `evaluate` scores either alike. Specs arrive validated by
params.py, so nothing here checks them again."""

import zipfile
from pathlib import Path

import keras
import numpy as np
from keras import layers

from fashion_pipeline.data import CLASS_NAMES, FEATURE_COUNT
from fashion_pipeline.errors import DataFileError


def dropout_rates(hidden_units, dropout):
    """One rate per hidden layer from a single rate or a per-layer list."""
    return list(dropout) if isinstance(dropout, list) else [dropout] * len(hidden_units)


def build_model(hidden_units, activation, dropout=0.0, name="mlp"):
    """Dense(units, activation) [+ Dropout] per hidden layer, then Dense(10, softmax)."""
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(FEATURE_COUNT,)))
    for units, rate in zip(hidden_units, dropout_rates(hidden_units, dropout)):
        model.add(layers.Dense(units, activation=activation))
        if rate > 0:
            model.add(layers.Dropout(rate))
    model.add(layers.Dense(len(CLASS_NAMES), activation="softmax"))
    return model


def load_model(path):
    """A saved .keras model for prediction. Safe mode refuses models that would run arbitrary
    code when loaded (Lambda layers holding Python bytecode); a missing or damaged file is
    refused with its path and what to run."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "not found; run the experiment's train stage first")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
        raise DataFileError(path, f"not a usable Keras model ({type(error).__name__}: {error}); "
                                  "re-run its train stage (dvc repro --force <stage>)") from None
    if not model.layers or model.layers[-1].get_weights()[0].shape[1:] != (len(CLASS_NAMES),):
        raise DataFileError(path, f"not an MLP with {len(CLASS_NAMES)} outputs; re-run its train stage")
    return model


def logits(model, features):
    """The output layer's inputs to softmax, (n, 10), in float64: every layer but the last
    runs as at inference (dropout off), then the last one's affine part alone."""
    hidden = features
    for layer in model.layers[:-1]:
        hidden = layer(hidden)
    kernel, bias = model.layers[-1].get_weights()
    return np.asarray(hidden, np.float64) @ kernel.astype(np.float64) + bias.astype(np.float64)


def log_softmax(logit_rows):
    """log softmax(z) = z - logsumexp(z), row by row: no overflow, no log(0), no clipping."""
    shifted = logit_rows - logit_rows.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def per_image_loss(labels, log_probabilities):
    """Cross-entropy of each image, -log softmax(z)[label]: the loss training computes (Keras
    from the softmax layer's logits, Part A from its own), without the clipping of
    probabilities that would cap it."""
    return -log_probabilities[np.arange(len(labels)), labels]
