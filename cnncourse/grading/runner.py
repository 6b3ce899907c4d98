"""Run a prepared notebook in a sandboxed kernel and score each of its tests cells.

Used by the autograder (with hidden tests) and by ``cnncourse validate`` (visible tests
only). :func:`run_notebook` starts one fresh kernel (see :mod:`cnncourse.grading.sandbox`)
in a private temporary working directory, runs the cells top to bottom, and returns a
:class:`RunResult`. The rules:

- **Scoring.** A tests cell earns its points when none of its parts raises. When its last
  expression is a number between 0 and its points, that number is the score (partial
  credit, as in nbgrader). Output on stderr never costs anything: only the kernel's
  execution status counts, never the streams.
- **Protected checks.** Before each part of a tests cell the runner executes a prelude the
  student cannot edit: it builds a fresh ``check`` module from the grader's own copy of
  ``check.py`` (embedded in the prelude, so editing the file on disk changes nothing),
  binds it to the name ``check`` and in ``sys.modules``, sets hidden mode for a hidden
  part, and re-installs the notebook hooks. A student who rebinds ``check``, monkeypatches
  ``check.equal`` or installs an exception handler that hides errors gains nothing.
- **Time.** Each cell has a time limit (default 900 s: training cells need minutes on a
  CPU); past it the kernel is interrupted (``KeyboardInterrupt``), the cell fails, and
  grading goes on. A cell that ignores the interrupt for ``interrupt_grace`` seconds gets
  its kernel stopped. The whole notebook has its own limit.
- **A kernel that dies** (``os._exit``, a signal, a resource limit) fails the test it was
  running and every test after it, each with the reason; nothing after a crash can pass.
- **Feedback never shows hidden tests.** The student-facing ``message`` of a test holds
  what its visible parts printed and their verdicts; a hidden part contributes only
  "passed" or "failed". Once a hidden part has run, student code could have seen its
  inputs, so later messages are cut down to their ✔/✘ headlines.
- **Output size.** Each execution keeps at most ``output_limit`` characters of output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from queue import Empty
from typing import Callable, Iterable

import nbformat

from cnncourse.grading import check as check_module
from cnncourse.grading.prepare import PreparedCell, PreparedNotebook
from cnncourse.grading.sandbox import (
    KernelLimits,
    kernel_command,
    remove_tree,
    scrubbed_environment,
    stage_package,
)

DEFAULT_CELL_TIMEOUT = 900.0  # seconds; as for `cnncourse execute`: training cells need minutes
DEFAULT_NOTEBOOK_TIMEOUT = 3600.0
DEFAULT_OUTPUT_LIMIT = 100_000  # characters kept per execution
DEFAULT_INTERRUPT_GRACE = 10.0
DEFAULT_STARTUP_TIMEOUT = 120.0
_IOPUB_GRACE = 3.0  # seconds to wait for the last outputs once the reply is in
CUT_NOTE = ("(checks that run after hidden tests show only their ✔/✘ lines here; run the notebook yourself, "
            "or `cnncourse validate`, for the details)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_NUMBER = re.compile(r"^\s*(?:(?:np|numpy)\.\w+\()?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\)?\s*$")


class KernelStartError(RuntimeError):
    """The kernel could not be started: a problem of the grading machine, not of the submission."""


@dataclass(frozen=True)
class RunOptions:
    """How a notebook is run.

    Attributes:
        cell_timeout: seconds one cell may run (a tests cell: all its parts together).
        notebook_timeout: seconds the whole notebook may run.
        limits: resource limits of the kernel process; ``limits.cpu_seconds=None`` means
            ``notebook_timeout`` times the number of CPU cores.
        kernel_prefix: a command the kernel launcher runs inside (container, sandbox).
        transport: ``"tcp"`` (loopback) or ``"ipc"`` (Unix sockets in the submission's
            runtime folder: needed when the prefix cuts the network).
        profile: ``CNNCOURSE_PROFILE`` of the kernel (the same for every student).
        pass_env: grader environment variables the kernel may see (none by default).
        output_limit: characters of output kept per execution.
        interrupt_grace: seconds an interrupted cell gets to stop before the kernel is stopped.
        startup_timeout: seconds the kernel gets to start.
        workdir_root: where the temporary working directories go (default: the system's).
    """

    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT
    limits: KernelLimits = field(default_factory=KernelLimits)
    kernel_prefix: tuple[str, ...] = ()
    transport: str = "tcp"
    profile: str = "quick"
    pass_env: tuple[str, ...] = ()
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    interrupt_grace: float = DEFAULT_INTERRUPT_GRACE
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    workdir_root: str | None = None

    def __post_init__(self):
        for name in ("cell_timeout", "notebook_timeout", "interrupt_grace", "startup_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"RunOptions.{name} must be a positive number of seconds, got {value!r}")
        if isinstance(self.output_limit, bool) or not isinstance(self.output_limit, int) or self.output_limit < 1000:
            raise ValueError(f"RunOptions.output_limit must be an int >= 1000 characters, got {self.output_limit!r}")
        if self.transport not in ("tcp", "ipc"):
            raise ValueError(f"RunOptions.transport must be 'tcp' or 'ipc', got {self.transport!r}")
        if self.profile not in ("quick", "full"):
            raise ValueError(f"RunOptions.profile must be 'quick' or 'full', got {self.profile!r}")
        object.__setattr__(self, "kernel_prefix", tuple(self.kernel_prefix))
        object.__setattr__(self, "pass_env", tuple(self.pass_env))

    def effective_limits(self) -> KernelLimits:
        """The limits with the CPU-time default filled in."""
        if self.limits.cpu_seconds is not None:
            return self.limits
        return replace(self.limits, cpu_seconds=int(self.notebook_timeout * max(1, os.cpu_count() or 1)) + 60)


@dataclass
class TestResult:
    """The outcome of one tests cell.

    Attributes:
        grade_id: the tests cell's ``grade_id``.
        points: what it is worth.
        score: what it earned, ``0 <= score <= points``.
        status: ``passed``, ``partial`` or ``failed``.
        reason: why, for the instructor (may name hidden-test errors).
        message: what the student may see: visible verdicts only.
        hidden: ``None`` when the cell has no hidden tests, else ``passed``, ``failed`` or ``not run``.
    """

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    score: float
    status: str
    reason: str
    message: str
    hidden: str | None = None


@dataclass
class RunResult:
    """Everything one run of a notebook produced."""

    tests: list[TestResult]
    manual: list[tuple[str, float]]
    cell_errors: list[str]
    stopped: str | None
    notebook: object
    seconds: float

    @property
    def score(self) -> float:
        return float(sum(t.score for t in self.tests))

    @property
    def max_score(self) -> float:
        return float(sum(t.points for t in self.tests))


# --------------------------------------------------------------------------- one kernel


@dataclass
class Execution:
    """The outcome of one piece of code sent to the kernel.

    ``status``: ``ok``; ``error`` (an exception); ``timeout`` (past the cell's limit,
    interrupted, kernel still usable); ``killed`` (ignored the interrupt: kernel stopped);
    ``deadline`` (the notebook's time limit: kernel stopped); ``dead`` (the kernel died).
    """

    status: str
    outputs: list = field(default_factory=list)
    ename: str = ""
    evalue: str = ""
    traceback: list = field(default_factory=list)
    result_text: str | None = None
    reason: str = ""

    @property
    def stdout(self) -> str:
        return "".join(o.get("text", "") for o in self.outputs
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")


class _OutputCollector:
    """Collects a cell's outputs from IOPub messages, keeping at most ``limit`` characters."""

    def __init__(self, limit: int):
        self.limit = limit
        self.outputs: list = []
        self.kept = 0
        self.dropped = 0
        self.result_text: str | None = None

    def add(self, msg: dict) -> None:
        msg_type = msg["msg_type"]
        if msg_type == "clear_output":
            self.outputs = []
            return
        if msg_type not in ("stream", "display_data", "execute_result", "error"):
            return
        output = nbformat.v4.output_from_msg(msg)
        if msg_type == "execute_result":
            self.result_text = str(output.get("data", {}).get("text/plain", ""))[:200]
        if msg_type == "error":
            output["traceback"] = [line[:2000] for line in output.get("traceback", [])[-60:]]
            self.outputs.append(output)
            return
        size = _output_size(output)
        room = self.limit - self.kept
        if size > room:
            if msg_type == "stream" and room > 0:
                output["text"] = output["text"][:room]
                self.dropped += size - room
                size = room
            else:
                self.dropped += size
                return
        self.kept += size
        last = self.outputs[-1] if self.outputs else None
        if (msg_type == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == output["name"]):
            last["text"] += output["text"]
        else:
            self.outputs.append(output)

    def finish(self) -> list:
        if self.dropped:
            self.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout",
                text=f"\n[output truncated by the grader: {self.dropped} more characters were not kept]\n"))
        return self.outputs


