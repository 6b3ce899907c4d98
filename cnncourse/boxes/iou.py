"""Intersection over union (IoU) and generalised IoU (GIoU) of boxes.

``IoU(A, B) = area(A ∩ B) / area(A ∪ B)``: 1 for identical boxes, 0 for boxes that do not
overlap. ``GIoU(A, B) = IoU - area(C \\ (A ∪ B)) / area(C)``, with ``C`` the smallest box
enclosing both (Rezatofighi et al., 2019): it lies in ``(-1, 1]`` and keeps falling as
disjoint boxes move apart, so ``1 - GIoU`` is a useful loss.

Pairwise functions compare every box of one set with every box of the other
(``(N, 4), (M, 4) -> (N, M)``); elementwise ones compare box ``i`` with box ``i``
(``(..., 4), (..., 4) -> (...)``), which is what a loss needs.

Conventions: when the union is empty (two zero-area boxes) the IoU is 0, not NaN; when
the enclosing box is empty too, GIoU equals the IoU (0). Relative formats (``rel_...``)
need no image size here: IoU does not change when x and y are scaled.

NumPy functions compute in float64, whatever the input dtype (float16/float32 boxes are
cast to float64 *before* any format conversion), and check their inputs; the ``*_tf``
functions use ``keras.ops``, compute in float64 too (rounding the result once to the
input's float dtype), and work on tensors inside ``tf.function(jit_compile=True)``, without
value checks (a graph cannot raise on NaN). They use the "double where" so that gradients stay
finite for degenerate boxes.
"""

from __future__ import annotations

import numpy as np

from cnncourse.boxes.formats import tensor_to_xyxy, to_xyxy


def _pairwise_xyxy(boxes1, boxes2, format):
    a = to_xyxy(boxes1, format, "boxes1", dtype=np.float64)
    b = to_xyxy(boxes2, format, "boxes2", dtype=np.float64)
    single1, single2 = a.ndim == 1, b.ndim == 1
    a = a[None] if single1 else a
    b = b[None] if single2 else b
    return a, b, single1, single2


def _squeeze(result, single1, single2):
    if single1 and single2:
        return float(result[..., 0, 0])
    if single1:
        return result[..., 0, :]
    if single2:
        return result[..., :, 0]
    return result


def _area(xyxy):
    return (xyxy[..., 2] - xyxy[..., 0]) * (xyxy[..., 3] - xyxy[..., 1])


def _iou_parts(a, b):
    """Intersection and union of aligned (broadcast) xyxy arrays ``(..., 4)``."""
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    union = _area(a) + _area(b) - intersection
    return intersection, union


def _safe_divide(numerator, denominator):
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1.0), 0.0)


def _giou(a, b):
    intersection, union = _iou_parts(a, b)
    iou = _safe_divide(intersection, union)
    enclosing = (np.maximum(a[..., 2], b[..., 2]) - np.minimum(a[..., 0], b[..., 0])) * (
        np.maximum(a[..., 3], b[..., 3]) - np.minimum(a[..., 1], b[..., 1])
    )
    return iou - _safe_divide(enclosing - union, enclosing)


def box_iou(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """Pairwise IoU of two sets of boxes (NumPy, float64).

    Args:
        boxes1: array ``(N, 4)`` (or ``(..., N, 4)``, or one box ``(4,)``) in ``format``.
        boxes2: array ``(M, 4)`` (or ``(..., M, 4)``, or one box ``(4,)``) in ``format``.
            Leading dimensions ``...`` of the two must broadcast.
        format: box format of both, one of :data:`cnncourse.boxes.BOX_FORMATS`.

    Returns:
        array ``(N, M)`` (``(..., N, M)``) with ``iou[i, j] = IoU(boxes1[i], boxes2[j])``;
        a one-box input drops its axis, and two single boxes give a Python float.

    Raises:
        ValueError: wrong last dimension, NaN, ``x2 < x1``, unknown format.

    Example:
        >>> box_iou([0, 0, 2, 2], [1, 1, 3, 3])   # overlap 1, union 4 + 4 - 1
        0.14285714285714285
    """
    a, b, single1, single2 = _pairwise_xyxy(boxes1, boxes2, format)
    intersection, union = _iou_parts(a[..., :, None, :], b[..., None, :, :])
    return _squeeze(_safe_divide(intersection, union), single1, single2)


def generalized_box_iou(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """Pairwise generalised IoU (GIoU) of two sets of boxes (NumPy, float64).

    Args:
        boxes1: array ``(N, 4)`` (or ``(..., N, 4)`` or ``(4,)``) in ``format``.
        boxes2: array ``(M, 4)`` (or ``(..., M, 4)`` or ``(4,)``) in ``format``.
        format: box format of both.

    Returns:
        array ``(N, M)`` of values in ``[-1, 1]`` (shapes as in :func:`box_iou`).

    Example:
        >>> generalized_box_iou([0, 0, 1, 1], [2, 0, 3, 1])   # disjoint: IoU 0, hull 3, union 2
        -0.3333333333333333
    """
    a, b, single1, single2 = _pairwise_xyxy(boxes1, boxes2, format)
    return _squeeze(_giou(a[..., :, None, :], b[..., None, :, :]), single1, single2)


def elementwise_box_iou(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """IoU of box ``i`` of ``boxes1`` with box ``i`` of ``boxes2`` (NumPy, float64).

    Args:
        boxes1, boxes2: arrays ``(..., 4)`` in ``format`` whose leading shapes broadcast.
        format: box format of both.

    Returns:
        array ``(...)``.
    """
    a = to_xyxy(boxes1, format, "boxes1", dtype=np.float64)
    b = to_xyxy(boxes2, format, "boxes2", dtype=np.float64)
    intersection, union = _iou_parts(a, b)
    return _safe_divide(intersection, union)


def elementwise_generalized_box_iou(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """GIoU of box ``i`` of ``boxes1`` with box ``i`` of ``boxes2`` (NumPy, float64).

    Args:
        boxes1, boxes2: arrays ``(..., 4)`` in ``format`` whose leading shapes broadcast.
        format: box format of both.

    Returns:
        array ``(...)``.
    """
    a = to_xyxy(boxes1, format, "boxes1", dtype=np.float64)
    b = to_xyxy(boxes2, format, "boxes2", dtype=np.float64)
    return _giou(a, b)


# ----------------------------------------------------------------------------- tensors


def _tf_parts(a, b):
    from keras import ops

    zero = ops.zeros((), a.dtype)
    width = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), zero)
    height = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), zero)
    intersection = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return intersection, area_a + area_b - intersection


