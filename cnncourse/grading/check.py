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
import linecache
import numbers
import operator
import os
import sys
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


class _Text(str):
    """A value a verdict shows as it is, without quotes (``shape (3, 3)``, ``≥ 0.99``)."""

    def __repr__(self) -> str:
        return str(self)


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


class raising:  # noqa: N801 - reads as a phrase: wrong={hint: check.raising(ValueError)}
    """A typical mistake recognised by what it raises, for ``wrong={hint: check.raising(...)}``.

    Args:
        exception: the exception class the mistake raises (subclasses match too).
        match: a piece of its message that must appear, e.g. ``"could not be broadcast"``.
    """

    def __init__(self, exception: type[BaseException] = Exception, match: str | None = None):
        if not (isinstance(exception, type) and issubclass(exception, BaseException)):
            raise TypeError(f"check.raising: exception must be an exception class, got {exception!r}")
        self.exception, self.match = exception, match

    def matches(self, error: BaseException) -> bool:
        """Whether ``error`` is this mistake."""
        return isinstance(error, self.exception) and (self.match is None or self.match in str(error))

    def __repr__(self) -> str:
        return f"check.raising({self.exception.__name__}, {self.match!r})"


def _library_folders() -> tuple[str, ...]:
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
    package = sys.modules.get("cnncourse")
    if package is not None and getattr(package, "__file__", None):
        folders.add(os.path.dirname(os.path.abspath(package.__file__)))
    return tuple(os.path.join(os.path.abspath(folder), "") for folder in folders if folder)


def _student_line(traceback) -> str | None:
    """``"line 9 of cross_correlate2d_loops: out[i, j] = …"``: the deepest frame of the student's own code."""
    library, found = _library_folders(), None
    while traceback is not None:
        frame = traceback.tb_frame
        filename = frame.f_code.co_filename
        ours = frame.f_globals is globals() or filename.startswith("<cnncourse")
        if not ours and not os.path.abspath(filename).startswith(library):
            found = (filename, traceback.tb_lineno, frame.f_code.co_name, frame.f_globals)
        traceback = traceback.tb_next
    if found is None:
        return None
    filename, number, function, namespace = found
    text = linecache.getline(filename, number, namespace).strip()
    where = "your cell" if function == "<module>" else function
    return f"line {number} of {where}" + (f": {text}" if text else "")


def _crashed(what: str, called: str, error: Exception, hint: str | None, wrong: Mapping[str, Any] | None):
    """Raise the verdict of a student's code that raised ``error`` inside a check."""
    if _hidden:
        raise CheckFailed(f"{FAIL_MARK} a hidden test failed: your code raised {type(error).__name__} on an input "
                          f"other than the visible examples. Test it on more cases.") from None
    specific = next((h for h, w in (wrong or {}).items() if isinstance(w, raising) and w.matches(error)), None)
    lines = [f"{FAIL_MARK} {what}", f"  called:   {called}", f"  raised:   {type(error).__name__}: {error}"]
    where = _student_line(error.__traceback__)
    if where:
        lines.append(f"  at:       {where}")
    if specific or hint:
        lines.append(f"  hint:     {specific or hint}")
    raise CheckFailed("\n".join(lines)) from None


def _resolve(got: Any, what: str, hint: str | None, wrong: Mapping[str, Any] | None) -> Any:
    """The student's value: ``got`` itself, or the result of the :class:`Call` it is."""
    if not isinstance(got, Call):
        return got
    try:
        return got.function(*got.args, **got.kwargs)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - the student's crash becomes a verdict
        _crashed(what, got.describe(), error, hint, wrong)


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
        if isinstance(wrong_value, raising):
            continue
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
            return ("the shape is off by a little: look for an off-by-one in a size or a loop range "
                    "(for a convolution, O = (I - K + 2P) / S + 1)")
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
    got = _resolve(got, what, hint, wrong)
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray) or _is_tensor(got):
        got_arr, exp_arr = np.asarray(got), np.asarray(expected)
        if got_arr.shape != exp_arr.shape:
            _failed(what, expected, got,
                    _matching_wrong_answer(got, wrong, 0, 0) or hint or _shape_hint(got_arr.shape, exp_arr.shape))
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
    got = _resolve(got, what, hint, wrong)
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        _failed(what, expected, got, f"expected an array of numbers, got {type(got).__name__}")
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape != exp_arr.shape:
        _failed(what, _Text(f"shape {exp_arr.shape}"), _Text(f"shape {got_arr.shape}"),
                _matching_wrong_answer(got, wrong, rtol, atol) or hint or _shape_hint(got_arr.shape, exp_arr.shape))
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
    got_shape = tuple(np.shape(_resolve(got, what, hint, None)))
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
    _failed(what, _Text(f"≥ {threshold:.4g}"), _Text(f"{value:.4g}"), hint)


