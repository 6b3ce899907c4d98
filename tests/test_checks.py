"""The verdict helpers students see: pass lines, failure verdicts, specific hints."""

import numpy as np
import pytest

from cnncourse.grading import check


def verdict_of(function, *args, **kwargs) -> str:
    with pytest.raises(check.CheckFailed) as failure:
        function(*args, **kwargs)
    return failure.value.verdict


def test_equal_passes_and_prints_tick(capsys):
    check.equal(5, 5, "conv_output_size(7, 3)")
    assert capsys.readouterr().out == "✔ conv_output_size(7, 3) = 5\n"


def test_equal_failure_names_expected_got_and_hint():
    verdict = verdict_of(check.equal, 6, 5, "conv_output_size(7, 3)", hint="look at the formula")
    assert verdict.splitlines() == [
        "✘ conv_output_size(7, 3)",
        "  expected: 5",
        "  got:      6",
        "  hint:     look at the formula",
    ]


def test_specific_wrong_answer_hint_replaces_generic_hint():
    verdict = verdict_of(check.equal, 4, 5, "size", hint="generic", wrong={"you forgot the + 1": 4})
    assert "hint:     you forgot the + 1" in verdict and "generic" not in verdict


def test_equal_refuses_float_for_int():
    assert "return an int" in verdict_of(check.equal, 5.0, 5, "size")


def test_close_reports_relative_error_and_wrong_answer():
    x = np.arange(9.0).reshape(3, 3)
    verdict = verdict_of(check.close, x[::-1, ::-1], x, "conv", wrong={"flipped kernel": x[::-1, ::-1]})
    assert "max relative error" in verdict and "hint:     flipped kernel" in verdict


def test_close_passes_within_tolerance(capsys):
    check.close(np.ones(3) + 1e-9, np.ones(3), "ones")
    assert capsys.readouterr().out.startswith("✔ ones (max relative error")


def test_expected_nans_do_not_make_the_relative_error_nan(capsys):
    expected = np.array([0.75, np.nan, 0.5])   # e.g. the IoU of a class that occurs nowhere
    check.close(expected + 1e-9, expected, "iou")
    assert capsys.readouterr().out.startswith("✔ iou (max relative error 1.")
    assert "nan" in verdict_of(check.close, np.array([0.75, 0.1, 0.5]), expected, "iou").lower()


@pytest.mark.parametrize(
    "got_shape, expected_shape, phrase",
    [
        ((3, 8, 8), (8, 8, 3), "axis order"),
        ((6, 6), (5, 5), "O = (I - K + 2P) / S + 1"),
        ((5,), (5, 5), "expected 2 dimensions, got 1"),
    ],
)
def test_shape_mismatch_gets_automatic_hint(got_shape, expected_shape, phrase):
    assert phrase in verdict_of(check.close, np.zeros(got_shape), np.zeros(expected_shape), "output")


def test_nan_gets_a_hint():
    assert "NaN" in verdict_of(check.close, np.array([np.nan, 1.0]), np.array([0.0, 1.0]), "loss")


def test_function_compares_cases_and_finds_wrong_variant():
    def reference(x):
        return x + 1

    def student(x):
        return x  # forgot the + 1

    verdict = verdict_of(check.function, student, reference, [(1,), (2,)], "plus_one",
                         wrong={"you forgot to add one": lambda x: x})
    assert "case 1 of 2" in verdict and "you forgot to add one" in verdict


def test_function_reports_student_crash_as_verdict():
    def student(x):
        raise ZeroDivisionError("division by zero")

    verdict = verdict_of(check.function, student, lambda x: x, [(1,)], "f")
    assert "raised:   ZeroDivisionError: division by zero" in verdict and "called:   student(1)" in verdict


def test_function_lets_not_implemented_through():
    def student(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check.function(student, lambda x: x, [(1,)], "f")


def test_raises_and_at_least(capsys):
    check.raises(ValueError, int, "x", what="int('x') raises ValueError")
    check.at_least(0.991, 0.99, "test accuracy")
    assert "✔ test accuracy = 0.991 (needs ≥ 0.99)" in capsys.readouterr().out
    assert "no exception" in verdict_of(check.raises, ValueError, int, "3", what="int('3') raises")
    assert "≥ 0.99" in verdict_of(check.at_least, 0.5, 0.99, "test accuracy")


def test_hidden_mode_reveals_no_inputs_or_values(capsys):
    check.set_hidden(True)
    try:
        check.equal(5, 5, "secret input 123")
        verdict = verdict_of(check.equal, 4, 5, "secret input 456", wrong={"secret hint": 4})
    finally:
        check.set_hidden(False)
    out = capsys.readouterr().out
    assert out == "✔ hidden test passed\n"
    assert "456" not in verdict and "secret" not in verdict and verdict.startswith("✘ a hidden test failed")


def test_check_failed_renders_without_traceback():
    failure = check.CheckFailed("✘ thing\n  expected: 1")
    assert failure._render_traceback_() == ["✘ thing", "  expected: 1"]
    assert isinstance(failure, AssertionError)


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = None


@pytest.mark.parametrize("expected", [5, 5.0, "abc", (1, 2), True, None])
def test_equal_cannot_be_faked_by_a_lying_eq(expected):
    assert "✘" in verdict_of(check.equal, AlwaysEqual(), expected, "value")


@pytest.mark.parametrize("got, expected", [(np.int64(5), 5), (5, np.int32(5)), ([1, 2], (1, 2)), (2.5, 2.5),
                                           (np.float32(0.5), 0.5), (True, True)])
def test_equal_accepts_equivalent_numbers_and_sequences(got, expected):
    check.equal(got, expected, "value")


@pytest.mark.parametrize("got, expected", [(True, 1), (1, True), ("5", 5), ((1, 2, 3), (1, 2)), (0.1 + 0.2, 0.3)])
def test_equal_rejects_lookalikes(got, expected):
    assert "✘" in verdict_of(check.equal, got, expected, "value")
