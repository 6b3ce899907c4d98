"""pytest plugin for nbval runs: keep each notebook as it ran, and a table of times.

The GPU workflow and ``benchmarks/gpu_smoke.sh`` run the solution notebooks once, under nbval,
and want both the verdict and the evidence::

    python -m pytest -p benchmarks.nbval_record --nbval-record=DIR solutions/

writes ``DIR/executed/NAME.ipynb`` (every cell with the outputs of this run, whatever nbval
compared) and ``DIR/timing.tsv`` / ``DIR/timing.txt`` (per notebook: cells run, failed cells,
seconds), and prints the table at the end of the run.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path

import pytest

_RECORDS: dict[str, dict] = defaultdict(lambda: {"nb": None, "cells": 0, "failed": 0, "seconds": 0.0})


def pytest_addoption(parser):
    parser.addoption("--nbval-record", metavar="DIR", default=None,
                     help="save each notebook nbval ran, with its new outputs, and a timing table into DIR")


def _is_nbval_cell(item) -> bool:
    return hasattr(item, "cell") and hasattr(item, "test_outputs") and hasattr(item.parent, "nb")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or not item.config.getoption("nbval_record") or not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    record = _RECORDS[str(item.path)]
    record["nb"] = item.parent.nb
    record["cells"] += 1
    record["failed"] += int(report.failed)
    record["seconds"] += report.duration
    if item.test_outputs is not None:
        item.cell.outputs = copy.deepcopy(item.test_outputs)


def timing_table(records: dict[str, dict]) -> list[tuple[str, int, int, float]]:
    """``[(notebook name, cells, failed cells, seconds), …]`` sorted by name, then a ``TOTAL`` row."""
    rows = [(Path(path).name, r["cells"], r["failed"], r["seconds"]) for path, r in sorted(records.items())]
    rows.append(("TOTAL", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows)))
    return rows


def format_table(rows) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'notebook':<{width}}  {'cells':>5}  {'failed':>6}  {'seconds':>8}"]
    lines += [f"{name:<{width}}  {cells:>5}  {failed:>6}  {seconds:>8.1f}" for name, cells, failed, seconds in rows]
    return "\n".join(lines)


def pytest_sessionfinish(session, exitstatus):
    folder = session.config.getoption("nbval_record")
    if not folder or not _RECORDS:
        return
    import nbformat

    folder = Path(folder)
    (folder / "executed").mkdir(parents=True, exist_ok=True)
    for path, record in _RECORDS.items():
        if record["nb"] is not None:
            nbformat.write(record["nb"], folder / "executed" / Path(path).name)
    rows = timing_table(_RECORDS)
    (folder / "timing.tsv").write_text("notebook\tcells\tfailed\tseconds\n" + "".join(
        f"{name}\t{cells}\t{failed}\t{seconds:.1f}\n" for name, cells, failed, seconds in rows))
    table = format_table(rows)
    (folder / "timing.txt").write_text(table + "\n")
    session.config._nbval_record_table = table


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    table = getattr(config, "_nbval_record_table", None)
    if table:
        terminalreporter.write_sep("-", "nbval times per notebook")
        terminalreporter.write_line(table)
