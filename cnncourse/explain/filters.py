"""First-layer filters as an image grid, and activation maps of any named layer."""

from __future__ import annotations

import math

import numpy as np

from cnncourse._validation import check_int, check_positive_int
from cnncourse.explain._common import batches, check_images, check_layer, check_model, layer_model


def first_conv_layer(model):
    """The first ``Conv2D`` layer of ``model`` (searching nested models too)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return layer
        if isinstance(layer, keras.Model):
            found = first_conv_layer(layer)
            if found is not None:
                return found
    return None


def filter_grid(kernels, *, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Convolution kernels as one image: each filter scaled to ``[0, 1]`` on its own, in a grid.

    Args:
        kernels: ``(kh, kw, C, F)`` (Keras's layout) with ``C`` 1 or 3.
        columns: filters per row (default ``ceil(sqrt(F))``).
        pad: pixels of white between filters.

    Returns:
        float32 ``(rows · (kh + pad) − pad, columns · (kw + pad) − pad, C)`` in ``[0, 1]``.
    """
    kernels = np.asarray(kernels, np.float32)
    if kernels.ndim != 4 or kernels.shape[2] not in (1, 3):
        raise ValueError(f"kernels must have shape (kh, kw, C, F) with C 1 or 3, got {kernels.shape}")
    kh, kw, channels, count = kernels.shape
    columns = math.ceil(math.sqrt(count)) if columns is None else check_positive_int("columns", columns)
    pad = check_int("pad", pad, minimum=0)
    rows = math.ceil(count / columns)
    grid = np.ones((rows * (kh + pad) - pad, columns * (kw + pad) - pad, channels), np.float32)
    for f in range(count):
        k = kernels[..., f]
        low, high = k.min(), k.max()
        k = (k - low) / (high - low) if high > low else np.full_like(k, 0.5)
        r, c = divmod(f, columns)
        grid[r * (kh + pad):r * (kh + pad) + kh, c * (kw + pad):c * (kw + pad) + kw] = k
    return grid


def first_layer_filters(model, *, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """The first convolution's kernels of ``model`` as an image grid (:func:`filter_grid`).

    Args:
        model: a Keras model whose first ``Conv2D`` sees 1 or 3 channels.
        columns, pad: as in :func:`filter_grid`.

    Returns:
        float32 ``(height, width, C)`` grid in ``[0, 1]``.
    """
    model = check_model("model", model)
    layer = first_conv_layer(model)
    if layer is None:
        raise ValueError("model must contain a Conv2D layer, got none")
    return filter_grid(layer.kernel.numpy(), columns=columns, pad=pad)


def activation_maps(model, images, layer_name: str, *, batch_size: int = 64) -> np.ndarray:
    """The output of layer ``layer_name`` for each image.

    Args:
        model: a functional Keras model on ``(N, H, W, C)`` images.
        images: float ``(N, H, W, C)``.
        layer_name: a layer of ``model.layers``.
        batch_size: images per call.

    Returns:
        float32, the layer's output shape, e.g. ``(N, h, w, F)`` for a convolution.
    """
    model = check_model("model", model)
    images = check_images("images", images, model)
    check_layer("layer_name", model, layer_name)
    batch_size = check_positive_int("batch_size", batch_size)
    sub = layer_model(model, [layer_name])
    return np.concatenate([np.asarray(sub(images[part], training=False)) for part in batches(len(images), batch_size)])
