"""Argument checks shared by the whole package.

One convention everywhere (modelled on Keras's ``keras/src/utils/argument_validation.py``):

* the argument's name comes first: ``check_positive_int("filters", filters)``;
* a wrong *type* raises :class:`TypeError`, a wrong *value* raises :class:`ValueError`;
* Python and NumPy integers are integers; ``bool`` is not (``True`` is no channel count);
* every message names the argument, says what was expected and shows what came::

      ValueError: n must be a positive integer, got 0
      TypeError: image_size must be an integer, got 2.5 (float)
      ValueError: stride must be a positive int or a sequence of 2 positive ints, got (2, 0)
      ValueError: classes[1]='hexagon' is not a known shape; known: circle, square, ...

Each check returns the value in a canonical form (``int``, ``float``, ``tuple``,
``np.ndarray``), so a caller writes ``self.filters = check_positive_int("filters", filters)``.

This module imports only NumPy (the box-format list is imported when first needed), so
every subpackage, :mod:`cnncourse.boxes` included, may import it.
"""

from __future__ import annotations

import numbers
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "check_array",
    "check_bool",
    "check_box_format",
    "check_choice",
    "check_float",
    "check_image_shape",
    "check_int",
    "check_int_range",
    "check_int_sequence",
    "check_int_tuple",
    "check_names",
    "check_non_negative_int",
    "check_numeric_array",
    "check_positive_int",
    "check_seed",
    "describe",
    "is_int",
]


def describe(value) -> str:
    """``value`` as it appears in an error message: its repr (shortened) and its type."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def is_int(value) -> bool:
    """True for Python and NumPy integers; False for ``bool`` / ``np.bool_`` and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _int_bound_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"in [{minimum}, {maximum}]"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}"


