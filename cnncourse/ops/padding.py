"""Borders: how much to pad ("valid", "same", "full", explicit numbers) and with what.

Padding amounts (``padding=``), for one spatial axis of length ``I``, a kernel of size ``K``,
stride ``S`` and dilation ``D`` (effective kernel size ``K_eff = (K - 1) * D + 1``):

``"valid"``
    no padding; the kernel only visits positions where it fits: ``O = (I - K_eff) // S + 1``.
``"same"``
    TensorFlow/Keras's rule: output size ``ceil(I / S)``, total padding
    ``max((O - 1) * S + K_eff - I, 0)``, the smaller half before, the larger half after
    (so for an even total both sides are equal, for an odd total the extra row goes at the end).
``"full"``
    ``K_eff - 1`` on both sides: every position where kernel and input overlap at all
    (``np.convolve(..., mode="full")``).
``p`` (int)
    ``p`` on both sides.
``(before, after)``
    explicit amounts, for one axis. For images, ``(ph, pw)`` means ``ph`` above and below and
    ``pw`` left and right; ``((top, bottom), (left, right))`` gives every side.

Padding values (``padding_mode=``), shown for the row ``a b c d`` padded by 2:

``"zero"``       ``0 0 | a b c d | 0 0``  (Keras's only mode)
``"wrap"``       ``c d | a b c d | a b``  (periodic, "circular")
``"replicate"``  ``a a | a b c d | d d``  (copy the edge pixel)
``"reflect"``    ``c b | a b c d | c b``  (mirror about the edge pixel, not repeating it;
``np.pad(mode="reflect")``, ``tf.pad(mode="REFLECT")``)
"""

from __future__ import annotations

import math

import numpy as np

from cnncourse._validation import (
    check_choice,
    check_int_tuple,
    check_non_negative_int,
    check_numeric_array,
    describe,
    is_int,
)

PADDING_MODES = ("zero", "wrap", "replicate", "reflect")
PADDING_NAMES = ("valid", "same", "full")

_NUMPY_PAD_MODE = {"zero": "constant", "wrap": "wrap", "replicate": "edge", "reflect": "reflect"}


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel: ``(kernel_size - 1) * dilation + 1`` (3 taps, dilation 2 -> 5)."""
    return (kernel_size - 1) * dilation + 1


def same_padding(input_size: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` padding of TensorFlow/Keras's ``padding="same"`` on one axis.

    Example:
        >>> same_padding(5, 3)             # 1 on each side, output 5
        (1, 1)
        >>> same_padding(4, 3, stride=2)   # output 2; total 1, put at the end
        (0, 1)
    """
    output_size = math.ceil(input_size / stride)
    total = max((output_size - 1) * stride + effective_kernel_size(kernel_size, dilation) - input_size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, input_size: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                    name: str = "padding") -> tuple[int, int]:
    """Turn ``padding`` for one axis into explicit ``(before, after)`` amounts.

    Args:
        padding: ``"valid"``, ``"same"``, ``"full"``, an int ``p >= 0`` or a pair ``(before, after)``.
        input_size, kernel_size, stride, dilation: positive ints describing the axis.
        name: the argument name used in error messages.

    Returns:
        ``(before, after)``, two non-negative ints.
    """
    if isinstance(padding, str):
        key = check_choice(name, padding.lower(), PADDING_NAMES, "padding")
        if key == "valid":
            return 0, 0
        if key == "same":
            return same_padding(input_size, kernel_size, stride, dilation)
        extra = effective_kernel_size(kernel_size, dilation) - 1  # "full"
        return extra, extra
    if is_int(padding):
        amount = check_non_negative_int(name, padding)
        return amount, amount
    if not isinstance(padding, (tuple, list, np.ndarray)):
        raise TypeError(f"{name} must be one of {PADDING_NAMES}, an int or (before, after), got {describe(padding)}")
    return check_int_tuple(name, padding, 2, minimum=0)


