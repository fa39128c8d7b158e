"""The optimizers written from their equations, step for step against Keras's own, and the
bias-correction and decay formulas."""

import inspect

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from fashion_pipeline.lowlevel import network as lowlevel
from fashion_pipeline.lowlevel import optimizers
from fashion_pipeline.judging import optimizer_study
from fashion_pipeline.lowlevel.trainer import keras_adam
from fashion_pipeline.params import OPTIMIZER_RULES, ParamsError, validate_optimizer_run

# Compares floats across kernels: `make test` runs it again with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0).
pytestmark = pytest.mark.cpu_sensitive

STEPS = 200

# (our spec, the Keras optimizer of the same name and hyperparameters)
CASES = {
    "sgd": ({"rule": "sgd", "learning_rate": 0.1, "decay_rate": 0.0},
            lambda: keras.optimizers.SGD(learning_rate=0.1)),
    "sgd_momentum": ({"rule": "sgd_momentum", "learning_rate": 0.05, "momentum": 0.9, "decay_rate": 0.0},
                     lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)),
    "rmsprop": ({"rule": "rmsprop", "learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-7, "decay_rate": 0.0},
                lambda: keras.optimizers.RMSprop(learning_rate=0.01, rho=0.9, epsilon=1e-7)),
    "adagrad": ({"rule": "adagrad", "learning_rate": 0.1, "initial_accumulator_value": 0.1, "epsilon": 1e-7,
                 "decay_rate": 0.0},
                lambda: keras.optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.1, epsilon=1e-7)),
    "adamax": ({"rule": "adamax", "learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                "decay_rate": 0.0},
               lambda: keras.optimizers.Adamax(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
    "adam": ({"rule": "adam", "learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
              "bias_correction": True, "decay_rate": 0.0},
             lambda: keras.optimizers.Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
    "adam_inverse_time_decay": (
        {"rule": "adam", "learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
         "bias_correction": True, "decay_rate": 0.05},
        lambda: keras.optimizers.Adam(
            learning_rate=keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=0.05),
            beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
}


def problem():
    """A fixed softmax regression in float32, the dtype training uses: 64 samples, 20 features,
    5 classes, and sparse inputs so some gradients are exactly 0."""
    generator = np.random.default_rng(0)
    features = generator.normal(size=(64, 20)) * (generator.random((64, 20)) < 0.5)
    labels = np.eye(5)[generator.integers(0, 5, 64)]
    weights = generator.normal(scale=0.1, size=(20, 5))
    return (tf.constant(features, tf.float32), tf.constant(labels, tf.float32),
            weights.astype(np.float32), np.zeros(5, np.float32))


def loss_function(features, labels):
    def loss(variables):
        logits = features @ variables[0] + variables[1]
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits))
    return loss


def gradients(loss, variables):
    with tf.GradientTape() as tape:
        value = loss(variables)
    return tape.gradient(value, variables)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_matches_keras_over_200_steps(case):
    spec, make_keras = CASES[case]
    features, labels, weights, bias = problem()
    loss = loss_function(features, labels)

    theirs = [tf.Variable(weights), tf.Variable(bias)]
    keras_optimizer = make_keras()
    keras_optimizer.build(theirs)
    ours = [tf.Variable(weights), tf.Variable(bias)]
    update, _ = optimizers.make_update(spec)(ours)
    for step in range(1, STEPS + 1):
        keras_optimizer.apply_gradients(zip(gradients(loss, theirs), theirs))
        update(gradients(loss, ours), tf.constant(float(step)))
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=0, atol=1e-6)
    # The run went somewhere: the weights moved well beyond the tolerance.
    assert np.abs(ours[0].numpy() - weights).max() > 1e-2


def test_adams_first_step_by_hand():
    """One step from zero moments, worked out by hand: m = (1 - beta_1) g, v = (1 - beta_2) g^2,
    and the corrected step lr * m_hat / (sqrt(v_hat) + eps) is lr * sign(g) up to eps. A zero
    gradient leaves its weight and its moments at zero; the slots passed in are not changed."""
    weights, gradient = tf.constant([1.0, -2.0]), tf.constant([0.5, 0.0])
    slots = optimizers.initial_slots("adam", weights, {})
    new_weights, (first_moment, second_moment) = optimizers.adam(weights, gradient, slots, 1.0, 0.1, 0.9, 0.999, 1e-7,
                                                                 True)
    np.testing.assert_allclose(new_weights.numpy(), [1.0 - 0.1, -2.0], rtol=1e-5)
    np.testing.assert_allclose(first_moment.numpy(), [0.05, 0.0], rtol=1e-6)
    np.testing.assert_allclose(second_moment.numpy(), [0.00025, 0.0], rtol=1e-5)
    assert all(np.all(slot.numpy() == 0) for slot in slots)


def test_uncorrected_adam_steps_are_larger_by_the_predicted_factor():
    """For a steady gradient the uncorrected step is (1 - b1^t) / sqrt(1 - b2^t) times the
    corrected one: 3.16 at step 1, growing to about 6.5 by step 10."""
    gradient = tf.constant([0.3, -0.02, 1.5])
    states = {True: (tf.zeros(3),) * 2, False: (tf.zeros(3),) * 2}
    for step in range(1, 31):
        steps = {}
        for corrected in (True, False):
            weights = tf.zeros(3)
            new_weights, states[corrected] = optimizers.adam(
                weights, gradient, states[corrected], float(step), 0.001, 0.9, 0.999, 0.0, corrected)
            steps[corrected] = -new_weights.numpy()
        ratio = steps[False] / steps[True]
        # The report's predicted ratio (its bias-correction table) against the optimizer's own steps.
        np.testing.assert_allclose(ratio, optimizer_study.bias_correction_factor(step, 0.9, 0.999), rtol=1e-5)
    assert optimizer_study.bias_correction_factor(1, 0.9, 0.999) == pytest.approx(0.1 / np.sqrt(0.001))
    assert optimizer_study.bias_correction_factor(10, 0.9, 0.999) > 6


def test_inverse_time_decay_starts_at_the_rate_and_falls():
    assert optimizers.inverse_time_decay(0.003, 0.01, 1) == pytest.approx(0.003)
    assert optimizers.inverse_time_decay(0.003, 0.01, 201) == pytest.approx(0.001)
    assert optimizers.inverse_time_decay(0.003, 0.0, 500) == pytest.approx(0.003)


def test_every_rule_reads_exactly_the_params_validated_for_it():
    """params.OPTIMIZER_RULES names the keys a run must set; the update function takes those
    (but the slot start) after its five fixed arguments."""
    assert set(optimizers.RULES) == set(OPTIMIZER_RULES)
    for name, rule in optimizers.RULES.items():
        taken = list(inspect.signature(rule.update).parameters)[5:]
        assert taken == list(optimizers.hyperparameters(name)), name
        assert set(taken) | {rule.first_slot_start} - {""} == set(OPTIMIZER_RULES[name]), name


@pytest.mark.parametrize("spec, key, allowed", [
    ({"rule": "nesterov", "learning_rate": 0.1, "decay_rate": 0.0}, "optimizers.runs.bad.rule", "one of sgd"),
    ({"rule": "sgd_momentum", "learning_rate": 0.1, "decay_rate": 0.0}, "optimizers.runs.bad.momentum", "must be set"),
    ({"rule": "sgd", "learning_rate": 0.1, "decay_rate": 0.0, "momentum": 0.9}, "optimizers.runs.bad.momentum", "known keys"),
    ({"rule": "adam", "learning_rate": 0.1, "decay_rate": 0.0, "beta_1": 1.0, "beta_2": 0.999, "epsilon": 1e-7,
      "bias_correction": True}, "optimizers.runs.bad.beta_1", "[0.0, 1.0)"),
    ({"rule": "sgd", "learning_rate": 0.0, "decay_rate": 0.0}, "optimizers.runs.bad.learning_rate", "(0.0, 10.0)"),
])
def test_bad_optimizer_runs_are_rejected_with_the_key(spec, key, allowed):
    with pytest.raises(ParamsError) as error:
        validate_optimizer_run("bad", spec)
    assert error.value.key == key
    assert allowed in str(error.value)


def test_full_batch_trainer_with_our_adam_follows_keras_adam():
    """Network B's trainer, once with Keras's Adam (Part A) and once with ours (the optimizer
    comparison), from the same weights: the same curves to float32 rounding."""
    generator = np.random.default_rng(1)
    train = (generator.random((256, 784), dtype=np.float32), np.eye(10, dtype=np.float32)[generator.integers(0, 10, 256)])
    sets = {"train": train, "val": (train[0][:64], train[1][:64])}
    spec = {"hidden_units": [30, 20], "activation": "relu", "initializer": "glorot_uniform",
            "regularizer": "none", "regularization_rate": 0.0}
    ours = {"rule": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
            "bias_correction": True, "decay_rate": 0.0}
    _, keras_epochs, _ = lowlevel.build_trainer(spec, train, sets, 5, keras_adam(0.001))
    _, our_epochs, _ = lowlevel.build_trainer(spec, train, sets, 5, optimizers.make_update(ours))
    # Two calls, so the step counter must carry over between compiled chunks.
    reference = np.concatenate([keras_epochs(3), keras_epochs(3)])
    mine = np.concatenate([our_epochs(3), our_epochs(3)])
    columns = lowlevel.history_columns(sets)
    losses = [index for index, name in enumerate(columns) if "loss" in name or name == "update_norm"]
    accuracies = [index for index, name in enumerate(columns) if "accuracy" in name]
    # The two Adams order their float32 operations differently, and the matmul kernels differ by
    # CPU (oneDNN or Eigen, AVX2 or AVX-512): about 1e-7 relative a step. Six steps keep that far
    # from chaotic growth, so losses agree to 1e-4 relative on any CPU; an accuracy may flip one
    # borderline image (1/64 of the validation set, 1/256 of the training set).
    np.testing.assert_allclose(mine[:, losses], reference[:, losses], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mine[:, accuracies], reference[:, accuracies], atol=1 / 64 + 1e-6)
    assert reference[-1, columns.index("train_loss")] < reference[0, columns.index("train_loss")]