def _output_size(output) -> int:
    if output.get("output_type") == "stream":
        return len(output.get("text", ""))
    return sum(len(json.dumps(value)) if not isinstance(value, str) else len(value)
               for value in output.get("data", {}).values())


class SandboxedKernel:
    """One kernel process, started with the launcher's limits in a private working directory.

    Use as a context manager; :meth:`execute` runs code, :meth:`stop` kills the kernel's
    whole process group.
    """

    def __init__(self, workdir: Path, runtime_dir: Path, site_dir: Path, options: RunOptions):
        self.workdir, self.runtime_dir, self.site_dir = Path(workdir), Path(runtime_dir), Path(site_dir)
        self.options = options
        self.limits = options.effective_limits()
        self.km = None
        self.kc = None
        self.process = None
        self.pgid = None
        self._log = None
        self._poller = None

    # -- life cycle

    def __enter__(self) -> "SandboxedKernel":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        import zmq
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        placeholders = {"workdir": str(self.workdir), "runtime": str(self.runtime_dir), "site": str(self.site_dir)}
        argv = kernel_command(self.limits, self.options.kernel_prefix, placeholders=placeholders)
        spec_dir = self.runtime_dir / "kernels" / "cnncourse-sandbox"
        spec_dir.mkdir(parents=True, exist_ok=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            "argv": argv, "display_name": "cnncourse sandbox", "language": "python",
            "interrupt_mode": "signal", "metadata": {}}), encoding="utf-8")
        self.km = KernelManager(kernel_name="cnncourse-sandbox",
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]),
                                connection_file=str(self.runtime_dir / "connection.json"),
                                transport=self.options.transport)
        if self.options.transport == "ipc":
            self.km.ip = str(self.runtime_dir / "ipc")
        env = scrubbed_environment(self.workdir, self.site_dir, self.options.profile, self.options.pass_env)
        self._log = open(self.runtime_dir / "kernel.log", "wb")
        try:
            self.km.start_kernel(cwd=str(self.workdir), env=env, stdout=self._log, stderr=self._log)
            self.process = self.km.provisioner.process
            self.pgid = self.km.provisioner.pgid
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=self.options.startup_timeout)
        except Exception as error:  # noqa: BLE001 - any start-up failure is the grader's problem
            log = self._log_tail()
            self.stop()
            raise KernelStartError(f"the kernel did not start: {type(error).__name__}: {error}"
                                   + (f"\n{log}" if log else "")) from None
        self._poller = zmq.Poller()
        self._poller.register(self.kc.iopub_channel.socket, zmq.POLLIN)
        self._poller.register(self.kc.shell_channel.socket, zmq.POLLIN)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = (self.runtime_dir / "kernel.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def death_reason(self) -> str:
        """Why the kernel process ended, in words."""
        if self.process is None:
            return "the kernel was not running"
        code = self.process.poll()
        if code is None:
            return "the kernel is still running"
        if code >= 0:
            return f"the kernel exited with status {code}"
        number = -code
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        explanations = {
            "SIGKILL": "killed with SIGKILL (usually: the machine ran out of memory, or the grader stopped it)",
            "SIGXCPU": f"stopped by its CPU-time limit of {self.limits.cpu_seconds} s (SIGXCPU)",
            "SIGSEGV": "crashed with a segmentation fault (SIGSEGV)",
            "SIGABRT": "aborted (SIGABRT)",
            "SIGXFSZ": f"stopped for writing a file larger than {self.limits.file_size_bytes} bytes (SIGXFSZ)",
        }
        return f"the kernel was {explanations.get(name, f'killed by {name}')}"

    def stop(self) -> None:
        """Stop the kernel and everything in its process group; safe to call twice."""
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:  # noqa: BLE001 - best effort while tearing down
                pass
            self.kc = None
        if self.km is not None:
            try:
                if self.km.has_kernel:
                    self.km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
            self._kill_group()
            try:
                self.km.cleanup_resources()
            except Exception:  # noqa: BLE001
                pass
            self.km = None
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except Exception:  # noqa: BLE001
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def _kill_group(self) -> None:
        if self.pgid and self.pgid != os.getpgid(0):
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        elif self.process is not None and self.process.poll() is None:
            self.process.kill()

    def _interrupt(self) -> None:
        try:
            self.km.interrupt_kernel()
        except Exception:  # noqa: BLE001 - a kernel dying right now
            pass

    def kill(self) -> None:
        """Stop the kernel at once (the notebook cannot go on)."""
        self._kill_group()
        try:
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            pass

    # -- execution

    def execute(self, code: str, cell_until: float, notebook_until: float, silent: bool = False) -> Execution:
        """Run ``code`` and wait for it, within two monotonic-clock deadlines.

        Args:
            code: Python source for the kernel.
            cell_until: past this time the kernel is interrupted (``status="timeout"``).
            notebook_until: past this time the kernel is stopped (``status="deadline"``).
            silent: run without outputs or history (the preludes).
        """
        if not self.alive():
            return Execution("dead", reason=self.death_reason())
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False,
                                 stop_on_error=False)
        collector = _OutputCollector(self.options.output_limit)
        reply = None
        reply_at = 0.0
        idle = False
        interrupted_at = None
        while True:
            now = time.monotonic()
            if reply is not None and (idle or now - reply_at > _IOPUB_GRACE):
                break
            if reply is None:
                if now >= notebook_until:
                    self.kill()
                    return Execution("deadline", collector.finish(), reason=(
                        f"the notebook ran past its time limit of {self.options.notebook_timeout:g} s; "
                        f"the kernel was stopped"))
                if interrupted_at is None and now >= cell_until:
                    self._interrupt()
                    interrupted_at = now
                elif interrupted_at is not None and now >= interrupted_at + self.options.interrupt_grace:
                    self.kill()
                    return Execution("killed", collector.finish(), reason=(
                        f"did not finish within the {self.options.cell_timeout:g} s time limit per cell and "
                        f"did not stop when interrupted; the kernel was stopped"))
            events = dict(self._poller.poll(100))
            if not events:
                if reply is None and not self.alive():
                    return Execution("dead", collector.finish(), reason=self.death_reason())
                continue
            if self.kc.iopub_channel.socket in events:
                for msg in self._drain(self.kc.iopub_channel):
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    if msg["msg_type"] == "status":
                        idle = idle or msg["content"].get("execution_state") == "idle"
                    else:
                        collector.add(msg)
            if self.kc.shell_channel.socket in events:
                for msg in self._drain(self.kc.shell_channel):
                    if msg["parent_header"].get("msg_id") == msg_id and reply is None:
                        reply, reply_at = msg, time.monotonic()
        content = reply["content"]
        outputs = collector.finish()
        if interrupted_at is not None:
            return Execution("timeout", outputs, content.get("ename", ""), content.get("evalue", ""),
                             content.get("traceback", []), collector.result_text, reason=(
                                 f"did not finish within the {self.options.cell_timeout:g} s time limit per cell "
                                 f"and was interrupted"))
        if content.get("status") == "ok":
            return Execution("ok", outputs, result_text=collector.result_text)
        return Execution("error", outputs, str(content.get("ename", "Error")), str(content.get("evalue", "")),
                         list(content.get("traceback", [])), collector.result_text)

    @staticmethod
    def _drain(channel) -> Iterable[dict]:
        while True:
            try:
                yield channel.get_msg(timeout=0)
            except Empty:
                return


