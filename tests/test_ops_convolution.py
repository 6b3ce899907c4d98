"""cnncourse.ops convolution references vs the slides, SciPy, NumPy and Keras/TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse.ops import (
    col2im,
    convolve1d,
    convolve2d,
    cross_correlate1d,
    cross_correlate2d,
    cross_correlate2d_loops,
    im2col,
    pad_image,
)
from cnncourse.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow was imported quietly)

HYPOTHESIS = settings(max_examples=25, deadline=None)


def keras_conv(x, kernel, **kwargs):
    """``keras.ops.conv``, one image at a time.

    TensorFlow 2.21's oneDNN CPU kernel returns wrong values for some batched inputs (N > 1,
    one input channel, stride (1, s > 1), output width 1: e.g. x (2, 2, 3, 1), kernel
    (1, 2, 1, 1), strides (1, 2), "valid": every image after the first comes back wrong);
    with ``TF_ENABLE_ONEDNN_OPTS=0`` or one image per call it is right. So the reference
    convolves each image separately.
    """
    kernel = kernel.astype("float32")
    return np.concatenate([keras.ops.convert_to_numpy(keras.ops.conv(image[None].astype("float32"), kernel, **kwargs))
                           for image in x])


# --------------------------------------------------------------------------------------
# Worked examples of the decks
# --------------------------------------------------------------------------------------

DECK_003_IMAGE = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
DECK_003_KERNEL = [[0, 1, 2], [2, 2, 0], [0, 1, 2]]
DECK_003_OUTPUT = [[12, 12, 17], [10, 17, 19], [9, 6, 14]]

DECK_002_IMAGE = [[1, 4, 0, 2, 0], [5, 3, 0, 2, 1], [2, 0, 0, 1, 0], [1, 5, 3, 2, 0], [3, 0, 2, 0, 2]]
DECK_002_KERNEL = [[1, 0, 0], [0, 2, -1], [-1, 0, -2]]
DECK_002_OUTPUT = [[5, 0, 3], [-2, -7, -1], [2, 4, -2]]


@pytest.mark.parametrize("function", [cross_correlate2d, cross_correlate2d_loops])
def test_deck_003_cross_correlation_example(function):
    np.testing.assert_array_equal(function(DECK_003_IMAGE, DECK_003_KERNEL), DECK_003_OUTPUT)


@pytest.mark.parametrize("function", [cross_correlate2d, cross_correlate2d_loops])
def test_deck_002_example_is_a_cross_correlation(function):
    """Deck 002 calls it convolution, but its formula S(i,j) = sum I(m,n) K(m-i, n-j) slides the
    kernel without flipping it: a cross-correlation. The slide prints S(0,0) = 4, yet its own
    terms 1*1 + 3*2 + 2*(-1) add up to 5 (an erratum); the other eight entries match."""
    out = function(DECK_002_IMAGE, DECK_002_KERNEL)
    np.testing.assert_array_equal(out, DECK_002_OUTPUT)
    assert out[0, 0] == 1 * 1 + 3 * 2 + 2 * (-1) == 5
    # True convolution (flipped kernel) does not reproduce the slide.
    assert not np.array_equal(convolve2d(DECK_002_IMAGE, DECK_002_KERNEL), DECK_002_OUTPUT)


def deck_000_image():
    """Deck 000's 10x10 image: a 5x5 block of 90s with one 0 inside, and one stray 90."""
    image = np.zeros((10, 10))
    image[2:7, 3:8] = 90
    image[5, 4] = 0
    image[8, 2] = 90
    return image


def test_deck_000_image_matches_the_slide_table():
    rows = [
        "0 0 0 0 0 0 0 0 0 0",
        "0 0 0 0 0 0 0 0 0 0",
        "0 0 0 90 90 90 90 90 0 0",
        "0 0 0 90 90 90 90 90 0 0",
        "0 0 0 90 90 90 90 90 0 0",
        "0 0 0 90 0 90 90 90 0 0",
        "0 0 0 90 90 90 90 90 0 0",
        "0 0 0 0 0 0 0 0 0 0",
        "0 0 90 0 0 0 0 0 0 0",
        "0 0 0 0 0 0 0 0 0 0",
    ]
    np.testing.assert_array_equal(deck_000_image(), [[int(v) for v in row.split()] for row in rows])


