"""``cnncourse.augment.warp.projective_warp`` against ``tf.raw_ops.ImageProjectiveTransformV3``.

Random projective maps (rotation, scale, shear, shift and a small perspective part) move
part of every output outside the input, so both fill modes matter; the warp runs under
``tf.function(jit_compile=True)`` (the op itself has no XLA kernel) and is compared pixel by
pixel with the op: exactly for nearest interpolation, to float rounding for bilinear.
"""

from __future__ import annotations

import os
import zlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnncourse.augment.warp import projective_warp  # noqa: E402

FILL = 0.25


def _random_transforms(rng, batch):
    """``(batch, 8)`` output → input maps: rotation, scale, shear, shift, perspective."""
    angle = rng.uniform(-0.7, 0.7, batch)
    scale = rng.uniform(0.7, 1.4, batch)
    shear = rng.uniform(-0.3, 0.3, batch)
    t = np.zeros((batch, 8), np.float32)
    t[:, 0] = scale * np.cos(angle)
    t[:, 1] = -scale * np.sin(angle) + shear
    t[:, 2] = rng.uniform(-4.0, 4.0, batch)
    t[:, 3] = scale * np.sin(angle)
    t[:, 4] = scale * np.cos(angle)
    t[:, 5] = rng.uniform(-4.0, 4.0, batch)
    t[:, 6:] = rng.uniform(-0.02, 0.02, (batch, 2))
    return t


def _reference(images, transforms, output_size, fill_mode, interpolation, fill_value=FILL):
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=list(output_size),
        fill_value=np.float32(fill_value), interpolation=interpolation.upper(), fill_mode=fill_mode.upper(),
    ).numpy()  # fmt: skip


