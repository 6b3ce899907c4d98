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

Before any submission runs, the batch reads everything the grading depends on: the
solution notebook, the check module's source, the package the kernels import
(:class:`~cnncourse.grading.runner.GraderFiles`) and every submitted file
(:mod:`cnncourse.grading.submissions`). Kernels are contained by default
(:mod:`cnncourse.grading.containment`); when they cannot be, the batch says so at its
start and records it in every submission's notes. What each level contains, and what
no option here contains, is described in ``docs/grading.md``.
"""

from __future__ import annotations

import hashlib
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

from cnncourse._validation import check_positive_int
from cnncourse.grading.containment import SENSITIVE_HOME_ENTRIES, containment_for_batch, cover_point, git_folders
from cnncourse.grading.feedback import feedback_html, secret_lines
from cnncourse.grading.gradebook import Gradebook, SubmissionGrade, TestGrade, atomic_write, now_utc
from cnncourse.grading.notebook_format import cell_role, notebook_text, split_segments, validate
from cnncourse.grading.prepare import prepare
from cnncourse.grading.release import INSTRUCTOR_ONLY_MODULES
from cnncourse.grading.review import evidence_notes, review_flags
from cnncourse.grading.runner import GraderFiles, KernelStartError, RunOptions, run_notebook
from cnncourse.grading.sandbox import remove_tree
from cnncourse.grading.submissions import (
    MAX_SUBMISSION_BYTES,
    MISSING_SHA256,
    UNREADABLE_SHA256,
    InvalidSubmission,
    Submission,
    find_submissions,
    parse_submission,
    read_submission,
    resolve_source,
    safe_name,
    sha256,
)

__all__ = ["BatchReport", "InvalidSubmission", "MAX_SUBMISSION_BYTES", "Submission", "autograde",
           "find_submissions", "grade_submission", "parse_shard", "parse_submission", "resolve_source",
           "review_flags", "shard_of"]


# --------------------------------------------------------------------------- shards


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


# --------------------------------------------------------------------------- grading one submission


@dataclass(frozen=True)
class Assignment:
    """What every submission of the batch is graded against, read once before any of them runs (picklable)."""

    stem: str
    source_text: str
    source_path: str
    files: GraderFiles
    options: RunOptions
    containment_warning: str = ""

    @property
    def source_sha256(self) -> str:
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GradingTask:
    """One submission to grade: its bytes (read before any kernel ran), or why there are none."""

    student_id: str
    data: bytes | None
    name: str
    problem: str
    status: str
    sha256: str
    assignment: Assignment


@dataclass
class GradedSubmission:
    """A worker's answer: the grade to record and the executed notebook, or a grader error."""

    student_id: str
    grade: SubmissionGrade | None = None
    notebook_text: str | None = None
    error: str | None = None


def _zero_grade(task: GradingTask, source, status: str, reason: str, notes: list[dict],
                started: str) -> SubmissionGrade:
    tests = []
    for cell in source.cells:
        role = cell_role(cell)
        meta = cell.metadata.get("nbgrader", {})
        if role == "tests":
            tests.append(TestGrade(meta["grade_id"], float(meta["points"]), 0.0, "failed", f"not graded: {reason}",
                                   f"✘ not graded: {reason}", None))
        elif role == "manual":
            tests.append(TestGrade(meta["grade_id"], float(meta["points"]), None, "manual", "graded by hand", ""))
    return SubmissionGrade(task.student_id, task.assignment.stem, status, reason, tests, notes, task.sha256,
                           task.assignment.source_sha256, started, now_utc())


def grade_submission(task: GradingTask) -> GradedSubmission:
    """Grade one submission; never raises (a grader error comes back in ``error``)."""
    started = now_utc()
    assignment = task.assignment
    base_notes = ([{"kind": "review", "grade_id": "", "detail": f"containment: {assignment.containment_warning}"}]
                  if assignment.containment_warning else [])
    try:
        source = nbformat.reads(assignment.source_text, as_version=4)
        if task.data is None:
            return GradedSubmission(task.student_id, _zero_grade(task, source, task.status, task.problem, base_notes,
                                                                 started))
        try:
            submission = parse_submission(task.data, task.name)
        except InvalidSubmission as error:
            return GradedSubmission(task.student_id, _zero_grade(task, source, "invalid", str(error), base_notes,
                                                                 started))
        prepared = prepare(submission, source, assignment.source_path)
        try:
            result = run_notebook(prepared, assignment.options, files=assignment.files)
        except KernelStartError as error:
            return GradedSubmission(task.student_id, error=str(error))
        tests = [TestGrade(t.grade_id, t.points, t.score, t.status, t.reason, t.message, t.hidden)
                 for t in result.tests]
        tests += [TestGrade(grade_id, points, None, "manual", "graded by hand", "")
                  for grade_id, points in result.manual]
        notes = base_notes + [{"kind": f.kind, "grade_id": f.grade_id, "detail": f.detail} for f in prepared.findings]
        notes += [{"kind": "cell_error", "grade_id": "", "detail": error} for error in result.cell_errors]
        if result.stopped:
            notes.append({"kind": "stopped", "grade_id": "", "detail": f"the notebook stopped early: {result.stopped}"})
        for number, cell in enumerate(prepared.cells, start=1):
            if cell.role in ("plain", "answer") and cell.cell.cell_type == "code":
                for flag in review_flags(cell.cell.source):
                    notes.append({"kind": "review", "grade_id": cell.grade_id or "",
                                  "detail": f"cell {number}: {flag}"})
        notes += evidence_notes(result.evidence)
        grade = SubmissionGrade(task.student_id, assignment.stem, "graded", result.stopped or "", tests, notes,
                                task.sha256, assignment.source_sha256, started, now_utc())
        return GradedSubmission(task.student_id, grade, notebook_text(result.notebook))
    except Exception:  # noqa: BLE001 - a bug must not stop the batch; report it instead
        return GradedSubmission(task.student_id, error=traceback.format_exc(limit=8))


