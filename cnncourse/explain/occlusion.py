"""Occlusion sensitivity (Zeiler & Fergus, 2014): cover a patch, see how much the class score drops.

A grey (or ``fill``-valued) ``patch_size × patch_size`` square slides over the image with
``stride``; position ``(r, c)`` covers rows ``r·stride … r·stride + patch_size − 1`` and the
same columns. The map holds ``score(image) − score(occluded image)`` per position: large
where the class evidence is. :func:`occlusion_sensitivity` builds all occluded copies of an
image with one mask product and scores them in batches; :func:`occlusion_sensitivity_loop`
is the one-patch-at-a-time reference (the benchmark compares the two).
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_choice, check_float, check_positive_int, describe
from cnncourse.explain._common import check_batch_size, check_class_index, check_images, check_model, num_outputs


def occlusion_grid(height: int, width: int, patch_size: int, stride: int) -> tuple[int, int]:
    """Positions ``(rows, cols)`` of the patch: ``(H − patch_size) // stride + 1`` per axis."""
    if patch_size > min(height, width):
        raise ValueError(f"patch_size must be at most the image side {min(height, width)}, got {patch_size}")
    return (height - patch_size) // stride + 1, (width - patch_size) // stride + 1


def occlusion_masks(height: int, width: int, patch_size: int, stride: int) -> np.ndarray:
    """float32 ``(rows · cols, H, W, 1)``: 1 inside each patch position (row-major order), else 0."""
    rows, cols = occlusion_grid(height, width, patch_size, stride)
    masks = np.zeros((rows, cols, height, width, 1), np.float32)
    for r in range(rows):
        for c in range(cols):
            masks[r, c, r * stride:r * stride + patch_size, c * stride:c * stride + patch_size] = 1.0
    return masks.reshape(rows * cols, height, width, 1)


def _fill_values(fill, images: np.ndarray) -> np.ndarray:
    """``(N, 1, 1, C)`` fill colours: a number, or ``"mean"`` (each image's mean colour)."""
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"fill must be a number or 'mean', got {fill!r}")
        return images.mean(axis=(1, 2), keepdims=True)
    value = check_float("fill", fill)
    return np.full((len(images), 1, 1, images.shape[-1]), value, np.float32)


def _scores(model, x, score: str):
    out = np.asarray(model(x, training=False), np.float64)
    if score == "probability":
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out


def _check(model, images, class_index, patch_size, stride, score):
    model = check_model("model", model)
    images = check_images("images", images, model)
    classes = check_class_index("class_index", class_index, len(images), num_outputs("model", model))
    patch_size = check_positive_int("patch_size", patch_size)
    stride = check_positive_int("stride", stride)
    score = check_choice("score", score, ("logit", "probability"), "score")
    return model, images, classes, patch_size, stride, score


def occlusion_sensitivity(model, images, class_index, *, patch_size: int = 8, stride: int = 4, fill=0.5,
                          score: str = "logit", batch_size: int = 256) -> np.ndarray:
    """Drop of the class score when each patch is covered, all patches of an image batched.

    Args:
        model: ``(N, H, W, C)`` images → ``(N, K)`` logits.
        images: float ``(N, H, W, C)``.
        class_index: an int or ``(N,)`` ints.
        patch_size: side of the square patch, pixels.
        stride: step between patch positions, pixels.
        fill: value of the covered pixels (a number, e.g. 0.5 grey for ``[0, 1]`` images), or
            ``"mean"`` for each image's mean colour.
        score: ``"logit"`` (the model's output) or ``"probability"`` (its softmax).
        batch_size: occluded images per model call.

    Returns:
        float32 ``(N, rows, cols)`` with ``rows = (H − patch_size) // stride + 1`` (same for
        cols): ``score(x) − score(x occluded at (r, c))``.
    """
    model, images, classes, patch_size, stride, score = _check(model, images, class_index, patch_size, stride, score)
    batch_size = check_batch_size("batch_size", batch_size)
    n, height, width, _ = images.shape
    rows, cols = occlusion_grid(height, width, patch_size, stride)
    masks = occlusion_masks(height, width, patch_size, stride)
    fills = _fill_values(fill, images)
    base = _scores(model, images, score)[np.arange(n), classes]
    out = np.empty((n, rows * cols), np.float32)
    positions = rows * cols
    flat = np.arange(n * positions)
    for start in range(0, len(flat), batch_size):
        index = flat[start:start + batch_size]
        image_index, patch_index = index // positions, index % positions
        m = masks[patch_index]
        occluded = images[image_index] * (1.0 - m) + fills[image_index] * m
        scores = _scores(model, occluded, score)[np.arange(len(index)), classes[image_index]]
        out[image_index, patch_index] = base[image_index] - scores
    return out.reshape(n, rows, cols)


def occlusion_sensitivity_loop(model, images, class_index, *, patch_size: int = 8, stride: int = 4, fill=0.5,
                               score: str = "logit") -> np.ndarray:
    """:func:`occlusion_sensitivity` one occluded image per model call (the slow reference).

    Same arguments (no ``batch_size``) and the same ``(N, rows, cols)`` result.
    """
    model, images, classes, patch_size, stride, score = _check(model, images, class_index, patch_size, stride, score)
    n, height, width, _ = images.shape
    rows, cols = occlusion_grid(height, width, patch_size, stride)
    fills = _fill_values(fill, images)
    out = np.empty((n, rows, cols), np.float32)
    for i in range(n):
        base = _scores(model, images[i:i + 1], score)[0, classes[i]]
        for r in range(rows):
            for c in range(cols):
                occluded = images[i:i + 1].copy()
                occluded[:, r * stride:r * stride + patch_size, c * stride:c * stride + patch_size] = fills[i]
                out[i, r, c] = base - _scores(model, occluded, score)[0, classes[i]]
    return out


def occlusion_to_pixels(maps, image_size, *, patch_size: int, stride: int) -> np.ndarray:
    """Occlusion maps ``(N, rows, cols)`` spread back onto the pixels.

    Each pixel gets the mean drop of the patch positions that covered it (0 for pixels no
    patch covered, at the right/bottom edge when the stride does not divide evenly).

    Args:
        maps: ``(N, rows, cols)`` from :func:`occlusion_sensitivity`.
        image_size: ``(H, W)`` of the images.
        patch_size, stride: those used to make ``maps``.

    Returns:
        float32 ``(N, H, W)``.
    """
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (N, rows, cols), got {maps.shape}")
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise TypeError(f"image_size must be (H, W), got {describe(image_size)}")
    height, width = (check_positive_int("image_size", v) for v in image_size)
    patch_size = check_positive_int("patch_size", patch_size)
    stride = check_positive_int("stride", stride)
    rows, cols = occlusion_grid(height, width, patch_size, stride)
    if maps.shape[1:] != (rows, cols):
        raise ValueError(f"maps must have shape (N, {rows}, {cols}) for these sizes, got {maps.shape}")
    masks = occlusion_masks(height, width, patch_size, stride)[..., 0]  # (P, H, W)
    total = np.tensordot(maps.reshape(len(maps), -1), masks, axes=1)
    count = masks.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)
