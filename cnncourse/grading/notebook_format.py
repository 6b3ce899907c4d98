"""The notebook format: nbgrader-compatible cell roles, region markers, and their validation.

Every graded cell carries nbgrader's schema-3 metadata in ``cell.metadata["nbgrader"]``:

==================  =========  ============  ======  =========================================
role                ``grade``  ``solution``  points  what the cell holds
==================  =========  ============  ======  =========================================
``answer``          False      True          no      the student's code; solution between markers
``tests``           True       False         yes     checks; hidden tests between markers
``manual``          True       True          yes     a written (markdown) or code answer, graded by hand
``readonly``        False      False         no      ``locked: true``: a cell students may not change
==================  =========  ============  ======  =========================================

Cells without ``metadata.nbgrader`` are ordinary narrative or demo cells.

Markers, each alone on its line (leading spaces allowed in code)::

    ### BEGIN SOLUTION        ### END SOLUTION        (answer and manual cells)
    ### BEGIN HIDDEN TESTS    ### END HIDDEN TESTS    (tests cells)

:func:`validate` finds every structural error of a notebook and raises one
:class:`NotebookFormatError` that lists them, each naming the notebook and the cell.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import nbformat

SCHEMA_VERSION = 3

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

#: region name -> (begin marker, end marker, roles where the region is allowed)
REGIONS = {
    "solution": (BEGIN_SOLUTION, END_SOLUTION, ("answer", "manual")),
    "hidden": (BEGIN_HIDDEN, END_HIDDEN, ("tests",)),
}
_MARKER_RE = re.compile(r"^\s*(### (?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS))\s*$")

#: names a test cell's visible part may call to count as checking something
CHECK_NAMES = ("check",)


class NotebookFormatError(ValueError):
    """One or more structural errors in a solution notebook; the message lists them all."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Segment:
    """A run of lines in a cell: ``kind`` is ``"plain"``, ``"solution"`` or ``"hidden"``.

    ``indent`` is the indentation of the region's BEGIN marker (empty for plain segments).
    """

    kind: str
    lines: tuple[str, ...]
    indent: str = ""


def cell_role(cell) -> str:
    """The role of a cell: ``answer``, ``tests``, ``manual``, ``readonly`` or ``plain``."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not meta or not isinstance(meta, dict):
        return "plain"
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    if solution and grade:
        return "manual"
    if solution:
        return "answer"
    if grade:
        return "tests"
    if meta.get("locked"):
        return "readonly"
    return "plain"


def cell_label(path: str | Path, index: int, cell) -> str:
    """``"solutions/01_x.ipynb, cell 12 (grade_id 'conv_loops')"`` for messages (1-based)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    suffix = f" (grade_id {grade_id!r})" if grade_id else ""
    return f"{path}, cell {index + 1}{suffix}"


def split_segments(source: str, where: str = "cell") -> list[Segment]:
    """Split a cell's source into plain, solution and hidden segments.

    Raises:
        NotebookFormatError: for a marker without its pair or a region inside another,
            naming ``where`` and the line.
    """
    segments: list[Segment] = []
    current: list[str] = []
    open_region: str | None = None
    open_line = 0
    indent = ""
    for number, line in enumerate(source.splitlines(), start=1):
        match = _MARKER_RE.match(line)
        if not match:
            current.append(line)
            continue
        marker = match.group(1)
        region, is_begin = _region_of(marker)
        if is_begin:
            if open_region is not None:
                raise NotebookFormatError([
                    f"{where}: {marker!r} on line {number} is nested inside the "
                    f"{REGIONS[open_region][0]!r} opened on line {open_line}; close that region first"])
            segments.append(Segment("plain", tuple(current)))
            current, open_region, open_line = [], region, number
            indent = line[: len(line) - len(line.lstrip())]
        else:
            if open_region is None:
                raise NotebookFormatError([
                    f"{where}: {marker!r} on line {number} has no matching {REGIONS[region][0]!r} before it"])
            if open_region != region:
                raise NotebookFormatError([
                    f"{where}: {marker!r} on line {number} closes a region opened by "
                    f"{REGIONS[open_region][0]!r} on line {open_line}"])
            segments.append(Segment(region, tuple(current), indent))
            current, open_region = [], None
    if open_region is not None:
        raise NotebookFormatError([
            f"{where}: {REGIONS[open_region][0]!r} on line {open_line} is never closed by "
            f"{REGIONS[open_region][1]!r}"])
    segments.append(Segment("plain", tuple(current)))
    return [s for s in segments if s.kind != "plain" or s.lines]