def _worker_init() -> None:
    """Worker processes work from a neutral folder (their kernels can see a parent's cwd in /proc)."""
    os.chdir(tempfile.gettempdir())


def read_task(submission: Submission, assignment: Assignment) -> GradingTask:
    """Read one submission's file now (see :mod:`cnncourse.grading.submissions`); never raises."""
    if submission.path is None:
        return GradingTask(submission.student_id, None, "", submission.problem, submission.status,
                           MISSING_SHA256 if submission.status == "missing" else UNREADABLE_SHA256, assignment)
    try:
        data = read_submission(submission.path)
    except InvalidSubmission as error:
        return GradingTask(submission.student_id, None, submission.path.name, str(error), "invalid",
                           UNREADABLE_SHA256, assignment)
    except Exception as error:  # noqa: BLE001 - an odd file must not stop the batch
        return GradingTask(submission.student_id, None, submission.path.name,
                           f"{submission.path.name} could not be read ({type(error).__name__}: {error})", "invalid",
                           UNREADABLE_SHA256, assignment)
    return GradingTask(submission.student_id, data, submission.path.name, "", "graded", sha256(data), assignment)


# --------------------------------------------------------------------------- the batch


@dataclass
class BatchReport:
    """What one ``autograde`` run did (``containment``: empty when contained, else what is not)."""

    assignment: str
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    outside_shard: int = 0
    stale_source: int = 0
    gradebook: Path | None = None
    csv: Path | None = None
    feedback_dir: Path | None = None
    containment: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Outputs:
    """Where the batch writes: gradebook, CSV, feedback pages, executed notebooks."""

    gradebook: Path
    csv: Path
    feedback_dir: Path
    autograded_dir: Path


