"""convolutionize and dense_to_conv_kernel: the heat map is exactly the sliding-window classifier."""

import keras
import numpy as np
import pytest

from cnncourse.segmentation.convolutionize import convolutionize, dense_to_conv_kernel

L = keras.layers


def _randomise(model, seed=0):
    """Random weights everywhere (BatchNorm statistics included), so that no layer is an identity."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = [rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in weights]
        if isinstance(layer, L.BatchNormalization):  # gamma, beta, moving mean, moving variance > 0
            new[3] = rng.uniform(0.5, 2.0, weights[3].shape).astype(weights[3].dtype)
        layer.set_weights(new)
    return model


def _sequential_classifier(size=16, classes=3, seed=0, softmax=False):
    model = keras.Sequential([
        keras.Input((size, size, 3)),
        L.Rescaling(2.0, offset=-1.0),
        L.Conv2D(6, 3, activation="relu", name="conv1"),
        L.BatchNormalization(name="bn1"),
        L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(8, 3, strides=1, name="conv2"),
        L.ReLU(name="relu2"),
        L.AveragePooling2D(2, name="pool2"),
        L.Dropout(0.5, name="drop1"),
        L.Flatten(name="flatten"),
        L.Dense(10, activation="relu", name="fc1"),
        L.Dropout(0.3, name="drop2"),
        L.Dense(classes, name="logits"),
    ] + ([L.Activation("softmax", name="softmax")] if softmax else []), name="cls")
    return _randomise(model, seed)


def _functional_classifier(size=12, classes=4, seed=1):
    inputs = keras.Input((size, size, 2))
    x = L.Conv2D(5, 3, strides=2, name="conv1")(inputs)
    x = L.Activation("tanh", name="act1")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(7, activation="relu", name="fc1")(x)
    x = L.Dense(classes, activation="softmax", name="probabilities")(x)
    return _randomise(keras.Model(inputs, x, name="functional_cls"), seed)


def _images(n, size, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, size, size, channels)).astype(np.float32)


# ----------------------------------------------------------------------------- dense_to_conv_kernel
def test_dense_to_conv_kernel_matches_flatten_dense():
    rng = np.random.default_rng(0)
    feature = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    kernel = rng.normal(size=(3 * 4 * 5, 6)).astype(np.float32)
    conv_kernel = dense_to_conv_kernel(kernel, (3, 4, 5))
    assert conv_kernel.shape == (3, 4, 5, 6) and conv_kernel.dtype == np.float32
    dense = feature.reshape(2, -1) @ kernel
    conv = np.asarray(keras.ops.conv(feature, conv_kernel, padding="valid"))
    assert conv.shape == (2, 1, 1, 6)
    np.testing.assert_allclose(conv[:, 0, 0], dense, rtol=1e-5, atol=1e-5)
    # entry (i, j, k) of the map meets kernel row (i*w + j)*c + k
    assert conv_kernel[2, 1, 3, 4] == kernel[(2 * 4 + 1) * 5 + 3, 4]


def test_dense_to_conv_kernel_one_by_one():
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = dense_to_conv_kernel(kernel, (1, 1, 4))
    assert out.shape == (1, 1, 4, 3)
    np.testing.assert_array_equal(out[0, 0], kernel)


@pytest.mark.parametrize("kernel, shape, error, text", [
    (np.zeros((10, 3), np.float32), (2, 2, 2), ValueError, "kernel must have shape"),
    (np.zeros((8,), np.float32), (2, 2, 2), ValueError, "kernel"),
    (np.zeros((8, 3), np.float32), (2, 2), ValueError, "feature_shape"),
    (np.zeros((8, 3), np.float32), (2, 0, 4), ValueError, "feature_shape"),
    (np.zeros((8, 3), np.float32), "abc", TypeError, "feature_shape"),
    (np.array([["a"]]), (1, 1, 1), TypeError, "kernel"),
])
def test_dense_to_conv_kernel_bad_arguments(kernel, shape, error, text):
    with pytest.raises(error, match=text):
        dense_to_conv_kernel(kernel, shape)


# ----------------------------------------------------------------------------- convolutionize
@pytest.mark.parametrize("build, size", [(_sequential_classifier, 16), (_functional_classifier, 12)])
def test_training_size_output_equals_classifier(build, size):
    classifier = build()
    channels = classifier.inputs[0].shape[-1]
    x = _images(5, size, channels)
    fully = convolutionize(classifier)
    assert tuple(fully.inputs[0].shape) == (None, None, None, channels)
    heat = np.asarray(fully(x, training=False))
    expected = np.asarray(classifier(x, training=False))
    assert heat.shape == (5, 1, 1, expected.shape[1])
    np.testing.assert_allclose(heat[:, 0, 0], expected, rtol=1e-5, atol=1e-5)
    assert np.abs(expected).max() > 1e-2  # not a trivial all-zero output


def test_softmax_head_stays_per_position():
    classifier = _sequential_classifier(softmax=True)
    heat = np.asarray(convolutionize(classifier)(_images(2, 40), training=False))
    np.testing.assert_allclose(heat.sum(-1), 1.0, rtol=1e-5)


# sizes the layers read whole (no row left over at the training size), so (H' - H) // stride + 1 windows fit
@pytest.mark.parametrize("build, size, stride", [(_sequential_classifier, 16, 4), (_functional_classifier, 13, 2)])
def test_larger_image_is_the_sliding_window_classifier(build, size, stride):
    classifier = build(size=size)
    channels = classifier.inputs[0].shape[-1]
    big = size + 3 * stride + 1  # the +1 leaves a strip no window covers
    x = _images(2, big, channels, seed=3)
    heat = np.asarray(convolutionize(classifier)(x, training=False))
    positions = (big - size) // stride + 1
    assert heat.shape[:3] == (2, positions, positions)
    for i in range(positions):
        for j in range(positions):
            crop = x[:, i * stride:i * stride + size, j * stride:j * stride + size]
            expected = np.asarray(classifier(crop, training=False))
            np.testing.assert_allclose(heat[:, i, j], expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(heat[:, 0, 0], heat[:, -1, -1])  # the windows do see different pixels


def test_weights_are_copied_not_shared():
    classifier = _sequential_classifier()
    fully = convolutionize(classifier)
    x = _images(1, 16)
    before = np.asarray(fully(x, training=False))
    for weight in classifier.weights:
        weight.assign(np.zeros(weight.shape, weight.dtype))
    np.testing.assert_array_equal(np.asarray(fully(x, training=False)), before)
    names = [layer.name for layer in fully.layers]
    assert "fc1_conv" in names and "logits_conv" in names
    assert fully.get_layer("fc1_conv").kernel.shape == (2, 2, 8, 10)
    assert fully.get_layer("logits_conv").kernel.shape == (1, 1, 10, 3)


def test_save_load_round_trip(tmp_path):
    fully = convolutionize(_functional_classifier())
    path = tmp_path / "fully.keras"
    fully.save(path)
    loaded = keras.models.load_model(path)
    x = _images(2, 20, 2)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(fully(x)), rtol=1e-6, atol=1e-6)


def test_mixed_precision_head_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((8, 8, 3))
        x = L.Conv2D(4, 3, name="conv")(inputs)
        x = L.Flatten()(x)
        x = L.Dense(3, dtype="float32", name="logits")(x)
        classifier = _randomise(keras.Model(inputs, x))
        fully = convolutionize(classifier)
        heat = fully(_images(2, 12))
        assert keras.backend.standardize_dtype(heat.dtype) == "float32"
        assert fully.get_layer("conv").compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _chain_with(layer_after_flatten=None, layer_before_flatten=None):
    layers = [keras.Input((8, 8, 3)), L.Conv2D(4, 3, name="conv")]
    if layer_before_flatten is not None:
        layers.append(layer_before_flatten)
    layers += [L.Flatten(name="flatten"), L.Dense(5, name="fc")]
    if layer_after_flatten is not None:
        layers.append(layer_after_flatten)
    return keras.Sequential(layers)


@pytest.mark.parametrize("model, text", [
    (_chain_with(layer_before_flatten=L.SeparableConv2D(4, 3, name="sep")), r"'sep' \(SeparableConv2D\) before Flatten"),
    (_chain_with(layer_before_flatten=L.ZeroPadding2D(1, name="pad")), "supported there: Conv2D, MaxPooling2D"),
    (_chain_with(layer_after_flatten=L.BatchNormalization(name="bn")), r"'bn' \(BatchNormalization\) after Flatten"),
    (keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3), L.GlobalAveragePooling2D(name="gap"), L.Dense(3)]),
     r"'gap' \(GlobalAveragePooling2D\)"),
    (keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3), L.Flatten(), L.Activation("softmax", name="act"),
                       L.Dense(3)]), "between Flatten and the first Dense"),
    (keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3), L.Flatten()]), "no Dense"),
    (keras.Sequential([keras.Input((None, None, 3)), L.Conv2D(4, 3), L.GlobalMaxPooling2D(), L.Dense(3)]),
     "known input height and width"),
])
def test_unsupported_layers_name_the_layer(model, text):
    with pytest.raises(ValueError, match=text):
        convolutionize(model)


def test_branching_model_is_refused():
    inputs = keras.Input((8, 8, 3))
    a = L.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = L.Conv2D(4, 3, padding="same", name="b")(inputs)
    x = L.Flatten()(L.Add(name="add")([a, b]))
    model = keras.Model(inputs, L.Dense(3)(x))
    with pytest.raises(ValueError, match="chain of layers"):
        convolutionize(model)


def test_not_a_model():
    with pytest.raises(TypeError, match="classifier must be a keras.Model"):
        convolutionize(lambda x: x)
