"""Convolution and cross-correlation in NumPy: loops, im2col, and the vectorised reference.

What deep-learning libraries call "convolution" (Keras ``Conv2D``, ``keras.ops.conv``) is
**cross-correlation**: the kernel slides over the image without being flipped,

    S(i, j) = sum_m sum_n I(i + m, j + n) K(m, n)                      (cross-correlation)

whereas the convolution of signal processing (``np.convolve``, ``scipy.signal.convolve2d``)
flips the kernel first,

    S(i, j) = sum_m sum_n I(i - m, j - n) K(m, n)                      (convolution)

so ``convolve2d(I, K) == cross_correlate2d(I, K[::-1, ::-1])``. Only true convolution is
commutative (``I * K == K * I``). With a learned kernel the difference does not matter: the
network learns the flipped kernel instead.

Layouts (Keras ``channels_last``):

=========================  ==========================  ===========================
image                      kernel                      output
=========================  ==========================  ===========================
``(H, W)``                 ``(KH, KW)``                ``(OH, OW)``
``(H, W, Cin)``            ``(KH, KW, Cin)``           ``(OH, OW)`` (channels summed)
``(H, W, Cin)``            ``(KH, KW, Cin/g, Cout)``   ``(OH, OW, Cout)``
``(N, H, W, Cin)``         ``(KH, KW, Cin)``           ``(N, OH, OW)``
``(N, H, W, Cin)``         ``(KH, KW, Cin/g, Cout)``   ``(N, OH, OW, Cout)``
=========================  ==========================  ===========================

``g`` is ``groups``: the input channels are split into ``g`` consecutive groups, and output
channel ``o`` only sees group ``o // (Cout / g)`` (``groups=Cin`` is a depthwise convolution).
The 1D functions use ``(L,)``/``(K,)``, ``(L, Cin)``/``(K, Cin/g, Cout)`` and ``(N, L, Cin)``.

Output size per axis: ``O = (I + before + after - K_eff) // S + 1`` with
``K_eff = (K - 1) * D + 1`` (see :mod:`cnncourse.ops.padding` for ``padding=``).

Integer inputs are computed in float64, float32 stays float32.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnncourse._validation import check_int_tuple, check_numeric_array, check_positive_int
from cnncourse.ops.padding import (
    _pad_spatial,
    check_padding_mode,
    effective_kernel_size,
    resolve_padding,
    resolve_padding_2d,
)

# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------


def float_dtype_for(*arrays: np.ndarray) -> np.dtype:
    """The dtype the operations compute in: float32 stays float32, integers become float64."""
    return np.result_type(*arrays, np.float32)


def _standardize_image_and_kernel(image, kernel, groups=1, image_name="image", kernel_name="kernel"):
    """Bring ``image`` to ``(N, H, W, C)`` and ``kernel`` to ``(KH, KW, C / groups, Cout)``.

    Returns ``(x4, k4, restore)`` where ``restore(out4)`` gives the output the layout that
    matches the inputs (see the module docstring's table).
    """
    image = check_numeric_array(image_name, image)
    kernel = check_numeric_array(kernel_name, kernel)
    groups = check_positive_int("groups", groups)
    if kernel.size == 0 or image.size == 0:
        raise ValueError(
            f"{image_name} and {kernel_name} must not be empty, got {image_name}.shape={image.shape}, "
            f"{kernel_name}.shape={kernel.shape}"
        )
    if image.ndim == 2:
        if kernel.ndim != 2:
            raise ValueError(
                f"a 2D {image_name} (H, W) needs a 2D {kernel_name} (KH, KW), got {kernel_name}.shape="
                f"{kernel.shape}; for channels use {image_name} (H, W, C) with {kernel_name} (KH, KW, C, Cout)"
            )
        if groups != 1:
            raise ValueError(f"groups must be 1 for a single-channel {image_name} (H, W), got {groups}")
        return image[None, :, :, None], kernel[:, :, None, None], lambda out: out[0, :, :, 0]
    if image.ndim == 3:
        x4, batch = image[None], False
    elif image.ndim == 4:
        x4, batch = image, True
    else:
        raise ValueError(
            f"{image_name} must have shape (H, W), (H, W, C) or (N, H, W, C), got {image_name}.shape={image.shape}"
        )
    channels = x4.shape[-1]
    if kernel.ndim == 3:
        k4, keep_channels = kernel[..., None], False
    elif kernel.ndim == 4:
        k4, keep_channels = kernel, True
    else:
        raise ValueError(
            f"{kernel_name} must have shape (KH, KW, Cin/groups, Cout) or (KH, KW, Cin) for a "
            f"{image_name} with channels, got {kernel_name}.shape={kernel.shape}"
        )
    if channels % groups:
        raise ValueError(f"groups={groups} must divide the {channels} input channels of {image_name}")
    if k4.shape[2] * groups != channels:
        raise ValueError(
            f"{kernel_name}.shape[2] must be Cin / groups = {channels} / {groups} = {channels // groups}, "
            f"got {kernel_name}.shape={kernel.shape} for {image_name}.shape={image.shape}"
        )
    if k4.shape[3] % groups:
        raise ValueError(f"groups={groups} must divide the {k4.shape[3]} output channels of {kernel_name}")

    def restore(out4):
        out = out4 if batch else out4[0]
        return out if keep_channels else out[..., 0]

    return x4, k4, restore


def _standardize_signal_and_kernel(signal, kernel, groups=1):
    """The 1D layouts, mapped onto images with a single row (``H = 1``)."""
    signal = check_numeric_array("signal", signal)
    kernel = check_numeric_array("kernel", kernel)
    if signal.size == 0 or kernel.size == 0:
        raise ValueError(f"signal and kernel must not be empty, got signal.shape={signal.shape}, "
                         f"kernel.shape={kernel.shape}")
    if signal.ndim == 1:
        if kernel.ndim != 1:
            raise ValueError(
                f"a 1D signal (L,) needs a 1D kernel (K,), got kernel.shape={kernel.shape}; for channels "
                f"use signal (L, C) with kernel (K, C, Cout)"
            )
        return signal[None, :], kernel[None, :], lambda out: out[0]
    if signal.ndim not in (2, 3):
        raise ValueError(f"signal must have shape (L,), (L, C) or (N, L, C), got signal.shape={signal.shape}")
    if kernel.ndim not in (2, 3):
        raise ValueError(
            f"kernel must have shape (K, Cin/groups, Cout) or (K, Cin) for a signal with channels, "
            f"got kernel.shape={kernel.shape}"
        )
    image = signal[None] if signal.ndim == 2 else signal[:, None]
    restore = (lambda out: out[0]) if signal.ndim == 2 else (lambda out: out[:, 0])
    return image, kernel[None], restore


def _sliding_patches(padded, kernel_hw, stride_hw, dilation_hw):
    """Every window of an already padded batch, as a strided view (no copy).

    Args:
        padded: ``(N, Hp, Wp, C)``.

    Returns:
        ``(N, OH, OW, KH, KW, C)``: ``patches[n, i, j]`` is the ``(KH, KW, C)`` window whose
        top-left corner sits at ``(i * SH, j * SW)`` of ``padded``, sampled every ``D`` pixels.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_hw, stride_hw, dilation_hw
    ekh, ekw = effective_kernel_size(kh, dh), effective_kernel_size(kw, dw)
    if padded.shape[1] < ekh or padded.shape[2] < ekw:
        raise ValueError(
            f"the kernel ({kh}x{kw}, dilation {(dh, dw)}, covering {ekh}x{ekw} pixels) does not fit in the "
            f"padded image ({padded.shape[1]}x{padded.shape[2]}); use more padding or a smaller kernel"
        )
    windows = sliding_window_view(padded, (ekh, ekw), axis=(1, 2))  # (N, Hp-ekh+1, Wp-ekw+1, C, ekh, ekw)
    windows = windows[:, ::sh, ::sw, :, ::dh, ::dw]
    return windows.transpose(0, 1, 2, 4, 5, 3)


def _geometry(stride, dilation):
    return check_int_tuple("stride", stride, 2), check_int_tuple("dilation", dilation, 2)


# --------------------------------------------------------------------------------------
# im2col and its adjoint
# --------------------------------------------------------------------------------------


def im2col(image, kernel_size, stride=1, padding="valid", padding_mode="zero", dilation=1):
    """Unfold every kernel-sized window of ``image`` into one row of a matrix.

    Cross-correlation then becomes one matrix product::

        cols = im2col(image, (KH, KW), stride, padding)            # (N * OH * OW, KH * KW * Cin)
        out = cols @ kernel.reshape(KH * KW * Cin, Cout)           # (N * OH * OW, Cout)
        out = out.reshape(N, OH, OW, Cout)

    Args:
        image: ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
        kernel_size: ``K`` or ``(KH, KW)``.
        stride, dilation: an int or ``(vertical, horizontal)``.
        padding: ``"valid"``, ``"same"``, ``"full"``, an int, ``(ph, pw)`` or
            ``((top, bottom), (left, right))``.
        padding_mode: ``"zero"``, ``"wrap"``, ``"replicate"`` or ``"reflect"``.

    Returns:
        ``(N * OH * OW, KH * KW * C)`` (``N = 1`` and ``C = 1`` for missing axes). Rows run over
        ``(n, i, j)`` in C order, columns over ``(kh, kw, c)``: the same order as
        ``kernel.reshape(-1, Cout)`` for a Keras kernel ``(KH, KW, Cin, Cout)``.

    Example:
        >>> im2col(np.arange(9).reshape(3, 3), 2)
        array([[0, 1, 3, 4],
               [1, 2, 4, 5],
               [3, 4, 6, 7],
               [4, 5, 7, 8]])
    """
    image = check_numeric_array("image", image)
    if image.ndim not in (2, 3, 4):
        raise ValueError(f"image must have shape (H, W), (H, W, C) or (N, H, W, C), got image.shape={image.shape}")
    x4 = image[None, :, :, None] if image.ndim == 2 else image[None] if image.ndim == 3 else image
    kernel_hw = check_int_tuple("kernel_size", kernel_size, 2)
    stride_hw, dilation_hw = _geometry(stride, dilation)
    pads = resolve_padding_2d(padding, x4.shape[1:3], kernel_hw, stride_hw, dilation_hw)
    padded = _pad_spatial(x4, pads, check_padding_mode(padding_mode))
    patches = _sliding_patches(padded, kernel_hw, stride_hw, dilation_hw)
    n, oh, ow = patches.shape[:3]
    return patches.reshape(n * oh * ow, -1)


def col2im(cols, image_shape, kernel_size, stride=1, padding="valid", dilation=1):
    """The transpose (adjoint) of :func:`im2col` with zero padding: add every row back into its window.

    Where windows overlap, their contributions add up, so for any ``image`` and ``cols`` of
    matching shapes ``(im2col(image, ...) * cols).sum() == (image * col2im(cols, ...)).sum()``.
    This is the scatter step of the convolution's backward pass and of transposed convolution.

    Args:
        cols: ``(N * OH * OW, KH * KW * C)``, as :func:`im2col` returns.
        image_shape: the shape of the image ``im2col`` was given: ``(H, W)``, ``(H, W, C)`` or
            ``(N, H, W, C)``.
        kernel_size, stride, padding, dilation: as for :func:`im2col`.

    Returns:
        An array of shape ``image_shape``.
    """
    cols = check_numeric_array("cols", cols)
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) not in (2, 3, 4):
        raise ValueError(f"image_shape must be (H, W), (H, W, C) or (N, H, W, C), got {image_shape}")
    shape4 = ((1,) + image_shape + (1,) if len(image_shape) == 2
              else (1,) + image_shape if len(image_shape) == 3 else image_shape)
    n, h, w, c = shape4
    (kh, kw) = check_int_tuple("kernel_size", kernel_size, 2)
    (sh, sw), (dh, dw) = _geometry(stride, dilation)
    (top, bottom), (left, right) = resolve_padding_2d(padding, (h, w), (kh, kw), (sh, sw), (dh, dw))
    hp, wp = h + top + bottom, w + left + right
    oh = (hp - effective_kernel_size(kh, dh)) // sh + 1
    ow = (wp - effective_kernel_size(kw, dw)) // sw + 1
    if cols.shape != (n * oh * ow, kh * kw * c):
        raise ValueError(
            f"cols must have shape (N*OH*OW, KH*KW*C) = ({n * oh * ow}, {kh * kw * c}) for image_shape="
            f"{image_shape}, got {cols.shape}"
        )
    windows = cols.reshape(n, oh, ow, kh, kw, c)
    padded = np.zeros((n, hp, wp, c), dtype=np.result_type(cols.dtype, np.float32))
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            columns = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            padded[:, rows, columns, :] += windows[:, :, :, i, j, :]
    return padded[:, top:top + h, left:left + w, :].reshape(image_shape)


