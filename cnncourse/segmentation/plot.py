"""Pictures of semantic segmentation: class colours, coloured masks, image | truth | prediction figures.

- :func:`class_colours`: a fixed ``(C, 3)`` palette, class 0 (background) dark grey, then
  matplotlib's tab10 (the colours :func:`cnncourse.data.show_detections` gives classes),
  then tab20's light half, then evenly spaced hues;
- :func:`colourize`: a label mask as an RGB image (ignored pixels white);
- :func:`show_segmentation`: one row per image, image | truth | one column per prediction,
  with a legend of the class colours; returns the matplotlib ``Figure``.

Example::

    >>> from cnncourse.data import make_shapes
    >>> from cnncourse.segmentation import show_segmentation
    >>> data = make_shapes(4, image_size=64, seed=0)
    >>> names = ("background",) + tuple(data.class_names)
    >>> fig = show_segmentation(data.images, data.semantic_masks, class_names=names)
    >>> fig.savefig("segmentation.png")
"""

from __future__ import annotations

import colorsys

import numpy as np

from cnncourse._validation import check_array, check_float, check_positive_int, describe, is_int

__all__ = ["class_colours", "colourize", "show_segmentation"]

#: Background: dark grey, distinct from black image borders and from the white of ignored pixels.
BACKGROUND_COLOUR = (0.2, 0.2, 0.2)
#: Ignored pixels (``ignore_index``): white.
IGNORE_COLOUR = (1.0, 1.0, 1.0)

