"""Box deltas: how a detector says "move and stretch this anchor to get the object".

For an anchor with centre ``(xa, ya)`` and size ``(wa, ha)`` and a box with centre
``(x, y)`` and size ``(w, h)`` (Faster R-CNN, Ren et al. 2015, eq. 2)::

    tx = (x - xa) / wa        ty = (y - ya) / ha
    tw = log(w / wa)          th = log(h / ha)

and each delta is then divided by its *variance* (SSD's ``(0.1, 0.1, 0.2, 0.2)``;
Faster R-CNN's "weights" ``(10, 10, 5, 5)`` are the reciprocals). Decoding undoes each
step, so ``decode_deltas(anchors, encode_deltas(anchors, boxes)) == boxes`` up to rounding.

Order: deltas are ``(tx, ty, tw, th)``. Keras's own ``encode_box_to_deltas`` defaults to
``(ty, tx, th, tw)`` (``encoding_format="center_yxhw"``); with
``encoding_format="center_xywh"`` it gives ours (a test checks they agree).

NumPy functions check their inputs and compute in float64: boxes and anchors must have
positive width and height to be encoded (log 0 is not a number). The ``*_tf`` versions
use ``keras.ops``, run under ``tf.function(jit_compile=True)``, and, like Keras, clamp
sizes to ``keras.backend.epsilon()`` so padding rows give finite (meaningless) deltas
that the loss must mask out.
"""

from __future__ import annotations

import math

import numpy as np

from cnncourse._validation import check_float
from cnncourse.boxes.formats import _from_xyxy, check_format, tensor_to_xyxy, to_xyxy

#: A common cap for ``tw``/``th`` when decoding in a model (torchvision's): a box at most
#: 62.5 times its anchor's size, so that ``exp`` cannot overflow early in training.
DEFAULT_MAX_LOG_SCALE = math.log(1000.0 / 16)


def _check_variances(variances, dtype=np.float64) -> np.ndarray:
    if variances is None:
        return np.ones(4, dtype)
    values = np.asarray(variances, dtype=np.float64)
    if values.shape != (4,) or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"variances must be 4 positive numbers (for tx, ty, tw, th), got {variances!r}")
    return values.astype(dtype)


def _check_max_log_scale(value):
    return None if value is None else check_float("max_log_scale", value)


def _centres(xyxy):
    width = xyxy[..., 2] - xyxy[..., 0]
    height = xyxy[..., 3] - xyxy[..., 1]
    return xyxy[..., 0] + width / 2, xyxy[..., 1] + height / 2, width, height


def _require_positive_size(xyxy, name):
    bad = ~((xyxy[..., 2] > xyxy[..., 0]) & (xyxy[..., 3] > xyxy[..., 1]))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must have positive width and height to be encoded, but "
            f"{name}[{', '.join(map(str, where))}] = {xyxy[where].tolist()} (in xyxy); "
            f"leave padding and zero-size boxes out"
        )


def encode_deltas(anchors, boxes, variances=None, format: str = "xyxy") -> np.ndarray:
    """Encode boxes as deltas ``(tx, ty, tw, th)`` relative to anchors (NumPy, float64).

    Args:
        anchors: array ``(N, 4)`` in ``format``, positive width and height.
        boxes: array ``(N, 4)`` or ``(B, N, 4)`` in ``format`` (the box each anchor should
            predict), positive width and height.
        variances: 4 positive numbers the deltas are divided by, or ``None`` (ones).
        format: box format of ``anchors`` and ``boxes``.

    Returns:
        array with the shape of ``boxes``: ``(..., 4)`` deltas ``(tx, ty, tw, th)``.

    Example:
        >>> encode_deltas([[0, 0, 10, 10]], [[5, 0, 15, 20]])   # shifted right by half, twice as tall
        array([[0.5       , 0.5       , 0.        , 0.69314718]])
    """
    format = check_format(format)
    a = to_xyxy(anchors, format, "anchors", ndim=2).astype(np.float64)
    b = to_xyxy(boxes, format, "boxes", ndim=(2, 3)).astype(np.float64)
    if b.shape[-2] != a.shape[0]:
        raise ValueError(f"boxes must have one box per anchor: anchors {a.shape}, boxes {b.shape}")
    _require_positive_size(a, "anchors")
    _require_positive_size(b, "boxes")
    xa, ya, wa, ha = _centres(a)
    x, y, w, h = _centres(b)
    deltas = np.stack([(x - xa) / wa, (y - ya) / ha, np.log(w / wa), np.log(h / ha)], axis=-1)
    return deltas / _check_variances(variances)