# --------------------------------------------------------------------------- the prelude


def _check_source() -> str:
    return Path(check_module.__file__).read_text(encoding="utf-8")


def prelude_code(check_source: str, hidden: bool) -> str:
    """The code run (silently) before each part of a tests cell.

    It builds a fresh ``check`` module from ``check_source``, installs it as ``check``,
    ``sys.modules["cnncourse.grading.check"]`` and ``cnncourse.grading.check``, and sets
    hidden mode. It leaves no other names behind.
    """
    return (
        "import sys as _cnncourse_sys, types as _cnncourse_types\n"
        "_cnncourse_module = _cnncourse_types.ModuleType('cnncourse.grading.check')\n"
        "_cnncourse_module.__file__ = '<cnncourse.grading.check, restored by the grader>'\n"
        "_cnncourse_sys.modules['cnncourse.grading.check'] = _cnncourse_module\n"
        f"exec(compile({check_source!r}, 'cnncourse/grading/check.py', 'exec'), _cnncourse_module.__dict__)\n"
        "if 'cnncourse.grading' in _cnncourse_sys.modules:\n"
        "    _cnncourse_sys.modules['cnncourse.grading'].check = _cnncourse_module\n"
        "check = _cnncourse_module\n"
        f"check.set_hidden({bool(hidden)})\n"
        "check.install_notebook_hooks()\n"
        "del _cnncourse_sys, _cnncourse_types, _cnncourse_module\n"
    )