def _outside_fraction(transforms, output_size, height, width):
    """Fraction of output pixels whose input point lies outside the image (the fill matters there)."""
    ys, xs = np.meshgrid(np.arange(output_size[0]), np.arange(output_size[1]), indexing="ij")
    t = transforms[:, :, None, None]
    k = t[:, 6] * xs + t[:, 7] * ys + 1.0
    x = (t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / k
    y = (t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / k
    return float(np.mean((x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)))


@pytest.mark.parametrize("output_size", [(9, 11), (7, 13), (14, 6)], ids=["same", "wider", "taller"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["constant", "nearest"])
def test_warp_matches_image_projective_transform_under_xla(fill_mode, interpolation, output_size):
    rng = np.random.default_rng(zlib.crc32(repr((fill_mode, interpolation, output_size)).encode()))
    images = rng.random((5, 9, 11, 3)).astype(np.float32)
    transforms = _random_transforms(rng, 5)
    assert 0.05 < _outside_fraction(transforms, output_size, 9, 11) < 0.95  # the fill mode is exercised

    @tf.function(jit_compile=True)
    def warp(x, t):
        return projective_warp(x, t, output_size=output_size, fill_mode=fill_mode, fill_value=FILL,
                               interpolation=interpolation)  # fmt: skip

    ours = warp(images, transforms).numpy()
    expected = _reference(images, transforms, output_size, fill_mode, interpolation)
    assert ours.shape == expected.shape == (5, *output_size, 3)
    assert ours.dtype == np.float32
    if interpolation == "nearest":
        np.testing.assert_array_equal(ours, expected)
    else:
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
    if fill_mode == "constant":
        assert np.any(expected == np.float32(FILL))
    else:
        assert not np.any(expected == np.float32(FILL))


def test_warp_with_dynamic_shapes_and_tensor_output_size_compiles():
    rng = np.random.default_rng(3)
    images = rng.random((3, 10, 8, 2)).astype(np.float32)
    transforms = _random_transforms(rng, 3)

    @tf.function(jit_compile=True, input_signature=[
        tf.TensorSpec((None, None, None, 2), tf.float32), tf.TensorSpec((None, 8), tf.float32)])  # fmt: skip
    def warp(x, t):
        size = tf.shape(x)[1:3] + tf.constant([2, -1])
        return projective_warp(x, t, output_size=size, fill_value=FILL)

    ours = warp(images, transforms).numpy()
    np.testing.assert_allclose(ours, _reference(images, transforms, (12, 7), "constant", "bilinear"), atol=1e-5)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64])
def test_nearest_keeps_integer_masks_integer(dtype):
    rng = np.random.default_rng(5)
    masks = rng.integers(1, 7, (4, 9, 11, 2)).astype(dtype)
    transforms = _random_transforms(rng, 4)
    warp = tf.function(lambda m, t: projective_warp(m, t, output_size=(8, 12), interpolation="nearest"),
                       jit_compile=True)  # fmt: skip
    ours = warp(masks, transforms).numpy()
    assert ours.dtype == dtype
    expected = _reference(masks.astype(np.float32), transforms, (8, 12), "constant", "nearest", fill_value=0)
    np.testing.assert_array_equal(ours, expected.astype(dtype))
    assert np.any(ours == 0)  # pixels from outside got the fill value, the masks had none


def test_integer_shift_moves_pixels_exactly_and_a_single_map_is_broadcast():
    rng = np.random.default_rng(7)
    images = rng.random((2, 6, 7, 1)).astype(np.float32)
    shift = np.array([1, 0, 2, 0, 1, -1, 0, 0], np.float32)  # output (x, y) reads input (x + 2, y - 1)
    ours = projective_warp(images, shift, fill_value=-1.0).numpy()
    expected = np.full_like(images, -1.0)
    expected[:, 1:, :-2] = images[:, :-1, 2:]
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(ours, projective_warp(images, np.stack([shift, shift]), fill_value=-1.0).numpy())


def test_upper_case_names_and_float16():
    rng = np.random.default_rng(9)
    images = rng.random((2, 8, 8, 3)).astype(np.float32)
    transforms = _random_transforms(rng, 2)
    lower = projective_warp(images, transforms, fill_mode="nearest", interpolation="bilinear").numpy()
    upper = projective_warp(images, transforms, fill_mode="NEAREST", interpolation="BILINEAR").numpy()
    np.testing.assert_array_equal(lower, upper)
    half = projective_warp(images.astype(np.float16), transforms, fill_mode="nearest")
    assert half.dtype == tf.float16
    np.testing.assert_allclose(half.numpy().astype(np.float32), lower, atol=2e-3)


_IMAGES = np.zeros((1, 4, 4, 1), np.float32)
_T = np.array([[1, 0, 0, 0, 1, 0, 0, 0]], np.float32)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: projective_warp(_IMAGES, _T, fill_mode="reflect"), ValueError, "fill_mode='reflect'.*constant, nearest"),
        (lambda: projective_warp(_IMAGES, _T, fill_mode=1), TypeError, "fill_mode must be a string"),
        (lambda: projective_warp(_IMAGES, _T, interpolation="cubic"), ValueError, "interpolation='cubic'"),
        (lambda: projective_warp(_IMAGES, _T, fill_value="black"), TypeError, "fill_value must be a number"),
        (lambda: projective_warp(_IMAGES, _T, fill_value=float("nan")), ValueError, "fill_value must be a finite"),
        (lambda: projective_warp(_IMAGES[0], _T), ValueError, r"images must have shape \(B, H, W, C\), got shape \(4, 4, 1\)"),
        (lambda: projective_warp(_IMAGES.astype(np.int32), _T), TypeError, "floating point.*int32"),
        (lambda: projective_warp(_IMAGES, _T[:, :6]), ValueError, r"transforms must have shape \(B, 8\).*\(1, 6\)"),
        (lambda: projective_warp(_IMAGES, "shift"), TypeError, "transforms must be a float.*string"),
        (lambda: projective_warp(np.full((1, 2, 2, 1), "a"), _T, interpolation="nearest"), TypeError, "images must hold numbers"),
        (lambda: projective_warp(_IMAGES, _T, output_size=(0, 4)), ValueError, "output_size"),
        (lambda: projective_warp(_IMAGES, _T, output_size=(4.0, 4)), TypeError, "output_size"),
        (lambda: projective_warp(_IMAGES, _T, output_size=(4, 4, 4)), ValueError, "output_size"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
