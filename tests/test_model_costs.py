"""Tests of cnncourse.model_costs: the per-layer table reproduces the decks' numbers from
real Keras models (AlexNet, VGG-16, ResNet-50, built offline with random weights), and
its MAC counts agree with independent references (the decks' formulas, the papers'
architecture tables, and a count of the products from the layer's Jacobian)."""

from __future__ import annotations

import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnncourse import models  # noqa: E402
from cnncourse.model_costs import (  # noqa: E402
    LayerTable,
    format_bytes,
    format_count,
    layer_table,
    register_mac_counter,
)
from cnncourse.layers import BottleneckResidualBlock, InceptionModule, LocallyConnected2D  # noqa: E402

L = keras.layers


@pytest.fixture(scope="module")
def alexnet_table():
    return layer_table(models.alexnet())


@pytest.fixture(scope="module")
def vgg16_table():
    return layer_table(models.vgg16())


@pytest.fixture(scope="module")
def resnet50_table():
    return layer_table(models.resnet50())


# ---------------------------------------------------------------------- deck 003: AlexNet
# Deck 003's AlexNet table: (layer, output shape, filters, kernel, stride).
DECK_003_ALEXNET = [
    ("conv1", (55, 55, 96)),
    ("pool1", (27, 27, 96)),
    ("conv2", (27, 27, 256)),
    ("pool2", (13, 13, 256)),
    ("conv3", (13, 13, 384)),
    ("conv4", (13, 13, 384)),
    ("conv5", (13, 13, 256)),
    ("pool3", (6, 6, 256)),
    ("fc6", (4096,)),
    ("fc7", (4096,)),
    ("fc8", (1000,)),
]


def test_alexnet_shapes_are_deck_003s_table(alexnet_table):
    assert alexnet_table.row("input").output_shape == (227, 227, 3)
    for name, shape in DECK_003_ALEXNET:
        assert alexnet_table.row(name).output_shape == shape, name


def test_alexnet_conv1_parameters_and_macs(alexnet_table):
    conv1 = alexnet_table.row("conv1")
    assert conv1.params == 34_944 == (11 * 11 * 3 + 1) * 96  # deck 003
    assert conv1.macs == 55 * 55 * 96 * (11 * 11 * 3)
    # Every conv/dense layer: (fan-in + 1) x units, from the table's kernel sizes.
    expected = {
        "conv2": (5 * 5 * 96 + 1) * 256,
        "conv3": (3 * 3 * 256 + 1) * 384,
        "conv4": (3 * 3 * 384 + 1) * 384,
        "conv5": (3 * 3 * 384 + 1) * 256,
        "fc6": (6 * 6 * 256 + 1) * 4096,
        "fc7": (4096 + 1) * 4096,
        "fc8": (4096 + 1) * 1000,
    }
    for name, params in expected.items():
        assert alexnet_table.row(name).params == params, name
    total = 34_944 + sum(expected.values())
    assert alexnet_table.totals.params == total
    assert round(total / 1e6) == 62  # deck 004: "60 million parameters" (two towers, same order)


# ---------------------------------------------------------------------- deck 003: VGG-16
# Deck 003's VGG-16 table: (layer, activation map, weights without biases).
DECK_003_VGG16 = [
    ("input", (224, 224, 3), 0),
    ("block1_conv1", (224, 224, 64), 3 * 3 * 3 * 64),
    ("block1_conv2", (224, 224, 64), 3 * 3 * 64 * 64),
    ("block1_pool", (112, 112, 64), 0),
    ("block2_conv1", (112, 112, 128), 3 * 3 * 64 * 128),
    ("block2_conv2", (112, 112, 128), 3 * 3 * 128 * 128),
    ("block2_pool", (56, 56, 128), 0),
    ("block3_conv1", (56, 56, 256), 3 * 3 * 128 * 256),
    ("block3_conv2", (56, 56, 256), 3 * 3 * 256 * 256),
    ("block3_conv3", (56, 56, 256), 3 * 3 * 256 * 256),
    ("block3_pool", (28, 28, 256), 0),
    ("block4_conv1", (28, 28, 512), 3 * 3 * 256 * 512),
    ("block4_conv2", (28, 28, 512), 3 * 3 * 512 * 512),
    ("block4_conv3", (28, 28, 512), 3 * 3 * 512 * 512),
    ("block4_pool", (14, 14, 512), 0),
    ("block5_conv1", (14, 14, 512), 3 * 3 * 512 * 512),
    ("block5_conv2", (14, 14, 512), 3 * 3 * 512 * 512),
    ("block5_conv3", (14, 14, 512), 3 * 3 * 512 * 512),
    ("block5_pool", (7, 7, 512), 0),
    ("fc1", (4096,), 7 * 7 * 512 * 4096),
    ("fc2", (4096,), 4096 * 4096),
    ("predictions", (1000,), 4096 * 1000),
]


