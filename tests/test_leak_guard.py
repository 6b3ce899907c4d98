"""No line of a solution region or a hidden test may reach a student notebook.

A line is *secret* when it appears inside a solution or hidden-test region of a solution
notebook and nowhere outside those regions in that notebook (lines that are shown anyway,
like a bare ``return out`` also used in a demo, are not secrets). Student notebooks are
searched in full: cell sources and outputs.
"""

from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.generate import solution_paths, student_notebook
from cnncourse.grading.notebook_format import split_segments
from notebook_factory import good_notebook

REPO = Path(__file__).resolve().parents[1]


def secret_lines(solution_nb) -> set[str]:
    inside, outside = set(), set()
    for cell in solution_nb.cells:
        for segment in split_segments(cell.source):
            target = outside if segment.kind == "plain" else inside
            target.update(line.strip() for line in segment.lines if line.strip())
    return inside - outside


def student_text_lines(student_nb) -> set[str]:
    lines = set()
    for cell in student_nb.cells:
        texts = [cell.source]
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
            texts.extend(output.get("traceback", []))
        for text in texts:
            lines.update(line.strip() for line in str(text).splitlines() if line.strip())
    return lines


def leaked(solution_nb, student_nb) -> set[str]:
    return secret_lines(solution_nb) & student_text_lines(student_nb)


def test_leak_guard_catches_a_leak():
    solution = good_notebook()
    student = student_notebook(solution)
    assert leaked(solution, student) == set()
    student.cells[2].source += "\n    result = x * x"  # a solution line slipped through
    student.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="check.equal(square(-4), 16, 'square(-4)')\n")]
    assert leaked(solution, student) == {"result = x * x", "check.equal(square(-4), 16, 'square(-4)')"}


@pytest.mark.parametrize("solution_path", solution_paths(REPO / "solutions"), ids=lambda p: p.name)
def test_no_solution_line_in_student_notebook(solution_path):
    solution = nbformat.read(solution_path, as_version=4)
    assert secret_lines(solution), f"{solution_path.name} has no solution or hidden-test lines to protect"
    student = nbformat.read(REPO / "notebooks" / solution_path.name, as_version=4)
    assert not leaked(solution, student), f"{solution_path.name}: lines leaked to the student copy"
