"""Part B's training: the coursework's settings (Adam, batch 32, shuffled every epoch), run either as
one compiled program per epoch (`training.jit_compile: true`) or as plain `model.fit`. Both
paths see the same batches: epoch e's order is `epoch_order(seed, e, n)`.

Plain `model.fit` calls into TensorFlow for every batch, 1,875 times an epoch at batch 32, and
each call pays for the input iterator, the dispatch and the metric updates; that overhead costs
more than the arithmetic of a batch. The compiled path keeps the training set in memory as one
tensor and runs the whole epoch, every batch's forward pass, gradient and Adam update, in one
XLA program looping over the epoch's shuffled order. The model, the loss and the optimizer are
Keras's own; only the loop around them changes.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fashion_pipeline.models import build_model


def coursework_loss():
    """Categorical cross-entropy on softmax probabilities, as the coursework used; both training
    paths take their loss from here. Keras computes it from the softmax layer's logits."""
    return keras.losses.CategoricalCrossentropy()


def history_row(measured, running):
    """An epoch's row: each measured set's loss and accuracy in inference mode after the epoch
    (`measured`: name -> (loss, accuracy)), then the running mean of the epoch's batch losses
    and accuracies as training saw them, with dropout on (`running`), as fit reports them."""
    row = {f"{name}_{measure}": value for name, pair in measured.items()
           for measure, value in zip(("loss", "accuracy"), pair)}
    return {**row, "train_loss_running": running[0], "train_accuracy_running": running[1]}


def compile_model(model, learning_rate, steps_per_execution):
    """Adam and the coursework's loss for the plain `model.fit` path; every other setting is Keras's
    default."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=coursework_loss(),
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)
    return model


def epoch_order(seed, epoch, sample_count):
    """The epoch's shuffled sample order: a function of the seed and the epoch only, so a
    resumed run sees the same batches as one that never stopped."""
    return np.random.default_rng([seed, epoch]).permutation(sample_count).astype(np.int32)


class EpochProgram:
    """One Keras model's training, one XLA-compiled call per epoch."""

    def __init__(self, model, learning_rate, train, sets, batch_size, seed):
        self.model, self.batch_size, self.seed = model, batch_size, seed
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        self.optimizer.build(model.trainable_variables)
        self.loss = coursework_loss()
        # Converted once per stage; every epoch reads these tensors.
        self.train_x, self.train_y = (tf.constant(array) for array in train)
        self.sets = {name: tuple(tf.constant(array) for array in pair) for name, pair in sets.items()}
        # Batches done so far: with the seed it names every dropout mask.
        self.batches_done = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._epoch = tf.function(self._run_epoch, jit_compile=True)
        self._evaluate = tf.function(self._loss_and_hits, jit_compile=True)

    @property
    def state(self):
        """Every variable training changes, in a fixed order (for checkpoints)."""
        return [*self.model.weights, *self.optimizer.variables, self.batches_done]

    def _forward(self, features, training):
        outputs = features
        for index, layer in enumerate(self.model.layers):
            if isinstance(layer, layers.Dropout):
                if training:
                    outputs = self._dropout(outputs, layer.rate, index)
            else:
                outputs = layer(outputs)
        return outputs

    def _dropout(self, outputs, rate, layer_index):
        """Inverted dropout as Keras's Dropout does it, with masks from the counter-based
        Threefry generator: XLA's default generator on the CPU made dropout models about 4x
        slower (measured: 2.7 ms against 0.05 ms for a 32 x 800 mask). Runs under XLA only: TensorFlow
        has no plain CPU kernel for Threefry."""
        mask_seed = tf.stack([tf.constant(self.seed, tf.int64),
                              self.batches_done * len(self.model.layers) + layer_index])
        uniform = tf.random.stateless_uniform(tf.shape(outputs), seed=mask_seed, alg="threefry")
        return tf.where(uniform >= rate, outputs / (1.0 - rate), tf.zeros_like(outputs))

    def _loss_and_hits(self, features, targets, training=False):
        probabilities = self._forward(features, training)
        hits = tf.reduce_sum(tf.cast(tf.argmax(probabilities, 1) == tf.argmax(targets, 1), tf.float32))
        return self.loss(targets, probabilities), hits

    def _train_batch(self, rows):
        features, targets = tf.gather(self.train_x, rows), tf.gather(self.train_y, rows)
        with tf.GradientTape() as tape:
            loss, hits = self._loss_and_hits(features, targets, training=True)
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.batches_done.assign_add(1)
        # Weighted by batch size, as fit's running mean is, for a smaller last batch.
        return loss * tf.cast(tf.shape(rows)[0], tf.float32), hits

    def _run_epoch(self, order):
        """Mean training loss and the count of correct predictions over one pass in `order`
        (every batch full but the last, like fit)."""
        sample_count = order.shape[0]
        full_batches, remainder = divmod(sample_count, self.batch_size)

        def body(batch, loss_sum, hits):
            loss, batch_hits = self._train_batch(tf.slice(order, [batch * self.batch_size], [self.batch_size]))
            return batch + 1, loss_sum + loss, hits + batch_hits

        _, loss_sum, hits = tf.while_loop(lambda batch, *_: batch < full_batches, body,
                                          (tf.constant(0), tf.constant(0.0), tf.constant(0.0)))
        if remainder:
            loss, batch_hits = self._train_batch(order[sample_count - remainder:])
            loss_sum, hits = loss_sum + loss, hits + batch_hits
        return loss_sum / sample_count, hits

    def measure(self, features, targets):
        """Loss and accuracy of the current weights in inference mode (dropout off)."""
        loss, hits = self._evaluate(features, targets)
        return float(loss), float(hits) / features.shape[0]

    def run_epoch(self, epoch):
        """Train epoch `epoch` (1-based) and return its row of the history."""
        running_loss, running_hits = self._epoch(tf.constant(epoch_order(self.seed, epoch, self.train_x.shape[0])))
        running = (float(running_loss), float(running_hits) / self.train_x.shape[0])
        return history_row({name: self.measure(*pair) for name, pair in self.sets.items()}, running)


