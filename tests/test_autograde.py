"""End-to-end autograding of corpora with known scores (see test_autograde_corpus.py).

The tiny corpus (20 submissions, no TensorFlow) is graded once per module with
``cnncourse autograde --jobs 2``; a second run of the same corpus is killed halfway
(SIGKILL to the whole grader process group) and resumed, and must end with the same
gradebook. The real ``00_welcome`` notebook is graded in a smaller batch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.autograde import (
    InvalidSubmission,
    autograde,
    find_submissions,
    parse_shard,
    parse_submission,
    resolve_source,
    review_flags,
    shard_of,
)
from cnncourse.cli import main
from cnncourse.grading.gradebook import Gradebook
from cnncourse.grading.runner import RunOptions
from cnncourse.grading.notebook_format import split_segments
from test_autograde_corpus import (
    HIDDEN_MARKERS,
    REPO,
    WELCOME,
    tiny_corpus,
    tiny_source,
    welcome_corpus,
    write_corpus,
    write_tiny_assignment,
)

TINY = "07_tiny"
FAST = ["--cell-timeout", "5", "--interrupt-grace", "3", "--memory", "1", "--quiet"]


def private_tmp(root: Path) -> dict:
    """An environment whose temporary folder is next to ``root``, in pytest's own temporary area (a killed
    grader leaves its litter there), not inside ``root``, which holds ``solutions/``."""
    folder = root.with_name(root.name + "-tmp")
    folder.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(folder)}


def run_cli(*args, cwd, **kwargs):
    """The ``cnncourse`` command in a fresh process."""
    return subprocess.run([sys.executable, "-m", "cnncourse", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=private_tmp(Path(cwd)), **kwargs)


def run_main(capsys, monkeypatch, *args, cwd):
    """The ``cnncourse`` command in this process (saves the start-up time of a new one)."""
    monkeypatch.chdir(cwd)
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def hidden_lines(solution_nb) -> set[str]:
    lines = set()
    for cell in solution_nb.cells:
        for segment in split_segments(cell.source):
            if segment.kind == "hidden":
                lines.update(line.strip() for line in segment.lines if line.strip())
    return lines


def scores_by_student(gradebook: Path, assignment: str) -> dict[str, dict[str, float]]:
    with Gradebook(gradebook) as book:
        scores: dict[str, dict[str, float]] = {}
        for row in book.grades(assignment=assignment):
            if row["status"] != "manual":
                scores.setdefault(row["student_id"], {})[row["test_id"]] = row["score"]
        return scores


def gradebook_rows(path: Path) -> tuple[list, list]:
    """Every row of both tables, without the timestamp columns."""
    db = sqlite3.connect(path)
    submissions = db.execute("SELECT student_id, assignment, status, score, max_score, reason, notes, "
                             "submission_sha256, source_sha256 FROM submissions ORDER BY 1, 2").fetchall()
    grades = db.execute("SELECT student_id, assignment, test_id, position, points, score, status, reason, message, "
                        "hidden FROM grades ORDER BY 1, 2, 4").fetchall()
    db.close()
    return submissions, grades


# --------------------------------------------------------------------------- the tiny corpus


@pytest.fixture(scope="module")
def tiny_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    write_tiny_assignment(root, TINY)
    cases = tiny_corpus()
    write_corpus(cases, root / "submissions", f"{TINY}.ipynb")
    started = time.monotonic()
    result = run_cli("autograde", "submissions", "--assignment", "07", "--jobs", "2", *FAST, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root, {case.name: case for case in cases}, result, time.monotonic() - started


def test_every_submission_gets_its_expected_score(tiny_batch):
    root, cases, result, _ = tiny_batch
    assert "graded 20" in result.stdout and "grader errors 0" in result.stdout
    got = scores_by_student(root / "gradebook.sqlite", TINY)
    expected = {name: case.scores for name, case in cases.items()}
    wrong = {name: (got.get(name), want) for name, want in expected.items() if got.get(name) != want}
    assert not wrong, f"(got, expected) per student: {wrong}"


def test_statuses_reasons_and_tampering_reports(tiny_batch):
    root, cases, _, _ = tiny_batch
    with Gradebook(root / "gradebook.sqlite") as book:
        submissions = {row["student_id"]: row for row in book.submissions(TINY)}
        for name, case in cases.items():
            row = submissions[name]
            assert row["status"] == case.status, name
            kinds = {note["kind"] for note in json.loads(row["notes"])}
            assert set(case.findings) <= kinds, (name, kinds)
            assert row["max_score"] == 5.0
        assert "not valid JSON" in submissions["malformed_json"]["reason"]
        assert "not a Jupyter notebook" in submissions["not_a_notebook"]["reason"]
        reasons = {(g["student_id"], g["test_id"]): g["reason"] for g in book.grades(assignment=TINY)}
        assert "exited with status 3" in reasons["kernel_dies", "test_mean_of"]
        assert reasons["kernel_dies", "test_count_vowels"].startswith("not run")
        assert "time limit" in reasons["infinite_loop", "test_mean_of"]
        assert "did not stop when interrupted" in reasons["loop_ignores_interrupt", "test_mean_of"]
        assert "MemoryError" in reasons["memory_hog", "test_mean_of"]
        assert "hidden tests failed" in reasons["wrong_mean_hidden", "test_mean_of"]
        assert reasons["partial", "test_count_vowels"].startswith("partial credit")
        manual = [g for g in book.grades("correct", TINY) if g["status"] == "manual"]
        assert [(g["test_id"], g["points"], g["score"]) for g in manual] == [("explain", 1.0, None)]
        flags = [n["detail"] for n in json.loads(submissions["redefines_check"]["notes"]) if n["kind"] == "review"]
        assert any("check.equal" in f for f in flags) and any("rebinds the name check" in f for f in flags)
        assert not [n for n in json.loads(submissions["correct"]["notes"])]


def test_feedback_shows_visible_verdicts_but_nothing_of_hidden_tests(tiny_batch):
    root, cases, _, _ = tiny_batch
    secrets = hidden_lines(tiny_source())
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (root / "feedback" / TINY).glob("*.html")}
    assert set(pages) == set(cases)
    for name, page in pages.items():
        for marker in HIDDEN_MARKERS:
            assert marker not in page, (name, marker)
        for line in secrets:
            assert line not in page, (name, line)
    assert "✘ hidden tests failed" in pages["wrong_mean_hidden"]
    assert "✔ mean_of([1, 2, 3, 4])" in pages["wrong_mean_hidden"]
    assert "expected: 5" in pages["wrong_add"] and "5 / 5" not in pages["wrong_add"]
    assert "was changed; the original was put back" in pages["tampered_test"]
    assert "print(&#x27;✔" not in pages["tampered_test"]
    assert "not valid JSON" in pages["malformed_json"]


def test_csv_has_one_row_per_student_one_column_per_assignment_and_a_total(tiny_batch):
    root, cases, _, _ = tiny_batch
    rows = list(csv.DictReader(io.StringIO((root / "gradebook.csv").read_text())))
    assert list(rows[0]) == ["student_id", TINY, "total"]
    assert {r["student_id"]: float(r["total"]) for r in rows} == {n: c.total for n, c in cases.items()}


def test_executed_notebooks_are_kept_for_the_instructor_with_output_capped(tiny_batch):
    root, _, _, _ = tiny_batch
    graded = nbformat.read(root / "autograded" / TINY / "huge_output.ipynb", as_version=4)
    text = json.dumps(graded)
    assert "output truncated by the grader" in text and len(text) < 1_000_000
    assert "7919" in text  # the instructor's copy holds the hidden tests


def test_a_killed_run_resumes_and_ends_with_the_same_gradebook(tiny_batch):
    root, cases, _, _ = tiny_batch
    command = [sys.executable, "-m", "cnncourse", "autograde", "submissions", "--assignment", "07", "--jobs", "2",
               "--gradebook", "second/gradebook.sqlite", *FAST]
    grader = subprocess.Popen(command, cwd=root, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=private_tmp(root))
    database = root / "second" / "gradebook.sqlite"
    deadline = time.monotonic() + 300
    finished = 0
    try:
        while time.monotonic() < deadline and grader.poll() is None:
            time.sleep(0.2)
            if database.exists():
                try:
                    finished = sqlite3.connect(database).execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
                except sqlite3.OperationalError:  # the schema is being created
                    continue
                if finished >= 6:
                    break
    finally:
        os.killpg(grader.pid, signal.SIGKILL)  # the grader and its workers, mid-submission
        grader.wait()
    assert 6 <= finished < len(cases), f"the run was not killed halfway ({finished} finished)"
    with Gradebook(database) as book:
        kept = {r["student_id"]: r["finished_at"] for r in book.submissions(TINY)}
    resumed = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600, env=private_tmp(root))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"already graded {len(kept)}" in resumed.stdout
    with Gradebook(database) as book:
        final = {r["student_id"]: r["finished_at"] for r in book.submissions(TINY)}
    assert all(final[s] == kept[s] for s in kept)  # nothing finished was lost or redone
    assert gradebook_rows(database) == gradebook_rows(root / "gradebook.sqlite")
    assert (root / "second" / "gradebook.csv").read_bytes() == (root / "gradebook.csv").read_bytes()


def test_shards_partition_the_class_and_merge_into_the_full_gradebook(tiny_batch, tmp_path, capsys, monkeypatch):
    root, cases, _, _ = tiny_batch
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("correct", "malformed_json", "not_a_notebook"):
        (flat / f"{name}.ipynb").write_text(cases[name].content, encoding="utf-8")
    (flat / "no_notebook").mkdir()
    (flat / "no_notebook" / "notes.txt").write_text("forgot to upload")
    shards = []
    for index in (1, 2):
        book = tmp_path / f"shard{index}.sqlite"
        result = run_main(capsys, monkeypatch, "autograde", str(flat), "--assignment", TINY, "--solutions",
                          str(root / "solutions"), "--gradebook", str(book), "--shard", f"{index}/2", *FAST,
                          cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        shards.append(book)
    students = [{r["student_id"] for r in Gradebook(b).submissions()} for b in shards]
    assert students[0].isdisjoint(students[1])
    assert students[0] | students[1] == {"correct", "malformed_json", "not_a_notebook", "no_notebook"}
    merged = run_main(capsys, monkeypatch, "gradebook", "merge", "merged.sqlite", *map(str, shards), cwd=tmp_path)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    with Gradebook(tmp_path / "merged.sqlite") as book:
        rows = {r["student_id"]: r for r in book.submissions(TINY)}
    assert rows["no_notebook"]["status"] == "missing" and rows["no_notebook"]["score"] == 0
    assert "no 07_tiny.ipynb in the student's folder" in rows["no_notebook"]["reason"]
    full = {row[0]: row for row in gradebook_rows(root / "gradebook.sqlite")[0]}
    for name in ("correct", "malformed_json", "not_a_notebook"):  # as in the nested layout's gradebook
        assert (rows[name]["status"], rows[name]["score"]) == (full[name][2], full[name][3])
        assert rows[name]["reason"].replace(f"{name}.ipynb", f"{TINY}.ipynb") == full[name][5]
    text = (tmp_path / "merged.csv").read_text()
    assert text.splitlines()[0] == f"student_id,{TINY},total" and "correct,5,5" in text


def test_rerun_skips_what_is_graded_and_regrades_a_changed_file(tiny_batch, capsys, monkeypatch):
    root, cases, _, _ = tiny_batch
    before = {r["student_id"]: r["finished_at"] for r in Gradebook(root / "gradebook.sqlite").submissions(TINY)}
    again = run_main(capsys, monkeypatch, "autograde", "submissions", "--assignment", "07", *FAST, cwd=root)
    assert again.returncode == 0 and "graded 0, already graded 20" in again.stdout, again.stdout + again.stderr
    resubmitted = root / "submissions" / "stubs" / f"{TINY}.ipynb"
    resubmitted.write_text(cases["correct"].content, encoding="utf-8")  # (this test runs last: it changes the batch)
    third = run_main(capsys, monkeypatch, "autograde", "submissions", "--assignment", "07", *FAST, cwd=root)
    assert "graded 1, already graded 19" in third.stdout, third.stdout + third.stderr
    with Gradebook(root / "gradebook.sqlite") as book:
        after = {r["student_id"]: r for r in book.submissions(TINY)}
    assert after["stubs"]["score"] == 5.0
    assert all(after[s]["finished_at"] == before[s] for s in before if s != "stubs")



# --------------------------------------------------------------------------- the real notebook


def test_real_welcome_notebook_corpus(tmp_path):
    cases = [c for c in welcome_corpus() if c.name in ("correct", "hidden_wrong")]
    write_corpus(cases, tmp_path / "submissions", WELCOME.name)
    result = run_cli("autograde", "submissions", "--assignment", "00", "--solutions", str(REPO / "solutions"),
                     "--jobs", "2", "--cell-timeout", "300", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    got = scores_by_student(tmp_path / "gradebook.sqlite", WELCOME.stem)
    assert got == {c.name: c.scores for c in cases}
    with Gradebook(tmp_path / "gradebook.sqlite") as book:
        reasons = {g["student_id"]: g["reason"] for g in book.grades(assignment=WELCOME.stem)}
        notes = {r["student_id"]: json.loads(r["notes"]) for r in book.submissions()}
    assert reasons["hidden_wrong"].startswith("hidden tests failed")
    assert notes == {"correct": [], "hidden_wrong": []}
    secrets = hidden_lines(nbformat.read(WELCOME, as_version=4))
    for page in (tmp_path / "feedback" / WELCOME.stem).glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not [line for line in secrets if line in text], page.name
        assert "(224" not in text and "28, 5" not in text


# --------------------------------------------------------------------------- pieces (no kernel)


def test_find_submissions_nested_flat_missing_and_ambiguous(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "03_first_cnns.ipynb").write_text("{}")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "03_first_cnns-Copy1.ipynb").write_text("{}")
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "03_a.ipynb").write_text("{}")
    (tmp_path / "carol" / "03_b.ipynb").write_text("{}")
    (tmp_path / "dave.ipynb").write_text("{}")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / "erin").mkdir()
    found = {s.student_id: s for s in find_submissions(tmp_path, "03_first_cnns")}
    assert sorted(found) == ["alice", "bob", "carol", "dave", "erin"]
    assert found["alice"].path.name == "03_first_cnns.ipynb" and found["bob"].path.name == "03_first_cnns-Copy1.ipynb"
    assert found["carol"].path is None and "several notebooks" in found["carol"].problem
    assert found["dave"].path == tmp_path / "dave.ipynb"
    assert found["erin"].path is None and "no 03_first_cnns.ipynb" in found["erin"].problem
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_submissions(tmp_path / "nope", "03_first_cnns")


def test_resolve_source_by_number_or_name():
    assert resolve_source(REPO / "solutions", "00") == WELCOME
    assert resolve_source(REPO / "solutions", "00_welcome") == WELCOME
    with pytest.raises(FileNotFoundError, match="no solution notebook for assignment '99'"):
        resolve_source(REPO / "solutions", "99")


def test_parse_shard_and_stable_partition():
    assert parse_shard("2/8") == (2, 8) and parse_shard(" 1 / 1 ") == (1, 1)
    for bad in ("0/4", "5/4", "3", "a/b", "1/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
    students = [f"student{i:03d}" for i in range(300)]
    assignment = {s: shard_of(s, 4) for s in students}
    assert set(assignment.values()) == {1, 2, 3, 4}
    assert all(40 < list(assignment.values()).count(k) < 110 for k in range(1, 5))
    assert {s: shard_of(s, 4) for s in students[:150]} == {s: assignment[s] for s in students[:150]}


@pytest.mark.parametrize("data, message", [
    (b'{"cells": [', "not valid JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (b'["a", "list"]', "not a Jupyter notebook"),
    (b'{"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "malformed|readable"),
])
def test_parse_submission_rejects_what_is_not_a_notebook(data, message):
    with pytest.raises(InvalidSubmission, match=message):
        parse_submission(data, "x.ipynb")


def test_review_flags_name_what_to_look_at_and_leave_honest_code_alone():
    assert review_flags("def add(a, b):\n    return a + b\n%timeit add(1, 2)\n!ls") == []
    flags = review_flags("import numpy as np\nnp.allclose = lambda *a, **k: True\ncheck = None\n"
                         "setattr(check, 'equal', print)\nimport os\nos._exit(0)\nopen('../solutions/x')")
    assert flags == ["assigns to np.allclose", "rebinds the name check", "calls setattr on check", "calls os._exit",
                     "mentions '../solutions/x'"]


def test_kernels_may_not_work_inside_the_course_folder(tmp_path):
    solutions = write_tiny_assignment(tmp_path, TINY)
    (tmp_path / "subs").mkdir()
    with pytest.raises(ValueError, match="lies inside"):
        autograde(tmp_path / "subs", "07", solutions_dir=solutions, gradebook=tmp_path / "g.sqlite",
                  options=RunOptions(workdir_root=str(tmp_path / "scratch")), progress=False, log=lambda _: None)
