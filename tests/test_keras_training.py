"""Part B's compiled epochs compute what plain `model.fit` computes: both train on the same
batches, which give the same weights, and with dropout both reach the same losses."""

import gzip

import keras
import numpy as np
import pytest
import tensorflow as tf

from fashion_pipeline import checkpoints, data
from fashion_pipeline.data import one_hot
from fashion_pipeline.keras.training import EpochProgram, epoch_batches, epoch_order, fit_plain, train_experiment
from fashion_pipeline.models import build_model

# Compares floats across kernels: `make test` runs it again with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0).
pytestmark = pytest.mark.cpu_sensitive


@pytest.fixture(scope="module")
def real_subset(real_data):
    """The first 5,000 training and 1,000 test images of the real files, scaled to [0, 1]."""
    def read(name, parse):
        return parse(gzip.decompress((real_data / f"{name}.gz").read_bytes()), real_data / name)

    images = read("train-images-idx3-ubyte", data.parse_images)[:5000]
    labels = read("train-labels-idx1-ubyte", data.parse_labels)[:5000]
    test_images = read("t10k-images-idx3-ubyte", data.parse_images)[:1000]
    test_labels = read("t10k-labels-idx1-ubyte", data.parse_labels)[:1000]

    def features(array):
        return (array.reshape(len(array), -1) / 255.0).astype(np.float32)

    return (features(images), one_hot(labels)), (features(test_images), one_hot(test_labels))


def twin_models(hidden_units, dropout):
    """Two models of one spec with the same initial weights and dropout seed state."""
    keras.utils.set_random_seed(1)
    first, second = build_model(hidden_units, "relu", dropout), build_model(hidden_units, "relu", dropout)
    for source, copy in zip(first.variables, second.variables, strict=True):
        copy.assign(source)
    return first, second


SPEC = {"hidden_units": [32], "activation": "relu", "dropout": 0.2, "learning_rate": 0.001, "epochs": 3,
        "batch_size": 32}


class Rows:
    """Collects what a training loop hands its recorder."""

    def __init__(self):
        self.rows, self.resumed_after = [], None

    def __call__(self, epoch, metrics):
        self.rows.append({"epoch": epoch, **metrics})

    def resume(self, rows, folder):
        self.rows.extend(rows)
        self.resumed_after = len(rows)


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    order = epoch_order(42, 3, 1000)
    assert sorted(order) == list(range(1000))
    assert np.array_equal(order, epoch_order(42, 3, 1000))
    assert not np.array_equal(order, epoch_order(42, 4, 1000))
    assert not np.array_equal(order, epoch_order(43, 3, 1000))


