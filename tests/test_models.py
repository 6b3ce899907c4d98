"""Tests of cnncourse.models: every builder gives the architecture it promises (shapes and
parameter counts checked against the papers' and decks' numbers), runs under mixed
precision and XLA, and refuses to download weights."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse import models  # noqa: E402
from cnncourse.layers import BasicResidualBlock  # noqa: E402

SMALL_BUILDERS = [
    ("mlp", lambda **kw: models.mlp(**kw), (28, 28, 1)),
    ("simple_convnet", lambda **kw: models.simple_convnet(**kw), (28, 28, 1)),
    ("lenet5", lambda **kw: models.lenet5(**kw), (28, 28, 1)),
    ("alexnet_cifar", lambda **kw: models.alexnet_cifar(**kw), (32, 32, 3)),
    ("vgg_net", lambda **kw: models.vgg_net(**kw), (32, 32, 3)),
    ("cifar_resnet", lambda **kw: models.cifar_resnet(8, width=4, **kw), (32, 32, 3)),
    ("cifar_plain_net", lambda **kw: models.cifar_plain_net(8, width=4, **kw), (32, 32, 3)),
    ("mini_googlenet", lambda **kw: models.mini_googlenet(**kw), (32, 32, 3)),
    ("cifar_densenet", lambda **kw: models.cifar_densenet(block_layers=(2, 2), growth_rate=4, **kw), (32, 32, 3)),
]


@pytest.mark.parametrize("name, build, shape", SMALL_BUILDERS, ids=[b[0] for b in SMALL_BUILDERS])
def test_small_builders_give_class_probabilities(name, build, shape):
    model = build(num_classes=7)
    x = np.random.default_rng(0).uniform(size=(3,) + shape).astype("float32")
    probabilities = np.asarray(model(x, training=False))
    assert probabilities.shape == (3, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    logits = build(num_classes=7, classifier_activation=None)(x, training=False)
    assert not np.allclose(np.asarray(logits).sum(axis=1), 1.0)


@pytest.mark.parametrize("name, build, shape", SMALL_BUILDERS[4:7], ids=[b[0] for b in SMALL_BUILDERS[4:7]])
def test_builders_under_mixed_precision_output_float32(name, build, shape):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build(num_classes=5)
    finally:
        keras.config.set_dtype_policy(previous)
    y = model(np.zeros((2,) + shape, "float32"), training=False)
    assert y.dtype == "float32"
    assert any(layer.compute_dtype == "float16" for layer in model.layers)


def test_lenet5_has_the_original_61706_parameters():
    # C1 156, C3 2,416, F5 48,120, F6 10,164, output 850 (LeCun et al., 1998).
    for shape in [(32, 32, 1), (28, 28, 1)]:
        model = models.lenet5(input_shape=shape)
        assert model.count_params() == 156 + 2_416 + 48_120 + 10_164 + 850
        assert model.get_layer("c1").output.shape[1:] == (28, 28, 6)
        assert model.get_layer("s4").output.shape[1:] == (5, 5, 16)


def test_deck_003_mlp_and_convnet():
    assert models.mlp().count_params() == 784 * 256 + 256 + 256 * 10 + 10
    convnet = models.simple_convnet()
    # conv 5x5 → 24x24x32 → pool 12x12 → conv 3x3 → 10x10x64 → pool 5x5x64 = 1,600 → 256 → 10
    expected = (25 * 32 + 32) + (9 * 32 * 64 + 64) + (1600 * 256 + 256) + (256 * 10 + 10)
    assert convnet.count_params() == expected


def test_vgg_net_with_vgg16_stages_is_vgg16():
    model = models.vgg_net(
        input_shape=(224, 224, 3),
        num_classes=1000,
        stages=((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
        dense_units=(4096, 4096),
        batch_norm=False,
        dropout=0.0,
    )
    assert model.count_params() == 138_357_544


def _cifar_resnet_parameters(depth, width, classes):
    """Count by hand: 3x3 convs without bias, 4 BN weights per channel, option-A shortcuts."""
    n = (depth - 2) // 6
    total = 27 * width + 4 * width
    channels = width
    for stage in range(3):
        filters = width * 2**stage
        for block in range(n):
            total += 9 * channels * filters + 9 * filters * filters + 2 * 4 * filters
            channels = filters
    return total + channels * classes + classes


@pytest.mark.parametrize("depth", [8, 20, 32])
def test_cifar_resnet_and_plain_twin_have_the_same_parameters(depth):
    resnet = models.cifar_resnet(depth)
    plain = models.cifar_plain_net(depth)
    assert resnet.count_params() == plain.count_params() == _cifar_resnet_parameters(depth, 16, 10)
    blocks = [layer for layer in resnet.layers if isinstance(layer, BasicResidualBlock)]
    assert len(blocks) == 3 * (depth - 2) // 6
    assert {layer.shortcut for layer in resnet.layers if isinstance(layer, BasicResidualBlock)} == {"zero_pad"}
    assert {layer.shortcut for layer in plain.layers if isinstance(layer, BasicResidualBlock)} == {"none"}
    assert (resnet.name, plain.name) == (f"resnet{depth}", f"plain{depth}")


def test_cifar_resnet_20_has_the_papers_0_27_million():
    assert round(models.cifar_resnet(20).count_params() / 1e4) / 100 == 0.27  # He et al., Table 6


def test_cifar_resnet_trains_one_step_with_xla_and_saves(tmp_path):
    model = models.cifar_resnet(8, width=4, num_classes=3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(size=(4, 32, 32, 3)).astype("float32"), np.array([0, 1, 2, 0])
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    model.save(tmp_path / "resnet8.keras")
    loaded = keras.models.load_model(tmp_path / "resnet8.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_alexnet_cifar_layers_can_be_removed():
    full = models.alexnet_cifar()
    fewer_dense = models.alexnet_cifar(dense_units=())
    fewer_convs = models.alexnet_cifar(conv_filters=(64, 192, 256))
    assert full.count_params() > fewer_dense.count_params()
    names = [layer.name for layer in fewer_convs.layers]
    assert "conv3" in names and "conv4" not in names and "pool5" not in names
    assert fewer_convs.output_shape == (None, 10)


def test_full_size_builders_refuse_to_download():
    with pytest.raises(ValueError, match="weights must be None"):
        models.vgg16(weights="imagenet")
    with pytest.raises(ValueError, match="weights must be None"):
        models.resnet50(weights="imagenet")


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: models.cifar_resnet(10), ValueError, "depth must be 6n \\+ 2"),
        (lambda: models.cifar_resnet(20.0), TypeError, "depth must be an integer, got 20\\.0"),
        (lambda: models.cifar_plain_net(8, shortcut="projection"), ValueError, "no shortcut argument"),
        (lambda: models.cifar_resnet(8, shortcut="identity"), ValueError, "shortcut='identity' is not a known shortcut"),
        (lambda: models.lenet5(pooling="median"), ValueError, "pooling='median' is not a known pooling; known: average, max"),
        (lambda: models.vgg_net(stages=((32, 2, 1),)), ValueError,
         "stages\\[0\\] \\(filters, convs\\) must hold exactly 2 integers, got \\(32, 2, 1\\)"),
        (lambda: models.vgg_net(stages=((32, 0),)), ValueError, "stages\\[0\\] \\(filters, convs\\)\\[1\\] must be a positive integer"),
        (lambda: models.simple_convnet(filters=(32,), kernel_sizes=(5, 3)), ValueError, "same length"),
        (lambda: models.simple_convnet(filters=32), TypeError, "filters must be a sequence of integers, got 32"),
        (lambda: models.simple_convnet(filters=(32, 0)), ValueError, "filters\\[1\\] must be a positive integer, got 0"),
        (lambda: models.mlp(input_shape=(28, 28)), ValueError,
         "input_shape \\(height, width, channels\\) must hold exactly 3 integers, got \\(28, 28\\)"),
        (lambda: models.mlp(input_shape=(28, 28, 1.0)), TypeError, "input_shape \\(height, width, channels\\)\\[2\\] must be an integer"),
        (lambda: models.alexnet_cifar(conv_filters=()), ValueError, "conv_filters must hold at least 1 integer, got \\(\\)"),
        (lambda: models.mlp(num_classes=0), ValueError, "num_classes must be a positive integer, got 0"),
        (lambda: models.mlp(num_classes="10"), TypeError, "num_classes must be an integer, got '10'"),
    ],
)
def test_bad_arguments_are_explained(make, error, message):
    with pytest.raises(error, match=message) as info:
        make()
    assert type(info.value) is error
