"""Student notebooks generated from solutions: stubs, hidden tests gone, locks, stability."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.generate import (
    generate,
    nbgrader_checksum,
    solution_paths,
    student_notebook,
    student_source,
)
from cnncourse.grading.notebook_format import notebook_text
from notebook_factory import good_notebook, make_answer_cell, notebook

REPO = Path(__file__).resolve().parents[1]


def test_code_solution_becomes_stub_at_its_indentation():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert student_source(source, "code") == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def test_markdown_solution_becomes_prompt():
    assert student_source("Q?\n### BEGIN SOLUTION\nA.\n### END SOLUTION", "markdown") == "Q?\nYOUR ANSWER HERE"


def test_hidden_tests_removed_with_markers():
    source = "check.equal(a, 1, 'a')\n### BEGIN HIDDEN TESTS\ncheck.equal(b, 2, 'b')\n### END HIDDEN TESTS\nprint('done')"
    assert student_source(source, "code") == "check.equal(a, 1, 'a')\nprint('done')"


def test_student_notebook_clears_outputs_locks_tests_and_adds_checksums():
    solution = good_notebook()
    for cell in solution.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="secret 42\n")]
            cell.execution_count = 1
    student = student_notebook(solution, "x.ipynb")
    plain, answer, tests = student.cells[1], student.cells[2], student.cells[3]
    assert plain.outputs and plain.execution_count == 1  # demo cells keep their outputs
    assert answer.outputs == [] and tests.outputs == [] and tests.execution_count is None
    assert tests.metadata["editable"] is False and tests.metadata["deletable"] is False
    assert "editable" not in answer.metadata
    for cell in student.cells[2:]:
        assert cell.metadata["nbgrader"]["checksum"] == nbgrader_checksum(cell)
    assert solution.cells[2].outputs  # the solution notebook itself is untouched


def test_checksum_matches_nbgrader_when_installed():
    utils = pytest.importorskip("nbgrader.utils")
    for cell in student_notebook(good_notebook()).cells[2:]:
        assert nbgrader_checksum(cell) == utils.compute_checksum(cell)


def write(nb, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_text(nb), encoding="utf-8")


def test_generate_is_byte_stable_and_check_detects_hand_edit(tmp_path):
    write(good_notebook(), tmp_path / "solutions" / "01_demo.ipynb")
    first = generate(tmp_path / "solutions", tmp_path / "notebooks")
    assert [r.status for r in first] == ["written"]
    content = (tmp_path / "notebooks" / "01_demo.ipynb").read_bytes()
    assert [r.status for r in generate(tmp_path / "solutions", tmp_path / "notebooks")] == ["unchanged"]
    assert (tmp_path / "notebooks" / "01_demo.ipynb").read_bytes() == content

    edited = nbformat.read(tmp_path / "notebooks" / "01_demo.ipynb", as_version=4)
    edited.cells[0].source += " (edited by hand)"
    write(edited, tmp_path / "notebooks" / "01_demo.ipynb")
    assert [r.status for r in generate(tmp_path / "solutions", tmp_path / "notebooks", check_only=True)] == ["stale"]


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cnncourse", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_check_names_stale_notebook_and_fails(tmp_path):
    write(good_notebook(), tmp_path / "solutions" / "01_demo.ipynb")
    assert run_cli("generate", cwd=tmp_path).returncode == 0
    assert run_cli("generate", "--check", cwd=tmp_path).returncode == 0
    (tmp_path / "notebooks" / "01_demo.ipynb").write_text(
        (tmp_path / "notebooks" / "01_demo.ipynb").read_text().replace("# Title", "# Title!"))
    result = run_cli("generate", "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert "stale  notebooks/01_demo.ipynb" in result.stdout


def test_cli_generate_reports_structural_error_with_cell(tmp_path):
    write(notebook(make_answer_cell("a", "### BEGIN SOLUTION\nx = 1")), tmp_path / "solutions" / "01_bad.ipynb")
    result = run_cli("generate", cwd=tmp_path)
    assert result.returncode == 2
    assert "solutions/01_bad.ipynb, cell 1 (grade_id 'a'): '### BEGIN SOLUTION' on line 1 is never closed" in result.stderr
    assert not (tmp_path / "notebooks" / "01_bad.ipynb").exists()


def test_repository_notebooks_are_up_to_date():
    results = generate(REPO / "solutions", REPO / "notebooks", check_only=True)
    assert results, "no solution notebooks found"
    stale = [str(r.student) for r in results if r.status != "unchanged"]
    assert not stale, f"run `cnncourse generate`: stale student notebooks {stale}"


def test_solution_notebooks_are_executed():
    """solutions/ holds executed outputs (nbval compares against them): no cell left unrun."""
    for path in solution_paths(REPO / "solutions"):
        nb = nbformat.read(path, as_version=4)
        unrun = [i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()
                 and c.execution_count is None]
        assert not unrun, f"{path.name}: cells {unrun} have no outputs: run `cnncourse execute {path}`"
