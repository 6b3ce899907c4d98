"""cnncourse.explain's heat maps on tiny models whose right answer is known analytically."""

import keras
import numpy as np
import pytest

from cnncourse import explain


def linear_model(weights, bias=None):
    """(N, H, W, C) -> (N, K) logits = W . x + b, weights (H, W, C, K)."""
    h, w, c, k = weights.shape
    inputs = keras.Input((h, w, c))
    x = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(k, name="dense")
    model = keras.Model(inputs, dense(x))
    dense.set_weights([weights.reshape(-1, k), np.zeros(k) if bias is None else bias])
    return model


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(6, 5, 3, 4)).astype("float32")
    return linear_model(weights), weights


def test_saliency_of_a_linear_model_is_its_weights(linear):
    model, weights = linear
    images = np.random.default_rng(1).uniform(size=(3, 6, 5, 3)).astype("float32")
    maps = explain.saliency_map(model, images, np.array([0, 2, 3]))
    for n, c in enumerate([0, 2, 3]):
        np.testing.assert_allclose(maps[n], np.abs(weights[..., c]).max(axis=-1), rtol=1e-5)


def test_smoothgrad_of_a_linear_model_is_its_weights_too(linear):
    model, weights = linear
    images = np.random.default_rng(2).uniform(size=(2, 6, 5, 3)).astype("float32")
    maps = explain.smoothgrad(model, images, 1, samples=4, noise=0.3)
    np.testing.assert_allclose(maps, np.broadcast_to(np.abs(weights[..., 1]).max(-1), maps.shape), rtol=1e-5)


def relu_model():
    """logit = sum(w2 * relu(w1 * x)) per pixel, one channel: a 1x1 conv, ReLU, 1x1 conv, sum."""
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv1")(inputs)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, x)
    model.get_layer("conv1").set_weights([np.full((1, 1, 1, 1), 1.0, "float32")])
    model.get_layer("conv2").set_weights([np.full((1, 1, 1, 1), -2.0, "float32")])
    return model


def test_guided_backprop_zeroes_negative_gradients_and_leaves_the_model_alone():
    model = relu_model()
    images = np.linspace(-1, 1, 16, dtype="float32").reshape(1, 4, 4, 1)
    plain = explain.saliency_map(model, images, 0)
    # d/dx of mean(-2 relu(x)) = -2/16 where x > 0: saliency 1/8 there, 0 elsewhere
    np.testing.assert_allclose(plain[0], np.where(images[0, ..., 0] > 0, 2 / 16, 0.0), rtol=1e-6)
    # the gradient reaching the ReLU is negative: guided backprop lets nothing through
    np.testing.assert_allclose(explain.guided_backprop(model, images, 0), 0.0)
    # with a positive second weight the guided map equals the plain one
    model.get_layer("conv2").set_weights([np.full((1, 1, 1, 1), 3.0, "float32")])
    np.testing.assert_allclose(explain.guided_backprop(model, images, 0), explain.saliency_map(model, images, 0), rtol=1e-6)
    # the original model's gradients are unchanged after a guided copy exists
    np.testing.assert_allclose(explain.saliency_map(model, -images, 0)[0],
                               np.where(-images[0, ..., 0] > 0, 3 / 16, 0.0), rtol=1e-6)


def test_guided_model_handles_relu_activations_inside_layers():
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv2")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    model.get_layer("conv1").set_weights([np.ones((1, 1, 1, 1), "float32")])
    model.get_layer("conv2").set_weights([-np.ones((1, 1, 1, 1), "float32")])
    images = np.linspace(-1, 1, 16, dtype="float32").reshape(1, 4, 4, 1)
    guided = explain.guided_model(model)
    np.testing.assert_allclose(guided(images), model(images), rtol=1e-6)
    assert explain.saliency_map(model, images, 0).max() > 0
    np.testing.assert_allclose(explain.guided_backprop(model, images, 0, guided=guided), 0.0)


