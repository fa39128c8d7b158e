"""Part A: MLPs written out by hand: tf.Variable weights, explicit matrix products,
GradientTape and Adam, trained full batch as in the coursework.

Shapes: features x (n, 784), a layer's weights W (fan_in, fan_out) and bias b (fan_out,),
so a layer is x @ W + b. Every layer has its own bias (the coursework reused one `b` for all).
"""

import math

import numpy as np
import tensorflow as tf

# What is measured of each set after an epoch's update, and of the training set during it.
MEASURES = ("loss", "total_loss", "accuracy", "rounded_accuracy")
RUNNING_COLUMNS = ("train_loss_running", "train_accuracy_running")
STEP_COLUMNS = ("learning_rate", "update_norm")


def history_columns(set_names):
    """The columns of a row, in the order run_epochs returns them."""
    return (*(f"{name}_{measure}" for name in set_names for measure in MEASURES), *RUNNING_COLUMNS, *STEP_COLUMNS)


def initial_weights(fan_in, fan_out, initializer, seed):
    """A (fan_in, fan_out) float32 matrix drawn as Keras's initializer of the same name would."""
    shape, seed = (fan_in, fan_out), (seed, 0)
    if initializer == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return tf.random.stateless_uniform(shape, seed, -limit, limit)
    if initializer == "he_uniform":
        limit = math.sqrt(6.0 / fan_in)
        return tf.random.stateless_uniform(shape, seed, -limit, limit)
    # Keras's normal variants are truncated at two standard deviations, scaled to keep the variance.
    variance = 2.0 / (fan_in + fan_out) if initializer == "glorot_normal" else 2.0 / fan_in
    stddev = math.sqrt(variance) / 0.87962566103423978
    return tf.random.stateless_truncated_normal(shape, seed, stddev=stddev)


def initialize(layer_sizes, initializer, seed):
    """[(W1, b1), (W2, b2), ...] as tf.Variables for layer_sizes such as [784, 300, 10]."""
    return [
        (
            tf.Variable(initial_weights(fan_in, fan_out, initializer, seed + index), name=f"W{index + 1}"),
            tf.Variable(tf.zeros([fan_out]), name=f"b{index + 1}"),
        )
        for index, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]))
    ]


def forward_logits(features, layers, activation):
    """Hidden layers with `activation`, then the output layer's logits (n, 10)."""
    hidden = features
    for weights, bias in layers[:-1]:
        # params.ACTIVATIONS names functions of tf.nn (relu, tanh, sigmoid, elu).
        hidden = getattr(tf.nn, activation)(hidden @ weights + bias)
    weights, bias = layers[-1]
    return hidden @ weights + bias


def log_softmax(logits):
    """log softmax(z) = z - logsumexp(z): no exp overflow, no log(0), no clipping needed."""
    return logits - tf.reduce_logsumexp(logits, axis=1, keepdims=True)


def cross_entropy(one_hot_labels, logits):
    """Mean over images of -sum_j y_j log p_j."""
    return tf.reduce_mean(-tf.reduce_sum(one_hot_labels * log_softmax(logits), axis=1))


def penalty(layers, regularizer, rate):
    """The coursework's form: rate/2 * sum|W| (l1) or rate/2 * sum W^2 (l2) over weight matrices only."""
    if regularizer == "none":
        return tf.constant(0.0)
    measure = tf.abs if regularizer == "l1" else tf.square
    return rate / 2.0 * tf.add_n([tf.reduce_sum(measure(weights)) for weights, _ in layers])


def accuracy(one_hot_labels, logits):
    """Share of images whose most probable class is the true one."""
    hits = tf.equal(tf.argmax(logits, axis=1), tf.argmax(one_hot_labels, axis=1))
    return tf.reduce_mean(tf.cast(hits, tf.float32))


def rounded_accuracy(one_hot_labels, probabilities):
    """The coursework's metric: round every probability to 0/1 and compare element-wise with the
    one-hot labels. Of an image's 10 entries at least 8 always match (at most one probability
    can exceed 0.5), so it never falls below 0.8; near-uniform output scores 0.9."""
    matches = tf.equal(tf.round(probabilities), one_hot_labels)
    return tf.reduce_mean(tf.cast(matches, tf.float32))


def build_trainer(spec, train, sets, seed, bind_update):
    """Return (layers, run_epochs, state). run_epochs(count) trains `count` full-batch epochs in
    one compiled call and returns their metrics as a (count, len(history_columns(sets))) array;
    state is every variable training changes (weights, optimizer slots, step), for checkpoints.

    `bind_update(variables)` gives the optimizer step, update(gradients, step) -> learning rate,
    and the optimizer's variables.
    Every set of `sets` (name -> (features, one-hot labels)) is measured after the epoch's
    update, so the training and validation metrics of a row come from the same weights; the
    loss and accuracy of the update's own forward pass, before it, are kept as the running ones."""
    train_x, train_y = (tf.constant(array) for array in train)
    measured = [(tf.constant(features), tf.constant(labels)) for features, labels in sets.values()]
    sizes = [train_x.shape[1], *spec["hidden_units"], train_y.shape[1]]
    layers = initialize(sizes, spec["initializer"], seed)
    variables = [variable for layer in layers for variable in layer]
    update, optimizer_variables = bind_update(variables)
    # Counts updates from 1 across calls, for bias correction and learning-rate decay.
    step = tf.Variable(0.0, trainable=False)
    activation, regularizer, rate = spec["activation"], spec["regularizer"], spec["regularization_rate"]

    def measures(features, labels):
        logits = forward_logits(features, layers, activation)
        data_loss = cross_entropy(labels, logits)
        probabilities = tf.exp(log_softmax(logits))
        total = data_loss + penalty(layers, regularizer, rate)
        return [data_loss, total, accuracy(labels, logits), rounded_accuracy(labels, probabilities)]

    @tf.function
    def run_epochs(count):
        rows = tf.TensorArray(tf.float32, size=count)
        for epoch in tf.range(count):
            step.assign_add(1.0)
            with tf.GradientTape() as tape:
                logits = forward_logits(train_x, layers, activation)
                data_loss = cross_entropy(train_y, logits)
                loss = data_loss + penalty(layers, regularizer, rate)
            before = [tf.identity(variable) for variable in variables]
            learning_rate = update(tape.gradient(loss, variables), step)
            # The length of the step actually taken in weight space (the coursework's "step size").
            update_norm = tf.linalg.global_norm([after - old for after, old in zip(variables, before)])
            after_update = [value for features, labels in measured for value in measures(features, labels)]
            running = [data_loss, accuracy(train_y, logits)]
            rows = rows.write(epoch, tf.stack(after_update + running + [tf.cast(learning_rate, tf.float32), update_norm]))
        return rows.stack()

    state = [*variables, *optimizer_variables, step]
    return layers, lambda count: run_epochs(tf.constant(count, tf.int32)).numpy(), state


def layer_arrays(layers):
    """[W1, b1, W2, b2, ...] as numpy arrays, the order Keras's set_weights expects."""
    return [np.asarray(variable.numpy()) for layer in layers for variable in layer]
