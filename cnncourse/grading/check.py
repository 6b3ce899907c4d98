"""Visible checks: the verdicts a student sees under each graded exercise.

A test cell calls these helpers; each prints one line when it passes and raises
:class:`CheckFailed` when it does not. The failure is rendered as a short verdict (what was
checked, what was expected, what came, a hint), never as a bare ``assert`` traceback::

    from cnncourse.grading import check

    check.equal(conv_output_size(7, 3), 5, "conv_output_size(7, 3)")
    check.close(my_conv(x, k), reference(x, k), "my_conv on the 5x5 example",
                wrong={"you computed a convolution (flipped kernel), not a cross-correlation":
                       reference(x, k[::-1, ::-1])})

prints ``✔ conv_output_size(7, 3) = 5`` and, for a wrong answer::

    ✘ my_conv on the 5x5 example
      expected: [[12. 12. 17.] ...]
      got:      [[14. 14.  8.] ...]
      hint:     you computed a convolution (flipped kernel), not a cross-correlation

Hidden tests use the same helpers on other inputs. When the autograder runs them it
switches to hidden mode (:func:`set_hidden`), in which verdicts name no inputs or values.

``wrong`` maps a hint to the value a typical mistake would produce; when the student's
answer matches one of them, that hint is shown. A mistake that makes the code *raise* is
recognised by its exception: ``wrong={hint: check.raising(ValueError, "broadcast")}``.
Shape mismatches show the exercise's own ``hint``, or else an automatic one (axis order,
off-by-one sizes).

Pass the student's call as ``check.call(function, *args)`` rather than ``function(*args)``:
the check then makes the call itself, and an exception in the student's code becomes a
verdict (what was called, the exception, the line of the student's code that raised it, and
the hint for that mistake) instead of a traceback::

    check.close(check.call(my_conv, x, k), reference(x, k), "my_conv on the 5x5 example",
                hint="…", wrong={"…": check.raising(ValueError, "could not be broadcast")})
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import operator
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from cnncourse.grading.verdicts import (  # noqa: F401 - CheckFailed, the marks, raising and hidden mode are the API
    FAIL_MARK,
    PASS_MARK,
    CheckFailed,
    Text,
    crashed,
    failed,
    is_hidden,
    is_tensor,
    matching_wrong_answer,
    passed,
    raising,
    set_hidden,
    shape_hint,
    short,
    values_close,
)


def _resolve(got: Any, what: str, hint: str | None, wrong: Mapping[str, Any] | None) -> Any:
    """The student's value: ``got`` itself, or the result of the :class:`Call` it is."""
    if not isinstance(got, Call):
        return got
    try:
        return got.function(*got.args, **got.kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # noqa: BLE001 - the student's crash becomes a verdict
        crashed(what, got.describe(), error, hint, wrong)



class Call:
    """A call of the student's code that a check makes itself; made by :func:`call`."""

    def __init__(self, function: Callable[..., Any], args: tuple, kwargs: dict):
        self.function, self.args, self.kwargs = function, args, kwargs

    def describe(self) -> str:
        """``"my_conv(array(8, 11), array(3, 2))"``: the call, arrays by their shapes."""
        name = getattr(self.function, "__name__", "your function")
        return f"{name}{_describe_case(self.args, self.kwargs)}"

    def __repr__(self) -> str:
        return f"check.call({self.describe()})"


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Call:
    """``function(*args, **kwargs)``, to be called by the check it is given to.

    ``check.close(check.call(my_conv, x, k), expected, "…")`` runs ``my_conv(x, k)`` inside
    the check, so that an exception in the student's code becomes a verdict (what was
    called, the exception, the line that raised it, the hint) instead of a traceback.
    ``NotImplementedError`` (an unfinished exercise) is raised as it is.
    """
    if not callable(function):
        raise TypeError(f"check.call: function must be callable, got {type(function).__name__}")
    return Call(function, args, kwargs)


# --------------------------------------------------------------------------- checks


def equal(got: Any, expected: Any, what: str, hint: str | None = None,
          wrong: Mapping[str, Any] | None = None) -> None:
    """Check exact equality (numbers, strings, tuples, integer arrays).

    Args:
        got: the student's value.
        expected: the right value.
        what: what is being checked, shown in the verdict (e.g. ``"conv_output_size(7, 3)"``).
        hint: shown when the check fails and no specific wrong answer matched.
        wrong: ``{hint: value}`` for typical mistakes; a matching one replaces ``hint``.
    """
    got = _resolve(got, what, hint, wrong)
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray) or is_tensor(got):
        got_arr, exp_arr = np.asarray(got), np.asarray(expected)
        if got_arr.shape != exp_arr.shape:
            failed(what, expected, got,
                    matching_wrong_answer(got, wrong, 0, 0) or hint or shape_hint(got_arr.shape, exp_arr.shape))
        ok = bool(np.array_equal(got_arr, exp_arr))
    elif type(expected) is int and isinstance(got, float):
        failed(what, expected, got, f"return an int, not a float ({got!r}): use // for integer division, or int(...)")
    else:
        ok = _plain_equal(got, expected)
    if ok:
        passed(what, "" if isinstance(expected, np.ndarray) else f" = {short(expected, 80)}")
        return
    failed(what, expected, got, matching_wrong_answer(got, wrong, 0, 0) or hint)