def decode_deltas(anchors, deltas, variances=None, format: str = "xyxy",
                  max_log_scale: float | None = DEFAULT_MAX_LOG_SCALE) -> np.ndarray:
    """Apply deltas ``(tx, ty, tw, th)`` to anchors and return boxes (NumPy, float64).

    Args:
        anchors: array ``(N, 4)`` in ``format``, positive width and height.
        deltas: array ``(N, 4)`` or ``(B, N, 4)``: ``(tx, ty, tw, th)`` per anchor.
        variances: the same 4 numbers given to :func:`encode_deltas`, or ``None``.
        format: box format of ``anchors`` and of the returned boxes.
        max_log_scale: ``tw`` and ``th`` (after the variances) are capped at this value
            before ``exp``, as torchvision's ``BoxCoder`` does (``bbox_xform_clip``): by
            default :data:`DEFAULT_MAX_LOG_SCALE` = log(1000 / 16), a box at most 62.5 times
            its anchor's width and height, so a large delta gives a large box, never inf.
            ``None``: no cap (exact inverse of :func:`encode_deltas` for any box).

    Returns:
        array with the shape of ``deltas``: boxes in ``format``; finite when capped.
    """
    format = check_format(format)
    a = to_xyxy(anchors, format, "anchors", ndim=2).astype(np.float64)
    _require_positive_size(a, "anchors")
    d = np.asarray(deltas, dtype=np.float64)
    if d.ndim not in (2, 3) or d.shape[-1] != 4 or d.shape[-2] != a.shape[0]:
        raise ValueError(f"deltas must have shape (N, 4) or (B, N, 4) with N = {a.shape[0]} anchors, got {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("deltas must be finite, got NaN or inf")
    d = d * _check_variances(variances)
    max_log_scale = _check_max_log_scale(max_log_scale)
    log_scale = d[..., 2:] if max_log_scale is None else np.minimum(d[..., 2:], max_log_scale)
    xa, ya, wa, ha = _centres(a)
    x = xa + d[..., 0] * wa
    y = ya + d[..., 1] * ha
    w = wa * np.exp(log_scale[..., 0])
    h = ha * np.exp(log_scale[..., 1])
    xyxy = np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=-1)
    if format.startswith("rel_"):
        return _from_xyxy(xyxy, format[4:])
    return _from_xyxy(xyxy, format)


# ----------------------------------------------------------------------------- tensors


def _tf_centres(xyxy, epsilon):
    from keras import ops

    width = ops.maximum(xyxy[..., 2] - xyxy[..., 0], epsilon)
    height = ops.maximum(xyxy[..., 3] - xyxy[..., 1], epsilon)
    return xyxy[..., 0] + width / 2, xyxy[..., 1] + height / 2, width, height


def encode_deltas_tf(anchors, boxes, variances=None, format: str = "xyxy"):
    """Encode boxes as deltas ``(tx, ty, tw, th)``, as a tensor (``keras.ops``; XLA-compatible).

    Args:
        anchors: tensor ``(N, 4)`` in ``format``.
        boxes: tensor ``(N, 4)`` or ``(B, N, 4)`` in ``format``.
        variances: 4 positive numbers, or ``None``.
        format: box format of both.

    Returns:
        tensor with the shape of ``boxes``, in the dtype of ``boxes`` (float32 for integers).
        Sizes are clamped to ``keras.backend.epsilon()``, so zero-size boxes give finite values.
    """
    import keras
    from keras import ops

    b = tensor_to_xyxy(boxes, format)
    a = ops.cast(tensor_to_xyxy(anchors, format), b.dtype)
    epsilon = ops.cast(keras.backend.epsilon(), b.dtype)
    xa, ya, wa, ha = _tf_centres(a, epsilon)
    x, y, w, h = _tf_centres(b, epsilon)
    deltas = ops.stack([(x - xa) / wa, (y - ya) / ha, ops.log(w / wa), ops.log(h / ha)], axis=-1)
    return deltas / ops.cast(_check_variances(variances), b.dtype)


def decode_deltas_tf(anchors, deltas, variances=None, format: str = "xyxy",
                     max_log_scale: float | None = DEFAULT_MAX_LOG_SCALE):
    """Apply deltas ``(tx, ty, tw, th)`` to anchors, as a tensor (``keras.ops``; XLA-compatible).

    Args:
        anchors: tensor ``(N, 4)`` in ``format``.
        deltas: tensor ``(N, 4)`` or ``(B, N, 4)``.
        variances: the 4 numbers used to encode, or ``None``.
        format: box format of ``anchors`` and of the result.
        max_log_scale: cap on ``tw``, ``th`` (after the variances) before ``exp``, as in
            :func:`decode_deltas` (default :data:`DEFAULT_MAX_LOG_SCALE`; ``None``: no cap).

    Returns:
        tensor with the shape of ``deltas``: boxes in ``format``.
    """
    import keras
    from keras import ops

    format = check_format(format)
    d = ops.convert_to_tensor(deltas)
    if "float" not in keras.backend.standardize_dtype(d.dtype):
        d = ops.cast(d, "float32")
    if d.shape[-1] is not None and d.shape[-1] != 4:
        raise ValueError(f"deltas must have shape (..., N, 4), got {tuple(d.shape)}")
    d = d * ops.cast(_check_variances(variances), d.dtype)
    a = ops.cast(tensor_to_xyxy(anchors, format), d.dtype)
    epsilon = ops.cast(keras.backend.epsilon(), d.dtype)
    xa, ya, wa, ha = _tf_centres(a, epsilon)
    log_w, log_h = d[..., 2], d[..., 3]
    max_log_scale = _check_max_log_scale(max_log_scale)
    if max_log_scale is not None:
        log_w = ops.minimum(log_w, max_log_scale)
        log_h = ops.minimum(log_h, max_log_scale)
    x = xa + d[..., 0] * wa
    y = ya + d[..., 1] * ha
    w = wa * ops.exp(log_w)
    h = ha * ops.exp(log_h)
    xyxy = ops.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=-1)
    if format.startswith("rel_") or format == "xyxy":
        if format.startswith("rel_") and format != "rel_xyxy":
            return keras.utils.bounding_boxes.convert_format(
                xyxy, "rel_xyxy", format, dtype=keras.backend.standardize_dtype(xyxy.dtype)
            )
        return xyxy
    return keras.utils.bounding_boxes.convert_format(
        xyxy, "xyxy", format, dtype=keras.backend.standardize_dtype(xyxy.dtype)
    )
