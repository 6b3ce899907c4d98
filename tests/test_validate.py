"""`cnncourse validate`: a student's notebook run like the autograder, visible tests only."""

from __future__ import annotations

import pytest

from cnncourse.cli import main
from cnncourse.grading.generate import student_notebook
from cnncourse.grading.notebook_format import notebook_text
from test_autograde_corpus import TINY_ANSWERS, cell_index, filled, tiny_source


class Ran:
    def __init__(self, code, captured):
        self.returncode, self.stdout, self.stderr = code, captured.out, captured.err


@pytest.fixture
def validate(tmp_path, capsys):
    """Run ``cnncourse validate`` on a notebook (in this process, to save a Python start-up)."""
    def run(nb, *extra):
        path = tmp_path / "07_tiny.ipynb"
        if nb is not None:
            path.write_text(notebook_text(nb), encoding="utf-8")
        code = main(["validate", str(path), "--cell-timeout", "20", "--memory", "1", *extra])
        return Ran(code, capsys.readouterr())
    return run


@pytest.fixture(scope="module")
def student():
    return student_notebook(tiny_source())


def test_correct_notebook_expects_full_visible_score(validate, student):
    result = validate(filled(student, TINY_ANSWERS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Expected score from the visible tests: 5 / 5 points." in result.stdout
    assert "✔ test_add: 1 / 1" in result.stdout and "✔ add(2, 3) = 5" in result.stdout
    assert "explain: 1 point(s), graded by hand" in result.stdout
    assert "hidden" not in result.stdout.split("Expected score")[0]  # no hidden test ran


def test_visible_score_ignores_hidden_tests_and_names_failures(validate, student):
    # right on the visible example of mean_of, wrong in general: validate cannot know (5 / 5)
    lucky = filled(student, {**TINY_ANSWERS, "mean_of": "def mean_of(values):\n    return 2.5"})
    assert "5 / 5 points" in validate(lucky).stdout
    # a visible failure and a partial credit: 0 + 2 + 1.5 (count_vowels misses upper case)
    wrong = filled(student, {**TINY_ANSWERS, "add": "def add(a, b):\n    return a - b",
                             "count_vowels": "def count_vowels(text):\n    return sum(c in 'aeiou' for c in text)"})
    result = validate(wrong)
    assert result.returncode == 1
    assert "✘ test_add: 0 / 1" in result.stdout and "expected: 5" in result.stdout
    assert "◐ test_count_vowels: 1.5 / 2" in result.stdout
    assert "Expected score from the visible tests: 3.5 / 5 points." in result.stdout


def test_edited_locked_cell_is_reported_and_not_trusted(validate, student):
    nb = filled(student, {**TINY_ANSWERS, "add": "def add(a, b):\n    return 0"})
    nb.cells[cell_index(nb, "test_add")].source = "print('✔ add(2, 3) = 5')"
    result = validate(nb)
    assert "Locked cells you changed" in result.stdout and "'test_add' was edited" in result.stdout
    assert "✘ test_add: 0 / 1" in result.stdout and "the grader runs the original" in result.stdout
    assert result.returncode == 1 and "Expected score from the visible tests: 4 / 5 points." in result.stdout


def test_missing_or_broken_notebook_is_a_clear_error(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.ipynb")]) == 2
    assert "nope.ipynb" in capsys.readouterr().err
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    assert main(["validate", str(broken)]) == 2
    assert "not a readable Jupyter notebook" in capsys.readouterr().err


def _agreement_corpus(student):
    import copy

    right = filled(student, TINY_ANSWERS)
    pasted = copy.deepcopy(right)
    pasted.cells.insert(cell_index(pasted, "add"), copy.deepcopy(pasted.cells[cell_index(pasted, "test_add")]))
    turned = copy.deepcopy(right)
    turned.cells[cell_index(turned, "test_mean_of")].metadata["nbgrader"]["solution"] = True
    stringly = copy.deepcopy(right)
    stringly.cells[cell_index(stringly, "test_add")].metadata["nbgrader"] = "grade: true"
    wrong = filled(student, {**TINY_ANSWERS, "add": "def add(a, b):\n    return a - b"})
    return {"right": right, "pasted": pasted, "turned_into_answer": turned, "string_metadata": stringly,
            "wrong": wrong}


def test_validate_and_the_autograder_agree_on_the_visible_tests(student):
    """Both run through ``runner.run_notebook``; on the same corpus their visible verdicts are equal."""
    from cnncourse.grading.prepare import prepare
    from cnncourse.grading.runner import RunOptions, run_notebook
    from cnncourse.grading.selfcheck import validate_notebook

    import tempfile
    from pathlib import Path

    options = RunOptions(cell_timeout=20)
    for name, nb in _agreement_corpus(student).items():
        folder = Path(tempfile.mkdtemp())
        path = folder / "07_tiny.ipynb"
        path.write_text(notebook_text(nb), encoding="utf-8")
        prepared, validated = validate_notebook(path, options)
        graded = run_notebook(prepare(nb, tiny_source(), "tiny", include_hidden=False), options)
        ours = {t.grade_id: t.score for t in validated.tests}
        theirs = {t.grade_id: t.score for t in graded.tests}
        if name == "string_metadata":  # validate cannot know the cell: it says so instead of scoring it
            assert any("damaged" in f.detail for f in prepared.findings), name
            assert {k: v for k, v in theirs.items() if k in ours} == ours and "test_add" not in ours, name
        else:
            assert ours == theirs, (name, ours, theirs)
        if name == "pasted":
            assert [f.kind for f in prepared.findings] == ["duplicate"]
        if name == "turned_into_answer":
            assert ours["test_mean_of"] == 2.0 and any(f.kind == "metadata" for f in prepared.findings)
