"""Box deltas (cnncourse.boxes.deltas): exact inverses, and Keras's encoder as a reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cnncourse import boxes as B

VARIANCES = (0.1, 0.1, 0.2, 0.2)

coordinates = st.floats(-500, 500, allow_nan=False, width=64)
sizes = st.floats(0.5, 400, allow_nan=False, width=64)
box_strategy = st.tuples(coordinates, coordinates, sizes, sizes).map(lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]])
variance_strategy = st.one_of(st.none(), st.tuples(*[st.floats(0.05, 2.0)] * 4))


def random_xyxy(rng, n, span=100.0):
    xy = rng.uniform(0, span, (n, 2))
    wh = rng.uniform(1.0, span / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(box_strategy, box_strategy), min_size=1, max_size=6), variance_strategy)
def test_decode_inverts_encode(pairs, variances):
    anchors = np.array([p[0] for p in pairs])
    boxes = np.array([p[1] for p in pairs])
    deltas = B.encode_deltas(anchors, boxes, variances=variances)
    decoded = B.decode_deltas(anchors, deltas, variances=variances, max_log_scale=None)  # no cap: exact inverse
    np.testing.assert_allclose(decoded, boxes, rtol=1e-9, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(box_strategy, min_size=1, max_size=6).flatmap(
        lambda anchors: st.tuples(
            st.just(anchors),
            arrays(np.float64, (len(anchors), 4), elements=st.floats(-3, 3, allow_nan=False)),
        )
    ),
    variance_strategy,
    st.sampled_from(["xyxy", "xywh", "center_xywh", "yxyx"]),
)
def test_encode_inverts_decode(anchors_and_deltas, variances, format):
    anchors, deltas = anchors_and_deltas
    anchors = B.convert_format(np.array(anchors), "xyxy", format)
    boxes = B.decode_deltas(anchors, deltas, variances=variances, format=format, max_log_scale=None)
    np.testing.assert_allclose(B.encode_deltas(anchors, boxes, variances=variances, format=format), deltas,
                               rtol=1e-7, atol=1e-7)


def test_by_hand():
    # shifted right by half the anchor width, twice as tall, same centre height
    deltas = B.encode_deltas([[0, 0, 10, 10]], [[5, -5, 15, 15]])
    np.testing.assert_allclose(deltas, [[0.5, 0.0, 0.0, math.log(2)]])
    np.testing.assert_allclose(B.encode_deltas([[0, 0, 10, 10]], [[5, -5, 15, 15]], variances=VARIANCES),
                               [[5.0, 0.0, 0.0, math.log(2) / 0.2]])
    np.testing.assert_allclose(B.decode_deltas([[0, 0, 10, 10]], [[0.5, 0.0, 0.0, math.log(2)]]), [[5, -5, 15, 15]])
    # batched boxes against shared anchors
    assert B.encode_deltas(np.tile([[0, 0, 4, 4]], (3, 1)), np.ones((2, 3, 4)) * [1, 1, 3, 3]).shape == (2, 3, 4)
    # the cap on tw, th
    capped = B.decode_deltas([[0, 0, 16, 16]], [[0, 0, 10.0, 10.0]], max_log_scale=B.DEFAULT_MAX_LOG_SCALE)
    np.testing.assert_allclose(capped, [[8 - 500, 8 - 500, 8 + 500, 8 + 500]])


def test_agrees_with_keras_encode_and_decode():
    import keras

    rng = np.random.default_rng(0)
    anchors, boxes = random_xyxy(rng, 10), random_xyxy(rng, 10)
    theirs = keras.utils.bounding_boxes.encode_box_to_deltas(
        anchors, boxes, anchor_format="xyxy", box_format="xyxy", encoding_format="center_xywh", variance=VARIANCES
    )
    ours = B.encode_deltas(anchors, boxes, variances=VARIANCES)
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), rtol=1e-4, atol=1e-4)
    decoded = keras.utils.bounding_boxes.decode_deltas_to_boxes(
        anchors.astype(np.float32), ours.astype(np.float32), anchor_format="xyxy", box_format="xyxy",
        encoded_format="center_xywh", variance=VARIANCES,
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(decoded), boxes, rtol=1e-4, atol=1e-3)


def test_tf_versions_under_xla_match_numpy():
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    rng = np.random.default_rng(1)
    anchors = random_xyxy(rng, 6).astype(np.float32)
    boxes = np.stack([random_xyxy(rng, 6), random_xyxy(rng, 6)]).astype(np.float32)  # (2, 6, 4)

    @tf.function(jit_compile=True)
    def round_trip(a, b):
        d = B.encode_deltas_tf(a, b, variances=VARIANCES)
        return d, B.decode_deltas_tf(a, d, variances=VARIANCES)

    deltas, decoded = round_trip(tf.constant(anchors), tf.constant(boxes))
    np.testing.assert_allclose(deltas.numpy(), B.encode_deltas(anchors, boxes, variances=VARIANCES), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(decoded.numpy(), boxes, rtol=1e-5, atol=1e-3)
    # other formats, and padding rows give finite deltas in a graph
    anchors_c = B.convert_format(anchors, "xyxy", "center_yxhw").astype(np.float32)
    boxes_c = B.convert_format(boxes, "xyxy", "center_yxhw").astype(np.float32)
    d = B.encode_deltas_tf(anchors_c, boxes_c, format="center_yxhw")
    np.testing.assert_allclose(d.numpy(), B.encode_deltas(anchors, boxes), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(B.decode_deltas_tf(anchors_c, d, format="center_yxhw").numpy(), boxes_c, atol=1e-3)
    padded = B.encode_deltas_tf(anchors, -np.ones((6, 4), np.float32))
    assert np.all(np.isfinite(padded.numpy()))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: B.encode_deltas([[0, 0, 4, 4]], [[1, 1, 1, 3]]), r"boxes must have positive width and height.*boxes\[0\]"),
        (lambda: B.encode_deltas([[0, 0, 0, 4]], [[1, 1, 2, 3]]), r"anchors must have positive width"),
        (lambda: B.encode_deltas([[0, 0, 4, 4]], [[1, 1, 2, 3], [1, 1, 2, 3]]), r"one box per anchor"),
        (lambda: B.encode_deltas([[0, 0, 4, 4]], [[1, 1, 2, 3]], variances=(1, 1, 0, 1)), r"variances must be 4 positive"),
        (lambda: B.encode_deltas([[0, 0, 4, 4, 1]], [[1, 1, 2, 3]]), r"anchors must have shape \(N, 4\)"),
        (lambda: B.decode_deltas([[0, 0, 4, 4]], [[0, 0, 0]]), r"deltas must have shape \(N, 4\) or \(B, N, 4\)"),
        (lambda: B.decode_deltas([[0, 0, 4, 4]], [[0, 0, np.nan, 0]]), r"deltas must be finite"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_decode_caps_large_scales_instead_of_overflowing():
    import warnings

    from cnncourse.runtime import import_tensorflow

    import_tensorflow()
    anchors = np.array([[0, 0, 16, 16], [10, 10, 20, 30]], float)
    deltas = np.array([[0.0, 0.0, 1000.0, 5.0], [0.5, -0.5, -2.0, 800.0]])
    cap = B.DEFAULT_MAX_LOG_SCALE
    assert cap == pytest.approx(math.log(1000 / 16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp
        boxes = B.decode_deltas(anchors, deltas)
    capped = np.minimum(deltas, [np.inf, np.inf, cap, cap])
    np.testing.assert_allclose(boxes, B.decode_deltas(anchors, capped, max_log_scale=None), rtol=1e-12)
    assert np.all(np.isfinite(boxes))
    width = boxes[:, 2] - boxes[:, 0]
    assert width[0] == pytest.approx(16 * 62.5)  # at most 62.5 times the anchor
    for dtype in (np.float32, np.float16):
        tf_boxes = B.decode_deltas_tf(anchors.astype(dtype), deltas.astype(dtype)).numpy()
        assert np.all(np.isfinite(tf_boxes)), dtype
    np.testing.assert_allclose(B.decode_deltas_tf(anchors, deltas).numpy(), boxes, rtol=1e-6)
    # without the cap, float32 overflows: the cap is what keeps it finite
    assert not np.all(np.isfinite(B.decode_deltas_tf(anchors.astype(np.float32), deltas.astype(np.float32),
                                                     max_log_scale=None).numpy()))
    with pytest.raises(ValueError, match="max_log_scale must be a finite number"):
        B.decode_deltas(anchors, deltas, max_log_scale=float("inf"))