def autograde(submissions_dir: str | Path, assignment: str, solutions_dir: str | Path = "solutions",
              gradebook: str | Path = "gradebook.sqlite", csv_path: str | Path | None = None,
              feedback_dir: str | Path | None = None, autograded_dir: str | Path | None = None,
              options: RunOptions | None = None, jobs: int = 1, shard: tuple[int, int] | None = None,
              force: bool = False, isolate: bool | None = None, progress: bool = True,
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
        isolate: contain every kernel (:mod:`cnncourse.grading.containment`): ``None`` (the
            default) whenever the machine can, and loudly not otherwise; ``True`` insists
            (an error when impossible); ``False`` turns containment off (said and recorded).
        progress: show a progress bar (tqdm, on stderr).
        log: where summary lines go.
    """
    jobs = check_positive_int("jobs", jobs)
    options = options or RunOptions()
    source_path = resolve_source(solutions_dir, assignment).resolve()
    source_text = source_path.read_text(encoding="utf-8")
    source_nb = nbformat.reads(source_text, as_version=4)
    validate(source_nb, source_path)
    stem = source_path.stem
    gradebook = Path(gradebook).resolve()
    outputs = Outputs(gradebook, Path(csv_path).resolve() if csv_path else gradebook.with_suffix(".csv"),
                      (Path(feedback_dir) if feedback_dir else gradebook.parent / "feedback").resolve() / stem,
                      (Path(autograded_dir) if autograded_dir else gradebook.parent / "autograded").resolve() / stem)
    report = BatchReport(stem, gradebook=gradebook, csv=outputs.csv, feedback_dir=outputs.feedback_dir)
    temporary = Path(options.workdir_root or tempfile.gettempdir()).resolve()
    course = source_path.parent.parent
    if course != Path(course.anchor) and (temporary == course or course in temporary.parents):
        raise ValueError(f"the kernels' temporary folder {temporary} lies inside {course}, which holds the "
                         f"solutions: a submission could find them by walking up from its working directory; "
                         f"set TMPDIR to a folder elsewhere")
    files = GraderFiles.read(INSTRUCTOR_ONLY_MODULES)  # before any submission runs
    submissions = find_submissions(submissions_dir, stem)
    if shard is not None:
        index, count = shard
        kept = [s for s in submissions if shard_of(s.student_id, count) == index]
        report.outside_shard = len(submissions) - len(kept)
        submissions = kept

    batch_root = Path(tempfile.mkdtemp(prefix="cnncourse-grade-", dir=_short_folder(options.workdir_root)))
    keep = Path(tempfile.mkdtemp(prefix="cnncourse-keep-", dir=cover_point(batch_root).parent))
    try:
        for folder in (outputs.feedback_dir, outputs.autograded_dir):
            folder.mkdir(parents=True, exist_ok=True)
        Gradebook(gradebook).close()  # exists, so that it can be hidden
        hide = [Path(solutions_dir).resolve(), Path(submissions_dir).resolve(), gradebook, outputs.csv,
                outputs.feedback_dir.parent, outputs.autograded_dir.parent,
                *git_folders(Path(solutions_dir)), *git_folders(Path(__file__)),
                *(Path.home() / entry for entry in SENSITIVE_HOME_ENTRIES)]
        containment = containment_for_batch(isolate, options.kernel_prefix, hide, batch_root, keep)
        report.containment = containment.warning
        if containment.warning:
            log(f"WARNING: {containment.warning}. This is recorded in every submission's review notes.")
        if containment.contained:
            options = replace(options, kernel_prefix=containment.prefix, transport="ipc",
                              workdir_root=str(batch_root), kernel_uid=containment.uid)
        plan = Assignment(stem, source_text, str(source_path), files, options, containment.warning)
        secrets = secret_lines(line for cell in source_nb.cells if cell_role(cell) == "tests"
                               for segment in split_segments(cell.source) if segment.kind == "hidden"
                               for line in segment.lines)
        tasks = [read_task(submission, plan) for submission in submissions]  # before any kernel runs
        return _grade_batch(report, tasks, outputs, secrets, jobs, force, progress, log)
    finally:
        remove_tree(batch_root)
        remove_tree(keep)


def _short_folder(folder: str | None) -> str | None:
    """``folder``, or ``/tmp`` when a kernel's Unix sockets under it would pass the 107-character limit."""
    chosen = Path(folder or tempfile.gettempdir())
    if len(str(chosen)) > 40 and Path("/tmp").is_dir():
        return "/tmp"
    return folder


def _grade_batch(report: BatchReport, tasks: list[GradingTask], outputs: Outputs, secrets: tuple[str, ...],
                 jobs: int, force: bool, progress: bool, log: Callable[[str], None]) -> BatchReport:
    stem = report.assignment
    considered = len(tasks)
    with Gradebook(outputs.gradebook) as book:
        graded_before = {row["student_id"]: row["source_sha256"] for row in book.submissions(stem)}
        todo = []
        for task in tasks:
            if not force and task.sha256 != UNREADABLE_SHA256 and book.graded_sha256(task.student_id, stem) == \
                    task.sha256:
                report.skipped.append(task.student_id)
            else:
                todo.append(task)
        source_sha256 = tasks[0].assignment.source_sha256 if tasks else ""
        report.stale_source = sum(1 for student in report.skipped if graded_before.get(student) != source_sha256)

        def keep(done: GradedSubmission) -> None:
            if done.error is not None:
                report.errors[done.student_id] = done.error
                bar.write(f"grader error for {done.student_id}: {done.error.strip().splitlines()[-1]}")
                return
            grade = done.grade
            name = safe_name(grade.student_id)
            atomic_write(outputs.feedback_dir / f"{name}.html", feedback_html(grade, secrets))
            if done.notebook_text is not None:
                atomic_write(outputs.autograded_dir / f"{name}.ipynb", done.notebook_text)
            book.record(grade)
            report.graded.append(grade.student_id)

        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"grading {stem}", unit="submission", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        try:
            if jobs == 1 or len(todo) <= 1:
                for task in todo:
                    keep(grade_submission(task))
                    bar.update()
            else:
                context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context,
                                           initializer=_worker_init)
                try:
                    futures = [pool.submit(grade_submission, task) for task in todo]
                    for future in as_completed(futures):
                        keep(future.result())
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                pool.shutdown(wait=True)
        finally:
            bar.close()
            book.export_csv(outputs.csv)
    log(_summary(report, considered))
    return report


def _summary(report: BatchReport, considered: int) -> str:
    lines = [f"{report.assignment}: {considered} submission(s); graded {len(report.graded)}, "
             f"already graded {len(report.skipped)}, grader errors {len(report.errors)}"]
    if report.containment:
        lines.append(f"  WARNING: {report.containment}")
    if report.outside_shard:
        lines.append(f"  {report.outside_shard} submission(s) belong to other shards")
    if report.stale_source:
        lines.append(f"  note: {report.stale_source} skipped submission(s) were graded against an older version of "
                     f"the solution notebook; use --force to grade them again")
    lines.append(f"  gradebook {report.gradebook}\n  CSV       {report.csv}\n  feedback  {report.feedback_dir}")
    for student, error in report.errors.items():
        lines.append(f"  ERROR {student}: {error.strip().splitlines()[-1] if error.strip() else error}")
    return "\n".join(lines)
