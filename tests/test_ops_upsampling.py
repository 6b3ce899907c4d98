"""cnncourse.ops unpooling, transposed convolution and convolution matrices vs the slides and Keras/TF."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse.ops import (
    bed_of_nails_unpool2d,
    conv1d_matrix,
    conv_transpose1d,
    conv_transpose2d,
    cross_correlate1d,
    cross_correlate2d,
    max_pool2d,
    max_pool2d_backward,
    max_unpool2d,
    nearest_unpool2d,
    resolve_padding_2d,
)
from cnncourse.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

HYPOTHESIS = settings(max_examples=25, deadline=None)


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def layer_with_kernel(layer, kernel, input_shape):
    """Build ``layer`` for ``input_shape`` and set its kernel (and a zero bias)."""
    layer.build(input_shape)
    weights = [np.asarray(kernel, "float32")] + ([np.zeros(layer.filters, "float32")] if layer.use_bias else [])
    layer.set_weights(weights)
    return layer


# --------------------------------------------------------------------------------------
# Unpooling (deck 001)
# --------------------------------------------------------------------------------------


def test_deck_001_nearest_neighbour():
    np.testing.assert_array_equal(nearest_unpool2d([[1, 2], [3, 4]]),
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def test_deck_001_bed_of_nails():
    np.testing.assert_array_equal(bed_of_nails_unpool2d([[1, 2], [3, 4]]),
                                  [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


def test_deck_001_max_unpooling_remembers_the_positions_of_the_maxima():
    """Deck 001: max pooling [[1,2,6,3],[3,5,2,1],[1,2,2,1],[7,3,4,8]] gives [[5,6],[7,8]] and
    remembers where each max was; the decoder's values [[1,2],[3,4]] are put back there."""
    pooled_input = [[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]]
    pooled, where = max_pool2d(pooled_input, return_indices=True)
    np.testing.assert_array_equal(pooled, [[5, 6], [7, 8]])
    np.testing.assert_array_equal(max_unpool2d([[1, 2], [3, 4]], where, (4, 4)),
                                  [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]])


def test_nearest_matches_keras_upsampling_and_a_transposed_conv_of_ones():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype("float32")
    expected = to_numpy(keras.layers.UpSampling2D((2, 3), interpolation="nearest")(x))
    np.testing.assert_array_equal(nearest_unpool2d(x, (2, 3)), expected)
    ones = np.zeros((2, 2, 2, 2), "float32")
    ones[:, :, 0, 0] = ones[:, :, 1, 1] = 1  # each channel stamps a 2x2 block of ones onto itself
    layer = layer_with_kernel(keras.layers.Conv2DTranspose(2, 2, strides=2), ones, x.shape)
    np.testing.assert_allclose(nearest_unpool2d(x), to_numpy(layer(x)), atol=1e-6)


def test_bed_of_nails_is_a_transposed_conv_with_a_one_hot_kernel():
    x = np.random.default_rng(1).normal(size=(1, 3, 3, 1)).astype("float32")
    nail = np.zeros((2, 2, 1, 1), "float32")
    nail[0, 0] = 1
    layer = layer_with_kernel(keras.layers.Conv2DTranspose(1, 2, strides=2), nail, x.shape)
    np.testing.assert_allclose(bed_of_nails_unpool2d(x), to_numpy(layer(x)), atol=1e-6)


@HYPOTHESIS
@given(n=st.integers(1, 2), oh=st.integers(1, 4), ow=st.integers(1, 4), c=st.integers(1, 3),
       seed=st.integers(0, 2**31 - 1))
