"""cnncourse.explain's gradient-ascent images, style losses and sanity checks."""

import keras
import numpy as np
import pytest

from cnncourse import explain, transfer


def linear_model(weights):
    h, w, c, k = weights.shape
    inputs = keras.Input((h, w, c))
    dense = keras.layers.Dense(k, name="dense")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([weights.reshape(-1, k), np.zeros(k)])
    return model


def test_gram_matrix_is_f_f_transpose_over_positions():
    features = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype("float32")
    gram = np.asarray(explain.gram_matrix(features))
    for n in range(2):
        f = features[n].reshape(12, 5).T  # (C, M)
        np.testing.assert_allclose(gram[n], f @ f.T / 12, rtol=1e-5)


def test_style_and_content_losses_match_their_formulas():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(1, 4, 4, 3)), rng.normal(size=(1, 4, 4, 3))
    ga, gb = np.asarray(explain.gram_matrix(a)), np.asarray(explain.gram_matrix(b))
    np.testing.assert_allclose(float(explain.style_layer_loss(ga, gb)), ((ga - gb) ** 2).sum() / (4 * 9), rtol=1e-5)
    c = rng.normal(size=(1, 2, 2, 6))
    total = float(explain.style_loss([a, c], [gb, explain.gram_matrix(c)], weights=[0.5, 2.0]))
    np.testing.assert_allclose(total, 0.5 * ((ga - gb) ** 2).sum() / 36, rtol=1e-5)
    np.testing.assert_allclose(float(explain.content_loss(a, b)), 0.5 * np.mean((a - b) ** 2), rtol=1e-5)
    with pytest.raises(ValueError, match="one entry per style layer"):
        explain.style_loss([a], [ga, gb])


def test_class_model_of_a_linear_model_follows_the_sign_of_its_weights():
    weights = np.random.default_rng(2).normal(size=(6, 6, 3, 2)).astype("float32")
    image, scores = explain.class_model_visualisation(linear_model(weights), 1, steps=30, step_size=0.1, l2=0.0,
                                                      blur_every=0)
    assert image.shape == (6, 6, 3) and image.min() >= 0 and image.max() <= 1
    assert scores[-1] > scores[0]
    # ascent on w . x with clipping drives each pixel to 1 where w > 0 and to 0 where w < 0
    assert np.mean((image > 0.5) == (weights[..., 1] > 0)) > 0.95


def test_deep_dream_raises_the_layer_activation():
    base = transfer.load_backbone()
    photo = np.random.default_rng(3).uniform(size=(32, 32, 3)).astype("float32")
    dreamed, objectives = explain.deep_dream(base, photo, "block2", steps=5, step_size=0.02)
    assert dreamed.shape == photo.shape and 0 <= dreamed.min() and dreamed.max() <= 1
    assert objectives[-1] > objectives[0]


def test_style_transfer_lowers_the_style_loss_at_another_image_size():
    base = transfer.load_backbone()
    rng = np.random.default_rng(4)
    content = rng.uniform(size=(40, 40, 3)).astype("float32")
    stripes = np.tile((np.arange(40) // 4 % 2)[None, :, None], (40, 1, 3)).astype("float32")
    result = explain.style_transfer(base, content, stripes, content_layer="block2_relu2",
                                    style_layers=["block1_relu1", "block2_relu1"], steps=15, progress=False)
    assert result.image.shape == (40, 40, 3)
    assert result.history["style"][-1] < 0.5 * result.history["style"][0]


def test_chain_model_refuses_branches():
    inputs = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(1, 1, name="a")(inputs)
    b = keras.layers.Conv2D(1, 1, name="b")(inputs)
    model = keras.Model(inputs, keras.layers.Add()([a, b]))
    with pytest.raises(ValueError, match="chain of layers"):
        explain.chain_model(model, (None, None, 1))


def test_randomization_check_flags_a_method_that_ignores_the_model():
    rng = np.random.default_rng(5)
    model = linear_model(rng.normal(size=(6, 6, 1, 2)).astype("float32"))
    images = rng.uniform(size=(4, 6, 6, 1)).astype("float32")
    image_only = lambda m, x, c: x[..., 0]  # noqa: E731 - a "method" that shows the image
    flagged = explain.randomization_check(image_only, model, images, 0, name="image itself")
    assert flagged.similarity == pytest.approx(1.0) and not flagged.passes
    honest = explain.randomization_check(explain.saliency_map, model, images, 0)
    assert honest.passes and abs(honest.similarity) < 0.5
    assert honest.method == "saliency_map"


def test_randomize_weights_leaves_the_original_alone():
    model = linear_model(np.ones((2, 2, 1, 1), "float32"))
    copy = explain.randomize_weights(model, seed=1)
    np.testing.assert_allclose(model.get_layer("dense").kernel.numpy(), 1.0)
    assert not np.allclose(copy.get_layer("dense").kernel.numpy(), 1.0)


def test_rank_correlation_and_pointing_hits():
    a = np.arange(12.0).reshape(1, 3, 4)
    np.testing.assert_allclose(explain.rank_correlation(a, 2 * a + 1), [1.0])
    np.testing.assert_allclose(explain.rank_correlation(a, -a), [-1.0])
    np.testing.assert_allclose(explain.rank_correlation(a, np.zeros_like(a)), [0.0])
    maps = np.zeros((2, 4, 4))
    maps[0, 1, 2] = 1   # centre (2.5, 1.5)
    maps[1, 3, 0] = 1   # centre (0.5, 3.5)
    boxes = np.array([[2, 1, 3, 2], [1, 3, 2, 4]])
    np.testing.assert_array_equal(explain.pointing_hits(maps, boxes), [True, False])
    with pytest.raises(ValueError, match="boxes must have shape"):
        explain.pointing_hits(maps, boxes[:1])