def test_vgg16_rows_are_deck_003s_memory_table(vgg16_table):
    for name, shape, weights in DECK_003_VGG16:
        row = vgg16_table.row(name)
        assert row.output_shape == shape, name
        assert row.activation_values == math.prod(shape), name
        assert row.activation_bytes == 4 * math.prod(shape), name  # float32
        biases = shape[-1] if weights else 0
        assert row.params == weights + biases, name
    assert vgg16_table.row("block1_conv2").params - 64 == 36_864  # deck: (3x3x64)x64 = 36,864
    assert vgg16_table.row("fc1").params - 4096 == 102_760_448


def test_vgg16_totals(vgg16_table):
    totals = vgg16_table.totals
    assert totals.params == 138_357_544
    assert round(totals.params / 1e6) == 138  # deck 003: "TOTAL parameters: 138M"
    assert round(totals.params / 1e6) * 4 == 552  # "138M x 4 bytes ≈ 552MB"
    # The activation total is the sum of the deck's rows (Flatten stores nothing new) ...
    deck_rows = sum(math.prod(shape) for _, shape, _ in DECK_003_VGG16)
    assert totals.activation_values == deck_rows == 15_237_608
    assert totals.activation_bytes == 4 * deck_rows
    assert format_bytes(totals.activation_bytes) == "61.0 MB"
    # ... which is not the slide's "24M x 4 bytes ≈ 93MB": the slide's total does not follow
    # from its own rows (the notebook lets students find this).
    assert not 23e6 <= totals.activation_values <= 25e6


def test_vgg16_memory_estimates_follow_deck_003s_rules():
    model = models.vgg16(include_top=False, input_shape=(32, 32, 3))
    sgd = layer_table(model, batch_size=8, optimizer="sgd").totals
    adam = layer_table(model, batch_size=8, optimizer="adam").totals
    # Forward: weights + activations of the batch; "x2 for backward"; "x2 for plain SGD, x4 for Adam".
    assert sgd.forward_bytes == sgd.param_bytes + 8 * sgd.activation_bytes
    assert sgd.training_bytes == 2 * sgd.param_bytes + 2 * 8 * sgd.activation_bytes
    assert adam.training_bytes == 4 * adam.param_bytes + 2 * 8 * adam.activation_bytes


def test_vgg16_macs_are_deck_003s_15_3_billion(vgg16_table):
    by_type = vgg16_table.macs_by_type()
    # Independent count from the deck's table: each conv output value costs 3·3·C_in multiply-adds.
    conv = 0
    previous_channels = 3
    for name, shape, _ in DECK_003_VGG16:
        if "conv" in name:
            conv += math.prod(shape) * 9 * previous_channels
        previous_channels = shape[-1]
    dense = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    assert by_type["Conv2D"] == conv == 15_346_630_656
    assert by_type["Dense"] == dense
    assert vgg16_table.totals.macs == conv + dense
    # The quoted "15.3B FLOPs" are the convolutions' multiply-adds, to the digits printed.
    assert math.floor(conv / 1e8) / 10 == 15.3
    assert vgg16_table.totals.flops == 2 * vgg16_table.totals.macs


# ---------------------------------------------------------------------- ResNet-50
def _resnet50_macs_from_the_paper():
    """Table 1 of He et al. with Keras's stride placement (on the first 1x1)."""
    macs = 112 * 112 * 64 * (7 * 7 * 3)  # conv1
    size, channels = 56, 64  # after the 3x3 max pool
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            out = size // stride
            macs += out * out * width * channels  # 1x1 reduce (strided)
            macs += out * out * width * 9 * width  # 3x3
            macs += out * out * 4 * width * width  # 1x1 expand
            if block == 0:
                macs += out * out * 4 * width * channels  # projection shortcut
            size, channels = out, 4 * width
    return macs + 2048 * 1000


