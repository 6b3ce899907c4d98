"""Feature extraction from named layers and the linear probe per layer."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnncourse import transfer  # noqa: E402


def _toy_model():
    """(N, 6, 6, 1) -> 'maps' (N, 6, 6, 2) (channel 0 = image, channel 1 = 0), 'mean' (N, 2), 'zeros' (N, 2)."""
    inputs = keras.Input((6, 6, 1))
    maps = keras.layers.Conv2D(2, 1, use_bias=False, name="maps",
                               kernel_initializer=keras.initializers.Constant([[[[1.0, 0.0]]]]))(inputs)
    mean = keras.layers.GlobalAveragePooling2D(name="mean")(maps)
    zeros = keras.layers.Dense(2, kernel_initializer="zeros", name="zeros")(mean)
    return keras.Model(inputs, zeros)


def test_poolings_match_numpy():
    model = _toy_model()
    images = np.random.default_rng(0).uniform(size=(7, 6, 6, 1)).astype(np.float32)
    avg = transfer.extract_features(model, images, "maps")
    np.testing.assert_allclose(avg[:, 0], images.mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_array_equal(avg[:, 1], 0)
    largest = transfer.extract_features(model, images, "maps", pooling="max")
    np.testing.assert_allclose(largest[:, 0], images.max(axis=(1, 2, 3)), rtol=1e-6)
    flat = transfer.extract_features(model, images, "maps", pooling="flatten")
    assert flat.shape == (7, 72) and flat.dtype == np.float32
    np.testing.assert_allclose(flat[:, ::2], images.reshape(7, 36), rtol=1e-6)


def test_several_layers_in_one_pass_and_batches_do_not_matter():
    model = _toy_model()
    images = np.random.default_rng(1).uniform(size=(10, 6, 6, 1)).astype(np.float32)
    both = transfer.extract_features(model, images, ["mean", "maps"], batch_size=3)
    assert list(both) == ["mean", "maps"]
    assert both["mean"].shape == (10, 2)  # 2-D outputs come back as they are
    np.testing.assert_allclose(both["maps"], transfer.extract_features(model, images, "maps", batch_size=256), rtol=1e-6)
    np.testing.assert_allclose(both["mean"], both["maps"], rtol=1e-5)


def test_progress_bar_is_shown_when_asked(capsys):
    model = _toy_model()
    images = np.zeros((4, 6, 6, 1), dtype=np.float32)
    transfer.extract_features(model, images, "mean", batch_size=2, verbose=True)
    assert "features" in capsys.readouterr().err
    transfer.extract_features(model, images, "mean", batch_size=2)
    assert "features" not in capsys.readouterr().err


def test_course_backbone_features_have_block_sizes():
    model = transfer.load_backbone()
    images = transfer.make_source_data(8, seed=9)[0]
    features = transfer.extract_features(model, images, list(transfer.BLOCK_NAMES))
    assert [f.shape for f in features.values()] == [(8, 24), (8, 48), (8, 96), (8, 192)]
    np.testing.assert_allclose(features["block4"], model.predict(images, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"layers": "nope"}, ValueError, "nope.*its layers are"),
    ({"layers": []}, TypeError, "layers"),
    ({"layers": ["maps", "maps"]}, ValueError, "repeat"),
    ({"layers": "maps", "pooling": "mean"}, ValueError, "pooling"),
    ({"layers": "maps", "batch_size": 0}, ValueError, "batch_size"),
    ({"layers": "maps", "verbose": 1}, TypeError, "verbose"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        transfer.extract_features(_toy_model(), np.zeros((2, 6, 6, 1), np.float32), **kwargs)
    with pytest.raises(ValueError, match="images"):
        transfer.extract_features(_toy_model(), np.zeros((6, 6, 1), np.float32), "maps")


def test_linear_probe_tells_useful_from_useless_layers():
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 2
    # The class is the brightness: the pooled 'maps' and 'mean' features separate it, 'zeros' cannot.
    images = (rng.uniform(0, 0.4, size=(200, 6, 6, 1)) + 0.5 * labels[:, None, None, None]).astype(np.float32)
    train, test = (images[:100], labels[:100]), (images[100:], labels[100:])
    table = transfer.linear_probe(_toy_model(), train, test, ["maps", "mean", "zeros"])
    assert [row.layer for row in table.rows] == ["maps", "mean", "zeros"]
    assert table.test_accuracy["maps"] >= 0.95 and table.test_accuracy["mean"] >= 0.95
    assert table.test_accuracy["zeros"] <= 0.6
    assert table.rows[0].features == 2
    text = str(table)
    assert "zeros" in text and "test acc" in text


def test_probe_features_checks_its_inputs():
    x = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    train_accuracy, test_accuracy = transfer.probe_features(x, y, x, y)
    assert 0.0 <= test_accuracy <= 1.0 and train_accuracy == test_accuracy
    with pytest.raises(ValueError, match="columns"):
        transfer.probe_features(x, y, x[:, :2], y)
    with pytest.raises(ValueError, match="train_labels"):
        transfer.probe_features(x, y[:10], x, y)
    with pytest.raises(TypeError, match="train_labels"):
        transfer.probe_features(x, y.astype(float), x, y)
    with pytest.raises(ValueError, match="two classes"):
        transfer.probe_features(x, np.zeros(20, int), x, y)
    with pytest.raises(ValueError, match="C"):
        transfer.probe_features(x, y, x, y, C=0)
    with pytest.raises(TypeError, match="train"):
        transfer.linear_probe(_toy_model(), x, (x, y))


def test_deeper_blocks_of_the_shipped_backbone_transfer_better_to_digits():
    """The Zeiler–Fergus trend on a task unlike the source: digits, 10 labelled images per class,
    tested on 540 (measured: block1 0.74, block2 0.79, block3 0.92, block4 0.83)."""
    from cnncourse import data

    digits = data.load_digits(32)
    rng = np.random.default_rng(0)
    pick = np.concatenate([rng.choice(np.flatnonzero(digits.train.labels == c), 10, replace=False) for c in range(10)])
    train = (transfer.to_backbone_input(digits.train.images[pick]), digits.train.labels[pick])
    test = (transfer.to_backbone_input(np.concatenate([digits.val.images, digits.test.images])),
            np.concatenate([digits.val.labels, digits.test.labels]))
    accuracy = transfer.linear_probe(transfer.load_backbone(), train, test).test_accuracy
    assert accuracy["block3"] >= accuracy["block1"] + 0.10, accuracy
    assert accuracy["block3"] > accuracy["block2"] > accuracy["block1"], accuracy
    assert max(accuracy["block3"], accuracy["block4"]) >= 0.85, accuracy
