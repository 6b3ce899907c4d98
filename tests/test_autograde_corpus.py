"""A corpus of submissions with known scores, built in code from real notebooks.

Two sources:

- ``solutions/00_welcome.ipynb``, the course's real first notebook (one exercise,
  ``conv_output_size``, 2 points, with hidden tests; its set-up imports TensorFlow);
- a tiny purpose-made notebook (no TensorFlow, so a kernel runs it in about a second)
  with three exercises, a read-only cell, hidden tests, partial credit and a hand-graded
  answer: ``add`` (1 point), ``mean_of`` (2 points), ``count_vowels`` (2 points, half a
  point per case).

Each submission is made from the *generated student notebook* by filling in answers and,
for the adversarial cases, by editing it the way a student could. This module also tests
the preparation step (restoring locked cells), which needs no kernel.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.generate import student_notebook
from cnncourse.grading.notebook_format import notebook_text
from cnncourse.grading.prepare import prepare, split_tests_cell
from notebook_factory import make_answer_cell, make_manual_cell, make_tests_cell, notebook

REPO = Path(__file__).resolve().parents[1]
WELCOME = REPO / "solutions" / "00_welcome.ipynb"

# --------------------------------------------------------------------------- the tiny source

HIDDEN_MARKERS = ("7919", "104729", "EducAtion", "2.5, 3.5, 9.0")  # inputs only hidden tests use


def tiny_source():
    """The tiny solution notebook (instructor's version)."""
    readonly = nbformat.v4.new_code_cell('TEXTS = ["banana", "sky", "AEIOU", "queue"]')
    readonly.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False,
                                     "locked": True, "grade_id": "texts"}
    return notebook(
        nbformat.v4.new_markdown_cell("# Tiny assignment"),
        nbformat.v4.new_code_cell("from cnncourse.grading import check"),
        make_answer_cell("add", "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"),
        make_tests_cell("test_add", "check.equal(add(2, 3), 5, 'add(2, 3)')\n"
                                    "### BEGIN HIDDEN TESTS\n"
                                    "check.equal(add(7919, 104729), 112648, 'add(7919, 104729)')\n"
                                    "### END HIDDEN TESTS", points=1),
        make_answer_cell("mean_of", "def mean_of(values):\n    ### BEGIN SOLUTION\n"
                                    "    return sum(values) / len(values)\n    ### END SOLUTION"),
        make_tests_cell("test_mean_of", "check.close(mean_of([1, 2, 3, 4]), 2.5, 'mean_of([1, 2, 3, 4])')\n"
                                        "### BEGIN HIDDEN TESTS\n"
                                        "check.close(mean_of([2.5, 3.5, 9.0]), 5.0, 'mean_of([2.5, 3.5, 9.0])')\n"
                                        "check.close(mean_of([1, 2]), 1.5, 'mean_of([1, 2])')\n"
                                        "### END HIDDEN TESTS", points=2),
        readonly,
        make_answer_cell("count_vowels", "def count_vowels(text):\n    ### BEGIN SOLUTION\n"
                                         "    return sum(letter in 'aeiou' for letter in text.lower())\n"
                                         "    ### END SOLUTION"),
        make_tests_cell("test_count_vowels",
                        "expected = [3, 0, 5, 4]\n"
                        "right = sum(count_vowels(t) == e for t, e in zip(TEXTS, expected))\n"
                        "check.true(right >= 1, 'count_vowels gets at least one of the four texts right')\n"
                        "### BEGIN HIDDEN TESTS\n"
                        "right += count_vowels('EducAtion') == 5\n"
                        "### END HIDDEN TESTS\n"
                        "min(2.0, right * 0.5)", points=2),
        make_manual_cell("explain", "Explain your count.\n\n### BEGIN SOLUTION\nLower-case first.\n### END SOLUTION"),
    )


TINY_ANSWERS = {
    "add": "def add(a, b):\n    return a + b",
    "mean_of": "def mean_of(values):\n    return sum(values) / len(values)",
    "count_vowels": "def count_vowels(text):\n    return sum(letter in 'aeiou' for letter in text.lower())",
}
TINY_POINTS = {"test_add": 1.0, "test_mean_of": 2.0, "test_count_vowels": 2.0}


def cell_index(nb, grade_id):
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    raise KeyError(grade_id)


