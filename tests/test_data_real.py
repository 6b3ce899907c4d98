"""Real data shipped with installed packages: digits, faces, photos."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from skimage.transform import resize
from sklearn.datasets import load_digits as sklearn_load_digits
from sklearn.datasets import load_sample_image

from cnncourse.data import SAMPLE_IMAGES, load_digits, load_faces, sample_image, sample_images


def test_digits_shapes_ranges_and_split_sizes():
    data = load_digits()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data
    assert x_train.shape == (1257, 28, 28, 1) and x_val.shape == (270, 28, 28, 1) and x_test.shape == (270, 28, 28, 1)
    for x, y in data:
        assert x.dtype == np.float32 and y.dtype == np.int32
        assert x.min() == 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert data.class_names == tuple("0123456789") and data.num_classes == 10
    # MNIST-like: the digit sits in the middle 20x20, with a 4-pixel black margin.
    assert x_train[:, :4].max() == 0 and x_train[:, -4:].max() == 0
    assert x_train[:, :, :4].max() == 0 and x_train[:, :, -4:].max() == 0


def test_digit_splits_are_stratified_disjoint_and_complete():
    data = load_digits(seed=3)
    reference = sklearn_load_digits()
    all_labels = np.concatenate([data.train.labels, data.val.labels, data.test.labels])
    np.testing.assert_array_equal(np.bincount(all_labels), np.bincount(reference.target))
    for split in (data.val, data.test):
        counts = np.bincount(split.labels, minlength=10)
        expected = np.bincount(reference.target) * len(split.labels) / len(reference.target)
        assert np.abs(counts - expected).max() <= 1.0
    # No image is in two splits.
    keys = [x.tobytes() for x in np.concatenate([data.train.images, data.val.images, data.test.images])]
    assert len(set(keys)) == len(keys) - count_duplicates(reference.images)


def count_duplicates(images) -> int:
    keys = [x.tobytes() for x in images]
    return len(keys) - len(set(keys))


def test_digit_images_are_the_sklearn_digits_upscaled():
    """Shrinking the central 20x20 back to 8x8 recovers scikit-learn's image, not a
    transposed or flipped one."""
    data = load_digits(val_fraction=0.0, test_fraction=0.0)
    reference = sklearn_load_digits()
    assert len(data.train.labels) == 1797
    np.testing.assert_array_equal(data.train.labels, reference.target)
    small = resize(data.train.images[:50, 4:24, 4:24, 0], (50, 8, 8), anti_aliasing=True)
    original = reference.images[:50] / 16.0
    for got, want in zip(small, original):
        right = np.corrcoef(got.ravel(), want.ravel())[0, 1]
        transposed = np.corrcoef(got.ravel(), want.T.ravel())[0, 1]
        assert right > 0.9 and right > transposed


def test_digits_are_deterministic_and_seed_dependent():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    np.testing.assert_array_equal(a.train.images, b.train.images)
    np.testing.assert_array_equal(a.test.labels, b.test.labels)
    assert not np.array_equal(a.test.images, c.test.images)


def test_digit_size_is_configurable():
    data = load_digits(image_size=32)
    assert data.train.images.shape[1:] == (32, 32, 1)
    assert load_digits(image_size=8).train.images.shape[1:] == (8, 8, 1)


def test_faces():
    data = load_faces()
    assert [len(s.labels) for s in data] == [140, 30, 30]
    assert data.train.images.shape[1:] == (32, 32, 1) and data.train.images.dtype == np.float32
    assert data.class_names == ("not face", "face")
    labels = np.concatenate([s.labels for s in data])
    np.testing.assert_array_equal(np.bincount(labels), [100, 100])
    native = load_faces(image_size=25, val_fraction=0.0, test_fraction=0.0)
    # At the native size the patches are scikit-image's own, faces (label 1) first.
    np.testing.assert_allclose(native.train.images[..., 0], skimage.data.lfw_subset(), atol=1e-6)
    np.testing.assert_array_equal(native.train.labels, [1] * 100 + [0] * 100)


@pytest.mark.parametrize("name", sorted(SAMPLE_IMAGES))
def test_every_sample_image_loads_as_float_rgb(name):
    image = sample_image(name)
    assert image.dtype == np.float32 and image.ndim == 3 and image.shape[-1] == 3
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.max() > image.min()


def test_sample_images_match_their_sources():
    np.testing.assert_allclose(sample_image("astronaut"), skimage.data.astronaut() / 255.0, atol=1e-6)
    np.testing.assert_allclose(sample_image("china"), load_sample_image("china.jpg") / 255.0, atol=1e-6)
    camera = sample_image("camera")
    np.testing.assert_allclose(camera[..., 1], skimage.data.camera() / 255.0, atol=1e-6)


def test_grayscale_and_resizing():
    gray = sample_image("coffee", grayscale=True)
    assert gray.shape == (400, 600) and gray.dtype == np.float32
    from skimage.color import rgb2gray

    np.testing.assert_allclose(gray, rgb2gray(skimage.data.coffee()), atol=1e-5)
    assert sample_image("rocket", size=64).shape == (64, 64, 3)
    assert sample_image("rocket", size=(30, 50), grayscale=True).shape == (30, 50)
    some = sample_images(["chelsea", "flower"], grayscale=True, size=16)
    assert list(some) == ["chelsea", "flower"] and all(v.shape == (16, 16) for v in some.values())
    assert set(sample_images()) == set(SAMPLE_IMAGES)


def test_only_photos_shipped_in_the_wheels_are_offered():
    # These need a pooch download in scikit-image and must not be listed.
    for name in ("brain", "cells3d", "eagle", "kidney", "lily", "skin"):
        assert name not in SAMPLE_IMAGES
    for name in ("astronaut", "camera", "coffee", "chelsea", "rocket", "china", "flower"):
        assert name in SAMPLE_IMAGES
