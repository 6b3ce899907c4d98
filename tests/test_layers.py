"""Tests of cnncourse.layers: every custom layer survives a .keras round trip, runs under
XLA (jit_compile=True) and mixed precision, has gradients that match finite differences,
and computes what an independent reference (numpy, or built-in Keras layers with the same
weights) computes."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnncourse.layers import (  # noqa: E402
    BasicResidualBlock,
    BottleneckResidualBlock,
    DenseBlock,
    InceptionModule,
    LocallyConnected2D,
    TransitionLayer,
    ZeroPadShortcut,
)

L = keras.layers

# (id, factory taking **kwargs such as dtype, input shape with batch, has_dropout)
CASES = [
    ("basic_identity", lambda **kw: BasicResidualBlock(4, **kw), (2, 6, 6, 4)),
    ("basic_projection", lambda **kw: BasicResidualBlock(6, strides=2, **kw), (2, 6, 6, 4)),
    ("basic_zero_pad", lambda **kw: BasicResidualBlock(6, strides=2, shortcut="zero_pad", **kw), (2, 6, 6, 4)),
    ("basic_plain", lambda **kw: BasicResidualBlock(6, strides=2, shortcut="none", **kw), (2, 6, 6, 4)),
    ("bottleneck_projection", lambda **kw: BottleneckResidualBlock(3, strides=2, **kw), (2, 6, 6, 5)),
    ("zero_pad_shortcut", lambda **kw: ZeroPadShortcut(7, strides=2, **kw), (2, 5, 5, 3)),
    ("inception", lambda **kw: InceptionModule(2, 3, 4, 2, 3, 2, **kw), (2, 6, 6, 3)),
    ("inception_bn", lambda **kw: InceptionModule(2, 3, 4, 2, 3, 2, batch_norm=True, **kw), (2, 6, 6, 3)),
    ("dense_block", lambda **kw: DenseBlock(3, 2, **kw), (2, 5, 5, 3)),
    ("dense_block_plain", lambda **kw: DenseBlock(2, 3, bottleneck=False, **kw), (2, 5, 5, 3)),
    ("transition", lambda **kw: TransitionLayer(0.5, **kw), (2, 6, 6, 6)),
    ("locally_connected", lambda **kw: LocallyConnected2D(3, 3, activation="tanh", **kw), (2, 6, 6, 2)),
    ("locally_connected_same", lambda **kw: LocallyConnected2D(2, (3, 2), strides=2, padding="same", **kw), (2, 5, 6, 2)),
]
IDS = [c[0] for c in CASES]
# One case per class (and shortcut kind) for the slower XLA and mixed-precision checks.
CORE = ["basic_projection", "basic_zero_pad", "bottleneck_projection", "inception_bn", "dense_block",
        "transition", "locally_connected_same"]  # fmt: skip
CORE_CASES = [c for c in CASES if c[0] in CORE]
WITHOUT_BATCH_NORM = {"zero_pad_shortcut", "inception", "locally_connected", "locally_connected_same"}
BN_CASES = [c for c in CASES if c[0] not in WITHOUT_BATCH_NORM]


def _randomize(layer, rng):
    """Give every weight (BN moving statistics included) a random, valid value."""
    for w in layer.weights:
        low = 0.5 if "variance" in w.path else -1.0
        w.assign(rng.uniform(low, 1.5, size=w.shape).astype(w.dtype))


def _model(layer, shape, dtype="float32"):
    inputs = keras.Input(shape[1:], dtype=dtype)
    return keras.Model(inputs, layer(inputs))


@pytest.fixture
def mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


# ---------------------------------------------------------------------- common checks
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keras_round_trip_restores_config_weights_and_outputs(case, tmp_path):
    _, factory, shape = case
    rng = np.random.default_rng(0)
    layer = factory()
    model = _model(layer, shape)
    _randomize(layer, rng)
    x = rng.normal(size=shape).astype("float32")
    expected = model.predict(x, verbose=0)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # custom classes found through registration
    loaded_layer = loaded.layers[1]

    assert type(loaded_layer) is type(layer)
    assert loaded_layer.get_config() == layer.get_config()
    assert len(loaded_layer.weights) == len(layer.weights) > 0 or isinstance(layer, ZeroPadShortcut)
    for a, b in zip(layer.weights, loaded_layer.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CORE_CASES, ids=CORE)
def test_jit_compiled_forward_and_gradients_match_eager(case):
    _, factory, shape = case
    rng = np.random.default_rng(1)
    layer = factory()
    layer.build(shape)
    _randomize(layer, rng)
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    weights = rng.normal(size=layer.compute_output_shape(shape)).astype("float32")

    def step(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs, training=True)
            loss = tf.reduce_sum(y * weights)
        return y, tape.gradient(loss, [inputs] + layer.trainable_variables)

    y_eager, grads_eager = step(x)
    y_xla, grads_xla = tf.function(step, jit_compile=True)(x)
    np.testing.assert_allclose(y_xla.numpy(), y_eager.numpy(), rtol=1e-4, atol=1e-4)
    for g_xla, g_eager in zip(grads_xla, grads_eager):
        np.testing.assert_allclose(g_xla.numpy(), g_eager.numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("case", CORE_CASES, ids=CORE)
def test_mixed_float16_computes_in_half_keeps_float32_weights_and_agrees(case, mixed_precision):
    _, factory, shape = case
    rng = np.random.default_rng(2)
    layer = factory()
    layer.build(shape)
    _randomize(layer, rng)
    x = rng.uniform(-1, 1, size=shape).astype("float32")

    y = layer(x, training=False)
    assert layer.compute_dtype == "float16"
    assert y.dtype == "float16"
    assert all(w.dtype == "float32" for w in layer.weights)

    reference = type(layer).from_config({**layer.get_config(), "dtype": "float32"})
    reference.build(shape)
    reference.set_weights(layer.get_weights())
    y32 = reference(x, training=False)
    assert y32.dtype == "float32"
    scale = float(np.max(np.abs(y32))) + 1.0
    np.testing.assert_allclose(np.asarray(y, dtype="float32"), np.asarray(y32), rtol=2e-2, atol=2e-2 * scale)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_match_central_finite_differences_in_float64(case):
    """Directional derivatives along random directions (input and every weight at once):
    tape gradient · v must equal (f(θ + εv) − f(θ − εv)) / 2ε, relative error ~1e-8."""
    _, factory, shape = case
    rng = np.random.default_rng(3)
    layer = factory(dtype="float64")
    layer.build(shape)
    _randomize(layer, rng)
    x = tf.Variable(rng.normal(size=shape))
    params = [x] + list(layer.trainable_variables)
    readout = tf.constant(rng.normal(size=layer.compute_output_shape(shape)))

    def loss():
        # Training mode: batch norm uses (and differentiates through) the batch statistics.
        return tf.reduce_sum(layer(x, training=True) * readout)

    with tf.GradientTape() as tape:
        value = loss()
    grads = tape.gradient(value, params)
    assert all(g is not None for g in grads)

    eps = 1e-6
    originals = [p.numpy() for p in params]
    for _ in range(3):
        directions = [rng.normal(size=p.shape) for p in params]
        analytic = sum(float(tf.reduce_sum(g * d)) for g, d in zip(grads, directions))
        for p, o, d in zip(params, originals, directions):
            p.assign(o + eps * d)
        plus = float(loss())
        for p, o, d in zip(params, originals, directions):
            p.assign(o - eps * d)
        minus = float(loss())
        for p, o in zip(params, originals):
            p.assign(o)
        numeric = (plus - minus) / (2 * eps)
        assert abs(analytic - numeric) <= 1e-6 * max(1.0, abs(analytic)), (analytic, numeric)


@pytest.mark.parametrize("case", BN_CASES, ids=[c[0] for c in BN_CASES])
def test_training_flag_reaches_every_batch_norm(case):
    """training=True must update every moving mean; training=False must leave them alone."""
    _, factory, shape = case
    rng = np.random.default_rng(11)
    layer = factory()
    layer.build(shape)
    _randomize(layer, rng)
    moving = [w for w in layer.non_trainable_weights if "moving_mean" in w.path]
    assert moving
    x = rng.normal(size=shape).astype("float32")
    before = [w.numpy().copy() for w in moving]
    layer(x, training=False)
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(moving, before))
    layer(x, training=True)
    changed = [w.path for w, b in zip(moving, before) if not np.allclose(w.numpy(), b)]
    assert len(changed) == len(moving), f"not updated: {set(w.path for w in moving) - set(changed)}"


# ---------------------------------------------------------------------- residual blocks
def _reference_basic(block, x):
    """The basic block rebuilt from fresh built-in layers holding the block's weights."""
    shape = x.shape
    inputs = keras.Input(shape[1:])
    conv1 = L.Conv2D(block.filters, 3, strides=block.strides, padding="same", use_bias=False)
    bn1, conv2, bn2 = L.BatchNormalization(), L.Conv2D(block.filters, 3, padding="same", use_bias=False), L.BatchNormalization()
    y = bn2(conv2(L.ReLU()(bn1(conv1(inputs)))))
    short = inputs
    if block.shortcut == "projection" and block.shortcut_layers:
        sc, sbn = L.Conv2D(block.filters, 1, strides=block.strides, use_bias=False), L.BatchNormalization()
        short = sbn(sc(inputs))
    model = keras.Model(inputs, [y, short])
    for mine, theirs in [(block.conv1, conv1), (block.bn1, bn1), (block.conv2, conv2), (block.bn2, bn2)]:
        theirs.set_weights(mine.get_weights())
    if short is not inputs:
        sc.set_weights(block.shortcut_layers[0].get_weights())
        sbn.set_weights(block.shortcut_layers[1].get_weights())
    residual, short = (np.asarray(t) for t in model(x, training=False))
    if block.shortcut == "zero_pad" and block.shortcut_layers:
        s = block.strides
        short = np.zeros(residual.shape, dtype=residual.dtype)
        short[..., : x.shape[-1]] = x[:, ::s, ::s, :]
    if block.shortcut == "none":
        return np.maximum(residual, 0)
    return np.maximum(residual + short, 0)