def _plain_equal(got: Any, expected: Any) -> bool:
    """Equality that the student's value cannot fake: types are checked before values.

    An object whose ``__eq__`` always answers True is not a number, a string or a tuple,
    so it never reaches a comparison it controls.
    """
    if expected is None:
        return got is None
    if isinstance(expected, (bool, np.bool_)):
        return isinstance(got, (bool, np.bool_)) and bool(got) is bool(expected)
    if isinstance(expected, (numbers.Number, np.number)):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (numbers.Number, np.number)):
            return False
        if isinstance(expected, (numbers.Integral, np.integer)) and isinstance(got, (numbers.Integral, np.integer)):
            return operator.index(got) == operator.index(expected)
        return complex(got) == complex(expected)
    if isinstance(expected, str):
        return isinstance(got, str) and str.__eq__(str(got), expected)
    if isinstance(expected, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_plain_equal(g, e) for g, e in zip(got, expected)))
    if type(got) is not type(expected):
        return False
    try:
        return bool(expected == got)
    except Exception:  # noqa: BLE001 - ambiguous comparisons count as unequal
        return False


def close(got: Any, expected: Any, what: str, rtol: float = 1e-5, atol: float = 1e-6,
          hint: str | None = None, wrong: Mapping[str, Any] | None = None) -> None:
    """Check that arrays (or numbers) agree to a tolerance, cs231n style.

    The verdict reports the maximum relative error ``|got - expected| / max(|got|, |expected|)``
    so the student sees how far off they are. Shapes must match exactly; a shape
    mismatch gets an automatic hint (axis order, off-by-one).

    Args:
        got, expected: array-likes (NumPy arrays, tensors, nested lists, numbers).
        what: what is being checked.
        rtol, atol: as in :func:`numpy.allclose`.
        hint: shown on failure when no ``wrong`` answer matched.
        wrong: ``{hint: value}`` for typical mistakes.
    """
    got = _resolve(got, what, hint, wrong)
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        failed(what, expected, got, f"expected an array of numbers, got {type(got).__name__}")
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape != exp_arr.shape:
        failed(what, Text(f"shape {exp_arr.shape}"), Text(f"shape {got_arr.shape}"),
                matching_wrong_answer(got, wrong, rtol, atol) or hint or shape_hint(got_arr.shape, exp_arr.shape))
    if np.isnan(got_arr).any() and not np.isnan(exp_arr).any():
        failed(what, expected, got, hint or "your result contains NaN: look for a division by zero or log(0)")
    if np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol, equal_nan=True):
        passed(what, f" (max relative error {relative_error(got_arr, exp_arr):.1e})")
        return
    specific = matching_wrong_answer(got, wrong, rtol, atol)
    failed(what, expected, got, specific or hint,
            detail=f"max relative error {relative_error(got_arr, exp_arr):.1e} (should be below {max(rtol, 1e-12):.0e})")


def relative_error(got: Any, expected: Any) -> float:
    """Maximum elementwise relative error, ``|a - b| / max(1e-8, |a| + |b|)`` (cs231n's)."""
    a, b = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape == b.shape:  # a NaN that is expected (e.g. the IoU of an absent class) is no error
        both_nan = np.isnan(a) & np.isnan(b)
        a, b = a[~both_nan], b[~both_nan]
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):  # inf against inf, or against a number: reported as nan, no warning
        return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def shape(got: Any, expected_shape: Iterable[int], what: str, hint: str | None = None) -> None:
    """Check an array's shape."""
    expected_shape = tuple(expected_shape)
    got_shape = tuple(np.shape(_resolve(got, what, hint, None)))
    if got_shape == expected_shape:
        passed(what, f" has shape {expected_shape}")
        return
    failed(what, expected_shape, got_shape, hint or shape_hint(got_shape, expected_shape))


def true(condition: Any, what: str, hint: str | None = None) -> None:
    """Check that ``condition`` holds; ``what`` states the property in words."""
    if bool(condition):
        passed(what)
        return
    failed(what, show_values=False, hint=hint)


def at_least(value: float, threshold: float, what: str, hint: str | None = None) -> None:
    """Check ``value >= threshold``, e.g. a test accuracy a training cell must reach."""
    if value >= threshold:
        passed(what, f" = {value:.4g} (needs ≥ {threshold:.4g})")
        return
    failed(what, Text(f"≥ {threshold:.4g}"), Text(f"{value:.4g}"), hint)


