"""What a check says: the ✔ and ✘ lines, the wrong-answer hints, hidden mode, a crash's verdict.

:mod:`cnncourse.grading.check` decides whether an answer is right; this module renders the
verdict. Like the check module it needs only the standard library and NumPy, because the
autograder rebuilds both from their source inside each kernel (see
:mod:`cnncourse.grading.harness`).
"""

from __future__ import annotations

import linecache
import os
import sys
from typing import Any, Mapping

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


class Text(str):
    """A value a verdict shows as it is, without quotes (``shape (3, 3)``, ``≥ 0.99``)."""

    def __repr__(self) -> str:
        return str(self)


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


def crashed(what: str, called: str, error: Exception, hint: str | None, wrong: Mapping[str, Any] | None):
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


def set_hidden(hidden: bool) -> None:
    """Turn hidden mode on or off: verdicts then say only whether a hidden test passed."""
    global _hidden
    _hidden = bool(hidden)


def is_hidden() -> bool:
    """Whether checks currently run in hidden mode."""
    return _hidden


def short(value: Any, limit: int = 300) -> str:
    """A readable one-or-few-line rendering of ``value`` for a verdict."""
    if isinstance(value, np.ndarray) or is_tensor(value):
        array = np.asarray(value)
        with np.printoptions(precision=4, suppress=True, threshold=40, edgeitems=3, linewidth=90):
            text = np.array2string(array, separator=", ")
        text = f"{text}  (shape {array.shape}, dtype {array.dtype})"
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("\n", "\n            ")


def is_tensor(value: Any) -> bool:
    return hasattr(value, "numpy") and hasattr(value, "shape") and hasattr(value, "dtype")


def passed(what: str, detail: str = "") -> None:
    if _hidden:
        print(f"{PASS_MARK} hidden test passed")
    else:
        print(f"{PASS_MARK} {what}{detail}")


def failed(what: str, expected: Any = None, got: Any = None, hint: str | None = None,
            show_values: bool = True, detail: str | None = None) -> None:
    if _hidden:
        raise CheckFailed(f"{FAIL_MARK} a hidden test failed: your code works on the visible "
                          f"example but not on other inputs. Test it on more cases.")
    lines = [f"{FAIL_MARK} {what}"]
    if show_values:
        lines.append(f"  expected: {short(expected)}")
        lines.append(f"  got:      {short(got)}")
    if detail:
        lines.append(f"  {detail}")
    if hint:
        lines.append(f"  hint:     {hint}")
    raise CheckFailed("\n".join(lines))


def matching_wrong_answer(got: Any, wrong: Mapping[str, Any] | None, rtol: float, atol: float) -> str | None:
    for hint, wrong_value in (wrong or {}).items():
        if isinstance(wrong_value, raising):
            continue
        if values_close(got, wrong_value, rtol, atol):
            return hint
    return None


def values_close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    try:
        a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return a == b
    return a_arr.shape == b_arr.shape and bool(np.allclose(a_arr, b_arr, rtol=rtol, atol=atol, equal_nan=True))


def shape_hint(got_shape: tuple, expected_shape: tuple) -> str:
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
