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

import ast
import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.generate import nbgrader_checksum, student_source
from cnncourse.grading.notebook_format import cell_role, split_segments, validate

LOCKED_ROLES = ("tests", "readonly")
GRADED_ROLES = ("answer", "tests", "manual", "readonly")


@dataclass(frozen=True)
class TestPart:
    """One piece of a tests cell, executed on its own. ``hidden``: a hidden-test region."""

    __test__ = False  # not a pytest test class

    code: str
    hidden: bool


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
    """The notebook to run, with what was restored or found on the way."""

    cells: list[PreparedCell]
    findings: list[Finding] = field(default_factory=list)

    @property
    def tests(self) -> list[PreparedCell]:
        return [c for c in self.cells if c.role == "tests"]

    @property
    def manual(self) -> list[PreparedCell]:
        return [c for c in self.cells if c.role == "manual"]

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.tests))


# --------------------------------------------------------------------------- tests parts


def split_tests_cell(source: str, include_hidden: bool = True) -> tuple[tuple[TestPart, ...], bool]:
    """Split a tests cell's source into the parts the runner executes.

    Args:
        source: the tests cell source, with hidden regions between their markers.
        include_hidden: ``False`` leaves hidden regions out (visible tests only).

    Returns:
        ``(parts, mixed)``. ``mixed`` is True when a hidden region is indented, or cutting
        the cell would leave a part that is not valid Python on its own; then there is one
        part holding the whole cell, its markers replaced by ``check.set_hidden(…)`` calls.
    """
    segments = split_segments(source)
    hidden = [s for s in segments if s.kind == "hidden"]
    if not hidden or not include_hidden:
        code = "\n".join(line for s in segments if s.kind != "hidden" for line in s.lines)
        return ((TestPart(code, False),) if code.strip() else ()), False
    parts = [TestPart("\n".join(s.lines), s.kind == "hidden") for s in segments]
    parts = [p for p in parts if p.code.strip()]
    if all(s.indent == "" for s in hidden) and all(_parses(p.code) for p in parts):
        return tuple(parts), False
    lines = []
    for segment in segments:
        if segment.kind == "hidden":
            lines.append(f"{segment.indent}check.set_hidden(True)")
            lines.extend(segment.lines)
            lines.append(f"{segment.indent}check.set_hidden(False)")
        else:
            lines.extend(segment.lines)
    return (TestPart("\n".join(lines), True),), True


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


# --------------------------------------------------------------------------- preparation


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
    for index, cell in enumerate(submission.cells):
        grade_id = _grade_id(cell)
        if grade_id in source_cells:
            if grade_id in matched:
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
                                        f"a second copy of the locked cell {grade_id!r} was left out"))
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
    return PreparedNotebook(cells, findings)


def _prepare_without_source(submission, include_hidden: bool) -> PreparedNotebook:
    cells: list[PreparedCell] = []
    findings: list[Finding] = []
    for cell in submission.cells:
        role = cell_role(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if role == "plain" or not grade_id:
            cells.append(PreparedCell(_plain_copy(cell), "plain"))
            continue
        if role in LOCKED_ROLES and meta.get("checksum"):
            try:
                unchanged = nbgrader_checksum(cell) == meta["checksum"]
            except (KeyError, TypeError, ValueError):
                unchanged = False
            if not unchanged:
                findings.append(Finding("changed", grade_id, f"the locked {_role_name(role)} {grade_id!r} was edited: "
                                                             f"the autograder grades the original instead"))
        copied = copy.deepcopy(cell)
        _clear_outputs(copied)
        points = _points(meta)
        parts, mixed = split_tests_cell(copied.source, include_hidden) if role == "tests" else ((), False)
        cells.append(PreparedCell(copied, role, grade_id, points, parts, mixed))
    return PreparedNotebook(cells, findings)


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
