"""One sandboxed Jupyter kernel: start it, send it code within time limits, collect its output, stop it.

:class:`SandboxedKernel` starts the kernel through the launcher of
:mod:`cnncourse.grading.sandbox` (resource limits, optionally inside a containment prefix,
see :mod:`cnncourse.grading.containment`), talks to it with ``jupyter_client``, and kills
everything it started when it is done. ``nbclient`` runs whole notebooks with one time
limit per cell; grading needs more than that (an interrupt, then a grace period, then a
kill; a whole-notebook deadline; per-execution output caps; verdict lines picked out of
the stream), so the message loop is written here on ``jupyter_client`` directly.

:meth:`SandboxedKernel.execute` returns an :class:`Execution`. When it is given a
``token``, the line of stdout that starts with it (the grader's verdict for a test part,
see :mod:`cnncourse.grading.harness`) is taken out of the outputs, before any output cap,
and returned as ``answer``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Iterable

import nbformat

from cnncourse.grading.options import RunOptions
from cnncourse.grading.sandbox import kernel_command, scrubbed_environment

_IOPUB_GRACE = 3.0  # seconds to wait for the last outputs once the reply is in


class KernelStartError(RuntimeError):
    """The kernel could not be started: a problem of the grading machine, not of the submission."""



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
    answer: dict | None = None
    reason: str = ""

    @property
    def stdout(self) -> str:
        return "".join(o.get("text", "") for o in self.outputs
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")


class _OutputCollector:
    """Collects a cell's outputs from IOPub messages, keeping at most ``limit`` characters."""

    def __init__(self, limit: int, token: str | None = None):
        self.limit = limit
        self.token = token
        self.answer: dict | None = None
        self.outputs: list = []
        self.kept = 0
        self.dropped = 0

    def _take_answer(self, text: str) -> str:
        """Remove the verdict line that starts with the token; keep the first one found."""
        kept = []
        for line in text.split("\n"):
            if line.startswith(self.token + " "):
                if kept and kept[-1] == "":  # the harness starts its line on a new line
                    kept.pop()
                if self.answer is None:
                    try:
                        answer = json.loads(line[len(self.token) + 1:])
                    except ValueError:
                        answer = None
                    self.answer = answer if isinstance(answer, dict) else None
                continue
            kept.append(line)
        return "\n".join(kept)

    def add(self, msg: dict) -> None:
        msg_type = msg["msg_type"]
        if msg_type == "clear_output":
            self.outputs = []
            return
        if msg_type not in ("stream", "display_data", "execute_result", "error"):
            return
        output = nbformat.v4.output_from_msg(msg)
        if msg_type == "stream" and self.token and self.token in output.get("text", ""):
            output["text"] = self._take_answer(output["text"])
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

    def execute(self, code: str, cell_until: float, notebook_until: float, silent: bool = False,
                token: str | None = None) -> Execution:
        """Run ``code`` and wait for it, within two monotonic-clock deadlines.

        Args:
            code: Python source for the kernel.
            cell_until: past this time the kernel is interrupted (``status="timeout"``).
            notebook_until: past this time the kernel is stopped (``status="deadline"``).
            silent: run without history, display hook or cell events (the grader's own code).
            token: pick the line of stdout starting with it out as the execution's ``answer``.
        """
        if not self.alive():
            return Execution("dead", reason=self.death_reason())
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False,
                                 stop_on_error=False)
        collector = _OutputCollector(self.options.output_limit, token)
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
                             content.get("traceback", []), collector.answer, reason=(
                                 f"did not finish within the {self.options.cell_timeout:g} s time limit per cell "
                                 f"and was interrupted"))
        if content.get("status") == "ok":
            return Execution("ok", outputs, answer=collector.answer)
        return Execution("error", outputs, str(content.get("ename", "Error")), str(content.get("evalue", "")),
                         list(content.get("traceback", [])), collector.answer)

    @staticmethod
    def _drain(channel) -> Iterable[dict]:
        while True:
            try:
                yield channel.get_msg(timeout=0)
            except Empty:
                return

