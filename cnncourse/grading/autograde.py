"""Grade a folder of submissions into the gradebook: ``cnncourse autograde``.

Submissions are laid out one folder per student, the notebook keeping its course name::

    SUBMISSIONS/
        alice/03_first_cnns.ipynb
        bob/03_first_cnns.ipynb
        …

or flat, one notebook per student named by the student's id::

    SUBMISSIONS/alice.ipynb   SUBMISSIONS/bob.ipynb   …

(both may be mixed; names starting with ``.`` are ignored). In a student's folder the
notebook is ``<NN_slug>.ipynb``, or failing that the only ``NN_*.ipynb`` there. A student
folder without it is recorded as ``missing`` (zero points, with the reason).

For each submission: read it (a file that is not a notebook gets zero with the reason; the
batch goes on), restore locked and tests cells from the solution notebook and re-insert
the hidden tests (:mod:`cnncourse.grading.prepare`), run it in a fresh sandboxed kernel
(:mod:`cnncourse.grading.runner`, :mod:`cnncourse.grading.sandbox`), and store the grades
(:mod:`cnncourse.grading.gradebook`) and an HTML feedback page
(:mod:`cnncourse.grading.feedback`). The executed notebook is kept for the instructor under
``autograded/``.

A submission whose file has not changed since it was graded is skipped unless
``force``; each submission's grades are committed in one transaction, so a run that is
killed loses nothing already finished and the next run resumes. ``jobs`` grades several
submissions at once in separate processes; ``shard=(i, n)`` grades only the students of
shard ``i`` of ``n`` (stable: a student's shard depends only on their id), so that a batch
system (a Slurm array, Kubernetes indexed jobs, a CI matrix) can spread a class over
machines; ``cnncourse gradebook merge`` then combines the shards' gradebooks.

A kernel that cannot even start is a problem of the grading machine, not of the
submission: nothing is recorded for it and the run ends with an error listing it.

``isolate=True`` (``--isolate``) runs every kernel in its own Linux namespaces; what that
adds, and what no option here contains, is described in ``docs/grading.md``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import multiprocessing
import os
import re
import sys
import tempfile
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import nbformat

from cnncourse.grading.feedback import feedback_html
from cnncourse.grading.gradebook import Gradebook, SubmissionGrade, TestGrade, atomic_write, now_utc
from cnncourse.grading.notebook_format import cell_role, notebook_text, read_notebook, validate
from cnncourse.grading.prepare import prepare
from cnncourse.grading.release import INSTRUCTOR_ONLY_MODULES
from cnncourse.grading.runner import KernelStartError, RunOptions, run_notebook
from cnncourse.grading.sandbox import SENSITIVE_HOME_ENTRIES, isolation_prefix, isolation_problem, remove_tree

MAX_SUBMISSION_BYTES = 200 * 2**20
MISSING_SHA256 = "missing"


class InvalidSubmission(ValueError):
    """A submitted file that is not a readable Jupyter notebook."""


# --------------------------------------------------------------------------- finding the work


@dataclass(frozen=True)
class Submission:
    """One student's submission: ``path`` is ``None`` when there is none (``problem`` says why)."""

    student_id: str
    path: Path | None
    problem: str = ""


def resolve_source(solutions_dir: str | Path, assignment: str) -> Path:
    """The solution notebook for ``assignment`` (``"03"``, ``"03_first_cnns"`` or a file name).

    Raises:
        FileNotFoundError: naming the folder and the notebooks it has.
    """
    solutions_dir = Path(solutions_dir)
    stem = Path(assignment).stem
    candidates = sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb"))
    exact = [p for p in candidates if p.stem == stem]
    if exact:
        return exact[0]
    numbered = [p for p in candidates if p.stem.split("_", 1)[0] == stem]
    if len(numbered) == 1:
        return numbered[0]
    found = ", ".join(p.stem for p in candidates) or "none"
    if len(numbered) > 1:
        raise FileNotFoundError(f"assignment {assignment!r} matches several notebooks in {solutions_dir}: "
                                f"{', '.join(p.stem for p in numbered)}")
    raise FileNotFoundError(f"no solution notebook for assignment {assignment!r} in {solutions_dir} (found: {found})")


