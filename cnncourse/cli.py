"""The ``cnncourse`` command.

::

    cnncourse generate [--check] [NAME …]      student notebooks from solutions/
    cnncourse execute [NOTEBOOK …]             re-run solution notebooks in place
    cnncourse doctor                            is this machine ready for the course?
    cnncourse validate NOTEBOOK                 run a notebook like the autograder (visible tests)
    cnncourse release DEST                      write the student distribution (instructors)
    cnncourse autograde SUBMISSIONS --assignment NN   grade a class into the gradebook (instructors)
    cnncourse gradebook merge|export …          combine shards' gradebooks, export CSV (instructors)

Run ``cnncourse COMMAND --help`` for the options of each.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _generate(args: argparse.Namespace) -> int:
    from cnncourse.grading.generate import generate, orphan_student_notebooks
    from cnncourse.grading.notebook_format import NotebookFormatError

    if not Path(args.solutions).is_dir():
        print(f"error: no {args.solutions}/ folder here: `cnncourse generate` writes student notebooks from the "
              f"solution notebooks, in the course repository (run it there, or pass --solutions)", file=sys.stderr)
        return 2
    try:
        results = generate(args.solutions, args.notebooks, check_only=args.check, names=args.names or None,
                           force=args.force)
    except (NotebookFormatError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for result in results:
        if result.status == "kept":
            print(f"{result.status:>9}  {result.student} (edited: your changes are kept; `generate --force` "
                  f"replaces it and keeps a copy in {Path(args.notebooks) / '.backups'}/)")
        elif result.status == "replaced":
            print(f"{result.status:>9}  {result.student} (your edited copy is in {result.backup})")
        elif result.status != "unchanged" or not args.check:
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


_INSTRUCTOR_ONLY = ("cnncourse.grading.autograde", "cnncourse.grading.gradebook", "cnncourse.grading.feedback",
                    "cnncourse.grading.release", "cnncourse.grading.submissions", "cnncourse.grading.review",
                    "cnncourse.grading.containment")


#: the commands a student copy (``cnncourse release``) offers; the others are the instructor's
STUDENT_COMMANDS = ("validate", "doctor")
INSTRUCTOR_COMMANDS = ("generate", "execute", "release", "autograde", "gradebook")


def is_student_copy() -> bool:
    """True in a student release: its marker file is beside the package, or the instructor modules are gone."""
    import importlib.util

    if (Path(__file__).resolve().parent.parent / ".cnncourse-release").is_file():
        return True
    return all(importlib.util.find_spec(name) is None for name in _INSTRUCTOR_ONLY)


def _instructor_command_message(command: str) -> str:
    return (f"error: `cnncourse {command}` belongs to the instructor's copy of the course: it lives in the course "
            f"repository (with solutions/), not in this student copy.\n"
            f"Here you can run: `cnncourse validate NOTEBOOK` (make validate NB=NOTEBOOK) and "
            f"`cnncourse doctor` (make doctor).")


def _instructor_only(command: str, error: ModuleNotFoundError) -> int:
    """The message of an instructor command run from a student release (which lacks its module)."""
    if error.name not in _INSTRUCTOR_ONLY:
        raise error
    print(f"error: `cnncourse {command}` belongs to the instructor's copy of the course; "
          f"this student copy does not include it", file=sys.stderr)
    return 2


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def _add_run_options(parser: argparse.ArgumentParser, lenient: bool = False) -> None:
    """Options shared by `validate` and `autograde`: how each notebook runs."""
    import os

    from cnncourse.grading.options import CELL_TIMEOUT_SECONDS

    group = parser.add_argument_group("running each notebook")
    group.add_argument("--cell-timeout", type=_positive(float), default=float(CELL_TIMEOUT_SECONDS),
                       metavar="SECONDS", help="seconds one cell may run before it is interrupted "
                                               f"(default: {CELL_TIMEOUT_SECONDS}, enough for training cells)")
    group.add_argument("--notebook-timeout", type=_positive(float), default=3600.0, metavar="SECONDS",
                       help="seconds the whole notebook may run (default: 3600)")
    group.add_argument("--memory", type=_positive(float), default=4.0, metavar="GIB",
                       help="memory limit of the kernel, GiB (RLIMIT_DATA; default: 4)")
    group.add_argument("--cpu-time", type=_positive(int), default=None, metavar="SECONDS",
                       help="CPU-time limit of the kernel (default: notebook timeout x CPU cores)")
    group.add_argument("--profile", choices=("quick", "full"), default=os.environ.get("CNNCOURSE_PROFILE") or "quick",
                       help="CNNCOURSE_PROFILE of the kernel (default: $CNNCOURSE_PROFILE, else quick)")
    group.add_argument("--interrupt-grace", type=_positive(float), default=10.0, metavar="SECONDS",
                       help="seconds an interrupted cell gets to stop before its kernel is stopped (default: 10)")
    if lenient:
        return
    group.add_argument("--kernel-prefix", default="", metavar="COMMAND",
                       help="run each kernel inside this command (container, sandbox); may use {workdir}, "
                            "{runtime}, {site}; see docs/grading.md")
    group.add_argument("--transport", choices=("tcp", "ipc"), default="tcp",
                       help="kernel connection: tcp (loopback) or ipc (Unix sockets, for prefixes without network)")
    group.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                       help="let kernels see this environment variable of yours (repeatable; default: none)")


def _run_options(args: argparse.Namespace):
    from cnncourse.grading.runner import RunOptions
    from cnncourse.grading.sandbox import GIB, KernelLimits, parse_prefix

    limits = KernelLimits(memory_bytes=int(args.memory * GIB), cpu_seconds=args.cpu_time)
    return RunOptions(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, limits=limits,
                      profile=args.profile, interrupt_grace=args.interrupt_grace,
                      kernel_prefix=tuple(parse_prefix(getattr(args, "kernel_prefix", "") or "")),
                      transport=getattr(args, "transport", "tcp"), pass_env=tuple(getattr(args, "pass_env", ())))


def _validate(args: argparse.Namespace) -> int:
    from cnncourse.grading.notebook_format import NotebookFormatError
    from cnncourse.grading.runner import KernelStartError
    from cnncourse.grading.selfcheck import report_text, validate_notebook

    try:
        options = _run_options(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Running {args.notebook} like the autograder (fresh kernel, visible tests only)…", flush=True)

    def progress(number: int, total: int) -> None:
        print(f"\r  cell {number}/{total}", end="", flush=True, file=sys.stderr)

    try:
        prepared, result = validate_notebook(args.notebook, options, on_cell=progress)
    except (FileNotFoundError, NotebookFormatError, KernelStartError) as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 2
    print("\r", end="", file=sys.stderr)
    print(report_text(args.notebook, prepared, result))
    return 0 if all(t.status == "passed" for t in result.tests) else 1


def _release(args: argparse.Namespace) -> int:
    try:
        from cnncourse.grading.release import ReleaseLeakError, build_release
    except ModuleNotFoundError as error:
        return _instructor_only("release", error)
    from cnncourse.grading.notebook_format import NotebookFormatError

    try:
        report = build_release(args.dest, args.repo, force=args.force)
    except (FileExistsError, FileNotFoundError, ValueError, ReleaseLeakError, NotebookFormatError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote the student release to {report.dest}: {len(report.notebooks)} notebook(s), {report.files} files")
    for name in report.notebooks:
        print(f"  notebooks/{name}")
    if report.references:
        print("note: these lines of the package's reference implementations also appear in solutions; the "
              "notebooks check answers against those modules, so students can read them:")
        for finding in report.references:
            print(f"  {finding}")
    return 0


def _autograde(args: argparse.Namespace) -> int:
    try:
        from cnncourse.grading.autograde import autograde, parse_shard
    except ModuleNotFoundError as error:
        return _instructor_only("autograde", error)
    from cnncourse.grading.notebook_format import NotebookFormatError

    try:
        shard = parse_shard(args.shard) if args.shard else None
        options = _run_options(args)
        report = autograde(args.submissions, args.assignment, solutions_dir=args.solutions,
                           gradebook=args.gradebook, csv_path=args.csv, feedback_dir=args.feedback,
                           autograded_dir=args.autograded, options=options, jobs=args.jobs, shard=shard,
                           force=args.force, isolate=args.isolate, progress=not args.quiet)
    except (FileNotFoundError, ValueError, NotebookFormatError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished submissions are in the gradebook; run the same command again to go on",
              file=sys.stderr)
        return 130
    return 0 if report.ok else 1


def _gradebook(args: argparse.Namespace) -> int:
    try:
        from cnncourse.grading.gradebook import Gradebook, merge
    except ModuleNotFoundError as error:
        return _instructor_only("gradebook", error)

    try:
        if args.action == "merge":
            outputs = {Path(args.output).resolve()}
            if outputs & {Path(p).resolve() for p in args.inputs}:
                raise ValueError("the merged gradebook must not be one of the inputs")
            report = merge(args.output, args.inputs)
            print(f"merged {len(args.inputs)} gradebook(s) into {args.output}: {report.copied} submission(s)")
            for conflict in report.conflicts:
                print(f"  graded more than once (kept the latest): {conflict}")
            csv_path = Path(args.csv) if args.csv else Path(args.output).with_suffix(".csv")
        else:
            if not Path(args.gradebook).is_file():
                raise FileNotFoundError(f"no such gradebook: {args.gradebook}")
            csv_path = Path(args.csv) if args.csv else Path(args.gradebook).with_suffix(".csv")
        with Gradebook(args.output if args.action == "merge" else args.gradebook) as book:
            book.export_csv(csv_path)
        print(f"CSV written to {csv_path}")
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _add_grading_commands(commands) -> None:
    """The student-release, validation and grading subcommands."""
    val = commands.add_parser("validate", help="run a notebook like the autograder and show the expected score")
    val.add_argument("notebook", help="the notebook to check, e.g. notebooks/00_welcome.ipynb")
    _add_run_options(val, lenient=True)
    val.set_defaults(run=_validate)

    rel = commands.add_parser("release", help="write the student distribution (no solutions, no hidden tests)")
    rel.add_argument("dest", help="folder to write (must not exist, or hold an earlier release with --force)")
    rel.add_argument("--repo", default=".", help="the course repository (default: the current folder)")
    rel.add_argument("--force", action="store_true", help="replace an earlier release in DEST")
    rel.set_defaults(run=_release)

    auto = commands.add_parser(
        "autograde", help="grade a folder of submissions into the gradebook",
        description="Grade SUBMISSIONS/<student_id>/<NN_slug>.ipynb (or SUBMISSIONS/<student_id>.ipynb) "
                    "against solutions/<NN_slug>.ipynb; see docs/grading.md.")
    auto.add_argument("submissions", help="folder of submissions")
    auto.add_argument("--assignment", required=True, metavar="NN", help="the notebook to grade: 03 or 03_first_cnns")
    auto.add_argument("--solutions", default="solutions", help="solution notebooks folder (default: solutions)")
    auto.add_argument("--gradebook", default="gradebook.sqlite", help="SQLite gradebook (default: gradebook.sqlite)")
    auto.add_argument("--csv", default=None, help="CSV export (default: the gradebook's name with .csv)")
    auto.add_argument("--feedback", default=None, help="HTML feedback folder (default: feedback/ by the gradebook)")
    auto.add_argument("--autograded", default=None,
                      help="executed notebooks folder (default: autograded/ by the gradebook)")
    auto.add_argument("--jobs", type=_positive(int), default=1, help="submissions graded in parallel (default: 1)")
    auto.add_argument("--shard", default=None, metavar="I/N",
                      help="grade only shard I of N (1-based), e.g. $SLURM_ARRAY_TASK_ID/8")
    auto.add_argument("--force", action="store_true", help="grade again what is already graded")
    contain = auto.add_mutually_exclusive_group()
    contain.add_argument("--isolate", action="store_true", default=None,
                         help="insist on containing each kernel (the default whenever the machine can: own PID, "
                              "mount and network namespaces, everything read-only but its own folder, solutions, "
                              "submissions, gradebook and credentials hidden); fail when it cannot")
    contain.add_argument("--no-isolate", dest="isolate", action="store_false",
                         help="do not contain kernels (said at the start and recorded in the gradebook)")
    auto.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_run_options(auto)
    auto.set_defaults(run=_autograde)

    book = commands.add_parser("gradebook", help="merge gradebooks (one per shard) or export one to CSV")
    actions = book.add_subparsers(dest="action", required=True, metavar="ACTION")
    merge_parser = actions.add_parser("merge", help="combine gradebooks into OUTPUT (and write its CSV)")
    merge_parser.add_argument("output", help="the merged gradebook (created or updated)")
    merge_parser.add_argument("inputs", nargs="+", help="gradebooks to combine")
    merge_parser.add_argument("--csv", default=None, help="CSV export (default: OUTPUT's name with .csv)")
    export_parser = actions.add_parser("export", help="write the CSV of a gradebook")
    export_parser.add_argument("gradebook", help="the gradebook")
    export_parser.add_argument("--csv", default=None, help="CSV file (default: the gradebook's name with .csv)")
    book.set_defaults(run=_gradebook)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnncourse", description="Author, run and grade the cnncourse notebooks.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="write notebooks/ (student copies) from solutions/")
    gen.add_argument("names", nargs="*", help="only these notebooks (file names or stems)")
    gen.add_argument("--check", action="store_true", help="write nothing; exit 1 if a student notebook is stale")
    gen.add_argument("--force", action="store_true",
                     help="also replace student notebooks someone edited (each is first copied to "
                          "NOTEBOOKS/.backups/NAME.YYYYmmdd-HHMMSS.ipynb); without it they are kept")
    gen.add_argument("--solutions", default="solutions", help="solution notebooks folder (default: solutions)")
    gen.add_argument("--notebooks", default="notebooks", help="student notebooks folder (default: notebooks)")
    gen.set_defaults(run=_generate)

    exe = commands.add_parser("execute", help="re-execute solution notebooks in place (refreshes outputs)")
    exe.add_argument("notebooks", nargs="*", help="notebooks to run (default: every solution notebook)")
    exe.add_argument("--solutions", default="solutions", help="solution notebooks folder (default: solutions)")
    exe.add_argument("--profile", choices=("quick", "full"), default="quick",
                     help="profile the notebooks run with (default: quick, the one CI checks)")
    from cnncourse.grading.options import CELL_TIMEOUT_SECONDS

    exe.add_argument("--timeout", type=int, default=CELL_TIMEOUT_SECONDS,
                     help=f"seconds one cell may run (default: {CELL_TIMEOUT_SECONDS})")
    exe.set_defaults(run=_execute)

    doc = commands.add_parser("doctor", help="check that this machine has what the notebooks need")
    doc.set_defaults(run=_doctor)

    _add_grading_commands(commands)
    if is_student_copy():
        parser.description = "Check your cnncourse notebooks: validate one like the autograder, check this machine."
        # list only the student commands; main() explains where the others live
        commands._choices_actions[:] = [a for a in commands._choices_actions if a.dest in STUDENT_COMMANDS]
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in INSTRUCTOR_COMMANDS and is_student_copy():
        print(_instructor_command_message(argv[0]), file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    return args.run(args)
