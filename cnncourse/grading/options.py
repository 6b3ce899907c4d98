"""How a submission's notebook is run: time limits, resource limits, sandbox prefix, output cap.

The cell time limit is defined here once (:data:`CELL_TIMEOUT_SECONDS`) and used by
``cnncourse autograde``, ``cnncourse validate`` and ``cnncourse execute``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from cnncourse._validation import check_choice, check_float, check_int
from cnncourse.grading.sandbox import KernelLimits

CELL_TIMEOUT_SECONDS = 900  # training cells on a 2-core CPU need minutes (nbgrader's 30 s kills them)
DEFAULT_CELL_TIMEOUT = float(CELL_TIMEOUT_SECONDS)
DEFAULT_NOTEBOOK_TIMEOUT = 3600.0
DEFAULT_OUTPUT_LIMIT = 100_000  # characters kept per execution
DEFAULT_INTERRUPT_GRACE = 10.0
DEFAULT_STARTUP_TIMEOUT = 120.0


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
        kernel_uid: the user id the kernel runs as (set by the containment prefix); the
            working and runtime folders are handed to it.
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
    kernel_uid: int | None = None

    def __post_init__(self):
        for name in ("cell_timeout", "notebook_timeout", "interrupt_grace", "startup_timeout"):
            value = check_float(f"RunOptions.{name}", getattr(self, name), minimum=0, include_minimum=False)
            object.__setattr__(self, name, value)
        check_int("RunOptions.output_limit", self.output_limit, minimum=1000)
        check_choice("RunOptions.transport", self.transport, ("tcp", "ipc"), "transport")
        check_choice("RunOptions.profile", self.profile, ("quick", "full"), "profile")
        if not isinstance(self.limits, KernelLimits):
            raise TypeError(f"RunOptions.limits must be a KernelLimits, got {type(self.limits).__name__}")
        object.__setattr__(self, "kernel_prefix", tuple(self.kernel_prefix))
        object.__setattr__(self, "pass_env", tuple(self.pass_env))

    def effective_limits(self) -> KernelLimits:
        """The limits with the CPU-time default filled in."""
        if self.limits.cpu_seconds is not None:
            return self.limits
        return replace(self.limits, cpu_seconds=int(self.notebook_timeout * max(1, os.cpu_count() or 1)) + 60)

