"""FCN-32s/16s/8s and U-Net builders, and the bilinear kernel: shapes, serialisation, XLA, mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnncourse.segmentation.models import bilinear_kernel, fcn, unet

L = keras.layers

# (id, builder, kwargs): a small version of each architecture
CONFIGS = [
    ("fcn32s", fcn, dict(num_classes=3, variant="32s", input_shape=(32, 32, 3), width=4)),
    ("fcn16s", fcn, dict(num_classes=3, variant="16s", input_shape=(32, 64, 3), width=4)),
    ("fcn8s", fcn, dict(num_classes=3, variant="8s", input_shape=(32, 32, 3), width=4)),
    ("fcn8s_nobn_softmax", fcn, dict(num_classes=2, variant="8s", input_shape=(32, 32, 1), width=2,
                                     batch_norm=False, activation="softmax")),
    ("unet_d2", unet, dict(num_classes=4, input_shape=(16, 16, 3), depth=2, width=4)),
    ("unet_d3_nobn", unet, dict(num_classes=2, input_shape=(16, 24, 3), depth=3, width=4, batch_norm=False)),
]
IDS = [c[0] for c in CONFIGS]


def _build(builder, kwargs, seed=0):
    keras.utils.set_random_seed(seed)
    kwargs = dict(kwargs)
    return builder(kwargs.pop("num_classes"), **kwargs)


def _images(kwargs, n=2, seed=0):
    h, w, c = kwargs["input_shape"]
    return np.random.default_rng(seed).uniform(0, 1, (n, h, w, c)).astype(np.float32)


def _masks(kwargs, n=2, seed=0):
    h, w, _ = kwargs["input_shape"]
    return np.random.default_rng(seed + 1).integers(0, kwargs["num_classes"], (n, h, w)).astype(np.int32)


def _perturb_zero_layers(model, seed=0):
    """FCN's skip scores start at zero; give them weights so that tests see the skip path work."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("score_pool"):
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in layer.get_weights()])


def _loss_and_gradients(model, x, y, jit: bool):
    probabilities = model.layers[-1].name == "probabilities"

    def step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=False)
            if probabilities:
                loss = keras.losses.sparse_categorical_crossentropy(y, out)
            else:
                loss = keras.losses.sparse_categorical_crossentropy(y, out, from_logits=True)
            loss = tf.reduce_mean(loss)
        return out, loss, tape.gradient(loss, model.trainable_variables)

    fn = tf.function(step, jit_compile=True) if jit else step
    return fn(tf.constant(x), tf.constant(y))


@pytest.mark.parametrize("name, builder, kwargs", CONFIGS, ids=IDS)
def test_output_shape_dtype_and_names(name, builder, kwargs):
    model = _build(builder, kwargs)
    h, w, _ = kwargs["input_shape"]
    out = model(_images(kwargs), training=False)
    assert tuple(out.shape) == (2, h, w, kwargs["num_classes"])
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    names = {layer.name for layer in model.layers}
    if builder is fcn:
        variant = kwargs["variant"]
        assert {"score_fr", "fc6", "fc7", "pool5", f"upsample_{variant[:-1]}x"} <= names
        assert ("score_pool4" in names) == (variant in ("16s", "8s"))
        assert ("score_pool3" in names) == (variant == "8s")
        assert model.name == f"fcn{variant}"
    else:
        depth = kwargs["depth"]
        assert {f"enc{depth}_conv1", f"dec{depth}_concat", "dec1_concat", "bottleneck_conv2", "score"} <= names
        assert f"enc{depth + 1}_conv1" not in names
        assert model.get_layer("bottleneck_conv1").filters == kwargs["width"] * 2 ** depth
    if kwargs.get("activation") == "softmax":
        np.testing.assert_allclose(np.asarray(out).sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name, builder, kwargs", CONFIGS, ids=IDS)
def test_keras_round_trip(name, builder, kwargs, tmp_path):
    model = _build(builder, kwargs)
    _perturb_zero_layers(model)
    x = _images(kwargs)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), np.asarray(model(x, training=False)),
                               rtol=1e-6, atol=1e-6)
    assert [layer.trainable for layer in loaded.layers] == [layer.trainable for layer in model.layers]


