"""How a tests cell runs: its parts (visible code, hidden regions), and the names a notebook imports.

:func:`split_tests_cell` cuts a tests cell into the parts the runner executes one after the
other; :func:`import_references` lists the names a notebook binds with ``import`` statements,
which the harness binds to the real modules before each test part.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from cnncourse.grading.notebook_format import split_segments

__all__ = ["TestPart", "import_references", "split_tests_cell"]


@dataclass(frozen=True)
class TestPart:
    """One piece of a tests cell, executed on its own. ``hidden``: a hidden-test region."""

    __test__ = False  # not a pytest test class

    code: str
    hidden: bool



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


def import_references(cells) -> dict[str, tuple[str, str | None]]:
    """``{name: (module, attribute or None)}`` for every name bound by an import in ``cells``' code."""
    references: dict[str, tuple[str, str | None]] = {}
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse("\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                                       for line in cell.get("source", "").splitlines()))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        references[alias.asname] = (alias.name, None)
                    else:
                        references[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        references[alias.asname or alias.name] = (node.module, alias.name)
    return references
