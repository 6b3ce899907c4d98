"""The hostile corpus of ``tests/attacks/corpus.py``, graded by ``cnncourse autograde`` with the defaults.

Every expected score is met, the batch finishes with a row for everyone, no feedback page
holds a line of the hidden tests, nothing a submission started outlives it, and what the
grader had to undo is in the review notes with its evidence.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from attacks.corpus import CONVOLUTION, REPO, WELCOME, convolution_attacks, welcome_attacks
from cnncourse.grading.containment import isolation_problem
from cnncourse.grading.gradebook import Gradebook
from cnncourse.grading.notebook_format import split_segments
from cnncourse.grading.submissions import safe_name

pytestmark = pytest.mark.skipif(isolation_problem() is not None,
                                reason=f"the default containment needs Linux namespaces: {isolation_problem()}")


def hidden_lines(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    return {line.strip() for cell in nb.cells for segment in split_segments(cell.source)
            if segment.kind == "hidden" for line in segment.lines if len("".join(line.split())) >= 8}


def grade(root: Path, attacks, notebook: Path, jobs: int = 2):
    for attack in attacks:
        attack.make(root / "submissions", attack.student_id)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "cnncourse", "autograde", "submissions", "--assignment",
                             notebook.stem[:2], "--solutions", str(REPO / "solutions"), "--jobs", str(jobs),
                             "--cell-timeout", "300", "--quiet"], cwd=root, capture_output=True, text=True,
                            timeout=1200)
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def welcome_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks00")
    attacks = welcome_attacks(root)
    result, seconds = grade(root, attacks, WELCOME)
    print(f"graded {len(attacks)} hostile submissions of 00 in {seconds:.0f} s")
    return root, attacks, result


def rows(root: Path, stem: str):
    with Gradebook(root / "gradebook.sqlite") as book:
        submissions = {row["student_id"]: row for row in book.submissions(stem)}
        scores = {}
        for row in book.grades(assignment=stem):
            if row["status"] != "manual":
                scores.setdefault(row["student_id"], {})[row["test_id"]] = row["score"]
    return submissions, scores


def test_the_batch_finishes_with_a_row_and_the_expected_score_for_everyone(welcome_batch):
    root, attacks, result = welcome_batch
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT contained" not in result.stdout + result.stderr
    submissions, scores = rows(root, WELCOME.stem)
    assert sorted(submissions) == sorted(a.student_id for a in attacks)
    wrong = {a.student_id: (scores.get(a.student_id), a.scores) for a in attacks
             if scores.get(a.student_id) != a.scores or submissions[a.student_id]["status"] != a.status}
    assert not wrong, wrong


def test_nothing_a_submission_started_outlives_it(welcome_batch):
    root, attacks, _ = welcome_batch
    time.sleep(6)  # the rewriter waits 4 s before it tries
    assert not (root / "escaped.txt").exists()
    _, scores = rows(root, WELCOME.stem)
    assert scores["escapes_and_overwrites"] == {"test_conv_output_size": 0.0}
    assert scores["victim_correct"] == {"test_conv_output_size": 2.0}


def test_odd_files_are_invalid_with_a_reason(welcome_batch):
    root, _, _ = welcome_batch
    submissions, _ = rows(root, WELCOME.stem)
    expected = {"symlink_to_solution": "symbolic link", "dangling_symlink": "symbolic link",
                "directory": "a directory", "fifo": "a FIFO", "oversized": "MiB", "linked_folder": "symbolic link"}
    for student, words in expected.items():
        assert submissions[student]["status"] == "invalid" and words in submissions[student]["reason"], student


def test_what_the_grader_undid_is_flagged_with_evidence(welcome_batch):
    root, attacks, _ = welcome_batch
    submissions, _ = rows(root, WELCOME.stem)
    for attack in attacks:
        notes = json.loads(submissions[attack.student_id]["notes"])
        review = " | ".join(n["detail"] for n in notes if n["kind"] == "review")
        for words in attack.review:
            assert words in review, (attack.student_id, words, review)
        kinds = {n["kind"] for n in notes}
        assert set(attack.findings) <= kinds, (attack.student_id, kinds)
    correct = json.loads(submissions["correct"]["notes"])
    assert correct == [], correct  # an honest submission gets no flag


def test_no_feedback_page_holds_a_hidden_test_line_and_pages_are_small(welcome_batch):
    root, attacks, _ = welcome_batch
    secrets = hidden_lines(WELCOME)
    pages = list((root / "feedback" / WELCOME.stem).glob("*.html"))
    assert len(pages) == len(attacks)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not [line for line in secrets if line in text], page.name
        assert len(text) < 300_000, (page.name, len(text))


def test_ids_that_differ_in_non_ascii_letters_get_their_own_pages(welcome_batch):
    root, _, _ = welcome_batch
    folder = root / "feedback" / WELCOME.stem
    mueller = folder / f"{safe_name('w2_müller_thief_displayhook')}.html"
    other = folder / f"{safe_name('w2_m_ller_thief_displayhook')}.html"
    assert mueller != other and mueller.name == "w2_m%C3%BCller_thief_displayhook.html"
    assert "w2_müller" in mueller.read_text(encoding="utf-8") and "2 / 2" in mueller.read_text(encoding="utf-8")
    assert "w2_m_ller" in other.read_text(encoding="utf-8") and "0 / 2" in other.read_text(encoding="utf-8")


def test_notebook_01_references_hooks_and_patches(tmp_path):
    attacks = convolution_attacks()
    result, seconds = grade(tmp_path, attacks, CONVOLUTION)
    print(f"graded {len(attacks)} submissions of 01 in {seconds:.0f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    submissions, scores = rows(tmp_path, CONVOLUTION.stem)
    for attack in attacks:
        assert scores[attack.student_id] == attack.scores, attack.student_id
        review = " | ".join(n["detail"] for n in json.loads(submissions[attack.student_id]["notes"])
                            if n["kind"] == "review")
        assert all(words in review for words in attack.review), (attack.student_id, review)
    assert json.loads(submissions["correct"]["notes"]) == []
    secrets = hidden_lines(CONVOLUTION)
    for page in (tmp_path / "feedback" / CONVOLUTION.stem).glob("*.html"):
        assert not [line for line in secrets if line in page.read_text(encoding="utf-8")], page.name
