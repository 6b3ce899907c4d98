"""Tests of cnncourse.segmentation.metrics: the confusion matrix and its metrics against
hand-computed matrices (empty classes, an ignore label, all-background images), against
keras.metrics.MeanIoU, and the Keras metrics inside fit / evaluate, under XLA, mixed
precision and a .keras round trip."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.segmentation import (  # noqa: E402
    ConfusionMatrixMetric, MeanDice, MeanIoU, PixelAccuracy, SegmentationReport, class_dice, class_iou,
    confusion_matrix, mean_dice, mean_iou, pixel_accuracy, segmentation_report,
)

nan = float("nan")


@pytest.fixture
def mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


def _loop_confusion(y_true, y_pred, c, ignore=None):
    """An independent reference: one pixel at a time."""
    cm = np.zeros((c, c), dtype=np.int64)
    for t, p in zip(np.ravel(y_true), np.ravel(y_pred)):
        if ignore is not None and t == ignore:
            continue
        cm[t, p] += 1
    return cm


def _random_case(seed, shape=(3, 7, 9), c=4, ignore=255, ignore_fraction=0.2):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, c, size=shape)
    truth[rng.uniform(size=shape) < ignore_fraction] = ignore
    scores = rng.normal(size=shape + (c,)).astype("float32")
    # Make the prediction better than chance so that IoUs are not all alike.
    scores += 2.0 * np.eye(c, dtype="float32")[np.clip(truth, 0, c - 1)] * (rng.uniform(size=shape) < 0.5)[..., None]
    return truth, scores


# ------------------------------------------------------------- NumPy, by hand
def test_hand_computed_matrix_and_metrics():
    truth = np.array([[0, 0, 1, 1], [1, 2, 2, 255]])
    guess = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    cm = confusion_matrix(truth, guess, 3, ignore_index=255)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 1], [1, 0, 1]])
    assert cm.dtype == np.int64
    assert pixel_accuracy(cm) == pytest.approx(4 / 7)
    # class 0: TP 1, FP 1, FN 1; class 1: TP 2, FP 1, FN 1; class 2: TP 1, FP 1, FN 1
    np.testing.assert_allclose(class_iou(cm), [1 / 3, 2 / 4, 1 / 3])
    np.testing.assert_allclose(class_dice(cm), [2 / 4, 4 / 6, 2 / 4])
    assert mean_iou(cm) == pytest.approx((1 / 3 + 1 / 2 + 1 / 3) / 3)
    assert mean_dice(cm) == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)


def test_dice_is_two_iou_over_one_plus_iou():
    truth, scores = _random_case(3, ignore_fraction=0.0)
    cm = confusion_matrix(truth, scores.argmax(-1), 4)
    iou = class_iou(cm)
    np.testing.assert_allclose(class_dice(cm), 2 * iou / (1 + iou))


def test_matches_a_pixel_loop_on_random_data_with_ignore():
    for seed in range(3):
        truth, scores = _random_case(seed, shape=(2, 6, 5), c=5)
        pred = scores.argmax(-1)
        np.testing.assert_array_equal(confusion_matrix(truth, pred, 5, ignore_index=255),
                                      _loop_confusion(truth, pred, 5, 255))


def test_empty_class_is_nan_and_left_out_of_the_means():
    truth = np.array([0, 0, 1, 1, 1])
    guess = np.array([0, 1, 1, 1, 0])
    cm = confusion_matrix(truth, guess, 4)  # classes 2 and 3 appear nowhere
    iou = class_iou(cm)
    assert np.isnan(iou[2]) and np.isnan(iou[3])
    np.testing.assert_allclose(iou[:2], [1 / 3, 2 / 4])
    assert mean_iou(cm) == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert np.isnan(class_dice(cm)[3])
    assert mean_dice(cm) == pytest.approx((2 / 4 + 4 / 6) / 2)


def test_class_predicted_but_never_true_scores_zero_not_nan():
    cm = confusion_matrix(np.array([0, 0, 0]), np.array([0, 0, 2]), 3)
    np.testing.assert_allclose(class_iou(cm), [2 / 3, nan, 0.0])
    assert mean_iou(cm) == pytest.approx(1 / 3)


def test_all_background_images():
    truth = np.zeros((2, 4, 4), dtype=np.uint8)
    cm = confusion_matrix(truth, truth, 3)
    np.testing.assert_array_equal(cm, [[32, 0, 0], [0, 0, 0], [0, 0, 0]])
    assert pixel_accuracy(cm) == 1.0 and mean_iou(cm) == 1.0 and mean_dice(cm) == 1.0
    wrong = np.ones_like(truth)
    cm = confusion_matrix(truth, wrong, 3)
    assert pixel_accuracy(cm) == 0.0
    np.testing.assert_allclose(class_iou(cm), [0.0, 0.0, nan])
    assert mean_iou(cm) == 0.0


def test_ignored_pixels_do_not_count_whatever_their_prediction():
    truth = np.array([[0, 1], [255, 255]])
    a = confusion_matrix(truth, np.array([[0, 1], [0, 1]]), 2, ignore_index=255)
    b = confusion_matrix(truth, np.array([[0, 1], [7, -3]]), 2, ignore_index=255)  # out of range, but ignored
    np.testing.assert_array_equal(a, [[1, 0], [0, 1]])
    np.testing.assert_array_equal(a, b)


def test_ignore_index_may_be_a_class():
    truth = np.array([0, 1, 1, 2])
    cm = confusion_matrix(truth, np.array([1, 1, 0, 2]), 3, ignore_index=0)
    np.testing.assert_array_equal(cm, [[0, 0, 0], [1, 1, 0], [0, 0, 1]])


def test_everything_ignored_gives_nan():
    truth = np.full((3, 3), 255)
    cm = confusion_matrix(truth, np.zeros((3, 3), int), 2, ignore_index=255)
    assert cm.sum() == 0
    with np.errstate(all="raise"):
        assert np.isnan(pixel_accuracy(cm)) and np.isnan(mean_iou(cm)) and np.isnan(mean_dice(cm))


def test_dtypes_and_large_input():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 21, size=(10, 500, 500)).astype(np.uint8)  # 2.5 million pixels
    pred = rng.integers(0, 21, size=truth.shape).astype(np.uint8)
    cm = confusion_matrix(truth, pred, 21)
    assert cm.sum() == truth.size
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(truth.ravel(), minlength=21))
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(pred.ravel(), minlength=21))
    np.testing.assert_array_equal(confusion_matrix(truth[:1, :20], pred[:1, :20].astype(np.uint64), 21),
                                  _loop_confusion(truth[:1, :20], pred[:1, :20], 21))
    np.testing.assert_array_equal(confusion_matrix(np.array([True, False]), np.array([True, True]), 2),
                                  [[0, 1], [0, 1]])


@pytest.mark.parametrize("call, error, message", [
    (lambda: confusion_matrix(np.zeros(3), np.zeros(3, int), 2), TypeError, "y_true"),
    (lambda: confusion_matrix(np.zeros(3, int), np.zeros(3, "float32"), 2), TypeError, "y_pred"),
    (lambda: confusion_matrix(np.zeros(3, int), np.zeros(4, int), 2), ValueError, "same shape"),
    (lambda: confusion_matrix(np.array([0, 5, 7]), np.zeros(3, int), 3), ValueError,
     r"y_true must hold labels in \[0, 3\); got 5, 7"),
    (lambda: confusion_matrix(np.array([0, 255]), np.array([0, 3]), 3), ValueError, "got 255"),
    (lambda: confusion_matrix(np.array([0, 1]), np.array([-1, 1]), 2, ignore_index=255), ValueError, "y_pred .*got -1"),
    (lambda: confusion_matrix(np.zeros(3, int), np.zeros(3, int), 0), ValueError, "num_classes"),
    (lambda: confusion_matrix(np.zeros(3, int), np.zeros(3, int), 2, ignore_index=2.5), TypeError, "ignore_index"),
    (lambda: class_iou(np.zeros((2, 3))), ValueError, "square"),
    (lambda: mean_iou(-np.ones((2, 2))), ValueError, "non-negative"),
])
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_report_holds_every_metric_and_prints_a_table():
    truth = np.array([[0, 0, 1, 1], [1, 2, 2, 255]])
    guess = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    report = segmentation_report(truth, guess, 4, ignore_index=255, class_names=["bg", "circle", "square", "star"])
    assert isinstance(report, SegmentationReport)
    cm = confusion_matrix(truth, guess, 4, ignore_index=255)
    np.testing.assert_array_equal(report.confusion, cm)
    assert report.pixel_accuracy == pixel_accuracy(cm) and report.mean_iou == mean_iou(cm)
    np.testing.assert_array_equal(report.class_dice, class_dice(cm))
    with pytest.raises(dataclasses_frozen_error()):
        report.mean_iou = 1.0
    table = report.table()
    lines = table.splitlines()
    assert lines[0].split() == ["class", "true", "px", "pred", "px", "IoU", "Dice"]
    circle = next(line for line in lines if line.startswith("circle")).split()
    assert circle == ["circle", "3", "3", "0.500", "0.667"]
    star = next(line for line in lines if line.startswith("star")).split()
    assert star == ["star", "0", "0", "-", "-"]  # absent everywhere: undefined, shown as '-'
    assert f"{report.mean_iou:.3f}" in next(line for line in lines if line.startswith("mean"))
    with pytest.raises(ValueError, match="class_names"):
        segmentation_report(truth, guess, 4, ignore_index=255, class_names=["a", "b"])


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


# ------------------------------------------------------------- Keras metrics
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_iou_equals_keras_mean_iou_on_scores_and_labels(seed):
    truth, scores = _random_case(seed, c=4)
    ours = MeanIoU(4, ignore_index=255)
    keras_scores = keras.metrics.MeanIoU(4, ignore_class=255, sparse_y_pred=False)
    keras_labels = keras.metrics.MeanIoU(4, ignore_class=255)
    for batch in range(3):  # accumulate over batches
        ours.update_state(truth[batch:batch + 1], scores[batch:batch + 1])
        keras_scores.update_state(truth[batch:batch + 1], scores[batch:batch + 1])
        keras_labels.update_state(truth[batch:batch + 1], scores[batch:batch + 1].argmax(-1))
    expected = mean_iou(confusion_matrix(truth, scores.argmax(-1), 4, ignore_index=255))
    assert float(ours.result()) == pytest.approx(expected, abs=1e-6)
    assert float(keras_scores.result()) == pytest.approx(expected, abs=1e-6)
    assert float(keras_labels.result()) == pytest.approx(expected, abs=1e-6)
    labels_in = MeanIoU(4, ignore_index=255)
    labels_in.update_state(truth[..., None], scores.argmax(-1).astype("int32"))  # (B, H, W, 1) truth, labels
    assert float(labels_in.result()) == pytest.approx(expected, abs=1e-6)


def test_ignoring_a_real_class_equals_keras_ignore_class():
    truth, scores = _random_case(4, c=4, ignore_fraction=0.0)
    ours, theirs = MeanIoU(4, ignore_index=0), keras.metrics.MeanIoU(4, ignore_class=0, sparse_y_pred=False)
    ours.update_state(truth, scores)
    theirs.update_state(truth, scores)
    expected = mean_iou(confusion_matrix(truth, scores.argmax(-1), 4, ignore_index=0))
    assert expected != pytest.approx(mean_iou(confusion_matrix(truth, scores.argmax(-1), 4)), abs=1e-3)
    assert float(ours.result()) == pytest.approx(expected, abs=1e-6)
    assert float(theirs.result()) == pytest.approx(expected, abs=1e-6)


def test_mean_iou_equals_keras_with_an_empty_class():
    truth = np.array([[[0, 0, 1, 1]]])
    pred = np.array([[[0, 1, 1, 0]]])  # classes 2, 3 nowhere
    ours, theirs = MeanIoU(4), keras.metrics.MeanIoU(4)
    ours.update_state(truth, pred)
    theirs.update_state(truth, pred)
    assert float(ours.result()) == pytest.approx(float(theirs.result())) == pytest.approx(1 / 3)


@pytest.mark.parametrize("metric_class, reference", [
    (PixelAccuracy, pixel_accuracy), (MeanIoU, mean_iou), (MeanDice, mean_dice),
])
def test_keras_metrics_equal_the_numpy_functions(metric_class, reference):
    truth, scores = _random_case(7, shape=(4, 8, 8), c=5)
    metric = metric_class(5, ignore_index=255)
    metric.update_state(truth[:2], scores[:2])
    metric.update_state(truth[2:], scores[2:])
    cm = confusion_matrix(truth, scores.argmax(-1), 5, ignore_index=255)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(metric.confusion_matrix()), cm)
    assert float(metric.result()) == pytest.approx(reference(cm), abs=1e-6)
    metric.reset_state()
    assert float(keras.ops.sum(metric.confusion_matrix())) == 0.0
    assert np.isnan(float(metric.result()))  # nothing counted: nan, as the NumPy functions


def test_sample_weight_weights_the_counts():
    truth = np.array([[[0, 1]], [[1, 1]]])  # (2, 1, 2)
    pred = np.array([[[0, 0]], [[1, 0]]])
    metric = ConfusionMatrixMetric(2)
    metric.update_state(truth, pred, sample_weight=np.array([1.0, 3.0]))
    # image 0 (weight 1): (0 -> 0), (1 -> 0); image 1 (weight 3): (1 -> 1), (1 -> 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(metric.result()), [[1, 0], [1 + 3, 3]])


def test_scores_with_the_wrong_number_of_classes_are_refused():
    with pytest.raises(ValueError, match="num_classes=3"):
        MeanIoU(3).update_state(np.zeros((1, 2, 2), int), np.zeros((1, 2, 2, 4), "float32"))
    with pytest.raises(ValueError, match="num_classes"):
        MeanIoU(0)
    with pytest.raises(TypeError, match="ignore_index"):
        PixelAccuracy(2, ignore_index="255")


def test_serialize_round_trip_keeps_the_configuration():
    for metric in (MeanIoU(6, ignore_index=255), PixelAccuracy(3, name="acc"), MeanDice(4)):
        restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
        assert type(restored) is type(metric)
        assert restored.get_config() == metric.get_config()
        assert (restored.num_classes, restored.ignore_index, restored.name) == (
            metric.num_classes, metric.ignore_index, metric.name)
    assert MeanIoU(2).name == "mean_iou" and MeanDice(2).name == "mean_dice"


def _tiny_model(num_classes=3, size=8):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1)(x))


def _tiny_data(n=8, size=8, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=(n, size, size))
    images = np.eye(3, dtype="float32")[labels] + rng.normal(scale=0.1, size=(n, size, size, 3)).astype("float32")
    labels[:, 0, :] = 255
    return images, labels


@pytest.mark.parametrize("jit_compile", [False, True])
def test_metrics_inside_fit_and_evaluate_equal_numpy(jit_compile):
    keras.utils.set_random_seed(0)
    images, labels = _tiny_data()
    model = _tiny_model()
    metrics = [PixelAccuracy(3, ignore_index=255), MeanIoU(3, ignore_index=255), MeanDice(3, ignore_index=255),
               keras.metrics.MeanIoU(3, ignore_class=255, sparse_y_pred=False, name="keras_mean_iou")]
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
                  metrics=metrics, jit_compile=jit_compile)
    history = model.fit(images, labels, batch_size=4, epochs=2, verbose=0)
    assert set(history.history) >= {"pixel_accuracy", "mean_iou", "mean_dice"}
    results = model.evaluate(images, labels, batch_size=3, verbose=0, return_dict=True)  # uneven last batch
    cm = confusion_matrix(labels, model.predict(images, verbose=0).argmax(-1), 3, ignore_index=255)
    assert results["pixel_accuracy"] == pytest.approx(pixel_accuracy(cm), abs=1e-5)
    assert results["mean_iou"] == pytest.approx(mean_iou(cm), abs=1e-5)
    assert results["mean_dice"] == pytest.approx(mean_dice(cm), abs=1e-5)
    assert results["mean_iou"] == pytest.approx(results["keras_mean_iou"], abs=1e-5)


def test_mixed_float16_scores(mixed_precision):
    keras.utils.set_random_seed(0)
    images, labels = _tiny_data()
    model = _tiny_model()
    assert model.output.dtype == "float16"
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
                  metrics=[MeanIoU(3, ignore_index=255), PixelAccuracy(3, ignore_index=255)])
    model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    results = model.evaluate(images, labels, batch_size=4, verbose=0, return_dict=True)
    cm = confusion_matrix(labels, model.predict(images, verbose=0).astype("float32").argmax(-1), 3, ignore_index=255)
    assert results["mean_iou"] == pytest.approx(mean_iou(cm), abs=1e-5)
    metric = MeanIoU(3)
    metric.update_state(labels[:2] % 255, keras.ops.cast(np.eye(3)[labels[:2] % 255], "float16"))
    assert float(metric.result()) == pytest.approx(1.0)


def test_keras_file_round_trip_of_a_compiled_model(tmp_path):
    images, labels = _tiny_data()
    labels = labels % 255  # no 255 here: ignore class 0 instead, which only a restored ignore_index can drop
    model = _tiny_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[MeanIoU(3, ignore_index=0), MeanDice(3, ignore_index=0), PixelAccuracy(3)])
    model.fit(images, labels, epochs=1, verbose=0)
    before = model.evaluate(images, labels, verbose=0, return_dict=True)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    after = restored.evaluate(images, labels, verbose=0, return_dict=True)
    for name in ("mean_iou", "mean_dice", "pixel_accuracy"):
        assert after[name] == pytest.approx(before[name], abs=1e-6)
    pred = restored.predict(images, verbose=0).argmax(-1)
    with_ignore = confusion_matrix(labels, pred, 3, ignore_index=0)
    assert after["mean_iou"] == pytest.approx(mean_iou(with_ignore), abs=1e-6)
    assert mean_iou(with_ignore) != pytest.approx(mean_iou(confusion_matrix(labels, pred, 3)), abs=1e-3)
    assert after["pixel_accuracy"] == pytest.approx(pixel_accuracy(confusion_matrix(labels, pred, 3)), abs=1e-6)
