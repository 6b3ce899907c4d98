"""Going back up: unpooling, transposed convolution, and the matrix of a convolution.

Unpooling (no weights), for a feature map ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``:

* :func:`nearest_unpool2d` copies every value into an ``s x s`` block
  (``keras.layers.UpSampling2D(interpolation="nearest")``);
* :func:`bed_of_nails_unpool2d` puts every value in the top-left corner of its block, zeros
  elsewhere;
* :func:`max_unpool2d` puts every value back where the maximum came from in the matching
  max-pooling layer (the indices of :func:`cnncourse.ops.max_pool2d`), zeros elsewhere.

Transposed convolution (learned upsampling): a convolution is a linear map, ``y = W x``
for a (sparse, banded) matrix ``W`` built from the kernel (:func:`conv1d_matrix` shows it).
The transposed convolution multiplies by ``Wᵀ`` instead; it maps the convolution's output
shape back to its input shape (not its values: ``Wᵀ`` is not ``W⁻¹``). In code it is
:func:`cnncourse.ops.col2im` of ``x @ kernelᵀ``: every input pixel stamps a copy of the kernel,
scaled by its value, into the output; stamps ``stride`` pixels apart overlap and add, which
is where the checkerboard pattern of stride-2, kernel-3 upsampling comes from.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_array, check_choice, check_int_tuple, check_numeric_array, check_positive_int
from cnncourse.ops.convolution import col2im
from cnncourse.ops.padding import effective_kernel_size, resolve_padding, same_padding, split_padding_2d
from cnncourse.ops.pooling import _scatter_add, _standardize_feature_map

#: The padding names a transposed convolution takes (Keras's; "full" has no transposed meaning there).
TRANSPOSE_PADDING_NAMES = ("valid", "same")

# --------------------------------------------------------------------------------------
# Unpooling
# --------------------------------------------------------------------------------------


def nearest_unpool2d(x, size=2):
    """Nearest-neighbour upsampling: every value fills a ``size`` block.

    Args:
        x: ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
        size: an int or ``(SH, SW)``.

    Returns:
        ``(H * SH, W * SW)`` in the layout of ``x``, same dtype.

    Example (deck 001):
        >>> nearest_unpool2d([[1, 2], [3, 4]])
        array([[1, 1, 2, 2],
               [1, 1, 2, 2],
               [3, 3, 4, 4],
               [3, 3, 4, 4]])
    """
    x4, restore = _standardize_feature_map(x)
    sh, sw = check_int_tuple("size", size, 2)
    return restore(np.repeat(np.repeat(x4, sh, axis=1), sw, axis=2))


def bed_of_nails_unpool2d(x, size=2):
    """"Bed of nails" upsampling: every value goes to the top-left corner of its block, zeros elsewhere.

    Same arguments and output shape as :func:`nearest_unpool2d`.

    Example (deck 001):
        >>> bed_of_nails_unpool2d([[1, 2], [3, 4]])
        array([[1, 0, 2, 0],
               [0, 0, 0, 0],
               [3, 0, 4, 0],
               [0, 0, 0, 0]])
    """
    x4, restore = _standardize_feature_map(x)
    sh, sw = check_int_tuple("size", size, 2)
    n, h, w, c = x4.shape
    out = np.zeros((n, h * sh, w * sw, c), dtype=x4.dtype)
    out[:, ::sh, ::sw, :] = x4
    return restore(out)


def max_unpool2d(x, indices, output_size):
    """Max unpooling: put every value back where its max-pooling window had its maximum.

    Args:
        x: the values to place, ``(OH, OW)``, ``(OH, OW, C)`` or ``(N, OH, OW, C)``.
        indices: int array of the same shape, from
            ``max_pool2d(..., return_indices=True)``: flat positions ``row * W + col`` in the
            ``(H, W)`` map (per image and channel).
        output_size: ``(H, W)``, the spatial size of the pooling layer's input.

    Returns:
        ``(H, W)`` in the layout of ``x``: zeros except at the remembered positions. Values
        that land on the same position (overlapping windows) add up, so
        ``max_unpool2d(grad, indices, (H, W))`` is also max pooling's backward pass.

    Example (deck 001: pool ``[[1,2,6,3],[3,5,2,1],[1,2,2,1],[7,3,4,8]]``, maxima 5, 6, 7, 8):
        >>> pooled, where = max_pool2d([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]],
        ...                            return_indices=True)
        >>> max_unpool2d([[1, 2], [3, 4]], where, (4, 4))
        array([[0., 0., 2., 0.],
               [0., 1., 0., 0.],
               [0., 0., 0., 0.],
               [3., 0., 0., 4.]])
    """
    x4, restore = _standardize_feature_map(x)
    indices = check_array("indices", indices, kinds="iu")
    if indices.shape != np.shape(x):
        raise ValueError(f"indices must have the shape of x {np.shape(x)}, got {indices.shape}")
    height, width = check_int_tuple("output_size", output_size, 2)
    if indices.size and (indices.min() < 0 or indices.max() >= height * width):
        raise ValueError(
            f"indices must lie in [0, H * W) = [0, {height * width}) for output_size={output_size}, "
            f"got values from {indices.min()} to {indices.max()}"
        )
    indices4, _ = _standardize_feature_map(indices, "indices")
    return restore(_scatter_add(x4, indices4, (x4.shape[0], height, width, x4.shape[3])))


# --------------------------------------------------------------------------------------
# Transposed convolution
# --------------------------------------------------------------------------------------


def _transpose_crop(padding, input_size, kernel_size, stride, dilation, output_padding, name="padding"):
    """``(offset, length)``: which part of the full (uncropped) transposed output to keep, per axis."""
    k_eff = effective_kernel_size(kernel_size, dilation)
    if output_padding is not None and output_padding >= stride:
        raise ValueError(
            f"output_padding must be smaller than the stride, got output_padding={output_padding} with "
            f"stride={stride}"
        )
    if isinstance(padding, str):
        key = check_choice(name, padding.lower(), TRANSPOSE_PADDING_NAMES, "padding")
        if key == "valid":  # Keras's rule
            extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
            return 0, (input_size - 1) * stride + k_eff + extra
        if key == "same":  # Keras's rule; the crop is the forward "same" padding of the output size
            length = input_size * stride if output_padding is None else (
                (input_size - 1) * stride + k_eff % 2 + output_padding)
            if -(-length // stride) != input_size:
                raise ValueError(
                    f"padding='same' with output_padding={output_padding} gives an output of length {length}, "
                    f"which a 'same' convolution with stride {stride} maps to {-(-length // stride)}, not to the "
                    f"input length {input_size}; use output_padding=None or another value"
                )
            return same_padding(length, kernel_size, stride, dilation)[0], length
    before, after = resolve_padding(padding, input_size, kernel_size, stride, dilation, name=name)
    return before, (input_size - 1) * stride + k_eff - before - after + (output_padding or 0)


def conv_transpose2d(x, kernel, stride=1, padding="valid", output_padding=None, dilation=1, bias=None):
    """Transposed 2D convolution (``keras.layers.Conv2DTranspose``, ``keras.ops.conv_transpose``).

    It is the transpose (adjoint) of :func:`cnncourse.ops.cross_correlate2d` with the same
    ``kernel``, ``stride``, ``padding`` and ``dilation``: for shapes that fit,
    ``(cross_correlate2d(a, K, ...) * b).sum() == (a * conv_transpose2d(b, K, ...)).sum()``.

    Args:
        x: ``(H, W)`` with a ``(KH, KW)`` kernel, or ``(H, W, Cin)`` / ``(N, H, W, Cin)``.
        kernel: ``(KH, KW, Cout, Cin)``: Keras's ``Conv2DTranspose`` layout, which is also the
            layout of the forward convolution (``Cout`` here is that convolution's input).
        stride: an int or ``(SH, SW)``: output pixels per input pixel.
        padding: ``"valid"`` or ``"same"`` (Keras's output sizes: ``(H - 1) * S + K_eff`` and
            ``H * S``), or explicit amounts (an int, ``(ph, pw)`` or ``((top, bottom), (left, right))``)
            cropped from the full output, giving ``(H - 1) * S + K_eff - top - bottom``
            (PyTorch's ``padding``).
        output_padding: ``None``, an int or ``(OPH, OPW)``: extra rows/columns at the end (as in
            Keras), to pick among the input sizes a strided convolution maps to the same size.
        dilation: an int or ``(DH, DW)``.
        bias: optional ``(Cout,)``.

    Returns:
        ``(OH, OW)``, ``(OH, OW, Cout)`` or ``(N, OH, OW, Cout)``, float.

    Example (one pixel stamps the kernel, deck 001):
        >>> conv_transpose2d([[2]], [[1, 2], [3, 4]])
        array([[2., 4.],
               [6., 8.]])
    """
    x_array = check_numeric_array("x", x)
    kernel = check_numeric_array("kernel", kernel)
    if x_array.ndim == 2:
        if kernel.ndim != 2:
            raise ValueError(f"a 2D x (H, W) needs a 2D kernel (KH, KW), got kernel.shape={kernel.shape}")
        x4, k4, restore = x_array[None, :, :, None], kernel[:, :, None, None], lambda out: out[0, :, :, 0]
    elif x_array.ndim in (3, 4):
        x4 = x_array[None] if x_array.ndim == 3 else x_array
        restore = (lambda out: out[0]) if x_array.ndim == 3 else (lambda out: out)
        if kernel.ndim != 4 or kernel.shape[3] != x4.shape[3]:
            raise ValueError(
                f"kernel must have shape (KH, KW, Cout, Cin) with Cin = {x4.shape[3]} (the channels of x), "
                f"got kernel.shape={kernel.shape}"
            )
        k4 = kernel
    else:
        raise ValueError(f"x must have shape (H, W), (H, W, C) or (N, H, W, C), got x.shape={x_array.shape}")
    stride_hw = check_int_tuple("stride", stride, 2)
    dilation_hw = check_int_tuple("dilation", dilation, 2)
    output_padding_hw = (None, None) if output_padding is None else check_int_tuple("output_padding", output_padding, 2, 0)
    kh, kw, cout, cin = k4.shape
    n, h, w, _ = x4.shape
    per_axis_padding = split_padding_2d(padding, TRANSPOSE_PADDING_NAMES)
    crops = [
        _transpose_crop(p, size, k, s, d, op)
        for p, size, k, s, d, op in zip(per_axis_padding, (h, w), (kh, kw), stride_hw, dilation_hw, output_padding_hw)
    ]
    dtype = np.result_type(x4, k4, np.float32)
    # every input pixel times the kernel: (N*H*W, Cin) @ (Cin, KH*KW*Cout) ...
    stamps = x4.reshape(n * h * w, cin).astype(dtype, copy=False) @ k4.reshape(kh * kw * cout, cin).T.astype(dtype)
    # ... added into place (col2im), giving the full, uncropped output
    full_hw = tuple((size - 1) * s + effective_kernel_size(k, d)
                    for size, k, s, d in zip((h, w), (kh, kw), stride_hw, dilation_hw))
    full = col2im(stamps, (n,) + full_hw + (cout,), (kh, kw), stride_hw, "valid", dilation_hw)
    (top, out_h), (left, out_w) = crops
    if out_h < 1 or out_w < 1:
        raise ValueError(f"padding={padding!r} crops away the whole output ({full_hw} before cropping)")
    out = np.zeros((n, out_h, out_w, cout), dtype)
    rows = min(out_h, full_hw[0] - top)
    cols = min(out_w, full_hw[1] - left)
    out[:, :rows, :cols, :] = full[:, top: top + rows, left: left + cols, :]
    if bias is not None:
        bias = check_numeric_array("bias", bias)
        if bias.shape != (cout,):
            raise ValueError(f"bias must have shape (Cout,) = ({cout},), got bias.shape={bias.shape}")
        out = out + bias
    return restore(out)


def conv_transpose1d(x, kernel, stride=1, padding="valid", output_padding=None, dilation=1, bias=None):
    """Transposed 1D convolution (``keras.layers.Conv1DTranspose``): multiplication by ``Wᵀ``.

    Args:
        x: ``(L,)`` with a ``(K,)`` kernel, or ``(L, Cin)`` / ``(N, L, Cin)`` with a
            ``(K, Cout, Cin)`` kernel (Keras's ``Conv1DTranspose`` layout).
        stride, dilation, output_padding: ints (``output_padding`` may be ``None``).
        padding: ``"valid"``, ``"same"``, an int or ``(before, after)`` (see :func:`conv_transpose2d`).

    Returns:
        ``(OL,)``, ``(OL, Cout)`` or ``(N, OL, Cout)``.

    Example (deck 001, K = 3, stride 2: ``Wᵀ [a, b] = [ax, ay, az + bx, by, bz, 0]``):
        >>> conv_transpose1d([1, 10], [1, 2, 3], stride=2, output_padding=1)
        array([ 1.,  2., 13., 20., 30.,  0.])
    """
    x_array = check_numeric_array("x", x)
    kernel = check_numeric_array("kernel", kernel)
    stride = check_positive_int("stride", stride)
    dilation = check_positive_int("dilation", dilation)
    if x_array.ndim == 1:
        if kernel.ndim != 1:
            raise ValueError(f"a 1D x (L,) needs a 1D kernel (K,), got kernel.shape={kernel.shape}")
        image, kernel2d, restore = x_array[None, :], kernel[None, :], lambda out: out[0]
    elif x_array.ndim in (2, 3):
        if kernel.ndim != 3:
            raise ValueError(f"kernel must have shape (K, Cout, Cin) for x with channels, got {kernel.shape}")
        image = x_array[None] if x_array.ndim == 2 else x_array[:, None]
        kernel2d = kernel[None]
        restore = (lambda out: out[0]) if x_array.ndim == 2 else (lambda out: out[:, 0])
    else:
        raise ValueError(f"x must have shape (L,), (L, C) or (N, L, C), got x.shape={x_array.shape}")
    if isinstance(padding, str):
        check_choice("padding", padding.lower(), TRANSPOSE_PADDING_NAMES, "padding")
        padding2d = ("valid", padding)  # the height axis (size 1, kernel 1 tall) stays 1
    else:
        padding2d = ((0, 0), resolve_padding(padding, 1, 1))
    output_padding2d = None if output_padding is None else (0, output_padding)
    out = conv_transpose2d(image, kernel2d, stride=(1, stride), padding=padding2d, output_padding=output_padding2d,
                           dilation=(1, dilation), bias=bias)
    return restore(out)


# --------------------------------------------------------------------------------------
# The matrix of a 1D convolution
# --------------------------------------------------------------------------------------


def conv1d_matrix(kernel, input_length, stride=1, padding=0, dilation=1, include_padding=True):
    """The matrix ``W`` of a 1D cross-correlation (``Conv1D``), so that ``output = W @ input``.

    Row ``o`` holds the kernel starting at column ``o * stride``: a banded matrix, mostly zeros
    (sparse interactions), every row the same weights (parameter sharing). Its transpose
    ``W.T`` is the transposed convolution (:func:`conv_transpose1d`).

    Args:
        kernel: ``(K,)`` numbers, or strings such as ``["x", "y", "z"]`` for a symbolic picture
            (then the matrix has dtype object, with ``0`` for the empty entries).
        input_length: ``L``, the length of the (unpadded) input.
        stride, dilation: positive ints.
        padding: an int, ``(before, after)``, ``"valid"``, ``"same"`` or ``"full"``.
        include_padding: ``True`` (default, as on the slides): the columns include the padded
            positions, so ``W`` acts on the padded input ``[0, a, b, c, d, 0]``;
            ``False``: the padding columns (which only ever meet zeros) are dropped, so ``W``
            acts on the input itself.

    Returns:
        ``(OL, L + before + after)`` (or ``(OL, L)``), ``OL = (L + before + after - K_eff) // S + 1``.

    Example (deck 001, K = 3, stride 1, padding 1, input length 4):
        >>> conv1d_matrix(["x", "y", "z"], 4, padding=1)
        array([['x', 'y', 'z', 0, 0, 0],
               [0, 'x', 'y', 'z', 0, 0],
               [0, 0, 'x', 'y', 'z', 0],
               [0, 0, 0, 'x', 'y', 'z']], dtype=object)
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 1 or kernel.size == 0:
        raise ValueError(f"kernel must be a non-empty 1D sequence (K,), got shape {kernel.shape}")
    symbolic = kernel.dtype.kind in "USO"
    if not symbolic:
        kernel = check_numeric_array("kernel", kernel)
    input_length = check_positive_int("input_length", input_length)
    stride, dilation = check_positive_int("stride", stride), check_positive_int("dilation", dilation)
    before, after = resolve_padding(padding, input_length, kernel.size, stride, dilation)
    padded_length = input_length + before + after
    k_eff = effective_kernel_size(kernel.size, dilation)
    if padded_length < k_eff:
        raise ValueError(
            f"the kernel (covering {k_eff} positions) does not fit in the padded input of length {padded_length}"
        )
    out_length = (padded_length - k_eff) // stride + 1
    matrix = np.zeros((out_length, padded_length), dtype=object if symbolic else np.result_type(kernel, np.float32))
    taps = kernel.tolist() if symbolic else kernel  # tolist: plain str / objects for the symbolic picture
    for o in range(out_length):
        for k in range(kernel.size):
            matrix[o, o * stride + k * dilation] = taps[k]
    if include_padding:
        return matrix
    return matrix[:, before: before + input_length]


__all__ = [
    "nearest_unpool2d",
    "bed_of_nails_unpool2d",
    "max_unpool2d",
    "conv_transpose2d",
    "conv_transpose1d",
    "conv1d_matrix",
]