def fit_compiled(model, spec, train, sets, seed, recorder, checkpoint):
    """The compiled path; checkpoints the state after every epoch and resumes from it."""
    program = EpochProgram(model, spec["learning_rate"], train, sets, spec["batch_size"], seed)
    done = checkpoint.restore(program.state, recorder)
    for epoch in range(done + 1, spec["epochs"] + 1):
        recorder(epoch, program.run_epoch(epoch))
        checkpoint.save_state(recorder, program.state)


def epoch_batches(train, batch_size, seed, epochs):
    """The batches of `epochs`, one epoch after another, each in `epoch_order`, for fit.

    fit's own shuffling (numpy input, shuffle=True) restarts its tf.data pipeline from the same
    seed every epoch, so under keras.utils.set_random_seed every epoch sees one order."""
    features, targets = (tf.constant(array) for array in train)
    orders = np.stack([epoch_order(seed, epoch, len(train[0])) for epoch in epochs])
    return (tf.data.Dataset.from_tensor_slices(orders)
            .flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
            .map(lambda rows: (tf.gather(features, rows), tf.gather(targets, rows)))
            .prefetch(tf.data.AUTOTUNE))


class EpochCallback(keras.callbacks.Callback):
    """Measures each set after the epoch in inference mode, hands the row to `recorder` with
    fit's running means, then checkpoints the rows and the state."""

    def __init__(self, sets, recorder, checkpoint, state):
        super().__init__()
        self.sets, self.recorder, self.checkpoint, self.state = sets, recorder, checkpoint, state
        self.loss = coursework_loss()

    def measure(self, features, targets):
        probabilities = self.model(features, training=False)
        hits = np.mean(np.argmax(probabilities, axis=1) == np.argmax(targets, axis=1))
        return float(self.loss(targets, probabilities)), float(hits)

    def on_epoch_end(self, epoch, logs=None):
        measured = {name: self.measure(*pair) for name, pair in self.sets.items()}
        self.recorder(epoch + 1, history_row(measured, (logs["loss"], logs["accuracy"])))
        self.checkpoint.save_state(self.recorder, self.state)


def fit_plain(model, spec, train, sets, seed, steps_per_execution, recorder, checkpoint):
    """Plain `model.fit` over `epoch_batches`; checkpoints after every epoch and resumes."""
    compile_model(model, spec["learning_rate"], steps_per_execution)
    model.optimizer.build(model.trainable_variables)
    # model.variables holds the dropout layers' seed state too, so a resumed run draws the masks
    # it would have drawn.
    state = [*model.variables, *model.optimizer.variables]
    done = checkpoint.restore(state, recorder)
    if done == spec["epochs"]:
        return
    model.fit(
        epoch_batches(train, spec["batch_size"], seed, range(done + 1, spec["epochs"] + 1)),
        steps_per_epoch=math.ceil(len(train[0]) / spec["batch_size"]), initial_epoch=done, epochs=spec["epochs"],
        shuffle=False, verbose=0, callbacks=[EpochCallback(sets, recorder, checkpoint, state)],
    )


def train_experiment(spec, training, train, sets, seed, recorder, checkpoint, name):
    """Build the experiment's model and train it on the path `training.jit_compile` picks,
    measuring `sets` (name -> pair) after every epoch."""
    model = build_model(spec["hidden_units"], spec["activation"], spec["dropout"], name)
    if training["jit_compile"]:
        fit_compiled(model, spec, train, sets, seed, recorder, checkpoint)
    else:
        fit_plain(model, spec, train, sets, seed, training["steps_per_execution"], recorder, checkpoint)
    return model
