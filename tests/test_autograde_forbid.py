"""``check.function(..., forbid=[...])`` and ``check.forbidding``: delegating the exercise fails with a hint."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from cnncourse import ops
from cnncourse.grading import check
from cnncourse.grading import forbid as forbid_module
from cnncourse.grading.forbid import ForbiddenCall, forbidding, resolve

FORBID = ["cnncourse.ops.cross_correlate2d", "scipy.signal.correlate2d"]
CASES = [(np.arange(20.0).reshape(4, 5), np.array([[1.0, 0.0], [0.0, -1.0]]))]


def by_hand(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def test_an_answer_written_by_hand_passes(capsys):
    check.function(by_hand, ops.cross_correlate2d, CASES, "cross_correlate2d_loops", forbid=FORBID)
    assert "✔ cross_correlate2d_loops matches the reference" in capsys.readouterr().out


alias = ops.cross_correlate2d
hidden_in_a_list = [ops.cross_correlate2d]


@pytest.mark.parametrize("delegating", [
    lambda x, k: ops.cross_correlate2d(x, k),                               # through the module
    lambda x, k: alias(x, k),                                               # a global alias
    lambda x, k, f=ops.cross_correlate2d: f(x, k),                          # a default argument
    lambda x, k: hidden_in_a_list[0](x, k),                                 # an alias the swap cannot see
    lambda x, k: functools.partial(hidden_in_a_list[0], x)(k),              # through functools.partial
    lambda x, k: __import__("scipy.signal").signal.correlate2d(x, k, mode="valid"),
], ids=["module", "alias", "default", "list", "partial", "scipy"])
def test_delegating_to_a_forbidden_callable_fails_with_the_hint(delegating):
    with pytest.raises(check.CheckFailed, match="the exercise is to write this yourself"):
        check.function(delegating, ops.cross_correlate2d, CASES, "cross_correlate2d_loops", forbid=FORBID)
    assert ops.cross_correlate2d is alias  # put back afterwards


def test_an_answer_that_switches_the_monitor_off_fails():
    def sneaky(x, k):
        import sys
        sys.setprofile(None)
        return hidden_in_a_list[0](x, k)

    with pytest.raises(check.CheckFailed, match="turned off the grader's call monitor"):
        check.function(sneaky, ops.cross_correlate2d, CASES, "cross_correlate2d_loops", forbid=FORBID)


def test_the_context_manager_and_the_reference_outside_it():
    with pytest.raises(check.CheckFailed, match="calls cnncourse.ops.cross_correlate2d"):
        with check.forbidding(FORBID, "my_conv"):
            ops.cross_correlate2d(*CASES[0])
    assert ops.cross_correlate2d(*CASES[0]).shape == (3, 4)  # allowed again
    with forbidding([], "nothing"):
        pass


def test_unknown_names_are_skipped_and_resolve_reports_none():
    assert resolve("no_such_package.anything") is None and resolve("numpy.no_such_function") is None
    with forbidding(["no_such_package.f"], "x"):
        pass
    with pytest.raises(ForbiddenCall):
        with forbidding(["numpy.convolve"], "x"):
            np.convolve([1, 2], [1])


def test_without_forbids_the_names_only_while_the_students_function_runs(capsys):
    expected = ops.cross_correlate2d(*CASES[0])  # the reference, outside the student's call
    check.close(check.call(check.without(by_hand, FORBID), *CASES[0]), expected, "by hand")
    assert "✔ by hand" in capsys.readouterr().out

    def delegating(x, k):
        return ops.cross_correlate2d(x, k)

    guarded = check.without(delegating, FORBID)
    assert guarded.__name__ == "delegating"
    with pytest.raises(check.CheckFailed, match="in delegating calls cnncourse.ops.cross_correlate2d"):
        check.close(check.call(guarded, *CASES[0]), expected, "delegating")
    with pytest.raises(check.CheckFailed, match="in delegating calls cnncourse.ops.cross_correlate2d"):
        guarded(*CASES[0])  # called directly by a test, too
    assert ops.cross_correlate2d(*CASES[0]).shape == (3, 4)  # allowed again afterwards
    with pytest.raises(TypeError, match="names must be a list of dotted names"):
        check.without(by_hand, "cnncourse.ops.cross_correlate2d")


def test_an_answer_that_catches_the_forbidden_call_still_fails():
    def catching(x, k):
        try:
            return ops.cross_correlate2d(x, k)
        except Exception:  # noqa: BLE001
            return by_hand(x, k)

    with pytest.raises(check.CheckFailed, match="calls cnncourse.ops.cross_correlate2d"):
        check.close(check.call(check.without(catching, FORBID), *CASES[0]), by_hand(*CASES[0]), "catching")


PRESETS = {name: value for name, value in vars(forbid_module).items() if name.isupper()}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_name_of_every_preset_resolves(preset):
    """A misspelt name would be skipped silently, leaving the library's version allowed."""
    names = PRESETS[preset]
    assert isinstance(names, tuple) and names, f"{preset} must be a non-empty tuple"
    assert [name for name in names if resolve(name) is None] == []
