"""tf.data forms of the data: Keras dicts for the shapes world, (images, labels) for classification."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

from cnncourse.data import load_digits, make_shapes, shapes_dataset, to_dataset
from cnncourse.runtime import import_tensorflow

tf = import_tensorflow()
keras = pytest.importorskip("keras")


def test_shapes_dataset_streams_the_same_images_as_make_shapes():
    ds = shapes_dataset(50, batch_size=16, image_size=48, seed=2)
    spec = ds.element_spec
    assert set(spec) == {"images", "bounding_boxes", "segmentation_masks"}
    assert spec["images"].shape.as_list() == [None, 48, 48, 3]
    assert spec["bounding_boxes"]["boxes"].shape.as_list() == [None, 4, 4]
    assert spec["segmentation_masks"].shape.as_list() == [None, 48, 48, 1]
    assert ds.cardinality().numpy() == 4
    batches = list(ds.as_numpy_iterator())
    assert [len(b["images"]) for b in batches] == [16, 16, 16, 2]
    eager = make_shapes(50, image_size=48, seed=2)
    images = np.concatenate([b["images"] for b in batches])
    np.testing.assert_allclose(images * 255.0, eager.images, atol=1e-3)
    np.testing.assert_array_equal(np.concatenate([b["bounding_boxes"]["boxes"] for b in batches]), eager.boxes)
    np.testing.assert_array_equal(np.concatenate([b["bounding_boxes"]["labels"] for b in batches]), eager.labels)
    masks = np.concatenate([b["segmentation_masks"] for b in batches])
    np.testing.assert_array_equal(masks[..., 0], eager.semantic_masks)
    # A second pass gives the same data.
    again = next(iter(ds.as_numpy_iterator()))
    np.testing.assert_array_equal(again["images"], batches[0]["images"])


def test_keras_random_flip_accepts_a_batch_and_moves_boxes_with_masks():
    """Keras's own augmentation layer runs on our dict; after flipping, every box still
    tightly bounds its instance (read from the instance-id channel of the masks)."""
    ds = shapes_dataset(16, batch_size=16, instance_ids=True, image_size=40, size=(6, 14), seed=7)
    batch = next(iter(ds))
    original_boxes = batch["bounding_boxes"]["boxes"].numpy()
    original_labels = batch["bounding_boxes"]["labels"].numpy()
    flip = keras.layers.RandomFlip("horizontal_and_vertical", bounding_box_format="xyxy", seed=3)
    out = flip(dict(batch), training=True)  # Keras writes into the dict it is given
    masks = tf.cast(tf.round(out["segmentation_masks"]), tf.int32).numpy()  # Keras may return floats
    boxes = out["bounding_boxes"]["boxes"].numpy()
    labels = out["bounding_boxes"]["labels"].numpy()
    np.testing.assert_array_equal(labels, original_labels)
    moved = 0
    for i in range(len(boxes)):
        for j in np.flatnonzero(labels[i] >= 0):
            rows, cols = ndi.find_objects((masks[i, ..., 1] == j + 1).astype(np.int32))[0]
            np.testing.assert_allclose(boxes[i, j], [cols.start, rows.start, cols.stop, rows.stop], atol=1e-4)
            moved += not np.allclose(boxes[i, j], original_boxes[i, j])
    assert moved > 0  # some images were really flipped


def test_keras_augmentation_inside_a_tf_data_pipeline():
    ds = shapes_dataset(24, batch_size=8, seed=1)
    flip = keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=0)
    out = next(iter(ds.map(lambda batch: flip(batch, training=True))))
    assert out["images"].shape == (8, 64, 64, 3)
    assert out["bounding_boxes"]["boxes"].shape == (8, 4, 4)


def test_shapes_data_to_dataset_shuffles_deterministically():
    data = make_shapes(20, seed=0)
    first = np.concatenate([b["bounding_boxes"]["labels"] for b in data.to_dataset(8, shuffle=True, seed=1).as_numpy_iterator()])
    second = np.concatenate([b["bounding_boxes"]["labels"] for b in data.to_dataset(8, shuffle=True, seed=1).as_numpy_iterator()])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first, axis=0), np.sort(data.labels, axis=0))


def test_classification_dataset_batches():
    data = load_digits(as_dataset=True, batch_size=64)
    images, labels = next(iter(data.train))
    assert images.shape == (64, 28, 28, 1) and images.dtype == tf.float32
    assert labels.dtype == tf.int32
    total = sum(int(b[1].shape[0]) for b in data.test)
    assert total == 270
    # Train is reshuffled each epoch, val / test keep their order.
    epoch1 = np.concatenate([y for _, y in data.train.as_numpy_iterator()])
    epoch2 = np.concatenate([y for _, y in data.train.as_numpy_iterator()])
    assert not np.array_equal(epoch1, epoch2)
    np.testing.assert_array_equal(np.sort(epoch1), np.sort(epoch2))
    arrays = load_digits()
    np.testing.assert_array_equal(np.concatenate([y for _, y in data.val.as_numpy_iterator()]), arrays.val.labels)


def test_to_dataset_checks_its_input():
    with pytest.raises(ValueError, match="same length"):
        to_dataset(np.zeros((3, 4, 4, 1)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W, C\), got \(3, 4, 4\)"):
        to_dataset(np.zeros((3, 4, 4)), np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="labels must be an array of dtype int or unsigned int, got dtype float"):
        to_dataset(np.zeros((3, 4, 4, 1)), np.zeros(3))


def test_single_shapes_dataset_for_a_two_output_model():
    from cnncourse.data import make_single_shapes

    data = make_single_shapes(10, image_size=32, size=(6, 12), seed=0, bounding_box_format="rel_xyxy")
    images, targets = next(iter(data.to_dataset(batch_size=4)))
    assert images.shape == (4, 32, 32, 3) and images.dtype == tf.float32
    np.testing.assert_array_equal(targets["labels"].numpy(), data.labels[:4])
    np.testing.assert_allclose(targets["boxes"].numpy(), data.boxes[:4])
    assert float(tf.reduce_max(targets["boxes"])) <= 1.0