def filled(student, answers):
    """A copy of ``student`` with the answer cells named in ``answers`` replaced."""
    nb = copy.deepcopy(student)
    for grade_id, source in answers.items():
        nb.cells[cell_index(nb, grade_id)].source = source
    return nb


@dataclass
class Case:
    """One submission and what it must score (``None`` score: an unreadable file, scored 0)."""

    name: str
    content: str  # the file's text
    scores: dict  # tests grade_id -> expected score
    findings: tuple = ()  # finding kinds that must be reported
    status: str = "graded"

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))


def tiny_corpus() -> list[Case]:
    """Submissions of the tiny notebook, one per behaviour the autograder must handle."""
    student = student_notebook(tiny_source(), "tiny.ipynb")
    right = dict(TINY_ANSWERS)
    full = dict(TINY_POINTS)

    def case(name, nb, scores=None, findings=()):
        return Case(name, notebook_text(nb), {**full, **(scores or {})}, tuple(findings))

    cases = [
        case("correct", filled(student, right)),
        case("stubs", student, {"test_add": 0, "test_mean_of": 0, "test_count_vowels": 0}),
        # partial: count_vowels forgets upper case: banana, sky and queue right, AEIOU wrong;
        # the hidden EducAtion wrong too: 3 of 5 cases right -> 1.5 points.
        case("partial", filled(student, {**right, "count_vowels":
                                         "def count_vowels(text):\n    return sum(c in 'aeiou' for c in text)"}),
             {"test_count_vowels": 1.5}),
        case("wrong_add", filled(student, {**right, "add": "def add(a, b):\n    return a - b"}), {"test_add": 0}),
        # right on the visible example only: the hidden tests catch it
        case("wrong_mean_hidden", filled(student, {**right, "mean_of":
                                                   "def mean_of(values):\n    return 2.5"}),
             {"test_mean_of": 0}),
        case("wrong_count", filled(student, {**right, "count_vowels": "def count_vowels(text):\n    return -1"}),
             {"test_count_vowels": 0}),
        case("stderr", filled(student, {
            "add": "import sys, os, warnings\nprint('debug', file=sys.stderr)\nos.write(2, b'raw fd 2\\n')\n"
                   "warnings.warn('a warning')\ndef add(a, b):\n    print('adding', file=sys.stderr)\n    return a + b",
            "mean_of": right["mean_of"], "count_vowels": right["count_vowels"]})),
        case("huge_output", filled(student, {**right, "add": right["add"] + "\nprint('x' * 20_000_000)\n"
                                                                             "for i in range(2000):\n    print(i)"})),
    ]

    dies = filled(student, right)
    dies.cells.insert(cell_index(dies, "test_add") + 1, nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    cases.append(case("kernel_dies", dies, {"test_mean_of": 0, "test_count_vowels": 0}))

    cases.append(case("infinite_loop", filled(student, {**right, "mean_of":
                                                        "def mean_of(values):\n    while True:\n        pass"}),
                      {"test_mean_of": 0}))
    cases.append(case("loop_ignores_interrupt", filled(student, {**right, "mean_of": (
        "def mean_of(values):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except KeyboardInterrupt:\n            pass")}),
        {"test_mean_of": 0, "test_count_vowels": 0}))
    cases.append(case("memory_hog", filled(student, {**right, "mean_of": (
        "import numpy as np\ndef mean_of(values):\n    big = np.ones(3 * 2**30 // 8)  # 3 GiB, touched\n"
        "    return float(big.sum()) * 0 + sum(values) / len(values)")}),
        {"test_mean_of": 0}))

    tampered = filled(student, {**right, "add": "def add(a, b):\n    return 0"})
    tampered.cells[cell_index(tampered, "test_add")].source = "print('✔ add(2, 3) = 5')"
    cases.append(case("tampered_test", tampered, {"test_add": 0}, ["changed"]))

    deleted = filled(student, {**right, "mean_of": "def mean_of(values):\n    return 0.0"})
    del deleted.cells[cell_index(deleted, "test_mean_of")]
    cases.append(case("deleted_test", deleted, {"test_mean_of": 0}, ["deleted"]))

    renamed = filled(student, right)
    test_cell = renamed.cells[cell_index(renamed, "test_count_vowels")]
    test_cell.metadata["nbgrader"]["grade_id"] = "my_own_test"
    test_cell.metadata["nbgrader"]["points"] = 100
    test_cell.source = "2.0"
    renamed.cells[cell_index(renamed, "count_vowels")].source = "def count_vowels(text):\n    return -1"
    cases.append(case("renamed_test", renamed, {"test_count_vowels": 0}, ["renamed", "changed"]))

    renamed_answer = filled(student, right)
    renamed_answer.cells[cell_index(renamed_answer, "add")].metadata["nbgrader"]["grade_id"] = "whatever"
    cases.append(case("renamed_answer", renamed_answer, {}, ["renamed"]))

    cases.append(case("redefines_check", filled(student, {
        "add": ("import sys, types\n"
                "check.equal = lambda *a, **k: None\ncheck.close = lambda *a, **k: None\n"
                "check.true = lambda *a, **k: None\n"
                "sys.modules['cnncourse.grading.check'].equal = lambda *a, **k: None\n"
                "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n"
                "import cnncourse.grading.check as real\n"
                "try:\n    open(real.__file__, 'a').write('\\ndef equal(*a, **k):\\n    pass\\n')\n"
                "except OSError:\n    pass\n"
                "def add(a, b):\n    return 0"),
        "mean_of": ("check = types.SimpleNamespace(equal=lambda *a, **k: None, close=lambda *a, **k: None,\n"
                    "                              true=lambda *a, **k: None, set_hidden=lambda h: None)\n"
                    "def mean_of(values):\n    return 0.0"),
        "count_vowels": "def count_vowels(text):\n    return -1"}),
        {"test_add": 0, "test_mean_of": 0, "test_count_vowels": 0}))

    cases.append(case("reads_solutions", filled(student, {**right, "add": (
        "import os, glob, pathlib\nimport cnncourse\n"
        "places = ['solutions', '../solutions', '../../solutions', '../../../solutions',\n"
        "          str(pathlib.Path(cnncourse.__file__).resolve().parents[1] / 'solutions'),\n"
        "          os.path.join(os.environ.get('HOME', '/nonexistent'), 'solutions'),\n"
        "          os.path.join(os.environ.get('OLDPWD', '/nonexistent'), 'solutions'),\n"
        "          os.path.join(os.environ.get('PWD', '/nonexistent'), 'solutions')]\n"
        "places += [str(p / 'solutions') for p in pathlib.Path.cwd().parents]\n"
        "found = [f for place in places for f in glob.glob(os.path.join(place, '*.ipynb'))]\n"
        "SECRET = ''.join(open(f).read() for f in found)\n"
        "def add(a, b):\n"
        "    # right only if a solution notebook could be read\n"
        "    return a + b if 'BEGIN SOLUTION' in SECRET else None")}),
        {"test_add": 0}))

    malformed = Case("malformed_json", '{"cells": [', {k: 0 for k in full}, status="invalid")
    not_a_notebook = Case("not_a_notebook", json.dumps({"hello": "world"}), {k: 0 for k in full}, status="invalid")
    return cases + [malformed, not_a_notebook]


def write_tiny_assignment(root: Path, name: str = "07_tiny") -> Path:
    """Write the tiny source as ``root/solutions/<name>.ipynb``; return the solutions folder."""
    solutions = root / "solutions"
    solutions.mkdir(parents=True, exist_ok=True)
    (solutions / f"{name}.ipynb").write_text(notebook_text(tiny_source()), encoding="utf-8")
    return solutions


def write_corpus(cases, folder: Path, notebook_name: str) -> None:
    """Lay submissions out as ``folder/<student_id>/<notebook_name>``."""
    for case in cases:
        path = folder / case.name / notebook_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(case.content, encoding="utf-8")


# --------------------------------------------------------------------------- the real notebook

WELCOME_RIGHT = ("def conv_output_size(input_size, kernel_size, padding=0, stride=1):\n"
                 "    padded = input_size + 2 * padding\n"
                 "    if kernel_size > padded:\n"
                 "        raise ValueError('kernel does not fit')\n"
                 "    return (padded - kernel_size) // stride + 1")


def welcome_corpus() -> list[Case]:
    """Submissions of the real ``00_welcome`` notebook."""
    student = student_notebook(nbformat.read(WELCOME, as_version=4), WELCOME)
    answer = {"conv_output_size": WELCOME_RIGHT}
    cases = [
        Case("correct", notebook_text(filled(student, answer)), {"test_conv_output_size": 2.0}),
        Case("stubs", notebook_text(student), {"test_conv_output_size": 0.0}),
        # right on the visible examples, wrong on the hidden ones (no stride)
        Case("hidden_wrong", notebook_text(filled(student, {"conv_output_size": (
            "def conv_output_size(input_size, kernel_size, padding=0, stride=1):\n"
            "    known = {(7, 3, 0, 1): 5, (32, 5, 2, 1): 32, (227, 11, 0, 4): 55, (8, 3, 0, 2): 3}\n"
            "    if kernel_size > input_size + 2 * padding:\n        raise ValueError('no')\n"
            "    return known.get((input_size, kernel_size, padding, stride), 1)")})),
             {"test_conv_output_size": 0.0}),
    ]
    deleted = filled(student, {"conv_output_size": "def conv_output_size(*args, **kwargs):\n    return 0"})
    del deleted.cells[cell_index(deleted, "test_conv_output_size")]
    cases.append(Case("deleted_test", notebook_text(deleted), {"test_conv_output_size": 0.0}, ("deleted",)))
    return cases


# --------------------------------------------------------------------------- preparation tests (no kernel)


def test_prepare_restores_tampered_test_cell_with_hidden_tests():
    case = next(c for c in tiny_corpus() if c.name == "tampered_test")
    prepared = prepare(nbformat.reads(case.content, as_version=4), tiny_source())
    test = next(c for c in prepared.tests if c.grade_id == "test_add")
    assert [p.hidden for p in test.parts] == [False, True]
    assert "7919" in test.parts[1].code and "print('✔" not in test.cell.source
    assert [(f.kind, f.grade_id) for f in prepared.findings] == [("changed", "test_add")]


def test_prepare_puts_deleted_test_back_after_its_answer():
    case = next(c for c in tiny_corpus() if c.name == "deleted_test")
    prepared = prepare(nbformat.reads(case.content, as_version=4), tiny_source())
    ids = [c.grade_id for c in prepared.cells if c.grade_id]
    assert ids == ["add", "test_add", "mean_of", "test_mean_of", "texts", "count_vowels", "test_count_vowels",
                   "explain"]
    assert [f.kind for f in prepared.findings] == ["deleted"]


def test_prepare_finds_renamed_cells_by_id_and_ignores_submitted_points():
    case = next(c for c in tiny_corpus() if c.name == "renamed_test")
    prepared = prepare(nbformat.reads(case.content, as_version=4), tiny_source())
    assert {c.grade_id: c.points for c in prepared.tests} == TINY_POINTS
    assert sorted(f.kind for f in prepared.findings) == ["changed", "metadata", "renamed"]


def test_prepare_without_source_flags_edited_locked_cell_by_checksum():
    student = student_notebook(tiny_source())
    assert prepare(student).findings == []
    student.cells[cell_index(student, "texts")].source = "TEXTS = []"
    assert [(f.kind, f.grade_id) for f in prepare(student).findings] == [("changed", "texts")]


def test_parts_fall_back_to_one_mixed_part_for_an_indented_hidden_region():
    source = ("for n in range(3):\n    check.equal(n, n, 'n')\n    ### BEGIN HIDDEN TESTS\n"
              "    check.equal(n * 2, n + n, 'twice')\n    ### END HIDDEN TESTS")
    parts, mixed = split_tests_cell(source)
    assert mixed and len(parts) == 1 and parts[0].hidden
    assert "    check.set_hidden(True)" in parts[0].code and "### BEGIN" not in parts[0].code
    visible, mixed = split_tests_cell(source, include_hidden=False)
    assert not mixed and "twice" not in visible[0].code


def test_every_corpus_submission_except_the_broken_files_is_a_notebook():
    for case in tiny_corpus() + welcome_corpus():
        if case.status == "invalid":
            with pytest.raises(Exception):
                nbformat.validate(nbformat.reads(case.content, as_version=4))
        else:
            nbformat.validate(nbformat.reads(case.content, as_version=4))


def test_prepare_restores_an_edited_read_only_cell():
    student = filled(student_notebook(tiny_source()), TINY_ANSWERS)
    student.cells[cell_index(student, "texts")].source = "TEXTS = ['aaaa'] * 4"
    prepared = prepare(student, tiny_source())
    restored = next(c for c in prepared.cells if c.grade_id == "texts")
    assert restored.role == "readonly" and restored.cell.source == 'TEXTS = ["banana", "sky", "AEIOU", "queue"]'
    assert [(f.kind, f.grade_id) for f in prepared.findings] == [("changed", "texts")]
