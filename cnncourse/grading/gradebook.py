"""The gradebook: an SQLite file with one row per student × assignment × test, and its CSV export.

Tables (timestamps are ISO 8601 UTC, e.g. ``2025-01-31T14:02:11+00:00``):

``submissions``
    one row per student × assignment: ``status`` (``graded``; ``invalid``: the file is not
    a readable notebook; ``missing``: no notebook for the assignment), ``score`` and
    ``max_score`` (autograded points), ``reason``, ``notes`` (JSON list of findings:
    tampering, review flags), the SHA-256 of the submitted file and of the source
    notebook it was graded against, ``started_at``, ``finished_at``.
``grades``
    one row per student × assignment × test: ``points``, ``score`` (``NULL`` for a
    hand-graded cell), ``status`` (``passed``, ``partial``, ``failed``, ``manual``),
    ``reason`` (for the instructor), ``message`` (what the student's feedback shows),
    ``hidden`` (``NULL``, ``passed``, ``failed``, ``not run``), ``position``, ``graded_at``.

Every submission is written in one transaction (:meth:`Gradebook.record`): a grading run
killed at any moment leaves each submission either fully graded or not at all, and a
re-run picks up where it stopped. Several gradebooks (one per shard of a class graded on
several machines) combine with :func:`merge`. The CSV export has one row per student, one
column per assignment and a ``total`` column; it holds no timestamps, so grading the same
submissions twice gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    student_id        TEXT NOT NULL,
    assignment        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('graded', 'invalid', 'missing')),
    score             REAL NOT NULL,
    max_score         REAL NOT NULL,
    reason            TEXT NOT NULL,
    notes             TEXT NOT NULL,
    submission_sha256 TEXT NOT NULL,
    source_sha256     TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    PRIMARY KEY (student_id, assignment)
);
CREATE TABLE IF NOT EXISTS grades (
    student_id TEXT NOT NULL,
    assignment TEXT NOT NULL,
    test_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    points     REAL NOT NULL,
    score      REAL,
    status     TEXT NOT NULL CHECK (status IN ('passed', 'partial', 'failed', 'manual')),
    reason     TEXT NOT NULL,
    message    TEXT NOT NULL,
    hidden     TEXT,
    graded_at  TEXT NOT NULL,
    PRIMARY KEY (student_id, assignment, test_id),
    FOREIGN KEY (student_id, assignment) REFERENCES submissions (student_id, assignment) ON DELETE CASCADE
);
"""

_SUBMISSION_COLUMNS = ("student_id", "assignment", "status", "score", "max_score", "reason", "notes",
                       "submission_sha256", "source_sha256", "started_at", "finished_at")
_GRADE_COLUMNS = ("student_id", "assignment", "test_id", "position", "points", "score", "status", "reason",
                  "message", "hidden", "graded_at")


def now_utc() -> str:
    """The current time as ISO 8601 UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TestGrade:
    """One test's row (see the module doc for the fields)."""

    __test__ = False  # not a pytest test class

    test_id: str
    points: float
    score: float | None
    status: str
    reason: str
    message: str
    hidden: str | None = None


@dataclass
class SubmissionGrade:
    """Everything recorded for one student × assignment."""

    student_id: str
    assignment: str
    status: str
    reason: str
    tests: list[TestGrade]
    notes: list[dict] = field(default_factory=list)
    submission_sha256: str = ""
    source_sha256: str = ""
    started_at: str = field(default_factory=now_utc)
    finished_at: str = field(default_factory=now_utc)

    @property
    def score(self) -> float:
        return float(sum(t.score for t in self.tests if t.score is not None))

    @property
    def max_score(self) -> float:
        return float(sum(t.points for t in self.tests if t.status != "manual"))