def test_deck_000_box_filter_table():
    expected = [
        [0, 10, 20, 30, 30, 30, 20, 10],
        [0, 20, 40, 60, 60, 60, 40, 20],
        [0, 30, 60, 90, 90, 90, 60, 30],
        [0, 30, 50, 80, 80, 90, 60, 30],
        [0, 30, 50, 80, 80, 90, 60, 30],
        [0, 20, 30, 50, 50, 60, 40, 20],
        [10, 20, 30, 30, 30, 30, 20, 10],
        [10, 10, 10, 0, 0, 0, 0, 0],
    ]
    box = np.ones((3, 3)) / 9
    out = cross_correlate2d(deck_000_image(), box)
    assert out.shape == (8, 8)
    np.testing.assert_allclose(out, expected, atol=1e-9)
    np.testing.assert_allclose(out[0], [0, 10, 20, 30, 30, 30, 20, 10], atol=1e-9)


def test_seven_by_seven_input_three_by_three_filter_gives_five_by_five():
    assert cross_correlate2d(np.ones((7, 7)), np.ones((3, 3))).shape == (5, 5)


# --------------------------------------------------------------------------------------
# SciPy and NumPy
# --------------------------------------------------------------------------------------


@HYPOTHESIS
@given(h=st.integers(3, 9), w=st.integers(3, 9), kh=st.integers(1, 3), kw=st.integers(1, 3),
       seed=st.integers(0, 2**31 - 1))
def test_2d_matches_scipy_signal_valid_and_full(h, w, kh, kw, seed):
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
    for mode in ("valid", "full"):
        np.testing.assert_allclose(cross_correlate2d(image, kernel, padding=mode),
                                   scipy.signal.correlate2d(image, kernel, mode=mode), atol=1e-12)
        np.testing.assert_allclose(convolve2d(image, kernel, padding=mode),
                                   scipy.signal.convolve2d(image, kernel, mode=mode), atol=1e-12)


@pytest.mark.parametrize("kernel_shape", [(3, 3), (1, 5), (5, 3)])
def test_2d_same_padding_with_odd_kernels_matches_scipy(kernel_shape):
    rng = np.random.default_rng(1)
    image, kernel = rng.normal(size=(7, 8)), rng.normal(size=kernel_shape)
    np.testing.assert_allclose(cross_correlate2d(image, kernel, padding="same"),
                               scipy.signal.correlate2d(image, kernel, mode="same"), atol=1e-12)
    np.testing.assert_allclose(convolve2d(image, kernel, padding="same"),
                               scipy.signal.convolve2d(image, kernel, mode="same"), atol=1e-12)


@pytest.mark.parametrize(
    "padding_mode, scipy_mode",
    [("zero", "constant"), ("wrap", "grid-wrap"), ("replicate", "nearest"), ("reflect", "mirror")],
)
def test_padding_modes_match_scipy_ndimage(padding_mode, scipy_mode):
    rng = np.random.default_rng(2)
    image, kernel = rng.normal(size=(6, 7)), rng.normal(size=(3, 5))
    ours = cross_correlate2d(image, kernel, padding="same", padding_mode=padding_mode)
    theirs = scipy.ndimage.correlate(image, kernel, mode=scipy_mode)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_pad_image_modes_on_a_row():
    row = np.array([[1, 2, 3, 4]])
    pads = ((0, 0), (2, 2))
    np.testing.assert_array_equal(pad_image(row, pads, "zero"), [[0, 0, 1, 2, 3, 4, 0, 0]])
    np.testing.assert_array_equal(pad_image(row, pads, "wrap"), [[3, 4, 1, 2, 3, 4, 1, 2]])
    np.testing.assert_array_equal(pad_image(row, pads, "replicate"), [[1, 1, 1, 2, 3, 4, 4, 4]])
    np.testing.assert_array_equal(pad_image(row, pads, "reflect"), [[3, 2, 1, 2, 3, 4, 3, 2]])
    tf_reflect = tf.pad(tf.constant(row), [[0, 0], [2, 2]], mode="REFLECT").numpy()
    np.testing.assert_array_equal(pad_image(row, pads, "reflect"), tf_reflect)


