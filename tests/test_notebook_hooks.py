"""In a notebook, an unfinished exercise and the cells that need it print one line; figures stay small."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnncourse import figures  # noqa: E402
from cnncourse.grading import check  # noqa: E402
from cnncourse.grading.notebook_hooks import install_notebook_hooks  # noqa: E402


@pytest.fixture()
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    assert install_notebook_hooks()
    yield shell
    shell.set_custom_exc((), None)
    InteractiveShell.clear_instance()


def error_lines(shell, capsys, source):
    capsys.readouterr()
    result = shell.run_cell(source)
    assert result.error_in_exec is not None
    out = capsys.readouterr()
    return [line for line in (out.out + out.err).splitlines() if line.strip()]


def test_unfinished_exercise_prints_one_line_naming_its_function(shell, capsys):
    shell.run_cell("def conv_output_size(i, k):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    lines = error_lines(shell, capsys, "conv_output_size(7, 3)")
    assert lines == ["✘ Not done yet: `conv_output_size` still raises NotImplementedError (write your code "
                     "under `# YOUR CODE HERE` in its cell, run that cell, then this one)."]


def test_a_name_an_unfinished_cell_did_not_make_prints_one_line(shell, capsys):
    lines = error_lines(shell, capsys, "print(answer_made_above)")
    assert len(lines) == 1 and lines[0].startswith("✘ `answer_made_above` is not defined yet")


def test_a_name_error_inside_a_function_keeps_its_traceback(shell, capsys):
    shell.run_cell("def f():\n    return typo_name\n")
    lines = error_lines(shell, capsys, "f()")
    assert len(lines) > 1 and any("NameError" in line for line in lines)


def test_setup_installs_the_hooks(shell, capsys):
    import cnncourse

    shell.set_custom_exc((), None)
    cnncourse.setup("00_welcome")
    assert NotImplementedError in shell.custom_exceptions


def test_photos_are_jpeg_and_drawings_png():
    photo, drawing = plt.figure(figsize=(4, 3)), plt.figure(figsize=(4, 3))
    photo.gca().imshow(np.random.default_rng(0).random((96, 96)))
    drawing.gca().plot([0, 1, 2], [1, 0, 1])
    drawing.gca().imshow(np.arange(16).reshape(4, 4))  # a small annotated grid stays PNG
    assert figures.is_photo_figure(photo) and not figures.is_photo_figure(drawing)
    assert figures._png(photo) is None and figures._jpeg(photo).startswith(b"\xff\xd8")
    assert figures._jpeg(drawing) is None and figures._png(drawing).startswith(b"\x89PNG")
    jpeg, png = figures.figure_bytes(photo, "jpeg"), figures.figure_bytes(photo, "png")
    assert len(jpeg) * 2 < len(png)
    plt.close("all")
