"""IoU and GIoU (cnncourse.boxes.iou) against Keras's compute_iou and a box-by-box computation."""

import numpy as np
import pytest

from cnncourse import boxes as B


def random_xyxy(rng, n, span=50.0):
    xy = rng.uniform(0, span, (n, 2))
    wh = rng.uniform(0.5, span / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def iou_one_pair(a, b):
    """IoU of two xyxy boxes, written out with Python numbers."""
    left, right = max(a[0], b[0]), min(a[2], b[2])
    top, bottom = max(a[1], b[1]), min(a[3], b[3])
    intersection = max(0.0, right - left) * max(0.0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union if union > 0 else 0.0


def giou_one_pair(a, b):
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    intersection_union = iou_one_pair(a, b)
    left, right = max(a[0], b[0]), min(a[2], b[2])
    top, bottom = max(a[1], b[1]), min(a[3], b[3])
    intersection = max(0.0, right - left) * max(0.0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection_union - ((hull - union) / hull if hull > 0 else 0.0)


def test_box_iou_agrees_with_keras_compute_iou():
    import keras

    rng = np.random.default_rng(0)
    a, b = random_xyxy(rng, 9), random_xyxy(rng, 13)
    theirs = keras.ops.convert_to_numpy(keras.utils.bounding_boxes.compute_iou(a, b, "xyxy"))
    ours = B.box_iou(a, b)
    assert ours.shape == (9, 13) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert (ours > 0).sum() > 10  # the random boxes do overlap
    # another format, converted by Keras
    a_cxcy = B.convert_format(a, "xyxy", "center_yxhw")
    b_cxcy = B.convert_format(b, "xyxy", "center_yxhw")
    theirs = keras.ops.convert_to_numpy(keras.utils.bounding_boxes.compute_iou(a_cxcy, b_cxcy, "center_yxhw"))
    np.testing.assert_allclose(B.box_iou(a_cxcy, b_cxcy, format="center_yxhw"), theirs, atol=1e-6)


def test_box_iou_and_giou_agree_with_a_pair_by_pair_computation():
    rng = np.random.default_rng(1)
    a, b = random_xyxy(rng, 8), random_xyxy(rng, 6)
    a[0] = b[0]  # an identical pair
    a[1] = [100, 100, 110, 110]  # far from everything
    expected_iou = np.array([[iou_one_pair(x, y) for y in b] for x in a])
    expected_giou = np.array([[giou_one_pair(x, y) for y in b] for x in a])
    np.testing.assert_allclose(B.box_iou(a, b), expected_iou, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(B.generalized_box_iou(a, b), expected_giou, rtol=1e-12, atol=1e-15)
    assert B.box_iou(a, b)[0, 0] == pytest.approx(1.0)
    assert np.all(B.generalized_box_iou(a, b) <= B.box_iou(a, b) + 1e-12)
    assert np.all(B.generalized_box_iou(a, b)[1] < 0)
    # elementwise = diagonal of pairwise
    np.testing.assert_allclose(B.elementwise_box_iou(a[:6], b), np.diag(expected_iou[:6]), rtol=1e-12)
    np.testing.assert_allclose(B.elementwise_generalized_box_iou(a[:6], b), np.diag(expected_giou[:6]), rtol=1e-12)


def test_iou_by_hand_shapes_and_degenerate_boxes():
    assert B.box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)
    assert B.box_iou([0, 0, 2, 1], [0, 0, 1, 1]) == 0.5
    assert B.generalized_box_iou([0, 0, 1, 1], [2, 0, 3, 1]) == pytest.approx(-1 / 3)
    assert B.box_iou([[0, 0, 2, 2]], [1, 1, 3, 3]).shape == (1,)
    assert B.box_iou(np.zeros((3, 2, 4)), np.zeros((3, 5, 4))).shape == (3, 2, 5)
    # zero-area boxes and padding give 0, never NaN
    assert B.box_iou([1, 1, 1, 1], [1, 1, 1, 1]) == 0.0
    assert B.generalized_box_iou([1, 1, 1, 1], [1, 1, 1, 1]) == 0.0
    assert B.box_iou([[-1, -1, -1, -1]], [[0, 0, 5, 5]]).tolist() == [[0.0]]
    # relative formats need no image size: IoU does not change when x and y are scaled
    assert B.box_iou([0, 0, 0.2, 0.2], [0.1, 0.1, 0.3, 0.3], format="rel_xyxy") == pytest.approx(1 / 7)
    assert B.box_iou([0, 0, 2, 2], [1, 1, 2, 2], format="xywh") == pytest.approx(1 / 7)


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros((2, 5)), np.zeros((2, 4)), r"boxes1 must have shape \(\.\.\., 4\), got \(2, 5\)"),
        ([[0, 0, 1, 1]], [[0, 0, np.nan, 1]], r"boxes2 must be finite"),
        ([[2, 0, 1, 1]], [[0, 0, 1, 1]], r"boxes1 in format 'xyxy' must have x2 >= x1"),
    ],
)
def test_iou_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        B.box_iou(a, b)
    with pytest.raises(ValueError, match="format must be one of"):
        B.generalized_box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]], format="corners")


