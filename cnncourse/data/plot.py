"""Matplotlib galleries for the notebooks: images with labels, boxes and masks.

- :func:`show_images`: a grid of images with optional class names / titles.
- :func:`show_detections`: a grid of images with boxes (ground truth or predictions, with
  scores), class names and instance or semantic masks overlaid.
- :func:`show_shapes`: the first images of a :class:`~cnncourse.data.ShapesData`.

Each returns the matplotlib ``Figure`` (save it with ``fig.savefig("gallery.png")``).

Example::

    >>> from cnncourse.data import make_shapes, show_shapes
    >>> fig = show_shapes(make_shapes(8, seed=0))
"""

from __future__ import annotations

import numpy as np

from cnncourse.boxes import convert_format
from cnncourse._validation import check_array, check_box_format, check_choice, check_positive_int

#: Colours of instances / classes in overlays (matplotlib's tab10).
_PALETTE = np.array(
    [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ],
    dtype=np.float32,
) / 255.0


def _check_images(images) -> np.ndarray:
    images = check_array("images", images, ndim=(3, 4), what="(N, H, W) or (N, H, W, C)")
    if images.ndim == 4 and images.shape[-1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got shape {images.shape}")
    return images


def _displayable(image: np.ndarray) -> np.ndarray:
    """An image as float in [0, 1], ``(H, W)`` or ``(H, W, 3)``, for ``imshow``."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    image = image.astype(np.float32)
    if image.dtype.kind == "f" and image.size and image.max() > 1.0:  # float data in 0..255
        image = image / 255.0
    return np.clip(image, 0.0, 1.0)


def _grid(count: int, ncols: int, panel_size: float):
    import matplotlib.pyplot as plt

    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.1), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    return fig, axes.ravel()


def _name(label: int, class_names) -> str:
    if class_names is not None and 0 <= label < len(class_names):
        return str(class_names[label])
    return str(label)


def show_images(images, labels=None, class_names=None, *, titles=None, ncols: int = 8, panel_size: float = 1.6, cmap="gray"):
    """A grid of images, titled by class name (or label, or ``titles``).

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)``; uint8, or float in
            ``[0, 1]`` (float data above 1 is taken as 0..255).
        labels: optional ``(N,)`` integer labels.
        class_names: optional names indexed by label.
        titles: optional list of N strings (overrides labels).
        ncols: panels per row.
        panel_size: inches per panel.
        cmap: colour map of one-channel images.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    images = _check_images(images)
    ncols = check_positive_int("ncols", ncols)
    n = len(images)
    if n == 0:
        raise ValueError("images must hold at least one image, got 0")
    if labels is not None:
        labels = check_array("labels", labels, shape=(n,), kinds="iu", what=f"({n},)")
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have one entry per image ({n}), got {len(titles)}")
    fig, axes = _grid(n, ncols, panel_size)
    for i, ax in enumerate(axes[:n]):
        ax.imshow(_displayable(images[i]), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
        elif labels is not None:
            ax.set_title(_name(int(labels[i]), class_names), fontsize=9)
    return fig


def show_detections(
    images,
    boxes=None,
    labels=None,
    *,
    masks=None,
    scores=None,
    class_names=None,
    bounding_box_format: str = "xyxy",
    ncols: int = 4,
    panel_size: float = 2.6,
    mask_alpha: float = 0.45,
):
    """A grid of images with their boxes, class names (and scores) and masks.

    Args:
        images: ``(N, H, W, 3)`` (or one-channel) images, uint8 or float in ``[0, 1]``.
        boxes: ``(N, M, 4)`` boxes in ``bounding_box_format``, ``-1`` rows for padding.
        labels: ``(N, M)`` class indices, ``-1`` for padding (required with ``boxes``).
        masks: ``(N, M, H, W)`` instance masks (coloured per instance) or ``(N, H, W)``
            semantic masks (0 = background, ``k + 1`` = class ``k``, coloured per class).
        scores: ``(N, M)`` confidence scores written next to the class names.
        class_names: names indexed by label.
        bounding_box_format: Keras box format name of ``boxes``.
        ncols, panel_size: grid layout.
        mask_alpha: opacity of the mask overlay.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    import matplotlib.patches as patches
    import matplotlib.patheffects as patheffects

    images = _check_images(images)
    n, height, width = images.shape[:3]
    ncols = check_positive_int("ncols", ncols)
    bounding_box_format = check_box_format("bounding_box_format", bounding_box_format)
    if boxes is not None:
        boxes = check_array("boxes", boxes, ndim=3, shape=(n, None, 4), kinds="iuf", what=f"({n}, M, 4)")
        if labels is None:
            raise ValueError("labels must be given with boxes (use -1 for padding rows)")
        labels = check_array("labels", labels, shape=boxes.shape[:2], kinds="iu", what=f"{boxes.shape[:2]}")
        xyxy = convert_format(boxes, bounding_box_format, "xyxy", height, width).astype(np.float32)
    if scores is not None:
        if boxes is None:
            raise ValueError("scores need boxes and labels")
        scores = check_array("scores", scores, shape=boxes.shape[:2], kinds="f", what=f"{boxes.shape[:2]}")
    if masks is not None:
        masks = check_array("masks", masks, ndim=(3, 4), kinds="biu", what="(N, M, H, W) or (N, H, W)")
        if masks.shape[0] != n or masks.shape[-2:] != (height, width):
            raise ValueError(f"masks must have shape ({n}, M, {height}, {width}) or ({n}, {height}, {width}), got {masks.shape}")
    fig, axes = _grid(n, ncols, panel_size)
    for i, ax in enumerate(axes[:n]):
        picture = _displayable(images[i])
        if picture.ndim == 2:
            picture = np.repeat(picture[..., None], 3, axis=-1)
        if masks is not None:
            overlay = np.zeros((height, width, 4), dtype=np.float32)
            if masks.ndim == 4:  # instance masks: one colour per instance
                for j in range(masks.shape[1]):
                    overlay[masks[i, j].astype(bool), :3] = _PALETTE[j % len(_PALETTE)]
                    overlay[masks[i, j].astype(bool), 3] = mask_alpha
            else:  # semantic mask: one colour per class
                for value in np.unique(masks[i]):
                    if value > 0:
                        overlay[masks[i] == value, :3] = _PALETTE[(int(value) - 1) % len(_PALETTE)]
                        overlay[masks[i] == value, 3] = mask_alpha
            picture = picture * (1 - overlay[..., 3:]) + overlay[..., :3] * overlay[..., 3:]
        ax.imshow(picture, interpolation="nearest", extent=(0, width, height, 0))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        if boxes is None:
            continue
        for j in np.flatnonzero(labels[i] >= 0):
            x0, y0, x1, y1 = xyxy[i, j]
            colour = _PALETTE[j % len(_PALETTE)] if masks is not None and masks.ndim == 4 else _PALETTE[labels[i, j] % len(_PALETTE)]
            # A dark outline under the coloured line keeps every box visible on any background.
            outline = [patheffects.Stroke(linewidth=3.0, foreground="black", alpha=0.6), patheffects.Normal()]
            ax.add_patch(
                patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5, path_effects=outline)
            )
            text = _name(int(labels[i, j]), class_names)
            if scores is not None:
                text += f" {scores[i, j]:.2f}"
            # Name above the box, or just inside it when the box touches the top edge.
            inside = y0 < 0.1 * height
            ax.text(
                x0,
                y0,
                text,
                fontsize=7,
                color="white",
                va="top" if inside else "bottom",
                ha="left",
                clip_on=True,
                bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "edgecolor": "none"},
            )
    return fig


def show_shapes(data, count: int = 8, *, masks: str = "instance", ncols: int = 4, panel_size: float = 2.6):
    """The first ``count`` images of a :class:`~cnncourse.data.ShapesData` with boxes, names and masks.

    Args:
        data: a :class:`~cnncourse.data.ShapesData`.
        count: how many images to show.
        masks: ``"instance"`` (one colour per instance), ``"semantic"`` (one per class) or
            ``"none"``.
    """
    count = min(check_positive_int("count", count), len(data))
    check_choice("masks", masks, ("instance", "semantic", "none"), "mask style")
    chosen = {"instance": data.masks[:count], "semantic": data.semantic_masks[:count], "none": None}[masks]
    return show_detections(
        data.images[:count],
        data.boxes[:count],
        data.labels[:count],
        masks=chosen,
        class_names=data.class_names,
        bounding_box_format=data.bounding_box_format,
        ncols=ncols,
        panel_size=panel_size,
    )
