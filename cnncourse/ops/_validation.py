"""Argument checks shared by the reference operations.

Every check raises a ``ValueError`` (or ``TypeError``) that names the argument, says what
was expected and shows what came, e.g.
``ValueError: stride must be a positive int or a pair of positive ints, got (2, 0)``.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_numeric_array(value, name: str) -> np.ndarray:
    """``np.asarray(value)``, refusing anything that is not numbers (strings, objects, ragged lists)."""
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular numeric array, got {value!r}: {error}") from None
    if array.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype} ({value!r:.80})")
    return array


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name: str) -> int:
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def non_negative_int(value, name: str) -> int:
    if not is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def int_tuple(value, name: str, length: int, minimum: int = 1) -> tuple[int, ...]:
    """An int (repeated ``length`` times) or a sequence of ``length`` ints, each >= ``minimum``."""
    kind = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
    expected = f"a {kind} int or a sequence of {length} {kind} ints"
    if is_int(value):
        values = (int(value),) * length
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(f"{name} must be {expected}, got {value!r}") from None
        if len(values) != length or not all(is_int(v) for v in values):
            raise ValueError(f"{name} must be {expected}, got {value!r}")
        values = tuple(int(v) for v in values)
    if any(v < minimum for v in values):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return values


def float_dtype_for(*arrays: np.ndarray) -> np.dtype:
    """The dtype the operations compute in: float32 stays float32, integers become float64."""
    return np.result_type(*arrays, np.float32)
