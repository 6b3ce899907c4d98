"""Containment for untrusted notebook code: limits, a scrubbed environment, a private package copy.

Every submission the autograder (or ``cnncourse validate``) runs gets its own Jupyter kernel,
started like this::

    [optional prefix …]  python sandbox.py --memory … --cpu … -- python -m ipykernel_launcher -f …

- **Process group.** jupyter_client starts the kernel in a new session, so the kernel and
  everything it spawns share one process group, which the grader kills as a whole when the
  submission is done (``os.killpg``).
- **Resource limits.** This file, run as a script, is the *kernel launcher*: it sets
  ``resource.setrlimit`` limits in the kernel process and then ``exec``\\ s the kernel, so the
  limits hold for the kernel and its children: ``RLIMIT_DATA`` (heap and private
  mappings: a ``MemoryError`` instead of a machine brought down), optionally ``RLIMIT_AS``,
  ``RLIMIT_CPU`` (CPU seconds, then ``SIGXCPU``), ``RLIMIT_FSIZE`` (no file bigger than this),
  ``RLIMIT_CORE`` = 0, optionally ``RLIMIT_NPROC``. On Linux it also asks for ``SIGKILL``
  when the grader that started it dies (``PR_SET_PDEATHSIG``), so no kernel outlives a
  killed grading run. It imports nothing but the standard library.
- **Scrubbed environment.** :func:`scrubbed_environment` builds the kernel's environment
  from scratch (no instructor paths, tokens or credentials): ``HOME``, ``TMPDIR`` and the
  Jupyter, IPython, Matplotlib and Keras folders all point into the submission's own
  temporary working directory.
- **A private copy of the package.** :func:`stage_package` copies ``cnncourse`` (without
  the instructor-only modules) next to the working directory and the kernel imports it
  from there (``PYTHONPATH``), so ``cnncourse.__file__`` does not lead back to the
  instructor's checkout and its ``solutions/``.

``RLIMIT_DATA`` rather than ``RLIMIT_AS`` bounds memory by default: CUDA reserves tens of
GiB of address space it never uses, so an address-space limit breaks GPU kernels, whereas
the data limit counts memory the process can actually write to. Shared anonymous mappings
are not counted by ``RLIMIT_DATA``; set ``address_space_bytes`` too on CPU-only graders.

Namespaces, read-only mounts and a user id of its own come from the prefix the kernel
runs inside (:mod:`cnncourse.grading.containment`, or any container command, see
:func:`kernel_command`); ``docs/grading.md`` says what each level contains.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

GIB = 2**30
DEFAULT_MEMORY_BYTES = 4 * GIB
DEFAULT_FILE_SIZE_BYTES = 1 * GIB

#: the kernel's PATH, after the Python environment's own bin folder
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

#: placeholders a kernel prefix may use, filled in per submission
PREFIX_PLACEHOLDERS = ("workdir", "runtime", "site")


@dataclass(frozen=True)
class KernelLimits:
    """Resource limits applied to each kernel process (``None``: no limit of that kind).

    Attributes:
        memory_bytes: ``RLIMIT_DATA``: bytes of heap and private writable memory.
        address_space_bytes: ``RLIMIT_AS``: total virtual memory (breaks CUDA; CPU only).
        cpu_seconds: ``RLIMIT_CPU``: CPU seconds summed over the kernel's threads; the
            kernel gets ``SIGXCPU`` past it (and ``SIGKILL`` 5 s later).
        file_size_bytes: ``RLIMIT_FSIZE``: the largest file the kernel may write.
        processes: ``RLIMIT_NPROC``: processes of the user id (not enforced for root).
        strict: a limit the system refuses stops the kernel from starting (the
            autograder); when False the launcher warns and goes on (``cnncourse validate``
            on a student's laptop).
    """

    memory_bytes: int | None = DEFAULT_MEMORY_BYTES
    address_space_bytes: int | None = None
    cpu_seconds: int | None = None
    file_size_bytes: int | None = DEFAULT_FILE_SIZE_BYTES
    processes: int | None = None
    strict: bool = True

    def __post_init__(self):
        for name in ("memory_bytes", "address_space_bytes", "cpu_seconds", "file_size_bytes", "processes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"KernelLimits.{name} must be a positive int or None, got {value!r}")

    def launcher_arguments(self) -> list[str]:
        """The launcher's command-line options for these limits."""
        arguments = []
        for option, value in (("--memory", self.memory_bytes), ("--address-space", self.address_space_bytes),
                              ("--cpu", self.cpu_seconds), ("--file-size", self.file_size_bytes),
                              ("--processes", self.processes)):
            if value is not None:
                arguments += [option, str(value)]
        return arguments + ([] if self.strict else ["--lenient"])


def launcher_path() -> Path:
    """This file: the kernel launcher script."""
    return Path(__file__).resolve()


def kernel_command(limits: KernelLimits, prefix: Sequence[str] = (), python: str | None = None,
                   placeholders: Mapping[str, str] | None = None) -> list[str]:
    """The kernel command line: ``prefix + launcher + limits + ipykernel``.

    Args:
        limits: the resource limits the launcher sets before starting the kernel.
        prefix: a command to run the launcher inside, e.g. ``["unshare", "--net", "--"]``
            or a ``docker run …`` command line. Its words may hold ``{workdir}``,
            ``{runtime}`` and ``{site}``, replaced by ``placeholders``.
        python: the interpreter (default: the one running now, whose environment has the
            course's packages).
        placeholders: values for the prefix's placeholders.

    Returns:
        argv with ``{connection_file}`` left in for jupyter_client to fill.
    """
    python = python or sys.executable
    filled = [_fill(word, placeholders or {}) for word in prefix]
    return [*filled, python, str(launcher_path()), *limits.launcher_arguments(), "--",
            python, "-m", "ipykernel_launcher", "-f", "{connection_file}",
            "--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"]


def _fill(word: str, placeholders: Mapping[str, str]) -> str:
    for name in PREFIX_PLACEHOLDERS:
        if name in placeholders:
            word = word.replace("{" + name + "}", placeholders[name])
    return word


def parse_prefix(text: str) -> list[str]:
    """Split a prefix given as one shell-quoted string (``--kernel-prefix``) into words."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValueError(f"kernel prefix {text!r} is not a valid shell command line: {error}") from None
    unknown = {part.split("}")[0] for word in words for part in word.split("{")[1:]} - set(PREFIX_PLACEHOLDERS)
    if unknown:
        raise ValueError(f"kernel prefix {text!r} uses unknown placeholder(s) "
                         f"{', '.join('{' + u + '}' for u in sorted(unknown))}; "
                         f"known: {', '.join('{' + p + '}' for p in PREFIX_PLACEHOLDERS)}")
    return words


def scrubbed_environment(workdir: Path, site_dir: Path, profile: str = "quick",
                         pass_env: Iterable[str] = (), extra: Mapping[str, str] | None = None,
                         base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment of a kernel, built from scratch.

    Nothing is inherited from the grader except the names in ``pass_env`` (e.g.
    ``TFDS_DATA_DIR``, ``KERAS_HOME`` or ``CUDA_VISIBLE_DEVICES`` for a course that needs
    them). Home, temporary and configuration folders all live in ``workdir``.

    Args:
        workdir: the submission's private working directory (exists).
        site_dir: the folder holding the staged ``cnncourse`` package.
        profile: ``CNNCOURSE_PROFILE`` for the kernel.
        pass_env: names of grader environment variables to copy (missing ones are skipped).
        extra: more variables to set, after everything else.
        base: where ``pass_env`` values come from (default ``os.environ``).
    """
    base = os.environ if base is None else base
    home = Path(workdir) / ".home"
    folders = {
        "HOME": home,
        "TMPDIR": home / "tmp",
        "IPYTHONDIR": home / ".ipython",
        "JUPYTER_CONFIG_DIR": home / ".jupyter",
        "JUPYTER_DATA_DIR": home / ".local" / "share" / "jupyter",
        "JUPYTER_RUNTIME_DIR": home / ".local" / "share" / "jupyter" / "runtime",
        "MPLCONFIGDIR": home / ".config" / "matplotlib",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_CONFIG_HOME": home / ".config",
        "KERAS_HOME": home / ".keras",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    env = {name: str(path) for name, path in folders.items()}
    env.update({
        "PATH": f"{Path(sys.executable).parent}:{SYSTEM_PATH}",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(site_dir),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "CNNCOURSE_PROFILE": profile,
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",  # kernels graded side by side share a GPU
    })
    for name in pass_env:
        if name in base:
            env[name] = base[name]
    env.update(extra or {})
    return env


def stage_package(site_dir: Path, exclude: Iterable[str] = (), package_dir: Path | None = None,
                  read_only: bool = True) -> Path:
    """Copy the ``cnncourse`` package into ``site_dir`` (for a kernel to import, or for a release).

    Args:
        site_dir: destination folder (created); the copy lands in ``site_dir/cnncourse``.
        exclude: file paths relative to the package folder to leave out, e.g.
            ``"grading/autograde.py"`` (the instructor-only modules).
        package_dir: the package to copy (default: the one this module belongs to).
        read_only: take away write permission from the copy (a kernel's copy).

    Returns:
        The copied package folder.
    """
    package_dir = Path(package_dir or Path(__file__).resolve().parents[1])
    excluded = {Path(e).as_posix() for e in exclude}
    target = Path(site_dir) / package_dir.name

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(package_dir)
        return {n for n in names
                if n == "__pycache__" or n.endswith((".pyc", ".pyo"))
                or (relative / n).as_posix() in excluded}

    shutil.copytree(package_dir, target, ignore=ignore)
    if not read_only:
        return target
    for path in sorted(target.rglob("*"), reverse=True) + [target]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return target


def package_snapshot(exclude: Iterable[str] = (), package_dir: Path | None = None) -> dict[str, bytes]:
    """The files of the ``cnncourse`` package, read now: ``{path relative to the package: bytes}``.

    The autograder reads the package once, before any submission runs, and writes each
    kernel's copy from this snapshot (:func:`write_package`), so that nothing a kernel writes
    into the package on disk reaches the next submission.
    """
    package_dir = Path(package_dir or Path(__file__).resolve().parents[1])
    excluded = {Path(e).as_posix() for e in exclude}
    files = {}
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir).as_posix()
        if (path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts
                and not relative.endswith((".pyc", ".pyo")) and relative not in excluded):
            files[relative] = path.read_bytes()
    return files


def write_package(site_dir: Path, files: dict[str, bytes], name: str = "cnncourse") -> Path:
    """Write a :func:`package_snapshot` into ``site_dir/name``, read-only; return the package folder."""
    target = Path(site_dir) / name
    for relative, data in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o444)
    for folder in sorted((p for p in target.rglob("*") if p.is_dir()), reverse=True) + [target]:
        folder.chmod(0o555)
    Path(site_dir).chmod(0o755)
    return target


