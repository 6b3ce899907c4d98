"""Which cells of a notebook run the student's code: found from the code, not from a list.

A student copy must not show the output of a cell that runs student code (a ✔ the student
has not earned), and Run All must go on past such a cell while the exercise is unfinished.
:func:`student_code_cells` finds those cells with :mod:`ast`:

1. an **answer** cell's student code is every top-level statement that holds (part of) a
   solution region; the names those statements define (functions, classes, variables) are
   *student names*. Lines the stub keeps outside the region (imports, given constants) are
   not student code;
2. a **tests** cell always counts as running student code (it checks it); like any other
   code cell, it *runs* student code from the first statement that *uses* a student name
   (anywhere in it, nested functions included), so data it defines before that point (a
   worked example the lesson reuses) does not depend on the answer;
3. every other code cell runs student code from that first use on, too;
4. from the first statement of a cell that runs student code on, every name a statement
   defines is a student name too (it follows from the student's code, or it is not defined
   when that code raises). A name a cell redefines before that point, from other names, is
   no longer a student name.

The result over-approximates on purpose (a local variable that shares a student name's name
counts as a use): clearing a lesson cell's output costs a figure until the student runs it,
keeping a dependent cell's output would show a result the student has not earned.

Cells whose source does not parse count as running student code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from cnncourse.grading.notebook_format import cell_role, split_segments

#: cell roles whose code is (or checks) the student's
STUDENT_ROLES = ("answer", "manual", "tests")


@dataclass(frozen=True)
class StudentCode:
    """What :func:`student_code_cells` found.

    Attributes:
        cells: 0-based indices of the code cells that run student code, in order.
        names: every student name, by the index of the cell that made it one.
        uses: the student names each cell reads, by cell index (why it runs student code).
    """

    cells: tuple[int, ...]
    names: dict[int, frozenset[str]]
    uses: dict[int, frozenset[str]]


def _python_source(source: str) -> str:
    """The cell's source as plain Python (IPython magics and shell escapes turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython ships with ipykernel, a dependency
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    return TransformerManager().transform_cell(source)


class _Defined(ast.NodeVisitor):
    """Names a top-level statement binds in the notebook's namespace (not inside nested scopes)."""

    def __init__(self):
        self.names: set[str] = set()
        self.rebound: set[str] = set()  # plain ``name = …`` bindings (a fresh value)

    def visit_FunctionDef(self, node):  # the body is another scope
        self.names.add(node.name)
        self.rebound.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node):
        return

    def visit_ListComp(self, node):  # comprehension variables are local to it
        return

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

    def visit_Import(self, node):
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            self.names.add(name)
            self.rebound.add(name)

    visit_ImportFrom = visit_Import

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)
            self.rebound.add(node.id)

    def visit_Attribute(self, node):  # ``obj.attr = …`` changes obj
        if isinstance(node.ctx, ast.Store):
            base = _base_name(node)
            if base:
                self.names.add(base)
        self.generic_visit(node)

    visit_Subscript = visit_Attribute


def _base_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _defined(statement: ast.stmt) -> tuple[set[str], set[str]]:
    """``(names bound or changed, names bound to a fresh value)`` by one top-level statement."""
    visitor = _Defined()
    visitor.visit(statement)
    return visitor.names, visitor.rebound


def _free(node) -> set[str]:
    """The names ``node`` reads from the notebook's namespace (not the locals of nested scopes)."""
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        outer = set().union(*(_free(d) for d in getattr(node, "decorator_list", [])),
                            *(_free(d) for d in node.args.defaults + [d for d in node.args.kw_defaults if d]))
        params = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        params |= {a.arg for a in (node.args.vararg, node.args.kwarg) if a}
        body = node.body if isinstance(node.body, list) else [node.body]
        local, declared = set(params), set()
        for statement in body:
            for inner in ast.walk(statement):
                if isinstance(inner, (ast.Global, ast.Nonlocal)):
                    declared.update(inner.names)
            if isinstance(statement, ast.stmt):
                local |= _defined(statement)[0]
        local -= declared
        return outer | (set().union(*(_free(s) for s in body)) - local)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        targets = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        parts += [g.iter for g in node.generators] + [c for g in node.generators for c in g.ifs]
        return set().union(*(_free(part) for part in parts)) - targets
    return set().union(set(), *(_free(child) for child in ast.iter_child_nodes(node)))


