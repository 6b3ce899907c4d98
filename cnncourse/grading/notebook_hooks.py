"""In a notebook, an unfinished exercise, and each cell that needs it, print one line instead of a traceback.

:func:`install_notebook_hooks` (called by ``cnncourse.setup()`` and on importing
``cnncourse.grading``) registers an IPython handler for ``NotImplementedError`` (the stub
of an exercise) and for a ``NameError`` of a cell's own code (a name an unfinished cell
above did not make). The cell still counts as failed, so Run All goes on to the next one.
"""

from __future__ import annotations

from cnncourse.grading import check
from cnncourse.grading.check import FAIL_MARK


class _Globals:
    """``f_globals in _CHECK_GLOBALS``: a frame of the check module (the grader may rebuild it)."""

    def __contains__(self, namespace) -> bool:
        return namespace is vars(check) or namespace.get("__name__") == "cnncourse.grading.check"


_CHECK_GLOBALS = _Globals()

NOT_IMPLEMENTED_MESSAGE = (
    f"{FAIL_MARK} Not done yet: an exercise this cell needs still raises NotImplementedError "
    "(write your code under `# YOUR CODE HERE`, run that cell, then this one)."
)


def not_implemented_line(traceback=None) -> str:
    """The one line an unfinished exercise prints, naming its function when the traceback shows it."""
    function = None
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_name
        if not name.startswith("<") and traceback.tb_frame.f_globals not in _CHECK_GLOBALS:
            function = name
        traceback = traceback.tb_next
    if function is None:
        return NOT_IMPLEMENTED_MESSAGE
    return (f"{FAIL_MARK} Not done yet: `{function}` still raises NotImplementedError "
            "(write your code under `# YOUR CODE HERE` in its cell, run that cell, then this one).")


def missing_name_line(error: NameError) -> str:
    """The one line for a name a cell above should have made (it did not run, or it stopped early)."""
    name = getattr(error, "name", None) or str(error)
    return (f"{FAIL_MARK} `{name}` is not defined yet: the cell above that makes it has not run, or stopped "
            "early (an unfinished exercise?). Run it, then this cell.")


def _top_level_name_error(value, tb) -> bool:
    """A NameError raised by the cell's own code (not inside a function): a name a cell above makes."""
    last = tb
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    return isinstance(value, NameError) and last is not None and last.tb_frame.f_code.co_name == "<module>"


def _show_unfinished(shell, etype, value, tb, tb_offset=None):
    # IPython does not display what a custom handler returns: show it as the cell's error
    # output (ipykernel sends it as an `error` message, so the cell still counts as failed).
    if isinstance(value, NotImplementedError):
        lines = [not_implemented_line(tb)]
    elif _top_level_name_error(value, tb):
        lines = [missing_name_line(value)]
    else:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    shell._showtraceback(etype, value, lines)
    return lines


def install_notebook_hooks() -> bool:
    """In IPython, make an unfinished exercise, and each cell that needs it, print one line.

    ``NotImplementedError`` prints :func:`not_implemented_line`; a ``NameError`` of a cell's
    own code (a name an unfinished cell above did not make) prints :func:`missing_name_line`;
    other errors keep their traceback. Returns True when a running IPython shell was found.
    The cell still counts as failed.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NotImplementedError, NameError), _show_unfinished)
    return True
