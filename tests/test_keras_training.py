"""Part B's compiled epochs compute what plain `model.fit` computes: the same batches give the
same weights, and on a real subset both paths reach the same losses."""

import gzip

import keras
import numpy as np
import pytest
import tensorflow as tf

from fashion_pipeline import checkpoints, idx
from fashion_pipeline.data import one_hot
from fashion_pipeline.keras_models import build_model, compile_model
from fashion_pipeline.keras_training import EpochProgram, epoch_order, train_keras


@pytest.fixture(scope="module")
def real_subset(real_data):
    """The first 5,000 training and 1,000 test images of the real files, scaled to [0, 1]."""
    def read(name, parse):
        return parse(gzip.decompress((real_data / f"{name}.gz").read_bytes()), real_data / name)

    images = read("train-images-idx3-ubyte", idx.parse_images)[:5000]
    labels = read("train-labels-idx1-ubyte", idx.parse_labels)[:5000]
    test_images = read("t10k-images-idx3-ubyte", idx.parse_images)[:1000]
    test_labels = read("t10k-labels-idx1-ubyte", idx.parse_labels)[:1000]

    def features(array):
        return (array.reshape(len(array), -1) / 255.0).astype(np.float32)

    return (features(images), one_hot(labels)), (features(test_images), one_hot(test_labels))


def twin_models(hidden_units, dropout):
    """Two models of one spec with the same initial weights."""
    keras.utils.set_random_seed(1)
    first, second = build_model(hidden_units, "relu", dropout), build_model(hidden_units, "relu", dropout)
    second.set_weights(first.get_weights())
    return first, second


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    order = epoch_order(42, 3, 1000)
    assert sorted(order) == list(range(1000))
    assert np.array_equal(order, epoch_order(42, 3, 1000))
    assert not np.array_equal(order, epoch_order(42, 4, 1000))
    assert not np.array_equal(order, epoch_order(43, 3, 1000))


def test_a_compiled_epoch_equals_fit_over_the_same_batches(real_subset):
    """fit without shuffling, on the data put in the compiled epoch's order: every batch, loss
    and Adam step is the same, so the weights and the metrics agree to float rounding. The
    2,000 images end in a short batch of 16, which both paths must weight alike."""
    (features, targets), validation = (real_subset[0][0][:2000], real_subset[0][1][:2000]), real_subset[1]
    compiled, plain = twin_models([64, 32], 0.0)
    row = EpochProgram(compiled, 0.001, (features, targets), validation, 32, seed=5).run_epoch(1)
    order = epoch_order(5, 1, len(features))
    compile_model(plain, 0.001)
    logs = plain.fit(features[order], targets[order], batch_size=32, epochs=1, shuffle=False, verbose=0,
                     validation_data=validation).history
    for compiled_array, plain_array in zip(compiled.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(compiled_array, plain_array, rtol=1e-3, atol=1e-5)
    assert row["train_loss"] == pytest.approx(logs["loss"][0], rel=1e-4)
    assert row["train_accuracy"] == pytest.approx(logs["accuracy"][0], abs=1e-6)
    assert row["val_loss"] == pytest.approx(logs["val_loss"][0], rel=1e-4)
    assert row["val_accuracy"] == pytest.approx(logs["val_accuracy"][0], abs=1e-6)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_compiled_and_plain_fit_reach_the_same_losses(real_subset, dropout):
    """Each path shuffles (and draws dropout masks) its own way; after 3 epochs from the same
    weights their training losses agree within the spread plain fit itself shows across
    shuffling seeds (measured on this subset: 0.446-0.466 over six seeds). A single epoch's
    validation loss swings more (0.49-0.68 over the same seeds), so it is only required to show
    learning (well below ln 10 = 2.3)."""
    (features, targets), validation = real_subset
    compiled, plain = twin_models([128, 64], dropout)
    program = EpochProgram(compiled, 0.001, real_subset[0], validation, 32, seed=5)
    rows = [program.run_epoch(epoch) for epoch in range(1, 4)]
    compile_model(plain, 0.001)
    logs = plain.fit(features, targets, batch_size=32, epochs=3, verbose=0, validation_data=validation).history
    assert rows[-1]["train_loss"] == pytest.approx(logs["loss"][-1], abs=0.03)
    assert rows[-1]["train_accuracy"] == pytest.approx(logs["accuracy"][-1], abs=0.015)
    assert rows[-1]["val_loss"] < 0.8 and logs["val_loss"][-1] < 0.8


def test_compiled_dropout_is_on_in_training_and_scaled_like_keras():
    """Masks drop about `rate` of the units and scale the rest by 1 / (1 - rate), a new mask
    every batch; at evaluation the layer passes everything through."""
    model = build_model([4000], "relu", 0.3)
    generator = np.random.default_rng(0)
    features = generator.random((32, 784), dtype=np.float32)
    targets = one_hot(generator.integers(0, 10, 32))
    program = EpochProgram(model, 0.001, (features, targets), (features, targets), 32, seed=5)
    hidden = model.layers[0](features).numpy()
    # Threefry has a kernel under XLA only, where training runs it.
    dropout = tf.function(program._dropout, jit_compile=True)
    dropped = dropout(hidden, 0.3, 1).numpy()
    kept = dropped != 0
    assert 0.27 < 1 - kept[hidden != 0].mean() < 0.33
    np.testing.assert_allclose(dropped[kept], hidden[kept] / 0.7, rtol=1e-6)
    program.batches_done.assign_add(1)
    assert not np.array_equal(dropout(hidden, 0.3, 1).numpy() != 0, kept)
    np.testing.assert_array_equal(program._forward(features, training=False), model(features, training=False))


class Rows:
    """Collects what a training loop hands its recorder."""

    def __init__(self):
        self.rows = []

    def __call__(self, epoch, metrics):
        self.rows.append({"epoch": epoch, **metrics})


@pytest.mark.parametrize("jit_compile", [True, False])
def test_train_keras_records_every_epoch_on_either_path(real_subset, tmp_path, jit_compile):
    """`training.jit_compile` picks the path; both hand the recorder one row per epoch with the
    history's columns, save them to the checkpoint, and learn."""
    spec = {"hidden_units": [32], "activation": "relu", "dropout": 0.2, "learning_rate": 0.001,
            "epochs": 3, "batch_size": 32}
    (features, targets), validation = real_subset
    recorder = Rows()
    checkpoint = checkpoints.Checkpoint(tmp_path / "checkpoint", "digest", resume=False)
    keras.utils.set_random_seed(0)
    model = train_keras(spec, {"jit_compile": jit_compile, "steps_per_execution": 1}, (features[:1000], targets[:1000]),
                       validation, 0, recorder, "model", checkpoint)
    assert [row["epoch"] for row in recorder.rows] == [1, 2, 3]
    assert set(recorder.rows[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert recorder.rows[-1]["train_loss"] < recorder.rows[0]["train_loss"]
    assert [row["epoch"] for row in checkpoint.rows()] == [1, 2, 3]
    assert (checkpoint.arrays() is not None) == jit_compile
    assert model.count_params() == 784 * 32 + 32 + 33 * 10
