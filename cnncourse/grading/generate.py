"""Generate student notebooks from solution notebooks.

``solutions/NN_slug.ipynb`` is the source of truth; ``notebooks/NN_slug.ipynb`` is made from
it and never edited by hand. The student copy:

- replaces each solution region by ``# YOUR CODE HERE`` + ``raise NotImplementedError()``
  (in markdown answers: a prompt to write the answer), at the region's indentation;
- drops hidden-test regions, markers included;
- clears the outputs of every cell that runs student code: answer and tests cells, and any
  other cell that uses a name an answer defines or that follows from one (found by
  :func:`cnncourse.grading.dependencies.student_code_cells`); lesson cells keep theirs;
- tags those code cells ``raises-exception``, so that Run All in JupyterLab goes on past an
  unfinished exercise (the cell shows its one-line verdict and the next cell runs);
- locks tests and read-only cells (``editable``/``deletable`` false) and records nbgrader's
  checksums, as nbgrader's ``generate_assignment`` does;
- records a fingerprint of its cells' sources (``metadata.cnncourse.generated``).

The output is byte-stable: generating twice changes nothing.

**A student's work is never overwritten.** Students work in ``notebooks/``; ``make lab``
runs ``cnncourse generate`` before it starts JupyterLab. :func:`generate` replaces a student
notebook only when it is *pristine*: its cells' sources still match the fingerprint it was
written with (running cells, which changes outputs only, keeps it pristine). An edited
notebook is ``kept`` as it is and reported; ``force=True`` (``cnncourse generate --force``)
replaces it after copying it to ``notebooks/.backups/NN_slug.YYYYmmdd-HHMMSS.ipynb``.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cnncourse.grading.dependencies import student_code_cells
from cnncourse.grading.notebook_format import (
    cell_role,
    notebook_text,
    read_notebook,
    split_segments,
    validate,
)

CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"
#: JupyterLab (and nbclient, nbval) go on running the next cells after an error in a cell with this tag
RUN_ON_TAG = "raises-exception"
#: where ``--force`` keeps the student notebooks it replaces, inside the notebooks folder
BACKUP_DIR = ".backups"


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
    runs_student_code = set(student_code_cells(solution_nb).cells)
    for index, cell in enumerate(nb.cells):
        role = cell_role(cell)
        if index in runs_student_code:
            cell.outputs = []
            cell.execution_count = None
            tags = list(cell.metadata.get("tags", []))
            if RUN_ON_TAG not in tags:
                cell.metadata["tags"] = tags + [RUN_ON_TAG]
        if role == "plain":
            continue
        cell.source = student_source(cell.source, cell.cell_type, f"{path}, cell {index + 1}")
        if role in ("tests", "readonly"):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
        meta = cell.metadata["nbgrader"]
        meta["checksum"] = nbgrader_checksum(cell)
        meta["cell_type"] = cell.cell_type
    nb.metadata["cnncourse"] = {"generated": fingerprint(nb)}
    return nb


def fingerprint(nb) -> str:
    """A hash of a notebook's cells: their types and sources, in order (outputs do not count)."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        digest.update(json.dumps([cell.cell_type, cell.source]).encode("utf-8"))
    return digest.hexdigest()


def is_pristine(student_nb, generated_nb=None) -> bool:
    """True when nobody changed the cells of a generated student notebook.

    A notebook written by :func:`student_notebook` carries the :func:`fingerprint` of its
    cells; it is pristine while its cells still match it. A notebook without one (written
    before fingerprints existed) is pristine when it has as many cells of the same types as
    ``generated_nb`` and every answer cell still holds the stub ``generated_nb`` has.
    """
    recorded = student_nb.metadata.get("cnncourse", {}).get("generated")
    if recorded:
        return recorded == fingerprint(student_nb)
    if generated_nb is None:
        return False
    if [c.cell_type for c in student_nb.cells] != [c.cell_type for c in generated_nb.cells]:
        return False

    def answers(nb):
        return {c.metadata["nbgrader"].get("grade_id"): c.source for c in nb.cells
                if cell_role(c) in ("answer", "manual")}

    return answers(student_nb) == answers(generated_nb)


@dataclass(frozen=True)
class GeneratedNotebook:
    """What :func:`generate` did with one notebook.

    ``status`` is ``written`` (new or pristine, now up to date), ``unchanged``, ``stale``
    (``check_only``: differs or is missing), ``kept`` (the student edited it: left as it
    is) or ``replaced`` (edited, replaced with ``force``; the edit is in ``backup``).
    """

    solution: Path
    student: Path
    status: str
    backup: Path | None = None


def solution_paths(solutions_dir: str | Path) -> list[Path]:
    """The solution notebooks, sorted by name (``NN_slug.ipynb``)."""
    return sorted(Path(solutions_dir).glob("[0-9][0-9]_*.ipynb"))


def generate(solutions_dir: str | Path = "solutions", notebooks_dir: str | Path = "notebooks",
             check_only: bool = False, names: list[str] | None = None,
             force: bool = False) -> list[GeneratedNotebook]:
    """Write (or, with ``check_only``, compare) the student copy of every solution notebook.

    A student notebook someone edited is never overwritten unless ``force`` (see the module
    doc); with ``force`` it is first copied to ``notebooks_dir/.backups/``.

    Args:
        solutions_dir: folder of ``NN_slug.ipynb`` solution notebooks.
        notebooks_dir: folder for the student copies (created if missing).
        check_only: write nothing; report ``stale`` where the student copy differs or is missing.
        names: restrict to these notebook file names or stems.
        force: replace edited student notebooks too, keeping a timestamped backup of each.

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
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for solution_path in paths:
        generated = student_notebook(read_notebook(solution_path), solution_path)
        text = notebook_text(generated)
        student_path = notebooks_dir / solution_path.name
        current = student_path.read_text(encoding="utf-8") if student_path.exists() else None
        backup = None
        if current == text:
            status = "unchanged"
        elif check_only:
            status = "stale"
        elif current is not None and not _pristine_text(current, generated):
            if not force:
                results.append(GeneratedNotebook(solution_path, student_path, "kept"))
                continue
            backup = notebooks_dir / BACKUP_DIR / f"{student_path.stem}.{stamp}{student_path.suffix}"
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(student_path, backup)
            status = "replaced"
        else:
            status = "written"
        if status in ("written", "replaced"):
            notebooks_dir.mkdir(parents=True, exist_ok=True)
            temporary = student_path.with_name(f".{student_path.name}.writing")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(student_path)  # never a half-written notebook
        results.append(GeneratedNotebook(solution_path, student_path, status, backup))
    return results


def _pristine_text(text: str, generated_nb) -> bool:
    try:
        return is_pristine(nbformat.reads(text, as_version=4), generated_nb)
    except Exception:  # noqa: BLE001 - a file that is not a readable notebook is someone's: keep it
        return False


def orphan_student_notebooks(solutions_dir: str | Path = "solutions",
                             notebooks_dir: str | Path = "notebooks") -> list[Path]:
    """Student notebooks that have no solution notebook any more."""
    stems = {p.stem for p in solution_paths(solutions_dir)}
    return sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb") if p.stem not in stems)
