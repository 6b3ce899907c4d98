"""cnncourse.ops pooling references vs the slides and Keras/TensorFlow (forward, argmax, gradients)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse.ops import (
    average_pool2d,
    average_pool2d_backward,
    cross_channel_max_pool,
    max_pool2d,
    max_pool2d_backward,
)
from cnncourse.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

HYPOTHESIS = settings(max_examples=25, deadline=None)

DECK_001_MAP = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]


def test_deck_001_max_pooling_example():
    np.testing.assert_array_equal(max_pool2d(DECK_001_MAP, pool_size=2, stride=2), [[6, 8], [3, 4]])


def test_deck_001_average_pooling_example():
    np.testing.assert_allclose(average_pool2d(DECK_001_MAP), [[13 / 4, 21 / 4], [8 / 4, 8 / 4]])


def test_deck_001_backward_routes_to_the_argmax():
    grad = max_pool2d_backward(DECK_001_MAP, [[10, 20], [30, 40]])
    expected = [[0, 0, 0, 0], [0, 10, 0, 20], [30, 0, 0, 0], [0, 0, 0, 40]]
    np.testing.assert_array_equal(grad, expected)
    _, indices = max_pool2d(DECK_001_MAP, return_indices=True)
    np.testing.assert_array_equal(indices, [[1 * 4 + 1, 1 * 4 + 3], [2 * 4 + 0, 3 * 4 + 3]])


@st.composite
def pooling_cases(draw):
    pool = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = pool[0] + draw(st.integers(0, 5)), pool[1] + draw(st.integers(0, 5))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return (n, h, w, c), pool, stride, padding, draw(st.integers(0, 2**31 - 1))


@HYPOTHESIS
@given(case=pooling_cases())
def test_forward_matches_keras_layers(case):
    shape, pool, stride, padding, seed = case
    x = np.random.default_rng(seed).normal(size=shape).astype("float32")
    expected_max = keras.layers.MaxPooling2D(pool, strides=stride, padding=padding)(x)
    expected_avg = keras.layers.AveragePooling2D(pool, strides=stride, padding=padding)(x)
    np.testing.assert_allclose(max_pool2d(x, pool, stride, padding), keras.ops.convert_to_numpy(expected_max))
    np.testing.assert_allclose(average_pool2d(x, pool, stride, padding), keras.ops.convert_to_numpy(expected_avg),
                               rtol=1e-5, atol=1e-6)


def tf_pool_gradient(pool_function, x, upstream):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(pool_function(x) * upstream)
    return tape.gradient(loss, x).numpy()


@HYPOTHESIS
@given(case=pooling_cases())
def test_backward_matches_tf_gradient_tape(case):
    shape, pool, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.permutation(np.prod(shape)).reshape(shape).astype("float32")  # distinct values: no ties
    pooled = max_pool2d(x, pool, stride, padding)
    upstream = rng.normal(size=pooled.shape).astype("float32")
    expected = tf_pool_gradient(lambda t: keras.ops.max_pool(t, pool, stride, padding), x, upstream)
    np.testing.assert_allclose(max_pool2d_backward(x, upstream, pool, stride, padding), expected, rtol=1e-5,
                               atol=1e-6)
    expected = tf_pool_gradient(lambda t: keras.ops.average_pool(t, pool, stride, padding), x, upstream)
    np.testing.assert_allclose(average_pool2d_backward(x, upstream, pool, stride, padding), expected, rtol=1e-5,
                               atol=1e-6)


@HYPOTHESIS
@given(case=pooling_cases())
def test_indices_match_tf_max_pool_with_argmax(case):
    shape, pool, stride, padding, seed = case
    x = np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape).astype("float32")
    values, argmax = tf.nn.max_pool_with_argmax(x, pool, stride, padding.upper())
    # TensorFlow's flat index is (row * W + col) * C + c within one image; ours is row * W + col
    pooled, indices = max_pool2d(x, pool, stride, padding, return_indices=True)
    np.testing.assert_array_equal(pooled, values.numpy())
    np.testing.assert_array_equal(indices, argmax.numpy() // shape[-1])


def test_backward_with_overlapping_windows_adds_up():
    x = np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], dtype=float)
    grad = max_pool2d_backward(x, np.ones((2, 2)), pool_size=2, stride=1)
    np.testing.assert_array_equal(grad, [[0, 0, 0], [0, 4, 0], [0, 0, 0]])


def test_layouts_and_integer_input():
    x = np.arange(2 * 6 * 4 * 3).reshape(2, 6, 4, 3)
    assert max_pool2d(x).shape == (2, 3, 2, 3)
    assert max_pool2d(x[0]).shape == (3, 2, 3)
    assert max_pool2d(x[0], padding="same", pool_size=4).dtype == x.dtype
    np.testing.assert_array_equal(max_pool2d(x[0, :, :, 1]), max_pool2d(x[0])[..., 1])


def test_max_pooling_is_invariant_to_small_shifts_and_the_feature_map_is_not():
    feature_map = np.zeros((8, 8))
    feature_map[2, 2] = 1.0
    shifted = np.roll(feature_map, 1, axis=1)  # moves the peak from column 2 to 3, same 4x4 cell
    assert not np.array_equal(feature_map, shifted)
    np.testing.assert_array_equal(max_pool2d(feature_map, 4), max_pool2d(shifted, 4))


def test_cross_channel_max_pool():
    x = np.array([[[1, 5, 2, 2, 7, 0]]])
    np.testing.assert_array_equal(cross_channel_max_pool(x, 2), [[[5, 2, 7]]])
    np.testing.assert_array_equal(cross_channel_max_pool(x, 3), [[[5, 7]]])
    rng = np.random.default_rng(0)
    y = rng.normal(size=(2, 3, 4, 6))
    expected = np.maximum(np.maximum(y[..., 0::3], y[..., 1::3]), y[..., 2::3])
    np.testing.assert_array_equal(cross_channel_max_pool(y, 3), expected)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: max_pool2d(np.ones((3, 3)), 4), ValueError, "larger than the input"),
        (lambda: max_pool2d(np.ones((4, 4)), 2, padding="full"), ValueError, "padding='full' is not a known padding; known: valid, same"),
        (lambda: max_pool2d(np.ones((4, 4)), 2, padding=1), TypeError, "padding must be a string, one of valid, same"),
        (lambda: max_pool2d(np.ones((4, 4)), 2.0), TypeError, "pool_size must be a positive int"),
        (lambda: max_pool2d(np.ones(4)), ValueError, "x must have shape"),
        (lambda: max_pool2d(np.ones((4, 4)), 0), ValueError, "pool_size must be"),
        (lambda: max_pool2d_backward(np.ones((4, 4)), np.ones((3, 3))), ValueError, r"grad_output must have .* \(2, 2\)"),
        (lambda: cross_channel_max_pool(np.ones((2, 2, 5)), 2), ValueError, "must divide"),
    ],
)
def test_clear_errors(call, error, message):
    """A wrong type raises TypeError, a wrong value ValueError; the message names the argument."""
    with pytest.raises(error, match=message) as info:
        call()
    assert type(info.value) is error
