"""Prepare a submitted notebook for grading: restore what students may not change.

The student's notebook decides the order of cells and supplies the answers. Everything
else comes from the *source* (the instructor's solution notebook), matched by nbgrader's
``grade_id``:

- every **tests** and **read-only** cell is replaced by the source's version (the tests
  cell with its hidden tests); a changed one is restored and reported as tampering, with
  the cell's ``grade_id``;
- a tests or read-only cell the student **deleted** is put back after the graded cell that
  precedes it in the source, and reported;
- a cell whose ``grade_id`` was **renamed** (or whose nbgrader metadata was removed) is
  still found by its cell ``id`` and treated as the source cell it was;
- points and roles always come from the source, never from the submission's metadata;
- outputs saved in the submission are dropped (the notebook runs from scratch).

Each tests cell is split into *parts* the runner executes one after the other: visible
code and hidden-test regions (``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS``). The
runner puts the check helpers in hidden mode for a hidden part, and the student-facing
feedback never shows anything a hidden part printed. When a hidden region sits inside an
indented block (so the cell cannot be cut there), the cell runs as one *mixed* part whose
marker lines are replaced by ``check.set_hidden(True)`` / ``check.set_hidden(False)``.

Without a source (``cnncourse validate`` on a student's own notebook), the notebook's own
cells are run and every locked cell whose nbgrader checksum no longer matches its content
is reported as changed.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.generate import nbgrader_checksum, student_source
from cnncourse.grading.notebook_format import cell_role, validate
from cnncourse.grading.parts import TestPart, import_references, split_tests_cell

LOCKED_ROLES = ("tests", "readonly")
GRADED_ROLES = ("answer", "tests", "manual", "readonly")


@dataclass
class PreparedCell:
    """A cell as it will run.

    Attributes:
        cell: the nbformat cell (a copy; outputs cleared).
        role: ``plain``, ``answer``, ``tests``, ``manual`` or ``readonly``.
        grade_id: the source's ``grade_id`` (``None`` for plain cells).
        points: the source's points (tests and manual cells).
        parts: for tests cells, the parts to execute in order.
        mixed: the tests cell's hidden region could not be cut out (see the module doc).
    """

    cell: object
    role: str
    grade_id: str | None = None
    points: float = 0.0
    parts: tuple[TestPart, ...] = ()
    mixed: bool = False

    @property
    def has_hidden(self) -> bool:
        return any(part.hidden for part in self.parts)


@dataclass(frozen=True)
class Finding:
    """Something about the submission worth reporting.

    ``kind`` is one of ``changed``, ``deleted``, ``renamed``, ``duplicate``, ``unknown``,
    ``missing_answer``, ``metadata``; ``grade_id`` names the cell; ``detail`` says what
    happened in a sentence (and for ``changed``, a short diff for the instructor).
    """

    kind: str
    grade_id: str
    detail: str


@dataclass
class PreparedNotebook:
    """The notebook to run, with what was restored or found on the way.

    ``references`` maps the names the notebook binds with ``import`` statements (in the
    source, when there is one) to ``(module, attribute or None)``: the harness binds the
    names a test uses to those real objects (see :mod:`cnncourse.grading.harness`).
    """

    cells: list[PreparedCell]
    findings: list[Finding] = field(default_factory=list)
    references: dict = field(default_factory=dict)

    @property
    def tests(self) -> list[PreparedCell]:
        return [c for c in self.cells if c.role == "tests"]

    @property
    def manual(self) -> list[PreparedCell]:
        return [c for c in self.cells if c.role == "manual"]

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.tests))


# --------------------------------------------------------------------------- preparation


def _pick_copies(submission_cells, grade_ids: list[str | None], order: dict[str, int],
                 source_ids: dict[str, str]) -> dict[str, int]:
    """For each ``grade_id`` found more than once, the index of the copy that is the original.

    The original is the copy whose position agrees best with the source's order of the
    other graded cells (a copy pasted above the answer cell to look at disagrees); on a
    tie, the copy with the source cell's ``id``, then the later one.
    """
    seen: dict[str, list[int]] = {}
    for index, grade_id in enumerate(grade_ids):
        if grade_id is not None and grade_id in order:
            seen.setdefault(grade_id, []).append(index)
    unique = {g: found[0] for g, found in seen.items() if len(found) == 1}
    chosen = {}
    for grade_id, found in seen.items():
        if len(found) == 1:
            continue

        def agreement(index: int) -> tuple[int, bool, int]:
            agree = sum((order[other] < order[grade_id]) == (position < index)
                        for other, position in unique.items())
            same_id = bool(submission_cells[index].get("id")) and \
                submission_cells[index].get("id") == source_ids.get(grade_id)
            return agree, same_id, index

        chosen[grade_id] = max(found, key=agreement)
    return chosen



def prepare(submission, source=None, source_path: str | Path = "source",
            include_hidden: bool = True) -> PreparedNotebook:
    """Build the notebook to grade from a submission and its source.

    Args:
        submission: the student's notebook (nbformat v4 node; not modified).
        source: the solution notebook, or ``None`` to run the submission's own cells
            (``cnncourse validate``).
        source_path: the source's path, for error messages.
        include_hidden: keep hidden tests (the autograder) or drop them.

    Raises:
        NotebookFormatError: when the source notebook has structural errors.
    """
    if source is None:
        return _prepare_without_source(submission, include_hidden)
    validate(source, source_path)
    source_cells = {}  # grade_id -> (position, cell, role)
    id_to_grade_id = {}
    for position, cell in enumerate(source.cells):
        role = cell_role(cell)
        if role in GRADED_ROLES:
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            source_cells[grade_id] = (position, cell, role)
            if cell.get("id"):
                id_to_grade_id[cell["id"]] = grade_id

    findings: list[Finding] = []
    matches: dict[int, str] = {}  # submission cell index -> source grade_id
    matched: set[str] = set()
    duplicates: set[int] = set()
    grade_ids = [_grade_id(cell) for cell in submission.cells]
    order = {g: position for g, (position, _, _) in source_cells.items()}
    source_ids = {g: cell.get("id") for g, (_, cell, _) in source_cells.items()}
    originals = _pick_copies(submission.cells, grade_ids, order, source_ids)
    for index, grade_id in enumerate(grade_ids):
        if grade_id in source_cells:
            if originals.get(grade_id, index) != index:
                duplicates.add(index)
            else:
                matches[index] = grade_id
                matched.add(grade_id)
    for index, cell in enumerate(submission.cells):  # renamed grade_id: find the cell by its id
        if index in matches or index in duplicates:
            continue
        by_id = id_to_grade_id.get(cell.get("id"))
        if by_id and by_id not in matched:
            matches[index] = by_id
            matched.add(by_id)
            old = _grade_id(cell)
            findings.append(Finding("renamed", by_id, (
                f"the cell's grade_id was changed to {old!r}; it was graded as {by_id!r}" if old else
                f"the cell's nbgrader metadata was removed; it was graded as {by_id!r}")))

    cells: list[PreparedCell] = []
    position_of: dict[str, int] = {}
    for index, cell in enumerate(submission.cells):
        if index in duplicates:
            grade_id = _grade_id(cell)
            role = source_cells[grade_id][2]
            if role in LOCKED_ROLES:
                findings.append(Finding("duplicate", grade_id,
                                        f"a copy of the locked cell {grade_id!r} (cell {index + 1}) was left out; "
                                        f"the original was graded"))
                continue
            cells.append(PreparedCell(_plain_copy(cell), "plain"))
            continue
        if index not in matches:
            grade_id = _grade_id(cell)
            if grade_id:
                findings.append(Finding("unknown", grade_id,
                                        f"the cell with grade_id {grade_id!r} is not part of the assignment; "
                                        f"it ran as an ordinary cell and earns no points"))
            cells.append(PreparedCell(_plain_copy(cell), "plain"))
            continue
        grade_id = matches[index]
        _, source_cell, role = source_cells[grade_id]
        if role in LOCKED_ROLES:
            expected = student_source(source_cell.source, source_cell.cell_type)
            if cell.cell_type != source_cell.cell_type or _normalised(cell.source) != _normalised(expected):
                findings.append(Finding("changed", grade_id, _change_detail(grade_id, role, expected, cell)))
            prepared = _from_source(source_cell, role, include_hidden)
        else:
            prepared = _answer_copy(cell, source_cell, role)
        flags_changed = _metadata_changes(cell, source_cell)
        if flags_changed:
            findings.append(Finding("metadata", grade_id, f"the cell's nbgrader metadata was edited ({flags_changed}); "
                                                          f"the source's values were used"))
        position_of[grade_id] = len(cells)
        cells.append(prepared)

    # put back the locked cells the student deleted, after the graded cell preceding them in the source
    order = sorted(source_cells, key=lambda g: source_cells[g][0])
    for number, grade_id in enumerate(order):
        if grade_id in matched:
            continue
        _, source_cell, role = source_cells[grade_id]
        if role not in LOCKED_ROLES:
            findings.append(Finding("missing_answer", grade_id,
                                    f"the {role} cell {grade_id!r} is missing from the submission"))
            continue
        anchor = next((g for g in reversed(order[:number]) if g in position_of), None)
        if anchor is not None:
            insert_at = position_of[anchor] + 1
        else:
            following = [position_of[g] for g in order[number + 1:] if g in position_of]
            insert_at = min(following) if following else len(cells)
        cells.insert(insert_at, _from_source(source_cell, role, include_hidden))
        for other, position in position_of.items():
            if position >= insert_at:
                position_of[other] = position + 1
        position_of[grade_id] = insert_at
        findings.append(Finding("deleted", grade_id, f"the {_role_name(role)} {grade_id!r} was deleted; "
                                                     f"the original was put back and graded"))
    return PreparedNotebook(cells, findings, import_references(source.cells))


def _prepare_without_source(submission, include_hidden: bool) -> PreparedNotebook:
    """The student's own notebook (``cnncourse validate``), read the way the autograder reads it.

    Locked cells whose nbgrader flags were changed (a tests cell turned into an answer
    cell) get back the flags their checksum proves; a locked cell pasted twice runs once
    (the later copy, the one after its answer cell); damaged metadata is reported.
    """
    cells: list[PreparedCell] = []
    findings: list[Finding] = []
    grade_ids = [_grade_id(cell) for cell in submission.cells]
    copies: dict[str, list[int]] = {}
    for index, grade_id in enumerate(grade_ids):
        if grade_id is not None:
            copies.setdefault(grade_id, []).append(index)
    for index, cell in enumerate(submission.cells):
        raw = cell.get("metadata", {}).get("nbgrader")
        if raw is not None and not isinstance(raw, dict):
            findings.append(Finding("metadata", "", f"cell {index + 1}: its nbgrader metadata is damaged (not a "
                                                    f"mapping); the grader finds the original cell by its id and "
                                                    f"grades that, so this check cannot tell you its result"))
        copied = copy.deepcopy(cell)
        _clear_outputs(copied)
        meta = copied.get("metadata", {}).get("nbgrader")
        grade_id = grade_ids[index]
        if isinstance(meta, dict) and meta.get("checksum") and grade_id:
            restored = _flags_from_checksum(copied)
            trial = copy.deepcopy(copied)
            if restored is not None:
                trial.metadata["nbgrader"].update(restored)
            if restored is not None and cell_role(trial) != cell_role(copied):
                findings.append(Finding("metadata", grade_id, f"the nbgrader metadata of {grade_id!r} was edited; "
                                                              f"the grader uses the original"))
                meta.update(restored)
        role = cell_role(copied)
        if role == "plain" or not grade_id:
            cells.append(PreparedCell(_plain_copy(cell), "plain"))
            continue
        if role in LOCKED_ROLES and copies[grade_id][-1] != index:
            findings.append(Finding("duplicate", grade_id, f"a copy of the locked cell {grade_id!r} (cell "
                                                           f"{index + 1}) is left out; the original is graded"))
            continue
        if role in LOCKED_ROLES and meta.get("checksum"):
            try:
                unchanged = nbgrader_checksum(copied) == meta["checksum"]
            except (KeyError, TypeError, ValueError):
                unchanged = False
            if not unchanged:
                findings.append(Finding("changed", grade_id, f"the locked {_role_name(role)} {grade_id!r} was edited: "
                                                             f"the autograder grades the original instead"))
        parts, mixed = split_tests_cell(copied.source, include_hidden) if role == "tests" else ((), False)
        cells.append(PreparedCell(copied, role, grade_id, _points(meta), parts, mixed))
    return PreparedNotebook(cells, findings, import_references(submission.cells))


def _flags_from_checksum(cell) -> dict | None:
    """The ``grade``/``solution``/``locked`` flags (and points) that reproduce the cell's recorded checksum."""
    meta = cell.metadata["nbgrader"]
    for grade in (True, False):
        for solution in (False, True):
            for locked in (True, False):
                trial = copy.deepcopy(cell)
                trial.metadata["nbgrader"].update(grade=grade, solution=solution, locked=locked)
                try:
                    if nbgrader_checksum(trial) == meta["checksum"]:
                        return {"grade": grade, "solution": solution, "locked": locked}
                except (KeyError, TypeError, ValueError):
                    return None
    return None


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) and grade_id else None