class Gradebook:
    """An SQLite gradebook file; use as a context manager.

    Example::

        with Gradebook("gradebook.sqlite") as book:
            book.record(grade)
            book.export_csv("gradebook.csv")
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=60)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.executescript(_SCHEMA)
            version = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            raise ValueError(f"{self.path} is not a cnncourse gradebook (SQLite said: {error})") from None
        if version is None:
            self.db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif version[0] != SCHEMA_VERSION:
            raise ValueError(f"{self.path} has gradebook schema {version[0]}, this version reads {SCHEMA_VERSION}")

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- writing

    def record(self, grade: SubmissionGrade) -> None:
        """Store one submission's grades, replacing earlier ones, in a single transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._write(grade)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _write(self, grade: SubmissionGrade) -> None:
        key = (grade.student_id, grade.assignment)
        self.db.execute("DELETE FROM grades WHERE student_id = ? AND assignment = ?", key)
        self.db.execute("DELETE FROM submissions WHERE student_id = ? AND assignment = ?", key)
        self.db.execute(
            f"INSERT INTO submissions ({', '.join(_SUBMISSION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_SUBMISSION_COLUMNS))})",
            (grade.student_id, grade.assignment, grade.status, grade.score, grade.max_score, grade.reason,
             json.dumps(grade.notes, sort_keys=True, ensure_ascii=False), grade.submission_sha256,
             grade.source_sha256, grade.started_at, grade.finished_at))
        self.db.executemany(
            f"INSERT INTO grades ({', '.join(_GRADE_COLUMNS)}) VALUES ({', '.join('?' * len(_GRADE_COLUMNS))})",
            [(grade.student_id, grade.assignment, t.test_id, position, t.points, t.score, t.status, t.reason,
              t.message, t.hidden, grade.finished_at) for position, t in enumerate(grade.tests)])

    # -- reading

    def graded_sha256(self, student_id: str, assignment: str) -> str | None:
        """The SHA-256 of the file last graded for this student and assignment, if any."""
        row = self.db.execute("SELECT submission_sha256 FROM submissions WHERE student_id = ? AND assignment = ?",
                              (student_id, assignment)).fetchone()
        return row[0] if row else None

    def source_sha256s(self, assignment: str) -> set[str]:
        """The source-notebook hashes the assignment's grades were computed against."""
        return {row[0] for row in self.db.execute("SELECT DISTINCT source_sha256 FROM submissions WHERE assignment = ?",
                                                  (assignment,))}

    def submissions(self, assignment: str | None = None) -> list[dict]:
        """Submission rows as dicts, sorted by assignment then student."""
        query = f"SELECT {', '.join(_SUBMISSION_COLUMNS)} FROM submissions"
        rows = (self.db.execute(query + " WHERE assignment = ? ORDER BY assignment, student_id", (assignment,))
                if assignment else self.db.execute(query + " ORDER BY assignment, student_id"))
        return [dict(zip(_SUBMISSION_COLUMNS, row)) for row in rows]

    def grades(self, student_id: str | None = None, assignment: str | None = None) -> list[dict]:
        """Grade rows as dicts, sorted by assignment, student, then position in the notebook."""
        where, values = [], []
        for column, value in (("student_id", student_id), ("assignment", assignment)):
            if value is not None:
                where.append(f"{column} = ?")
                values.append(value)
        query = (f"SELECT {', '.join(_GRADE_COLUMNS)} FROM grades"
                 + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY assignment, student_id, position")
        return [dict(zip(_GRADE_COLUMNS, row)) for row in self.db.execute(query, values)]

    def submission(self, student_id: str, assignment: str) -> SubmissionGrade | None:
        """One submission with its tests, as recorded."""
        found = self.db.execute(f"SELECT {', '.join(_SUBMISSION_COLUMNS)} FROM submissions "
                                f"WHERE student_id = ? AND assignment = ?", (student_id, assignment)).fetchone()
        if found is None:
            return None
        row = dict(zip(_SUBMISSION_COLUMNS, found))
        tests = [TestGrade(g["test_id"], g["points"], g["score"], g["status"], g["reason"], g["message"], g["hidden"])
                 for g in self.grades(student_id, assignment)]
        return SubmissionGrade(row["student_id"], row["assignment"], row["status"], row["reason"], tests,
                               json.loads(row["notes"]), row["submission_sha256"], row["source_sha256"],
                               row["started_at"], row["finished_at"])

    # -- export

    def csv_text(self) -> str:
        """One row per student, one column per assignment (its score) and a ``total``."""
        scores: dict[str, dict[str, float]] = {}
        assignments: set[str] = set()
        for row in self.submissions():
            scores.setdefault(row["student_id"], {})[row["assignment"]] = row["score"]
            assignments.add(row["assignment"])
        columns = sorted(assignments)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["student_id", *columns, "total"])
        for student in sorted(scores):
            row = scores[student]
            writer.writerow([student, *(_number(row[a]) if a in row else "" for a in columns),
                             _number(sum(row.values()))])
        return buffer.getvalue()

    def export_csv(self, path: str | Path) -> Path:
        """Write :meth:`csv_text` to ``path`` atomically."""
        return atomic_write(path, self.csv_text())


def _number(value: float) -> str:
    return f"{round(float(value), 6):g}"


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


@dataclass
class MergeReport:
    """What :func:`merge` did: rows copied, and conflicts (same student × assignment in several inputs)."""

    copied: int = 0
    conflicts: list[str] = field(default_factory=list)


def merge(output: str | Path, inputs: Iterable[str | Path]) -> MergeReport:
    """Combine gradebooks (e.g. one per shard) into ``output`` (created or updated).

    A student × assignment found in several inputs (or already in ``output``) keeps the
    most recently finished grading (ties: the later input); each such case is listed in
    the report. Rows of ``output`` that no input has are kept.

    Raises:
        FileNotFoundError: for an input that does not exist.
        ValueError: for an input that is not a gradebook.
    """
    inputs = [Path(p) for p in inputs]
    missing = [str(p) for p in inputs if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no such gradebook: {', '.join(missing)}")
    report = MergeReport()
    chosen: dict[tuple[str, str], tuple[str, SubmissionGrade, str]] = {}
    for path in inputs:
        with Gradebook(path) as book:
            for row in book.submissions():
                key = (row["student_id"], row["assignment"])
                grade = book.submission(*key)
                if key in chosen:
                    report.conflicts.append(f"{key[0]} / {key[1]}: in {chosen[key][2]} and {path}")
                    if grade.finished_at < chosen[key][0]:
                        continue
                chosen[key] = (grade.finished_at, grade, str(path))
    with Gradebook(output) as book:
        book.db.execute("BEGIN IMMEDIATE")
        try:
            for (student_id, assignment), (finished_at, grade, source) in chosen.items():
                existing = book.submission(student_id, assignment)
                if existing is not None:
                    report.conflicts.append(f"{student_id} / {assignment}: in {output} and {source}")
                    if existing.finished_at > finished_at:
                        continue
                book._write(grade)
                report.copied += 1
        except BaseException:
            book.db.execute("ROLLBACK")
            raise
        book.db.execute("COMMIT")
    return report