def remove_tree(path: Path) -> None:
    """Delete a working directory, even where the kernel made things read-only."""
    path = Path(path)
    if not path.exists():
        return

    def make_writable_and_retry(function, failed_path, _error):
        try:
            os.chmod(os.path.dirname(failed_path), stat.S_IRWXU)
            os.chmod(failed_path, stat.S_IRWXU)
            function(failed_path)
        except OSError:
            pass

    for folder in [path, *path.rglob("*")]:
        try:
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(folder.stat().st_mode | stat.S_IRWXU)
        except OSError:
            pass
    shutil.rmtree(path, onerror=make_writable_and_retry)


# --------------------------------------------------------------------------- the launcher


def _set_limit(resource_module, kind: int, value: int, extra_hard: int = 0) -> None:
    soft, hard = resource_module.getrlimit(kind)
    unlimited = resource_module.RLIM_INFINITY
    new_hard = value + extra_hard if hard == unlimited else min(hard, value + extra_hard)
    new_soft = min(value, new_hard)
    resource_module.setrlimit(kind, (new_soft, new_hard))


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def launch(argv: Sequence[str]) -> None:
    """Set the limits named in ``argv``, then replace this process by the command after ``--``."""
    import argparse
    import resource

    parser = argparse.ArgumentParser(prog="sandbox.py", description="set resource limits, then exec a kernel")
    for option in ("--memory", "--address-space", "--cpu", "--file-size", "--processes"):
        parser.add_argument(option, type=int)
    parser.add_argument("--lenient", action="store_true", help="warn about a refused limit instead of failing")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run after the limits")
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(70)
    wanted = [("RLIMIT_CORE", 0, 0), ("RLIMIT_DATA", args.memory, 0), ("RLIMIT_AS", args.address_space, 0),
              ("RLIMIT_CPU", args.cpu, 5), ("RLIMIT_FSIZE", args.file_size, 0), ("RLIMIT_NPROC", args.processes, 0)]
    for name, value, extra_hard in wanted:
        if value is None or (value == 0 and name != "RLIMIT_CORE"):
            continue
        try:
            _set_limit(resource, getattr(resource, name), value, extra_hard)
        except (ValueError, OSError, AttributeError) as error:
            if not args.lenient:
                print(f"sandbox: cannot set {name}={value}: {error}", file=sys.stderr)
                os._exit(70)
            print(f"sandbox: warning: {name} not set ({error})", file=sys.stderr)
    os.execvp(command[0], command)


if __name__ == "__main__":
    launch(sys.argv[1:])