def test_resnet50_vs_vgg16_parameters_and_macs(resnet50_table, vgg16_table):
    resnet, vgg = resnet50_table.totals, vgg16_table.totals
    assert resnet.params == 25_636_712
    assert math.floor(resnet.params / 1e6) == 25  # deck 003: "Less parameters 25M vs 138M"
    assert resnet.macs == _resnet50_macs_from_the_paper()
    assert math.floor(resnet.macs / 1e8) / 10 == 3.8  # "3.8B Flops" (multiply-adds) vs 15.3B
    assert vgg.params / resnet.params > 5
    assert vgg.macs / resnet.macs > 4


def test_resnet50_layer_kinds_are_all_known(resnet50_table):
    kinds = {row.type for row in resnet50_table.rows}
    assert {"Conv2D", "BatchNormalization", "Activation", "Add", "ZeroPadding2D", "Dense"} <= kinds
    assert not [row.name for row in resnet50_table.rows if "unknown" in row.note]
    assert resnet50_table.totals.params == sum(row.params for row in resnet50_table.rows)


# ---------------------------------------------------------------------- deck 000: 1x1 convolutions
def test_deck_000_one_by_one_bottleneck_saves_ten_times():
    direct = keras.Sequential([keras.Input((28, 28, 192)), L.Conv2D(32, 5, padding="same", name="conv5x5")])
    reduced = keras.Sequential(
        [keras.Input((28, 28, 192)), L.Conv2D(16, 1, name="reduce"), L.Conv2D(32, 5, padding="same", name="conv5x5")]
    )
    direct_macs = layer_table(direct).totals.macs
    reduced_table = layer_table(reduced)
    assert direct_macs == (28 * 28 * 32) * (5 * 5 * 192) == 120_422_400  # "120.422 Million Ops"
    assert reduced_table.row("reduce").macs == (28 * 28 * 16) * 192  # "2.4 Million Ops"
    assert reduced_table.row("conv5x5").macs == (28 * 28 * 32) * (5 * 5 * 16)  # "10 Million Ops"
    assert round(reduced_table.totals.macs / 1e5) / 10 == 12.4  # "12.4 Million Ops"


def test_inception_3a_costs_googlenets_128_million():
    inputs = keras.Input((28, 28, 192))
    model = keras.Model(inputs, InceptionModule(64, 96, 128, 16, 32, 32, name="inception_3a")(inputs))
    table = layer_table(model)
    group = table.row("inception_3a")
    assert group.is_group and group.output_shape == (28, 28, 256)
    assert round(group.macs / 1e6) == 128  # GoogLeNet's table: "ops 128M"
    assert group.params == model.count_params()
    children = [row.name for row in table.rows if row.depth == 1]
    assert "inception_3a/b5x5" in children and "inception_3a/concat" in children


def test_resnet_bottleneck_costs_70k_per_position_against_590k():
    inputs = keras.Input((14, 14, 256))
    bottleneck = keras.Model(inputs, BottleneckResidualBlock(64, name="block")(inputs))
    full = keras.Model(inputs, L.Conv2D(256, 3, padding="same", use_bias=False)(inputs))
    per_position = layer_table(bottleneck).row("block").macs // (14 * 14)
    assert per_position == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632  # ≈ 70K
    assert layer_table(full).totals.macs // (14 * 14) == 589_824  # ≈ 590K


# ---------------------------------------------------------------------- MACs from first principles
def _products_from_jacobian(layer, input_shape):
    """Count the products a linear layer computes: with all-ones input, output value o
    depends on weight w (∂o/∂w ≠ 0) exactly when w multiplies an input into o.

    A grouped convolution is counted group by group (see :func:`_groups_as_convolutions`):
    TensorFlow's CPU kernels without oneDNN (a CPU without AVX-512, or
    ``TF_ENABLE_ONEDNN_OPTS=0``) cannot take the Jacobian of a grouped convolution's
    kernel ("Conv2DBackpropFilter: filter_size does not have enough elements").
    """
    if getattr(layer, "groups", 1) > 1:
        return sum(_products_from_jacobian(group, shape) for group, shape in _groups_as_convolutions(layer, input_shape))
    x = tf.ones((1,) + input_shape)
    layer.build((1,) + input_shape)
    for w in layer.trainable_variables:
        w.assign(tf.ones_like(w))
    with tf.GradientTape() as tape:
        y = layer(x)
    jac = tape.jacobian(y, layer.kernel)
    return int(tf.math.count_nonzero(jac))