@pytest.mark.parametrize("shortcut", ["projection", "zero_pad", "none"])
@pytest.mark.parametrize("strides, filters", [(1, 4), (2, 6)])
def test_basic_block_equals_composition_of_builtin_layers(shortcut, strides, filters):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 7, 7, 4)).astype("float32")
    block = BasicResidualBlock(filters, strides=strides, shortcut=shortcut)
    block.build(x.shape)
    _randomize(block, rng)
    np.testing.assert_allclose(np.asarray(block(x, training=False)), _reference_basic(block, x), rtol=1e-5, atol=1e-5)
    assert block(x).shape == block.compute_output_shape(x.shape)


def test_projection_appears_only_when_the_shape_changes():
    same = BasicResidualBlock(4)
    same.build((None, 8, 8, 4))
    wider = BasicResidualBlock(8)
    wider.build((None, 8, 8, 4))
    padded = BasicResidualBlock(8, strides=2, shortcut="zero_pad")
    padded.build((None, 8, 8, 4))
    plain = BasicResidualBlock(8, strides=2, shortcut="none")
    plain.build((None, 8, 8, 4))
    assert same.shortcut_layers == []
    assert [type(layer).__name__ for layer in wider.shortcut_layers] == ["Conv2D", "BatchNormalization"]
    # Option A adds no weights: the residual block has exactly its plain twin's parameters.
    assert padded.count_params() == plain.count_params() == 9 * 4 * 8 + 9 * 8 * 8 + 2 * 4 * 8


