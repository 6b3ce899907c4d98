"""Run a prepared notebook in a fresh sandboxed kernel and score it: the one code path of grading.

Used by the autograder (with hidden tests) and by ``cnncourse validate`` (visible tests
only), so that the two always agree on the visible part. :func:`run_notebook` makes a
private temporary folder (working directory, runtime folder, the kernel's own read-only
copy of the package), starts a kernel (:mod:`cnncourse.grading.kernel`), installs the
grader's harness, runs the cells and scores the tests (:mod:`cnncourse.grading.scoring`).

The grader's own files (the check module's source, the harness, the package the kernel
imports) come from a :class:`GraderFiles` read once: the autograder reads it before any
submission runs, so nothing a kernel writes on disk changes how a later one is graded.

The rules of scoring, time limits and feedback are in :mod:`cnncourse.grading.scoring`
and ``docs/grading.md``.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import nbformat

from cnncourse.grading.kernel import KernelStartError, SandboxedKernel
from cnncourse.grading.options import (
    CELL_TIMEOUT_SECONDS,
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_NOTEBOOK_TIMEOUT,
    DEFAULT_OUTPUT_LIMIT,
    RunOptions,
)
from cnncourse.grading.prepare import PreparedNotebook
from cnncourse.grading.sandbox import package_snapshot, remove_tree, write_package
from cnncourse.grading.scoring import NotebookRun, RunResult, TestResult, clean_text

__all__ = ["CELL_TIMEOUT_SECONDS", "DEFAULT_CELL_TIMEOUT", "DEFAULT_NOTEBOOK_TIMEOUT", "DEFAULT_OUTPUT_LIMIT",
           "GraderFiles", "KernelStartError", "RunOptions", "RunResult", "TestResult", "clean_text", "run_notebook"]

_HERE = Path(__file__).resolve().parent
#: the modules a test's ``check`` is made of, in import order (each needs only the standard library and NumPy);
#: the kernel rebuilds them from these sources for every test, so student code that changed the imported
#: ones (a function's ``__code__`` swapped, say) changes nothing a test uses
CHECK_MODULES = ("cnncourse.grading.verdicts", "cnncourse.grading.forbid", "cnncourse.grading.check")


@dataclass(frozen=True)
class GraderFiles:
    """The grader's own files, read once (picklable, so workers get the same bytes).

    Attributes:
        check_sources: ``((module name, source), ...)`` of the modules the checks are made of
            (:data:`CHECK_MODULES`, in import order), which the kernel rebuilds for every test.
        harness_source: the source of ``cnncourse/grading/harness.py``.
        package: the package files the kernel's copy holds (see :func:`~cnncourse.grading.sandbox.package_snapshot`).
    """

    check_sources: tuple
    harness_source: str
    package: dict

    @classmethod
    def read(cls, exclude_modules: Iterable[str] = ()) -> "GraderFiles":
        """Read the files now, leaving ``exclude_modules`` (paths relative to the package) out of the copy."""
        package = package_snapshot(exclude_modules)
        sources = tuple((name, package[name.split(".", 1)[1].replace(".", "/") + ".py"].decode("utf-8"))
                        for name in CHECK_MODULES)
        return cls(sources, (_HERE / "harness.py").read_text(encoding="utf-8"), package)


def run_notebook(prepared: PreparedNotebook, options: RunOptions | None = None,
                 exclude_modules: Iterable[str] = (), on_cell: Callable[[int, int], None] | None = None,
                 files: GraderFiles | None = None) -> RunResult:
    """Run a prepared notebook in a fresh sandboxed kernel and score its tests cells.

    Args:
        prepared: from :func:`cnncourse.grading.prepare.prepare`.
        options: limits and timeouts (default :class:`RunOptions`).
        exclude_modules: package files left out of the kernel's copy (when ``files`` is not given).
        on_cell: called with ``(cell number, number of cells)`` before each cell.
        files: the grader's files read earlier (default: read now).

    Returns:
        A :class:`RunResult`; its ``notebook`` is the executed notebook (hidden-test outputs
        included: for the instructor only).

    Raises:
        KernelStartError: when the kernel cannot start, or the grader's harness could not be
            installed (nothing of the submission ran).
    """
    options = options or RunOptions()
    files = files or GraderFiles.read(exclude_modules)
    base = Path(tempfile.mkdtemp(prefix="cnncourse-run-", dir=options.workdir_root))
    workdir, runtime_dir, site_dir = base / "work", base / "runtime", base / "site"
    for folder in (workdir, runtime_dir, site_dir):
        folder.mkdir()
    started = time.monotonic()
    try:
        write_package(site_dir, files.package)
        if options.kernel_uid is not None:
            base.chmod(0o755)
        with SandboxedKernel(workdir, runtime_dir, site_dir, options) as kernel:
            run = NotebookRun(prepared, kernel, options, files.harness_source, files.check_sources, on_cell)
            installed = run.install()
            if installed.status != "ok":
                raise KernelStartError(f"the grader's harness could not be installed in the kernel: "
                                       f"{installed.status} {installed.ename}: {installed.evalue}".strip())
            run.run()
    finally:
        remove_tree(base)
    nb = nbformat.v4.new_notebook()
    nb.cells = [pc.cell for pc in prepared.cells]
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"graded-{number:03d}"
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return RunResult(run.tests, [(pc.grade_id, pc.points) for pc in prepared.manual], run.cell_errors,
                     run.stopped, nb, time.monotonic() - started, run.evidence)


def hand_over(folders: Iterable[Path], uid: int) -> None:
    """Give ``folders`` (and what they hold) to the kernel's user id."""
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
