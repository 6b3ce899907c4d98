"""The student release as a student meets it: its Makefile, its command line, its notebooks' outputs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.dependencies import student_code_cells
from cnncourse.grading.generate import solution_paths

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    from cnncourse.grading.release import build_release

    dest = tmp_path_factory.mktemp("release") / "course"
    build_release(dest, REPO)
    return dest


def cnncourse_in(release, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "cnncourse", *args], cwd=release, capture_output=True,
                          text=True, env=env, timeout=120)


def test_the_release_command_line_shows_only_the_student_commands(release):
    result = cnncourse_in(release, "--help")
    assert result.returncode == 0
    section = result.stdout.split("positional arguments:")[1].split("options:")[0]
    listed = {line.split()[0] for line in section.splitlines() if line.startswith("    ") and line.split()
              and not line.startswith("     ")}
    assert listed == {"validate", "doctor"}


@pytest.mark.parametrize("command", ["generate", "execute", "release", "autograde", "gradebook"])
def test_an_instructor_command_in_the_release_says_where_it_lives(release, command):
    result = cnncourse_in(release, command, "--check")
    assert result.returncode == 2
    assert f"`cnncourse {command}` belongs to the instructor's copy of the course: it lives in the course repository" in result.stderr
    assert "orphan" not in result.stdout + result.stderr and "out of date" not in result.stdout + result.stderr


def test_the_repository_command_line_still_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "cnncourse", "--help"], cwd=REPO, capture_output=True, text=True)
    for command in ("generate", "execute", "validate", "doctor", "release", "autograde", "gradebook"):
        assert command in result.stdout


@pytest.mark.parametrize("uid, flag", [("0", True), ("1000", False)])
def test_the_release_makefile_passes_allow_root_only_as_root(release, tmp_path, uid, flag):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake / "id").chmod(0o755)
    result = subprocess.run(["make", "-n", "lab"], cwd=release, capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    lab_line = next(line for line in result.stdout.splitlines() if "jupyter lab" in line)
    assert ("--allow-root" in lab_line) is flag


def test_the_release_notebooks_hold_no_output_of_student_code(release):
    for solution_path in solution_paths(REPO / "solutions"):
        solution = nbformat.read(solution_path, as_version=4)
        student = nbformat.read(release / "notebooks" / solution_path.name, as_version=4)
        leaks = [i + 1 for i in student_code_cells(solution).cells if student.cells[i].get("outputs")]
        assert not leaks, f"{solution_path.name}: cells {leaks} show outputs of student code"


def test_the_release_readme_uses_commands_that_work_after_make_lab(release):
    text = (release / "README.md").read_text()
    for line in text.splitlines():
        for command in ("cnncourse doctor", "cnncourse validate"):
            if command in line:
                assert f".venv/bin/{command}" in line or f"make {command.split()[1]}" in line, line


def test_the_release_installs_the_tested_versions(release):
    assert (release / "constraints.txt").read_text() == (REPO / "constraints.txt").read_text()
    makefile = (release / "Makefile").read_text()
    install_lines = [line for line in makefile.splitlines() if "pip install" in line and " -e ." in line]
    assert install_lines and all("-c constraints.txt" in line for line in install_lines), install_lines
    assert "(3, 11)" in makefile and "3.10" not in makefile
    assert "Python 3.11 or newer" in (release / "README.md").read_text()