def test_bottleneck_block_widths_and_parameters():
    block = BottleneckResidualBlock(64)
    block.build((None, 56, 56, 256))
    # 1x1 256→64, 3x3 64→64, 1x1 64→256 (no biases) and 3 batch norms of 4 weights per channel.
    assert block.count_params() == 256 * 64 + 9 * 64 * 64 + 64 * 256 + 4 * (64 + 64 + 256)
    assert block.shortcut_layers == []  # 256 in, 256 out, stride 1: identity
    assert block.compute_output_shape((None, 56, 56, 256)) == (None, 56, 56, 256)
    down = BottleneckResidualBlock(128, strides=2)
    assert down.compute_output_shape((None, 56, 56, 256)) == (None, 28, 28, 512)


def test_zero_pad_shortcut_is_subsampling_and_zero_channels():
    x = np.arange(2 * 5 * 5 * 3, dtype="float32").reshape(2, 5, 5, 3)
    y = np.asarray(ZeroPadShortcut(7, strides=2)(x))
    assert y.shape == (2, 3, 3, 7)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 3:], 0)
    with pytest.raises(ValueError, match="out_channels=2"):
        ZeroPadShortcut(2)(x)


# ---------------------------------------------------------------------- inception
def test_inception_module_is_the_concatenation_of_its_four_branches():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 6, 5)).astype("float32")
    module = InceptionModule(2, 3, 4, 2, 3, 2)
    module.build(x.shape)
    _randomize(module, rng)

    def conv(x, layer, size):
        ref = L.Conv2D(layer.filters, size, padding="same", activation="relu")
        ref.build(x.shape)
        ref.set_weights(layer.get_weights())
        return np.asarray(ref(x))

    b1 = conv(x, module.branch_1x1[0], 1)
    b3 = conv(conv(x, module.branch_3x3[0], 1), module.branch_3x3[1], 3)
    b5 = conv(conv(x, module.branch_5x5[0], 1), module.branch_5x5[1], 5)
    pooled = np.asarray(tf.nn.max_pool2d(x, 3, 1, "SAME"))
    bp = conv(pooled, module.branch_pool[1], 1)
    expected = np.concatenate([b1, b3, b5, bp], axis=-1)
    np.testing.assert_allclose(np.asarray(module(x)), expected, rtol=1e-5, atol=1e-5)