_TAB10 = np.array(
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
     [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
    dtype=np.float64,
) / 255.0
_TAB20_LIGHT = np.array(
    [[174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213],
     [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229]],
    dtype=np.float64,
) / 255.0


def class_colours(num_classes: int) -> np.ndarray:
    """A fixed palette of ``num_classes`` RGB colours, float64 ``(C, 3)`` in ``[0, 1]``.

    Row 0 (background) is dark grey; rows 1-10 are tab10, rows 11-20 tab20's light
    colours, and any further rows evenly spaced hues (golden-ratio steps), so the colour
    of a class never depends on how many classes there are.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    colours = [np.array(BACKGROUND_COLOUR)]
    fixed = np.concatenate([_TAB10, _TAB20_LIGHT])
    for k in range(1, num_classes):
        if k <= len(fixed):
            colours.append(fixed[k - 1])
        else:
            hue = (0.61803398875 * (k - len(fixed))) % 1.0
            colours.append(np.array(colorsys.hsv_to_rgb(hue, 0.65, 0.9)))
    return np.stack(colours[:num_classes]).astype(np.float64)


def _check_ignore_index(ignore_index) -> int | None:
    if ignore_index is None:
        return None
    if not is_int(ignore_index):
        raise TypeError(f"ignore_index must be an integer or None, got {describe(ignore_index)}")
    return int(ignore_index)


def colourize(mask, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """A label mask as an RGB image: class ``k`` in ``class_colours(num_classes)[k]``, ignored pixels white.

    Args:
        mask: integer labels ``(H, W)`` (any shape works: ``(N, H, W)`` gives ``(N, H, W, 3)``),
            values in ``[0, num_classes)`` or ``ignore_index``.
        num_classes: ``C``.
        ignore_index: label drawn white, or ``None``.

    Returns:
        float64 ``mask.shape + (3,)`` in ``[0, 1]``.

    Raises:
        TypeError: a float mask. ValueError: a label outside ``[0, C)`` that is not ``ignore_index``.
    """
    mask = check_array("mask", mask, kinds="biu", what="(H, W) of integer class labels")
    num_classes = check_positive_int("num_classes", num_classes)
    ignore_index = _check_ignore_index(ignore_index)
    labels = mask.astype(np.int64)
    ignored = labels == ignore_index if ignore_index is not None else np.zeros(labels.shape, dtype=bool)
    outside = ((labels < 0) | (labels >= num_classes)) & ~ignored
    if outside.any():
        bad = ", ".join(str(v) for v in np.unique(labels[outside])[:10].tolist())
        extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise ValueError(f"mask must hold labels in [0, {num_classes}){extra}; got {bad}")
    palette = np.concatenate([class_colours(num_classes), np.array([IGNORE_COLOUR])])
    return palette[np.where(ignored, num_classes, labels)]


def _displayable(image: np.ndarray) -> np.ndarray:
    """An image as float in [0, 1], ``(H, W, 3)``, for ``imshow``."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    else:
        image = image.astype(np.float32)
        if image.size and image.max() > 1.0:  # float data in 0..255
            image = image / 255.0
    image = np.clip(image, 0.0, 1.0)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image


def show_segmentation(
    images,
    truth,
    predictions=None,
    *,
    class_names,
    ignore_index: int | None = None,
    titles=None,
    count: int = 4,
    panel_size: float = 2.2,
):
    """One row per image: the image, its true mask, and each predicted mask, with a legend of class colours.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)``; uint8, or float in ``[0, 1]``.
        truth: integer ``(N, H, W)`` (or ``(N, H, W, 1)``) masks, values in ``[0, C)`` or ``ignore_index``.
        predictions: ``None``; one integer ``(N, H, W)`` array (column "prediction"); or a dict
            ``{name: (N, H, W) masks}``, one column each, in the dict's order (e.g.
            ``{"FCN-32s": a, "U-Net": b}``). Take the argmax of a network's scores first.
        class_names: the ``C`` class names, background first (``("background",) + data.class_names``).
        ignore_index: label drawn white (and listed as "ignored" in the legend), or ``None``.
        titles: optional ``N`` strings, one per image, written over its image panel.
        count: how many images (rows) to show, at most ``N``.
        panel_size: inches per panel.

    Returns:
        ``matplotlib.figure.Figure`` with ``rows * (2 + len(predictions))`` axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    images = check_array("images", images, ndim=(3, 4), what="(N, H, W) or (N, H, W, C)")
    if images.ndim == 4 and images.shape[-1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got shape {images.shape}")
    n, height, width = images.shape[:3]
    if n == 0:
        raise ValueError("images must hold at least one image, got 0")
    if isinstance(class_names, str) or not hasattr(class_names, "__len__") or len(class_names) == 0:
        raise TypeError(f"class_names must be a non-empty sequence of strings, got {describe(class_names)}")
    class_names = tuple(str(name) for name in class_names)
    num_classes = len(class_names)
    ignore_index = _check_ignore_index(ignore_index)
    count = check_positive_int("count", count)
    panel_size = check_float("panel_size", panel_size, minimum=0.0, include_minimum=False)

    def masks_of(name: str, value) -> np.ndarray:
        value = check_array(name, value, ndim=(3, 4), kinds="biu", what=f"({n}, {height}, {width})")
        if value.ndim == 4:
            if value.shape[-1] != 1:
                raise ValueError(f"{name} must have shape ({n}, {height}, {width}) or (..., 1), got {value.shape}")
            value = value[..., 0]
        if value.shape != (n, height, width):
            raise ValueError(f"{name} must have shape ({n}, {height}, {width}) like images, got {value.shape}")
        return value

    columns = {"truth": masks_of("truth", truth)}
    if predictions is not None:
        if isinstance(predictions, dict):
            if not predictions:
                raise ValueError("predictions must name at least one set of masks, got an empty dict")
            for key, value in predictions.items():
                if not isinstance(key, str):
                    raise TypeError(f"predictions' keys must be strings (column titles), got {describe(key)}")
                if key in ("image", "truth"):
                    raise ValueError(f"predictions' key {key!r} is taken by a fixed column; choose another name")
                columns[key] = masks_of(f"predictions[{key!r}]", value)
        else:
            columns["prediction"] = masks_of("predictions", predictions)
    rows = min(count, n)
    if titles is not None:
        if isinstance(titles, str) or not hasattr(titles, "__len__"):
            raise TypeError(f"titles must be a sequence of {n} strings, got {describe(titles)}")
        if len(titles) != n:
            raise ValueError(f"titles must have one entry per image ({n}), got {len(titles)}")
    coloured = {name: colourize(masks[:rows], num_classes, ignore_index) for name, masks in columns.items()}

    ncols = 1 + len(columns)
    entries = num_classes + (ignore_index is not None)
    legend_columns = min(entries, 2 * ncols, 6)
    legend_rows = -(-entries // legend_columns)
    legend_height = 0.25 * legend_rows + 0.2
    fig, axes = plt.subplots(
        rows, ncols, figsize=(panel_size * ncols, panel_size * rows + legend_height + 0.3), squeeze=False
    )
    for r in range(rows):
        panels = [_displayable(images[r])] + [coloured[name][r] for name in columns]
        headers = ["image"] + list(columns)
        for c, (ax, panel) in enumerate(zip(axes[r], panels)):
            ax.imshow(panel, interpolation="nearest", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            title = headers[c] if r == 0 else ""
            if c == 0 and titles is not None:
                title = f"{title}\n{titles[r]}" if title else str(titles[r])
            if title:
                ax.set_title(title, fontsize=9)
    palette = class_colours(num_classes)
    handles = [Patch(facecolor=palette[k], edgecolor="black", linewidth=0.5, label=class_names[k])
               for k in range(num_classes)]
    if ignore_index is not None:
        handles.append(Patch(facecolor=IGNORE_COLOUR, edgecolor="black", linewidth=0.5, label="ignored"))
    fig.legend(handles=handles, loc="lower center", ncol=legend_columns, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, legend_height / fig.get_figheight(), 1, 1))
    return fig