def _tf_safe_divide(numerator, denominator):
    from keras import ops

    positive = denominator > 0
    safe = ops.where(positive, denominator, ops.ones_like(denominator))
    return ops.where(positive, numerator / safe, ops.zeros_like(numerator))


def _tf_giou(a, b):
    from keras import ops

    intersection, union = _tf_parts(a, b)
    enclosing = (ops.maximum(a[..., 2], b[..., 2]) - ops.minimum(a[..., 0], b[..., 0])) * (
        ops.maximum(a[..., 3], b[..., 3]) - ops.minimum(a[..., 1], b[..., 1])
    )
    return _tf_safe_divide(intersection, union) - _tf_safe_divide(enclosing - union, enclosing)


def _tf_pair(boxes1, boxes2, format, pairwise):
    """Both sets as float64 ``xyxy`` (converted in float64), and the dtype to return the result in."""
    import keras
    from keras import ops

    boxes1 = ops.convert_to_tensor(boxes1)
    dtype = keras.backend.standardize_dtype(boxes1.dtype)
    if "float" not in dtype:
        dtype = "float32"
    a = tensor_to_xyxy(ops.cast(boxes1, "float64"), format)
    b = tensor_to_xyxy(ops.cast(ops.convert_to_tensor(boxes2), "float64"), format)
    if pairwise:
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise ValueError(
                f"boxes1 and boxes2 must have shape (..., N, 4) and (..., M, 4), got "
                f"{tuple(a.shape)} and {tuple(b.shape)}"
            )
        a = ops.expand_dims(a, -2)  # (..., N, 1, 4)
        b = ops.expand_dims(b, -3)  # (..., 1, M, 4)
    return a, b, dtype


def box_iou_tf(boxes1, boxes2, format: str = "xyxy"):
    """Pairwise IoU of two sets of boxes, as a tensor (``keras.ops``; XLA-compatible).

    Args:
        boxes1: tensor ``(..., N, 4)`` in ``format``.
        boxes2: tensor ``(..., M, 4)`` in ``format``; leading dims broadcast with ``boxes1``'s.
        format: box format of both.

    Returns:
        tensor ``(..., N, M)`` in the dtype of ``boxes1`` (float32 for integers): computed
        in float64 (the formats converted in float64 too) and rounded once, so within half
        a unit in the last place of the float64 :func:`box_iou` (float32: 6e-8; float16: 5e-4).
    """
    a, b, dtype = _tf_pair(boxes1, boxes2, format, pairwise=True)
    return _tf_cast(_tf_safe_divide(*_tf_parts(a, b)), dtype)


def _tf_cast(value, dtype):
    from keras import ops

    return ops.cast(value, dtype)


def generalized_box_iou_tf(boxes1, boxes2, format: str = "xyxy"):
    """Pairwise GIoU as a tensor: ``(..., N, 4), (..., M, 4) -> (..., N, M)`` (XLA-compatible; float64 inside)."""
    a, b, dtype = _tf_pair(boxes1, boxes2, format, pairwise=True)
    return _tf_cast(_tf_giou(a, b), dtype)


def elementwise_box_iou_tf(boxes1, boxes2, format: str = "xyxy"):
    """Elementwise IoU as a tensor: ``(..., 4), (..., 4) -> (...)`` (for ``1 - IoU`` losses; float64 inside)."""
    a, b, dtype = _tf_pair(boxes1, boxes2, format, pairwise=False)
    return _tf_cast(_tf_safe_divide(*_tf_parts(a, b)), dtype)


def elementwise_generalized_box_iou_tf(boxes1, boxes2, format: str = "xyxy"):
    """Elementwise GIoU as a tensor: ``(..., 4), (..., 4) -> (...)`` (for ``1 - GIoU`` losses; float64 inside)."""
    a, b, dtype = _tf_pair(boxes1, boxes2, format, pairwise=False)
    return _tf_cast(_tf_giou(a, b), dtype)