# --------------------------------------------------------------------------- messages


def clean_text(text: str) -> str:
    """Text without terminal colours and memory addresses (stable from run to run)."""
    return _ADDRESS.sub("0x…", _ANSI.sub("", text))


def _error_verdict(execution: Execution) -> str:
    if execution.ename == "CheckFailed":
        return execution.evalue
    if execution.ename == "NotImplementedError":
        return check_module.NOT_IMPLEMENTED_MESSAGE
    lines = [line for tb in execution.traceback for line in clean_text(tb).splitlines()]
    tail = "\n".join(lines[-12:])
    headline = f"{check_module.FAIL_MARK} {execution.ename}: {execution.evalue}".rstrip(": ")
    return f"{headline}\n{tail}" if tail and tail.strip() != headline.strip() else headline


def _headlines(text: str) -> str:
    """Only the ✔/✘ lines of a verdict text."""
    marks = (check_module.PASS_MARK, check_module.FAIL_MARK)
    return "\n".join(line for line in text.splitlines() if line.lstrip().startswith(marks))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in clean_text(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _number(text: str | None) -> float | None:
    if not text:
        return None
    match = _NUMBER.match(text)
    return float(match.group(1)) if match else None


# --------------------------------------------------------------------------- the notebook


def run_notebook(prepared: PreparedNotebook, options: RunOptions | None = None,
                 exclude_modules: Iterable[str] = (),
                 on_cell: Callable[[int, int], None] | None = None) -> RunResult:
    """Run a prepared notebook in a fresh sandboxed kernel and score its tests cells.

    Args:
        prepared: from :func:`cnncourse.grading.prepare.prepare`.
        options: limits and timeouts (default :class:`RunOptions`).
        exclude_modules: package files (relative to ``cnncourse/``) the kernel's copy of the
            package leaves out.
        on_cell: called with ``(cell number, number of cells)`` before each cell.

    Returns:
        A :class:`RunResult`; its ``notebook`` is the executed notebook (hidden-test outputs
        included: for the instructor only).

    Raises:
        KernelStartError: when the kernel cannot start (nothing of the submission ran).
    """
    options = options or RunOptions()
    base = Path(tempfile.mkdtemp(prefix="cnncourse-run-", dir=options.workdir_root))
    workdir, runtime_dir, site_dir = base / "work", base / "runtime", base / "site"
    for folder in (workdir, runtime_dir):
        folder.mkdir()
    started = time.monotonic()
    try:
        stage_package(site_dir, exclude_modules)
        with SandboxedKernel(workdir, runtime_dir, site_dir, options) as kernel:
            run = _NotebookRun(prepared, kernel, options, _check_source(), on_cell)
            run.run()
    finally:
        remove_tree(base)
    nb = nbformat.v4.new_notebook()
    nb.cells = [pc.cell for pc in prepared.cells]
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"graded-{number:03d}"
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return RunResult(run.tests, [(pc.grade_id, pc.points) for pc in prepared.manual], run.cell_errors,
                     run.stopped, nb, time.monotonic() - started)


class _NotebookRun:
    """The state of one notebook's run: the cells left, what happened, why it stopped."""

    def __init__(self, prepared: PreparedNotebook, kernel: SandboxedKernel, options: RunOptions,
                 check_source: str, on_cell: Callable[[int, int], None] | None):
        self.prepared, self.kernel, self.options = prepared, kernel, options
        self.check_source = check_source
        self.on_cell = on_cell
        self.tests: list[TestResult] = []
        self.cell_errors: list[str] = []
        self.stopped: str | None = None
        self.hidden_seen = False
        self.deadline = time.monotonic() + options.notebook_timeout

    def run(self) -> None:
        cells = self.prepared.cells
        for number, prepared_cell in enumerate(cells, start=1):
            if self.on_cell:
                self.on_cell(number, len(cells))
            cell = prepared_cell.cell
            if cell.cell_type != "code":
                continue
            label = f"cell {number}" + (f" ({prepared_cell.grade_id})" if prepared_cell.grade_id else "")
            if prepared_cell.role == "tests":
                self.tests.append(self._run_tests_cell(prepared_cell, label))
            elif self.stopped is None and cell.source.strip():
                self._run_cell(prepared_cell, label)

    def _run_cell(self, prepared_cell: PreparedCell, label: str) -> None:
        until = time.monotonic() + self.options.cell_timeout
        execution = self.kernel.execute(prepared_cell.cell.source, until, self.deadline)
        prepared_cell.cell.outputs = execution.outputs
        if execution.status == "error":
            detail = (f"{execution.ename}: {_first_line(execution.evalue)}".rstrip(": ") if not self.hidden_seen
                      else "raised an exception (details are not shown after hidden tests have run)")
            self.cell_errors.append(f"{label}: {detail}")
        elif execution.status == "timeout":
            self.cell_errors.append(f"{label}: {execution.reason}")
        elif execution.status in ("killed", "dead", "deadline"):
            self.cell_errors.append(f"{label}: {execution.reason}")
            self.stopped = f"{execution.reason} (in {label})"

    def _run_tests_cell(self, prepared_cell: PreparedCell, label: str) -> TestResult:
        grade_id, points = prepared_cell.grade_id, prepared_cell.points
        hidden_state = "not run" if prepared_cell.has_hidden else None
        if self.stopped is not None:
            return TestResult(grade_id, points, 0.0, "failed", f"not run: {self.stopped}",
                              f"{check_module.FAIL_MARK} not run: {self.stopped}", hidden_state)
        if not prepared_cell.parts:
            return TestResult(grade_id, points, points, "passed", "passed (nothing to run)", "", hidden_state)
        cell_until = time.monotonic() + self.options.cell_timeout
        outputs, messages = [], []
        last_result = None
        for part in prepared_cell.parts:
            filtered = self.hidden_seen  # hidden inputs may have reached student code already
            prelude = self.kernel.execute(prelude_code(self.check_source, part.hidden), cell_until,
                                          self.deadline, silent=True)
            execution = prelude if prelude.status != "ok" else self.kernel.execute(part.code, cell_until,
                                                                                    self.deadline)
            outputs.extend(execution.outputs)
            prepared_cell.cell.outputs = outputs
            if part.hidden:
                self.hidden_seen = True
            if execution.status == "ok":
                if not part.hidden:
                    text = clean_text(execution.stdout).strip()
                    messages.append(_headlines(text) if filtered else text)
                    if filtered and _headlines(text) != text:
                        messages.append(CUT_NOTE)
                last_result = execution.result_text
                continue
            return self._failed(prepared_cell, part, execution, prelude is execution, messages, filtered, label)
        if prepared_cell.has_hidden:
            hidden_state = "passed"
            messages.append(f"{check_module.PASS_MARK} hidden tests passed" if not prepared_cell.mixed
                            else f"{check_module.PASS_MARK} visible and hidden checks passed")
        message = "\n".join(dict.fromkeys(m for m in messages if m))
        value = _number(last_result)
        if value is None:
            return TestResult(grade_id, points, points, "passed", "passed", message, hidden_state)
        score = min(max(value, 0.0), points)
        note = "" if score == value else f" (outside 0…{points:g}: counted as {score:g})"
        status = "passed" if score >= points else "partial"
        return TestResult(grade_id, points, score, status,
                          f"partial credit: the test returned {value:g}{note}" if status == "partial" else
                          f"passed: the test returned {value:g}{note}", message, hidden_state)

    def _failed(self, prepared_cell: PreparedCell, part, execution: Execution, in_prelude: bool,
                messages: list[str], filtered: bool, label: str) -> TestResult:
        grade_id, points = prepared_cell.grade_id, prepared_cell.points
        has_hidden = prepared_cell.has_hidden
        hidden_state = None
        if has_hidden:
            hidden_state = "failed" if part.hidden else "not run"
        fail = check_module.FAIL_MARK
        if execution.status in ("killed", "dead", "deadline"):
            self.stopped = f"{execution.reason} (in {label})"
            reason = execution.reason if execution.status != "dead" else f"{execution.reason} while running this test"
            messages.append(f"{fail} {reason}")
        elif execution.status == "timeout":
            reason = execution.reason
            messages.append(f"{fail} {reason}")
        elif in_prelude:
            reason = f"the grader could not set up the checks: {execution.ename}: {_first_line(execution.evalue)}"
            messages.append(f"{fail} the checks could not run: something in the notebook broke the Python "
                            f"environment ({execution.ename})")
        elif prepared_cell.mixed:
            reason = f"failed: {execution.ename}: {_first_line(execution.evalue)}"
            messages.append(f"{fail} failed (this test includes hidden tests, so no details are shown)")
        elif part.hidden:
            reason = f"hidden tests failed: {execution.ename}: {_first_line(execution.evalue)}"
            messages.append(f"{fail} hidden tests failed")
        else:
            verdict = clean_text(_error_verdict(execution))
            reason = f"visible checks failed: {_first_line(verdict) or execution.ename}"
            if execution.ename not in ("CheckFailed", "NotImplementedError"):
                reason = f"visible checks failed: {execution.ename}: {_first_line(execution.evalue)}"
            shown = clean_text(execution.stdout).strip()
            if filtered:
                messages.extend([_headlines(shown), _headlines(verdict) or f"{fail} raised an exception", CUT_NOTE])
            else:
                messages.extend([shown, verdict])
        message = "\n".join(dict.fromkeys(m for m in messages if m))
        return TestResult(grade_id, points, 0.0, "failed", clean_text(reason).strip(), message, hidden_state)