def _points(meta) -> float:
    points = meta.get("points", 0)
    return float(points) if isinstance(points, (int, float)) and not isinstance(points, bool) else 0.0


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _role_name(role: str) -> str:
    return {"tests": "tests cell", "readonly": "read-only cell"}.get(role, f"{role} cell")


def _change_detail(grade_id: str, role: str, expected: str, cell) -> str:
    diff = list(difflib.unified_diff(expected.splitlines(), cell.source.splitlines(), "original", "submitted",
                                     lineterm="", n=0))
    shown = "\n".join(diff[2:14]) + ("\n…" if len(diff) > 14 else "")
    kind = "" if cell.cell_type == "code" else f" (turned into a {cell.cell_type} cell)"
    return (f"the locked {_role_name(role)} {grade_id!r} was changed{kind}; the original was put back and "
            f"graded\n{shown}").rstrip()


_FLAGS = ("grade", "solution", "locked", "points")


def _metadata_changes(cell, source_cell) -> str:
    submitted = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(submitted, dict):
        return ""
    original = source_cell.metadata["nbgrader"]
    changed = [f"{flag}: {original.get(flag)!r} → {submitted.get(flag)!r}" for flag in _FLAGS
               if flag in original and submitted.get(flag) != original.get(flag)]
    return ", ".join(changed)


def _clear_outputs(cell) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None


def _plain_copy(cell):
    copied = copy.deepcopy(cell)
    copied.get("metadata", {}).pop("nbgrader", None)
    _clear_outputs(copied)
    return copied


def _from_source(source_cell, role: str, include_hidden: bool) -> PreparedCell:
    copied = copy.deepcopy(source_cell)
    _clear_outputs(copied)
    meta = copied.metadata["nbgrader"]
    if role == "tests":
        parts, mixed = split_tests_cell(copied.source, include_hidden)
        if not include_hidden:
            copied.source = student_source(copied.source, copied.cell_type)
        return PreparedCell(copied, role, meta["grade_id"], _points(meta), parts, mixed)
    return PreparedCell(copied, role, meta["grade_id"])


def _answer_copy(cell, source_cell, role: str) -> PreparedCell:
    copied = copy.deepcopy(cell)
    _clear_outputs(copied)
    copied.setdefault("metadata", {})["nbgrader"] = copy.deepcopy(source_cell.metadata["nbgrader"])
    meta = source_cell.metadata["nbgrader"]
    return PreparedCell(copied, role, meta["grade_id"], _points(meta) if role == "manual" else 0.0)
