"""Argument checks shared by the data functions.

Every check raises an error that names the argument, shows the value it got and says
what is allowed, e.g.::

    ValueError: n must be a positive integer, got 0
    TypeError: image_size must be an integer, got 2.5 (float)
    ValueError: classes[1]='hexagon' is not a known shape; known: circle, square, ...

Wrong types raise :class:`TypeError`, wrong values :class:`ValueError`.
"""

from __future__ import annotations

import numbers
from typing import Iterable, Sequence

import numpy as np

from cnncourse.boxes.formats import BOX_FORMATS


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def is_int(value) -> bool:
    """True for Python and NumPy integers (``bool`` excluded)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` within ``[minimum, maximum]`` (either bound optional)."""
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        if minimum == 1 and maximum is None:
            raise ValueError(f"{name} must be a positive integer, got {value}")
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    if maximum is not None and value > maximum:
        bound = f"<= {maximum}" if minimum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    return value


def check_positive_int(name: str, value) -> int:
    """``value`` as an ``int`` > 0."""
    return check_int(name, value, minimum=1)


def check_seed(name: str, value) -> int:
    """A seed: an integer >= 0."""
    return check_int(name, value, minimum=0)


def check_float(
    name: str,
    value,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    include_minimum: bool = True,
    include_maximum: bool = True,
) -> float:
    """``value`` as a finite ``float`` within the given bounds."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {_describe(value)}")
    value = float(value)
    low = "[" if include_minimum else "("
    high = "]" if include_maximum else ")"
    allowed = f"in {low}{minimum if minimum is not None else '-inf'}, {maximum if maximum is not None else 'inf'}{high}"
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value}")
    if minimum is not None and (value < minimum or (value == minimum and not include_minimum)):
        raise ValueError(f"{name} must be a number {allowed}, got {value}")
    if maximum is not None and (value > maximum or (value == maximum and not include_maximum)):
        raise ValueError(f"{name} must be a number {allowed}, got {value}")
    return value


def check_int_range(name: str, value, *, minimum: int = 0, maximum: int | None = None) -> tuple[int, int]:
    """An inclusive integer range given as ``k`` (meaning ``(k, k)``) or ``(low, high)``."""
    if is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be an integer or a pair (low, high) of integers, got {_describe(value)}")
    low = check_int(f"{name}[0]", value[0], minimum=minimum, maximum=maximum)
    high = check_int(f"{name}[1]", value[1], minimum=minimum, maximum=maximum)
    if low > high:
        raise ValueError(f"{name} must be a pair (low, high) with low <= high, got {tuple(value)!r}")
    return low, high


def check_choice(name: str, value, allowed: Iterable[str], what: str = "value") -> str:
    """``value`` must be one of the strings in ``allowed``."""
    allowed = tuple(allowed)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(allowed)}; got {_describe(value)}")
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not a known {what}; known: {', '.join(allowed)}")
    return value


def check_names(name: str, values, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """A non-empty sequence of distinct strings, each one of ``allowed``."""
    if isinstance(values, str) or not isinstance(values, (tuple, list)):
        raise TypeError(f"{name} must be a tuple or list of names, got {_describe(values)}")
    if len(values) == 0:
        raise ValueError(f"{name} must name at least one {what}; known: {', '.join(allowed)}")
    for i, value in enumerate(values):
        check_choice(f"{name}[{i}]", value, allowed, what)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a name, got {tuple(values)!r}")
    return tuple(values)


def check_box_format(name: str, value) -> str:
    """A Keras bounding-box format name (see :data:`BOX_FORMATS`)."""
    if isinstance(value, str):
        value = value.lower()
    return check_choice(name, value, BOX_FORMATS, "bounding box format")


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_array(
    name: str,
    value,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple | None = None,
    kinds: str = "biuf",
    what: str = "",
) -> np.ndarray:
    """``value`` as a NumPy array of one of the dtype ``kinds`` ('b' bool, 'i'/'u' int, 'f' float).

    ``shape`` may hold ``None`` for any size along an axis. ``what`` describes the
    expected layout in the message (e.g. ``"(N, H, W, C)"``).
    """
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # a tf.Tensor
        value = value.numpy()
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise TypeError(f"{name} must be an array {what}, got {type(value).__name__}: {error}") from None
    if array.dtype.kind not in kinds:
        names = {"b": "bool", "i": "int", "u": "unsigned int", "f": "float"}
        allowed = "/".join(names[k] for k in kinds if k in names)
        raise TypeError(f"{name} must have a {allowed} dtype, got dtype {array.dtype}")
    if ndim is not None:
        ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in ndims:
            expected = what or " or ".join(f"{d}-D" for d in ndims)
            raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    if shape is not None:
        if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
            expected = what or "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    return array