class _Scan:
    """Runs through a cell's statements in order, tracking the student names (see the module doc)."""

    def __init__(self, student_names: set[str], solution_lines: set[int], runs_student_code: bool):
        self.student_names = student_names
        self.solution_lines = solution_lines
        self.runs_student_code = runs_student_code
        self.made: set[str] = set()
        self.used: set[str] = set()

    def use(self, names: set[str]) -> None:
        if names & self.student_names:
            self.used |= names & self.student_names
            self.runs_student_code = True

    def bind(self, names: set[str], rebound: set[str]) -> None:
        if self.runs_student_code:
            self.made |= names
            self.student_names |= names
        else:
            self.student_names -= rebound

    def bind_target(self, target) -> None:
        if target is not None:
            self.use(_free(target))  # ``x[i] = …`` reads x and i
            names = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
            self.bind(names | {b for b in [_base_name(target)] if b}, names)

    def run(self, statements: list, top_level: bool = False) -> None:
        for statement in statements:
            if top_level and not self.runs_student_code and self.solution_lines:
                span = set(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
                self.runs_student_code = bool(span & self.solution_lines)
            if isinstance(statement, (ast.For, ast.AsyncFor)):
                self.use(_free(statement.iter))
                self.bind_target(statement.target)
                self.run(statement.body)
                self.run(statement.orelse)
            elif isinstance(statement, (ast.While, ast.If)):
                self.use(_free(statement.test))
                self.run(statement.body)
                self.run(statement.orelse)
            elif isinstance(statement, (ast.With, ast.AsyncWith)):
                for item in statement.items:
                    self.use(_free(item.context_expr))
                    self.bind_target(item.optional_vars)
                self.run(statement.body)
            elif isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
                self.run(statement.body)
                for handler in statement.handlers:
                    if handler.type is not None:
                        self.use(_free(handler.type))
                    if handler.name:
                        self.bind({handler.name}, {handler.name})
                    self.run(handler.body)
                self.run(statement.orelse)
                self.run(statement.finalbody)
            else:
                self.use(_free(statement))
                self.bind(*_defined(statement))


def _solution_lines(source: str) -> set[int]:
    """1-based line numbers of the source that lie inside a solution region (markers included)."""
    lines, number = set(), 1
    for segment in split_segments(source):
        size = len(segment.lines)
        if segment.kind == "solution":
            lines.update(range(number, number + size + 2))  # BEGIN marker, the lines, END marker
            size += 2
        number += size
    return lines


def student_code_cells(nb) -> StudentCode:
    """The code cells of a (solution or student) notebook that run student code; see the module doc.

    Args:
        nb: an nbformat notebook whose graded cells carry nbgrader metadata.
    """
    student_names: set[str] = set()
    cells: list[int] = []
    made: dict[int, frozenset[str]] = {}
    uses: dict[int, frozenset[str]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        role = cell_role(cell)
        try:
            tree = ast.parse(_python_source(cell.source))
        except SyntaxError:
            cells.append(index)
            continue
        solution_lines = _solution_lines(cell.source) if role in ("answer", "manual") else set()
        scan = _Scan(student_names, solution_lines, runs_student_code=False)
        scan.run(tree.body, top_level=True)
        if scan.runs_student_code or role in STUDENT_ROLES:
            cells.append(index)
        if scan.made:
            made[index] = frozenset(scan.made)
        if scan.used:
            uses[index] = frozenset(scan.used)
    return StudentCode(tuple(cells), made, uses)