# --------------------------------------------------------------------------------------
# 2D
# --------------------------------------------------------------------------------------


def cross_correlate2d(image, kernel, stride=1, padding="valid", padding_mode="zero", dilation=1, groups=1,
                      bias=None):
    """2D cross-correlation, vectorised: what ``keras.ops.conv`` and ``Conv2D`` compute.

    ``out[n, i, j, o] = bias[o] + sum_{m, p, c} x[n, i*S + m*D, j*S + p*D, c] * kernel[m, p, c, o]``
    on the padded input ``x``. Implemented as im2col (a strided view of every window, see
    :func:`im2col`) followed by a single matrix product (batched over groups).

    Args:
        image: ``(H, W)``, ``(H, W, Cin)`` or ``(N, H, W, Cin)`` (see the module docstring).
        kernel: ``(KH, KW)`` with a 2D image; otherwise ``(KH, KW, Cin/groups, Cout)`` (Keras's
            layout, e.g. ``conv2d_layer.get_weights()[0]``) or ``(KH, KW, Cin)`` for a single
            output channel whose axis is dropped.
        stride: an int or ``(SH, SW)``.
        padding: ``"valid"`` (default), ``"same"``, ``"full"``, an int, ``(ph, pw)`` or
            ``((top, bottom), (left, right))``; ``"same"`` follows Keras/TensorFlow.
        padding_mode: ``"zero"`` (Keras), ``"wrap"``, ``"replicate"`` or ``"reflect"``.
        dilation: an int or ``(DH, DW)``: the kernel taps are ``D`` pixels apart.
        groups: split the channels into this many groups (``groups=Cin``: depthwise).
        bias: optional ``(Cout,)`` added to every position.

    Returns:
        The feature map, layout as in the module docstring's table, float dtype.

    Example (deck 003):
        >>> image = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
        >>> cross_correlate2d(image, [[0, 1, 2], [2, 2, 0], [0, 1, 2]])
        array([[12., 12., 17.],
               [10., 17., 19.],
               [ 9.,  6., 14.]])
    """
    x4, k4, restore = _standardize_image_and_kernel(image, kernel, groups)
    stride_hw, dilation_hw = _geometry(stride, dilation)
    kh, kw, cin_per_group, cout = k4.shape
    pads = resolve_padding_2d(padding, x4.shape[1:3], (kh, kw), stride_hw, dilation_hw)
    dtype = float_dtype_for(x4, k4)
    padded = _pad_spatial(x4.astype(dtype, copy=False), pads, check_padding_mode(padding_mode))
    patches = _sliding_patches(padded, (kh, kw), stride_hw, dilation_hw)  # (N, OH, OW, KH, KW, Cin)
    n, oh, ow = patches.shape[:3]
    positions = n * oh * ow
    cout_per_group = cout // groups
    # rows: output positions; columns: (kh, kw, c) within one group -> (groups, positions, KH*KW*Cin/g)
    cols = patches.reshape(positions, kh, kw, groups, cin_per_group)
    cols = cols.transpose(3, 0, 1, 2, 4).reshape(groups, positions, kh * kw * cin_per_group)
    weights = k4.astype(dtype, copy=False).reshape(kh, kw, cin_per_group, groups, cout_per_group)
    weights = weights.transpose(3, 0, 1, 2, 4).reshape(groups, kh * kw * cin_per_group, cout_per_group)
    out = np.matmul(cols, weights)  # (groups, positions, Cout/g): one matmul per group, batched
    out = out.transpose(1, 0, 2).reshape(n, oh, ow, cout)
    if bias is not None:
        out = out + _check_bias(bias, cout, dtype)
    return restore(out)


