"""Score a prepared notebook's tests cells in a running kernel: verdicts the kernel cannot forge.

:class:`NotebookRun` runs the cells top to bottom. Plain and answer cells run as a
notebook runs them. Before the first cell, the grader's harness
(:mod:`cnncourse.grading.harness`) is installed in the kernel with the grader's own copy
of the check module's source. Each part of a tests cell (its visible code, each hidden
region) is then sent as a *silent* execution (no history, no ``_ih``/``In``/``Out``
entry, no cell events, no display hook) that asks the harness to run it, with a fresh
random token. The rules:

- **A part passes** only when the harness answers with that token and says the code raised
  nothing. A missing answer, an answer without the token, or a kernel reply that
  disagrees with the answer fails the part (and is flagged for review).
- **Partial credit** (nbgrader's rule) only when the *source* test cell ends with an
  expression that is not a ``check`` call: the harness evaluates that expression itself
  (no display hook involved) and it must be a plain int or float (a NumPy scalar counts),
  clipped to ``0 … points``; anything else scores zero with the reason. A test cell that
  ends with a check call earns all or nothing.
- **Cell tags are ignored** (``raises-exception`` or any other): only verdicts count.
- **Feedback is made of verdicts only**: the student-facing message of a test holds the
  lines the grader's check module produced for its visible parts, never what student code
  printed; a hidden part contributes "passed"/"failed" only; after a hidden part has
  run, later verdicts are cut to their ✔/✘ headlines.
- **Evidence**: what the harness had to put back before a part (a replaced ``operator``
  function, an IPython hook, a rebound ``ops``…) comes back as review evidence.
"""

from __future__ import annotations

import ast
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from cnncourse.grading.kernel import Execution, SandboxedKernel
from cnncourse.grading.notebook_hooks import NOT_IMPLEMENTED_MESSAGE
from cnncourse.grading.options import RunOptions
from cnncourse.grading.prepare import PreparedCell, PreparedNotebook

