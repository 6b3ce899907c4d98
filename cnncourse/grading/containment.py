"""Containment of a submission's kernel (Linux namespaces), and saying loudly when there is none.

:func:`containment_for_batch` decides, once per batch, how every kernel of the batch runs:

- **contained** (the default wherever ``unshare`` works): each kernel is PID 1 of its own
  PID namespace (``unshare --pid --fork --kill-child``, itself killed when the grader dies),
  so every process it starts, even one that calls ``setsid``, dies with it; it has its own ``/proc`` (no other process's
  command line, environment or files), no network, and its own mount namespace in which
  the solutions, the submissions, the gradebook and its CSV, the feedback and autograded
  folders, ``.git`` folders and the grader's credentials are empty, every other mount is
  read-only (the repository, the Python environment, the home folder, ``/tmp``), and of
  the batch's folder only its own working directory exists and is writable. After setting
  that up the kernel drops every capability (so it cannot undo a mount) and, when the
  grader runs as root, becomes the unprivileged user ``nobody`` (``setpriv``).
- **not contained** (``isolate=False``, or a machine without namespaces): the batch still
  runs, but :attr:`Containment.warning` says what is not contained; the batch prints it at
  its start and records it in every submission's review notes, so nobody mistakes such a
  gradebook for a contained one.

A custom ``--kernel-prefix`` (a container) replaces this; the grader then trusts that
prefix and records that it did.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

#: grader-side files a kernel has no business reading, hidden when present
SENSITIVE_HOME_ENTRIES = (".ssh", ".aws", ".gnupg", ".netrc", ".git-credentials", ".pypirc", ".kube", ".docker",
                          ".config/gcloud", ".config/gh", ".jupyter", ".ipython")
NOBODY_UID = 65534

NOT_CONTAINED = ("kernels are NOT contained: a submission runs with the grader's user id, can read the "
                 "solutions, the gradebook and other submissions, can write the Python environment, and "
                 "processes it starts can outlive it")


@dataclass(frozen=True)
class Containment:
    """How the kernels of one batch are contained.

    Attributes:
        prefix: the kernel prefix (words may hold ``{workdir}``, ``{runtime}``, ``{site}``).
        uid: the user id the kernel runs as (its folders are handed to it), ``None``: the grader's.
        contained: whether the namespaces described in the module doc are used.
        warning: what is not contained, in words (empty when contained).
    """

    prefix: tuple[str, ...] = ()
    uid: int | None = None
    contained: bool = False
    warning: str = ""


def isolation_problem() -> str | None:
    """Why namespaces cannot be used on this machine, or ``None`` when they can."""
    if not sys.platform.startswith("linux"):
        return "containment uses Linux namespaces (unshare); use --kernel-prefix with a container elsewhere"
    for command in ("unshare", "setpriv"):
        if shutil.which(command) is None:
            return f"containment needs the {command} command (util-linux)"
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    try:
        probe = subprocess.run(["unshare", *user, "--mount", "--pid", "--fork", "--mount-proc", "--net", "--",
                                "sh", "-c", "mount -t tmpfs none /mnt 2>/dev/null || mount -t tmpfs none /tmp"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare could not run: {error}"
    if probe.returncode != 0:
        return (f"unshare cannot create namespaces here ({probe.stderr.strip() or probe.returncode}): run as root, "
                f"enable unprivileged user namespaces, or use --kernel-prefix with a container")
    return None


def _safe(path: Path) -> str:
    text = str(path)
    if not text.startswith("/") or any(c in text for c in "\n\"'`$\\"):
        raise ValueError(f"containment needs a plain absolute path, got {text!r}")
    return shlex.quote(text)


def blocking_folder(path: Path) -> Path | None:
    """The highest folder above ``path`` that another user cannot pass through, or ``None``."""
    for folder in reversed(Path(path).parents):
        if folder != Path(folder.anchor) and not folder.stat().st_mode & 0o001:
            return folder
    return None


def cover_point(private_root: Path) -> Path:
    """Where the kernel's private tmpfs over the batch goes: :func:`blocking_folder` of ``private_root``
    (so that ``nobody`` can reach its own folder), else ``private_root`` itself."""
    return blocking_folder(private_root) or Path(private_root)


def _needed_paths() -> list[Path]:
    """What the kernel must reach: the interpreter's installation, the environment, the launcher."""
    here = Path(__file__).resolve().parent
    return sorted({Path(p).resolve() for p in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, here)})


