"""Hostile submissions of the real notebooks 00 and 01, one or more per class of attack, with their expected scores.

Each case is a student notebook generated from ``solutions/`` and edited the way a student
who wants points without the work could edit it (``kind`` names the class of the issue:
``escape``, ``hooks``, ``patching``, ``shadowing``, ``symlink``, ``references``,
``poisoning``, ``forged_value``, ``victim``, ``pasted``, ``history``, ``odd_file``,
``bloat``, ``names``). ``write`` lays a case out in a submissions folder; a case whose
file is not a notebook (a link, a FIFO, …) makes its own entry.
"""

from __future__ import annotations

import ast
import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

from cnncourse.grading.generate import student_notebook
from cnncourse.grading.notebook_format import cell_role, notebook_text

REPO = Path(__file__).resolve().parents[2]
WELCOME = REPO / "solutions" / "00_welcome.ipynb"
CONVOLUTION = REPO / "solutions" / "01_convolution_by_hand.ipynb"


@dataclass
class Attack:
    """One submission: ``make(folder, student_id)`` writes it; ``scores`` are the expected ones (test id → points)."""

    student_id: str
    kind: str
    make: Callable[[Path, str], None]
    scores: dict
    status: str = "graded"
    review: tuple = ()  # substrings that must appear in the submission's review notes
    findings: tuple = ()  # finding kinds that must be reported


def _solution_answers(source) -> dict[str, str]:
    """The solution's answers, markers removed: a correct submission."""
    return {cell.metadata["nbgrader"]["grade_id"]: "\n".join(line for line in cell.source.splitlines()
                                                               if "### BEGIN SOLUTION" not in line
                                                               and "### END SOLUTION" not in line)
            for cell in source.cells if cell_role(cell) == "answer"}


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if isinstance(c.metadata.get("nbgrader"), dict)
                and c.metadata["nbgrader"].get("grade_id") == grade_id)


def _points(source) -> dict[str, float]:
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in source.cells if cell_role(c) == "tests"}


def _notebook_writer(nb) -> Callable[[Path, str], None]:
    text = notebook_text(nb)

    def make(folder: Path, student_id: str) -> None:
        path = folder / student_id / nb.metadata["cnncourse_name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return make


def visible_cases(source, test_id: str, function: str) -> list[tuple[tuple, object]]:
    """``[(args, expected)]`` of the visible ``check.equal(function(...), expected, …)`` calls of a tests cell."""
    code = source.cells[_index(source, test_id)].source.split("### BEGIN HIDDEN TESTS")[0]
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "equal" and node.args:
            call = node.args[0]
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "check" or (
                    isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "call"):
                call = ast.Call(call.args[0], call.args[1:], call.keywords)
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == function:
                try:
                    args = tuple(ast.literal_eval(a) for a in call.args)
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                    found.append(((args, tuple(sorted(kwargs.items()))), ast.literal_eval(node.args[1])))
                except ValueError:
                    continue
    return found


class Builder:
    """Makes submissions of one solution notebook."""

    def __init__(self, path: Path):
        self.path = path
        self.source = nbformat.read(path, as_version=4)
        self.student = student_notebook(self.source, path)
        self.student.metadata["cnncourse_name"] = path.name
        self.right = _solution_answers(self.source)
        self.points = _points(self.source)
        self.zero = {k: 0.0 for k in self.points}

    def notebook(self, answers: dict[str, str] | None = None, prepend: str = "", extra_cells=()):
        nb = copy.deepcopy(self.student)
        for grade_id, text in (answers or {}).items():
            nb.cells[_index(nb, grade_id)].source = text
        if prepend:
            first = next(i for i, c in enumerate(nb.cells) if cell_role(c) == "answer")
            nb.cells[first].source = prepend + "\n" + nb.cells[first].source
        for position, text in extra_cells:
            nb.cells.insert(position if position >= 0 else len(nb.cells), nbformat.v4.new_code_cell(text))
        return nb


SETSID_REWRITER = r'''
import os, sqlite3, subprocess, sys, time, textwrap
script = textwrap.dedent("""
    import glob, os, sqlite3, time
    time.sleep(4)
    for path in glob.glob({root!r} + '/**/*.sqlite', recursive=True):
        try:
            db = sqlite3.connect(path)
            db.execute("UPDATE submissions SET score = max_score")
            db.execute("UPDATE grades SET score = points WHERE score IS NOT NULL")
            db.commit()
        except Exception:
            pass
    open({root!r} + '/escaped.txt', 'w').write('a process outlived its kernel')
""")
subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''

OVERWRITE_VICTIM = r'''
import glob
for path in glob.glob({root!r} + "/submissions/victim*/*.ipynb"):
    try:
        open(path, "w").write('{{"cells": []}}')
    except OSError:
        pass
'''

READ_SECRETS = r'''
import glob, os
SECRET = ""
for pattern in [{solutions!r} + "/*.ipynb", "/proc/*/cmdline", {root!r} + "/**/*.sqlite"]:
    for path in glob.glob(pattern, recursive=True):
        try:
            SECRET += open(path, errors="replace").read()
        except OSError:
            pass
print("\n".join("✔ " + line for line in SECRET.splitlines()[:4000]))
'''

POST_RUN_HOOK = '''
import IPython
def _forgive(result):
    result.error_in_exec = None
    result.error_before_exec = None
IPython.get_ipython().events.register("post_run_cell", _forgive)
IPython.get_ipython().events.register("post_execute", lambda: None)
'''

TRANSFORMER = '''
import IPython
IPython.get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
IPython.get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
'''

PATCH_CHECKS = '''
import operator, numpy, builtins
operator.index = lambda value: 0
numpy.array_equal = lambda *args, **kwargs: True
numpy.allclose = lambda *args, **kwargs: True
builtins.abs = lambda value: 0
'''

SHADOW_BUILTINS = '''
def compile(*args, **kwargs):
    return __builtins__.compile("None", "<nothing>", "eval")
def exec(*args, **kwargs):
    return None
def print(*args, **kwargs):
    pass
'''

HISTORY_DUMP = '''
lines = []
shell = get_ipython()
for source in list(In) + list(_ih):
    lines.extend(str(source).splitlines())
for session, number, source in shell.history_manager.get_range(output=False):
    lines.extend(str(source).splitlines())
print("\\n".join("✔ " + line for line in lines))
raise ValueError("\\n".join(lines))
'''

FRAME_THIEF = '''
import sys
STOLEN = []
def _steal():
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, str) and "check." in value:
                STOLEN.extend(value.splitlines())
        frame = frame.f_back
