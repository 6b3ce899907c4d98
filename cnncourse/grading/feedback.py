"""Per-student feedback as one self-contained HTML page.

The page shows, for each tests cell: its name (``grade_id``), points, score, and the
*student-facing* message recorded by the runner, i.e. the visible checks' verdicts. A
cell's hidden tests appear only as a line "hidden tests: passed / failed / not run":
never their source, never their inputs, never what they printed. Instructor-only text (a
test's ``reason``, review flags, diffs of tampered cells) is never put on the page.

Also shown: cells the grader restored (tampering), problems while running (a cell that
raised, a kernel that died), and the hand-graded cells still to come.

Two limits hold whatever the messages say: every line that repeats a line of the
assignment's hidden tests (``secret_lines``, at least 8 characters) is replaced by a
placeholder, and each message is cut to :data:`MESSAGE_LIMIT` characters, the whole page
to about :data:`PAGE_LIMIT`.
"""

from __future__ import annotations

import html
from typing import Iterable

from cnncourse.grading.gradebook import SubmissionGrade

#: finding kinds a student is told about (others, like ``review``, are for the instructor)
STUDENT_NOTE_KINDS = ("changed", "deleted", "renamed", "duplicate", "unknown", "missing_answer", "metadata",
                      "cell_error", "stopped")

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
.total { font-size: 1.2rem; margin: 0.5rem 0 1.5rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
.passed { color: #1a7f37; } .partial { color: #9a6700; } .failed { color: #cf222e; } .manual { color: #555; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; margin: 0.3rem 0 1rem; }
.note { background: #fff8c5; padding: 0.4rem 0.6rem; margin: 0.3rem 0; }
"""

MESSAGE_LIMIT = 4_000  # characters of one test's message
NOTE_LIMIT = 300  # characters of one note
PAGE_LIMIT = 200_000  # characters of the whole page, roughly
REMOVED = "(a line was removed here: it repeated hidden test code)"
SECRET_MINIMUM = 8  # non-blank characters a hidden line needs to count as secret

_MARK = {"passed": "✔ passed", "partial": "◐ partial credit", "failed": "✘ failed", "manual": "graded by hand"}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def secret_lines(hidden_source_lines: Iterable[str]) -> tuple[str, ...]:
    """The hidden-test lines a feedback page must never repeat (stripped, long enough to be specific)."""
    return tuple(sorted({line.strip() for line in hidden_source_lines
                         if len("".join(line.split())) >= SECRET_MINIMUM}))


def _scrub(text: str, secrets: tuple[str, ...], limit: int) -> str:
    lines = [REMOVED if any(secret in line for secret in secrets) else line for line in text.splitlines()]
    text = "\n".join(lines)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters not shown)"
    return text


def feedback_html(grade: SubmissionGrade, secrets: Iterable[str] = ()) -> str:
    """The feedback page for one student's submission of one assignment.

    Args:
        grade: what was recorded.
        secrets: lines the page must not contain (see :func:`secret_lines`).
    """
    e = html.escape
    secrets = tuple(secrets)
    budget = [PAGE_LIMIT]

    def shown(text: str, limit: int) -> str:
        text = _scrub(text, secrets, min(limit, max(budget[0], 200)))
        budget[0] -= len(text)
        return text

    autograded = [t for t in grade.tests if t.status != "manual"]
    manual = [t for t in grade.tests if t.status == "manual"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feedback: {e(grade.assignment)} · {e(grade.student_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Feedback: {e(grade.assignment)}</h1>",
        f"<div>Student: <strong>{e(grade.student_id)}</strong> · graded {e(grade.finished_at)}</div>",
        f'<div class="total">Autograded score: <strong>{grade.score:g} / {grade.max_score:g}</strong> points'
        + (f" · {sum(t.points for t in manual):g} more points graded by hand" if manual else "") + "</div>",
    ]
    if grade.status != "graded":
        parts.append(f'<div class="note">This submission could not be graded: '
                     f'{e(shown(grade.reason, NOTE_LIMIT))}</div>')
    parts += ["<table><thead><tr><th>Test</th><th>Result</th><th>Hidden tests</th>"
              "<th class=\"num\">Score</th></tr></thead><tbody>"]
    for test in autograded:
        hidden = "—" if test.hidden is None else e(test.hidden)
        parts.append(f'<tr><td><a href="#{e(test.test_id)}">{e(test.test_id)}</a></td>'
                     f'<td class="{e(test.status)}">{_MARK.get(test.status, e(test.status))}</td>'
                     f"<td>{hidden}</td>"
                     f'<td class="num">{(test.score or 0):g} / {test.points:g}</td></tr>')
    for test in manual:
        parts.append(f"<tr><td>{e(test.test_id)}</td><td class=\"manual\">graded by hand</td><td>—</td>"
                     f'<td class="num">… / {test.points:g}</td></tr>')
    parts.append("</tbody></table>")
    for test in autograded:
        parts.append(f'<h2 id="{e(test.test_id)}">{e(test.test_id)} '
                     f'<small class="{e(test.status)}">{_MARK.get(test.status, "")}</small></h2>')
        if test.message.strip():
            parts.append(f"<pre>{e(shown(test.message.strip(), MESSAGE_LIMIT))}</pre>")
    notes = [n for n in grade.notes if n.get("kind") in STUDENT_NOTE_KINDS]
    if notes:
        parts.append("<h2>Notes from the grader</h2>")
        for note in notes:
            parts.append(f'<div class="note">{e(shown(_first_line(str(note.get("detail", ""))), NOTE_LIMIT))}</div>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
