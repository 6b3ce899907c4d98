"""The student distribution: ``cnncourse release DEST``.

A release is a folder a student can download and work in::

    DEST/
        README.md          how to install, work, check and hand in (written for students)
        Makefile           make lab · make validate NB=… · make doctor
        environment.yml    the conda route (as in the course repository)
        pyproject.toml     the pip route (as in the course repository)
        notebooks/         the student notebooks, generated afresh from solutions/
        cnncourse/         the helper package, without the instructor-only modules
        .cnncourse-release what was released (lets ``--force`` replace only a release)

**Instructor-only material** (:data:`INSTRUCTOR_ONLY_MODULES`) is what exists only to grade
or to publish: ``grading/autograde.py``, ``gradebook.py``, ``feedback.py``, ``submissions.py``,
``review.py``, ``containment.py`` and this module. Students keep everything they need: the checks
(``cnncourse.grading.check``), the notebook format, ``cnncourse validate`` (prepare, runner,
kernel, scoring, harness, options, sandbox) and the authoring helpers ``generate``/``execute``, which hold no solution.
The ``cnncourse autograde``, ``gradebook`` and ``release`` commands then say that they
belong to the instructor's copy.

Nothing of ``solutions/`` is copied: notebooks are regenerated from it, and before the
release is moved into place every file is scanned for **secret lines** (a line that
appears inside a solution or hidden-test region of a solution notebook and nowhere else
in it; see :func:`find_leaks` for the exact rule). A release that would contain one is not
written (:class:`ReleaseLeakError`), except for solution lines in package modules the
notebook itself checks answers against (its references, shipped by design): those are
listed in the report and in the release's marker file.
The build happens in a temporary folder next to ``DEST``, renamed at the end, so ``DEST``
is never left half-written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cnncourse.grading.generate import solution_paths, student_notebook
from cnncourse.grading.notebook_format import notebook_text, read_notebook, split_segments
from cnncourse.grading.sandbox import stage_package

#: package files (relative to ``cnncourse/``) that stay with the instructor
INSTRUCTOR_ONLY_MODULES = (
    "grading/autograde.py",
    "grading/gradebook.py",
    "grading/feedback.py",
    "grading/release.py",
    "grading/submissions.py",
    "grading/review.py",
    "grading/containment.py",
)
MARKER = ".cnncourse-release"
COPIED_FILES = ("pyproject.toml", "environment.yml", "constraints.txt", "LICENSE")


class ReleaseLeakError(RuntimeError):
    """The release would contain lines of a solution or a hidden test; nothing was written."""


@dataclass
class ReleaseReport:
    """What :func:`build_release` wrote."""

    dest: Path
    notebooks: list[str] = field(default_factory=list)
    files: int = 0
    references: list = field(default_factory=list)  # Finding: solution lines in the package's references


# --------------------------------------------------------------------------- leak scanning


def secret_lines(solution_nb, kinds: tuple[str, ...] = ("solution", "hidden")) -> set[str]:
    """Stripped lines found only inside the notebook's regions of ``kinds``, nowhere outside them.

    With the default ``kinds``: every solution and hidden-test line that a student must not see.
    """
    inside, outside = set(), set()
    for cell in solution_nb.cells:
        for segment in split_segments(cell.source):
            lines = {line.strip() for line in segment.lines if line.strip()}
            if segment.kind in kinds:
                inside |= lines
            elif segment.kind == "plain":
                outside |= lines
    return inside - outside


_REFERENCE = re.compile(r"(?:^|[^\w.])(?:from\s+cnncourse\s+import\s+(\w+)|from\s+cnncourse\.(\w+)|"
                        r"import\s+cnncourse\.(\w+)|cnncourse\.(\w+))")


def reference_modules(solution_nb) -> set[str]:
    """The ``cnncourse`` modules a notebook uses (``{"boxes", "ops"}``), grading excluded.

    A notebook whose checks compare answers with ``cnncourse.boxes`` ships that reference to
    students by design; :func:`find_leaks` accepts its solution lines there and reports them.
    """
    found = set()
    for cell in solution_nb.cells:
        if cell.cell_type == "code":
            for match in _REFERENCE.finditer(cell.source):
                found.add(next(group for group in match.groups() if group))
    return found - {"grading", "runtime", "config", "setup", "seed_everything", "__version__"}


def _notebook_lines(text: str) -> list[str]:
    nb = nbformat.reads(text, as_version=4)
    texts = []
    for cell in nb.cells:
        texts.append(cell.source)
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
            texts.extend(output.get("traceback", []))
    return [line for text in texts for line in str(text).splitlines()]


#: outside its own notebook, a lone secret line shorter than this (non-blank characters) is
#: too generic to call a leak (``return out``, ``kh, kw = kernel.shape``) …
DISTINCTIVE_CHARACTERS = 40
#: … unless it is part of this many consecutive secret lines of one notebook (a copied block)
COPIED_RUN = 3


@dataclass(frozen=True)
class Finding:
    """A secret line found in a file: ``path`` (relative), ``line`` number, ``text``, source notebooks."""

    path: str
    line: int
    text: str
    notebooks: tuple[str, ...]

    @property
    def place(self) -> str:
        """Where, without the secret text itself: ``"cnncourse/boxes/iou.py:160 (from 08_….ipynb)"``."""
        return f"{self.path}:{self.line} (from {', '.join(self.notebooks)})"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text} (from {', '.join(self.notebooks)})"


@dataclass
class LeakScan:
    """What :func:`find_leaks` found: ``leaks`` block a release, ``references`` are reported."""

    leaks: list[Finding] = field(default_factory=list)
    references: list[Finding] = field(default_factory=list)


def find_leaks(root: str | Path, solution_notebooks: dict[str, object]) -> LeakScan:
    """Every place under ``root`` where a solution or hidden-test line of a solution notebook appears.

    Notebooks are searched cell by cell (sources and outputs), every other file line by
    line as text (binary files too, decoded leniently). A secret line counts

    - in the student copy of its own notebook (same file name): always, however short (the
      rule of the repository's leak guard);
    - anywhere else (another notebook, the package, the README): when it is distinctive
      (at least :data:`DISTINCTIVE_CHARACTERS` non-blank characters) or part of a run of
      :data:`COPIED_RUN` consecutive non-blank secret lines of one notebook. Common idioms
      a solution shares with other code (``return out``, ``kh, kw = kernel.shape``) are
      thus allowed, while a copied solution is not.

    A counted line is a *leak*, except a **solution** line (never a hidden-test line) found
    in a package module that its notebook itself uses (:func:`reference_modules`): the
    course checks answers against references in the package, so shipping them is by design;
    such lines are listed in ``references`` for the instructor to see.

    Args:
        root: the folder to search (a release).
        solution_notebooks: ``{file name: notebook}`` of the solution notebooks.
    """
    root = Path(root)
    owners: dict[str, set[str]] = {}
    hidden: set[str] = set()
    references = {name: reference_modules(nb) for name, nb in solution_notebooks.items()}
    for name, nb in solution_notebooks.items():
        for line in secret_lines(nb):
            owners.setdefault(line, set()).add(name)
        hidden |= secret_lines(nb, ("hidden",))
    scan = LeakScan()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        text = path.read_bytes().decode("utf-8", errors="replace")
        try:
            lines = _notebook_lines(text) if path.suffix == ".ipynb" else text.splitlines()
        except Exception:  # noqa: BLE001 - an unreadable notebook is searched as text
            lines = text.splitlines()
        numbered = [(number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()]
        found = [owners.get(stripped, set()) for _, stripped in numbered]
        in_run = [False] * len(numbered)
        for name in set().union(*found) if found else ():
            run = 0
            for position, names in enumerate(found):
                run = run + 1 if name in names else 0
                if run >= COPIED_RUN:
                    for back in range(position - run + 1, position + 1):
                        in_run[back] = True
        for position, (number, stripped) in enumerate(numbered):
            names = found[position]
            if not names:
                continue
            if path.suffix == ".ipynb" and path.name in names:
                names = {path.name}
            elif not (in_run[position] or len("".join(stripped.split())) >= DISTINCTIVE_CHARACTERS):
                continue
            place = Finding(relative.as_posix(), number, stripped, tuple(sorted(names)))
            by_reference = stripped not in hidden and all(
                _module_of(relative) in references[name] for name in names)
            (scan.references if by_reference else scan.leaks).append(place)
    return scan


def _module_of(relative: Path) -> str | None:
    """``cnncourse/boxes/iou.py`` -> ``"boxes"``; ``None`` outside the package."""
    parts = relative.parts
    if len(parts) < 2 or parts[0] != "cnncourse":
        return None
    return Path(parts[1]).stem


# --------------------------------------------------------------------------- the student files

STUDENT_MAKEFILE = """\
# Set-up for students (see README.md):
#   make lab                                  create .venv, install the course, start JupyterLab
#   make validate NB=notebooks/00_welcome.ipynb   run a notebook like the autograder, show the score
#   make doctor                               is this machine ready for the course?

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8888
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?=
# JupyterLab refuses to run as root unless told to (containers, WSL set-ups often are root)
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

.PHONY: lab install validate doctor clean

$(STAMP): pyproject.toml constraints.txt
\t@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0] + ": set PYTHON=/path/to/python3.x")'
\t$(PYTHON) -m venv $(VENV)
\t$(BIN)/python -m pip install --quiet --upgrade pip
\t$(BIN)/python -m pip install --quiet --progress-bar off -c constraints.txt -e .
\t@touch $(STAMP)
\t@echo "Installed the course into $(VENV)."