def find_submissions(folder: str | Path, assignment_stem: str) -> list[Submission]:
    """The submissions in ``folder`` for one assignment, sorted by student id (see the module doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist or is not a folder")
    number = assignment_stem.split("_", 1)[0]
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found[entry.stem] = Submission(entry.stem, entry)
        elif entry.is_dir():
            exact = entry / f"{assignment_stem}.ipynb"
            numbered = sorted(p for p in entry.glob(f"{number}_*.ipynb") if not p.name.startswith("."))
            if exact.is_file():
                found[entry.name] = Submission(entry.name, exact)
            elif len(numbered) == 1:
                found[entry.name] = Submission(entry.name, numbered[0])
            else:
                present = ", ".join(p.name for p in sorted(entry.glob("*.ipynb"))) or "no notebook"
                problem = (f"several notebooks could be the submission: {present}" if numbered else
                           f"no {assignment_stem}.ipynb in the student's folder (found: {present})")
                found[entry.name] = Submission(entry.name, None, problem)
    return [found[k] for k in sorted(found)]


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)``: shard 2 of 8, numbered from 1.

    Raises:
        ValueError: for anything else than ``i/n`` with ``1 <= i <= n``.
    """
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise ValueError(f"shard must look like i/n (e.g. 2/8), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"shard {text!r}: need 1 <= i <= n, got i={index}, n={count}")
    return index, count


def shard_of(student_id: str, count: int) -> int:
    """The shard (1…count) a student belongs to: a hash of the id, stable as the class changes."""
    digest = hashlib.sha256(student_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_submission(data: bytes, name: str = "submission"):
    """Read a submitted file as a notebook (nbformat 4).

    Raises:
        InvalidSubmission: naming what is wrong (size, encoding, JSON, notebook structure).
    """
    if len(data) > MAX_SUBMISSION_BYTES:
        raise InvalidSubmission(f"{name} is {len(data) / 2**20:.0f} MiB, more than the "
                                f"{MAX_SUBMISSION_BYTES // 2**20} MiB a notebook may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidSubmission(f"{name} is not UTF-8 text (byte {error.start}): not a notebook") from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidSubmission(f"{name} is not valid JSON (line {error.lineno}, column {error.colno}: "
                                f"{error.msg}): the file is damaged or not a notebook") from None
    if not isinstance(content, dict) or not isinstance(content.get("cells", content.get("worksheets")), list):
        raise InvalidSubmission(f"{name} is JSON but not a Jupyter notebook (it has no list of cells)")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds
        raise InvalidSubmission(f"{name} is not a readable Jupyter notebook "
                                f"({type(error).__name__}: {error})") from None
    for number, cell in enumerate(nb.cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw") \
                or not isinstance(cell.get("source"), str) or not isinstance(cell.get("metadata", {}), dict) \
                or (cell.get("cell_type") == "code" and not isinstance(cell.get("outputs", []), list)):
            raise InvalidSubmission(f"{name}: cell {number} is malformed (its cell_type, source, metadata or "
                                    f"outputs are not what a notebook has)")
    return nb


# --------------------------------------------------------------------------- review flags

_WATCHED_NAMES = {"check", "np", "numpy", "tf", "tensorflow", "keras", "cnncourse", "builtins", "sys",
                  "IPython", "math", "random", "importlib", "os"}
_WATCHED_CALLS = {"os._exit", "os.kill", "os.killpg", "ctypes.CDLL", "importlib.reload", "get_ipython",
                  "signal.signal", "sys.settrace", "sys.setprofile", "gc.get_referrers", "gc.get_objects"}


def _dotted(node) -> str:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
        return ".".join(reversed(names))
    if isinstance(node, ast.Call):
        inner = _dotted(node.func)
        return ".".join([f"{inner}()"] + list(reversed(names))) if inner else ""
    return ""


def review_flags(source: str) -> list[str]:
    """Things in student code an instructor may want to look at (they never change a score).

    Flags assignments to ``check`` or to attributes of ``check``, NumPy, TensorFlow,
    ``sys``, ``builtins`` …; calls that reach into the kernel or the process
    (``get_ipython``, ``os._exit``, ``sys.settrace``, ``ctypes``, ``importlib.reload`` …);
    ``sys.modules``; and strings mentioning ``solutions``.
    """
    lines = []
    for line in source.splitlines():  # IPython magics and shell escapes are not Python
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    flags: list[str] = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, ast.Name) and target.id == "check":
                flags.append("rebinds the name check")
            elif isinstance(target, (ast.Attribute, ast.Subscript)):
                dotted = _dotted(target.value if isinstance(target, ast.Subscript) else target)
                if dotted.split(".")[0] in _WATCHED_NAMES:
                    flags.append(f"assigns to {dotted}")
        if isinstance(node, ast.Call):
            dotted = _dotted(node.func)
            if dotted in ("setattr", "delattr") and node.args and _dotted(node.args[0]).split(".")[0] in _WATCHED_NAMES:
                flags.append(f"calls {dotted} on {_dotted(node.args[0])}")
            elif dotted in _WATCHED_CALLS or dotted.endswith("set_custom_exc"):
                flags.append(f"calls {dotted}")
        if isinstance(node, ast.Attribute) and _dotted(node) == "sys.modules":
            flags.append("uses sys.modules")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "solutions" in node.value:
            flags.append(f"mentions {node.value[:60]!r}")
    return list(dict.fromkeys(flags))


# --------------------------------------------------------------------------- grading one submission


@dataclass(frozen=True)
class GradingTask:
    """What a worker needs to grade one submission (picklable)."""

    student_id: str
    path: str | None
    problem: str
    assignment: str
    source_text: str
    source_path: str
    options: RunOptions


@dataclass
class GradedSubmission:
    """A worker's answer: the grade to record and the executed notebook, or a grader error."""

    student_id: str
    grade: SubmissionGrade | None = None
    notebook_text: str | None = None
    error: str | None = None


def _zero_grade(task: GradingTask, source, status: str, reason: str, sha256: str, started: str) -> SubmissionGrade:
    tests = []
    for cell in source.cells:
        role = cell_role(cell)
        meta = cell.metadata.get("nbgrader", {})
        if role == "tests":
            tests.append(TestGrade(meta["grade_id"], float(meta["points"]), 0.0, "failed", f"not graded: {reason}",
                                   f"✘ not graded: {reason}", None))
        elif role == "manual":
            tests.append(TestGrade(meta["grade_id"], float(meta["points"]), None, "manual", "graded by hand", ""))
    return SubmissionGrade(task.student_id, task.assignment, status, reason, tests, [], sha256,
                           hashlib.sha256(task.source_text.encode("utf-8")).hexdigest(), started, now_utc())


def grade_submission(task: GradingTask) -> GradedSubmission:
    """Grade one submission; never raises (a grader error comes back in ``error``)."""
    started = now_utc()
    try:
        source = nbformat.reads(task.source_text, as_version=4)
        if task.path is None:
            return GradedSubmission(task.student_id,
                                    _zero_grade(task, source, "missing", task.problem, MISSING_SHA256, started))
        path = Path(task.path)
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            submission = parse_submission(data, path.name)
        except InvalidSubmission as error:
            return GradedSubmission(task.student_id, _zero_grade(task, source, "invalid", str(error), sha256, started))
        prepared = prepare(submission, source, task.source_path)
        try:
            result = run_notebook(prepared, task.options, exclude_modules=INSTRUCTOR_ONLY_MODULES)
        except KernelStartError as error:
            return GradedSubmission(task.student_id, error=str(error))
        tests = [TestGrade(t.grade_id, t.points, t.score, t.status, t.reason, t.message, t.hidden)
                 for t in result.tests]
        tests += [TestGrade(grade_id, points, None, "manual", "graded by hand", "")
                  for grade_id, points in result.manual]
        notes = [{"kind": f.kind, "grade_id": f.grade_id, "detail": f.detail} for f in prepared.findings]
        notes += [{"kind": "cell_error", "grade_id": "", "detail": error} for error in result.cell_errors]
        if result.stopped:
            notes.append({"kind": "stopped", "grade_id": "", "detail": f"the notebook stopped early: {result.stopped}"})
        for number, cell in enumerate(prepared.cells, start=1):
            if cell.role in ("plain", "answer") and cell.cell.cell_type == "code":
                for flag in review_flags(cell.cell.source):
                    notes.append({"kind": "review", "grade_id": cell.grade_id or "",
                                  "detail": f"cell {number}: {flag}"})
        grade = SubmissionGrade(task.student_id, task.assignment, "graded", result.stopped or "", tests, notes,
                                sha256, hashlib.sha256(task.source_text.encode("utf-8")).hexdigest(), started,
                                now_utc())
        return GradedSubmission(task.student_id, grade, notebook_text(result.notebook))
    except Exception:  # noqa: BLE001 - a bug must not stop the batch; report it instead
        return GradedSubmission(task.student_id, error=traceback.format_exc(limit=8))


def _worker_init() -> None:
    """Worker processes work from a neutral folder (their kernels can see a parent's cwd in /proc)."""
    os.chdir(tempfile.gettempdir())


# --------------------------------------------------------------------------- the batch


@dataclass
class BatchReport:
    """What one ``autograde`` run did."""

    assignment: str
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    outside_shard: int = 0
    stale_source: int = 0
    gradebook: Path | None = None
    csv: Path | None = None
    feedback_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def autograde(submissions_dir: str | Path, assignment: str, solutions_dir: str | Path = "solutions",
              gradebook: str | Path = "gradebook.sqlite", csv_path: str | Path | None = None,
              feedback_dir: str | Path | None = None, autograded_dir: str | Path | None = None,
              options: RunOptions | None = None, jobs: int = 1, shard: tuple[int, int] | None = None,
              force: bool = False, isolate: bool = False, progress: bool = True,
              log: Callable[[str], None] = print) -> BatchReport:
    """Grade every submission of one assignment (see the module doc).

    Args:
        submissions_dir: the folder of submissions.
        assignment: ``"03"`` or ``"03_first_cnns"``.
        solutions_dir: the folder of solution notebooks (the source of tests).
        gradebook: the SQLite gradebook (created if missing).
        csv_path: the CSV export (default: the gradebook's name with ``.csv``).
        feedback_dir: HTML feedback goes to ``feedback_dir/<assignment>/<student>.html``
            (default: ``feedback`` next to the gradebook).
        autograded_dir: executed notebooks go to ``autograded_dir/<assignment>/<student>.ipynb``
            (default: ``autograded`` next to the gradebook).
        options: how each notebook runs (timeouts, limits, sandbox prefix).
        jobs: submissions graded at once, each in its own process.
        shard: ``(i, n)``: grade only shard ``i`` of ``n``.
        force: grade again what is already graded.
        isolate: run each kernel in its own Linux namespaces (see
            :func:`cnncourse.grading.sandbox.isolation_prefix`): no network, its own ``/proc``,
            the solutions, the submissions, the gradebook, the feedback and the grader's
            credentials hidden, other kernels' folders out of sight. Needs ``unshare`` with
            root or unprivileged user namespaces; cannot be combined with a kernel prefix.
        progress: show a progress bar (tqdm, on stderr).
        log: where summary lines go.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    options = options or RunOptions()
    source_path = resolve_source(solutions_dir, assignment).resolve()
    source_nb = read_notebook(source_path)
    validate(source_nb, source_path)
    stem = source_path.stem
    source_text = source_path.read_text(encoding="utf-8")
    source_sha256 = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
    gradebook = Path(gradebook).resolve()
    csv_path = Path(csv_path).resolve() if csv_path else gradebook.with_suffix(".csv")
    feedback_dir = (Path(feedback_dir) if feedback_dir else gradebook.parent / "feedback").resolve() / stem
    autograded_dir = (Path(autograded_dir) if autograded_dir else gradebook.parent / "autograded").resolve() / stem
    report = BatchReport(stem, gradebook=gradebook, csv=csv_path, feedback_dir=feedback_dir)
    temporary = Path(options.workdir_root or tempfile.gettempdir()).resolve()
    course = source_path.parent.parent
    if course != Path(course.anchor) and (temporary == course or course in temporary.parents):
        raise ValueError(f"the kernels' temporary folder {temporary} lies inside {course}, which holds the "
                         f"solutions: a submission could find them by walking up from its working directory; "
                         f"set TMPDIR to a folder elsewhere")
    if isolate:
        if options.kernel_prefix:
            raise ValueError("isolate and a kernel prefix cannot be combined: choose one")
        problem = isolation_problem()
        if problem:
            raise ValueError(f"cannot isolate kernels: {problem}")

    submissions = find_submissions(submissions_dir, stem)
    if shard is not None:
        index, count = shard
        kept = [s for s in submissions if shard_of(s.student_id, count) == index]
        report.outside_shard = len(submissions) - len(kept)
        submissions = kept

    batch_root = None
    if isolate:
        for folder in (feedback_dir, autograded_dir):
            folder.mkdir(parents=True, exist_ok=True)
        batch_root = Path(tempfile.mkdtemp(prefix="cnncourse-grade-", dir=options.workdir_root))
        (keep := batch_root.with_name(batch_root.name + "-keep")).mkdir()
        Gradebook(gradebook).close()  # exists, so that it can be hidden
        hide = [Path(solutions_dir).resolve(), Path(submissions_dir).resolve(), gradebook, csv_path,
                feedback_dir.parent, autograded_dir.parent,
                *_git_folders(Path(solutions_dir).resolve()), *_git_folders(Path(__file__).resolve()),
                *(Path.home() / entry for entry in SENSITIVE_HOME_ENTRIES)]
        options = replace(options, kernel_prefix=tuple(isolation_prefix(hide, batch_root, keep)), transport="ipc",
                          workdir_root=str(batch_root))
    try:
        return _grade_batch(report, submissions, stem, source_text, source_path, source_sha256, gradebook, csv_path,
                            feedback_dir, autograded_dir, options, jobs, force, progress, log)
    finally:
        if batch_root is not None:
            remove_tree(batch_root)
            remove_tree(batch_root.with_name(batch_root.name + "-keep"))


def _git_folders(path: Path) -> list[Path]:
    """``.git`` folders of the repositories holding ``path`` (their history holds the solutions)."""
    return [parent / ".git" for parent in (path, *path.parents) if (parent / ".git").exists()]


def _grade_batch(report: BatchReport, submissions: list[Submission], stem: str, source_text: str, source_path: Path,
                 source_sha256: str, gradebook: Path, csv_path: Path, feedback_dir: Path, autograded_dir: Path,
                 options: RunOptions, jobs: int, force: bool, progress: bool,
                 log: Callable[[str], None]) -> BatchReport:
    with Gradebook(gradebook) as book:
        tasks = []
        for submission in submissions:
            sha256 = file_sha256(submission.path) if submission.path else MISSING_SHA256
            if not force and book.graded_sha256(submission.student_id, stem) == sha256:
                report.skipped.append(submission.student_id)
                continue
            tasks.append(GradingTask(submission.student_id, str(submission.path.resolve()) if submission.path else None,
                                     submission.problem, stem, source_text, str(source_path), options))
        graded_before = {row["student_id"]: row["source_sha256"] for row in book.submissions(stem)}
        report.stale_source = sum(1 for student in report.skipped if graded_before.get(student) != source_sha256)

        def keep(done: GradedSubmission) -> None:
            if done.error is not None:
                report.errors[done.student_id] = done.error
                bar.write(f"grader error for {done.student_id}: {done.error.strip().splitlines()[-1]}")
                return
            grade = done.grade
            safe = _safe_name(grade.student_id)
            atomic_write(feedback_dir / f"{safe}.html", feedback_html(grade))
            if done.notebook_text is not None:
                atomic_write(autograded_dir / f"{safe}.ipynb", done.notebook_text)
            book.record(grade)
            report.graded.append(grade.student_id)

        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc=f"grading {stem}", unit="submission", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        try:
            if jobs == 1 or len(tasks) <= 1:
                for task in tasks:
                    keep(grade_submission(task))
                    bar.update()
            else:
                context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context,
                                           initializer=_worker_init)
                try:
                    futures = [pool.submit(grade_submission, task) for task in tasks]
                    for future in as_completed(futures):
                        keep(future.result())
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                pool.shutdown(wait=True)
        finally:
            bar.close()
            book.export_csv(csv_path)
    log(_summary(report, len(submissions)))
    return report


def _safe_name(student_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", student_id) or "_"


def _summary(report: BatchReport, considered: int) -> str:
    lines = [f"{report.assignment}: {considered} submission(s); graded {len(report.graded)}, "
             f"already graded {len(report.skipped)}, grader errors {len(report.errors)}"]
    if report.outside_shard:
        lines.append(f"  {report.outside_shard} submission(s) belong to other shards")
    if report.stale_source:
        lines.append(f"  note: {report.stale_source} skipped submission(s) were graded against an older version of "
                     f"the solution notebook; use --force to grade them again")
    lines.append(f"  gradebook {report.gradebook}\n  CSV       {report.csv}\n  feedback  {report.feedback_dir}")
    for student, error in report.errors.items():
        lines.append(f"  ERROR {student}: {error.strip().splitlines()[-1] if error.strip() else error}")
    return "\n".join(lines)
