"""How the course's figures look and how they are stored in a notebook.

:func:`use_course_style` (called by :func:`cnncourse.setup`) sets the matplotlib defaults of
every notebook, and, inside IPython, how a figure becomes a cell output:

- drawings (curves, bars, small annotated grids) are stored as PNG, sharp and small;
- figures that show photographs or other large images with many values are stored as JPEG
  (quality :data:`JPEG_QUALITY`), 3 to 10 times smaller than the PNG of the same figure.

Both are rendered at :data:`DPI` dots per inch, so a figure of ``figsize=(10, 3)`` is about
720 x 216 pixels: readable at notebook width, and a notebook with a dozen figures stays
under about 1 MB.
"""

from __future__ import annotations

import io

#: dots per inch of figures stored in notebooks
DPI = 72
#: JPEG quality of photo figures (Pillow's scale, 1-95)
JPEG_QUALITY = 80
#: a figure counts as a photo when one of its images has at least this many pixels …
PHOTO_PIXELS = 64 * 64
#: … and at least this many distinct values
PHOTO_VALUES = 64

RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "image.cmap": "gray",
    "axes.titlesize": "medium",
    "figure.autolayout": True,
}


def is_photo_figure(figure) -> bool:
    """True when the figure shows a large image with many distinct values (a photo, a heat map).

    Args:
        figure: a :class:`matplotlib.figure.Figure`.
    """
    import numpy as np

    for axes in figure.get_axes():
        for image in axes.get_images():
            array = np.asarray(image.get_array())
            if array.ndim >= 2 and array.shape[0] * array.shape[1] >= PHOTO_PIXELS:
                if np.unique(array.reshape(-1, *array.shape[2:]), axis=0).shape[0] >= PHOTO_VALUES:
                    return True
    return False


def figure_bytes(figure, fmt: str) -> bytes:
    """The figure rendered as ``"png"`` or ``"jpeg"`` at :data:`DPI`, cropped to its content."""
    buffer = io.BytesIO()
    options = {"pil_kwargs": {"quality": JPEG_QUALITY, "optimize": True}} if fmt == "jpeg" else {}
    figure.savefig(buffer, format=fmt, dpi=DPI, bbox_inches="tight", facecolor="white", **options)
    return buffer.getvalue()


def _png(figure):
    return None if is_photo_figure(figure) else figure_bytes(figure, "png")


def _jpeg(figure):
    return figure_bytes(figure, "jpeg") if is_photo_figure(figure) else None


def use_course_style() -> bool:
    """Set the course's matplotlib defaults; in IPython, store photo figures as JPEG, others as PNG.

    Returns True when the IPython output formats were installed (a running IPython shell).
    """
    import matplotlib

    matplotlib.rcParams.update(RC)
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # the backend loads with the first figure, and the inline backend then sets its own
    # formats: load it now, so that ours come after
    plt.close(plt.figure())
    matplotlib.rcParams.update(RC)

    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(Figure, _png)
    formatters["image/jpeg"].for_type(Figure, _jpeg)
    return True