@pytest.mark.parametrize("name, builder, kwargs", CONFIGS, ids=IDS)
def test_xla_forward_and_gradients_equal_eager(name, builder, kwargs):
    model = _build(builder, kwargs)
    _perturb_zero_layers(model)
    x, y = _images(kwargs), _masks(kwargs)
    out_e, loss_e, grads_e = _loss_and_gradients(model, x, y, jit=False)
    out_j, loss_j, grads_j = _loss_and_gradients(model, x, y, jit=True)
    np.testing.assert_allclose(np.asarray(out_j), np.asarray(out_e), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(loss_j), float(loss_e), rtol=1e-5)
    assert len(grads_e) == len(model.trainable_variables) > 0
    scale = max(float(np.abs(np.asarray(g)).max()) for g in grads_e)
    assert scale > 0
    for g_e, g_j in zip(grads_e, grads_j):
        g_e, g_j = np.asarray(g_e), np.asarray(g_j)
        assert np.all(np.isfinite(g_j))
        np.testing.assert_allclose(g_j, g_e, rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.parametrize("name, builder, kwargs", CONFIGS, ids=IDS)
def test_mixed_float16_float32_outputs_close_and_finite_gradients(name, builder, kwargs):
    reference = _build(builder, kwargs)
    _perturb_zero_layers(reference)
    x, y = _images(kwargs), _masks(kwargs)
    expected = np.asarray(reference(x, training=False))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _build(builder, kwargs)
        model.set_weights(reference.get_weights())
        assert model.get_layer(model.layers[1].name).compute_dtype == "float16"
        out, loss, grads = _loss_and_gradients(model, x, y, jit=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    tolerance = 0.02 * max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(np.asarray(out), expected, atol=tolerance)
    assert np.isfinite(float(loss))
    assert all(np.all(np.isfinite(np.asarray(tf.cast(g, tf.float32)))) for g in grads)


# ----------------------------------------------------------------------------- parameter counts
def _conv_params(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def test_fcn_parameter_count_formula():
    width, classes = 4, 3
    for variant in ("32s", "16s", "8s"):
        model = fcn(classes, variant=variant, input_shape=(32, 32, 3), width=width, batch_norm=False)
        widths = [width * m for m in (1, 2, 4, 8, 8)]
        total, cin = 0, 3
        for w in widths:
            total += _conv_params(3, cin, w) + _conv_params(3, w, w)
            cin = w
        total += _conv_params(3, cin, width * 8) + _conv_params(1, width * 8, width * 8)
        total += _conv_params(1, width * 8, classes)
        up = {"32s": [32], "16s": [2, 16], "8s": [2, 2, 8]}[variant]
        total += sum((2 * f - f % 2) ** 2 * classes * classes for f in up)  # transposed convs, no bias
        if variant in ("16s", "8s"):
            total += _conv_params(1, widths[3], classes)
        if variant == "8s":
            total += _conv_params(1, widths[2], classes)
        assert model.count_params() == total, variant
        frozen = sum(int(np.prod(v.shape)) for v in model.non_trainable_weights)
        assert frozen == (2 * up[-1]) ** 2 * classes * classes  # only the final upsampling is fixed


def test_unet_parameter_count_formula():
    width, depth, classes = 4, 3, 5
    model = unet(classes, input_shape=(16, 16, 3), depth=depth, width=width, batch_norm=False)
    total, cin = 0, 3
    for level in range(depth):
        w = width * 2 ** level
        total += _conv_params(3, cin, w) + _conv_params(3, w, w)
        cin = w
    b = width * 2 ** depth
    total += _conv_params(3, cin, b) + _conv_params(3, b, b)
    cin = b
    for level in range(depth - 1, -1, -1):
        w = width * 2 ** level
        total += _conv_params(2, cin, w)             # up: 2x2 transposed conv with bias
        total += _conv_params(3, 2 * w, w) + _conv_params(3, w, w)  # after the concatenation
        cin = w
    total += _conv_params(1, cin, classes)
    assert model.count_params() == total
    with_bn = unet(classes, input_shape=(16, 16, 3), depth=depth, width=width)
    convs = [layer for layer in with_bn.layers if isinstance(layer, L.BatchNormalization)]
    assert len(convs) == 4 * depth + 2
    # BN: 4 weights per channel, the conv loses its bias (one per channel)
    assert with_bn.count_params() == total + sum(3 * layer.gamma.shape[0] for layer in convs)


# ----------------------------------------------------------------------------- bilinear kernel
def _bilinear_reference(image: np.ndarray, factor: int) -> np.ndarray:
    """Explicit bilinear interpolation with half-pixel centres, edge values repeated; image (H, W)."""
    h, w = image.shape
    def axis(n):
        pos = (np.arange(n * factor) + 0.5) / factor - 0.5
        lo = np.clip(np.floor(pos).astype(int), 0, n - 1)
        hi = np.clip(lo + 1, 0, n - 1)
        t = np.clip(pos - np.floor(pos), 0, 1)
        t = np.where(pos < 0, 0.0, np.where(pos > n - 1, 1.0, t))
        return lo, hi, t
    r0, r1, tr = axis(h)
    c0, c1, tc = axis(w)
    rows = image[r0] * (1 - tr)[:, None] + image[r1] * tr[:, None]
    return rows[:, c0] * (1 - tc)[None, :] + rows[:, c1] * tc[None, :]


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8, 32])
def test_bilinear_kernel_shape_and_values(factor):
    kernel = bilinear_kernel(factor, channels=2)
    size = 2 * factor - factor % 2
    assert kernel.shape == (size, size, 2, 2) and kernel.dtype == np.float32
    assert np.all(kernel[:, :, 0, 1] == 0) and np.all(kernel[:, :, 1, 0] == 0)
    np.testing.assert_array_equal(kernel[:, :, 0, 0], kernel[:, :, 1, 1])
    filt = kernel[:, :, 0, 0]
    np.testing.assert_allclose(filt, filt.T)
    # the weights reaching each output pixel sum to one (a partition of unity)
    for offset in range(factor):
        np.testing.assert_allclose(filt[offset::factor, offset::factor].sum(), 1.0, rtol=1e-6)


def test_bilinear_kernel_factor_two_is_caffe_upsample_filt():
    row = np.array([0.25, 0.75, 0.75, 0.25], np.float32)
    np.testing.assert_allclose(bilinear_kernel(2)[:, :, 0, 0], np.outer(row, row), rtol=1e-6)
    row3 = np.array([1, 2, 3, 2, 1], np.float32) / 3
    np.testing.assert_allclose(bilinear_kernel(3)[:, :, 0, 0], np.outer(row3, row3), rtol=1e-6)


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_transposed_conv_with_bilinear_kernel_is_bilinear_interpolation(factor):
    n, channels = 6, 2
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ramp = (3.0 * rows - 2.0 * cols + 1.0).astype(np.float32)
    rng = np.random.default_rng(factor)
    other = rng.uniform(0, 1, (n, n)).astype(np.float32)
    image = np.stack([ramp, other], -1)[None]
    size = 2 * factor - factor % 2
    layer = L.Conv2DTranspose(channels, size, strides=factor, padding="same", use_bias=False,
                              kernel_initializer=keras.initializers.Constant(bilinear_kernel(factor, channels)))
    out = np.asarray(layer(image))[0]
    assert out.shape == (n * factor, n * factor, channels)
    interior = slice(factor, (n - 1) * factor)
    # a linear ramp is reproduced exactly: value at output pixel p is the ramp at input coordinate (p + 0.5) / f - 0.5
    pos = (np.arange(n * factor) + 0.5) / factor - 0.5
    expected_ramp = 3.0 * pos[:, None] - 2.0 * pos[None, :] + 1.0
    np.testing.assert_allclose(out[interior, interior, 0], expected_ramp[interior, interior], rtol=1e-5, atol=1e-4)
    # and any image is bilinearly interpolated, as the explicit reference and tf.image.resize do
    reference = _bilinear_reference(other, factor)
    np.testing.assert_allclose(out[interior, interior, 1], reference[interior, interior], atol=1e-5)
    resized = tf.image.resize(image, (n * factor, n * factor), method="bilinear").numpy()[0]
    np.testing.assert_allclose(out[interior, interior], resized[interior, interior], atol=1e-4)
    # at the border the zero padding shows: the ramp is not continued there
    assert not np.allclose(out[0, :, 0], expected_ramp[0])


def test_fcn_upsampling_kernels_are_bilinear_at_init():
    model = fcn(3, variant="8s", input_shape=(32, 32, 3), width=2)
    for name, factor, trainable in [("upsample_pool5_2x", 2, True), ("upsample_pool4_2x", 2, True),
                                    ("upsample_8x", 8, False)]:
        layer = model.get_layer(name)
        assert isinstance(layer, L.Conv2DTranspose) and not layer.use_bias
        assert layer.strides == (factor, factor) and layer.trainable is trainable
        np.testing.assert_array_equal(np.asarray(layer.kernel), bilinear_kernel(factor, 3))
    for name in ("score_pool4", "score_pool3"):
        assert not np.any(np.asarray(model.get_layer(name).kernel))
    assert not fcn(3, variant="32s", input_shape=(32, 32, 3), width=2).get_layer("upsample_32x").trainable


def test_fcn_skips_add_nothing_at_init():
    """score_pool4 / score_pool3 start at zero: each fuse equals the upsampled coarser scores."""
    model = fcn(2, variant="8s", input_shape=(64, 64, 3), width=2)
    names = ["upsample_pool5_2x", "fuse_pool4", "upsample_pool4_2x", "fuse_pool3"]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    x = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    up4, fuse4, up3, fuse3 = (np.asarray(t) for t in probe(x, training=False))
    assert np.abs(up4).max() > 0 and np.abs(up3).max() > 0
    np.testing.assert_array_equal(fuse4, up4)
    np.testing.assert_array_equal(fuse3, up3)


def test_variable_input_size():
    model = unet(2, input_shape=(None, None, 3), depth=2, width=2)
    assert tuple(model(np.zeros((1, 12, 20, 3), np.float32)).shape) == (1, 12, 20, 2)
    model = fcn(2, variant="16s", input_shape=(None, None, 3), width=2)
    assert tuple(model(np.zeros((1, 64, 32, 3), np.float32)).shape) == (1, 64, 32, 2)


# ----------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("call, error, text", [
    (lambda: fcn(3, input_shape=(48, 64, 3)), ValueError, r"input_shape\[0\] \(height\) must be a positive multiple of 32"),
    (lambda: fcn(3, input_shape=(64, 40, 3)), ValueError, r"input_shape\[1\] \(width\)"),
    (lambda: fcn(3, input_shape=(64, 64)), ValueError, r"input_shape must be \(height, width, channels\)"),
    (lambda: fcn(3, input_shape=(64, 64, 0)), ValueError, "channels"),
    (lambda: fcn(3, input_shape=(64.0, 64, 3)), TypeError, r"input_shape\[0\]"),
    (lambda: fcn(3, variant="4s"), ValueError, "variant='4s' is not a known FCN variant; known: 32s, 16s, 8s"),
    (lambda: fcn(0), ValueError, "num_classes must be a positive integer"),
    (lambda: fcn(3.0), TypeError, "num_classes"),
    (lambda: fcn(3, width=0), ValueError, "width"),
    (lambda: fcn(3, batch_norm=1), TypeError, "batch_norm must be True or False"),
    (lambda: fcn(3, activation="relu"), ValueError, "activation='relu' is not a known activation"),
    (lambda: unet(3, input_shape=(24, 24, 3), depth=4), ValueError, "multiple of 16"),
    (lambda: unet(3, depth=0), ValueError, "depth"),
    (lambda: unet(3, depth=7, input_shape=(128, 128, 3)), ValueError, "depth"),
    (lambda: unet(3, depth=2.5), TypeError, "depth"),
    (lambda: unet(-1), ValueError, "num_classes"),
    (lambda: unet(3, width="16"), TypeError, "width"),
    (lambda: bilinear_kernel(0), ValueError, "factor must be a positive integer"),
    (lambda: bilinear_kernel(2, channels=0), ValueError, "channels must be a positive integer"),
    (lambda: bilinear_kernel(1.5), TypeError, "factor"),
])
def test_bad_arguments(call, error, text):
    with pytest.raises(error, match=text):
        call()