def cross_correlate2d_loops(image, kernel, stride=1, padding="valid", padding_mode="zero", dilation=1, bias=None):
    """2D cross-correlation with plain loops: the definition, one output value at a time.

    Deliberately simple and slow (a Python loop over every output value); use it to check
    understanding, and :func:`cross_correlate2d` for real work. Same arguments and layouts
    as :func:`cross_correlate2d` except ``groups`` (always 1).
    """
    x4, k4, restore = _standardize_image_and_kernel(image, kernel)
    (sh, sw), (dh, dw) = _geometry(stride, dilation)
    kh, kw, cin, cout = k4.shape
    pads = resolve_padding_2d(padding, x4.shape[1:3], (kh, kw), (sh, sw), (dh, dw))
    x = _pad_spatial(x4, pads, check_padding_mode(padding_mode))
    n, hp, wp, _ = x.shape
    oh = (hp - effective_kernel_size(kh, dh)) // sh + 1
    ow = (wp - effective_kernel_size(kw, dw)) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the kernel does not fit in the padded image ({hp}x{wp}); use more padding")
    out = np.zeros((n, oh, ow, cout), dtype=float_dtype_for(x4, k4))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                # the window under output pixel (i, j): rows i*S, i*S + D, ..., same for columns
                window = x[b, i * sh: i * sh + (kh - 1) * dh + 1: dh, j * sw: j * sw + (kw - 1) * dw + 1: dw, :]
                for o in range(cout):
                    out[b, i, j, o] = np.sum(window * k4[:, :, :, o])
    if bias is not None:
        out = out + _check_bias(bias, cout, out.dtype)
    return restore(out)