def test_tf_versions_under_xla_match_numpy():
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    rng = np.random.default_rng(2)
    a = np.stack([random_xyxy(rng, 7) for _ in range(3)]).astype(np.float32)
    b = np.stack([random_xyxy(rng, 5) for _ in range(3)]).astype(np.float32)
    a[0, 0] = [1, 1, 1, 1]  # degenerate: must stay finite
    b[0, 0] = [1, 1, 1, 1]

    @tf.function(jit_compile=True)
    def compiled(x, y):
        return (B.box_iou_tf(x, y), B.generalized_box_iou_tf(x, y),
                B.elementwise_box_iou_tf(x[:, :5], y), B.elementwise_generalized_box_iou_tf(x[:, :5], y))

    iou, giou, iou_e, giou_e = (t.numpy() for t in compiled(tf.constant(a), tf.constant(b)))
    np.testing.assert_allclose(iou, B.box_iou(a, b), atol=1e-6)
    np.testing.assert_allclose(giou, B.generalized_box_iou(a, b), atol=1e-6)
    np.testing.assert_allclose(iou_e, B.elementwise_box_iou(a[:, :5], b), atol=1e-6)
    np.testing.assert_allclose(giou_e, B.elementwise_generalized_box_iou(a[:, :5], b), atol=1e-6)
    # another format
    a_c = B.convert_format(a, "xyxy", "center_xywh").astype(np.float32)
    b_c = B.convert_format(b, "xyxy", "center_xywh").astype(np.float32)
    np.testing.assert_allclose(B.box_iou_tf(a_c, b_c, format="center_xywh").numpy(), B.box_iou(a, b), atol=1e-5)
    # gradients of 1 - GIoU stay finite for degenerate boxes
    x = tf.Variable(a[:, :5])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(1.0 - B.elementwise_generalized_box_iou_tf(x, tf.constant(b)))
    gradient = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(gradient)) and np.abs(gradient).sum() > 0
    with pytest.raises(ValueError, match=r"\(\.\.\., N, 4\)"):
        B.box_iou_tf(tf.zeros((4,)), tf.zeros((3, 4)))


@pytest.mark.parametrize("dtype, tolerance", [("float16", 5e-3), ("bfloat16", 3e-2)])
def test_tf_versions_keep_half_precision_dtypes(dtype, tolerance):
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    rng = np.random.default_rng(3)
    a, b = random_xyxy(rng, 6).astype(np.float32), random_xyxy(rng, 6).astype(np.float32)
    iou = B.box_iou_tf(tf.cast(a, dtype), tf.cast(b, dtype))
    giou = B.elementwise_generalized_box_iou_tf(tf.cast(a, dtype), tf.cast(b, dtype))
    assert iou.dtype == dtype and giou.dtype == dtype
    np.testing.assert_allclose(tf.cast(iou, tf.float32).numpy(), B.box_iou(a, b), atol=tolerance)
    np.testing.assert_allclose(tf.cast(giou, tf.float32).numpy(), B.elementwise_generalized_box_iou(a, b),
                               atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("format", ["xywh", "center_xywh", "center_yxhw", "yxyx"])
def test_iou_is_float64_whatever_the_input_dtype(dtype, format):
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    rng = np.random.default_rng(3)
    a = B.convert_format(random_xyxy(rng, 40, span=500.0), "xyxy", format).astype(dtype)
    b = B.convert_format(random_xyxy(rng, 30, span=500.0), "xyxy", format).astype(dtype)
    # the float64 IoU of exactly the numbers given (converted to xyxy in float64, pair by pair)
    xyxy_a = B.convert_format(a.astype(np.float64), format, "xyxy")
    xyxy_b = B.convert_format(b.astype(np.float64), format, "xyxy")
    expected = np.array([[iou_one_pair(x, y) for y in xyxy_b] for x in xyxy_a])
    ours = B.box_iou(a, b, format=format)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(B.elementwise_box_iou(a[:30], b, format=format), np.diag(expected[:30]),
                               rtol=1e-12, atol=1e-15)
    # the tensor versions: float64 inside, rounded once to the input dtype (half an ulp)
    half_ulp = np.finfo(dtype).eps / 2
    for name, value, reference in [
        ("box_iou_tf", B.box_iou_tf(tf.constant(a), tf.constant(b), format=format), expected),
        ("elementwise_box_iou_tf", B.elementwise_box_iou_tf(tf.constant(a[:30]), tf.constant(b), format=format),
         np.diag(expected[:30])),
    ]:
        assert value.dtype == tf.as_dtype(dtype), name
        np.testing.assert_allclose(value.numpy().astype(np.float64), reference, rtol=half_ulp, atol=half_ulp * 1e-3,
                                   err_msg=name)
