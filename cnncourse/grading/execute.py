"""Execute solution notebooks in place, refreshing their outputs (what nbval compares).

Cells run one by one in a fresh kernel of the current Python environment, with the working
directory set to the notebook's folder. A progress line is printed per group of cells (a
group starts at each markdown heading), and a time per notebook at the end. A notebook
whose execution fails is not written, so the source of truth is never left half-run.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cnncourse.grading.notebook_format import notebook_text, read_notebook
from cnncourse.grading.options import CELL_TIMEOUT_SECONDS as DEFAULT_CELL_TIMEOUT
_HEADING = re.compile(r"^\s*#{1,3}\s+(.*)")


@dataclass
class ExecutionReport:
    """Outcome of executing one notebook."""

    path: Path
    seconds: float = 0.0
    error: str | None = None
    group_seconds: list[tuple[str, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def cell_groups(nb) -> list[tuple[str, list[int]]]:
    """Split cell indices into groups that start at each markdown heading.

    Returns:
        ``[(title, [cell indices]), …]``; the first group is titled ``"(start)"`` when the
        notebook does not begin with a heading.
    """
    groups: list[tuple[str, list[int]]] = []
    for index, cell in enumerate(nb.cells):
        first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
        match = _HEADING.match(first_line) if cell.cell_type == "markdown" else None
        if match or not groups:
            groups.append((match.group(1).strip() if match else "(start)", []))
        groups[-1][1].append(index)
    return groups


def execute_notebook(path: str | Path, profile: str = "quick", cell_timeout: int = DEFAULT_CELL_TIMEOUT,
                     write: bool = True, log: Callable[[str], None] = print) -> ExecutionReport:
    """Run every cell of ``path`` top to bottom and (if ``write``) save the outputs in place.

    Args:
        path: a solution notebook.
        profile: the ``CNNCOURSE_PROFILE`` the kernel runs with; outputs in solutions/ are
            those of the quick profile, the one CI checks.
        cell_timeout: seconds one cell may run.
        write: save the executed notebook when every cell succeeded.
        log: where progress lines go.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = Path(path)
    nb = read_notebook(path)
    report = ExecutionReport(path)
    env_profile = os.environ.get("CNNCOURSE_PROFILE")
    os.environ["CNNCOURSE_PROFILE"] = profile
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no transport warnings in the log
    )
    started = time.perf_counter()
    groups = cell_groups(nb)
    log(f"{path.name}: {len(nb.cells)} cells in {len(groups)} sections, profile {profile}")
    try:
        with client.setup_kernel():
            for number, (title, indices) in enumerate(groups, start=1):
                group_start = time.perf_counter()
                for index in indices:
                    try:
                        client.execute_cell(nb.cells[index], index)
                    except (CellExecutionError, CellTimeoutError) as error:
                        report.error = f"cell {index + 1}: {_first_lines(str(error))}"
                        log(f"  [{number}/{len(groups)}] {title} ✘ failed at cell {index + 1}")
                        return _finish(report, started, log)
                elapsed = time.perf_counter() - group_start
                report.group_seconds.append((title, elapsed))
                cells = f"{len(indices)} cell{'s' if len(indices) != 1 else ''}"
                log(f"  [{number}/{len(groups)}] {title} · {cells} · {elapsed:.1f} s")
    except Exception as error:  # noqa: BLE001 - a dead kernel or a start-up failure
        report.error = f"{type(error).__name__}: {_first_lines(str(error))}"
        return _finish(report, started, log)
    finally:
        if env_profile is None:
            os.environ.pop("CNNCOURSE_PROFILE", None)
        else:
            os.environ["CNNCOURSE_PROFILE"] = env_profile
    if write:
        path.write_text(notebook_text(nb), encoding="utf-8")
    return _finish(report, started, log)


def _finish(report: ExecutionReport, started: float, log: Callable[[str], None]) -> ExecutionReport:
    report.seconds = time.perf_counter() - started
    if report.ok:
        log(f"{report.path.name}: done in {report.seconds:.1f} s")
    else:
        log(f"{report.path.name}: FAILED after {report.seconds:.1f} s, not written\n    {report.error}")
    return report


def _first_lines(text: str, count: int = 12) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n    ".join(lines[-count:])

