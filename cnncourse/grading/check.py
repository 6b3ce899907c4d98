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
answer matches one of them, that hint is shown. Shape mismatches get automatic hints
(axis order, off-by-one sizes).
"""

from __future__ import annotations

import numbers
import operator
from typing import Any, Callable, Iterable, Mapping

import numpy as np

PASS_MARK = "✔"
FAIL_MARK = "✘"

_hidden = False


class CheckFailed(AssertionError):
    """A check did not pass. In IPython it renders as its verdict, without a traceback."""

    def __init__(self, verdict: str):
        super().__init__(verdict)
        self.verdict = verdict

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom exceptions
        return self.verdict.splitlines()


def set_hidden(hidden: bool) -> None:
    """Turn hidden mode on or off: verdicts then say only whether a hidden test passed."""
    global _hidden
    _hidden = bool(hidden)


def is_hidden() -> bool:
    """Whether checks currently run in hidden mode."""
    return _hidden


# --------------------------------------------------------------------------- reporting


def _short(value: Any, limit: int = 300) -> str:
    """A readable one-or-few-line rendering of ``value`` for a verdict."""
    if isinstance(value, np.ndarray) or _is_tensor(value):
        array = np.asarray(value)
        with np.printoptions(precision=4, suppress=True, threshold=40, edgeitems=3, linewidth=90):
            text = np.array2string(array, separator=", ")
        text = f"{text}  (shape {array.shape}, dtype {array.dtype})"
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("\n", "\n            ")


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "numpy") and hasattr(value, "shape") and hasattr(value, "dtype")


def _passed(what: str, detail: str = "") -> None:
    if _hidden:
        print(f"{PASS_MARK} hidden test passed")
    else:
        print(f"{PASS_MARK} {what}{detail}")


def _failed(what: str, expected: Any = None, got: Any = None, hint: str | None = None,
            show_values: bool = True, detail: str | None = None) -> None:
    if _hidden:
        raise CheckFailed(f"{FAIL_MARK} a hidden test failed: your code works on the visible "
                          f"example but not on other inputs. Test it on more cases.")
    lines = [f"{FAIL_MARK} {what}"]
    if show_values:
        lines.append(f"  expected: {_short(expected)}")
        lines.append(f"  got:      {_short(got)}")
    if detail:
        lines.append(f"  {detail}")
    if hint:
        lines.append(f"  hint:     {hint}")
    raise CheckFailed("\n".join(lines))


def _matching_wrong_answer(got: Any, wrong: Mapping[str, Any] | None, rtol: float, atol: float) -> str | None:
    for hint, wrong_value in (wrong or {}).items():
        if _values_close(got, wrong_value, rtol, atol):
            return hint
    return None


def _values_close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    try:
        a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return a == b
    return a_arr.shape == b_arr.shape and bool(np.allclose(a_arr, b_arr, rtol=rtol, atol=atol, equal_nan=True))


def _shape_hint(got_shape: tuple, expected_shape: tuple) -> str:
    if sorted(got_shape) == sorted(expected_shape):
        return (f"the shape {got_shape} has the right sizes in the wrong order (expected "
                f"{expected_shape}): check the axis order, e.g. channels-last HWC vs channels-first CHW")
    if len(got_shape) == len(expected_shape):
        diffs = [g - e for g, e in zip(got_shape, expected_shape)]
        if all(abs(d) <= 2 for d in diffs) and any(diffs):
            return ("the shape is off by a little: check the output-size formula "
                    "O = (I - K + 2P) / S + 1, and whether padding is on both sides")
    else:
        return f"expected {len(expected_shape)} dimensions, got {len(got_shape)}"
    return "check how the output size depends on the input size, the kernel, padding and stride"


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
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray) or _is_tensor(got):
        got_arr, exp_arr = np.asarray(got), np.asarray(expected)
        if got_arr.shape != exp_arr.shape:
            _failed(what, expected, got, _matching_wrong_answer(got, wrong, 0, 0) or _shape_hint(got_arr.shape, exp_arr.shape))
        ok = bool(np.array_equal(got_arr, exp_arr))
    elif type(expected) is int and isinstance(got, float):
        _failed(what, expected, got, f"return an int, not a float ({got!r}): use // for integer division, or int(...)")
    else:
        ok = _plain_equal(got, expected)
    if ok:
        _passed(what, "" if isinstance(expected, np.ndarray) else f" = {_short(expected, 80)}")
        return
    _failed(what, expected, got, _matching_wrong_answer(got, wrong, 0, 0) or hint)


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
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        _failed(what, expected, got, f"expected an array of numbers, got {type(got).__name__}")
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape != exp_arr.shape:
        _failed(what, f"shape {exp_arr.shape}", f"shape {got_arr.shape}",
                _matching_wrong_answer(got, wrong, rtol, atol) or _shape_hint(got_arr.shape, exp_arr.shape))
    if np.isnan(got_arr).any() and not np.isnan(exp_arr).any():
        _failed(what, expected, got, hint or "your result contains NaN: look for a division by zero or log(0)")
    if np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol, equal_nan=True):
        _passed(what, f" (max relative error {relative_error(got_arr, exp_arr):.1e})")
        return
    specific = _matching_wrong_answer(got, wrong, rtol, atol)
    _failed(what, expected, got, specific or hint,
            detail=f"max relative error {relative_error(got_arr, exp_arr):.1e} (should be below {max(rtol, 1e-12):.0e})")


def relative_error(got: Any, expected: Any) -> float:
    """Maximum elementwise relative error, ``|a - b| / max(1e-8, |a| + |b|)`` (cs231n's)."""
    a, b = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def shape(got: Any, expected_shape: Iterable[int], what: str, hint: str | None = None) -> None:
    """Check an array's shape."""
    expected_shape = tuple(expected_shape)
    got_shape = tuple(np.shape(got))
    if got_shape == expected_shape:
        _passed(what, f" has shape {expected_shape}")
        return
    _failed(what, expected_shape, got_shape, hint or _shape_hint(got_shape, expected_shape))


def true(condition: Any, what: str, hint: str | None = None) -> None:
    """Check that ``condition`` holds; ``what`` states the property in words."""
    if bool(condition):
        _passed(what)
        return
    _failed(what, show_values=False, hint=hint)


def at_least(value: float, threshold: float, what: str, hint: str | None = None) -> None:
    """Check ``value >= threshold``, e.g. a test accuracy a training cell must reach."""
    if value >= threshold:
        _passed(what, f" = {value:.4g} (needs ≥ {threshold:.4g})")
        return
    _failed(what, f"≥ {threshold:.4g}", f"{value:.4g}", hint)


def at_most(value: float, threshold: float, what: str, hint: str | None = None) -> None:
    """Check ``value <= threshold``, e.g. a loss or a running time."""
    if value <= threshold:
        _passed(what, f" = {value:.4g} (needs ≤ {threshold:.4g})")
        return
    _failed(what, f"≤ {threshold:.4g}", f"{value:.4g}", hint)


def raises(exception: type[BaseException], function: Callable[..., Any], *args: Any,
           what: str, hint: str | None = None, **kwargs: Any) -> None:
    """Check that ``function(*args, **kwargs)`` raises ``exception`` (e.g. on bad input)."""
    try:
        function(*args, **kwargs)
    except exception:
        _passed(what)
        return
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - any other exception is the wrong one
        _failed(what, exception.__name__, f"{type(error).__name__}: {error}", hint)
    _failed(what, exception.__name__, "no exception", hint)


def function(student: Callable[..., Any], reference: Callable[..., Any], cases: Iterable[tuple | dict],
             what: str, rtol: float = 1e-5, atol: float = 1e-6, hint: str | None = None,
             wrong: Mapping[str, Callable[..., Any]] | None = None) -> None:
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
    """
    cases = list(cases)
    for number, case in enumerate(cases, start=1):
        args, kwargs = (case, {}) if isinstance(case, tuple) else ((), dict(case))
        expected = reference(*args, **kwargs)
        try:
            got = student(*args, **kwargs)
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - report the student's crash as a verdict
            _failed(f"{what} on case {number} of {len(cases)}", expected, None,
                    hint, show_values=False,
                    detail=f"your function raised {type(error).__name__}: {error}\n  on input {_describe_case(args, kwargs)}")
        if not _values_close(got, expected, rtol, atol):
            wrong_values = {h: wrong_fn(*args, **kwargs) for h, wrong_fn in (wrong or {}).items()}
            specific = _matching_wrong_answer(got, wrong_values, rtol, atol)
            got_shape, exp_shape = np.shape(got), np.shape(expected)
            if not specific and got_shape != exp_shape:
                specific = _shape_hint(got_shape, exp_shape)
            _failed(f"{what} on case {number} of {len(cases)}: input {_describe_case(args, kwargs)}",
                    expected, got, specific or hint)
    _passed(f"{what} matches the reference on {len(cases)} input{'s' if len(cases) != 1 else ''}")


def _describe_case(args: tuple, kwargs: dict) -> str:
    def describe(value: Any) -> str:
        if isinstance(value, np.ndarray) or _is_tensor(value):
            return f"array{tuple(np.shape(value))}"
        return _short(value, 60)

    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


# --------------------------------------------------------------------------- notebook hooks

NOT_IMPLEMENTED_MESSAGE = (
    f"{FAIL_MARK} Not done yet: this exercise still raises NotImplementedError.\n"
    "  Replace `raise NotImplementedError()` under `# YOUR CODE HERE` with your code,\n"
    "  run that cell, then run this check again."
)


def _show_not_implemented(shell, etype, value, tb, tb_offset=None):
    # IPython does not display what a custom handler returns: show it as the cell's error
    # output (ipykernel sends it as an `error` message, so the cell still counts as failed).
    lines = NOT_IMPLEMENTED_MESSAGE.splitlines()
    shell._showtraceback(etype, value, lines)
    return lines


def install_notebook_hooks() -> bool:
    """In IPython, show NotImplementedError from an unfinished exercise as a friendly verdict.

    Returns True when a running IPython shell was found. The cell still counts as failed.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NotImplementedError,), _show_not_implemented)
    return True