install: $(STAMP)

lab: install
\t@echo "Starting JupyterLab on notebooks/; open the URL printed below (Ctrl-C stops it)."
\t$(BIN)/jupyter lab --notebook-dir=notebooks --no-browser --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

validate: install
\t@test -n "$(NB)" || { echo "usage: make validate NB=notebooks/00_welcome.ipynb"; exit 2; }
\t$(BIN)/cnncourse validate "$(NB)"

doctor: install
\t$(BIN)/cnncourse doctor

clean:
\trm -rf $(VENV) *.egg-info
"""

STUDENT_GITIGNORE = ".venv/\n__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n"


def student_readme(notebooks: list[str]) -> str:
    """The README of a release, listing its notebooks."""
    listing = "\n".join(f"- `notebooks/{name}`" for name in notebooks) or "- (no notebooks yet)"
    first = f"notebooks/{notebooks[0]}" if notebooks else "notebooks/00_welcome.ipynb"
    return f"""\
# CNN course: student copy

Labs on convolutional neural networks in Keras 3 (TensorFlow backend): you read, run, and
fill in graded exercises; a check under each exercise tells you at once whether your answer
is right, and if not, what went wrong.

## Set up and start

You need Python 3.11 or newer and `make`.

    make lab

creates a virtual environment in `.venv`, installs the course into it (the first time only;
it downloads TensorFlow, so allow a few minutes), and starts JupyterLab on `notebooks/`.
Open the URL it prints. Ctrl-C stops JupyterLab; run `make lab` again to continue: it never
changes your notebooks (it only installs, the first time, and starts JupyterLab).