def split_padding_2d(padding, names=PADDING_NAMES, name: str = "padding") -> tuple:
    """``(height_padding, width_padding)``: a string or an int stands for both axes, a pair is split.

    Each half is still to be resolved per axis (a string, an int or ``(before, after)``).
    """
    if isinstance(padding, str) or is_int(padding):
        return padding, padding
    expected = f"one of {tuple(names)}, an int, (ph, pw) or ((top, bottom), (left, right))"
    if not isinstance(padding, (tuple, list, np.ndarray)):
        raise TypeError(f"{name} must be {expected}, got {describe(padding)}")
    if len(padding) != 2:
        raise ValueError(f"{name} must be {expected}, got {padding!r}")
    return tuple(padding)


def resolve_padding_2d(padding, input_hw, kernel_hw, stride_hw=(1, 1), dilation_hw=(1, 1),
                       name: str = "padding") -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` for an image.

    Args:
        padding: ``"valid"``, ``"same"``, ``"full"``, an int, ``(ph, pw)`` (each side of an
            axis gets the same amount) or ``((top, bottom), (left, right))``.
        input_hw, kernel_hw, stride_hw, dilation_hw: ``(height, width)`` pairs.
    """
    per_axis = split_padding_2d(padding, PADDING_NAMES, name)
    return tuple(
        resolve_padding(p, i, k, s, d, name=name)
        for p, i, k, s, d in zip(per_axis, input_hw, kernel_hw, stride_hw, dilation_hw)
    )


def check_padding_mode(padding_mode) -> str:
    """``padding_mode`` if it is one of :data:`PADDING_MODES`."""
    return check_choice("padding_mode", padding_mode, PADDING_MODES, "padding mode")


def pad_image(image, padding, padding_mode: str = "zero"):
    """Pad the spatial axes of an image (or a batch of images).

    Args:
        image: ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)`` numeric array.
        padding: an int ``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))``
            (explicit amounts; ``"same"`` needs a kernel, see :func:`resolve_padding_2d`).
        padding_mode: ``"zero"``, ``"wrap"``, ``"replicate"`` or ``"reflect"``.

    Returns:
        The padded array, same dtype and layout, ``H + top + bottom`` rows and
        ``W + left + right`` columns.

    Example:
        >>> pad_image(np.array([[1, 2, 3]]), ((0, 0), (2, 2)), "reflect")
        array([[3, 2, 1, 2, 3, 2, 1]])
    """
    image = check_numeric_array("image", image)
    if image.ndim not in (2, 3, 4):
        raise ValueError(f"image must have shape (H, W), (H, W, C) or (N, H, W, C), got {image.shape}")
    if isinstance(padding, str):
        raise ValueError(
            f"padding must be explicit amounts (an int, (ph, pw) or ((top, bottom), (left, right))) for "
            f"pad_image, got {padding!r}; use resolve_padding_2d to turn 'same'/'full' into amounts"
        )
    (top, bottom), (left, right) = resolve_padding_2d(padding, (1, 1), (1, 1))
    return _pad_spatial(image, ((top, bottom), (left, right)), check_padding_mode(padding_mode),
                        spatial_axes=(0, 1) if image.ndim in (2, 3) else (1, 2))


def _pad_spatial(array: np.ndarray, pads, padding_mode: str, spatial_axes=(1, 2), constant=0):
    """Pad ``array`` on ``spatial_axes`` by ``pads`` (one ``(before, after)`` per axis)."""
    if all(before == 0 and after == 0 for before, after in pads):
        return array
    widths = [(0, 0)] * array.ndim
    for axis, pair in zip(spatial_axes, pads):
        widths[axis] = pair
        if padding_mode == "reflect" and max(pair) > array.shape[axis] - 1:
            raise ValueError(
                f"padding_mode='reflect' can pad at most size - 1 = {array.shape[axis] - 1} on an axis of "
                f"size {array.shape[axis]}, got padding {pair}"
            )
        if padding_mode in ("wrap", "replicate") and array.shape[axis] == 0:
            raise ValueError(f"padding_mode={padding_mode!r} needs a non-empty axis, got size 0")
    if padding_mode == "zero":
        return np.pad(array, widths, mode="constant", constant_values=constant)
    return np.pad(array, widths, mode=_NUMPY_PAD_MODE[padding_mode])


__all__ = [
    "PADDING_MODES",
    "effective_kernel_size",
    "same_padding",
    "resolve_padding",
    "resolve_padding_2d",
    "pad_image",
]
