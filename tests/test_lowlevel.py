"""Part A maths: the hand-written network against Keras on the same weights, the penalties,
the coursework's rounded accuracy, and a short real training run."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from fashion_pipeline.data import load_split, one_hot
from fashion_pipeline.lowlevel import network as lowlevel
from fashion_pipeline.lowlevel.trainer import keras_adam
from fashion_pipeline.models import build_model
from fashion_pipeline.stages.prepare import prepare

# Compares floats across kernels: `make test` runs it again with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0).
pytestmark = pytest.mark.cpu_sensitive


def random_batch(count=64, seed=0):
    generator = np.random.default_rng(seed)
    features = generator.random((count, 784), dtype=np.float32)
    labels = one_hot(generator.integers(0, 10, count))
    return tf.constant(features), tf.constant(labels)


@pytest.mark.parametrize("hidden_units", [[], [300], [300, 100]])
def test_forward_loss_and_gradients_equal_keras(hidden_units):
    features, labels = random_batch()
    layers = lowlevel.initialize([784, *hidden_units, 10], "glorot_uniform", seed=3)
    model = build_model(hidden_units, "relu")
    model.set_weights(lowlevel.layer_arrays(layers))
    variables = [variable for layer in layers for variable in layer]

    with tf.GradientTape() as tape:
        logits = lowlevel.forward_logits(features, layers, "relu")
        ours = lowlevel.cross_entropy(labels, logits)
    our_gradients = tape.gradient(ours, variables)
    with tf.GradientTape() as tape:
        probabilities = model(features)
        theirs = keras.losses.categorical_crossentropy(labels, probabilities)
        theirs = tf.reduce_mean(theirs)
    their_gradients = tape.gradient(theirs, model.trainable_variables)

    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probabilities.numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5)
    for mine, keras_gradient in zip(our_gradients, their_gradients):
        np.testing.assert_allclose(mine.numpy(), keras_gradient.numpy(), atol=1e-5)


def test_cross_entropy_is_finite_where_softmax_underflows():
    logits = tf.constant([[1000.0, 0.0, -1000.0]])
    labels = tf.constant([[0.0, 0.0, 1.0]])
    # The seed's exp/sum overflows to nan here; log-softmax gives the exact 2000.
    assert lowlevel.cross_entropy(labels, logits).numpy() == pytest.approx(2000.0)


def test_penalties_on_known_weights():
    layers = [
        (tf.Variable([[1.0, -2.0], [3.0, -4.0]]), tf.Variable([100.0, 100.0])),
        (tf.Variable([[0.5], [-0.5]]), tf.Variable([100.0])),
    ]
    # Biases are not penalised: 100s would dominate otherwise.
    assert lowlevel.penalty(layers, "l1", 0.2).numpy() == pytest.approx(0.1 * (10.0 + 1.0))
    assert lowlevel.penalty(layers, "l2", 0.2).numpy() == pytest.approx(0.1 * (30.0 + 0.5))
    assert lowlevel.penalty(layers, "none", 0.2).numpy() == 0.0


def test_rounded_accuracy_floor_uniform_and_perfect():
    labels = tf.constant(one_hot(np.array([0, 1, 2, 3])))
    uniform = tf.fill([4, 10], 0.1)
    # Near-uniform output: every entry rounds to 0, so 9 of 10 match: the coursework's 0.89999.
    assert lowlevel.rounded_accuracy(labels, uniform).numpy() == pytest.approx(0.9)
    # Confidently wrong on every image: 8 of 10 entries still match, the floor.
    wrong = tf.constant(one_hot(np.array([1, 2, 3, 4])))
    assert lowlevel.rounded_accuracy(labels, wrong).numpy() == pytest.approx(0.8)
    assert lowlevel.rounded_accuracy(labels, labels).numpy() == pytest.approx(1.0)
    # True (argmax) accuracy of the uniform output is chance, far below the rounded 0.9.
    assert lowlevel.accuracy(labels, tf.math.log(uniform)).numpy() <= 0.25


@pytest.mark.parametrize("initializer", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"])
def test_initializers_match_keras_scale(initializer):
    ours = lowlevel.initial_weights(784, 300, initializer, seed=1).numpy()
    theirs = keras.initializers.get({"class_name": initializer, "config": {"seed": 1}})((784, 300)).numpy()
    assert ours.shape == theirs.shape
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)
    assert abs(ours.mean()) < 0.01


def test_short_real_run_lowers_loss_and_exports_identical_keras_model(tmp_path, params, real_data):
    data = {**params["data"], "limit_train": 2000, "limit_test": 500}
    prepare(data, real_data_raw(tmp_path, real_data), tmp_path / "prepared", tmp_path / "data.json")
    train, val = [load_split(tmp_path / "prepared", split) for split in ("train", "val")]
    train, val = [(features, one_hot(labels)) for features, labels in (train, val)]
    spec = {**params["experiments"]["lowlevel"]["lowlevel_net_b_l2"], "epochs": 20}
    # The training set itself measured after every update: then epoch e's measured loss and the
    # next epoch's running loss (its update's forward pass) see the same weights and images.
    sets = {"train": train, "val": val}
    layers, run_epochs, _ = lowlevel.build_trainer(spec, train, sets, 7, keras_adam(spec["learning_rate"]))
    rows = run_epochs(20)
    columns = lowlevel.history_columns(sets)
    column = columns.index
    assert rows.shape == (20, len(columns))
    assert rows[-1, column("train_total_loss")] < rows[0, column("train_total_loss")]
    assert rows[-1, column("val_loss")] < rows[0, column("val_loss")]
    # Measured after the update: one epoch ahead of the running loss. The two are the same sum
    # over the same weights in one compiled program, so only reduction order can part them.
    np.testing.assert_allclose(rows[:-1, column("train_loss")], rows[1:, column("train_loss_running")], rtol=1e-5)
    assert rows[0, column("train_loss")] < rows[0, column("train_loss_running")]
    # With a penalty the total loss is the data loss plus a positive amount.
    assert np.all(rows[:, column("train_total_loss")] > rows[:, column("train_loss")])
    assert np.all(rows[:, column("learning_rate")] == np.float32(spec["learning_rate"]))
    assert np.all(rows[:, column("update_norm")] > 0)

    model = build_model(spec["hidden_units"], spec["activation"])
    model.set_weights(lowlevel.layer_arrays(layers))
    features = tf.constant(val[0][:200])
    expected = tf.nn.softmax(lowlevel.forward_logits(features, layers, "relu")).numpy()
    np.testing.assert_allclose(model.predict(features, verbose=0), expected, atol=1e-6)


def real_data_raw(tmp_path, real_data):
    """The real IDX files, uncompressed, as the download stage leaves them."""
    from fashion_pipeline.stages.download import download_all
    from fashion_pipeline.params import load_params
    from conftest import ROOT

    data = {**load_params(ROOT / "params.yaml")["data"], "sources": [str(real_data)]}
    download_all(data, tmp_path / "raw")
    return tmp_path / "raw"