def isolation_prefix(hide: Iterable[Path], private_root: Path, keep_dir: Path, uid: int | None = None,
                     reach: Iterable[Path] | None = None) -> list[str]:
    """The ``unshare`` prefix described in the module doc.

    Args:
        hide: folders and files to hide (those that do not exist are skipped).
        private_root: the folder holding every run's folder; each run's folder is a direct child.
        keep_dir: an empty folder outside :func:`cover_point` of ``private_root``, used while re-mounting.
        uid: become this user after the mounts (root only; the run's folders are handed to it),
            else keep the user id.
        reach: folders the kernel must be able to read although a folder above them is closed
            to other users (default: the Python installation and environment, the launcher);
            the closed folder is covered by an empty tmpfs and only these are put back in it.
    """
    cover = cover_point(private_root)
    keep_dir = Path(keep_dir).resolve()
    if keep_dir == cover or cover in keep_dir.parents:
        raise ValueError(f"keep_dir {keep_dir} must lie outside {cover}")
    needed = [p for p in (_needed_paths() if reach is None else [Path(r) for r in reach])
              if uid is not None and blocking_folder(p) is not None]
    covers = sorted({cover, *(blocking_folder(p) for p in needed)}, key=lambda p: len(p.parts))
    covers = [c for c in covers if not any(other in c.parents for other in covers)]
    script = ["set -e", 'base="$(dirname "{workdir}")"', f"mkdir -p {_safe(keep_dir / 'base')}",
              f'mount --bind "$base" {_safe(keep_dir / "base")}']
    for number, path in enumerate(needed):
        script += [f"mkdir -p {_safe(keep_dir / str(number))}", f"mount --bind {_safe(path)} {_safe(keep_dir / str(number))}"]
    for path in hide:
        path = Path(path)
        if path.is_dir():
            script.append(f"mount -t tmpfs -o size=16k,mode=0555,ro cnncourse-hidden {_safe(path)}")
        elif path.exists():
            script.append(f"mount --bind /dev/null {_safe(path)}")
    script += [f"mount -t tmpfs -o size=1m,mode=0755 cnncourse-private {_safe(c)}" for c in covers]
    script += ['mkdir -p "$base"', f'mount --bind {_safe(keep_dir / "base")} "$base"']
    for number, path in enumerate(needed):
        script += [f"mkdir -p {_safe(path)}", f"mount --bind {_safe(keep_dir / str(number))} {_safe(path)}"]
    script += [
        'mount --bind "{site}" "{site}"',
        'mount -o remount,bind,ro "{site}"',
        "mount -t tmpfs -o size=64m,mode=1777 cnncourse-shm /dev/shm 2>/dev/null || true",
        # every other mount read-only: nothing a kernel writes outlives it, except in its own folder
        'while read -r _ _ _ _ point _; do case "$point" in '
        '/proc|/proc/*|/dev|/dev/*|/sys|/sys/*|*\\\\*) ;; '
        '*) [ "$point" = "$base" ] || [ "$point" = "{site}" ] || '
        'mount -o remount,bind,ro "$point" 2>/dev/null || true ;; esac; done < /proc/self/mountinfo',
    ]
    drop = ["setpriv"]
    if uid is not None:
        script.append(f'chown -R {int(uid)}:{int(uid)} "{{workdir}}" "{{runtime}}"')
        drop += [f"--reuid={int(uid)}", f"--regid={int(uid)}", "--clear-groups"]
    # a new user id clears the parent-death signal unshare --kill-child gave the kernel: keep it, or
    # a grader killed before the launcher sets it again (sandbox.py) leaves the kernel running
    drop += ["--pdeathsig", "keep", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    script.append("exec " + " ".join(drop) + ' "$@"')
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    # setpriv --pdeathsig: unshare dies with the grader, and --kill-child takes the kernel with it
    return ["setpriv", "--pdeathsig", "KILL", "unshare", *user, "--mount", "--pid", "--fork", "--kill-child",
            "--mount-proc", "--net", "--", "sh", "-c", "\n".join(script), "sh"]


def git_folders(path: Path) -> list[Path]:
    """``.git`` folders of the repositories holding ``path`` (their history holds the solutions)."""
    path = Path(path).resolve()
    return [parent / ".git" for parent in (path, *path.parents) if (parent / ".git").exists()]


def containment_for_batch(isolate: bool | None, kernel_prefix: tuple[str, ...], hide: Iterable[Path],
                          private_root: Path, keep_dir: Path) -> Containment:
    """Decide how the batch's kernels run (see the module doc).

    Args:
        isolate: ``True`` insists (an error when impossible), ``None`` uses it when the
            machine can, ``False`` turns it off.
        kernel_prefix: a custom prefix (a container): used as given, and recorded.
        hide: what the kernels must not see.
        private_root, keep_dir: see :func:`isolation_prefix`.

    Raises:
        ValueError: ``isolate=True`` with a kernel prefix, or on a machine without namespaces.
    """
    if kernel_prefix:
        if isolate:
            raise ValueError("isolate and a kernel prefix cannot be combined: choose one")
        return Containment(tuple(kernel_prefix), None, False,
                           "kernels run inside the given --kernel-prefix; the grader did not check what it contains")
    if isolate is False:
        return Containment(warning=f"{NOT_CONTAINED} (containment was turned off)")
    problem = isolation_problem()
    if problem:
        if isolate:
            raise ValueError(f"cannot contain kernels: {problem}")
        return Containment(warning=f"{NOT_CONTAINED} ({problem})")
    uid = NOBODY_UID if os.geteuid() == 0 else None
    return Containment(tuple(isolation_prefix(hide, private_root, keep_dir, uid)), uid, True, "")
