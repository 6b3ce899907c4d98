"""tfds loaders: tested with tfds.testing.mock_data, never with a download."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from cnncourse.data import DatasetNotAvailableError, load_tfds
from cnncourse.data.tfds import DOWNLOAD_SIZES, OFFLINE_SUBSTITUTES, SUPPORTED_DATASETS, yxyx_relative_to_boxes
from cnncourse.runtime import import_tensorflow

tf = import_tensorflow()
tfds = pytest.importorskip("tensorflow_datasets")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test here runs with sockets unable to connect: a download attempt would fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", SUPPORTED_DATASETS)
def test_uncached_dataset_raises_one_clear_error(name, tmp_path):
    with pytest.raises(DatasetNotAvailableError) as caught:
        load_tfds(name, data_dir=tmp_path)
    error = caught.value
    assert isinstance(error, RuntimeError)
    message = str(error)
    assert repr(name) in message
    assert DOWNLOAD_SIZES[name] in message
    assert str(tmp_path) in message and error.data_dir.startswith(str(tmp_path))
    assert OFFLINE_SUBSTITUTES[name] in message and error.substitute == OFFLINE_SUBSTITUTES[name]
    assert "download=True" in message
    assert not (tmp_path / "downloads").exists()  # nothing was fetched


def test_substitutes_name_the_offline_functions():
    assert "load_digits" in OFFLINE_SUBSTITUTES["mnist"]
    assert "make_shapes" in OFFLINE_SUBSTITUTES["voc/2007"]


@pytest.mark.parametrize(
    ("name", "image_shape"),
    [("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))],
)
def test_classification_datasets(name, image_shape, tmp_path):
    with tfds.testing.mock_data(num_examples=10):
        ds = load_tfds(name, split="train", batch_size=4, data_dir=tmp_path)
        images, labels = next(iter(ds))
        raw = next(iter(tfds.builder(name).as_dataset(split="test")))
        first_images, _ = next(iter(load_tfds(name, split="test", batch_size=4, data_dir=tmp_path)))
    assert images.shape == (4, *image_shape) and images.dtype == tf.float32
    assert labels.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    np.testing.assert_allclose(first_images[0].numpy(), raw["image"].numpy() / 255.0, atol=1e-6)


def test_classification_resize(tmp_path):
    with tfds.testing.mock_data(num_examples=4):
        images, _ = next(iter(load_tfds("mnist", split="test", batch_size=4, image_size=32, data_dir=tmp_path)))
    assert images.shape == (4, 32, 32, 1)


def test_pets_segmentation_dicts(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        batch = next(iter(load_tfds("oxford_iiit_pet", split="test", batch_size=3, image_size=64, data_dir=tmp_path)))
    assert set(batch) == {"images", "labels", "segmentation_masks"}
    assert batch["images"].shape == (3, 64, 64, 3)
    assert batch["segmentation_masks"].shape == (3, 64, 64, 1) and batch["segmentation_masks"].dtype == tf.int32
    assert set(np.unique(batch["segmentation_masks"].numpy())) <= {0, 1, 2}


def test_voc_boxes_are_converted_to_pixels_and_padded(tmp_path):
    with tfds.testing.mock_data(num_examples=4):
        batch = next(iter(load_tfds("voc/2007", split="test", batch_size=2, image_size=100, max_boxes=8, data_dir=tmp_path)))
        raw = next(iter(tfds.builder("voc/2007").as_dataset(split="test")))
    assert batch["images"].shape == (2, 100, 100, 3)
    boxes = batch["bounding_boxes"]["boxes"].numpy()
    labels = batch["bounding_boxes"]["labels"].numpy()
    assert boxes.shape == (2, 8, 4) and labels.shape == (2, 8)
    count = min(len(raw["objects"]["label"]), len(raw["objects"]["bbox"]), 8)
    ymin, xmin, ymax, xmax = raw["objects"]["bbox"].numpy()[:count].T
    np.testing.assert_allclose(boxes[0, :count], np.stack([xmin, ymin, xmax, ymax], -1) * 100, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(labels[0, :count], raw["objects"]["label"].numpy()[:count])
    assert (labels[0, count:] == -1).all() and (boxes[0, count:] == -1).all()


def test_yxyx_relative_conversion_on_a_known_box():
    boxes = np.array([[0.1, 0.2, 0.5, 0.6]], dtype=np.float32)  # ymin, xmin, ymax, xmax
    got = np.asarray(yxyx_relative_to_boxes(boxes, height=100, width=200, bounding_box_format="xyxy"))
    np.testing.assert_allclose(got, [[40.0, 10.0, 120.0, 50.0]], rtol=1e-6)
    got = np.asarray(yxyx_relative_to_boxes(boxes, height=100, width=200, bounding_box_format="xywh"))
    np.testing.assert_allclose(got, [[40.0, 10.0, 80.0, 40.0]], rtol=1e-6)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="name='imagenet2012' is not a known supported tfds dataset; known: mnist"):
        load_tfds("imagenet2012")
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        load_tfds("mnist", batch_size=0)
    with pytest.raises(TypeError, match="download must be True or False"):
        load_tfds("mnist", download="yes")
    with pytest.raises(ValueError, match="bounding_box_format='xyz' is not a known bounding box format"):
        load_tfds("voc/2007", bounding_box_format="xyz")


def test_download_opt_in_calls_prepare(tmp_path, monkeypatch):
    calls = []
    with tfds.testing.mock_data(num_examples=2):  # download_and_prepare is a no-op under the mock
        original = tfds.core.DatasetBuilder.download_and_prepare
        monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", lambda self, *a, **k: calls.append(self.name) or original(self, *a, **k))
        load_tfds("mnist", split="test", download=True, data_dir=tmp_path)
        load_tfds("mnist", split="test", data_dir=tmp_path)
    assert calls == ["mnist"]  # only the explicit opt-in prepares (downloads)