def at_most(value: float, threshold: float, what: str, hint: str | None = None) -> None:
    """Check ``value <= threshold``, e.g. a loss or a running time."""
    if value <= threshold:
        _passed(what, f" = {value:.4g} (needs ≤ {threshold:.4g})")
        return
    _failed(what, _Text(f"≤ {threshold:.4g}"), _Text(f"{value:.4g}"), hint)


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
        _failed(what, _Text(exception.__name__), _Text(f"{type(error).__name__}: {error}"), hint)
    _failed(what, _Text(exception.__name__), _Text("no exception"), hint)


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
            _crashed(f"{what} on case {number} of {len(cases)}", f"{name}{_describe_case(args, kwargs)}", error,
                     hint, wrong={h: w for h, w in (wrong or {}).items() if isinstance(w, raising)})
        if not _values_close(got, expected, rtol, atol):
            wrong_values = {h: wrong_fn(*args, **kwargs) for h, wrong_fn in (wrong or {}).items()}
            specific = _matching_wrong_answer(got, wrong_values, rtol, atol)
            got_shape, exp_shape = np.shape(got), np.shape(expected)
            if not specific and got_shape != exp_shape:
                specific = _shape_hint(got_shape, exp_shape)
            _failed(f"{what} on case {number} of {len(cases)}: input {_describe_case(args, kwargs)}",
                    expected, got, specific or hint)
    _passed(f"{what} matches the reference on {len(cases)} input{'s' if len(cases) != 1 else ''}")


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


def _describe_case(args: tuple, kwargs: dict) -> str:
    def describe(value: Any) -> str:
        if isinstance(value, np.ndarray) or _is_tensor(value):
            return f"array{tuple(np.shape(value))}"
        return _short(value, 60)

    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


# --------------------------------------------------------------------------- notebook hooks

NOT_IMPLEMENTED_MESSAGE = (
    f"{FAIL_MARK} Not done yet: an exercise this cell needs still raises NotImplementedError "
    "(write your code under `# YOUR CODE HERE`, run that cell, then this one)."
)


def not_implemented_line(traceback=None) -> str:
    """The one line an unfinished exercise prints, naming its function when the traceback shows it."""
    function = None
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_name
        if not name.startswith("<") and traceback.tb_frame.f_globals is not globals():
            function = name
        traceback = traceback.tb_next
    if function is None:
        return NOT_IMPLEMENTED_MESSAGE
    return (f"{FAIL_MARK} Not done yet: `{function}` still raises NotImplementedError "
            "(write your code under `# YOUR CODE HERE` in its cell, run that cell, then this one).")


def missing_name_line(error: NameError) -> str:
    """The one line for a name a cell above should have made (it did not run, or it stopped early)."""
    name = getattr(error, "name", None) or str(error)
    return (f"{FAIL_MARK} `{name}` is not defined yet: the cell above that makes it has not run, or stopped "
            "early (an unfinished exercise?). Run it, then this cell.")


def _top_level_name_error(value, tb) -> bool:
    """A NameError raised by the cell's own code (not inside a function): a name a cell above makes."""
    last = tb
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    return isinstance(value, NameError) and last is not None and last.tb_frame.f_code.co_name == "<module>"


def _show_unfinished(shell, etype, value, tb, tb_offset=None):
    # IPython does not display what a custom handler returns: show it as the cell's error
    # output (ipykernel sends it as an `error` message, so the cell still counts as failed).
    if isinstance(value, NotImplementedError):
        lines = [not_implemented_line(tb)]
    elif _top_level_name_error(value, tb):
        lines = [missing_name_line(value)]
    else:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    shell._showtraceback(etype, value, lines)
    return lines


def install_notebook_hooks() -> bool:
    """In IPython, make an unfinished exercise, and each cell that needs it, print one line.

    ``NotImplementedError`` prints :func:`not_implemented_line`; a ``NameError`` of a cell's
    own code (a name an unfinished cell above did not make) prints :func:`missing_name_line`;
    other errors keep their traceback. Returns True when a running IPython shell was found.
    The cell still counts as failed.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NotImplementedError, NameError), _show_unfinished)
    return True