def test_inception_3a_parameters_match_googlenet():
    module = InceptionModule(64, 96, 128, 16, 32, 32)
    module.build((None, 28, 28, 192))
    weights = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    biases = 64 + 96 + 128 + 16 + 32 + 32
    assert module.count_params() == weights + biases
    assert module.compute_output_shape((None, 28, 28, 192)) == (None, 28, 28, 256)


# ---------------------------------------------------------------------- dense blocks
def test_dense_block_keeps_its_input_and_grows_by_growth_rate():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    block = DenseBlock(3, 4)
    y = np.asarray(block(x, training=False))
    assert y.shape == (2, 5, 5, 3 + 3 * 4)
    np.testing.assert_array_equal(y[..., :3], x)  # dense connectivity: x0 is passed on unchanged


def test_dense_block_equals_composition_of_builtin_layers():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    block = DenseBlock(2, 4, bottleneck=True, bottleneck_factor=2)
    block.build(x.shape)
    _randomize(block, rng)
    features = x
    for composite in block.composite_layers:
        h = features
        for layer in composite:
            if isinstance(layer, L.BatchNormalization):
                gamma, beta, mean, var = layer.get_weights()
                h = (h - mean) / np.sqrt(var + layer.epsilon) * gamma + beta
            elif isinstance(layer, L.ReLU):
                h = np.maximum(h, 0)
            else:
                h = np.asarray(tf.nn.conv2d(h.astype("float32"), layer.kernel.numpy(), 1, "SAME"))
        features = np.concatenate([features, h], axis=-1)
    np.testing.assert_allclose(np.asarray(block(x, training=False)), features, rtol=1e-4, atol=1e-4)


def test_transition_layer_compresses_and_halves():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 6, 6, 10)).astype("float32")
    layer = TransitionLayer(0.5)
    layer.build(x.shape)
    _randomize(layer, rng)
    gamma, beta, mean, var = layer.bn.get_weights()
    h = np.maximum((x - mean) / np.sqrt(var + layer.bn.epsilon) * gamma + beta, 0)
    h = np.einsum("bhwc,cf->bhwf", h, layer.conv.kernel.numpy()[0, 0])
    expected = h.reshape(2, 3, 2, 3, 2, 5).mean(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), expected, rtol=1e-5, atol=1e-5)
    assert layer.conv.filters == 5


# ---------------------------------------------------------------------- locally connected
def _locally_connected_reference(x, kernel, bias, kernel_size, strides, padding):
    """Loops over output positions: y[b,i,j] = window(i,j) · W[i,j] + bias[i,j]."""
    (kh, kw), (sh, sw) = kernel_size, strides
    batch, height, width, channels = x.shape
    if padding == "same":
        out_h, out_w = -(-height // sh), -(-width // sw)
        pad_h = max((out_h - 1) * sh + kh - height, 0)
        pad_w = max((out_w - 1) * sw + kw - width, 0)
        x = np.pad(x, [(0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)])
    else:
        out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    filters = kernel.shape[-1]
    y = np.zeros((batch, out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :].reshape(batch, -1)
            y[:, i, j, :] = window @ kernel[i * out_w + j]
            if bias is not None:
                y[:, i, j, :] += bias[i, j]
    return y


@pytest.mark.parametrize(
    "kernel_size, strides, padding, use_bias",
    [((3, 3), (1, 1), "valid", True), ((3, 2), (2, 1), "valid", False), ((3, 3), (2, 2), "same", True), ((2, 4), (1, 3), "same", True)],
)
def test_locally_connected_matches_numpy_loops(kernel_size, strides, padding, use_bias):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 7, 8, 3)).astype("float32")
    layer = LocallyConnected2D(4, kernel_size, strides=strides, padding=padding, use_bias=use_bias)
    layer.build(x.shape)
    _randomize(layer, rng)
    bias = layer.bias.numpy() if use_bias else None
    expected = _locally_connected_reference(x, layer.kernel.numpy(), bias, kernel_size, strides, padding)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_locally_connected_with_one_shared_kernel_is_a_convolution(padding):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 7, 7, 3)).astype("float32")
    conv = L.Conv2D(5, 3, strides=2, padding=padding)
    conv.build(x.shape)
    kernel, bias = conv.get_weights()
    local = LocallyConnected2D(5, 3, strides=2, padding=padding)
    local.build(x.shape)
    positions = local.out_h * local.out_w
    local.set_weights([np.tile(kernel.reshape(1, -1, 5), (positions, 1, 1)), np.tile(bias, (local.out_h, local.out_w, 1))])
    np.testing.assert_allclose(np.asarray(local(x)), np.asarray(conv(x)), rtol=1e-5, atol=1e-5)


