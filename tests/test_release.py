"""`cnncourse release`: a student distribution without solutions, hidden tests or instructor tools."""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.generate import solution_paths, student_notebook
from cnncourse.grading.notebook_format import notebook_text, split_segments
from cnncourse.grading.release import INSTRUCTOR_ONLY_MODULES, MARKER, ReleaseLeakError, build_release
from test_leak_guard import secret_lines

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    dest = tmp_path_factory.mktemp("out") / "student-release"
    report = build_release(dest, REPO)
    return dest, report


def all_text_lines(path: Path) -> list[str]:
    """Every non-blank stripped line of a file, in order; notebooks: of every cell source and output."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return [line.strip() for line in text.splitlines() if line.strip()]
    nb = nbformat.reads(text, as_version=4)
    texts = []
    for cell in nb.cells:
        texts.append(cell.source)
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
    return [line.strip() for t in texts for line in str(t).splitlines() if line.strip()]


def test_release_holds_every_student_notebook_and_the_student_files(release):
    dest, report = release
    solutions = [p.name for p in solution_paths(REPO / "solutions")]
    assert report.notebooks == solutions
    assert sorted(p.name for p in (dest / "notebooks").iterdir()) == solutions
    for name in ("README.md", "Makefile", "environment.yml", "pyproject.toml", MARKER):
        assert (dest / name).is_file(), name
    assert filecmp.cmp(dest / "environment.yml", REPO / "environment.yml", shallow=False)
    assert filecmp.cmp(dest / "pyproject.toml", REPO / "pyproject.toml", shallow=False)
    assert json.loads((dest / MARKER).read_text())["notebooks"] == solutions
    for path in solution_paths(REPO / "solutions"):  # the released notebooks are the generated student copies
        expected = notebook_text(student_notebook(nbformat.read(path, as_version=4), path))
        assert (dest / "notebooks" / path.name).read_text(encoding="utf-8") == expected, path.name


def modules_used(nb) -> set[str]:
    """``cnncourse`` modules a notebook's code names (``from cnncourse import boxes``, ``cnncourse.ops.x``)."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            names |= set(re.findall(r"cnncourse\.(\w+)", cell.source))
            for group in re.findall(r"from cnncourse import ([\w, ]+)", cell.source):
                names |= {n.strip() for n in group.split(",")}
    return names


def test_no_solution_or_hidden_test_line_in_any_file_of_the_release(release):
    dest, report = release
    secrets: dict[str, set[str]] = {}
    hidden: set[str] = set()
    used: dict[str, set[str]] = {}
    for path in solution_paths(REPO / "solutions"):
        solution = nbformat.read(path, as_version=4)
        used[path.name] = modules_used(solution)
        for line in secret_lines(solution):
            secrets.setdefault(line, set()).add(path.name)
        for cell in solution.cells:
            for segment in split_segments(cell.source):
                if segment.kind == "hidden":
                    hidden |= {line.strip() for line in segment.lines if line.strip()} & set(secret_lines(solution))
    assert secrets
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert len(files) > 10
    shipped_references = set()
    for path in files:
        relative = path.relative_to(dest)
        lines = all_text_lines(path)
        if path.suffix == ".ipynb":  # a student notebook: no secret line of its own solution at all
            leaked = {line for line in lines if path.name in secrets.get(line, ())}
            assert not leaked, f"{relative}: {sorted(leaked)[:5]}"
        # anywhere: three lines of one solution in a row, or a long (distinctive) secret line, only
        # as a solution line in a package module that the solution notebook itself uses as a reference
        suspicious = set()
        for block in zip(lines, lines[1:], lines[2:]):
            if set.intersection(*(secrets.get(line, set()) for line in block)):
                suspicious |= set(block)
        suspicious |= {line for line in lines if line in secrets and len("".join(line.split())) >= 40}
        for line in suspicious:
            in_package = relative.parts[0] == "cnncourse" and len(relative.parts) > 1
            module = Path(relative.parts[1]).stem if in_package else None
            allowed = line not in hidden and module is not None and all(module in used[n] for n in secrets[line])
            assert allowed, f"{relative}: {line}"
            shipped_references.add((relative.as_posix(), line))
    assert shipped_references == {(f.path, f.text) for f in report.references}  # each one is reported


def test_nothing_from_solutions_and_no_instructor_module(release):
    dest, _ = release
    assert not [p for p in dest.rglob("*") if "solutions" in p.parts or p.name in ("tests", "benchmarks", "docs")]
    solution_files = list((REPO / "solutions").rglob("*.ipynb"))
    for path in dest.rglob("*"):
        if path.is_file():
            assert not any(filecmp.cmp(path, s, shallow=False) for s in solution_files), path
    for module in INSTRUCTOR_ONLY_MODULES:
        assert not (dest / "cnncourse" / module).exists(), module
    assert not list(dest.rglob("__pycache__")) and not list(dest.rglob("*.pyc"))
    for needed in ("grading/check.py", "grading/notebook_format.py", "grading/runner.py", "grading/sandbox.py",
                   "grading/selfcheck.py", "grading/prepare.py", "grading/kernel.py", "grading/scoring.py",
                   "grading/harness.py", "grading/options.py", "grading/forbid.py", "cli.py"):
        assert (dest / "cnncourse" / needed).is_file(), needed