def test_compiled_epochs_equal_plain_fit_over_the_same_batches(real_subset, tmp_path):
    """Both paths train on `epoch_order`'s batches, so without dropout every batch, loss and
    Adam step is the same: after 3 epochs the weights and the metrics agree to float rounding.
    The 2,000 images end in a short batch of 16, which both paths must weight alike."""
    train = (real_subset[0][0][:2000], real_subset[0][1][:2000])
    sets = {"train": (train[0][:500], train[1][:500]), "val": real_subset[1]}
    compiled, plain = twin_models([64, 32], 0.0)
    program = EpochProgram(compiled, 0.001, train, sets, 32, seed=5)
    rows = [program.run_epoch(epoch) for epoch in range(1, 4)]
    recorder = Rows()
    fit_plain(plain, {**SPEC, "dropout": 0.0}, train, sets, 5, 1, recorder,
              checkpoints.Checkpoint(tmp_path, "digest", resume=False))
    for compiled_array, plain_array in zip(compiled.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(compiled_array, plain_array, rtol=1e-3, atol=1e-5)
    # XLA fuses and orders the float32 sums unlike plain TensorFlow: losses agree to 1e-4
    # relative; an accuracy may flip one borderline image (1/500 of the measured training
    # subset, 1/1,000 of the validation set, 1/2,000 of the running count).
    for row, plain_row in zip(rows, recorder.rows, strict=True):
        for key in ("train_loss", "val_loss", "train_loss_running"):
            assert row[key] == pytest.approx(plain_row[key], rel=1e-4), key
        for key, images in (("train_accuracy", 500), ("val_accuracy", 1000), ("train_accuracy_running", 2000)):
            assert row[key] == pytest.approx(plain_row[key], abs=1 / images + 1e-9), key


def test_plain_fit_shuffles_every_epoch_anew():
    """fit's batches come from `epoch_order`: a new order each epoch (fit's own shuffling under
    a fixed seed repeats one order every epoch)."""
    features = np.arange(10, dtype=np.float32).reshape(10, 1)
    epochs = [np.concatenate([rows.numpy()[:, 0] for rows, _ in epoch_batches((features, features), 4, 7, [epoch])])
              for epoch in (1, 2)]
    assert [len(batch) for batch, _ in epoch_batches((features, features), 4, 7, [1, 2])] == [4, 4, 2] * 2
    for epoch, order in zip((1, 2), epochs):
        np.testing.assert_array_equal(order, epoch_order(7, epoch, 10))
    assert not np.array_equal(*epochs)


def test_compiled_and_plain_fit_with_dropout_reach_the_same_losses(real_subset, tmp_path):
    """With dropout each path draws its own masks; after 3 epochs from the same weights and
    batches their training losses agree within the spread plain fit itself shows across
    shuffling seeds (measured on this subset: 0.446-0.466 over six seeds). A single epoch's
    validation loss swings more (0.49-0.68 over the same seeds), so it is only required to show
    learning (well below ln 10 = 2.3)."""
    sets = {"val": real_subset[1]}
    compiled, plain = twin_models([128, 64], 0.3)
    program = EpochProgram(compiled, 0.001, real_subset[0], sets, 32, seed=5)
    rows = [program.run_epoch(epoch) for epoch in range(1, 4)]
    recorder = Rows()
    fit_plain(plain, {**SPEC, "dropout": 0.3}, real_subset[0], sets, 5, 1, recorder,
              checkpoints.Checkpoint(tmp_path, "digest", resume=False))
    assert rows[-1]["train_loss_running"] == pytest.approx(recorder.rows[-1]["train_loss_running"], abs=0.03)
    assert rows[-1]["train_accuracy_running"] == pytest.approx(recorder.rows[-1]["train_accuracy_running"], abs=0.015)
    assert rows[-1]["val_loss"] < 0.8 and recorder.rows[-1]["val_loss"] < 0.8


@pytest.mark.parametrize("jit_compile", [True, False])
def test_training_metrics_are_measured_in_inference_mode_after_the_epoch(real_subset, tmp_path, jit_compile):
    """The row's train_loss is the final weights' loss on the measured subset with dropout off,
    as `evaluate` would score them; the running loss, with dropout on and weights that moved
    during the epoch, is another number."""
    train = (real_subset[0][0][:2000], real_subset[0][1][:2000])
    subset = (train[0][:500], train[1][:500])
    recorder = Rows()
    keras.utils.set_random_seed(0)
    model = train_experiment({**SPEC, "dropout": 0.5, "epochs": 2}, {"jit_compile": jit_compile, "steps_per_execution": 1},
                             train, {"train": subset, "val": real_subset[1]}, 0, recorder,
                             checkpoints.Checkpoint(tmp_path, "digest", resume=False), "model")
    probabilities = model(subset[0], training=False).numpy()
    loss = -np.mean(np.log(np.sum(probabilities * subset[1], axis=1)))
    hits = np.mean(probabilities.argmax(axis=1) == subset[1].argmax(axis=1))
    last = recorder.rows[-1]
    # One float32 forward pass, XLA-fused or not: 1e-4 relative covers the summation order.
    assert last["train_loss"] == pytest.approx(loss, rel=1e-4)
    assert last["train_accuracy"] == pytest.approx(hits, abs=1 / 500 + 1e-9)
    assert abs(last["train_loss"] - last["train_loss_running"]) > 0.01


def test_plain_fit_resumed_from_a_checkpoint_equals_an_uninterrupted_run(real_subset, tmp_path):
    """The checkpoint holds the weights, Adam's slots and the dropout seed state, and the
    batches go on in epoch order: a run stopped after epoch 2 and resumed ends where one that
    never stopped ends."""
    train, validation = (real_subset[0][0][:1000], real_subset[0][1][:1000]), {"val": real_subset[1]}
    whole, first_half = twin_models([32], 0.2)
    spec = {**SPEC, "dropout": 0.2, "epochs": 3}
    fit_plain(whole, spec, train, validation, 5, 1, Rows(), checkpoints.Checkpoint(tmp_path / "a", "d", resume=False))
    checkpoint = checkpoints.Checkpoint(tmp_path / "b", "d", resume=False)
    fit_plain(first_half, {**spec, "epochs": 2}, train, validation, 5, 1, Rows(), checkpoint)
    keras.utils.set_random_seed(99)
    resumed, recorder = build_model([32], "relu", 0.2), Rows()
    fit_plain(resumed, spec, train, validation, 5, 1, recorder, checkpoints.Checkpoint(tmp_path / "b", "d", resume=True))
    assert [row["epoch"] for row in recorder.rows] == [1, 2, 3] and recorder.resumed_after == 2
    for whole_array, resumed_array in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(whole_array, resumed_array)


def test_compiled_dropout_is_on_in_training_and_scaled_like_keras():
    """Masks drop about `rate` of the units and scale the rest by 1 / (1 - rate), a new mask
    every batch; at evaluation the layer passes everything through."""
    model = build_model([4000], "relu", 0.3)
    generator = np.random.default_rng(0)
    features = generator.random((32, 784), dtype=np.float32)
    targets = one_hot(generator.integers(0, 10, 32))
    program = EpochProgram(model, 0.001, (features, targets), {"val": (features, targets)}, 32, seed=5)
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


@pytest.mark.parametrize("jit_compile", [True, False])
def test_train_keras_records_every_epoch_on_either_path(real_subset, tmp_path, jit_compile):
    """`training.jit_compile` picks the path; both hand the recorder one row per epoch with the
    history's columns, save them to the checkpoint, and learn."""
    (features, targets), validation = real_subset
    recorder = Rows()
    checkpoint = checkpoints.Checkpoint(tmp_path / "checkpoint", "digest", resume=False)
    keras.utils.set_random_seed(0)
    train = (features[:1000], targets[:1000])
    model = train_experiment(SPEC, {"jit_compile": jit_compile, "steps_per_execution": 1}, train,
                             {"train": train, "val": validation}, 0, recorder, checkpoint, "model")
    assert [row["epoch"] for row in recorder.rows] == [1, 2, 3]
    assert set(recorder.rows[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                     "train_loss_running", "train_accuracy_running"}
    assert recorder.rows[-1]["train_loss"] < recorder.rows[0]["train_loss"]
    assert [row["epoch"] for row in checkpoint.rows()] == [1, 2, 3]
    assert checkpoint.arrays() is not None
    assert model.count_params() == 784 * 32 + 32 + 33 * 10