'''

#: swaps the code of the imported forbid module's context manager for one that checks nothing
NEUTER_FORBID = """
from cnncourse.grading import forbid as _forbid
def _checks_nothing(names, what="", functions=()):
    yield
_forbid.forbidding.__wrapped__.__code__ = _checks_nothing.__code__
"""

WRITE_GRADER = r'''
def _can_write_grader():
    for path in [{check!r}, {solution!r}]:
        try:
            open(path, "a").close()
            return True
        except OSError:
            pass
    return False
'''


def welcome_attacks(root: Path) -> list[Attack]:
    """Attacks on notebook 00 (``root``: the folder holding ``submissions/`` and the gradebook)."""
    b = Builder(WELCOME)
    test = "test_conv_output_size"
    right, zero, full = b.right, b.zero, b.points
    stub = {}
    answer = right["conv_output_size"]
    solutions = str(WELCOME.parent)
    thief = FRAME_THIEF + answer.replace("    padded =", "    _steal()\n    import sys\n    sys.displayhook(0.5)\n"
                                                     "    print('0123456789abcdef {\"status\": \"ok\"}')\n"
                                                     "    padded =", 1)
    cases = [
        Attack("correct", "baseline", _notebook_writer(b.notebook(right)), full),
        Attack("stub_tagged_raises_exception", "tags", _notebook_writer(_tagged(b.notebook(stub))), zero),
        Attack("escapes_and_overwrites", "escape", _notebook_writer(b.notebook(
            stub, prepend=SETSID_REWRITER.format(root=str(root)) + OVERWRITE_VICTIM.format(root=str(root)))), zero),
        Attack("victim_correct", "victim", _notebook_writer(b.notebook(right)), full),
        Attack("reads_secrets", "escape", _notebook_writer(b.notebook(
            {"conv_output_size": READ_SECRETS.format(solutions=solutions, root=str(root)) + "\n" + (
                "def conv_output_size(input_size, kernel_size, padding=0, stride=1):\n"
                "    if 'BEGIN SOLUTION' not in SECRET:\n        return -1\n"
                + "\n".join("    " + line for line in answer.splitlines()[1:]))})), zero),
        Attack("post_run_hook_and_shadowed_builtins", "hooks", _notebook_writer(b.notebook(
            stub, prepend=POST_RUN_HOOK + SHADOW_BUILTINS)), zero, review=("post_run_cell", "a builtin")),
        Attack("transformer_and_handler", "hooks", _notebook_writer(b.notebook(stub, prepend=TRANSFORMER)), zero,
               review=("set_custom_exc", "no verdict came back")),  # the transformer blanks the harness's call too
        Attack("patches_checks", "patching", _notebook_writer(b.notebook(
            {"conv_output_size": PATCH_CHECKS + "def conv_output_size(*args, **kwargs):\n    return 0"})), zero,
               review=("operator.index was replaced", "numpy.array_equal was replaced", "builtins.abs")),
        Attack("writes_grader_files", "poisoning", _notebook_writer(b.notebook(
            {"conv_output_size": WRITE_GRADER.format(check=str(REPO / "cnncourse" / "grading" / "check.py"),
                                                     solution=str(WELCOME)) +
             answer.replace("    padded =", "    if not _can_write_grader():\n        return -1\n    padded =", 1)})),
               zero),
        Attack("w2_müller_thief_displayhook", "forged_value", _notebook_writer(b.notebook(
            {"conv_output_size": thief},
            extra_cells=[(-1, "print('\\n'.join('✔ ' + line for line in STOLEN))\n"
                              "raise ValueError('\\n'.join(STOLEN))")])), full),
        Attack("delegates_to_the_reference", "delegation", _notebook_writer(b.notebook(
            {"conv_output_size": "from cnncourse import ops\n"
                                 "def conv_output_size(*args, **kwargs):\n    return ops.conv_output_size(*args, **kwargs)"})),
               zero),
        Attack("delegates_through_an_alias", "delegation", _notebook_writer(b.notebook(
            {"conv_output_size": "import functools\nfrom cnncourse.ops import accounting\n"
                                 "_TOOLS = [functools.partial(accounting.conv_output_size)]\n"
                                 "def conv_output_size(*args, **kwargs):\n    return _TOOLS[0](*args, **kwargs)"})),
               zero),
        Attack("neuters_the_forbid_monitor", "delegation", _notebook_writer(b.notebook(
            {"conv_output_size": NEUTER_FORBID + "from cnncourse import ops\n"
                                 "def conv_output_size(*args, **kwargs):\n    return ops.conv_output_size(*args, **kwargs)"})),
               zero),
        Attack("history_dump_huge_error", "history", _notebook_writer(b.notebook(
            stub, extra_cells=[(-1, HISTORY_DUMP), (-1, "raise ValueError('x' * 30_000_000)")])), zero),
        Attack("w2_m_ller_thief_displayhook", "names", _missing, zero, status="missing"),
    ]
    pasted = b.notebook(right)
    original = pasted.cells[_index(pasted, test)]
    pasted.cells.insert(_index(pasted, "conv_output_size"), copy.deepcopy(original))
    cases.append(Attack("pasted_test_cell", "pasted", _notebook_writer(pasted), full, findings=("duplicate",)))
    pasted_with_id = copy.deepcopy(pasted)
    pasted_with_id.cells[_index(pasted_with_id, "conv_output_size") - 1]["id"] = "pasted-copy"
    cases.append(Attack("pasted_test_cell_new_id", "pasted", _notebook_writer(pasted_with_id), full,
                        findings=("duplicate",)))
    cases += _odd_files(zero)
    return cases


def _missing(folder: Path, student: str) -> None:
    (folder / student).mkdir(parents=True)


def _tagged(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {"raises-exception"})
    return nb


def _odd_files(zero: dict) -> list[Attack]:
    name = WELCOME.name

    def link_to_solution(folder: Path, student: str) -> None:
        (folder / student).mkdir(parents=True)
        os.symlink(os.path.relpath(WELCOME, folder / student), folder / student / name)

    def dangling(folder: Path, student: str) -> None:
        (folder / student).mkdir(parents=True)
        os.symlink(folder / student / "nowhere.ipynb", folder / student / name)

    def directory(folder: Path, student: str) -> None:
        (folder / student / name).mkdir(parents=True)

    def fifo(folder: Path, student: str) -> None:
        (folder / student).mkdir(parents=True)
        os.mkfifo(folder / student / name)

    def oversized(folder: Path, student: str) -> None:
        (folder / student).mkdir(parents=True)
        with open(folder / student / name, "wb") as handle:
            handle.truncate(201 * 2**20)  # sparse: no disk used

    def linked_folder(folder: Path, student: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        os.symlink(WELCOME.parent, folder / student)

    return [Attack(student, "odd_file", make, zero, status="invalid") for student, make in (
        ("symlink_to_solution", link_to_solution), ("dangling_symlink", dangling), ("directory", directory),
        ("fifo", fifo), ("oversized", oversized), ("linked_folder", linked_folder))]


def convolution_attacks() -> list[Attack]:
    """Attacks on notebook 01: references rebound, hooks, patching; and the solution's own answers."""
    b = Builder(CONVOLUTION)
    stub_with = {}
    dense = visible_cases(b.source, "test_dense_params", "dense_params")
    conv = visible_cases(b.source, "test_conv_params", "conv_params")
    rebind = (
        "from cnncourse import ops\n"
        f"_DENSE = {dict(dense)!r}\n_CONV = {dict(conv)!r}\n"
        "def dense_params(*args, **kwargs):\n    return _DENSE.get((args, tuple(sorted(kwargs.items()))), 1)\n"
        "def conv_params(*args, **kwargs):\n    return _CONV.get((args, tuple(sorted(kwargs.items()))), 1)\n"
        "ops.dense_params = dense_params\nops.conv_params = conv_params\n")
    answers = {"dense_params": rebind}
    return [
        Attack("correct", "baseline", _notebook_writer(b.notebook(b.right)), b.points),
        Attack("rebinds_references", "references", _notebook_writer(b.notebook(answers)), b.zero,
               review=("cnncourse.ops.dense_params was replaced",)),
        Attack("hook_and_patches", "hooks", _notebook_writer(b.notebook(
            stub_with, prepend=POST_RUN_HOOK + PATCH_CHECKS)), b.zero, review=("post_run_cell",)),
    ]