def _groups_as_convolutions(layer, input_shape):
    """``(convolution, input_shape)`` per group: group g of a grouped convolution is an ordinary
    convolution of input channels slice g into output channels slice g."""
    groups = layer.groups
    config = layer.get_config() | {"groups": 1, "filters": layer.filters // groups}
    shape = input_shape[:-1] + (input_shape[-1] // groups,)
    return [(type(layer).from_config(config | {"name": f"group{g}"}), shape) for g in range(groups)]


def test_a_grouped_convolution_is_its_groups_side_by_side():
    """What lets the Jacobian test count a grouped convolution group by group."""
    grouped = L.Conv2D(6, (3, 2), groups=3, use_bias=False)
    x = np.random.default_rng(0).normal(size=(2, 6, 7, 9)).astype("float32")
    expected = keras.ops.convert_to_numpy(grouped(x))
    parts = []
    for g, (conv, shape) in enumerate(_groups_as_convolutions(grouped, (6, 7, 9))):
        conv.build((None,) + shape)
        conv.kernel.assign(grouped.kernel[..., 2 * g:2 * g + 2])
        parts.append(keras.ops.convert_to_numpy(conv(x[..., 3 * g:3 * g + 3])))
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "make, input_shape",
    [
        (lambda: L.Conv2D(4, 3, strides=2, use_bias=False), (9, 9, 3)),
        (lambda: L.Conv2D(4, (3, 2), use_bias=False, groups=2), (6, 6, 4)),
        (lambda: L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False), (6, 6, 3)),
        (lambda: L.Conv2DTranspose(3, 3, strides=2, use_bias=False), (4, 4, 2)),
        (lambda: L.Dense(5, use_bias=False), (7,)),
        (lambda: L.Conv1D(3, 3, use_bias=False), (8, 2)),
        (lambda: LocallyConnected2D(3, 2, use_bias=False), (5, 5, 2)),
    ],
)
def test_macs_equal_the_products_in_the_jacobian(make, input_shape):
    layer = make()
    model = keras.Sequential([keras.Input(input_shape), layer])
    assert layer_table(model).rows[-1].macs == _products_from_jacobian(make(), input_shape)


def test_separable_conv_costs_its_depthwise_plus_pointwise_parts():
    separable = keras.Sequential([keras.Input((9, 9, 4)), L.SeparableConv2D(6, 3, depth_multiplier=2)])
    parts = keras.Sequential([keras.Input((9, 9, 4)), L.DepthwiseConv2D(3, depth_multiplier=2), L.Conv2D(6, 1)])
    assert layer_table(separable).totals.macs == layer_table(parts).totals.macs == 7 * 7 * 8 * 9 + 7 * 7 * 8 * 6


# ---------------------------------------------------------------------- nesting, sharing, unknowns
def test_nested_models_and_custom_blocks_are_opened():
    backbone = models.cifar_resnet(8, width=4, num_classes=3, classifier_activation=None, name="backbone")
    outer = keras.Sequential([keras.Input((32, 32, 3)), backbone, L.Dense(2, name="head")], name="outer")
    table = layer_table(outer)
    assert table.totals.params == outer.count_params()
    group = table.row("backbone")
    assert group.is_group and group.depth == 0
    block = table.row("backbone/stage2_block1")
    assert block.is_group and block.depth == 1
    assert table.row("backbone/stage2_block1/conv1").depth == 2
    assert table.row("backbone/stage2_block1/conv1").macs == 16 * 16 * 8 * (9 * 4)
    # Only leaves enter the totals; a group's numbers are its leaves' sums.
    assert table.totals.macs == layer_table(backbone).totals.macs + 3 * 2
    assert group.macs == sum(r.macs for r in table.leaves if r.name.startswith("backbone/"))


def test_cifar_resnet_macs_from_its_architecture():
    width = 4
    model = models.cifar_resnet(8, width=width, num_classes=10)
    expected = 32 * 32 * width * 27  # stem
    size, channels = 32, width
    for stage in range(3):
        filters, stride = width * 2**stage, 1 if stage == 0 else 2
        size //= stride
        expected += size * size * filters * 9 * channels + size * size * filters * 9 * filters
        channels = filters
    expected += 4 * width * 10
    assert layer_table(model).totals.macs == expected


def test_shared_layer_counts_weights_once_and_work_twice():
    dense = L.Dense(4, name="shared")
    a, b = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([a, b], L.Add()([dense(a), dense(b)]))
    table = layer_table(model)
    calls = [r for r in table.rows if r.name == "shared"]
    assert [r.params for r in calls] == [16, 0]
    assert [r.macs for r in calls] == [12, 12]
    assert "shared weights" in calls[1].note
    assert table.totals.params == model.count_params()


