"""Box formats: names, checks, conversion, clipping and area.

A box is four numbers; the *format* says which four. The names are Keras's
(``keras.utils.bounding_boxes``), so boxes move between this package and Keras's own
augmentation layers without surprises:

=====================  ==========================================================
format                 the four numbers, in order
=====================  ==========================================================
``"xyxy"``             left, top, right, bottom (pixels)
``"yxyx"``             top, left, bottom, right (pixels; ``tf.image``'s order)
``"xywh"``             left, top, width, height (pixels; COCO's order)
``"center_xywh"``      centre x, centre y, width, height (pixels; YOLO's order)
``"center_yxhw"``      centre y, centre x, height, width (pixels)
``"rel_xyxy"``, ...    the same with x divided by the image width and y by its height
=====================  ==========================================================

Coordinates are continuous: a box ``[x1, y1, x2, y2]`` covers ``x1 <= x <= x2`` and has
width ``x2 - x1`` (no "+1 pixel" convention), as in COCO and Keras.

Padding: a batch of images with different numbers of boxes is stored as one array with
the missing rows filled with -1 (boxes ``[-1, -1, -1, -1]``, label -1), as Keras does.

The NumPy functions here work on arrays of any leading shape ``(..., 4)`` and never import
TensorFlow; :func:`convert_format_tf` is the in-graph version (it calls Keras's
``convert_format``). This module writes its NumPy conversions by hand rather than calling
Keras because Keras returns float32 tensors, and the references in this package keep
float64 (the tests check both agree).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

#: Every format name Keras 3 understands (``keras.utils.bounding_boxes``).
BOX_FORMATS = (
    "xyxy",
    "yxyx",
    "xywh",
    "center_xywh",
    "center_yxhw",
    "rel_xyxy",
    "rel_yxyx",
    "rel_xywh",
    "rel_center_xywh",
)

#: Formats that store two corners (so the second corner must not precede the first).
CORNER_FORMATS = ("xyxy", "yxyx", "rel_xyxy", "rel_yxyx")

#: For each format without the ``rel_`` prefix: the position of x1, y1, x2, y2 (corner
#: formats) or of centre x / left, centre y / top, width, height (size formats).
_FIELD_ORDER = {
    "xyxy": (0, 1, 2, 3),
    "yxyx": (1, 0, 3, 2),
    "xywh": (0, 1, 2, 3),
    "center_xywh": (0, 1, 2, 3),
    "center_yxhw": (1, 0, 3, 2),
}


def check_format(format: str, name: str = "format") -> str:
    """Return ``format`` lower-cased, or raise ``ValueError`` naming the known formats."""
    if not isinstance(format, str) or format.lower() not in BOX_FORMATS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, BOX_FORMATS))}, got {format!r}")
    return format.lower()


def _shape_text(ndim: int | None) -> str:
    """``2`` -> ``"(N, 4)"``: how an error message writes the expected shape."""
    return {1: "(4,)", 2: "(N, 4)", 3: "(B, N, 4)"}.get(ndim, "(..., 4)")


def padding_mask(boxes: np.ndarray) -> np.ndarray:
    """True for padding rows: boxes whose four numbers are all -1.

    Args:
        boxes: array ``(..., 4)``, any format.

    Returns:
        bool array ``(...)``.
    """
    boxes = np.asarray(boxes)
    return np.all(boxes == -1, axis=-1)


def check_boxes(
    boxes,
    name: str = "boxes",
    format: str = "xyxy",
    *,
    ndim: int | Iterable[int] | None = None,
    ignore: np.ndarray | None = None,
) -> np.ndarray:
    """Check ``boxes`` and return them as a floating NumPy array (float64 unless float32/16 came in).

    Checks, each with an error that names ``name``: the last dimension is 4; the rank is
    one of ``ndim`` (when given); every number is finite; corner formats have
    ``x2 >= x1`` and ``y2 >= y1``; size formats have ``width >= 0`` and ``height >= 0``.

    Args:
        boxes: array-like ``(..., 4)`` in ``format``.
        name: the argument's name, used in error messages.
        format: one of :data:`BOX_FORMATS`.
        ndim: the allowed rank(s), e.g. ``2`` for ``(N, 4)``; ``None`` accepts any rank >= 1.
        ignore: optional bool array ``boxes.shape[:-1]``: rows to skip in the value checks
            (padding rows whose label is -1, say). Rows whose four numbers are all -1
            are always skipped.

    Raises:
        ValueError: wrong shape, NaN or infinite values, corners in the wrong order,
            negative sizes, unknown format.
        TypeError: boxes that are not numbers.
    """
    format = check_format(format)
    try:
        array = np.asarray(boxes)
    except Exception as error:  # ragged lists and the like
        raise TypeError(
            f"{name} must be an array of shape {_shape_text(None)}, got {type(boxes).__name__}: {error}"
        ) from None
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.number)):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    allowed = None if ndim is None else ((ndim,) if isinstance(ndim, int) else tuple(ndim))
    if array.ndim == 0 or array.shape[-1] != 4 or (allowed is not None and array.ndim not in allowed):
        expected = " or ".join(_shape_text(n) for n in allowed) if allowed else _shape_text(None)
        raise ValueError(f"{name} must have shape {expected}, got {tuple(array.shape)}")
    if array.size == 0:
        return array
    skip = padding_mask(array)
    if ignore is not None:
        skip = skip | np.broadcast_to(np.asarray(ignore, dtype=bool), skip.shape)
    checked = ~skip
    bad = ~np.all(np.isfinite(array), axis=-1) & checked
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite, but {name}[{_index_text(where)}] = {array[where].tolist()} (NaN or inf)"
        )
    order = _FIELD_ORDER[format.removeprefix("rel_")]
    first_x, first_y, last_x, last_y = (array[..., i] for i in order)
    if format in CORNER_FORMATS:
        for axis, low, high in (("x", first_x, last_x), ("y", first_y, last_y)):
            bad = (high < low) & checked
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"{name} in format {format!r} must have {axis}2 >= {axis}1, but "
                    f"{name}[{_index_text(where)}] = {array[where].tolist()}; "
                    f"are these boxes in another format (e.g. 'xywh' or 'yxyx')?"
                )
    else:
        for what, size in (("width", last_x), ("height", last_y)):
            bad = (size < 0) & checked
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"{name} in format {format!r} must have {what} >= 0, but "
                    f"{name}[{_index_text(where)}] = {array[where].tolist()}"
                )
    return array


def _index_text(index: tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in index)


def _require_size(format: str, height, width, name: str = "format") -> None:
    if format.startswith("rel_") and (height is None or width is None):
        raise ValueError(
            f"{name}={format!r} is relative to the image size: pass height= and width= "
            f"(got height={height!r}, width={width!r})"
        )


def _to_xyxy(boxes: np.ndarray, format: str, height=None, width=None) -> np.ndarray:
    """Unchecked conversion of a float array ``(..., 4)`` from ``format`` to ``xyxy``."""
    relative = format.startswith("rel_")
    base = format.removeprefix("rel_")
    a, b, c, d = (boxes[..., i] for i in _FIELD_ORDER[base])  # x-ish, y-ish, x-ish, y-ish
    if base in ("xyxy", "yxyx"):
        x1, y1, x2, y2 = a, b, c, d
    elif base == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    else:  # centre formats
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    out = np.stack([x1, y1, x2, y2], axis=-1)
    if relative:
        out = out * np.array([width, height, width, height], dtype=out.dtype)
    return out


def _from_xyxy(boxes: np.ndarray, format: str, height=None, width=None) -> np.ndarray:
    """Unchecked conversion of a float array ``(..., 4)`` from ``xyxy`` to ``format``."""
    if format.startswith("rel_"):
        boxes = boxes / np.array([width, height, width, height], dtype=boxes.dtype)
    base = format.removeprefix("rel_")
    x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
    if base in ("xyxy", "yxyx"):
        fields = (x1, y1, x2, y2)
    elif base == "xywh":
        fields = (x1, y1, x2 - x1, y2 - y1)
    else:
        fields = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    out = [None] * 4
    for value, position in zip(fields, _FIELD_ORDER[base]):
        out[position] = value
    return np.stack(out, axis=-1)


def convert_format(boxes, source: str, target: str, height=None, width=None) -> np.ndarray:
    """Convert boxes from one format to another (NumPy).

    Same names and arithmetic as ``keras.utils.bounding_boxes.convert_format``, but it
    keeps the input's float precision (integers become float64) and checks the boxes.

    Args:
        boxes: array ``(..., 4)`` in ``source`` format. Padding rows (all -1) stay
            all -1 (Keras's own ``convert_format`` converts them like any other row).
        source: the format of ``boxes``, one of :data:`BOX_FORMATS`.
        target: the format wanted, one of :data:`BOX_FORMATS`.
        height, width: the image size in pixels; needed when exactly one of ``source``
            and ``target`` is relative (``rel_...``).

    Returns:
        array ``(..., 4)`` in ``target`` format.

    Example:
        >>> convert_format([[10, 20, 30, 60]], "xyxy", "center_xywh")
        array([[20., 40., 20., 40.]])
    """
    source = check_format(source, "source")
    target = check_format(target, "target")
    boxes = check_boxes(boxes, "boxes", source)
    if source == target:
        return boxes.copy()
    if source.startswith("rel_") and target.startswith("rel_"):
        out = _from_xyxy(_to_xyxy(boxes, source[4:]), target[4:])
    else:
        _require_size(source, height, width, "source")
        _require_size(target, height, width, "target")
        out = _from_xyxy(_to_xyxy(boxes, source, height, width), target, height, width)
    return _keep_padding(boxes, out)


def _keep_padding(original: np.ndarray, converted: np.ndarray) -> np.ndarray:
    """``converted`` with the padding rows of ``original`` (all -1) put back as all -1."""
    padding = padding_mask(original)
    if not padding.any():
        return converted
    return np.where(padding[..., None], np.asarray(-1, converted.dtype), converted)


def to_xyxy(boxes, format: str = "xyxy", name: str = "boxes", *, ndim=None, height=None, width=None,
            ignore=None, dtype=None) -> np.ndarray:
    """Check ``boxes`` (see :func:`check_boxes`) and return them in ``xyxy`` (padding stays -1).

    For relative formats without ``height``/``width`` the result stays relative
    (``rel_xyxy``): that is all IoU needs, since IoU does not change when x and y are
    scaled. ``dtype`` (e.g. ``np.float64``) casts the boxes *before* the conversion, so that
    float32/float16 boxes in size formats are converted without rounding.
    """
    format = check_format(format)
    boxes = check_boxes(boxes, name, format, ndim=ndim, ignore=ignore)
    if dtype is not None:
        boxes = boxes.astype(dtype)
    if format == "xyxy":
        return boxes
    if format.startswith("rel_") and (height is None or width is None):
        return _keep_padding(boxes, _to_xyxy(boxes, format[4:]))
    return _keep_padding(boxes, _to_xyxy(boxes, format, height, width))


def clip_boxes(boxes, height, width, format: str = "xyxy") -> np.ndarray:
    """Clip boxes to the image ``[0, width] x [0, height]`` (NumPy).

    Args:
        boxes: array ``(..., 4)`` in ``format``.
        height, width: the image size in pixels (for relative formats the box is clipped
            to ``[0, 1]``; ``height``/``width`` may then be ``None``).
        format: one of :data:`BOX_FORMATS`.

    Returns:
        array ``(..., 4)`` in ``format``. A box wholly outside the image becomes a
        zero-area box on the border. Padding rows (all -1) stay padding.
    """
    format = check_format(format)
    boxes = check_boxes(boxes, "boxes", format)
    if format.startswith("rel_"):
        xyxy, limits = _to_xyxy(boxes, format[4:]), (1.0, 1.0)
    else:
        if height is None or width is None or not (height > 0 and width > 0):
            raise ValueError(f"height and width must be positive numbers, got height={height!r}, width={width!r}")
        xyxy, limits = _to_xyxy(boxes, format), (float(width), float(height))
    upper = np.array([limits[0], limits[1], limits[0], limits[1]], dtype=xyxy.dtype)
    clipped = np.clip(xyxy, 0, upper)
    out = _from_xyxy(clipped, format.removeprefix("rel_"))
    return np.where(padding_mask(boxes)[..., None], boxes, out)


def box_area(boxes, format: str = "xyxy") -> np.ndarray:
    """Area of each box (NumPy).

    Args:
        boxes: array ``(..., 4)`` in ``format`` (relative formats give relative areas).
        format: one of :data:`BOX_FORMATS`.

    Returns:
        array ``(...)``, ``(x2 - x1) * (y2 - y1)``; padding rows (all -1) get 0.

    Example:
        >>> box_area([[0, 0, 2, 3], [1, 1, 1, 5]])
        array([6., 0.])
    """
    xyxy = to_xyxy(boxes, format)
    area = (xyxy[..., 2] - xyxy[..., 0]) * (xyxy[..., 3] - xyxy[..., 1])
    return np.where(padding_mask(np.asarray(boxes)), 0.0, area)


# ----------------------------------------------------------------------------- tensors


def tensor_to_xyxy(boxes, format: str = "xyxy", height=None, width=None):
    """In-graph conversion of a tensor ``(..., 4)`` to ``xyxy`` (no value checks).

    Relative formats without ``height``/``width`` stay relative (enough for IoU).
    Integer tensors become ``float32``.
    """
    import keras

    format = check_format(format)
    boxes = keras.ops.convert_to_tensor(boxes)
    dtype = keras.backend.standardize_dtype(boxes.dtype)
    if "float" not in dtype:
        dtype = "float32"
        boxes = keras.ops.cast(boxes, dtype)
    if boxes.shape[-1] is not None and boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (..., 4), got {tuple(boxes.shape)}")
    if format.startswith("rel_") and (height is None or width is None):
        format = format[4:]
    if format == "xyxy":
        return boxes
    return keras.utils.bounding_boxes.convert_format(boxes, format, "xyxy", height=height, width=width, dtype=dtype)


def convert_format_tf(boxes, source: str, target: str, height=None, width=None):
    """In-graph format conversion (Keras's ``convert_format``, keeping the input's float dtype).

    Args:
        boxes: tensor ``(..., 4)`` in ``source``.
        source, target: names from :data:`BOX_FORMATS`.
        height, width: image size, needed for relative formats.

    Returns:
        tensor ``(..., 4)`` in ``target``. Works under ``tf.function(jit_compile=True)``.
    """
    import keras

    source = check_format(source, "source")
    target = check_format(target, "target")
    boxes = keras.ops.convert_to_tensor(boxes)
    if boxes.shape[-1] is not None and boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (..., 4), got {tuple(boxes.shape)}")
    dtype = keras.backend.standardize_dtype(boxes.dtype)
    if "float" not in dtype:
        dtype = "float32"
    if not (source.startswith("rel_") and target.startswith("rel_")):
        _require_size(source, height, width, "source")
        _require_size(target, height, width, "target")
    return keras.utils.bounding_boxes.convert_format(boxes, source, target, height=height, width=width, dtype=dtype)
