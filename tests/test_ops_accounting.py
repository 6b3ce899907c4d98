"""cnncourse.ops accounting vs the lecture numbers, Keras layers and gradients of real Keras models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse.ops import (
    LayerSpec,
    ReceptiveField,
    conv_macs,
    conv_output_size,
    conv_params,
    dense_params,
    locally_connected_params,
    receptive_field,
    receptive_field_of_model,
    separable_conv_macs,
    separable_conv_params,
)
from cnncourse.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402
from keras import layers  # noqa: E402

HYPOTHESIS = settings(max_examples=25, deadline=None)


# --------------------------------------------------------------------------------------
# Numbers from the decks
# --------------------------------------------------------------------------------------


def test_dense_layer_on_images_decks_000_and_003():
    assert dense_params((400, 400, 3), 500) == 240_000_500
    assert dense_params((640, 480, 3), 1000) == 921_601_000  # deck 003's "922M"
    assert dense_params(400 * 400 * 3, 500, use_bias=False) == 240_000_000


def test_conv_params_deck_002():
    assert conv_params(3, in_channels=3, out_channels=10, use_bias=False) == 270
    assert conv_params(3, 3, 10) == (3 * 3 * 3 + 1) * 10


def test_fully_vs_locally_connected_vs_convolution_deck_004():
    """Deck 004: 400,000 hidden units, fully connected = 16 billion, locally connected with 10x10
    fields = 40 million. 16e9 / 400,000 = 40,000 inputs: a 200x200 grey image. With the same
    400,000 units as 10 feature maps of 200x200, a convolution shares one 10x10 kernel per map."""
    assert dense_params((200, 200), 400_000, use_bias=False) == 16_000_000_000
    assert locally_connected_params(400_000, 10) == 40_000_000
    assert conv_params(10, in_channels=1, out_channels=10, use_bias=False) == 1_000


def test_inception_one_by_one_bottleneck_deck_000():
    direct = conv_macs((28, 28), 5, 192, 32)
    assert direct == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400  # "120.422 Million Ops"
    reduce = conv_macs((28, 28), 1, 192, 16)
    assert round(reduce / 1e6, 1) == 2.4
    expand = conv_macs((28, 28), 5, 16, 32)
    assert round(expand / 1e6) == 10
    assert round((reduce + expand) / 1e6, 1) == 12.4  # "Total Number of Operations = 12.4 Million Ops"


def test_resnet_bottleneck_per_position_deck_001():
    conventional = conv_macs(1, 3, 256, 256)
    assert conventional == 3 * 3 * 256 * 256 == 589_824  # "≈ 590K"
    bottleneck = conv_macs(1, 1, 256, 64) + conv_macs(1, 3, 64, 64) + conv_macs(1, 1, 64, 256)
    assert bottleneck == 69_632  # "≈ 70K"
    assert round(conventional, -4) == 590_000 and round(bottleneck, -4) == 70_000


def test_output_size_formula_examples():
    assert conv_output_size(7, 3) == 5  # deck 000: 7x7 input, 3x3 filter
    assert conv_output_size(5, 3) == 3
    assert conv_output_size(32, 5, padding=2) == 32
    assert conv_output_size(7, 3, stride=2) == 3
    assert conv_output_size(7, 3, stride=3, padding=1) == 3
    assert conv_output_size(7, 3, dilation=2) == 3
    assert conv_output_size(7, 3, padding="full") == 9
    assert conv_output_size((28, 20), (5, 3), stride=(1, 2), padding=((2, 2), "same")) == (28, 10)


# --------------------------------------------------------------------------------------
# Against Keras
# --------------------------------------------------------------------------------------


@HYPOTHESIS
@given(size=st.integers(1, 40), k=st.integers(1, 7), stride=st.integers(1, 4), dilation=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same"]))
def test_output_size_matches_keras(size, k, stride, dilation, padding):
    if stride > 1 and dilation > 1:
        dilation = 1  # Keras refuses the combination
    layer = layers.Conv2D(1, k, strides=stride, dilation_rate=dilation, padding=padding)
    if padding == "valid" and (k - 1) * dilation + 1 > size:
        with pytest.raises(ValueError, match="does not fit"):
            conv_output_size(size, k, stride, padding, dilation)
        return
    expected = layer.compute_output_shape((None, size, size, 1))[1]
    assert conv_output_size(size, k, stride, padding, dilation) == expected
    pool = layers.MaxPooling2D(k, strides=stride, padding=padding)
    if padding == "same" or k <= size:
        assert conv_output_size(size, k, stride, padding) == pool.compute_output_shape((None, size, size, 1))[1]


@HYPOTHESIS
@given(size=st.integers(4, 30), k=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 3))
def test_output_size_with_explicit_padding_matches_keras_zero_padding(size, k, stride, pad):
    model = keras.Sequential([keras.Input((size, size, 1)), layers.ZeroPadding2D(pad), layers.Conv2D(1, k, stride)])
    assert conv_output_size(size, k, stride, pad) == model.output_shape[1]
    if (size - k + 2 * pad) % stride == 0:  # the slides' formula, exact when S divides
        assert conv_output_size(size, k, stride, pad) == (size - k + 2 * pad) // stride + 1


@pytest.mark.parametrize("kernel_size, cin, cout, groups, use_bias",
                         [(3, 3, 10, 1, False), ((3, 5), 4, 6, 2, True), (1, 192, 16, 1, True), (5, 8, 8, 8, False)])
def test_conv_params_and_macs_match_keras(kernel_size, cin, cout, groups, use_bias):
    layer = layers.Conv2D(cout, kernel_size, groups=groups, use_bias=use_bias)
    layer.build((None, 12, 10, cin))
    assert conv_params(kernel_size, cin, cout, use_bias, groups) == layer.count_params()
    out_shape = layer.compute_output_shape((None, 12, 10, cin))
    kernel = layer.kernel.shape  # (KH, KW, Cin / groups, Cout): one dot product of KH*KW*Cin/g per output
    expected_macs = math.prod(out_shape[1:]) * math.prod(kernel[:3])
    assert conv_macs(out_shape[1:3], kernel_size, cin, cout, groups) == expected_macs


def test_dense_and_separable_params_match_keras():
    dense = layers.Dense(7)
    dense.build((None, 5 * 4 * 3))
    assert dense_params((5, 4, 3), 7) == dense.count_params()
    separable = layers.SeparableConv2D(16, 3, depth_multiplier=2)
    separable.build((None, 9, 9, 8))
    assert separable_conv_params(3, 8, 16, depth_multiplier=2) == separable.count_params()
    depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)
    depthwise.build((None, 9, 9, 8))
    assert conv_params(3, 8, 16, use_bias=False, groups=8) == depthwise.count_params()


def test_separable_cost_ratio_is_one_over_cout_plus_one_over_k_squared():
    k, cin, cout = 3, 64, 128
    ratio = separable_conv_macs((14, 14), k, cin, cout) / conv_macs((14, 14), k, cin, cout)
    assert ratio == pytest.approx(1 / cout + 1 / k**2)


# --------------------------------------------------------------------------------------
# Receptive fields
# --------------------------------------------------------------------------------------


def test_receptive_field_of_lists():
    assert receptive_field([3, 3, 3]) == ReceptiveField(7, 1, 0)
    assert receptive_field([(2, 2), (2, 2), (2, 2)]) == ReceptiveField(8, 8, 0)
    assert receptive_field([LayerSpec(3, dilation=d) for d in (1, 2, 4)]).size == 15  # dilations 1, 2, 4
    assert receptive_field([3, 3], input_size=10) == ReceptiveField(5, 1, 0)
    same = receptive_field([LayerSpec(3, padding="same"), LayerSpec(3, stride=2, padding="same")])
    assert same.size == 5 and same.offset is None  # stride-2 "same" padding depends on the size
    assert receptive_field([LayerSpec(3, padding="same"), LayerSpec(3, stride=2, padding="same")],
                           input_size=8).offset == -1
    two_d = receptive_field([LayerSpec((3, 5)), {"kernel_size": 2, "stride": 2}])
    assert two_d == ReceptiveField((4, 6), (2, 2), (0, 0))
    assert two_d.span((1, 2)) == ((2, 5), (4, 9))


def empirical_span(model, unit):
    """Input rows and columns that one output unit depends on, from the gradient of that unit."""
    x = tf.ones((1,) + tuple(model.input_shape[1:]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = model(x)
        target = out[0, unit[0], unit[1], 0]
    grad = tape.gradient(target, x).numpy()[0, :, :, 0]
    rows = np.flatnonzero(np.any(grad != 0, axis=1))
    cols = np.flatnonzero(np.any(grad != 0, axis=0))
    return (rows.min(), rows.max()), (cols.min(), cols.max())


def conv(filters=1, kernel=3, **kwargs):
    return layers.Conv2D(filters, kernel, kernel_initializer="ones", use_bias=False, **kwargs)


def test_receptive_field_of_three_3x3_convs_matches_the_gradient():
    model = keras.Sequential([keras.Input((16, 16, 1)), conv(), conv(), conv()])
    field = receptive_field_of_model(model)
    assert field == ReceptiveField((7, 7), (1, 1), (0, 0))
    assert empirical_span(model, (4, 5)) == field.span((4, 5)) == ((4, 10), (5, 11))


def test_receptive_field_of_a_strided_dilated_stack_matches_the_gradient():
    model = keras.Sequential([
        keras.Input((48, 40, 1)),
        conv(padding="same"),
        layers.AveragePooling2D(2),
        layers.ReLU(),
        conv(dilation_rate=2, padding="same"),
        layers.BatchNormalization(),
        conv(kernel=(3, 5), strides=2, padding="same"),
        layers.AveragePooling2D(3, strides=2),
        conv(kernel=2),
    ])
    field = receptive_field_of_model(model)
    specs = [LayerSpec(3, padding="same"), LayerSpec(2, 2), LayerSpec(3, dilation=2, padding="same"),
             LayerSpec((3, 5), 2, padding="same"), LayerSpec(3, 2), LayerSpec(2)]
    assert field == receptive_field(specs, input_size=(48, 40))
    assert field.jump == (8, 8)
    for unit in [(1, 1), (2, 1)]:
        assert empirical_span(model, unit) == field.span(unit)


def test_receptive_field_of_a_functional_chain_with_padding_cropping_and_separable_layers():
    inputs = keras.Input((30, 30, 1))
    x = layers.ZeroPadding2D(((2, 1), (3, 0)))(inputs)
    x = conv(kernel=5, strides=2)(x)
    x = layers.Cropping2D(((1, 0), (2, 1)))(x)
    x = layers.DepthwiseConv2D(3, depthwise_initializer="ones", use_bias=False)(x)
    x = layers.SeparableConv2D(1, 3, depthwise_initializer="ones", pointwise_initializer="ones",
                               use_bias=False, strides=2)(x)
    model = keras.Model(inputs, x)
    field = receptive_field_of_model(model)
    assert field.size == (5 + 2 * 2 + 2 * 2,) * 2 and field.jump == (4, 4)
    for unit in [(1, 1), (2, 3)]:
        assert empirical_span(model, unit) == field.span(unit)


def test_max_pooling_gradient_stays_inside_the_receptive_field():
    model = keras.Sequential([keras.Input((20, 20, 1)), conv(), layers.MaxPooling2D(2), conv()])
    field = receptive_field_of_model(model)
    assert field.size == (8, 8)
    x = tf.constant(np.random.default_rng(0).normal(size=(1, 20, 20, 1)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        target = model(x)[0, 3, 2, 0]
    grad = tape.gradient(target, x).numpy()[0, :, :, 0]
    (r0, r1), (c0, c1) = field.span((3, 2))
    outside = grad.copy()
    outside[r0:r1 + 1, c0:c1 + 1] = 0
    assert np.any(grad != 0) and not np.any(outside)


def test_up_to_and_unsupported_layers():
    model = keras.Sequential([keras.Input((12, 12, 1)), conv(name="c1"), conv(name="c2"), layers.Flatten(name="flatten"),
                              layers.Dense(3)])
    with pytest.raises(ValueError, match=r"'flatten'.*up_to="):
        receptive_field_of_model(model)
    assert receptive_field_of_model(model, up_to="c1").size == (3, 3)
    assert receptive_field_of_model(model, up_to="c2").size == (5, 5)
    with pytest.raises(ValueError, match="up_to='nope' is not a layer"):
        receptive_field_of_model(model, up_to="nope")
    inputs = keras.Input((8, 8, 1))
    branch = layers.Add()([conv(padding="same")(inputs), inputs])
    with pytest.raises(ValueError, match="several inputs"):
        receptive_field_of_model(keras.Model(inputs, branch))
    upsample = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2DTranspose(1, 3)])
    with pytest.raises(ValueError, match="transposed convolution"):
        receptive_field_of_model(upsample)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: conv_output_size(3, 5), ValueError, "does not fit"),
        (lambda: conv_output_size(0, 3), ValueError, "input_size must be a positive int"),
        (lambda: conv_output_size(7, 3, padding="half"), ValueError, "padding='half' is not a known padding; known: valid, same, full"),
        (lambda: conv_output_size(7, 3, padding=1.5), TypeError, r"padding must be one of .*, got 1\.5 \(float\)"),
        (lambda: conv_output_size(7, 3, padding=(1, -1)), ValueError, r"padding must be a non-negative int .*\(1, -1\)"),
        (lambda: conv_output_size(7.0, 3), TypeError, r"input_size must be .*, got 7\.0"),
        (lambda: conv_output_size(7, "3"), TypeError, "kernel_size must be an integer, got '3'"),
        (lambda: conv_output_size((7, 7), 3, stride=2.0), TypeError, r"stride must be an int or have one entry per axis \(2\), got 2\.0"),
        (lambda: conv_params(3, True, 4), TypeError, "in_channels must be an integer, got True"),
        (lambda: conv_output_size((7, 7), (3, 3, 3)), ValueError, "one entry per axis"),
        (lambda: conv_params(3, 5, 4, groups=2), ValueError, "groups=2 must divide"),
        (lambda: dense_params((4, 0), 3), ValueError, r"input_shape\[1\] must be a positive integer, got 0"),
        (lambda: conv_params((3, 0), 2, 4), ValueError, r"kernel_size\[1\] must be a positive integer, got 0"),
        (lambda: conv_params((), 2, 4), ValueError, r"kernel_size must hold at least 1 integer, got \(\)"),
        (lambda: conv_params(2.5, 2, 4), TypeError, r"kernel_size must be a sequence of integers, got 2\.5"),
        (lambda: receptive_field(["x"]), ValueError, r"layers\[0\] must be"),
        (lambda: receptive_field([LayerSpec((3, 3)), LayerSpec((3, 3, 3))]), ValueError, "different numbers of spatial axes"),
        (lambda: receptive_field([LayerSpec(3, 2, padding="same"), 3]).span(0), ValueError, "offset of this receptive field"),
    ],
)
def test_clear_errors(call, error, message):
    """A wrong type raises TypeError, a wrong value ValueError; the message names the argument."""
    with pytest.raises(error, match=message) as info:
        call()
    assert type(info.value) is error