# ----------------------------------------------------------------------------- scalars
def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` within ``[minimum, maximum]`` (either bound optional, both inclusive).

    Raises:
        TypeError: ``value`` is not an integer (floats, strings and bools are refused).
        ValueError: ``value`` is outside the bounds.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    value = int(value)
    too_low = minimum is not None and value < minimum
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        if maximum is None and minimum == 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
        if maximum is None and minimum == 0:
            raise ValueError(f"{name} must be a non-negative integer (>= 0), got {value}")
        raise ValueError(f"{name} must be an integer {_int_bound_text(minimum, maximum)}, got {value}")
    return value


def check_positive_int(name: str, value) -> int:
    """``value`` as an ``int`` >= 1."""
    return check_int(name, value, minimum=1)


def check_non_negative_int(name: str, value) -> int:
    """``value`` as an ``int`` >= 0."""
    return check_int(name, value, minimum=0)


def check_seed(name: str, value) -> int:
    """A random seed: an integer >= 0."""
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
    """``value`` (any real number, ints included, bools refused) as a finite ``float`` within bounds.

    ``include_minimum`` / ``include_maximum`` say whether the bounds themselves are allowed
    (``check_float("rate", r, minimum=0, maximum=1, include_maximum=False)`` is ``[0, 1)``).
    """
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {describe(value)}")
    value = float(value)
    low = "[" if include_minimum else "("
    high = "]" if include_maximum else ")"
    low_text = "-inf" if minimum is None else f"{float(minimum)}"
    high_text = "inf" if maximum is None else f"{float(maximum)}"
    allowed = f"in {low}{low_text}, {high_text}{high}"
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value}")
    if minimum is not None and (value < minimum or (value == minimum and not include_minimum)):
        raise ValueError(f"{name} must be a number {allowed}, got {value}")
    if maximum is not None and (value > maximum or (value == maximum and not include_maximum)):
        raise ValueError(f"{name} must be a number {allowed}, got {value}")
    return value


def check_bool(name: str, value) -> bool:
    """``value`` as a ``bool``; only ``True``/``False`` (and NumPy bools) are accepted, not 0/1."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_choice(name: str, value, allowed: Iterable, what: str = "value"):
    """``value`` must be one of ``allowed``.

    When every allowed value is a string, a non-string raises :class:`TypeError`; an unknown
    string raises :class:`ValueError` listing the known ones. ``what`` names the kind of
    thing in the message (``"padding"``, ``"bounding box format"``).
    """
    allowed = tuple(allowed)
    known = ", ".join(str(a) for a in allowed)
    if all(isinstance(a, str) for a in allowed) and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {known}; got {describe(value)}")
    try:
        found = value in allowed
    except Exception:  # e.g. an array compared with strings
        found = False
    if not found:
        raise ValueError(f"{name}={value!r} is not a known {what}; known: {known}")
    return value


def check_box_format(name: str, value) -> str:
    """A Keras bounding-box format name (any case), returned in lower case.

    See :data:`cnncourse.boxes.formats.BOX_FORMATS`.
    """
    from cnncourse.boxes.formats import BOX_FORMATS  # here, so that boxes can import this module

    if isinstance(value, str):
        value = value.lower()
    return check_choice(name, value, BOX_FORMATS, "bounding box format")


# --------------------------------------------------------------------------- sequences
def check_int_tuple(
    name: str, value, length: int, minimum: int | None = 1, maximum: int | None = None
) -> tuple[int, ...]:
    """An int (repeated ``length`` times) or a sequence of ``length`` ints, each in ``[minimum, maximum]``.

    ``check_int_tuple("stride", 2, 2) == (2, 2)``; ``check_int_tuple("stride", (1, 2), 2) == (1, 2)``.
    Like Keras's ``standardize_tuple``, but a float or string is a :class:`TypeError`.

    Raises:
        TypeError: ``value`` is neither an int nor a sequence of ints.
        ValueError: the sequence does not hold ``length`` values, or one is out of bounds.
    """
    if maximum is None and minimum in (0, 1):
        kind = "positive" if minimum == 1 else "non-negative"
        expected = f"a {kind} int or a sequence of {length} {kind} ints"
    elif minimum is None and maximum is None:
        expected = f"an int or a sequence of {length} ints"
    else:
        bound = _int_bound_text(minimum, maximum)
        expected = f"an int {bound} or a sequence of {length} ints {bound}"
    if is_int(value):
        values = (int(value),) * length
    else:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"{name} must be {expected}, got {describe(value)}")
        values = tuple(value)
        if not all(is_int(v) for v in values):
            raise TypeError(f"{name} must be {expected}, got {value!r}")
        if len(values) != length:
            raise ValueError(f"{name} must be {expected}, got {value!r} ({len(values)} values)")
        values = tuple(int(v) for v in values)
    if any((minimum is not None and v < minimum) or (maximum is not None and v > maximum) for v in values):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return values


def check_int_sequence(
    name: str, value, *, minimum: int | None = 1, min_length: int = 0, length: int | None = None
) -> tuple[int, ...]:
    """A tuple or list (or other non-string iterable) of ints, each >= ``minimum``.

    ``length`` asks for exactly that many entries, ``min_length`` for at least that many.
    ``check_int_sequence("filters", [32, 64]) == (32, 64)``. Errors name the entry:
    ``filters[1] must be a positive integer, got 0``. Unlike :func:`check_int_tuple`, a
    single int is refused (``filters=32`` is a :class:`TypeError`).
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or is_int(value):
        raise TypeError(f"{name} must be a sequence of integers, got {describe(value)}")
    values = tuple(value)
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must hold exactly {length} integers, got {value!r} ({len(values)} values)")
    if len(values) < min_length:
        plural = "" if min_length == 1 else "s"
        raise ValueError(f"{name} must hold at least {min_length} integer{plural}, got {value!r}")
    return tuple(check_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(values))


def check_int_range(name: str, value, *, minimum: int = 0, maximum: int | None = None) -> tuple[int, int]:
    """An inclusive integer range given as ``k`` (meaning ``(k, k)``) or ``(low, high)``."""
    if is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be an integer or a pair (low, high) of integers, got {describe(value)}")
    low = check_int(f"{name}[0]", value[0], minimum=minimum, maximum=maximum)
    high = check_int(f"{name}[1]", value[1], minimum=minimum, maximum=maximum)
    if low > high:
        raise ValueError(f"{name} must be a pair (low, high) with low <= high, got {tuple(value)!r}")
    return low, high


def check_float_range(name: str, value, *, minimum: float | None = None,
                      maximum: float | None = None) -> tuple[float, float]:
    """A pair ``(low, high)`` of floats, each within ``[minimum, maximum]``, with ``low <= high``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be a pair of numbers (low, high), got {describe(value)}")
    low = check_float(f"{name}[0]", value[0], minimum=minimum, maximum=maximum)
    high = check_float(f"{name}[1]", value[1], minimum=minimum, maximum=maximum)
    if low > high:
        raise ValueError(f"{name} must be a pair (low, high) with low <= high, got {tuple(value)}")
    return low, high


def check_names(name: str, values, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """A non-empty tuple or list of distinct strings, each one of ``allowed``."""
    if isinstance(values, str) or not isinstance(values, (tuple, list)):
        raise TypeError(f"{name} must be a tuple or list of names, got {describe(values)}")
    if len(values) == 0:
        raise ValueError(f"{name} must name at least one {what}; known: {', '.join(allowed)}")
    for i, value in enumerate(values):
        check_choice(f"{name}[{i}]", value, allowed, what)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a name, got {tuple(values)!r}")
    return tuple(values)


# ------------------------------------------------------------------------------ arrays
_KIND_NAMES = {"b": "bool", "i": "int", "u": "unsigned int", "f": "float", "c": "complex"}


def check_array(
    name: str,
    value,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple | None = None,
    kinds: str = "biuf",
    what: str = "",
) -> np.ndarray:
    """``value`` (array, nested list, ``tf.Tensor``) as a NumPy array whose dtype kind is in ``kinds``.

    Args:
        name: the argument's name, for the message.
        value: the array.
        ndim: the allowed number(s) of dimensions.
        shape: the required shape; ``None`` in it allows any size along that axis.
        kinds: the allowed dtype kinds: ``'b'`` bool, ``'i'``/``'u'`` int, ``'f'`` float, ``'c'`` complex.
        what: the expected layout for the message, e.g. ``"(N, H, W, C)"``.

    Raises:
        TypeError: the dtype is not one of ``kinds`` (strings, objects, ...).
        ValueError: a ragged nested list, or the wrong number of dimensions or shape.
    """
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # a tf.Tensor
        value = value.numpy()
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array {what}, got {describe(value)}: {error}") from None
    if array.dtype.kind not in kinds:
        names = [_KIND_NAMES[k] for k in kinds if k in _KIND_NAMES]
        allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        kind = "a numeric array" if set("biuf") <= set(kinds) else "an array"
        raise TypeError(f"{name} must be {kind} of dtype {allowed}, got dtype {array.dtype} ({describe(value)})")
    if ndim is not None:
        ndims = (ndim,) if is_int(ndim) else tuple(ndim)
        if array.ndim not in ndims:
            expected = what or " or ".join(f"{d}-D" for d in ndims)
            raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    if shape is not None:
        if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
            expected = what or "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    return array


def check_numeric_array(name: str, value, **kwargs) -> np.ndarray:
    """:func:`check_array` allowing every numeric dtype (bool, int, float, complex)."""
    return check_array(name, value, kinds="biufc", **kwargs)


def check_image_shape(layer_name: str, input_shape, need_spatial: bool = False) -> tuple:
    """A Keras layer's ``build`` shape: ``(batch, height, width, channels)`` with known channels.

    Args:
        layer_name: the layer's class name, for the message.
        input_shape: the shape passed to ``build``.
        need_spatial: also require known height and width.

    Returns:
        ``input_shape`` as a tuple.
    """
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Iterable):
        raise TypeError(f"{layer_name} expects an input shape (batch, height, width, channels), got {describe(input_shape)}")
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(
            f"{layer_name} expects images of shape (batch, height, width, channels) "
            f"(channels_last), got input shape {shape}"
        )
    if shape[-1] is None:
        raise ValueError(f"{layer_name} needs a known number of channels, got input shape {shape}")
    if need_spatial and (shape[1] is None or shape[2] is None):
        raise ValueError(
            f"{layer_name} needs a known height and width (its weights differ per position), "
            f"got input shape {shape}"
        )
    return shape
