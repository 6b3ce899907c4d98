"""Box formats, checks, clipping and area (cnncourse.boxes.formats), against Keras."""

import doctest

import numpy as np
import pytest

from cnncourse import boxes as B
from cnncourse.boxes import formats

FORMATS = B.BOX_FORMATS
HEIGHT, WIDTH = 48.0, 64.0


def random_xyxy(rng, n, size=(WIDTH, HEIGHT)):
    x1 = rng.uniform(0, size[0] * 0.8, n)
    y1 = rng.uniform(0, size[1] * 0.8, n)
    x2 = x1 + rng.uniform(0.5, size[0] * 0.5, n)
    y2 = y1 + rng.uniform(0.5, size[1] * 0.5, n)
    return np.stack([x1, y1, x2, y2], axis=-1)


def keras_convert(boxes, source, target):
    import keras

    out = keras.utils.bounding_boxes.convert_format(
        np.asarray(boxes, np.float32), source, target, height=HEIGHT, width=WIDTH
    )
    return keras.ops.convert_to_numpy(out)


@pytest.mark.parametrize("source", FORMATS)
def test_convert_format_agrees_with_keras_for_every_pair(source):
    rng = np.random.default_rng(1)
    xyxy = random_xyxy(rng, 7)
    boxes = keras_convert(xyxy, "xyxy", source).astype(np.float64)  # boxes given in `source`
    for target in FORMATS:
        ours = B.convert_format(boxes, source, target, height=HEIGHT, width=WIDTH)
        theirs = keras_convert(boxes, source, target)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4, err_msg=f"{source} -> {target}")
        back = B.convert_format(ours, target, source, height=HEIGHT, width=WIDTH)
        np.testing.assert_allclose(back, boxes, rtol=1e-12, atol=1e-9, err_msg=f"{source} -> {target} -> {source}")


def test_convert_format_by_hand_and_precision():
    box = np.array([[10.0, 20.0, 30.0, 60.0]])  # xyxy
    assert B.convert_format(box, "xyxy", "yxyx").tolist() == [[20, 10, 60, 30]]
    assert B.convert_format(box, "xyxy", "xywh").tolist() == [[10, 20, 20, 40]]
    assert B.convert_format(box, "xyxy", "center_xywh").tolist() == [[20, 40, 20, 40]]
    assert B.convert_format(box, "xyxy", "center_yxhw").tolist() == [[40, 20, 40, 20]]
    assert B.convert_format(box, "xyxy", "rel_xyxy", height=100, width=50).tolist() == [[0.2, 0.2, 0.6, 0.6]]
    # relative to relative needs no image size; float64 stays float64, float32 stays float32
    assert B.convert_format([[0.1, 0.2, 0.3, 0.4]], "rel_xyxy", "rel_yxyx").tolist() == [[0.2, 0.1, 0.4, 0.3]]
    assert B.convert_format(box, "xyxy", "xywh").dtype == np.float64
    assert B.convert_format(box.astype(np.float32), "xyxy", "xywh").dtype == np.float32
    # padding rows stay padding
    assert B.convert_format([[-1, -1, -1, -1], [0, 0, 2, 2]], "xyxy", "xywh").tolist() == [[-1] * 4, [0, 0, 2, 2]]
    assert B.box_area([[-1, -1, -1, -1]], format="center_xywh").tolist() == [0]
    # any leading shape
    assert B.convert_format(np.zeros((2, 3, 4)), "xyxy", "center_xywh").shape == (2, 3, 4)


def test_clip_boxes_agrees_with_keras_and_keeps_padding():
    import keras

    rng = np.random.default_rng(2)
    boxes = random_xyxy(rng, 20, size=(2 * WIDTH, 2 * HEIGHT)) - 20.0
    ours = B.clip_boxes(boxes, height=HEIGHT, width=WIDTH)
    theirs = keras.utils.bounding_boxes.clip_to_image_size(
        {"boxes": boxes.astype(np.float32)}, height=HEIGHT, width=WIDTH, bounding_box_format="xyxy"
    )["boxes"]
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), atol=1e-4)
    assert B.clip_boxes([[-5, 0, 50, 10]], height=32, width=32).tolist() == [[0, 0, 32, 10]]
    padded = B.clip_boxes([[-1, -1, -1, -1], [-5, -5, 5, 5]], height=32, width=32)
    assert padded.tolist() == [[-1, -1, -1, -1], [0, 0, 5, 5]]
    # other formats: clipped in pixel space, returned in the same format
    assert B.clip_boxes([[0, 0, 40, 10]], 32, 32, format="xywh").tolist() == [[0, 0, 32, 10]]
    assert B.clip_boxes([[0.5, 0.5, 1.5, 0.6]], None, None, format="rel_xyxy").tolist() == [[0.5, 0.5, 1.0, 0.6]]
    with pytest.raises(ValueError, match="height and width"):
        B.clip_boxes([[0, 0, 1, 1]], height=None, width=5)