def convolve2d(image, kernel, stride=1, padding="valid", padding_mode="zero", dilation=1, groups=1, bias=None):
    """True 2D convolution: cross-correlation with the kernel flipped in both spatial axes.

    Matches ``scipy.signal.convolve2d`` (``padding="valid"``/``"full"``; ``"same"`` too for odd
    kernels). Same arguments and layouts as :func:`cross_correlate2d`; only the spatial axes
    of the kernel are flipped, never the channel axes.
    """
    kernel = check_numeric_array("kernel", kernel)
    if kernel.ndim < 2:
        raise ValueError(f"kernel must have at least 2 axes (KH, KW, ...), got kernel.shape={kernel.shape}")
    return cross_correlate2d(image, kernel[::-1, ::-1], stride=stride, padding=padding, padding_mode=padding_mode,
                             dilation=dilation, groups=groups, bias=bias)


# --------------------------------------------------------------------------------------
# 1D
# --------------------------------------------------------------------------------------


def cross_correlate1d(signal, kernel, stride=1, padding="valid", padding_mode="zero", dilation=1, groups=1,
                      bias=None):
    """1D cross-correlation (``keras.ops.conv`` on ``(N, L, C)``, ``Conv1D``, ``np.correlate``).

    ``out[n, t, o] = bias[o] + sum_{m, c} x[n, t*S + m*D, c] * kernel[m, c, o]``.

    Args:
        signal: ``(L,)``, ``(L, Cin)`` or ``(N, L, Cin)``.
        kernel: ``(K,)`` with a 1D signal; otherwise ``(K, Cin/groups, Cout)`` (Keras's ``Conv1D``
            layout) or ``(K, Cin)`` for a single output channel whose axis is dropped.
        stride, dilation: positive ints.
        padding: ``"valid"``, ``"same"``, ``"full"``, an int or ``(before, after)``.
        padding_mode, groups, bias: as for :func:`cross_correlate2d`.

    Returns:
        ``(OL,)``, ``(OL, Cout)`` or ``(N, OL, Cout)`` (``Cout`` axis dropped for a 2D kernel).

    Example:
        >>> cross_correlate1d([1, 2, 3, 4], [1, 0, -1])
        array([-2., -2.])
    """
    image, kernel2d, restore = _standardize_signal_and_kernel(signal, kernel, groups)
    stride, dilation = check_positive_int("stride", stride), check_positive_int("dilation", dilation)
    kernel_size = kernel2d.shape[1]
    length = image.shape[-1] if image.ndim == 2 else image.shape[-2]
    before_after = resolve_padding(padding, length, kernel_size, stride, dilation)
    out = cross_correlate2d(image, kernel2d, stride=(1, stride), padding=((0, 0), before_after),
                            padding_mode=padding_mode, dilation=(1, dilation), groups=groups, bias=bias)
    return restore(out)