class _Scale(keras.layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.scale


def test_unknown_layers_count_parameters_and_say_macs_are_not_counted():
    model = keras.Sequential([keras.Input((4, 4, 3)), _Scale(name="scale")])
    row = layer_table(model).row("scale")
    assert (row.params, row.macs) == (3, 0)
    assert "unknown layer type: MACs not counted" in row.note


def test_register_mac_counter_teaches_a_new_layer():
    class _Scale2(_Scale):
        pass

    register_mac_counter(_Scale2)(lambda layer, ins, outs: math.prod(outs[0][1:]))
    model = keras.Sequential([keras.Input((4, 4, 3)), _Scale2(name="scale2")])
    row = layer_table(model).row("scale2")
    assert row.macs == 48 and row.note == ""


class _ScaledConv(keras.layers.Layer):
    """A composite layer with a weight of its own besides its sublayer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = L.Conv2D(2, 1, name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.gain = self.add_weight(shape=(2,), initializer="ones", name="gain")

    def call(self, x):
        return self.conv(x) * self.gain


def test_own_weights_of_a_composite_layer_get_their_own_row():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, _ScaledConv(name="scaled")(inputs))
    table = layer_table(model)
    assert table.row("scaled/conv").params == 8
    own = table.row("scaled/(own weights)")
    assert own.params == 2 and own.activation_bytes == 0
    assert table.totals.params == model.count_params() == 10


def test_keras_ops_in_a_functional_graph_are_listed_as_unknown_operations():
    a = keras.Input((3,))
    model = keras.Model(a, keras.ops.exp(L.Dense(2, name="dense")(a)))
    table = layer_table(model)
    assert [r.type for r in table.rows][1] == "Dense"
    assert "unknown operation: MACs not counted" in table.rows[-1].note
    assert table.totals.macs == 6


class _TwoConvs(keras.Model):
    def __init__(self):
        super().__init__()
        self.first = L.Conv2D(4, 3, padding="same")
        self.second = L.Conv2D(2, 1)

    def call(self, x):
        return self.second(self.first(x))


def test_subclassed_model_needs_and_uses_input_shape():
    model = _TwoConvs()
    with pytest.raises(ValueError, match="pass input_shape"):
        layer_table(model)
    table = layer_table(model, input_shape=(8, 8, 3))
    assert [r.type for r in table.leaves] == ["InputLayer", "Conv2D", "Conv2D"]
    assert [r.output_shape for r in table.leaves] == [(8, 8, 3), (8, 8, 4), (8, 8, 2)]
    assert table.totals.macs == 8 * 8 * 4 * 27 + 8 * 8 * 2 * 4
    assert table.totals.params == model.count_params()


def test_mixed_precision_halves_activation_bytes_not_parameter_bytes():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        half = layer_table(models.simple_convnet())
    finally:
        keras.config.set_dtype_policy(previous)
    full = layer_table(models.simple_convnet())
    assert half.row("conv1").activation_bytes * 2 == full.row("conv1").activation_bytes
    assert half.totals.param_bytes == full.totals.param_bytes == 4 * full.totals.params


# ---------------------------------------------------------------------- rendering and errors
def test_text_and_html_renderings(alexnet_table):
    text = str(alexnet_table)
    assert "conv1" in text and "34,944" in text and "(55, 55, 96)" in text
    assert "Parameters: 62,378,344" in text
    html_text = alexnet_table._repr_html_()
    assert html_text.count("<tr") == len(alexnet_table.rows) + 1
    assert "34,944" in html_text
    weird = keras.Sequential([keras.Input((2,)), L.Dense(1, name="a<b")])
    assert "a&lt;b" in layer_table(weird).to_html()


def test_formatting_helpers():
    assert format_count(138_357_544) == "138M"
    assert format_count(3_857_973_248) == "3.86B"
    assert format_bytes(60_950_432) == "61.0 MB"
    assert format_bytes(512) == "512 B"


def test_bad_arguments_are_explained(alexnet_table):
    model = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        layer_table(model, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer, got '8'"):
        layer_table(model, batch_size="8")
    with pytest.raises(ValueError, match="optimizer='rmsprop' is not a known optimizer; known: sgd, momentum, adam"):
        layer_table(model, optimizer="rmsprop")
    with pytest.raises(TypeError, match="got ndarray"):
        layer_table(np.zeros(3))
    with pytest.raises(KeyError, match="no layer named 'conv9'"):
        alexnet_table.row("conv9")
    assert isinstance(alexnet_table, LayerTable)
