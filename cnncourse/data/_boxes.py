"""Box format conversion in NumPy, for the data layer only.

The formats and their names are Keras 3's (``keras.utils.bounding_boxes.convert_format``);
this NumPy copy exists so that generating data never needs TensorFlow, and it keeps the
``-1`` padding rows as ``-1``. A test checks it against Keras.

Pixel formats (``xyxy``, ``yxyx``, ``xywh``, ``center_xywh``, ``center_yxhw``) are in pixel
units with edges on the pixel grid: a box covering the pixel columns ``x0 .. x1``
(inclusive) has ``left = x0`` and ``right = x1 + 1``. ``rel_*`` formats divide x by the image
width and y by its height.
"""

from __future__ import annotations

import numpy as np


def _split(boxes):
    return boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]


def xyxy_to_format(boxes: np.ndarray, target: str, height: int, width: int, valid=None) -> np.ndarray:
    """Convert ``(..., 4)`` pixel ``xyxy`` boxes to ``target``; rows where ``valid`` is False become -1.

    Args:
        boxes: float array ``(..., 4)`` of ``[left, top, right, bottom]`` in pixels.
        target: a Keras format name.
        height, width: the image size (used by the ``rel_*`` formats).
        valid: optional bool array ``boxes.shape[:-1]``; default: every row is valid.

    Returns:
        float32 array of the same shape.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    x0, y0, x1, y1 = _split(boxes)
    relative = target.startswith("rel_")
    base = target[4:] if relative else target
    if base == "xyxy":
        out = np.stack([x0, y0, x1, y1], axis=-1)
    elif base == "yxyx":
        out = np.stack([y0, x0, y1, x1], axis=-1)
    elif base == "xywh":
        out = np.stack([x0, y0, x1 - x0, y1 - y0], axis=-1)
    elif base == "center_xywh":
        out = np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=-1)
    elif base == "center_yxhw":
        out = np.stack([(y0 + y1) / 2, (x0 + x1) / 2, y1 - y0, x1 - x0], axis=-1)
    else:  # pragma: no cover - callers validate the name first
        raise ValueError(f"unknown bounding box format {target!r}")
    if relative:
        # x-like and y-like positions per format, as in Keras.
        scale = {
            "xyxy": (width, height, width, height),
            "yxyx": (height, width, height, width),
            "xywh": (width, height, width, height),
            "center_xywh": (width, height, width, height),
        }[base]
        out = out / np.asarray(scale, dtype=np.float32)
    out = out.astype(np.float32)
    if valid is not None:
        out = np.where(np.asarray(valid)[..., None], out, np.float32(-1))
    return out


def format_to_xyxy(boxes: np.ndarray, source: str, height: int | None, width: int | None) -> np.ndarray:
    """Convert ``(..., 4)`` boxes in ``source`` format to pixel ``xyxy`` (float32)."""
    boxes = np.asarray(boxes, dtype=np.float32)
    relative = source.startswith("rel_")
    base = source[4:] if relative else source
    a, b, c, d = _split(boxes)
    if relative:
        if height is None or width is None:
            raise ValueError(f"converting from {source!r} needs the image height and width")
        if base in ("xyxy", "xywh", "center_xywh"):
            a, b, c, d = a * width, b * height, c * width, d * height
        elif base == "yxyx":
            a, b, c, d = a * height, b * width, c * height, d * width
    if base == "xyxy":
        out = (a, b, c, d)
    elif base == "yxyx":
        out = (b, a, d, c)
    elif base == "xywh":
        out = (a, b, a + c, b + d)
    elif base == "center_xywh":
        out = (a - c / 2, b - d / 2, a + c / 2, b + d / 2)
    elif base == "center_yxhw":
        out = (b - d / 2, a - c / 2, b + d / 2, a + c / 2)
    else:  # pragma: no cover
        raise ValueError(f"unknown bounding box format {source!r}")
    return np.stack(out, axis=-1).astype(np.float32)
