"""Tests of cnncourse.segmentation.losses: cross-entropy against Keras's own, ignored pixels
that change nothing, soft Dice by hand and at its limits, gradients, XLA, mixed precision,
a .keras round trip, and a tiny model that learns with the combined loss."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnncourse.segmentation import (  # noqa: E402
    CrossEntropyDiceLoss, PixelCrossEntropy, SoftDiceLoss, pixel_cross_entropy, soft_dice_loss,
)


@pytest.fixture
def mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


def _case(seed=0, shape=(2, 5, 6), c=4, ignore=None, fraction=0.25):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=shape)
    if ignore is not None:
        labels[rng.uniform(size=shape) < fraction] = ignore
    logits = rng.normal(scale=2.0, size=shape + (c,)).astype("float32")
    return labels, logits


def _numpy_dice_loss(labels, logits, ignore=None, smooth=1.0):
    """An independent reference: per class, with explicit masks."""
    c = logits.shape[-1]
    e = np.exp(logits - logits.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    keep = np.ones(labels.shape, bool) if ignore is None else labels != ignore
    dices = []
    for k in range(c):
        pk = p[..., k][keep]
        yk = (labels[keep] == k).astype(float)
        dices.append((2 * (pk * yk).sum() + smooth) / (pk.sum() + yk.sum() + smooth))
    return 1 - np.mean(dices)


def _value(x) -> float:
    return float(keras.ops.convert_to_numpy(x))


# ------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("seed", [0, 1])
def test_cross_entropy_equals_keras_sparse_categorical_without_ignore(seed):
    labels, logits = _case(seed)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    assert _value(pixel_cross_entropy(labels, logits)) == pytest.approx(_value(expected), rel=1e-5)
    assert _value(PixelCrossEntropy()(labels, logits)) == pytest.approx(_value(expected), rel=1e-5)
    assert _value(PixelCrossEntropy()(labels[..., None], logits)) == pytest.approx(_value(expected), rel=1e-5)


def test_cross_entropy_with_ignore_is_the_mean_over_counted_pixels():
    labels, logits = _case(2, ignore=255)
    keep = labels != 255
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, np.where(keep, labels, 0)[..., None], -1)[..., 0]
    expected = -picked[keep].mean()
    assert _value(pixel_cross_entropy(labels, logits, ignore_index=255)) == pytest.approx(expected, rel=1e-5)
    keras_ignore = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)(labels, logits)
    assert _value(pixel_cross_entropy(labels, logits, ignore_index=255)) == pytest.approx(_value(keras_ignore), rel=1e-5)


@pytest.mark.parametrize("loss", [
    lambda y, z: pixel_cross_entropy(y, z, ignore_index=255),
    lambda y, z: soft_dice_loss(y, z, ignore_index=255),
    CrossEntropyDiceLoss(ignore_index=255),
], ids=["cross_entropy", "dice", "combined"])
def test_ignored_pixels_change_nothing_when_their_logits_change(loss):
    labels, logits = _case(3, ignore=255)
    other = logits.copy()
    other[labels == 255] = np.random.default_rng(9).normal(scale=50.0, size=other[labels == 255].shape)
    assert _value(loss(labels, other)) == pytest.approx(_value(loss(labels, logits)), rel=1e-6)
    changed = logits.copy()
    changed[labels != 255] += np.random.default_rng(8).normal(size=changed[labels != 255].shape).astype("float32")
    assert _value(loss(labels, changed)) != pytest.approx(_value(loss(labels, logits)), rel=1e-4)
    logits_t = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits_t)
        value = loss(labels, logits_t)
    gradient = tape.gradient(value, logits_t).numpy()
    assert np.all(gradient[labels == 255] == 0.0)


def test_everything_ignored_gives_zero_cross_entropy():
    labels = np.full((1, 2, 2), 255)
    logits = np.ones((1, 2, 2, 3), "float32")
    assert _value(pixel_cross_entropy(labels, logits, ignore_index=255)) == 0.0


# ------------------------------------------------------------- soft Dice
@pytest.mark.parametrize("ignore, smooth", [(None, 1.0), (255, 1.0), (255, 1e-3)])
def test_soft_dice_equals_a_numpy_reference(ignore, smooth):
    labels, logits = _case(4, ignore=ignore)
    expected = _numpy_dice_loss(labels, logits, ignore, smooth)
    got = soft_dice_loss(labels, logits, ignore_index=ignore, smooth=smooth)
    assert _value(got) == pytest.approx(expected, rel=1e-5)
    assert _value(SoftDiceLoss(ignore_index=ignore, smooth=smooth)(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_dice_of_a_confident_right_prediction_is_near_zero_and_of_a_wrong_one_near_one():
    labels = np.random.default_rng(0).integers(0, 3, size=(2, 8, 8))
    right = 50.0 * np.eye(3, dtype="float32")[labels]
    wrong = 50.0 * np.eye(3, dtype="float32")[(labels + 1) % 3]
    assert _value(soft_dice_loss(labels, right)) < 1e-2
    # Wrong everywhere: only smooth is left above the line, 1 - mean_c 1 / (|P_c| + |Y_c| + 1) with ~43 pixels each.
    counts = np.bincount(labels.ravel(), minlength=3) + np.bincount(((labels + 1) % 3).ravel(), minlength=3)
    assert _value(soft_dice_loss(labels, wrong)) == pytest.approx(1 - np.mean(1 / (counts + 1.0)), rel=1e-5)
    assert _value(soft_dice_loss(labels, wrong)) > 0.98
    assert _value(soft_dice_loss(labels, wrong, smooth=1e-3)) > 0.9999
    assert _value(pixel_cross_entropy(labels, right)) < 1e-6
    # A class absent from the truth and never predicted scores Dice 1 (smooth / smooth), not 0/0.
    absent = np.concatenate([right, np.full(right.shape[:-1] + (1,), -50.0, "float32")], axis=-1)
    assert _value(soft_dice_loss(labels, absent)) < 1e-2


def test_gradients_are_finite_and_point_the_right_way():
    labels, logits = _case(5, ignore=255)
    for loss in (PixelCrossEntropy(ignore_index=255), SoftDiceLoss(ignore_index=255),
                 CrossEntropyDiceLoss(ignore_index=255)):
        logits_t = tf.constant(logits)
        with tf.GradientTape() as tape:
            tape.watch(logits_t)
            value = loss(labels, logits_t)
        gradient = tape.gradient(value, logits_t).numpy()
        assert np.all(np.isfinite(gradient))
        keep = labels != 255
        own = np.take_along_axis(gradient, np.where(keep, labels, 0)[..., None], -1)[..., 0][keep]
        # Raising the true class' logit lowers the loss (for cross-entropy at every pixel; for Dice on the whole).
        if isinstance(loss, PixelCrossEntropy):
            assert np.all(own < 0)
        else:
            assert own.sum() < 0
        step = _value(loss(labels, logits - 0.1 * gradient / np.abs(gradient).max()))
        assert step < _value(value)


def test_gradient_matches_finite_differences():
    labels, logits = _case(6, shape=(1, 3, 3), c=3, ignore=255)
    logits = logits.astype("float64")
    loss = CrossEntropyDiceLoss(ignore_index=255, dice_weight=0.5)
    logits_t = tf.constant(logits, dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(logits_t)
        value = loss(labels, logits_t)
    gradient = tape.gradient(value, logits_t).numpy()
    eps = 1e-2
    index = np.unravel_index(np.argmax(labels != 255), labels.shape) + (1,)
    up, down = logits.copy(), logits.copy()
    up[index] += eps
    down[index] -= eps
    numeric = (_value(loss(labels, up.astype("float32"))) - _value(loss(labels, down.astype("float32")))) / (2 * eps)
    assert gradient[index] == pytest.approx(numeric, rel=2e-2, abs=1e-4)


def test_combined_loss_is_the_weighted_sum():
    labels, logits = _case(7, ignore=255)
    ce = _value(pixel_cross_entropy(labels, logits, ignore_index=255))
    dice = _value(soft_dice_loss(labels, logits, ignore_index=255, smooth=0.5))
    got = CrossEntropyDiceLoss(dice_weight=2.0, ignore_index=255, smooth=0.5)(labels, logits)
    assert _value(got) == pytest.approx(ce + 2.0 * dice, rel=1e-6)
    assert _value(CrossEntropyDiceLoss(dice_weight=0.0)(labels % 255, logits)) == pytest.approx(
        _value(pixel_cross_entropy(labels % 255, logits)), rel=1e-6)


def test_sample_weight_scales_the_batch_scalar_by_its_mean():
    labels, logits = _case(10)
    loss = PixelCrossEntropy()
    plain = _value(loss(labels, logits))
    assert _value(loss(labels, logits, sample_weight=np.array([1.0, 3.0]))) == pytest.approx(2.0 * plain, rel=1e-6)
    assert _value(loss(labels, logits, sample_weight=np.ones(labels.shape))) == pytest.approx(plain, rel=1e-6)


@pytest.mark.parametrize("call, error, message", [
    (lambda: soft_dice_loss(np.zeros((1, 2, 2), int), np.zeros((1, 2, 2, 3), "float32"), smooth=0.0), ValueError, "smooth"),
    (lambda: SoftDiceLoss(smooth=-1), ValueError, "smooth"),
    (lambda: CrossEntropyDiceLoss(dice_weight=-1.0), ValueError, "dice_weight"),
    (lambda: CrossEntropyDiceLoss(dice_weight="1"), TypeError, "dice_weight"),
    (lambda: PixelCrossEntropy(ignore_index=1.5), TypeError, "ignore_index"),
    (lambda: pixel_cross_entropy(np.zeros((1, 3, 2), int), np.zeros((1, 2, 2, 3), "float32")), ValueError, "y_true"),
    (lambda: pixel_cross_entropy(np.zeros((1, 2, 2), int), np.zeros((3,), "float32")), ValueError, "logits"),
])
def test_bad_arguments_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------- inside Keras
def _tiny_model(num_classes=3, size=8):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1)(x))


def _tiny_data(n=16, size=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=(n, size, size))
    images = np.eye(3, dtype="float32")[labels] + rng.normal(scale=0.3, size=(n, size, size, 3)).astype("float32")
    labels[:, :, 0] = 255
    return images, labels


LOSSES = [
    ("cross_entropy", lambda: PixelCrossEntropy(ignore_index=255)),
    ("dice", lambda: SoftDiceLoss(ignore_index=255)),
    ("combined", lambda: CrossEntropyDiceLoss(dice_weight=0.5, ignore_index=255)),
]


@pytest.mark.parametrize("make", [m for _, m in LOSSES], ids=[n for n, _ in LOSSES])
def test_config_and_serialize_round_trip(make):
    loss = make()
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    labels, logits = _case(8, ignore=255)
    assert _value(restored(labels, logits)) == pytest.approx(_value(loss(labels, logits)), rel=1e-6)


def test_tiny_model_learns_with_the_combined_loss_under_xla():
    keras.utils.set_random_seed(0)
    images, labels = _tiny_data()
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=CrossEntropyDiceLoss(ignore_index=255), jit_compile=True)
    history = model.fit(images, labels, batch_size=8, epochs=15, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0], history
    pred = model.predict(images, verbose=0).argmax(-1)
    keep = labels != 255
    assert (pred[keep] == labels[keep]).mean() > 0.9


def test_mixed_float16_losses_compute_and_return_float32(mixed_precision):
    keras.utils.set_random_seed(0)
    labels, logits = _case(9, ignore=255)
    half = keras.ops.cast(logits, "float16")
    for _, make in LOSSES:
        loss = make()
        value = loss(labels, half)
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        assert _value(value) == pytest.approx(_value(loss(labels, logits)), rel=1e-2)
    assert keras.backend.standardize_dtype(soft_dice_loss(labels, half, ignore_index=255).dtype) == "float32"
    images, tiny_labels = _tiny_data()
    model = _tiny_model()
    assert model.output.dtype == "float16"
    model.compile(optimizer="adam", loss=CrossEntropyDiceLoss(ignore_index=255), jit_compile=True)
    history = model.fit(images, tiny_labels, batch_size=8, epochs=3, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]


def test_keras_file_round_trip_of_a_compiled_model(tmp_path):
    images, labels = _tiny_data(n=8)
    model = _tiny_model()
    model.compile(optimizer="adam", loss=CrossEntropyDiceLoss(dice_weight=0.25, ignore_index=255, smooth=2.0))
    model.fit(images, labels, epochs=1, verbose=0)
    before = model.evaluate(images, labels, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.loss, CrossEntropyDiceLoss)
    assert (restored.loss.dice_weight, restored.loss.ignore_index, restored.loss.smooth) == (0.25, 255, 2.0)
    assert restored.evaluate(images, labels, verbose=0) == pytest.approx(before, rel=1e-5)
