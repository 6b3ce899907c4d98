"""``cnncourse validate NOTEBOOK``: run a notebook the way the autograder does, visible tests only.

For students, before they hand in. The notebook runs top to bottom in a fresh kernel with
the autograder's sandbox, time limits and protected checks (:mod:`cnncourse.grading.runner`),
so code that only worked thanks to cells run earlier or out of order shows up here. The
report lists each tests cell with its verdict, locked cells that were edited (the grader
will put the originals back: detected with nbgrader's checksums; an edited tests cell
counts as failed here, since its verdict proves nothing), and the score to expect from the
visible tests. Hidden tests run only at grading time and may lower that score.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from cnncourse.grading.notebook_format import read_notebook
from cnncourse.grading.prepare import PreparedNotebook, prepare
from cnncourse.grading.runner import RunOptions, RunResult, run_notebook


def validate_notebook(path: str | Path, options: RunOptions | None = None,
                      on_cell: Callable[[int, int], None] | None = None) -> tuple[PreparedNotebook, RunResult]:
    """Run ``path`` like the autograder, without hidden tests.

    Resource limits the system refuses only cause a warning here (a student's laptop may
    not support them all).

    Raises:
        FileNotFoundError: no such notebook.
        NotebookFormatError: the file is not a readable notebook.
        KernelStartError: the kernel could not start.
    """
    options = options or RunOptions()
    options = replace(options, limits=replace(options.limits, strict=False))
    nb = read_notebook(path)
    prepared = prepare(nb, source=None, include_hidden=False)
    result = run_notebook(prepared, options, on_cell=on_cell)
    edited = {f.grade_id for f in prepared.findings if f.kind == "changed"}
    for number, test in enumerate(result.tests):
        if test.grade_id in edited:  # its verdict here means nothing: the grader runs the original
            result.tests[number] = replace(test, score=0.0, status="failed", reason="locked cell edited",
                                           message="✘ you edited this locked tests cell, so its result here means "
                                                   "nothing: the grader runs the original. Undo your change.")
    return prepared, result


def report_text(path: str | Path, prepared: PreparedNotebook, result: RunResult) -> str:
    """The report ``cnncourse validate`` prints."""
    lines = [f"{Path(path).name}: ran in {result.seconds:.1f} s", ""]
    for test in result.tests:
        mark = {"passed": "✔", "partial": "◐", "failed": "✘"}[test.status]
        lines.append(f"{mark} {test.grade_id}: {test.score:g} / {test.points:g}")
        lines.extend(f"    {line}" for line in test.message.splitlines() if line.strip())
    for grade_id, points in result.manual:
        lines.append(f"… {grade_id}: {points:g} point(s), graded by hand")
    if prepared.findings:
        lines += ["", "Locked cells you changed (the grader puts the originals back):"]
        lines.extend(f"  - {finding.detail}" for finding in prepared.findings)
    if result.cell_errors:
        lines += ["", "Cells that failed:"]
        lines.extend(f"  - {error}" for error in result.cell_errors)
    if not result.tests:
        lines += ["", "This notebook has no graded tests."]
    else:
        lines += ["", f"Expected score from the visible tests: {result.score:g} / {result.max_score:g} points.",
                  "Hidden tests run when your notebook is graded and may lower it."]
    return "\n".join(lines)