@HYPOTHESIS
@given(length=st.integers(1, 12), k=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_1d_matches_numpy_convolve_and_correlate(length, k, seed):
    rng = np.random.default_rng(seed)
    signal, kernel = rng.normal(size=length), rng.normal(size=k)
    np.testing.assert_allclose(convolve1d(signal, kernel, padding="full"), np.convolve(signal, kernel, "full"),
                               atol=1e-12)
    if length >= k:
        np.testing.assert_allclose(convolve1d(signal, kernel), np.convolve(signal, kernel, "valid"), atol=1e-12)
        np.testing.assert_allclose(cross_correlate1d(signal, kernel), np.correlate(signal, kernel, "valid"),
                                   atol=1e-12)


def test_true_convolution_is_commutative_and_cross_correlation_is_not():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    np.testing.assert_allclose(convolve2d(a, b, padding="full"), convolve2d(b, a, padding="full"), atol=1e-12)
    assert not np.allclose(cross_correlate2d(a, b, padding="full"), cross_correlate2d(b, a, padding="full"))
    x, k = rng.normal(size=9), rng.normal(size=4)
    np.testing.assert_allclose(convolve1d(x, k, padding="full"), convolve1d(k, x, padding="full"), atol=1e-12)


# --------------------------------------------------------------------------------------
# Keras / TensorFlow
# --------------------------------------------------------------------------------------


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    # TensorFlow refuses stride > 1 together with dilation > 1 (tested separately below)
    dilation = (1, 1) if max(stride) > 1 else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    h = (kh - 1) * dilation[0] + 1 + draw(st.integers(0, 5))
    w = (kw - 1) * dilation[1] + 1 + draw(st.integers(0, 5))
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**31 - 1))
    return n, h, w, cin, cout, kh, kw, stride, dilation, padding, groups, seed