def test_max_unpool_matches_tf_argmax_scatter(n, oh, ow, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.permutation(n * 2 * oh * 2 * ow * c).reshape(n, 2 * oh, 2 * ow, c).astype("float32")
    values = rng.normal(size=(n, oh, ow, c)).astype("float32")
    _, argmax = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=True)
    expected = tf.scatter_nd(tf.reshape(argmax, (-1, 1)), tf.reshape(values, (-1,)), [x.size])
    expected = tf.reshape(expected, x.shape).numpy()
    _, indices = max_pool2d(x, return_indices=True)
    np.testing.assert_array_equal(max_unpool2d(values, indices, (2 * oh, 2 * ow)), expected)
    np.testing.assert_array_equal(max_unpool2d(values, indices, x.shape[1:3]), max_pool2d_backward(x, values))


# --------------------------------------------------------------------------------------
# The matrix of a 1D convolution (deck 001)
# --------------------------------------------------------------------------------------

DECK_001_W_STRIDE_1 = [
    ["x", "y", "z", 0, 0, 0],
    [0, "x", "y", "z", 0, 0],
    [0, 0, "x", "y", "z", 0],
    [0, 0, 0, "x", "y", "z"],
]
DECK_001_W_STRIDE_2 = [
    ["x", "y", "z", 0, 0, 0],
    [0, 0, "x", "y", "z", 0],
]


def test_deck_001_symbolic_matrices():
    w1 = conv1d_matrix(["x", "y", "z"], 4, stride=1, padding=1)
    w2 = conv1d_matrix(["x", "y", "z"], 4, stride=2, padding=1)
    assert w1.tolist() == DECK_001_W_STRIDE_1
    assert w2.tolist() == DECK_001_W_STRIDE_2
    # the slides' transposes
    assert w1.T.tolist() == [["x", 0, 0, 0], ["y", "x", 0, 0], ["z", "y", "x", 0], [0, "z", "y", "x"],
                             [0, 0, "z", "y"], [0, 0, 0, "z"]]
    assert w2.T.tolist() == [["x", 0], ["y", 0], ["z", "x"], [0, "y"], [0, "z"], [0, 0]]


X, Y, Z = 2.0, -3.0, 5.0  # numbers for the slides' x, y, z
A, B, C, D = 1.0, 7.0, -2.0, 3.0


@pytest.mark.parametrize("stride", [1, 2])
def test_deck_001_matrix_times_padded_input_is_the_convolution(stride):
    w = conv1d_matrix([X, Y, Z], 4, stride=stride, padding=1)
    a = np.array([A, B, C, D])
    padded = np.array([0, A, B, C, D, 0])
    slide = ([A * Y + B * Z, A * X + B * Y + C * Z, B * X + C * Y + D * Z, C * X + D * Y] if stride == 1
             else [A * Y + B * Z, B * X + C * Y + D * Z])
    np.testing.assert_allclose(w @ padded, slide)
    np.testing.assert_allclose(conv1d_matrix([X, Y, Z], 4, stride, 1, include_padding=False) @ a, slide)
    np.testing.assert_allclose(cross_correlate1d(a, [X, Y, Z], stride=stride, padding=1), slide)
    keras_out = keras.ops.conv(padded.reshape(1, 6, 1).astype("float32"),
                               np.array([X, Y, Z], "float32").reshape(3, 1, 1), strides=stride)
    np.testing.assert_allclose(to_numpy(keras_out).ravel(), slide, rtol=1e-6)


@pytest.mark.parametrize("stride, output_padding", [(1, None), (2, 1)])
def test_deck_001_transposed_matrix_is_conv1d_transpose(stride, output_padding):
    """Wᵀ of the slides (acting on 4 or 2 values, giving 6) is Keras's Conv1DTranspose with
    'valid' padding; for stride 2 the slide's trailing 0 is output_padding=1."""
    w = conv1d_matrix([X, Y, Z], 4, stride=stride, padding=1)
    y = np.array([A, B, C, D][: w.shape[0]])
    slide = ([A * X, A * Y + B * X, A * Z + B * Y + C * X, B * Z + C * Y + D * X, C * Z + D * Y, D * Z]
             if stride == 1 else [A * X, A * Y, A * Z + B * X, B * Y, B * Z, 0])
    np.testing.assert_allclose(w.T @ y, slide)
    layer = layer_with_kernel(
        keras.layers.Conv1DTranspose(1, 3, strides=stride, output_padding=output_padding, use_bias=False),
        np.array([X, Y, Z]).reshape(3, 1, 1), (1, len(y), 1))
    np.testing.assert_allclose(to_numpy(layer(y.reshape(1, -1, 1).astype("float32"))).ravel(), slide, rtol=1e-6)
    np.testing.assert_allclose(conv_transpose1d(y, [X, Y, Z], stride=stride, output_padding=output_padding), slide)
    # the same matrix without the padding columns is the transposed convolution with padding 1
    w_unpadded = conv1d_matrix([X, Y, Z], 4, stride=stride, padding=1, include_padding=False)
    np.testing.assert_allclose(
        conv_transpose1d(y, [X, Y, Z], stride=stride, padding=1, output_padding=output_padding), w_unpadded.T @ y)


