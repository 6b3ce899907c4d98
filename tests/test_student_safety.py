"""A student's work is never overwritten, and a student copy shows no output of a cell that runs student code."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.dependencies import student_code_cells
from cnncourse.grading.generate import RUN_ON_TAG, generate, solution_paths, student_notebook
from cnncourse.grading.notebook_format import cell_role, notebook_text
from notebook_factory import make_answer_cell, make_tests_cell, notebook

REPO = Path(__file__).resolve().parents[1]


def lesson_notebook():
    """An answer, its check, a demo that needs it (through a derived name), and lesson cells that do not."""
    code = nbformat.v4.new_code_cell
    return notebook(
        nbformat.v4.new_markdown_cell("# Lesson"),
        code("import numpy as np\nfrom cnncourse.grading import check\nimages = np.ones((2, 2))"),   # 1 lesson
        make_answer_cell("double", "import numpy as np\n\ndef double(x):\n    ### BEGIN SOLUTION\n"
                                   "    return 2 * x\n    ### END SOLUTION"),                        # 2 answer
        make_tests_cell("test_double", "example = np.arange(3)\ncheck.equal(double(2), 4, 'double(2)')"),  # 3
        code("doubled = [double(v) for v in images]\ntotal = sum(d.sum() for d in doubled)"),      # 4 uses double
        code("for name in ['a']:\n    print(name, total)"),                                         # 5 uses total
        code("print(images.sum(), np.pi, example)"),                                                # 6 lesson only
        code("doubled = images * 0\nprint(doubled)"),                                               # 7 rebinds
        code("print(doubled)"),                                                                     # 8 fresh value
    )


def with_outputs(nb):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output of cell {index}\n")]
            cell.execution_count = index
    return nb


def test_cells_that_run_student_code_are_found_from_the_code():
    found = student_code_cells(lesson_notebook())
    assert found.cells == (2, 3, 4, 5)
    assert "double" in found.names[2] and "np" not in found.names[2]  # the stub's import is not student code
    assert found.uses[5] == {"total"}


def test_generate_clears_their_outputs_tags_them_and_keeps_lesson_outputs():
    student = student_notebook(with_outputs(lesson_notebook()), "lesson.ipynb")
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        if index in (2, 3, 4, 5):
            assert cell.outputs == [] and cell.execution_count is None, index
            assert RUN_ON_TAG in cell.metadata["tags"], index
        else:
            assert cell.outputs and RUN_ON_TAG not in cell.metadata.get("tags", []), index


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_text(nb), encoding="utf-8")


def answer_in(path):
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if cell_role(c) == "answer")


def edit_answer(path, answer):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if cell_role(c) == "answer")
    cell.source = answer
    cell.outputs, cell.execution_count = [], 3
    nbformat.write(nb, path)


def test_generate_keeps_an_edited_notebook_and_force_keeps_a_backup(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    write(lesson_notebook(), solutions / "01_lesson.ipynb")
    assert [r.status for r in generate(solutions, notebooks)] == ["written"]
    student = notebooks / "01_lesson.ipynb"
    edit_answer(student, "def double(x):\n    return x + x  # mine")
    for _ in range(2):
        assert [r.status for r in generate(solutions, notebooks)] == ["kept"]
        assert "# mine" in answer_in(student)

    # an instructor change to the lesson reaches a notebook nobody edited, not an edited one
    other = notebooks / "02_lesson.ipynb"
    write(lesson_notebook(), solutions / "02_lesson.ipynb")
    generate(solutions, notebooks)
    changed = lesson_notebook()
    changed.cells[0].source = "# Lesson, revised"
    write(changed, solutions / "02_lesson.ipynb")
    write(changed, solutions / "01_lesson.ipynb")
    assert [r.status for r in generate(solutions, notebooks)] == ["kept", "written"]
    assert "revised" in other.read_text()

    [forced, _] = generate(solutions, notebooks, force=True)
    assert forced.status == "replaced" and "# mine" in answer_in(forced.backup)
    assert forced.backup.parent == notebooks / ".backups"
    assert "# mine" not in answer_in(student)


def test_running_cells_does_not_make_a_notebook_edited(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    write(lesson_notebook(), solutions / "01_lesson.ipynb")
    generate(solutions, notebooks)
    nb = nbformat.read(notebooks / "01_lesson.ipynb", as_version=4)
    with_outputs(nb)
    nbformat.write(nb, notebooks / "01_lesson.ipynb")
    changed = lesson_notebook()
    changed.cells[0].source = "# Lesson, revised"
    write(changed, solutions / "01_lesson.ipynb")
    assert [r.status for r in generate(solutions, notebooks)] == ["written"]


def test_make_lab_twice_keeps_the_students_edit(tmp_path):
    """The repository's `make lab`, with JupyterLab replaced by a stand-in that exits at once."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml", "constraints.txt", "environment.yml"):  # what the install stamp needs
        if (REPO / name).exists():
            shutil.copy2(REPO / name, tmp_path / name)
    write(lesson_notebook(), tmp_path / "solutions" / "01_lesson.ipynb")
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "cnncourse").write_text(f"#!/bin/sh\nexec {sys.executable} -m cnncourse \"$@\"\n")
    (venv_bin / "jupyter").write_text("#!/bin/sh\necho jupyter stand-in \"$@\"\n")
    for script in venv_bin.iterdir():
        script.chmod(0o755)
    (tmp_path / "venv" / ".installed").touch()  # newer than pyproject.toml: nothing to install

    def make_lab():
        result = subprocess.run(["make", "lab", "VENV=venv"], cwd=tmp_path, capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "written" in make_lab()
    edit_answer(tmp_path / "notebooks" / "01_lesson.ipynb", "def double(x):\n    return x + x  # mine")
    for _ in range(2):
        out = make_lab()
        assert "kept" in out and "jupyter stand-in" in out
        assert "# mine" in answer_in(tmp_path / "notebooks" / "01_lesson.ipynb")


def leaks_of_student_code(solution, student_nb):
    runs = set(student_code_cells(solution).cells)
    return [i + 1 for i in runs if student_nb.cells[i].get("outputs")]


@pytest.mark.parametrize("solution_path", solution_paths(REPO / "solutions"), ids=lambda p: p.name)
def test_no_output_of_a_cell_that_runs_student_code_in_notebooks(solution_path):
    solution = nbformat.read(solution_path, as_version=4)
    student = nbformat.read(REPO / "notebooks" / solution_path.name, as_version=4)
    assert not leaks_of_student_code(solution, student), f"{solution_path.name}: outputs of student-code cells"
    runs = set(student_code_cells(solution).cells)
    lesson_figures = [i for i, c in enumerate(student.cells) if i not in runs and c.cell_type == "code"
                      and any(k.startswith("image/") for o in c.get("outputs", []) for k in o.get("data", {}))]
    solution_figures = [i for i, c in enumerate(solution.cells) if i not in runs and c.cell_type == "code"
                        and any(k.startswith("image/") for o in c.get("outputs", []) for k in o.get("data", {}))]
    assert lesson_figures == solution_figures  # lesson figures that need no answer survive