PASS_MARK, FAIL_MARK = "✔", "✘"
CUT_NOTE = ("(checks that run after hidden tests show only their ✔/✘ lines here; run the notebook yourself, "
            "or `cnncourse validate`, for the details)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


@dataclass
class TestResult:
    """The outcome of one tests cell.

    Attributes:
        grade_id: the tests cell's ``grade_id``.
        points: what it is worth.
        score: what it earned, ``0 <= score <= points``.
        status: ``passed``, ``partial`` or ``failed``.
        reason: why, for the instructor (may name hidden-test errors).
        message: what the student may see: visible verdicts only.
        hidden: ``None`` when the cell has no hidden tests, else ``passed``, ``failed`` or ``not run``.
    """

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    score: float
    status: str
    reason: str
    message: str
    hidden: str | None = None


@dataclass
class RunResult:
    """Everything one run of a notebook produced (``evidence``: ``(grade_id, what was found)`` pairs)."""

    tests: list[TestResult]
    manual: list[tuple[str, float]]
    cell_errors: list[str]
    stopped: str | None
    notebook: object
    seconds: float
    evidence: list[tuple[str, str]] = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(sum(t.score for t in self.tests))

    @property
    def max_score(self) -> float:
        return float(sum(t.points for t in self.tests))


def clean_text(text: str) -> str:
    """Text without terminal colours and memory addresses (stable from run to run)."""
    return _ADDRESS.sub("0x…", _ANSI.sub("", text))


def _headlines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.lstrip().startswith((PASS_MARK, FAIL_MARK)))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in clean_text(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def scores_by_value(code: str) -> bool:
    """Whether a tests cell's (last part's) code ends with a score expression, not a ``check`` call."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return False
    value = tree.body[-1].value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
            and isinstance(value.func.value, ast.Name) and value.func.value.id == "check":
        return False
    return not (isinstance(value, ast.Constant) and isinstance(value.value, str))  # a docstring-like string


def loaded_names(code: str) -> list[str]:
    """The global names ``code`` reads."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)})


def bootstrap_code(harness_source: str, check_sources: tuple, secret: str) -> str:
    """The first (silent) execution of every kernel: install the harness before any student code."""
    return (
        "import sys as _s, types as _t\n"
        f"_m = _t.ModuleType({secret!r})\n"
        f"exec(compile({harness_source!r}, '<cnncourse grader>', 'exec'), _m.__dict__)\n"
        "_s.modules[_m.__name__] = _m\n"
        f"_m.start(get_ipython(), {check_sources!r}, {secret!r})\n"
        "del _s, _t, _m\n"
    )


class NotebookRun:
    """The state of one notebook's run: the cells left, what happened, why it stopped."""

    def __init__(self, prepared: PreparedNotebook, kernel: SandboxedKernel, options: RunOptions,
                 harness_source: str, check_sources: tuple, on_cell: Callable[[int, int], None] | None = None):
        self.prepared, self.kernel, self.options = prepared, kernel, options
        self.harness_source, self.check_sources = harness_source, check_sources
        self.on_cell = on_cell
        self.secret = "_cnncourse_grader_" + secrets.token_hex(8)
        self.tests: list[TestResult] = []
        self.cell_errors: list[str] = []
        self.evidence: list[tuple[str, str]] = []
        self.stopped: str | None = None
        self.hidden_seen = False
        self.deadline = time.monotonic() + options.notebook_timeout

    def install(self) -> Execution:
        """Install the harness (before any cell); the caller treats a failure as a grader error."""
        return self.kernel.execute(bootstrap_code(self.harness_source, self.check_sources, self.secret),
                                   time.monotonic() + self.options.startup_timeout, self.deadline, silent=True)

    def run(self) -> None:
        cells = self.prepared.cells
        for number, prepared_cell in enumerate(cells, start=1):
            if self.on_cell:
                self.on_cell(number, len(cells))
            cell = prepared_cell.cell
            if cell.cell_type != "code":
                continue
            label = f"cell {number}" + (f" ({prepared_cell.grade_id})" if prepared_cell.grade_id else "")
            if prepared_cell.role == "tests":
                self.tests.append(self._run_tests_cell(prepared_cell, label))
            elif self.stopped is None and cell.source.strip():
                self._run_cell(prepared_cell, label)

    def _run_cell(self, prepared_cell: PreparedCell, label: str) -> None:
        until = time.monotonic() + self.options.cell_timeout
        execution = self.kernel.execute(prepared_cell.cell.source, until, self.deadline)
        prepared_cell.cell.outputs = execution.outputs
        if execution.status == "error":
            detail = (f"{execution.ename}: {_first_line(execution.evalue)}".rstrip(": ") if not self.hidden_seen
                      else "raised an exception (details are not shown after hidden tests have run)")
            self.cell_errors.append(f"{label}: {detail}")
        elif execution.status == "timeout":
            self.cell_errors.append(f"{label}: {execution.reason}")
        elif execution.status in ("killed", "dead", "deadline"):
            self.cell_errors.append(f"{label}: {execution.reason}")
            self.stopped = f"{execution.reason} (in {label})"

    def _run_part(self, prepared_cell: PreparedCell, part, scored: bool, cell_until: float) -> Execution:
        token = secrets.token_hex(16)
        references = {name: ref for name, ref in self.prepared.references.items()
                      if name in set(loaded_names(part.code))}
        request = json.dumps({"token": token, "code": part.code, "hidden": part.hidden, "score": scored,
                              "references": references, "names": loaded_names(part.code)})
        code = f"__import__('sys').modules[{self.secret!r}].run_part({request!r})"
        execution = self.kernel.execute(code, cell_until, self.deadline, silent=True, token=token)
        answer = execution.answer or {}
        for line in answer.get("evidence", []) if isinstance(answer.get("evidence"), list) else []:
            self.evidence.append((prepared_cell.grade_id, f"before this test: {str(line)[:300]}"))
        return execution

    def _run_tests_cell(self, prepared_cell: PreparedCell, label: str) -> TestResult:
        grade_id, points = prepared_cell.grade_id, prepared_cell.points
        hidden_state = "not run" if prepared_cell.has_hidden else None
        if self.stopped is not None:
            return TestResult(grade_id, points, 0.0, "failed", f"not run: {self.stopped}",
                              f"{FAIL_MARK} not run: {self.stopped}", hidden_state)
        if not prepared_cell.parts:
            return TestResult(grade_id, points, points, "passed", "passed (nothing to run)", "", hidden_state)
        cell_until = time.monotonic() + self.options.cell_timeout
        outputs, messages = [], []
        value, value_type = None, None
        last = len(prepared_cell.parts) - 1
        scored = scores_by_value(prepared_cell.parts[last].code)
        for number, part in enumerate(prepared_cell.parts):
            filtered = self.hidden_seen  # hidden inputs may have reached student code already
            execution = self._run_part(prepared_cell, part, scored and number == last, cell_until)
            outputs.extend(execution.outputs)
            prepared_cell.cell.outputs = outputs
            if part.hidden:
                self.hidden_seen = True
            answer = execution.answer
            if execution.status == "ok" and isinstance(answer, dict) and answer.get("status") == "ok":
                if not part.hidden:
                    text = clean_text("\n".join(str(v) for v in answer.get("verdicts", [])
                                                if str(v).lstrip().startswith((PASS_MARK, FAIL_MARK))))
                    messages.append(_headlines(text) if filtered else text)
                value, value_type = answer.get("value"), answer.get("value_type")
                continue
            return self._failed(prepared_cell, part, execution, messages, filtered, label)
        if prepared_cell.has_hidden:
            hidden_state = "passed"
            messages.append(f"{PASS_MARK} hidden tests passed" if not prepared_cell.mixed
                            else f"{PASS_MARK} visible and hidden checks passed")
        message = "\n".join(dict.fromkeys(m for m in messages if m))
        if not scored:
            return TestResult(grade_id, points, points, "passed", "passed", message, hidden_state)
        if not isinstance(value, (int, float)) or value != value:
            shown = f"a {value_type}" if value_type else "no number"
            return TestResult(grade_id, points, 0.0, "failed",
                              f"failed: the test's score expression gave {shown}, not a number", message
                              + f"\n{FAIL_MARK} the test's score is not a number", hidden_state)
        score = min(max(float(value), 0.0), points)
        note = "" if score == value else f" (outside 0…{points:g}: counted as {score:g})"
        status = "passed" if score >= points else "partial"
        return TestResult(grade_id, points, score, status,
                          f"partial credit: the test returned {value:g}{note}" if status == "partial" else
                          f"passed: the test returned {value:g}{note}", message, hidden_state)

    def _failed(self, prepared_cell: PreparedCell, part, execution: Execution, messages: list[str],
                filtered: bool, label: str) -> TestResult:
        grade_id, points = prepared_cell.grade_id, prepared_cell.points
        hidden_state = ("failed" if part.hidden else "not run") if prepared_cell.has_hidden else None
        answer = execution.answer if isinstance(execution.answer, dict) else None
        if execution.status in ("killed", "dead", "deadline"):
            self.stopped = f"{execution.reason} (in {label})"
            reason = execution.reason if execution.status != "dead" else f"{execution.reason} while running this test"
            messages.append(f"{FAIL_MARK} {reason}")
        elif execution.status == "timeout":
            reason = execution.reason
            messages.append(f"{FAIL_MARK} {reason}")
        elif answer is None or answer.get("status") not in ("ok", "error"):
            reason = (f"no verdict came back from the grader's harness (kernel status {execution.status}"
                      f"{': ' + execution.ename if execution.ename else ''}): something in the notebook "
                      f"interfered with the grader")
            self.evidence.append((grade_id, reason))
            messages.append(f"{FAIL_MARK} the checks could not run: something in the notebook broke the Python "
                            f"environment")
        elif answer.get("status") == "ok":  # the harness saw no error, the kernel's reply did
            reason = f"the kernel reported {execution.status} ({execution.ename}) after the test passed"
            self.evidence.append((grade_id, reason))
            messages.append(f"{FAIL_MARK} the checks could not finish: something in the notebook broke the kernel")
        else:
            ename, evalue = str(answer.get("ename", "Error")), str(answer.get("evalue", ""))
            if prepared_cell.mixed:
                reason = f"failed: {ename}: {_first_line(evalue)}"
                messages.append(f"{FAIL_MARK} failed (this test includes hidden tests, so no details are shown)")
            elif part.hidden:
                reason = f"hidden tests failed: {ename}: {_first_line(evalue)}"
                messages.append(f"{FAIL_MARK} hidden tests failed")
            else:
                if answer.get("check_failed"):
                    verdict = clean_text(str(answer["check_failed"]))
                elif answer.get("not_implemented"):
                    verdict = NOT_IMPLEMENTED_MESSAGE
                else:
                    where = str(answer.get("where", ""))
                    verdict = f"{FAIL_MARK} {ename}: {_first_line(evalue)}".rstrip(": ") + (
                        f"\n  at: {where}" if where else "")
                reason = f"visible checks failed: {_first_line(verdict) or ename}"
                shown = clean_text("\n".join(str(v) for v in answer.get("verdicts", [])))
                if filtered:
                    messages.extend([_headlines(shown), _headlines(verdict) or f"{FAIL_MARK} raised an exception",
                                     CUT_NOTE])
                else:
                    messages.extend([_headlines(shown), verdict])
        message = "\n".join(dict.fromkeys(m for m in messages if m))
        return TestResult(grade_id, points, 0.0, "failed", clean_text(reason).strip(), message, hidden_state)