@HYPOTHESIS
@given(length=st.integers(3, 9), k=st.integers(1, 3), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same", 0, 1, 2]), seed=st.integers(0, 2**31 - 1))
def test_conv1d_matrix_is_the_jacobian_of_a_keras_conv(length, k, stride, dilation, padding, seed):
    if stride > 1 and dilation > 1:
        dilation = 1  # TensorFlow refuses the combination
    explicit = 0 if padding in ("valid", "same") else padding
    if padding != "same" and (k - 1) * dilation + 1 > length + 2 * explicit:
        padding = "same"  # the kernel would not fit
    kernel = np.random.default_rng(seed).normal(size=k)
    w = conv1d_matrix(kernel, length, stride=stride, padding=padding, dilation=dilation, include_padding=False)
    layer = keras.layers.Conv1D(1, k, strides=stride, dilation_rate=dilation, use_bias=False,
                                padding=padding if isinstance(padding, str) else "valid")
    layer = layer_with_kernel(layer, kernel.reshape(k, 1, 1), (1, length + 2 * explicit, 1))
    x = tf.zeros((1, length, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        padded = x if isinstance(padding, str) else tf.pad(x, [[0, 0], [padding, padding], [0, 0]])
        out = layer(padded)
    jacobian = tape.jacobian(out, x).numpy().reshape(out.shape[1], length)
    np.testing.assert_allclose(w, jacobian, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------
# Transposed convolution vs Keras
# --------------------------------------------------------------------------------------


@st.composite
def transpose_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    output_padding = None
    if draw(st.booleans()):
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in stride)
        if padding == "same":
            # Keras's "same" size (I - 1) * S + K % 2 + P must map back to I (TensorFlow fails otherwise)
            lengths = [(i - 1) * s + k % 2 + p for i, s, k, p in zip((h, w), stride, (kh, kw), output_padding)]
            if any(-(-length // s) != i for length, s, i in zip(lengths, stride, (h, w))):
                output_padding = None
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, h, w, cin), (kh, kw, cout, cin), stride, padding, output_padding, draw(st.integers(0, 2**31 - 1))


@HYPOTHESIS
@given(case=transpose_cases())
def test_conv_transpose2d_matches_keras_layer(case):
    x_shape, k_shape, stride, padding, output_padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape).astype("float32")
    kernel = rng.normal(size=k_shape).astype("float32")
    bias = rng.normal(size=k_shape[2]).astype("float32")
    layer = keras.layers.Conv2DTranspose(k_shape[2], k_shape[:2], strides=stride, padding=padding,
                                         output_padding=output_padding)
    layer.build(x_shape)
    layer.set_weights([kernel, bias])
    expected = to_numpy(layer(x))
    ours = conv_transpose2d(x, kernel, stride=stride, padding=padding, output_padding=output_padding, bias=bias)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def _conv_transpose_brute_force(x, kernel, stride, dilation, padding):
    """Transposed convolution by its definition, one product at a time (the test's reference).

    Every input value x[n, i, j, ci] stamps kernel[a, b, co, ci] * x[n, i, j, ci] at
    (i * stride + a * dilation, j * stride + b * dilation); the full stamped map is then cropped
    to Keras's output size: "valid" keeps (in - 1) * stride + k_eff (+ max(k_eff, stride) - k_eff
    zeros), "same" keeps in * stride starting at the forward "same" padding of that length.
    """
    n, height, width, cin = x.shape
    kh, kw, cout, _ = kernel.shape
    (sh, sw), (dh, dw) = stride, dilation
    k_eff = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    full_h = (height - 1) * sh + k_eff[0] + max(k_eff[0], sh) - k_eff[0]
    full_w = (width - 1) * sw + k_eff[1] + max(k_eff[1], sw) - k_eff[1]
    full = np.zeros((n, full_h, full_w, cout))
    for b_, i, j, a, b, co, ci in np.ndindex(n, height, width, kh, kw, cout, cin):
        full[b_, i * sh + a * dh, j * sw + b * dw, co] += float(x[b_, i, j, ci]) * float(kernel[a, b, co, ci])
    if padding == "valid":
        return full
    crops = []
    for size, s, k in zip((height, width), (sh, sw), k_eff):
        length = size * s
        total = max((-(-length // s) - 1) * s + k - length, 0)
        crops.append((total // 2, length))
    (top, out_h), (left, out_w) = crops
    return full[:, top:top + out_h, left:left + out_w]


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride, dilation", [((1, 1), (2, 3)), ((2, 1), (2, 2)), ((1, 2), (3, 1))])
def test_conv_transpose2d_with_dilation_matches_the_brute_force(padding, stride, dilation):
    """Dilated transposed convolution against the product-by-product definition.

    Keras is not the reference here: ``keras.ops.conv_transpose`` with a dilation rate > 1 runs
    only where TensorFlow uses oneDNN (x86 CPUs with AVX-512); TensorFlow's own CPU kernel
    refuses it ("Current CPU implementations do not yet support dilation rates larger than 1").
    The brute force itself is checked against Keras without dilation (the next test), which
    every CPU computes.
    """
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 5, 2)).astype("float32")
    kernel = rng.normal(size=(3, 2, 3, 2)).astype("float32")
    expected = _conv_transpose_brute_force(x, kernel, stride, dilation, padding)
    ours = conv_transpose2d(x, kernel, stride=stride, padding=padding, dilation=dilation)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride, kernel_hw", [((1, 1), (3, 2)), ((2, 3), (3, 2)), ((3, 2), (1, 2))])
def test_the_transpose_brute_force_matches_keras_without_dilation(padding, stride, kernel_hw):
    """The reference of the dilation test uses Keras's layout and cropping rules."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 5, 2)).astype("float32")
    kernel = rng.normal(size=kernel_hw + (3, 2)).astype("float32")
    expected = to_numpy(keras.ops.conv_transpose(x, kernel, strides=stride, padding=padding))
    brute = _conv_transpose_brute_force(x, kernel, stride, (1, 1), padding)
    assert brute.shape == expected.shape
    np.testing.assert_allclose(brute, expected, rtol=1e-4, atol=1e-4)


@HYPOTHESIS
@given(h=st.integers(3, 9), w=st.integers(3, 9), k=st.integers(1, 3), stride=st.integers(1, 3),
       dilation=st.integers(1, 2), padding=st.sampled_from(["valid", "same", 0, 1, (1, 2)]),
       seed=st.integers(0, 2**31 - 1))
def test_conv_transpose_is_the_adjoint_of_the_convolution(h, w, k, stride, dilation, padding, seed):
    """<conv(a), b> == <a, conv_transpose(b)> for every a, b: the transposed convolution is Wᵀ."""
    if (k - 1) * dilation + 1 > min(h, w):
        k = 1
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(1, h, w, 2))
    kernel = rng.normal(size=(k, k, 2, 3))
    conv_a = cross_correlate2d(a, kernel, stride=stride, padding=padding, dilation=dilation)
    b = rng.normal(size=conv_a.shape)
    # the same padding as explicit amounts, and the output_padding that gives back the size of a
    pads = resolve_padding_2d(padding, (h, w), (k, k), (stride, stride), (dilation, dilation))
    full = [(o - 1) * stride + (k - 1) * dilation + 1 for o in conv_a.shape[1:3]]
    output_padding = tuple(size - (f - sum(p)) for size, f, p in zip((h, w), full, pads))
    transposed_b = conv_transpose2d(b, kernel, stride=stride, padding=pads, dilation=dilation,
                                    output_padding=output_padding)
    assert transposed_b.shape == a.shape
    np.testing.assert_allclose(np.sum(conv_a * b), np.sum(a * transposed_b), rtol=1e-9, atol=1e-9)


def test_checkerboard_of_stride_2_kernel_3_and_not_of_kernel_4():
    """Overlapping stamps add up: kernel 3, stride 2 gives uneven coverage (1, 2, 4 in a
    checkerboard); kernel 4, stride 2 covers the interior evenly."""
    ones = np.ones((6, 6))
    uneven = conv_transpose2d(ones, np.ones((3, 3)), stride=2)
    interior = uneven[2:-2, 2:-2]
    assert set(np.unique(interior)) == {1.0, 2.0, 4.0}
    np.testing.assert_array_equal(interior[:2, :2], [[4, 2], [2, 1]])
    period = np.tile(interior[:2, :2], (interior.shape[0], interior.shape[1]))
    np.testing.assert_array_equal(interior, period[: interior.shape[0], : interior.shape[1]])
    even = conv_transpose2d(ones, np.ones((4, 4)), stride=2)
    np.testing.assert_array_equal(np.unique(even[2:-2, 2:-2]), [4.0])


def test_single_pixel_stamps_the_kernel():
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(conv_transpose2d([[2.0]], kernel), 2 * kernel)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: max_unpool2d([[1, 2]], [[0, 9]], (2, 2)), ValueError, r"indices must lie in \[0, H \* W\)"),
        (lambda: max_unpool2d([[1, 2]], [[0.0, 1.0]], (2, 2)), TypeError, "indices must be an array of dtype int or unsigned int, got dtype float64"),
        (lambda: max_unpool2d([[1, 2]], [[0]], (2, 2)), ValueError, "indices must have the shape of x"),
        (lambda: conv_transpose2d(np.ones((2, 2, 3)), np.ones((3, 3, 1, 2))), ValueError, r"kernel must have shape"),
        (lambda: conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), stride=2, output_padding=2),
         ValueError, "output_padding must be smaller"),
        (lambda: conv_transpose2d(np.ones((2, 2)), np.ones((2, 2)), padding="same", output_padding=0),
         ValueError, "maps to 1, not to the input length 2"),
        (lambda: conv1d_matrix([[1, 2]], 4), ValueError, "kernel must be a non-empty 1D"),
        (lambda: conv1d_matrix([1, 2, 3], 1), ValueError, "does not fit"),
        (lambda: nearest_unpool2d(np.ones((2, 2)), 0), ValueError, "size must be"),
        (lambda: nearest_unpool2d(np.ones((2, 2)), "2"), TypeError, "size must be a positive int"),
        (lambda: conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), padding="full"), ValueError,
         "padding='full' is not a known padding; known: valid, same"),
        (lambda: conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), padding=(1, 1, 1)), ValueError,
         r"padding must be one of \('valid', 'same'\), an int, \(ph, pw\)"),
        (lambda: conv_transpose1d(np.ones(2), np.ones(3), padding="full"), ValueError, "padding='full' is not a known padding"),
        (lambda: conv_transpose1d(np.ones(2), np.ones(3), stride=np.int64(0)), ValueError, "stride must be a positive integer"),
    ],
)
def test_clear_errors(call, error, message):
    """A wrong type raises TypeError, a wrong value ValueError; the message names the argument."""
    with pytest.raises(error, match=message) as info:
        call()
    assert type(info.value) is error
