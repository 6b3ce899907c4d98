"""Generate student notebooks from solution notebooks.

``solutions/NN_slug.ipynb`` is the source of truth; ``notebooks/NN_slug.ipynb`` is made from
it and never edited by hand. The student copy:

- replaces each solution region by ``# YOUR CODE HERE`` + ``raise NotImplementedError()``
  (in markdown answers: a prompt to write the answer), at the region's indentation;
- drops hidden-test regions, markers included;
- clears the outputs of answer, manual and tests cells (demo cells keep theirs);
- locks tests and read-only cells (``editable``/``deletable`` false) and records nbgrader's
  checksums, as nbgrader's ``generate_assignment`` does.

The output is byte-stable: generating twice changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.notebook_format import (
    cell_role,
    notebook_text,
    read_notebook,
    split_segments,
    validate,
)

CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"


def student_source(source: str, cell_type: str, where: str = "cell") -> str:
    """The student's version of one cell's source (solutions stubbed, hidden tests gone)."""
    lines: list[str] = []
    for segment in split_segments(source, where):
        if segment.kind == "plain":
            lines.extend(segment.lines)
        elif segment.kind == "solution":
            if cell_type == "code":
                lines.extend(segment.indent + stub for stub in CODE_STUB)
            else:
                lines.append(MARKDOWN_STUB)
    return "\n".join(lines)


def nbgrader_checksum(cell) -> str:
    """nbgrader's checksum of a graded cell (``nbgrader.utils.compute_checksum``)."""
    meta = cell.metadata["nbgrader"]
    role = cell_role(cell)
    is_grade = role in ("tests", "manual")
    is_solution = role in ("answer", "manual")
    is_locked = False if is_solution else (True if is_grade else bool(meta.get("locked", False)))
    digest = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(is_grade), str(is_solution), str(is_locked), meta["grade_id"]):
        digest.update(part.encode("utf-8"))
    if is_grade:
        digest.update(str(float(meta["points"])).encode("utf-8"))
    return digest.hexdigest()


def student_notebook(solution_nb, path: str | Path = "notebook"):
    """Return the student copy of a solution notebook (the input is not modified).

    Raises:
        NotebookFormatError: when the solution notebook has structural errors.
    """
    validate(solution_nb, path)
    nb = copy.deepcopy(solution_nb)
    for index, cell in enumerate(nb.cells):
        role = cell_role(cell)
        if role == "plain":
            continue
        cell.source = student_source(cell.source, cell.cell_type, f"{path}, cell {index + 1}")
        if cell.cell_type == "code" and role in ("answer", "manual", "tests"):
            cell.outputs = []
            cell.execution_count = None
        if role in ("tests", "readonly"):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
        meta = cell.metadata["nbgrader"]
        meta["checksum"] = nbgrader_checksum(cell)
        meta["cell_type"] = cell.cell_type
    return nb


@dataclass(frozen=True)
class GeneratedNotebook:
    """What :func:`generate` did with one notebook: ``status`` is written, unchanged or stale."""

    solution: Path
    student: Path
    status: str


def solution_paths(solutions_dir: str | Path) -> list[Path]:
    """The solution notebooks, sorted by name (``NN_slug.ipynb``)."""
    return sorted(Path(solutions_dir).glob("[0-9][0-9]_*.ipynb"))


def generate(solutions_dir: str | Path = "solutions", notebooks_dir: str | Path = "notebooks",
             check_only: bool = False, names: list[str] | None = None) -> list[GeneratedNotebook]:
    """Write (or, with ``check_only``, compare) the student copy of every solution notebook.

    Args:
        solutions_dir: folder of ``NN_slug.ipynb`` solution notebooks.
        notebooks_dir: folder for the student copies (created if missing).
        check_only: write nothing; report ``stale`` where the student copy differs or is missing.
        names: restrict to these notebook file names or stems.

    Returns:
        One :class:`GeneratedNotebook` per solution notebook.
    """
    notebooks_dir = Path(notebooks_dir)
    paths = solution_paths(solutions_dir)
    if names:
        wanted = {Path(n).stem for n in names}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            raise FileNotFoundError(f"no solution notebook named {', '.join(sorted(unknown))} in {solutions_dir}")
        paths = [p for p in paths if p.stem in wanted]
    results = []
    for solution_path in paths:
        text = notebook_text(student_notebook(read_notebook(solution_path), solution_path))
        student_path = notebooks_dir / solution_path.name
        current = student_path.read_text(encoding="utf-8") if student_path.exists() else None
        if current == text:
            status = "unchanged"
        elif check_only:
            status = "stale"
        else:
            notebooks_dir.mkdir(parents=True, exist_ok=True)
            student_path.write_text(text, encoding="utf-8")
            status = "written"
        results.append(GeneratedNotebook(solution_path, student_path, status))
    return results


def orphan_student_notebooks(solutions_dir: str | Path = "solutions",
                             notebooks_dir: str | Path = "notebooks") -> list[Path]:
    """Student notebooks that have no solution notebook any more."""
    stems = {p.stem for p in solution_paths(solutions_dir)}
    return sorted(p for p in Path(notebooks_dir).glob("*.ipynb") if p.stem not in stems)
