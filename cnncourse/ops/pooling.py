"""Max and average pooling, forward and backward, in NumPy.

Layouts (Keras ``channels_last``): ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``; every
channel is pooled on its own, and the output keeps the input's layout with
``OH = (H + pad - pool) // stride + 1`` rows (likewise columns).

``padding="valid"`` (default) drops windows that would stick out; ``"same"`` follows
Keras/TensorFlow: output ``ceil(H / stride)``, padded cells never win a max and are not
counted in an average.

Backward passes take the gradient of the loss with respect to the pooled output and return
the gradient with respect to the input:

* max pooling routes each output gradient to the position of its window's maximum (the
  *argmax*, remembered in the forward pass); every other input gets 0 from that window.
  Ties go to the first maximum in row-major order.
* average pooling spreads each output gradient evenly over the window it averaged.

Where windows overlap (``stride < pool_size``) the contributions add up.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_choice, check_int_tuple, check_numeric_array, check_positive_int
from cnncourse.ops.convolution import _sliding_patches
from cnncourse.ops.padding import _pad_spatial


def _standardize_feature_map(x, name="x"):
    """``(N, H, W, C)`` view of ``x`` and a function that restores the original layout."""
    x = check_numeric_array(name, x)
    if x.ndim == 2:
        return x[None, :, :, None], lambda out: out[0, :, :, 0]
    if x.ndim == 3:
        return x[None], lambda out: out[0]
    if x.ndim == 4:
        return x, lambda out: out
    raise ValueError(f"{name} must have shape (H, W), (H, W, C) or (N, H, W, C), got {name}.shape={x.shape}")


def _pool_geometry(x4, pool_size, stride, padding):
    pool_hw = check_int_tuple("pool_size", pool_size, 2)
    stride_hw = pool_hw if stride is None else check_int_tuple("stride", stride, 2)
    if isinstance(padding, str):
        padding = padding.lower()
    check_choice("padding", padding, ("valid", "same"), "padding")
    height, width = x4.shape[1:3]
    if padding == "valid":
        if height < pool_hw[0] or width < pool_hw[1]:
            raise ValueError(
                f"pool_size {pool_hw} is larger than the input ({height}x{width}) with padding='valid'"
            )
        pads = ((0, 0), (0, 0))
    else:
        pads = []
        for size, k, s in zip((height, width), pool_hw, stride_hw):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        pads = tuple(pads)
    return pool_hw, stride_hw, pads


def _lowest(dtype):
    if dtype == np.bool_:
        return False
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def max_pool2d(x, pool_size=2, stride=None, padding="valid", return_indices=False):
    """Max pooling: the largest value of every ``pool_size`` window (``keras.layers.MaxPooling2D``).

    Args:
        x: ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, real numbers.
        pool_size: an int or ``(PH, PW)``.
        stride: an int or ``(SH, SW)``; ``None`` (default) means ``pool_size`` (no overlap).
        padding: ``"valid"`` or ``"same"``.
        return_indices: also return where each maximum came from.

    Returns:
        ``pooled``, same layout as ``x``, same dtype; with ``return_indices=True`` also
        ``indices`` (int64, same shape as ``pooled``): the flat position ``row * W + col`` of
        each maximum in its own ``(H, W)`` input map (per image and channel), as
        :func:`cnncourse.ops.max_unpool2d` and :func:`max_pool2d_backward` use them.

    Example (deck 001):
        >>> max_pool2d([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
        array([[6, 8],
               [3, 4]])
    """
    x4, restore = _standardize_feature_map(x)
    if x4.dtype.kind == "c":
        raise TypeError(f"x must be real for max pooling, got dtype {x4.dtype}")
    pool_hw, stride_hw, pads = _pool_geometry(x4, pool_size, stride, padding)
    padded = _pad_spatial(x4, pads, "zero", constant=_lowest(x4.dtype))
    patches = _sliding_patches(padded, pool_hw, stride_hw, (1, 1))  # (N, OH, OW, PH, PW, C)
    n, oh, ow, ph, pw, c = patches.shape
    flat = patches.reshape(n, oh, ow, ph * pw, c)
    pooled = flat.max(axis=3)
    if not return_indices:
        return restore(pooled)
    # position of the max inside its window -> row and column in the unpadded input
    where = flat.argmax(axis=3)  # (N, OH, OW, C)
    window_row, window_col = np.divmod(where, pw)
    rows = np.arange(oh)[None, :, None, None] * stride_hw[0] + window_row - pads[0][0]
    cols = np.arange(ow)[None, None, :, None] * stride_hw[1] + window_col - pads[1][0]
    indices = (rows * x4.shape[2] + cols).astype(np.int64)
    return restore(pooled), restore(indices)


def average_pool2d(x, pool_size=2, stride=None, padding="valid"):
    """Average pooling: the mean of every window (``keras.layers.AveragePooling2D``).

    Same arguments and layouts as :func:`max_pool2d`. With ``padding="same"`` a window at the
    border averages only the cells inside the image, as Keras does. Float output.
    """
    x4, restore = _standardize_feature_map(x)
    pool_hw, stride_hw, pads = _pool_geometry(x4, pool_size, stride, padding)
    dtype = np.result_type(x4, np.float32)
    sums = _window_sums(x4.astype(dtype, copy=False), pool_hw, stride_hw, pads)
    counts = _window_sums(np.ones((1,) + x4.shape[1:3] + (1,), dtype), pool_hw, stride_hw, pads)
    return restore(sums / counts)


def _window_sums(x4, pool_hw, stride_hw, pads):
    padded = _pad_spatial(x4, pads, "zero")
    return _sliding_patches(padded, pool_hw, stride_hw, (1, 1)).sum(axis=(3, 4))


def _check_grad_output(grad_output, x4, pool_hw, stride_hw, pads, restore):
    grad4, _ = _standardize_feature_map(grad_output, "grad_output")
    n, h, w, c = x4.shape
    oh = (h + sum(pads[0]) - pool_hw[0]) // stride_hw[0] + 1
    ow = (w + sum(pads[1]) - pool_hw[1]) // stride_hw[1] + 1
    expected = restore(np.empty((n, oh, ow, c))).shape
    if np.shape(grad_output) != expected:
        raise ValueError(
            f"grad_output must have the pooled output's shape {expected}, got {np.shape(grad_output)}"
        )
    return grad4


def max_pool2d_backward(x, grad_output, pool_size=2, stride=None, padding="valid"):
    """Gradient of max pooling: route every output gradient to its window's argmax.

    Args:
        x: the forward pass's input, ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
        grad_output: dLoss/dPooled, the shape :func:`max_pool2d` returns for ``x``.
        pool_size, stride, padding: as in the forward pass.

    Returns:
        dLoss/dx, shape of ``x``, float: zero except at the maxima, which receive the
        gradient of every window they won (summed where windows overlap).
    """
    x4, restore = _standardize_feature_map(x)
    pool_hw, stride_hw, pads = _pool_geometry(x4, pool_size, stride, padding)
    grad4 = _check_grad_output(grad_output, x4, pool_hw, stride_hw, pads, restore)
    _, indices = max_pool2d(x4, pool_hw, stride_hw, padding, return_indices=True)
    return restore(_scatter_add(grad4, indices, x4.shape))


def average_pool2d_backward(x, grad_output, pool_size=2, stride=None, padding="valid"):
    """Gradient of average pooling: every window shares its gradient equally among its cells.

    Same arguments as :func:`max_pool2d_backward`; returns dLoss/dx with the shape of ``x``.
    """
    x4, restore = _standardize_feature_map(x)
    pool_hw, stride_hw, pads = _pool_geometry(x4, pool_size, stride, padding)
    grad4 = _check_grad_output(grad_output, x4, pool_hw, stride_hw, pads, restore)
    dtype = np.result_type(grad4, np.float32)
    counts = _window_sums(np.ones((1,) + x4.shape[1:3] + (1,), dtype), pool_hw, stride_hw, pads)
    share = grad4 / counts  # (N, OH, OW, C): what each cell of a window receives
    n, h, w, c = x4.shape
    (top, bottom), (left, right) = pads
    grad_padded = np.zeros((n, h + top + bottom, w + left + right, c), dtype)
    oh, ow = share.shape[1:3]
    for i in range(pool_hw[0]):
        for j in range(pool_hw[1]):
            grad_padded[:, i: i + (oh - 1) * stride_hw[0] + 1: stride_hw[0],
                        j: j + (ow - 1) * stride_hw[1] + 1: stride_hw[1], :] += share
    return restore(grad_padded[:, top: top + h, left: left + w, :])


def _scatter_add(values4, indices4, shape4):
    """Add ``values4[n, i, j, c]`` into ``out[n, :, :, c].flat[indices4[n, i, j, c]]``."""
    n, h, w, c = shape4
    out = np.zeros((n, h * w, c), dtype=np.result_type(values4, np.float32))
    batch = np.arange(n)[:, None, None, None]
    channel = np.arange(c)[None, None, None, :]
    np.add.at(out, (np.broadcast_to(batch, indices4.shape), indices4, np.broadcast_to(channel, indices4.shape)),
              values4)
    return out.reshape(n, h, w, c)


def cross_channel_max_pool(x, pool_size=2):
    """Max over groups of consecutive channels ("maxout", cross-filter pooling).

    Args:
        x: ``(..., C)``: any layout with channels last.
        pool_size: how many consecutive channels share one output channel; must divide ``C``.

    Returns:
        ``(..., C // pool_size)``: ``out[..., k] = max(x[..., k*p : (k+1)*p])``.
    """
    x = check_numeric_array("x", x)
    pool_size = check_positive_int("pool_size", pool_size)
    if x.ndim < 1 or x.shape[-1] % pool_size:
        raise ValueError(
            f"pool_size={pool_size} must divide the number of channels (last axis) of x, got x.shape={x.shape}"
        )
    return x.reshape(x.shape[:-1] + (x.shape[-1] // pool_size, pool_size)).max(axis=-1)


__all__ = [
    "max_pool2d",
    "average_pool2d",
    "max_pool2d_backward",
    "average_pool2d_backward",
    "cross_channel_max_pool",
]