def convolve1d(signal, kernel, stride=1, padding="valid", padding_mode="zero", dilation=1, groups=1, bias=None):
    """True 1D convolution (kernel flipped): ``convolve1d(x, k, padding="full") == np.convolve(x, k)``.

    Same arguments and layouts as :func:`cross_correlate1d`; ``padding="valid"`` and
    ``"full"`` match ``np.convolve``'s modes of the same name.
    """
    kernel = check_numeric_array("kernel", kernel)
    if kernel.ndim < 1:
        raise ValueError(f"kernel must have at least 1 axis (K, ...), got kernel.shape={kernel.shape}")
    return cross_correlate1d(signal, kernel[::-1], stride=stride, padding=padding, padding_mode=padding_mode,
                             dilation=dilation, groups=groups, bias=bias)


def _check_bias(bias, out_channels, dtype):
    bias = check_numeric_array("bias", bias)
    if bias.ndim == 0 and out_channels == 1:  # a scalar bias for a single output map
        bias = bias.reshape(1)
    if bias.shape != (out_channels,):
        raise ValueError(f"bias must have shape (Cout,) = ({out_channels},), got bias.shape={bias.shape}")
    return bias.astype(dtype, copy=False)


__all__ = [
    "im2col",
    "col2im",
    "cross_correlate2d",
    "cross_correlate2d_loops",
    "convolve2d",
    "cross_correlate1d",
    "convolve1d",
]
