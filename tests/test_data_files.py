"""IDX parsing, the download stage's source fallback and hash check, and prepare's splits."""

import gzip
import hashlib

import numpy as np
import pytest

from fashion_pipeline import data
from fashion_pipeline.data import load_split
from fashion_pipeline.stages.download import download_all, obtain
from fashion_pipeline.errors import DataFileError, DownloadError
from fashion_pipeline.params import IDX_FILES
from fashion_pipeline.stages.prepare import prepare
from conftest import data_params, fake_dataset, image_bytes, label_bytes, write_source


def test_parse_valid_images_and_labels():
    images = data.parse_images(image_bytes(3), "x")
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8 and images.max() == 7
    assert list(data.parse_labels(label_bytes([0, 9, 4]), "y")) == [0, 9, 4]


@pytest.mark.parametrize(
    ("parse", "data", "message"),
    [
        (data.parse_images, image_bytes(3)[:-5], "2363 bytes, expected 2368 for 3 images"),
        (data.parse_images, image_bytes(3)[:10], "truncated: 10 bytes, the header alone needs 16"),
        (data.parse_images, image_bytes(3, magic=0x00000801), "wrong magic number 0x00000801; expected 0x00000803"),
        (data.parse_images, image_bytes(2, rows=32, columns=32), "images are 32x32; expected 28x28"),
        (data.parse_labels, label_bytes([1, 2, 12]), "label 12 out of range; allowed 0..9"),
        (data.parse_labels, label_bytes([1, 2]) + b"\x00", "11 bytes, expected 10 for 2 labels"),
        (data.parse_labels, image_bytes(1), "wrong magic number 0x00000803; expected 0x00000801"),
    ],
)
def test_bad_idx_bytes_are_rejected_naming_the_file(parse, data, message):
    with pytest.raises(DataFileError) as error:
        parse(data, "some/file-idx")
    assert str(error.value) == f"some/file-idx: {message}"


def test_count_mismatch_between_images_and_labels(tmp_path):
    (tmp_path / "images").write_bytes(image_bytes(5))
    (tmp_path / "labels").write_bytes(label_bytes([1, 2, 3]))
    with pytest.raises(DataFileError, match="3 labels for 5 images in images"):
        data.load_pair(tmp_path / "images", tmp_path / "labels")


def test_download_verifies_and_writes_every_file(tmp_path):
    files = fake_dataset()
    source = write_source(tmp_path / "source", files)
    manifest = download_all(data_params([source], files), tmp_path / "raw")
    for name in IDX_FILES:
        assert (tmp_path / "raw" / name).read_bytes() == files[name]
        assert manifest[name]["source"] == str(source)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda path: path.unlink(), "does not exist"),
        (lambda path: path.write_bytes(path.read_bytes()[:30]), "truncated or corrupt gzip"),
        (lambda path: path.write_bytes(b"plain bytes, not gzip"), "not gzip"),
        (lambda path: path.write_bytes(gzip.compress(b"other content")), "SHA-256 mismatch"),
    ],
)
def test_a_failing_source_is_reported_and_the_next_one_used(tmp_path, damage, reason, capsys):
    files = fake_dataset()
    broken = write_source(tmp_path / "broken", files)
    damage(broken / "train-labels-idx1-ubyte.gz")
    good = write_source(tmp_path / "good", files)
    data, source = obtain("train-labels-idx1-ubyte", [str(broken), str(good)],
                          hashlib.sha256(files["train-labels-idx1-ubyte"]).hexdigest(), 2)
    assert data == files["train-labels-idx1-ubyte"] and source == str(good)
    assert reason in capsys.readouterr().err


def test_when_every_source_fails_the_error_lists_each_attempt(tmp_path):
    files = fake_dataset()
    params = data_params([tmp_path / "missing", "https://127.0.0.1:9/none"], files)
    with pytest.raises(DownloadError) as error:
        download_all(params, tmp_path / "raw")
    message = str(error.value)
    assert "train-images-idx3-ubyte: every source failed" in message
    assert str(tmp_path / "missing") in message and "https://127.0.0.1:9/none" in message
    # Nothing partial is left behind.
    assert not (tmp_path / "raw").exists() or not any((tmp_path / "raw").iterdir())


def prepared(tmp_path, **changes):
    files = fake_dataset(train_count=100, test_count=50)
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, content in files.items():
        (raw / name).write_bytes(content)
    params = {**data_params([], files), **changes}
    (raw / "manifest.json").write_text("{}")
    summary = prepare(params, raw, tmp_path / "prepared", tmp_path / "data.json")
    return summary, {split: load_split(tmp_path / "prepared", split) for split in ("train", "val", "test")}


def test_prepare_scales_flattens_and_validates_on_test_by_default(tmp_path):
    summary, splits = prepared(tmp_path)
    features, labels = splits["train"]
    assert features.shape == (100, 784) and features.dtype == np.float32
    assert features.max() == pytest.approx(7 / 255)
    assert np.array_equal(splits["val"][0], splits["test"][0])
    assert summary["validation"] == "the test set (as in the coursework)"


def test_prepare_holds_out_a_stratified_validation_part(tmp_path):
    summary, splits = prepared(tmp_path, val_fraction=0.2, limit_train=0)
    assert summary["train_count"] == 80 and summary["val_count"] == 20 and summary["test_count"] == 50
    assert np.bincount(splits["val"][1], minlength=10).tolist() == [2] * 10


def test_prepare_limits_keep_class_balance_and_raw_pixels_when_unscaled(tmp_path):
    summary, splits = prepared(tmp_path, limit_train=30, limit_test=20, scale=False)
    assert np.bincount(splits["train"][1], minlength=10).tolist() == [3] * 10
    assert summary["test_count"] == 20
    assert splits["train"][0].max() == 7.0