def at_most(value: float, threshold: float, what: str, hint: str | None = None) -> None:
    """Check ``value <= threshold``, e.g. a loss or a running time."""
    if value <= threshold:
        passed(what, f" = {value:.4g} (needs ≤ {threshold:.4g})")
        return
    failed(what, Text(f"≤ {threshold:.4g}"), Text(f"{value:.4g}"), hint)


def raises(exception: type[BaseException], function: Callable[..., Any], *args: Any,
           what: str, hint: str | None = None, **kwargs: Any) -> None:
    """Check that ``function(*args, **kwargs)`` raises ``exception`` (e.g. on bad input)."""
    try:
        function(*args, **kwargs)
    except exception:
        passed(what)
        return
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - any other exception is the wrong one
        failed(what, Text(exception.__name__), Text(f"{type(error).__name__}: {error}"), hint)
    failed(what, Text(exception.__name__), Text("no exception"), hint)


def function(student: Callable[..., Any], reference: Callable[..., Any], cases: Iterable[tuple | dict],
             what: str, rtol: float = 1e-5, atol: float = 1e-6, hint: str | None = None,
             wrong: Mapping[str, Callable[..., Any]] | None = None, forbid: Iterable[str] = ()) -> None:
    """Compare a student's function with a reference on several inputs.

    Args:
        student: the student's function.
        reference: the correct implementation (from :mod:`cnncourse`).
        cases: each a tuple of positional arguments or a dict of keyword arguments.
        what: the name of the thing checked, e.g. ``"max_pool2d"``.
        rtol, atol: tolerances as in :func:`close`.
        hint: shown on failure when no ``wrong`` function matched.
        wrong: ``{hint: wrong_function}``: implementations of typical mistakes; when the
            student's output equals a wrong function's output on the failing case, its hint
            is shown.
        forbid: dotted names of callables the student's function may not call while it runs
            (the library's version of what the exercise asks to write), see :func:`forbidding`.
    """
    cases = list(cases)
    for number, case in enumerate(cases, start=1):
        args, kwargs = (case, {}) if isinstance(case, tuple) else ((), dict(case))
        expected = reference(*args, **kwargs)
        try:
            with forbidding(forbid, what, [student]):
                got = student(*args, **kwargs)
        except NotImplementedError:
            raise
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001 - report the student's crash as a verdict
            name = getattr(student, "__name__", "your function")
            crashed(f"{what} on case {number} of {len(cases)}", f"{name}{_describe_case(args, kwargs)}", error,
                     hint, wrong={h: w for h, w in (wrong or {}).items() if isinstance(w, raising)})
        if not values_close(got, expected, rtol, atol):
            wrong_values = {h: wrong_fn(*args, **kwargs) for h, wrong_fn in (wrong or {}).items()}
            specific = matching_wrong_answer(got, wrong_values, rtol, atol)
            got_shape, exp_shape = np.shape(got), np.shape(expected)
            if not specific and got_shape != exp_shape:
                specific = shape_hint(got_shape, exp_shape)
            failed(f"{what} on case {number} of {len(cases)}: input {_describe_case(args, kwargs)}",
                    expected, got, specific or hint)
    passed(f"{what} matches the reference on {len(cases)} input{'s' if len(cases) != 1 else ''}")


@contextlib.contextmanager
def forbidding(names: Iterable[str], what: str = "", functions: Iterable[Callable[..., Any]] = ()):
    """Inside the block, calling any callable in ``names`` fails the check with a hint that the exercise
    is to write it (see :mod:`cnncourse.grading.forbid`)::

        with check.forbidding(["cnncourse.ops.cross_correlate2d", "keras.ops.conv"], "my_conv"):
            result = my_conv(x, k)
    """
    names = list(names)
    if not names:
        yield
        return
    from cnncourse.grading.forbid import ForbiddenCall, forbidding as _forbidding

    try:
        with _forbidding(names, what, functions):
            yield
    except ForbiddenCall as error:
        raise CheckFailed(error.verdict) from None


def without(function: Callable[..., Any], names: Iterable[str]) -> Callable[..., Any]:
    """``function`` made to run with the callables ``names`` off limits (see :func:`forbidding`), for
    tests that call the student's function themselves or through :func:`call`::

        pool2d_by_hand = check.without(pool2d, forbid.POOLING)
        check.close(check.call(pool2d_by_hand, x), expected, "pool2d of x")
    """
    if not callable(function):
        raise TypeError(f"check.without: function must be callable, got {type(function).__name__}")
    if isinstance(names, str):
        raise TypeError(f"check.without: names must be a list of dotted names, got the string {names!r}")
    names = tuple(names)

    @functools.wraps(function)
    def by_hand(*args: Any, **kwargs: Any) -> Any:
        with forbidding(names, getattr(function, "__name__", ""), [function]):
            return function(*args, **kwargs)

    return by_hand


def _describe_case(args: tuple, kwargs: dict) -> str:
    def describe(value: Any) -> str:
        if isinstance(value, np.ndarray) or is_tensor(value):
            return f"array{tuple(np.shape(value))}"
        return short(value, 60)

    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"
