"""Containment of one submission's kernel: environment, limits, process group, prefix, output cap."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.autograde import autograde
from cnncourse.grading.generate import student_notebook
from cnncourse.grading.gradebook import Gradebook
from cnncourse.grading.notebook_format import notebook_text
from cnncourse.grading.prepare import prepare
from cnncourse.grading.release import INSTRUCTOR_ONLY_MODULES
from cnncourse.grading.containment import isolation_prefix, isolation_problem
from cnncourse.grading.kernel import _OutputCollector
from cnncourse.grading.runner import KernelStartError, RunOptions, run_notebook
from cnncourse.grading.sandbox import (
    GIB,
    KernelLimits,
    kernel_command,
    parse_prefix,
    scrubbed_environment,
)
from notebook_factory import make_tests_cell, notebook
from test_autograde_corpus import TINY_ANSWERS, filled, tiny_source, write_tiny_assignment

FACTS = """\
import json, os, resource, sys, pathlib
import cnncourse
facts = {
    "env": sorted(os.environ),
    "token": os.environ.get("CNNCOURSE_TEST_TOKEN"),
    "home": os.environ.get("HOME"),
    "cwd": os.getcwd(),
    "cwd_files": sorted(os.listdir(".")),
    "data_limit": resource.getrlimit(resource.RLIMIT_DATA)[0],
    "cpu_limit": resource.getrlimit(resource.RLIMIT_CPU)[0],
    "fsize_limit": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
    "own_group": os.getpgid(0) == os.getpid() and os.getpgid(0) != os.getpgid(os.getppid()),
    "package": str(pathlib.Path(cnncourse.__file__).parent),
    "grading_modules": sorted(p.name for p in (pathlib.Path(cnncourse.__file__).parent / "grading").iterdir()),
}
print("FACTS" + json.dumps(facts))
"""


def facts_notebook(extra_cells=()):
    return notebook(nbformat.v4.new_code_cell("from cnncourse.grading import check"),
                    nbformat.v4.new_code_cell(FACTS), *extra_cells,
                    make_tests_cell("test_true", "check.true(True, 'always')", points=1))


def run(nb, **options):
    return run_notebook(prepare(nb), RunOptions(**{"cell_timeout": 20, "notebook_timeout": 60, **options}),
                        exclude_modules=INSTRUCTOR_ONLY_MODULES)


def facts_of(executed_notebook) -> dict:
    for cell in executed_notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            if "FACTS" in text:
                return json.loads(text.split("FACTS", 1)[1].splitlines()[0])
    raise AssertionError("the facts cell printed nothing")


def test_kernel_runs_scrubbed_limited_in_its_own_group_and_private_folder(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_TEST_TOKEN", "s3cr3t")
    limits = KernelLimits(memory_bytes=2 * GIB, cpu_seconds=500, file_size_bytes=GIB // 2)
    result = run(facts_notebook(), limits=limits)
    facts = facts_of(result.notebook)
    assert facts["token"] is None and "CNNCOURSE_TEST_TOKEN" not in facts["env"]
    assert not [name for name in facts["env"] if name.startswith(("GITHUB", "AWS", "SSH", "OLDPWD", "PWD"))]
    assert facts["home"].startswith(facts["cwd"]) and "/work/" not in facts["cwd"]
    assert facts["cwd_files"] == [".home"]
    assert facts["data_limit"] == 2 * GIB and facts["cpu_limit"] == 500 and facts["fsize_limit"] == GIB // 2
    assert facts["own_group"]
    assert not facts["package"].startswith(str(os.path.dirname(os.path.dirname(__file__))))
    assert not {"autograde.py", "gradebook.py", "feedback.py", "release.py"} & set(facts["grading_modules"])
    assert {"check.py", "runner.py", "sandbox.py"} <= set(facts["grading_modules"])
    assert [t.score for t in result.tests] == [1.0]


def test_cpu_time_limit_stops_the_kernel_and_fails_later_tests():
    spin = nbformat.v4.new_code_cell("while True:\n    pass")
    result = run(facts_notebook([spin]), limits=KernelLimits(memory_bytes=GIB, cpu_seconds=2), cell_timeout=60)
    assert "CPU-time limit of 2 s" in result.stopped
    assert [(t.status, t.message.startswith("✘ not run")) for t in result.tests] == [("failed", True)]


def test_whole_notebook_time_limit():
    sleep = nbformat.v4.new_code_cell("import time\ntime.sleep(30)")
    result = run(facts_notebook([sleep]), notebook_timeout=4, cell_timeout=60)
    assert "ran past its time limit of 4 s" in result.stopped
    assert result.tests[0].score == 0.0


def test_a_kernel_that_cannot_start_is_a_grader_error():
    with pytest.raises(KernelStartError, match="did not start"):
        run(facts_notebook(), kernel_prefix=("false",), startup_timeout=20)


def _can_unshare_network() -> bool:
    try:
        return subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _can_unshare_network(), reason="needs unshare --net (root or user namespaces)")
def test_kernel_prefix_runs_it_without_network_over_ipc():
    probe = nbformat.v4.new_code_cell(
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    NET = 'reachable'\n"
        "except OSError as error:\n    NET = 'unreachable'\nprint('NET', NET)")
    result = run(facts_notebook([probe]), kernel_prefix=tuple(parse_prefix("unshare --net --")), transport="ipc")
    printed = json.dumps(result.notebook)
    assert "NET unreachable" in printed
    assert [t.score for t in result.tests] == [1.0]


def test_kernel_command_puts_prefix_first_and_fills_placeholders():
    command = kernel_command(KernelLimits(memory_bytes=GIB, cpu_seconds=10), parse_prefix("nice -n 5 --x={workdir}"),
                             python="/py", placeholders={"workdir": "/w"})
    assert command[:4] == ["nice", "-n", "5", "--x=/w"]
    assert command[4] == "/py" and command[5].endswith("sandbox.py")
    assert command[6:10] == ["--memory", str(GIB), "--cpu", "10"]
    assert "{connection_file}" in command
    with pytest.raises(ValueError, match="unknown placeholder"):
        parse_prefix("docker run -v {home}:/x")


def test_scrubbed_environment_passes_only_what_is_asked(tmp_path):
    env = scrubbed_environment(tmp_path, tmp_path / "site", "full", pass_env=["KEEP", "ABSENT"],
                               base={"KEEP": "1", "SECRET_TOKEN": "x", "PATH": "/instructor/bin"})
    assert env["KEEP"] == "1" and "SECRET_TOKEN" not in env and "ABSENT" not in env
    assert "/instructor/bin" not in env["PATH"] and env["CNNCOURSE_PROFILE"] == "full"
    assert all(env[k].startswith(str(tmp_path)) for k in ("HOME", "TMPDIR", "IPYTHONDIR", "MPLCONFIGDIR"))


def test_output_collector_caps_output_and_says_so():
    collector = _OutputCollector(limit=1000)
    for _ in range(30):
        collector.add({"msg_type": "stream", "content": {"name": "stdout", "text": "x" * 100},
                       "header": {"msg_type": "stream"}, "parent_header": {}})
    outputs = collector.finish()
    kept = "".join(o["text"] for o in outputs)
    assert kept.count("x") == 1000 and "2000 more characters were not kept" in kept


def test_limits_are_checked():
    with pytest.raises(ValueError, match="memory_bytes must be a positive int"):
        KernelLimits(memory_bytes=-1)
    with pytest.raises(ValueError, match=r"RunOptions.cell_timeout must be a number in \(0.0, inf\], got 0.0"):
        RunOptions(cell_timeout=0)
    with pytest.raises(TypeError, match="RunOptions.cell_timeout must be a number, got"):
        RunOptions(cell_timeout="10")
    with pytest.raises(ValueError, match="RunOptions.transport='udp' is not a known transport; known: tcp, ipc"):
        RunOptions(transport="udp")
    with pytest.raises(TypeError, match="RunOptions.limits must be a KernelLimits"):
        RunOptions(limits={"memory_bytes": 1})


SNOOP = """
import json, os
def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as error:
        return type(error).__name__
