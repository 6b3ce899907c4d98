"""Structural validation of solution notebooks: every error names the notebook and the cell."""

import nbformat
import pytest

from cnncourse.grading.notebook_format import (
    NotebookFormatError,
    cell_role,
    checks_something,
    split_segments,
    validate,
)
from notebook_factory import make_answer_cell, good_notebook, notebook, make_tests_cell


def problems_of(nb) -> str:
    with pytest.raises(NotebookFormatError) as error:
        validate(nb, "solutions/99_demo.ipynb")
    return str(error.value)


def test_good_notebook_is_valid():
    validate(good_notebook(), "solutions/99_demo.ipynb")


def test_roles():
    nb = good_notebook()
    assert [cell_role(c) for c in nb.cells] == ["plain", "plain", "answer", "tests", "manual"]


def test_segments_keep_indentation_of_region():
    segments = split_segments("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    assert [s.kind for s in segments] == ["plain", "solution"]
    assert segments[1].indent == "    " and segments[1].lines == ("    return 1",)


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = 1\n### END SOLUTION", "'### END SOLUTION' on line 2 has no matching '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\nx = 1", "'### BEGIN SOLUTION' on line 1 is never closed"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### END SOLUTION",
         "'### BEGIN SOLUTION' on line 2 is nested inside the '### BEGIN SOLUTION' opened on line 1"),
    ],
)
def test_unpaired_and_nested_markers(source, message):
    text = problems_of(notebook(make_answer_cell("a", source)))
    assert "solutions/99_demo.ipynb, cell 1 (grade_id 'a')" in text and message in text


def test_marker_in_wrong_cell_kind():
    nb = notebook(nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
                  make_answer_cell("a", "### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS"))
    text = problems_of(nb)
    assert "cell 1: '### BEGIN SOLUTION' is only allowed in answer or manual cells, but this is a plain code cell" in text
    assert "cell 2 (grade_id 'a'): '### BEGIN HIDDEN TESTS' is only allowed in tests cells" in text


def test_missing_grade_id_and_points():
    cell = make_tests_cell("t", "check.equal(1, 1, 'x')", points=0)
    del cell.metadata["nbgrader"]["grade_id"]
    text = problems_of(notebook(cell))
    assert "cell 1: a tests cell needs metadata.nbgrader.grade_id" in text
    assert "cell 1: a tests cell needs metadata.nbgrader.points > 0, got 0" in text


def test_duplicate_grade_id():
    nb = notebook(make_answer_cell("same", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
                  make_tests_cell("same", "check.equal(x, 1, 'x')"))
    assert "cell 2 (grade_id 'same'): grade_id 'same' is already used by cell 1" in problems_of(nb)


def test_tests_cell_whose_visible_part_checks_nothing():
    nb = notebook(make_tests_cell("t", "x = 1\n### BEGIN HIDDEN TESTS\ncheck.equal(x, 1, 'x')\n### END HIDDEN TESTS"))
    assert "cell 1 (grade_id 't'): the visible part of this tests cell checks nothing" in problems_of(nb)


def test_answer_cell_without_solution_region():
    assert "an answer cell needs a '### BEGIN SOLUTION'" in problems_of(notebook(make_answer_cell("a", "x = 1")))


def test_all_problems_reported_at_once():
    nb = notebook(make_answer_cell("a", "x = 1"), make_tests_cell("a", "x = 2"))
    error_text = problems_of(nb)
    assert len(error_text.splitlines()) == 3


def test_checks_something_recognises_checks_and_asserts():
    assert checks_something("check.close(a, b, 'a')")
    assert checks_something("assert x == 1")
    assert not checks_something("print(check)")
    assert not checks_something("x = 1")