With conda instead:

    conda env create -f environment.yml
    conda activate cnncourse
    jupyter lab --notebook-dir=notebooks

`make doctor` (or `.venv/bin/cnncourse doctor`) tells you whether this machine has everything: the
data the notebooks use ships with the installed packages or is generated, so everything
runs offline. On a GPU the notebooks switch to a bigger `full` profile by themselves;
`CNNCOURSE_PROFILE=quick make lab` keeps the laptop-sized one.

## Working on an exercise

- Write your code in the **answer cell**, in place of `raise NotImplementedError()` under
  `# YOUR CODE HERE`.
- Run the **check cell** below it: ✔ means right; ✘ comes with what was expected, what your
  code gave, and a hint.
- *Run → Run All Cells* goes through the whole notebook even before you have answered
  anything: an unfinished exercise, and each cell that needs it, says so in one line and the
  run goes on.
- Check cells are locked. Do not edit or delete them: the grader puts the original back
  anyway, and reports the change.

## What score to expect

    make validate NB={first}

(or `.venv/bin/cnncourse validate {first}`) runs your notebook the way the autograder does, from top
to bottom in a fresh kernel with time and memory limits, and prints the score of the
visible checks. When you are graded, **hidden tests** run too: the same checks on other
inputs. So make your code right in general, not only on the visible examples.

