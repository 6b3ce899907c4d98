"""What a student reads when a check fails: crashes inside a check, shape mismatches, unfinished work."""

import numpy as np
import pytest

from cnncourse.grading import check


def verdict_of(function, *args, **kwargs) -> str:
    with pytest.raises(check.CheckFailed) as failure:
        function(*args, **kwargs)
    return failure.value.verdict


def loops_with_kh_for_kw(image, kernel):
    """01's typical slicing mistake: the kernel height used for the columns too."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kh] * kernel)
    return out


SQUARE_HINT = "check that rows use the kernel's height (KH) and columns its width (KW)"


def test_a_crash_inside_a_check_is_a_verdict_with_the_call_the_exception_the_line_and_the_hint():
    image, kernel = np.ones((8, 11)), np.ones((3, 2))
    verdict = verdict_of(check.close, check.call(loops_with_kh_for_kw, image, kernel), np.zeros((6, 10)),
                         "an 8x11 image and a 3x2 kernel", hint=SQUARE_HINT)
    lines = verdict.splitlines()
    assert lines[0] == "✘ an 8x11 image and a 3x2 kernel"
    assert lines[1] == "  called:   loops_with_kh_for_kw(array(8, 11), array(3, 2))"
    assert lines[2].startswith("  raised:   ValueError: operands could not be broadcast")
    assert lines[3] == ("  at:       line 21 of loops_with_kh_for_kw: "
                        "out[i, j] = np.sum(image[i:i + kh, j:j + kh] * kernel)")
    assert lines[4] == f"  hint:     {SQUARE_HINT}"


def test_a_wrong_answer_is_recognised_by_the_exception_it_raises():
    verdict = verdict_of(check.close, check.call(loops_with_kh_for_kw, np.ones((8, 11)), np.ones((3, 2))),
                         np.zeros((6, 10)), "3x2 kernel", hint="generic",
                         wrong={"columns use KH": check.raising(ValueError, "could not be broadcast"),
                                "unrelated": check.raising(KeyError)})
    assert "hint:     columns use KH" in verdict and "generic" not in verdict


@pytest.mark.parametrize("helper, extra", [(check.equal, (5,)), (check.shape, ((5,),))])
def test_every_value_check_makes_the_call_itself(helper, extra):
    def student(x):
        return {}[x]

    verdict = verdict_of(helper, check.call(student, "key"), *extra, "lookup")
    assert "called:   student('key')" in verdict and "raised:   KeyError: 'key'" in verdict


def test_a_call_that_works_is_checked_as_its_value(capsys):
    check.close(check.call(np.add, np.ones(2), 1.0), np.full(2, 2.0), "add")
    assert capsys.readouterr().out.startswith("✔ add")


def test_unfinished_work_still_raises_not_implemented_error():
    def student(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check.close(check.call(student, 1), 1, "f")


def test_hidden_mode_names_no_input_of_a_crash():
    check.set_hidden(True)
    try:
        verdict = verdict_of(check.equal, check.call(lambda x: 1 / x, 0), 1, "secret 123")
    finally:
        check.set_hidden(False)
    assert verdict.startswith("✘ a hidden test failed: your code raised ZeroDivisionError")
    assert "123" not in verdict and "1 / x" not in verdict


def test_check_function_shows_the_line_of_the_crash():
    def student(x):
        return x.shape  # an int has no shape

    verdict = verdict_of(check.function, student, lambda x: x, [(3,)], "f", hint="return a number")
    assert "at:       line 2 of student: return x.shape" in verdict.replace(
        f"line {student.__code__.co_firstlineno + 1}", "line 2")
    assert "hint:     return a number" in verdict


def test_shape_mismatch_keeps_the_exercise_hint_and_gives_no_padding_advice():
    verdict = verdict_of(check.close, np.zeros((3, 2)), np.zeros((3, 3)), "loops", hint=SQUARE_HINT)
    assert f"hint:     {SQUARE_HINT}" in verdict
    assert "padding" not in verdict


def test_shape_verdicts_print_shapes_unquoted():
    verdict = verdict_of(check.close, np.zeros((3, 2)), np.zeros((3, 3)), "loops")
    assert "  expected: shape (3, 3)" in verdict.splitlines()
    assert "  got:      shape (3, 2)" in verdict.splitlines()
    assert "'" not in verdict


def test_thresholds_print_unquoted():
    assert "  expected: ≥ 0.99" in verdict_of(check.at_least, 0.5, 0.99, "accuracy").splitlines()


def test_call_and_raising_reject_bad_arguments():
    with pytest.raises(TypeError, match="function must be callable, got int"):
        check.call(3)
    with pytest.raises(TypeError, match="exception must be an exception class"):
        check.raising("ValueError")
