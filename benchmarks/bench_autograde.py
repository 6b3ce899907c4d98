"""Autograding throughput: N copies of one submission, graded with --jobs 1 and --jobs 2 (and more).

    python benchmarks/bench_autograde.py                         # 40 copies of the tiny notebook
    python benchmarks/bench_autograde.py --notebook welcome --copies 8 --jobs 1 2 4

Each copy is graded in full, as ``cnncourse autograde`` does it: read, restore locked cells,
fresh sandboxed kernel, every cell, gradebook row, HTML feedback. The ``tiny`` notebook
(three exercises, no TensorFlow) measures the grader's own overhead (mostly kernel
start-up); ``welcome`` is the course's real first notebook (imports TensorFlow and trains
a small network), closer to a real class. Prints the wall time, submissions per minute
and seconds per submission for each ``--jobs``, and the speed-up over ``--jobs 1``
measured in the same run. Every copy must score full marks (checked), so a fast but
broken grader cannot look good.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the corpus builders live with the tests

from cnncourse.grading.autograde import autograde  # noqa: E402
from cnncourse.grading.gradebook import Gradebook  # noqa: E402
from cnncourse.grading.runner import RunOptions  # noqa: E402
from test_autograde_corpus import WELCOME, tiny_corpus, welcome_corpus, write_tiny_assignment  # noqa: E402


def prepare_batch(root: Path, notebook: str, copies: int) -> tuple[Path, str, float]:
    """Write the source and ``copies`` identical correct submissions; return (solutions, assignment, max score)."""
    if notebook == "tiny":
        solutions = write_tiny_assignment(root, "07_tiny")
        case, name = next(c for c in tiny_corpus() if c.name == "correct"), "07_tiny"
    else:
        solutions = root / "solutions"
        solutions.mkdir()
        shutil.copy2(WELCOME, solutions / WELCOME.name)
        case, name = next(c for c in welcome_corpus() if c.name == "correct"), WELCOME.stem
    for number in range(copies):
        folder = root / "submissions" / f"student{number:03d}"
        folder.mkdir(parents=True)
        (folder / f"{name}.ipynb").write_text(case.content, encoding="utf-8")
    return solutions, name, case.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", choices=("tiny", "welcome"), default="tiny")
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    print(f"{args.copies} copies of one correct '{args.notebook}' submission; {os.cpu_count()} CPU cores; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    options = RunOptions(cell_timeout=600)
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as folder:
        root = Path(folder)
        solutions, assignment, full_marks = prepare_batch(root, args.notebook, args.copies)
        results = []
        for jobs in args.jobs:
            gradebook = root / f"jobs{jobs}" / "gradebook.sqlite"
            started = time.perf_counter()
            report = autograde(root / "submissions", assignment, solutions_dir=solutions, gradebook=gradebook,
                               options=options, jobs=jobs, progress=True, log=lambda line: None)
            seconds = time.perf_counter() - started
            with Gradebook(gradebook) as book:
                scores = [row["score"] for row in book.submissions(assignment)]
            if not report.ok or len(scores) != args.copies or any(s != full_marks for s in scores):
                raise SystemExit(f"--jobs {jobs}: grading went wrong: {report.errors or scores}")
            results.append((jobs, seconds))
        print(f"\n{'jobs':>4}  {'wall s':>7}  {'submissions/min':>15}  {'s/submission':>12}  {'speed-up':>8}")
        baseline = results[0][1]
        for jobs, seconds in results:
            print(f"{jobs:>4}  {seconds:7.1f}  {60 * args.copies / seconds:15.1f}  {seconds / args.copies:12.2f}  "
                  f"{baseline / seconds:7.2f}x")


if __name__ == "__main__":
    main()