def test_released_package_runs_validate_and_turns_instructor_commands_away(release):
    dest, _ = release
    run = lambda *args: subprocess.run([sys.executable, *args], cwd=dest, capture_output=True, text=True,  # noqa: E731
                                       timeout=120)
    imported = run("-c", "import cnncourse, cnncourse.grading.selfcheck as s; print(cnncourse.__file__)")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == str(dest / "cnncourse" / "__init__.py")
    assert "validate" in run("-m", "cnncourse", "--help").stdout
    for command in (["autograde", "subs", "--assignment", "00"], ["release", "x"], ["gradebook", "export", "g"]):
        refused = run("-m", "cnncourse", *command)
        assert refused.returncode == 2 and "belongs to the instructor's copy" in refused.stderr, refused.stderr


def test_student_makefile_and_readme_let_a_student_start(release):
    dest, _ = release
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(["make", "-n", "lab"], cwd=dest, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "jupyter lab --notebook-dir=notebooks" in dry.stdout and "pip install" in dry.stdout
    assert "generate" not in dry.stdout and "solutions" not in dry.stdout
    readme = (dest / "README.md").read_text()
    assert "make lab" in readme and "make validate NB=notebooks/00_welcome.ipynb" in readme
    usage = subprocess.run(["make", "-n", "validate"], cwd=dest, capture_output=True, text=True, timeout=60)
    assert "usage: make validate NB=" in usage.stdout


def test_a_leaking_package_stops_the_release_and_writes_nothing(tmp_path):
    repo = tmp_path / "repo"
    for name in ("solutions", "cnncourse"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "environment.yml"):
        shutil.copy2(REPO / name, repo / name)
    solution = nbformat.read(REPO / "solutions" / "00_welcome.ipynb", as_version=4)
    secret = max(secret_lines(solution), key=len)
    (repo / "cnncourse" / "leaky.py").write_text(f"# copied by mistake\n{secret}\n")
    with pytest.raises(ReleaseLeakError, match="leaky.py"):
        build_release(tmp_path / "out", repo)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_solution_lines_in_a_used_reference_module_are_reported_but_hidden_lines_block(tmp_path):
    from cnncourse.grading.release import find_leaks
    from notebook_factory import make_answer_cell, make_tests_cell, notebook

    solution = notebook(
        nbformat.v4.new_code_cell("from cnncourse import boxes"),
        make_answer_cell("area", "def area(b):\n    ### BEGIN SOLUTION\n"
                                 "    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])\n    ### END SOLUTION"),
        make_tests_cell("test_area", "check.close(area(B), boxes.area(B), 'area')\n### BEGIN HIDDEN TESTS\n"
                                     "check.close(area(HIDDEN_BOXES_FOR_GRADING), "
                                     "boxes.area(HIDDEN_BOXES_FOR_GRADING), 'h')"
                                     "\n### END HIDDEN TESTS"))
    root = tmp_path / "release"
    (root / "cnncourse" / "boxes").mkdir(parents=True)
    (root / "cnncourse" / "ops").mkdir()
    reference = "    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])\n"
    (root / "cnncourse" / "boxes" / "areas.py").write_text("def area(b):\n" + reference)
    scan = find_leaks(root, {"09_boxes.ipynb": solution})
    assert [(f.path, f.line) for f in scan.references] == [("cnncourse/boxes/areas.py", 2)] and not scan.leaks
    (root / "cnncourse" / "ops" / "areas.py").write_text("def area(b):\n" + reference)  # not a module it uses
    (root / "cnncourse" / "boxes" / "more.py").write_text(
        "    check.close(area(HIDDEN_BOXES_FOR_GRADING), boxes.area(HIDDEN_BOXES_FOR_GRADING), 'h')\n")
    scan = find_leaks(root, {"09_boxes.ipynb": solution})
    assert sorted(f.path for f in scan.leaks) == ["cnncourse/boxes/more.py", "cnncourse/ops/areas.py"]


def test_release_refuses_to_overwrite_what_is_not_a_release(tmp_path, release):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    with pytest.raises(FileExistsError, match="not a course release"):
        build_release(precious, REPO, force=True)
    assert (precious / "chapter1.tex").exists()
    with pytest.raises(ValueError, match="must not be the repository"):
        build_release(REPO / "solutions" / "out", REPO)
    dest, _ = release
    with pytest.raises(FileExistsError, match="use --force"):
        build_release(dest, REPO)
    again = build_release(dest, REPO, force=True)
    assert again.dest == dest and (dest / MARKER).is_file()


def test_nbgrader_accepts_our_solution_notebooks_as_source(tmp_path):
    """nbgrader's generate_assignment on solutions/ (skipped where nbgrader is not installed)."""
    pytest.importorskip("nbgrader")
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    source = tmp_path / "source" / "ps1"
    source.mkdir(parents=True)
    paths = solution_paths(REPO / "solutions")
    for path in paths:
        shutil.copy2(path, source / path.name)
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    config.CourseDirectory.db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    result = NbGraderAPI(config=config).generate_assignment("ps1", force=True, create=True)
    assert result["success"], result.get("error") or result.get("log")
    for path in paths:
        released = nbformat.read(tmp_path / "release" / "ps1" / path.name, as_version=4)
        text = "\n".join(cell.source for cell in released.cells)
        assert not [line for line in secret_lines(nbformat.read(path, as_version=4)) if line in text.splitlines()]
