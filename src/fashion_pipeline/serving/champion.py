"""The champion's arithmetic, from the images a user has to classes and probabilities, and the
MLflow model that wraps it (`ChampionModel`), the one `make serve` and `make predict` load.

The model takes 28x28 grayscale images, pixel values 0-255 (the dataset's polarity: the garment
bright on black), and scales them itself as `prepare` does, so a client never re-implements the
preprocessing. Its probabilities are computed as `evaluate` computes them (float64 logits, then
log-softmax); an ensemble averages its members' probabilities.
"""

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from fashion_pipeline.data import CLASS_NAMES, FEATURE_COUNT, IMAGE_SIDE
from fashion_pipeline.judging import analysis, results
from fashion_pipeline.models import load_model, log_softmax, logits

IMAGE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE)
LARGEST_PIXEL = 255


class InputError(MlflowException):
    """Images the model cannot classify. An MLflow error with INVALID_PARAMETER_VALUE, so the
    scoring server answers HTTP 400 with this message and goes on serving."""

    def __init__(self, message):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def protocol_pick(params, results_dir):
    """(the experiment the protocol check picks on the held-out split: the lowest mean held-out
    loss over the seeds, or None before any held-out run; every held-out run, name -> {seed: Run})."""
    holdout_runs = results.load_holdout_runs(results_dir, params["holdout"]["experiments"], params["seeds"])
    return analysis.best(holdout_runs, "held_out_loss", highest=False), holdout_runs


def checked_images(images):
    """`images` as a float64 array of shape (n, 28, 28), after checking what a client can get
    wrong: the shape, the type, an empty batch, NaN, and values outside 0-255."""
    try:
        array = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"images must be numbers 0-{LARGEST_PIXEL}; found values of type "
                         f"{np.asarray(images, dtype=object).dtype}") from None
    if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
        raise InputError(f"images must have shape (n, {IMAGE_SIDE}, {IMAGE_SIDE}); found {array.shape}")
    if len(array) == 0:
        raise InputError("the batch is empty: send at least one image")
    if not np.isfinite(array).all():
        raise InputError(f"NaN or infinite values: {int((~np.isfinite(array)).sum())} of them")
    if array.min() < 0 or array.max() > LARGEST_PIXEL:
        raise InputError(f"pixel values must lie in 0-{LARGEST_PIXEL}; found {array.min():g} to {array.max():g}")
    return array


def features(images, scaled):
    """(n, 28, 28) pixels 0-255 -> (n, 784) float32, divided by 255 when the model was trained on
    scaled pixels: the arithmetic of `prepare`, so the model sees the numbers it trained on."""
    flat = np.asarray(images).reshape(len(images), FEATURE_COUNT).astype(np.float32)
    return flat / 255.0 if scaled else flat


def member_log_probabilities(model, images, scaled):
    """One Keras model's log-probabilities (n, 10), in float64, as `evaluate` computes them."""
    return log_softmax(logits(model, features(images, scaled)))


def ensemble_log_probabilities(member_rows):
    """log of the mean of the members' probabilities, from their log-probabilities (a list of
    (n, 10) arrays), without leaving log space: logsumexp over members, less log(members)."""
    stacked = np.stack(member_rows)  # (members, n, 10)
    top = stacked.max(axis=0)
    return top + np.log(np.exp(stacked - top).sum(axis=0)) - np.log(len(member_rows))


def answer(log_probabilities):
    """What the model returns for each image: its class index and name, the confidence and the
    ten probabilities, in the order of CLASS_NAMES."""
    probabilities = np.exp(log_probabilities)
    predicted = probabilities.argmax(axis=1)
    return pd.DataFrame({
        "class_index": predicted.astype(np.int64),
        "class_name": [CLASS_NAMES[index] for index in predicted],
        "confidence": probabilities.max(axis=1),
        "probabilities": list(probabilities),
    })


class ChampionModel(PythonModel):
    """The registered champion: one Keras model, or an ensemble averaging several, each loaded
    from the model's artifacts (`member_<seed>`)."""

    # The signature is given when the model is logged (tracking/registry.py) and checked by
    # MLflow's schema enforcement; this turns off the type-hint check (and its warning, which
    # MLflow forces on once per process) that would only repeat it.
    _skip_type_hint_validation = True

    def __init__(self, scaled):
        self.scaled = scaled
        self.members = []

    def load_context(self, context):
        # The scoring server quotes the whole request in an error's message: summarised, the
        # reason after it stays on the first screen.
        np.set_printoptions(threshold=64, edgeitems=2)
        self.members = [load_model(path) for name, path in sorted(context.artifacts.items())
                        if name.startswith("member_")]

    def log_probabilities(self, images):
        images = checked_images(images)
        return ensemble_log_probabilities([member_log_probabilities(model, images, self.scaled)
                                           for model in self.members])

    def predict(self, context, model_input, params=None):
        return answer(self.log_probabilities(model_input))