def test_box_area():
    assert B.box_area([[0, 0, 2, 3], [1, 1, 1, 5], [-1, -1, -1, -1]]).tolist() == [6, 0, 0]
    assert B.box_area([[5, 5, 2, 3]], format="xywh").tolist() == [6]
    assert B.box_area([[5, 5, 3, 2]], format="center_yxhw").tolist() == [6]
    assert B.box_area(np.ones((2, 3, 4)) * [0, 0, 1, 2]).shape == (2, 3)


@pytest.mark.parametrize(
    "boxes, kwargs, message",
    [
        (np.zeros((3, 5)), {}, r"boxes must have shape \(\.\.\., 4\), got \(3, 5\)"),
        (np.zeros((3,)), {}, r"got \(3,\)"),
        ([[0, 0, np.nan, 1]], {}, r"boxes must be finite.*boxes\[0\]"),
        ([[0, 0, 1, 1], [5, 0, 4, 1]], {}, r"x2 >= x1, but boxes\[1\] = \[5\.0, 0\.0, 4\.0, 1\.0\]"),
        ([[0, 3, 1, 2]], {}, r"y2 >= y1"),
        ([[0, 0, -1, 2]], {"format": "xywh"}, r"width >= 0"),
        ([[0, 0, 1, 1]], {"format": "xyzw"}, r"format must be one of .*'xyxy'.* got 'xyzw'"),
        ([["a", "b", "c", "d"]], {}, r"must hold numbers"),
    ],
)
def test_bad_boxes_raise_clear_errors(boxes, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        B.check_boxes(boxes, **kwargs)


def test_errors_name_the_argument_and_padding_is_allowed():
    with pytest.raises(ValueError, match=r"gt_boxes must have shape \(N, 4\), got \(2, 3, 4\)"):
        B.check_boxes(np.zeros((2, 3, 4)), "gt_boxes", ndim=2)
    with pytest.raises(ValueError, match="relative to the image size: pass height= and width="):
        B.convert_format([[0, 0, 1, 1]], "xyxy", "rel_xyxy")
    with pytest.raises(ValueError, match="target must be one of"):
        B.convert_format([[0, 0, 1, 1]], "xyxy", "XYXY_PIXELS")
    # padding rows (all -1) pass the checks in every format; so do rows marked as ignored
    B.check_boxes([[-1, -1, -1, -1]], format="xywh")
    B.check_boxes([[5, 5, 0, 0]], ignore=np.array([True]))
    assert B.padding_mask([[-1, -1, -1, -1], [0, 0, 1, 1]]).tolist() == [True, False]


def test_convert_format_tf_under_xla_matches_numpy():
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    rng = np.random.default_rng(3)
    xyxy = random_xyxy(rng, 6).astype(np.float32)

    @tf.function(jit_compile=True)
    def to_centre(x):
        return B.convert_format_tf(x, "xyxy", "center_yxhw")

    np.testing.assert_allclose(to_centre(tf.constant(xyxy)).numpy(), B.convert_format(xyxy, "xyxy", "center_yxhw"),
                               rtol=1e-6)
    rel = B.convert_format_tf(xyxy, "xyxy", "rel_xywh", height=HEIGHT, width=WIDTH)
    np.testing.assert_allclose(rel.numpy(), B.convert_format(xyxy, "xyxy", "rel_xywh", height=HEIGHT, width=WIDTH),
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        B.convert_format_tf(np.zeros((2, 3), np.float32), "xyxy", "xywh")


def test_docstring_examples_of_the_package():
    from cnncourse.boxes import anchors, average_precision, deltas, iou, nms

    for module in (formats, iou, anchors, deltas, nms, average_precision):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__
