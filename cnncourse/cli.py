"""The ``cnncourse`` command.

::

    cnncourse generate [--check] [NAME …]      student notebooks from solutions/
    cnncourse execute [NOTEBOOK …]             re-run solution notebooks in place
    cnncourse doctor                            is this machine ready for the course?

Run ``cnncourse COMMAND --help`` for the options of each.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _generate(args: argparse.Namespace) -> int:
    from cnncourse.grading.generate import generate, orphan_student_notebooks
    from cnncourse.grading.notebook_format import NotebookFormatError

    try:
        results = generate(args.solutions, args.notebooks, check_only=args.check, names=args.names or None)
    except (NotebookFormatError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for result in results:
        if result.status != "unchanged" or not args.check:
            print(f"{result.status:>9}  {result.student}")
    stale = [r for r in results if r.status == "stale"]
    orphans = [] if args.names else orphan_student_notebooks(args.solutions, args.notebooks)
    for orphan in orphans:
        print(f"   orphan  {orphan} (no solution notebook: delete it)")
    if args.check:
        if stale or orphans:
            print(f"{len(stale) + len(orphans)} student notebook(s) out of date: run `cnncourse generate`",
                  file=sys.stderr)
            return 1
        print(f"all {len(results)} student notebooks are up to date")
    return 0


def _execute(args: argparse.Namespace) -> int:
    from cnncourse.grading.execute import execute_notebook
    from cnncourse.grading.generate import solution_paths

    paths = [Path(p) for p in args.notebooks] or solution_paths(args.solutions)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    reports = [execute_notebook(p, profile=args.profile, cell_timeout=args.timeout) for p in paths]
    print("\nTime per notebook:")
    for report in reports:
        print(f"  {report.path.name:<40} {report.seconds:7.1f} s  {'ok' if report.ok else 'FAILED'}")
    failed = [r for r in reports if not r.ok]
    if not failed:
        print("Outputs refreshed; run `cnncourse generate` to update the student notebooks.")
    return 1 if failed else 0


def _doctor(args: argparse.Namespace) -> int:
    from cnncourse.doctor import diagnose, report

    text, code = report(diagnose())
    print(text)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnncourse", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="write notebooks/ (student copies) from solutions/")
    gen.add_argument("names", nargs="*", help="only these notebooks (file names or stems)")
    gen.add_argument("--check", action="store_true", help="write nothing; exit 1 if a student notebook is stale")
    gen.add_argument("--solutions", default="solutions", help="solution notebooks folder (default: solutions)")
    gen.add_argument("--notebooks", default="notebooks", help="student notebooks folder (default: notebooks)")
    gen.set_defaults(run=_generate)

    exe = commands.add_parser("execute", help="re-execute solution notebooks in place (refreshes outputs)")
    exe.add_argument("notebooks", nargs="*", help="notebooks to run (default: every solution notebook)")
    exe.add_argument("--solutions", default="solutions", help="solution notebooks folder (default: solutions)")
    exe.add_argument("--profile", choices=("quick", "full"), default="quick",
                     help="profile the notebooks run with (default: quick, the one CI checks)")
    exe.add_argument("--timeout", type=int, default=900, help="seconds one cell may run (default: 900)")
    exe.set_defaults(run=_execute)

    doc = commands.add_parser("doctor", help="check that this machine has what the notebooks need")
    doc.set_defaults(run=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