def _region_of(marker: str) -> tuple[str, bool]:
    for name, (begin, end, _) in REGIONS.items():
        if marker == begin:
            return name, True
        if marker == end:
            return name, False
    raise AssertionError(marker)  # the regular expression only matches known markers


def iter_graded_cells(nb) -> Iterator[tuple[int, object, str]]:
    """Yield ``(index, cell, role)`` for every cell with an nbgrader role."""
    for index, cell in enumerate(nb.cells):
        role = cell_role(cell)
        if role != "plain":
            yield index, cell, role


def visible_source(source: str) -> str:
    """The source without hidden-test regions (what a student sees of a test cell)."""
    return "\n".join(line for seg in split_segments(source) if seg.kind != "hidden" for line in seg.lines)


def checks_something(source: str) -> bool:
    """True when ``source`` calls a check helper (``check.…(…)``) or has an ``assert``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in CHECK_NAMES:
                return True
    return False


def validate(nb, path: str | Path) -> None:
    """Check a solution notebook's structure; raise one error listing every problem.

    Problems found: unpaired or nested markers; a marker in a cell whose role does not
    allow it; a graded cell without ``grade_id`` or (for graded roles) positive ``points``;
    a duplicate ``grade_id``; an answer cell without a solution region; a test cell whose
    visible part checks nothing; a test cell with a syntax error.

    Raises:
        NotebookFormatError: naming the notebook and cell of each problem.
    """
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        role = cell_role(cell)
        where = cell_label(path, index, cell)
        source = cell.get("source", "")
        try:
            segments = split_segments(source, where)
        except NotebookFormatError as error:
            problems.extend(error.problems)
            continue
        kinds = {seg.kind for seg in segments} - {"plain"}
        for kind in sorted(kinds):
            begin, _, roles = REGIONS[kind]
            if role not in roles:
                problems.append(
                    f"{where}: {begin!r} is only allowed in {' or '.join(roles)} cells, "
                    f"but this is a {role} {cell.cell_type} cell")
        if role == "plain":
            continue
        meta = cell.metadata["nbgrader"]
        grade_id = meta.get("grade_id")
        if not grade_id:
            problems.append(f"{where}: a {role} cell needs metadata.nbgrader.grade_id")
        elif grade_id in seen_ids:
            problems.append(f"{where}: grade_id {grade_id!r} is already used by cell {seen_ids[grade_id] + 1}")
        else:
            seen_ids[grade_id] = index
        if meta.get("schema_version") != SCHEMA_VERSION:
            problems.append(f"{where}: metadata.nbgrader.schema_version must be {SCHEMA_VERSION}, "
                            f"got {meta.get('schema_version')!r}")
        if role in ("tests", "manual"):
            points = meta.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
                problems.append(f"{where}: a {role} cell needs metadata.nbgrader.points > 0, got {points!r}")
        if role == "answer" and cell.cell_type == "code" and "solution" not in kinds:
            problems.append(f"{where}: an answer cell needs a {BEGIN_SOLUTION!r} … {END_SOLUTION!r} region")
        if role == "tests":
            if cell.cell_type != "code":
                problems.append(f"{where}: a tests cell must be a code cell, got {cell.cell_type}")
                continue
            try:
                ast.parse(source)
            except SyntaxError as error:
                problems.append(f"{where}: syntax error on line {error.lineno}: {error.msg}")
                continue
            if not checks_something(visible_source(source)):
                problems.append(
                    f"{where}: the visible part of this tests cell checks nothing: call a "
                    f"check helper (check.equal, check.close, …) outside the hidden region")
    if problems:
        raise NotebookFormatError(problems)


def read_notebook(path: str | Path):
    """Read a notebook file (nbformat 4), with a clear error for a file that is not one."""
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds
        raise NotebookFormatError([f"{path}: not a readable Jupyter notebook ({type(error).__name__}: {error})"]) from None


def notebook_text(nb) -> str:
    """The canonical file content of ``nb``: sorted keys, one-space indent, final newline.

    Writing the same notebook twice gives the same bytes.
    """
    return nbformat.writes(nb, version=4) + "\n"