## Handing in

Hand in the notebook file itself (for example `{first}`), keeping its name. Before you do,
run *Kernel → Restart Kernel and Run All Cells*: the grader starts from a fresh kernel, so
code that only works because of cells you ran earlier, or in another order, will fail.
Printing, warnings and anything written to stderr never cost points.

## Notebooks

{listing}

This copy holds no solutions and no hidden tests.
"""


# --------------------------------------------------------------------------- building


def build_release(dest: str | Path, repo_root: str | Path = ".", force: bool = False) -> ReleaseReport:
    """Write the student distribution of the course in ``repo_root`` to ``dest``.

    Args:
        dest: the release folder; it must not exist, be empty, or (with ``force``) hold an
            earlier release.
        repo_root: the course repository (holding ``solutions/``, ``cnncourse/``,
            ``pyproject.toml`` and ``environment.yml``).
        force: replace an earlier release in ``dest``.

    Raises:
        FileExistsError: ``dest`` holds something else than an earlier release.
        ValueError: ``dest`` is inside or above the repository's own folders.
        ReleaseLeakError: a secret line would be released (nothing is written).
        NotebookFormatError: a solution notebook has structural errors.
    """
    repo = Path(repo_root).resolve()
    dest = Path(dest).resolve()
    for required in ("solutions", "cnncourse", "pyproject.toml", "environment.yml"):
        if not (repo / required).exists():
            raise FileNotFoundError(f"{repo} is not the course repository: it has no {required}")
    protected = [repo / name for name in ("solutions", "cnncourse", "notebooks", "tests", ".git")]
    if dest == repo or dest in repo.parents or any(dest == p or p in dest.parents for p in protected):
        raise ValueError(f"release folder {dest} must not be the repository, above it, or inside its "
                         f"solutions/, cnncourse/, notebooks/, tests/ or .git/")
    if dest.exists() and any(dest.iterdir()):
        if not (dest / MARKER).is_file():
            raise FileExistsError(f"{dest} exists and is not a course release; choose another folder")
        if not force:
            raise FileExistsError(f"{dest} already holds a release; use --force to replace it")

    dest.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    build.chmod(0o755)
    try:
        report = _write_release(build, repo)
        solutions = {p.name: read_notebook(p) for p in solution_paths(repo / "solutions")}
        scan = find_leaks(build, solutions)
        if scan.leaks:
            raise ReleaseLeakError("the release would contain solution or hidden-test lines; nothing was written:\n"
                                   + "\n".join(f"  {leak}" for leak in scan.leaks[:50]))
        report.references = scan.references
        marker = json.loads((build / MARKER).read_text(encoding="utf-8"))
        marker["reference_overlaps"] = [finding.place for finding in scan.references]
        (build / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(build, dest)
            shutil.rmtree(old)
        else:
            os.replace(build, dest)
    finally:
        if build.exists():
            shutil.rmtree(build)
    report.dest = dest
    return report


def _write_release(build: Path, repo: Path) -> ReleaseReport:
    report = ReleaseReport(build)
    (build / "notebooks").mkdir()
    for path in solution_paths(repo / "solutions"):
        student = student_notebook(read_notebook(path), path)
        (build / "notebooks" / path.name).write_text(notebook_text(student), encoding="utf-8")
        report.notebooks.append(path.name)
    stage_package(build, INSTRUCTOR_ONLY_MODULES, package_dir=repo / "cnncourse", read_only=False)
    for name in COPIED_FILES:
        if (repo / name).is_file():
            shutil.copy2(repo / name, build / name)
    (build / "Makefile").write_text(STUDENT_MAKEFILE, encoding="utf-8")
    (build / "README.md").write_text(student_readme(report.notebooks), encoding="utf-8")
    (build / ".gitignore").write_text(STUDENT_GITIGNORE, encoding="utf-8")
    from cnncourse import __version__

    (build / MARKER).write_text(json.dumps({"cnncourse": __version__, "notebooks": report.notebooks},
                                           indent=1) + "\n", encoding="utf-8")
    report.files = sum(1 for p in build.rglob("*") if p.is_file())
    return report