def one_hot_feature_model():
    """The 'last conv layer' is the image itself (1x1 identity conv), then GAP and Dense(1, weight 1)."""
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Conv2D(1, 1, use_bias=False, name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(features)
    logits = keras.layers.Dense(2, name="logits")(x)
    model = keras.Model(inputs, logits)
    model.get_layer("features").set_weights([np.ones((1, 1, 1, 1), "float32")])
    model.get_layer("logits").set_weights([np.array([[1.0, -1.0]], "float32"), np.zeros(2, "float32")])
    return model


def test_grad_cam_of_a_one_hot_feature_map_is_the_object():
    model = one_hot_feature_model()
    images = np.zeros((2, 8, 8, 1), "float32")
    images[0, 2:4, 5:7] = 1.0
    images[1, 6, 0] = 1.0
    cam = explain.grad_cam(model, images, "features", 0, upsample=False)
    # alpha = 1/64 for the single channel: cam = relu(A / 64)
    np.testing.assert_allclose(cam, images[..., 0] / 64, rtol=1e-6)
    # class 1 has alpha = -1/64: the ReLU leaves nothing
    np.testing.assert_allclose(explain.grad_cam(model, images, "features", 1, upsample=False), 0.0)
    boxes = np.array([[5, 2, 7, 4], [0, 6, 1, 7]])
    assert explain.pointing_game(cam, boxes) == 1.0
    assert explain.pointing_game(cam, boxes[::-1]) == 0.0


def test_grad_cam_upsamples_to_the_input():
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Conv2D(1, 2, strides=2, use_bias=False, name="features")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(features)))
    cam = explain.grad_cam(model, np.ones((1, 8, 8, 1)), "features", 0)
    assert cam.shape == (1, 8, 8)
    assert explain.grad_cam(model, np.ones((1, 8, 8, 1)), "features", 0, upsample=False).shape == (1, 4, 4)


def one_pixel_model(row, col, size=8):
    """logit = x[row, col, 0]: a Dense layer reading one pixel."""
    weights = np.zeros((size, size, 1, 1), "float32")
    weights[row, col, 0, 0] = 1.0
    return linear_model(weights)


@pytest.mark.parametrize("fill", [0.0, 0.25, "mean"])
def test_occlusion_of_a_one_pixel_model(fill):
    model = one_pixel_model(3, 5)
    images = np.random.default_rng(3).uniform(size=(2, 8, 8, 1)).astype("float32")
    maps = explain.occlusion_sensitivity(model, images, 0, patch_size=3, stride=2, fill=fill, batch_size=5)
    assert maps.shape == (2, 3, 3)
    fills = images.mean(axis=(1, 2, 3)) if fill == "mean" else np.full(2, fill)
    expected = np.zeros((2, 3, 3))
    for r in range(3):
        for c in range(3):
            if 2 * r <= 3 < 2 * r + 3 and 2 * c <= 5 < 2 * c + 3:
                expected[:, r, c] = images[:, 3, 5, 0] - fills
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-6)
    loop = explain.occlusion_sensitivity_loop(model, images, 0, patch_size=3, stride=2, fill=fill)
    np.testing.assert_allclose(maps, loop, rtol=1e-5, atol=1e-6)


def test_occlusion_to_pixels_spreads_each_drop_over_its_patch():
    model = one_pixel_model(6, 1)
    images = np.ones((1, 8, 8, 1), "float32")
    tiles = explain.occlusion_sensitivity(model, images, 0, patch_size=2, stride=2, fill=0.0)
    expected = np.zeros((1, 8, 8))
    expected[0, 6:8, 0:2] = 1.0  # the one tile covering pixel (6, 1)
    np.testing.assert_allclose(explain.occlusion_to_pixels(tiles, (8, 8), patch_size=2, stride=2), expected)
    # overlapping patches: each pixel gets the mean drop of the patches covering it
    maps = explain.occlusion_sensitivity(model, images, 0, patch_size=2, stride=1, fill=0.0)
    pixels = explain.occlusion_to_pixels(maps, (8, 8), patch_size=2, stride=1)
    assert pixels[0, 6, 1] == 1.0 and pixels[0, 5, 1] == 0.5 and pixels[0, 0, 7] == 0.0


def test_occlusion_probability_score_is_bounded():
    model = one_pixel_model(0, 0)
    maps = explain.occlusion_sensitivity(model, np.ones((1, 8, 8, 1)), 0, patch_size=4, stride=4, score="probability")
    assert np.all(np.abs(maps) <= 1.0)


@pytest.mark.parametrize("call, message", [
    (lambda m: explain.saliency_map(m, np.ones((1, 5, 5, 3)), 0), "images must have shape"),
    (lambda m: explain.saliency_map(m, np.ones((1, 6, 5, 3)), 7), "class_index must be in"),
    (lambda m: explain.saliency_map(m, np.ones((2, 6, 5, 3)), np.array([0])), "one class per image"),
    (lambda m: explain.occlusion_sensitivity(m, np.ones((1, 6, 5, 3)), 0, patch_size=9), "patch_size must be"),
    (lambda m: explain.occlusion_sensitivity(m, np.ones((1, 6, 5, 3)), 0, patch_size=2, fill="grey"), "fill must be a number or .mean."),
    (lambda m: explain.grad_cam(m, np.ones((1, 6, 5, 3)), "nope", 0), "layer_name must name a layer"),
    (lambda m: explain.grad_cam(m, np.ones((1, 6, 5, 3)), "dense", 0), "layer_name must name a layer with"),
    (lambda m: explain.saliency_map("model", np.ones((1, 6, 5, 3)), 0), "model must be a keras.Model"),
])
def test_bad_arguments_name_themselves(linear, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(linear[0])
