"""cnncourse.explain's feature views: filters, activations, top patches, neighbours, t-SNE."""

import keras
import numpy as np
import pytest

from cnncourse import explain


def identity_conv_model():
    """A 3x3 conv with one filter that copies the centre pixel, then a 2x2 max-pool, then Dense."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="valid", use_bias=False, name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    kernel = np.zeros((3, 3, 1, 2), "float32")
    kernel[1, 1, 0, 0] = 1.0           # unit 0 copies the centre pixel
    kernel[:, :, 0, 1] = -1.0 / 9      # unit 1: minus the local mean
    model.get_layer("conv").set_weights([kernel])
    return model, kernel


def test_filter_grid_lays_out_each_filter_scaled_to_unit_range():
    kernels = np.arange(2 * 2 * 3 * 5, dtype="float32").reshape(2, 2, 3, 5)
    grid = explain.filter_grid(kernels, columns=3, pad=1)
    assert grid.shape == (2 * 3 - 1, 3 * 3 - 1, 3)
    for f in range(5):
        r, c = divmod(f, 3)
        tile = grid[r * 3:r * 3 + 2, c * 3:c * 3 + 2]
        k = kernels[..., f]
        np.testing.assert_allclose(tile, (k - k.min()) / (k.max() - k.min()))
    assert np.all(grid[2] == 1.0)  # the padding row
    model, kernel = identity_conv_model()
    assert explain.first_layer_filters(model, columns=2).shape == (3, 7, 1)


def test_activation_maps_are_the_layer_output():
    model, _ = identity_conv_model()
    images = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype("float32")
    maps = explain.activation_maps(model, images, "conv", batch_size=2)
    np.testing.assert_allclose(maps[..., 0], images[:, 1:7, 1:7, 0], rtol=1e-6)


def test_top_patches_cut_the_receptive_field_of_the_strongest_units():
    model, _ = identity_conv_model()
    images = np.zeros((4, 8, 8, 1), "float32")
    bright = [(0, 2, 3, 0.5), (1, 6, 6, 0.9), (2, 4, 1, 0.7), (3, 3, 3, 0.2)]  # image, row, col, value
    for i, r, c, v in bright:
        images[i, r, c] = v
    top = explain.top_patches(model, images, "pool", unit=0, k=3)
    assert top.field.size == (4, 4) and top.field.jump == (2, 2)
    np.testing.assert_array_equal(top.image_index, [1, 2, 0])
    np.testing.assert_allclose(top.activations, [0.9, 0.7, 0.5])
    assert top.patches.shape == (3, 4, 4, 1)
    for patch, box, (i, r, c, v) in zip(top.patches, top.boxes, [bright[1], bright[2], bright[0]]):
        x1, y1, x2, y2 = box
        assert x1 <= c <= x2 and y1 <= r <= y2  # the bright pixel lies in the unit's field
        assert patch.max() == v and patch.sum() == v
    with pytest.raises(ValueError, match="unit must be below"):
        explain.top_patches(model, images, "pool", unit=2)


def test_nearest_neighbours_euclidean_and_cosine():
    features = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [2.0, 0.1]])
    idx, dist = explain.nearest_neighbours(features, np.array([[0.9, 0.0]]), k=2)
    np.testing.assert_array_equal(idx, [[1, 0]])
    np.testing.assert_allclose(dist, [[0.1, 0.9]], rtol=1e-6)
    idx, dist = explain.nearest_neighbours(features[1:], np.array([[5.0, 0.0]]), k=1, metric="cosine")
    np.testing.assert_array_equal(idx, [[0]])
    idx, _ = explain.nearest_neighbours(features, features, k=1, exclude_self=True)
    np.testing.assert_array_equal(idx[:, 0], [1, 0, 0, 1])
    with pytest.raises(ValueError, match="queries must have 2 columns"):
        explain.nearest_neighbours(features, np.ones((1, 3)))


def test_tsne_keeps_well_separated_clusters_apart():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    features = rng.normal(size=(60, 10)) * 0.1 + np.eye(10)[labels] * 10
    xy = explain.tsne_embedding(features, perplexity=10)
    assert xy.shape == (60, 2)
    idx, _ = explain.nearest_neighbours(xy, xy, k=3, exclude_self=True)
    assert np.mean(labels[idx] == labels[:, None]) == 1.0
    with pytest.raises(ValueError, match="more rows than perplexity"):
        explain.tsne_embedding(features[:5], perplexity=10)
