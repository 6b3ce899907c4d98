"""Review flags: what in a submission an instructor should look at, with the evidence. Flags never change a score.

Two sources:

- **static** (:func:`review_flags`): the student's own cells are parsed and assignments to
  ``check`` or to attributes of NumPy, TensorFlow, ``sys``, ``builtins``, ``operator`` …,
  calls that reach into the kernel or the process (``get_ipython``, ``IPython.get_ipython``,
  ``os._exit``, ``sys.settrace``, ``ctypes``, ``gc.get_objects`` …), ``sys.modules``,
  frame inspection, and strings mentioning ``solutions`` are named;
- **dynamic** (:func:`evidence_notes`): what the grader's harness found replaced in the
  kernel before a test and put back (an ``operator`` function, an IPython hook, a
  rebound reference, a missing verdict), from :attr:`RunResult.evidence`.

Both become ``review`` notes in the gradebook (instructor only, never on a feedback page).
"""

from __future__ import annotations

import ast
import builtins

_BUILTIN_NAMES = {n for n in dir(builtins) if not n.startswith("_")} - {"copyright", "credits", "license"}
_WATCHED_NAMES = {"check", "np", "numpy", "tf", "tensorflow", "keras", "cnncourse", "builtins", "sys",
                  "IPython", "math", "random", "importlib", "os", "operator", "ops", "__builtins__"}
_WATCHED_CALLS = {"os._exit", "os.kill", "os.killpg", "os.setsid", "os.fork", "ctypes.CDLL", "importlib.reload",
                  "get_ipython", "IPython.get_ipython", "signal.signal", "sys.settrace", "sys.setprofile",
                  "threading.settrace", "threading.setprofile", "gc.get_referrers", "gc.get_objects",
                  "sys._getframe", "inspect.currentframe", "inspect.stack", "subprocess.Popen", "os.system"}


def _dotted(node) -> str:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
        return ".".join(reversed(names))
    if isinstance(node, ast.Call):
        inner = _dotted(node.func)
        return ".".join([f"{inner}()"] + list(reversed(names))) if inner else ""
    return ""


def review_flags(source: str) -> list[str]:
    """Things in student code an instructor may want to look at (they never change a score).

    Flags assignments to ``check`` or to attributes of ``check``, NumPy, TensorFlow,
    ``sys``, ``builtins`` …; calls that reach into the kernel or the process
    (``get_ipython``, ``os._exit``, ``sys.settrace``, ``ctypes``, ``importlib.reload`` …);
    ``sys.modules``; and strings mentioning ``solutions``.
    """
    lines = []
    for line in source.splitlines():  # IPython magics and shell escapes are not Python
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    flags: list[str] = []
    for statement in tree.body:  # a global with a builtin's name shadows it for every later cell
        names = [statement.name] if isinstance(statement, (ast.FunctionDef, ast.ClassDef)) else [
            node.id for target in getattr(statement, "targets", [getattr(statement, "target", None)])
            for node in ast.walk(target) if isinstance(node, ast.Name)] if isinstance(
            statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)) else []
        flags.extend(f"defines a global named {name} (a builtin's name)" for name in names if name in _BUILTIN_NAMES)
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, ast.Name) and target.id == "check":
                flags.append("rebinds the name check")
            elif isinstance(target, (ast.Attribute, ast.Subscript)):
                dotted = _dotted(target.value if isinstance(target, ast.Subscript) else target)
                if dotted.split(".")[0] in _WATCHED_NAMES:
                    flags.append(f"assigns to {dotted}")
        if isinstance(node, ast.Call):
            dotted = _dotted(node.func)
            if dotted in ("setattr", "delattr") and node.args and _dotted(node.args[0]).split(".")[0] in _WATCHED_NAMES:
                flags.append(f"calls {dotted} on {_dotted(node.args[0])}")
            elif dotted in _WATCHED_CALLS or dotted.endswith(("set_custom_exc", ".events.register",
                                                             ".get_ipython", "subprocess.run")):
                flags.append(f"calls {dotted}")
        if isinstance(node, ast.Attribute) and _dotted(node) == "sys.modules":
            flags.append("uses sys.modules")
        if isinstance(node, ast.Attribute) and node.attr in ("f_back", "f_globals", "f_locals", "tb_frame",
                                                             "__globals__", "__code__", "__closure__"):
            flags.append(f"inspects {node.attr}")

        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "solutions" in node.value:
            flags.append(f"mentions {node.value[:60]!r}")
    return list(dict.fromkeys(flags))


def evidence_notes(evidence) -> list[dict]:
    """``review`` notes from the harness's evidence (``(grade_id, what)`` pairs), one per distinct finding."""
    return [{"kind": "review", "grade_id": grade_id or "", "detail": detail}
            for grade_id, detail in dict.fromkeys((g, d) for g, d in evidence)]