def test_locally_connected_parameter_count():
    layer = LocallyConnected2D(4, 3)
    layer.build((None, 8, 8, 2))
    assert layer.count_params() == 6 * 6 * (3 * 3 * 2 + 1) * 4  # one kernel and bias per position
    conv = L.Conv2D(4, 3)
    conv.build((None, 8, 8, 2))
    assert layer.count_params() == 6 * 6 * conv.count_params()


def test_locally_connected_deck_004_forty_million():
    """Deck 004: 400,000 hidden units with 10x10 fields = 40 million parameters
    (here 200x200 positions x 10 maps on a 209x209 single-channel image, no bias)."""
    layer = LocallyConnected2D(10, 10, use_bias=False, kernel_initializer="zeros")
    layer.build((None, 209, 209, 1))
    assert layer.compute_output_shape((None, 209, 209, 1)) == (None, 200, 200, 10)
    assert layer.count_params() == 40_000_000


# ---------------------------------------------------------------------- argument errors
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: BasicResidualBlock(0), ValueError, "filters must be a positive integer, got 0"),
        (lambda: BasicResidualBlock("4"), TypeError, "filters must be an integer, got '4'"),
        (lambda: BasicResidualBlock(4.0), TypeError, r"filters must be an integer, got 4\.0"),
        (lambda: BasicResidualBlock(4, strides=True), TypeError, "strides must be an integer, got True"),
        (lambda: BasicResidualBlock(4, shortcut="identity"), ValueError,
         "shortcut='identity' is not a known shortcut; known: projection, zero_pad, none"),
        (lambda: BasicResidualBlock(4, shortcut=None), TypeError, "shortcut must be a string"),
        (lambda: BottleneckResidualBlock(4, expansion=0), ValueError, "expansion must be a positive integer, got 0"),
        (lambda: BasicResidualBlock(4, batch_norm_momentum=1.0), ValueError,
         r"batch_norm_momentum must be a number in \[0\.0, 1\.0\), got 1\.0"),
        (lambda: BasicResidualBlock(4, batch_norm_momentum="0.9"), TypeError, "batch_norm_momentum must be a number"),
        (lambda: InceptionModule(1, 1, 1, 1, 1, -2), ValueError, "filters_pool_proj must be a positive integer, got -2"),
        (lambda: DenseBlock(2, 4, dropout_rate=1.5), ValueError, r"dropout_rate must be a number in \[0\.0, 1\.0\)"),
        (lambda: DenseBlock(2, 4, bottleneck=1), TypeError, "bottleneck must be True or False, got 1"),
        (lambda: TransitionLayer(0.0), ValueError, r"compression must be a number in \(0\.0, 1\.0\], got 0\.0"),
        (lambda: LocallyConnected2D(3, (3, 3, 3)), ValueError, "kernel_size must be a positive int or a sequence of 2"),
        (lambda: LocallyConnected2D(3, 2.5), TypeError, r"kernel_size must be a positive int .*2\.5"),
        (lambda: LocallyConnected2D(3, 3, padding="full"), ValueError, "padding='full' is not a known padding; known: valid, same"),
    ],
)
def test_bad_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message) as info:
        make()
    assert type(info.value) is error


def test_numpy_integers_are_accepted_as_layer_arguments():
    block = BasicResidualBlock(np.int64(4), strides=np.int32(2))
    assert (block.filters, block.strides) == (4, 2) and type(block.filters) is int
    layer = LocallyConnected2D(np.int64(3), np.array([2, 2]))
    assert layer.kernel_size == (2, 2)


def test_bad_input_shapes_are_explained():
    with pytest.raises(ValueError, match="needs a known height and width"):
        LocallyConnected2D(3, 3).build((None, None, None, 3))
    with pytest.raises(ValueError, match=r"expects images of shape \(batch, height, width, channels\)"):
        BasicResidualBlock(4).build((None, 8, 3))
