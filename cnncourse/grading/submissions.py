"""Finding and reading submissions safely: what is graded, read once, by ``lstat`` before ``open``.

Submissions are laid out one folder per student, the notebook keeping its course name::

    SUBMISSIONS/alice/03_first_cnns.ipynb      SUBMISSIONS/bob.ipynb (flat: the id is the stem)

(names starting with ``.`` are ignored). In a student's folder the notebook is
``<NN_slug>.ipynb``, or failing that the only ``NN_*.ipynb`` there.

Every file is looked at with ``lstat`` before it is opened, and opened with
``O_NOFOLLOW | O_NONBLOCK``: a symbolic link (to a solution notebook, to another student's
file), a student folder that is a link, a directory, a FIFO, a device, a socket, or a file
over :data:`MAX_SUBMISSION_BYTES` is an *invalid* submission with the reason, never read
(and never waited on). The autograder reads every submission once, before any kernel
runs (:func:`read_submission`), so nothing a kernel does changes what a later submission
is graded on, and the gradebook's SHA-256 is that of the bytes graded.

Student ids become file names through :func:`safe_name`, which escapes (never drops)
anything outside ``A-Z a-z 0-9 . _ @ + -``, so two ids never share a feedback page.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat

MAX_SUBMISSION_BYTES = 200 * 2**20
MISSING_SHA256 = "missing"
UNREADABLE_SHA256 = "unreadable"
_PLAIN = re.compile(r"[A-Za-z0-9._@+-]")


class InvalidSubmission(ValueError):
    """A submitted file that is not a readable Jupyter notebook (or not a plain file)."""


@dataclass(frozen=True)
class Submission:
    """One student's submission: ``path`` is ``None`` when there is none (``problem`` says why).

    ``status`` is ``missing`` (no notebook) or ``invalid`` (something that cannot be a
    submission, e.g. a student folder that is a symbolic link) when ``path`` is ``None``.
    """

    student_id: str
    path: Path | None
    problem: str = ""
    status: str = "missing"


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


def _kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, when it is not a plain file."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a plain file"


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
        mode = os.lstat(entry).st_mode
        if entry.suffix == ".ipynb" and not stat.S_ISDIR(mode):
            found[entry.stem] = Submission(entry.stem, entry)
        elif stat.S_ISLNK(mode) and entry.suffix != ".ipynb":
            found[entry.name] = Submission(entry.name, None, "the student's folder is a symbolic link: not graded",
                                           "invalid")
        elif stat.S_ISDIR(mode):
            exact = entry / f"{assignment_stem}.ipynb"
            numbered = sorted(p for p in entry.glob(f"{number}_*.ipynb") if not p.name.startswith("."))
            if os.path.lexists(exact):
                found[entry.name] = Submission(entry.name, exact)
            elif len(numbered) == 1:
                found[entry.name] = Submission(entry.name, numbered[0])
            else:
                present = ", ".join(p.name for p in sorted(entry.glob("*.ipynb"))) or "no notebook"
                problem = (f"several notebooks could be the submission: {present}" if numbered else
                           f"no {assignment_stem}.ipynb in the student's folder (found: {present})")
                found[entry.name] = Submission(entry.name, None, problem)
    return [found[k] for k in sorted(found)]


def read_submission(path: Path, limit: int = MAX_SUBMISSION_BYTES) -> bytes:
    """The bytes of a submitted file, checked with ``lstat`` first (see the module doc).

    Raises:
        InvalidSubmission: naming what the path is when it is not a plain file within ``limit``.
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except OSError as error:
        raise InvalidSubmission(f"{path.name} cannot be read ({error.strerror})") from None
    kind = _kind(info.st_mode)
    if kind == "a symbolic link":
        raise InvalidSubmission(f"{path.name} is a symbolic link (to {os.readlink(path)!r}), not a notebook file: "
                                f"not graded")
    if kind:
        raise InvalidSubmission(f"{path.name} is {kind}, not a notebook file: not graded")
    if info.st_size > limit:
        raise InvalidSubmission(f"{path.name} is {info.st_size / 2**20:.0f} MiB, more than the "
                                f"{limit // 2**20} MiB a notebook may have")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise InvalidSubmission(f"{path.name} cannot be opened ({error.strerror}): not graded") from None
    try:
        opened = os.fstat(descriptor)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise InvalidSubmission(f"{path.name} changed while it was being read: not graded")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    if size > limit:
        raise InvalidSubmission(f"{path.name} is more than the {limit // 2**20} MiB a notebook may have")
    return b"".join(chunks)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_submission(data: bytes, name: str = "submission"):
    """Read a submitted file's bytes as a notebook (nbformat 4).

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
    except (json.JSONDecodeError, RecursionError) as error:
        where = (f"line {error.lineno}, column {error.colno}: {error.msg}" if isinstance(error, json.JSONDecodeError)
                 else "nested too deeply")
        raise InvalidSubmission(f"{name} is not valid JSON ({where}): the file is damaged or not a notebook") from None
    if not isinstance(content, dict) or not isinstance(content.get("cells", content.get("worksheets")), list):
        raise InvalidSubmission(f"{name} is JSON but not a Jupyter notebook (it has no list of cells)")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds
        raise InvalidSubmission(f"{name} is not a readable Jupyter notebook "
                                f"({type(error).__name__}: {str(error)[:300]})") from None
    for number, cell in enumerate(nb.cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw") \
                or not isinstance(cell.get("source"), str) or not isinstance(cell.get("metadata", {}), dict) \
                or (cell.get("cell_type") == "code" and not isinstance(cell.get("outputs", []), list)):
            raise InvalidSubmission(f"{name}: cell {number} is malformed (its cell_type, source, metadata or "
                                    f"outputs are not what a notebook has)")
    return nb


def safe_name(student_id: str) -> str:
    """A file name for ``student_id``: plain characters kept, every other one escaped as ``%XX`` (UTF-8).

    Different ids always give different names (``w2_müller`` → ``w2_m%C3%BCller``,
    ``w2_m_ller`` stays); a leading ``.`` is escaped too, so the name is never hidden
    or ``..``.
    """
    escaped = "".join(c if _PLAIN.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
                      for c in student_id)
    if escaped.startswith("."):
        escaped = "%2E" + escaped[1:]
    return escaped or "%"
