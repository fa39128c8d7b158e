"""Part A's training: the hand-written network trained full batch in compiled chunks of epochs,
with a checkpoint after each chunk. Experiments use Keras's Adam, as the coursework did; the optimizer
comparison passes one of the update rules of optimizers.py instead."""

import keras
import tensorflow as tf

from fashion_pipeline.lowlevel import network
from fashion_pipeline.models import build_model


def keras_adam(learning_rate):
    """Part A's optimizer, as in the coursework: Keras's Adam with its defaults. Returns a factory
    variables -> (update(gradients, step) -> learning rate, the optimizer's own variables),
    like optimizers.make_update."""
    def bind(variables):
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        optimizer.build(variables)

        def update(gradients, step):
            optimizer.apply_gradients(zip(gradients, variables))
            return tf.constant(learning_rate, tf.float32)

        return update, list(optimizer.variables)

    return bind


def run_full_batch(spec, train, sets, seed, bind_update, recorder, chunk_epochs, checkpoint):
    """Run the hand-written trainer in compiled chunks of `chunk_epochs` epochs, checkpointing
    after each; resume from the checkpoint when it holds a state. Returns the trained layers."""
    layers, run_epochs, state = network.build_trainer(spec, train, sets, seed, bind_update)
    columns = network.history_columns(sets)
    done = checkpoint.restore(state, recorder)
    while done < spec["epochs"]:
        for values in run_epochs(min(chunk_epochs, spec["epochs"] - done)):
            done += 1
            recorder(done, dict(zip(columns, values.tolist())))
        checkpoint.save_state(recorder, state)
    return layers


def train_experiment(spec, training, train, sets, seed, recorder, checkpoint, name):
    """A Part A experiment; returns the same weights in an equivalent Keras model, so
    `evaluate` treats every experiment alike."""
    bind_update = keras_adam(spec["learning_rate"])
    layers = run_full_batch(spec, train, sets, seed, bind_update, recorder, training["checkpoint_every_epochs"],
                            checkpoint)
    model = build_model(spec["hidden_units"], spec["activation"], 0.0, name)
    model.set_weights(network.layer_arrays(layers))
    return model