def size(path):
    try:
        return os.path.getsize(path)
    except OSError as error:
        return type(error).__name__
base = os.path.dirname(os.getcwd())
print("FACTS" + json.dumps(dict(
    solutions=listing({solutions!r}),
    submissions=listing({submissions!r}),
    gradebook=size({gradebook!r}),
    runs=listing(os.path.dirname(base)),
    processes=len([p for p in os.listdir("/proc") if p.isdigit()]),
)))
"""


@pytest.mark.skipif(isolation_problem() is not None, reason=f"no Linux namespaces here: {isolation_problem()}")
def test_isolated_kernels_see_no_solutions_submissions_gradebook_or_each_other(tmp_path):
    solutions = write_tiny_assignment(tmp_path, "07_tiny")
    student = student_notebook(tiny_source())
    probe = TINY_ANSWERS["add"] + SNOOP.format(solutions=str(solutions), submissions=str(tmp_path / "subs"),
                                               gradebook=str(tmp_path / "gradebook.sqlite"))
    for name in ("snoop1", "snoop2"):
        path = tmp_path / "subs" / name / "07_tiny.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(notebook_text(filled(student, {**TINY_ANSWERS, "add": probe})), encoding="utf-8")
    report = autograde(tmp_path / "subs", "07", solutions_dir=solutions, gradebook=tmp_path / "gradebook.sqlite",
                       options=RunOptions(cell_timeout=30), jobs=2, isolate=True, progress=False, log=lambda _: None)
    assert report.ok and sorted(report.graded) == ["snoop1", "snoop2"]
    for name in ("snoop1", "snoop2"):
        graded = nbformat.read(tmp_path / "autograded" / "07_tiny" / f"{name}.ipynb", as_version=4)
        seen = facts_of(graded)
        unreadable = ([], "FileNotFoundError", "PermissionError")
        assert seen["solutions"] in unreadable and seen["submissions"] in unreadable, seen
        assert seen["gradebook"] in (0, "FileNotFoundError", "PermissionError"), seen
        assert len(seen["runs"]) == 1 and seen["processes"] == 1, seen  # its own folder, its own processes
    assert sorted(os.listdir(solutions)) == ["07_tiny.ipynb"]  # nothing changed outside
    with Gradebook(tmp_path / "gradebook.sqlite") as book:
        assert [row["score"] for row in book.submissions()] == [5.0, 5.0]


def test_hidden_region_inside_a_block_runs_whole_and_shows_no_details():
    source = ("for n in [1, 2]:\n    check.equal(double(n), 2 * n, f'double({n})')\n"
              "    ### BEGIN HIDDEN TESTS\n    check.equal(double(n + 40), 2 * n + 80, 'double(secret)')\n"
              "    ### END HIDDEN TESTS")
    right = notebook(nbformat.v4.new_code_cell("from cnncourse.grading import check\ndef double(x):\n    return 2 * x"),
                     make_tests_cell("test_double", source, points=2))
    wrong = notebook(nbformat.v4.new_code_cell("from cnncourse.grading import check\n"
                                               "def double(x):\n    return 2 * x if x < 10 else 0"),
                     make_tests_cell("test_double", source, points=2))
    passed, failed = run(right).tests[0], run(wrong).tests[0]
    assert (passed.score, passed.hidden) == (2.0, "passed")
    assert (failed.score, failed.hidden) == (0.0, "failed")
    assert "no details are shown" in failed.message and "41" not in failed.message and "secret" not in failed.message


@pytest.mark.skipif(isolation_problem() is not None or os.geteuid() != 0,
                    reason="needs Linux namespaces and root (to run the kernel as another user)")
def test_a_kernel_under_another_user_still_dies_with_its_grader(tmp_path):
    """A new user id clears PR_SET_PDEATHSIG: the isolated command must get it back before it runs."""
    private = tmp_path / "private"
    keep = Path(tempfile.mkdtemp(prefix="cnncourse-keep-"))  # outside the closed pytest folder, as the grader's
    base = private / "run"  # the runner's layout
    places = {"{workdir}": str(base / "work"), "{runtime}": str(base / "runtime"), "{site}": str(base / "site")}
    for folder in places.values():
        Path(folder).mkdir(parents=True)
    prefix = []
    for word in isolation_prefix([], private, keep, uid=65534):
        for placeholder, value in places.items():
            word = word.replace(placeholder, value)
        prefix.append(word)
    report = ("import ctypes, os; signal = ctypes.c_int(); "
              "ctypes.CDLL(None).prctl(2, ctypes.byref(signal), 0, 0, 0); print(os.getuid(), signal.value)")
    try:
        result = subprocess.run([*prefix, sys.executable, "-c", report], capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    assert result.stdout.split() == ["65534", str(int(signal.SIGKILL))], result.stdout + result.stderr