@HYPOTHESIS
@given(case=conv_cases())
def test_matches_keras_ops_conv_on_random_shapes(case):
    n, h, w, cin, cout, kh, kw, stride, dilation, padding, groups, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, h, w, cin)).astype("float32")
    kernel = rng.normal(size=(kh, kw, cin // groups, cout)).astype("float32")
    ours = cross_correlate2d(x, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if groups == 1:
        theirs = keras_conv(x, kernel, strides=stride, padding=padding, dilation_rate=dilation)
    else:  # independent reference: one Keras convolution per group, concatenated
        cin_g, cout_g = cin // groups, cout // groups
        theirs = np.concatenate([
            keras_conv(x[..., g * cin_g:(g + 1) * cin_g], kernel[..., g * cout_g:(g + 1) * cout_g],
                       strides=stride, padding=padding, dilation_rate=dilation)
            for g in range(groups)
        ], axis=-1)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_groups_match_keras_grouped_conv_and_depthwise_conv():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 7, 6, 4)).astype("float32")
    grouped_kernel = rng.normal(size=(3, 3, 2, 6)).astype("float32")
    np.testing.assert_allclose(cross_correlate2d(x, grouped_kernel, groups=2), keras_conv(x, grouped_kernel),
                               rtol=1e-4, atol=1e-4)
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)
    expected = keras.ops.convert_to_numpy(depthwise(x))
    dw_kernel = depthwise.get_weights()[0]  # (3, 3, Cin, multiplier): output channel c * multiplier + m
    ours = cross_correlate2d(x, dw_kernel.reshape(3, 3, 1, 8), groups=4)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_stride_and_dilation_together():
    """TensorFlow does not run stride > 1 with dilation > 1; a strided convolution is the
    stride-1 one sampled every ``stride`` pixels."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 13, 12, 3)).astype("float32")
    kernel = rng.normal(size=(3, 2, 3, 4)).astype("float32")
    ours = cross_correlate2d(x, kernel, stride=(2, 3), dilation=(2, 3))
    theirs = keras_conv(x, kernel, dilation_rate=(2, 3))[:, ::2, ::3, :]
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    loops = cross_correlate2d_loops(x, kernel, stride=(2, 3), dilation=(2, 3))
    np.testing.assert_allclose(loops, theirs, rtol=1e-4, atol=1e-4)


def test_matches_conv2d_layer_with_copied_weights_and_bias():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 9, 8, 3)).astype("float32")
    layer = keras.layers.Conv2D(5, (3, 2), strides=2, padding="same", bias_initializer="random_normal")
    expected = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = layer.get_weights()
    for function in (cross_correlate2d, cross_correlate2d_loops):
        np.testing.assert_allclose(function(x, kernel, stride=2, padding="same", bias=bias), expected,
                                   rtol=1e-4, atol=1e-4)


def test_1d_with_channels_matches_keras_conv1d():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 15, 3)).astype("float32")
    layer = keras.layers.Conv1D(4, 3, strides=2, padding="same", use_bias=False)
    strided = keras.ops.convert_to_numpy(layer(x))
    kernel = layer.get_weights()[0]  # (K, Cin, Cout)
    np.testing.assert_allclose(cross_correlate1d(x, kernel, stride=2, padding="same"), strided, rtol=1e-4, atol=1e-4)
    dilated = keras.layers.Conv1D(4, 3, dilation_rate=3, padding="same", use_bias=False)
    expected = keras.ops.convert_to_numpy(dilated(x))
    np.testing.assert_allclose(cross_correlate1d(x, dilated.get_weights()[0], dilation=3, padding="same"), expected,
                               rtol=1e-4, atol=1e-4)
    # a single example (L, C) with a (K, C) kernel: one output channel, its axis dropped
    single = cross_correlate1d(x[0], kernel[..., 0], stride=2, padding="same")
    assert single.shape == (8,)
    np.testing.assert_allclose(single, strided[0, :, 0], rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------
# Loops vs vectorised, im2col, properties
# --------------------------------------------------------------------------------------


@HYPOTHESIS
@given(extra_h=st.integers(0, 4), extra_w=st.integers(0, 4), cin=st.integers(1, 2), cout=st.integers(1, 2),
       k=st.integers(1, 3), stride=st.integers(1, 2), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same", "full", 1, (0, 2)]),
       padding_mode=st.sampled_from(["zero", "wrap", "replicate", "reflect"]), seed=st.integers(0, 2**31 - 1))
def test_loops_and_vectorised_agree(extra_h, extra_w, cin, cout, k, stride, dilation, padding, padding_mode, seed):
    # inputs at least as large as the dilated kernel (and 3), so that even reflect padding fits
    h, w = max((k - 1) * dilation + 1, 3) + extra_h, max((k - 1) * dilation + 1, 3) + extra_w
    rng = np.random.default_rng(seed)
    x, kernel = rng.normal(size=(h, w, cin)), rng.normal(size=(k, k, cin, cout))
    kwargs = dict(stride=stride, padding=padding, padding_mode=padding_mode, dilation=dilation)
    np.testing.assert_allclose(cross_correlate2d(x, kernel, **kwargs), cross_correlate2d_loops(x, kernel, **kwargs),
                               atol=1e-10)


def test_im2col_times_kernel_is_the_convolution_and_col2im_is_its_transpose():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 6, 7, 3))
    kernel = rng.normal(size=(3, 2, 3, 4))
    kwargs = dict(stride=(2, 1), padding="same", dilation=(1, 2))
    cols = im2col(x, (3, 2), **kwargs)
    expected = keras_conv(x, kernel, strides=(2, 1), padding="same")  # stride only (TF)
    cols_no_dilation = im2col(x, (3, 2), stride=(2, 1), padding="same")
    np.testing.assert_allclose((cols_no_dilation @ kernel.reshape(-1, 4)).reshape(expected.shape), expected,
                               rtol=1e-4, atol=1e-4)
    # adjoint: <im2col(x), c> == <x, col2im(c)>
    c = rng.normal(size=cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * col2im(c, x.shape, (3, 2), **kwargs))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_col2im_matches_the_gradient_of_tf_extract_patches():
    rng = np.random.default_rng(9)
    x = tf.constant(rng.normal(size=(1, 6, 5, 2)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        patches = tf.image.extract_patches(x, sizes=[1, 3, 2, 1], strides=[1, 2, 1, 1], rates=[1, 1, 1, 1],
                                           padding="VALID")  # (1, OH, OW, KH*KW*C), order (kh, kw, c)
        upstream = tf.constant(rng.normal(size=patches.shape).astype("float32"))
        loss = tf.reduce_sum(patches * upstream)
    grad = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(im2col(x.numpy(), (3, 2), stride=(2, 1)), patches.numpy().reshape(-1, 12), atol=1e-6)
    ours = col2im(upstream.numpy().reshape(-1, 12), (1, 6, 5, 2), (3, 2), stride=(2, 1))
    np.testing.assert_allclose(ours, grad, rtol=1e-5, atol=1e-5)


@HYPOTHESIS
@given(shift_rows=st.integers(-4, 4), shift_cols=st.integers(-4, 4), seed=st.integers(0, 2**31 - 1))
def test_translation_equivariance(shift_rows, shift_cols, seed):
    """Shift the input, the output shifts by the same amount (exactly, with wrap-around borders)."""
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(9, 10, 2)), rng.normal(size=(3, 3, 2, 3))
    shift = lambda a: np.roll(a, (shift_rows, shift_cols), axis=(0, 1))  # noqa: E731
    out_of_shifted = cross_correlate2d(shift(image), kernel, padding="same", padding_mode="wrap")
    shifted_out = shift(cross_correlate2d(image, kernel, padding="same", padding_mode="wrap"))
    np.testing.assert_allclose(out_of_shifted, shifted_out, atol=1e-12)


def test_layouts_and_dtypes():
    rng = np.random.default_rng(10)
    hwc = rng.normal(size=(6, 6, 3))
    k4 = rng.normal(size=(3, 3, 3, 2))
    k3 = k4[..., 0]
    assert cross_correlate2d(hwc, k4).shape == (4, 4, 2)
    assert cross_correlate2d(hwc[None], k4).shape == (1, 4, 4, 2)
    np.testing.assert_allclose(cross_correlate2d(hwc, k3), cross_correlate2d(hwc, k4)[..., 0], rtol=1e-6)
    assert cross_correlate2d(hwc[None], k3).shape == (1, 4, 4)
    # multi-channel input: one kernel per channel, the results summed
    per_channel = sum(cross_correlate2d(hwc[..., c], k3[..., c]) for c in range(3))
    np.testing.assert_allclose(cross_correlate2d(hwc, k3), per_channel, rtol=1e-5, atol=1e-5)
    assert cross_correlate2d(hwc.astype("float32"), k4.astype("float32")).dtype == np.float32
    assert cross_correlate2d(np.ones((4, 4), dtype=int), np.ones((2, 2), dtype=int)).dtype == np.float64


def test_one_by_one_convolution_mixes_channels_at_each_pixel():
    rng = np.random.default_rng(11)
    x, mix = rng.normal(size=(5, 4, 6)), rng.normal(size=(6, 3))
    np.testing.assert_allclose(cross_correlate2d(x, mix.reshape(1, 1, 6, 3)), x @ mix, atol=1e-12)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: cross_correlate2d(np.ones((5, 5)), np.ones((3, 3, 1, 1))), ValueError, r"2D image \(H, W\) needs a 2D kernel"),
        (lambda: cross_correlate2d(np.ones((5, 5, 3)), np.ones((3, 3, 2, 4))), ValueError, r"kernel\.shape\[2\] must be"),
        (lambda: cross_correlate2d(np.ones((5, 5, 4)), np.ones((3, 3, 2, 3)), groups=2), ValueError, "output channels"),
        (lambda: cross_correlate2d(np.ones((2, 2)), np.ones((3, 3))), ValueError, "does not fit"),
        (lambda: cross_correlate2d(np.ones((5, 5)), np.ones((3, 3)), stride=0), ValueError, "stride must be"),
        (lambda: cross_correlate2d(np.ones((5, 5)), np.ones((3, 3)), padding="half"), ValueError, "padding='half' is not a known padding"),
        (lambda: cross_correlate2d(np.ones((5, 5)), np.ones((3, 3)), padding_mode="mirror"), ValueError,
         "padding_mode='mirror' is not a known padding mode; known: zero, wrap, replicate, reflect"),
        (lambda: cross_correlate2d(np.ones((5, 5)), np.ones((3, 3)), stride="2"), TypeError, "stride must be a positive int"),
        (lambda: cross_correlate2d(np.ones((5, 5)), np.ones((3, 3)), stride=(1, 1, 1)), ValueError, "sequence of 2"),
        (lambda: cross_correlate2d(np.ones((5, 5)), np.ones((3, 3)), groups=1.0), TypeError, "groups must be an integer"),
        (lambda: cross_correlate2d(np.ones(5), np.ones(3)), ValueError, r"image must have shape"),
        (lambda: cross_correlate2d(np.ones((5, 5, 2)), np.ones((3, 3, 2, 2)), bias=[1.0]), ValueError, r"bias must have shape"),
        (lambda: cross_correlate1d(np.ones(5), np.ones((3, 1))), ValueError, r"1D signal \(L,\) needs a 1D kernel"),
        (lambda: cross_correlate2d([["a"]], [[1]]), TypeError, r"image must be a numeric array .*got dtype <U1"),
        (lambda: cross_correlate2d([[1, 2], [3]], [[1]]), ValueError, "image must be a rectangular array"),
        (lambda: col2im(np.ones((4, 3)), (3, 3), 2), ValueError, "cols must have shape"),
    ],
)
def test_clear_errors(call, error, message):
    """A wrong type raises TypeError, a wrong value ValueError; the message names the argument."""
    with pytest.raises(error, match=message) as info:
        call()
    assert type(info.value) is error
