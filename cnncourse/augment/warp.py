"""One projective warp for the augmentation modules: :func:`projective_warp`.

``tf.raw_ops.ImageProjectiveTransformV3`` (the op behind Keras's geometric layers) has no XLA
kernel, so a ``jit_compile=True`` function that contains it does not compile.
:func:`projective_warp` computes the same pixels with gathers, which XLA compiles; both
:mod:`cnncourse.augment.fused_geometry` and :mod:`cnncourse.augment.boxes_and_masks` use it.

Example::

    >>> import numpy as np
    >>> from cnncourse.augment.warp import projective_warp
    >>> shift = np.array([[1, 0, 2, 0, 1, 0, 0, 0]], "float32")  # output (x, y) reads input (x + 2, y)
    >>> projective_warp(np.random.rand(1, 8, 8, 3).astype("float32"), shift).shape
    TensorShape([1, 8, 8, 3])
"""

from __future__ import annotations

from cnncourse._validation import check_choice, check_float, check_int_tuple, describe
from cnncourse.augment._seeds import _tf

#: Fill modes of :func:`projective_warp` (``ImageProjectiveTransformV3`` also has reflect and wrap).
WARP_FILL_MODES = ("constant", "nearest")
#: Interpolations of :func:`projective_warp`.
WARP_INTERPOLATIONS = ("bilinear", "nearest")


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def projective_warp(images, transforms, *, output_size=None, fill_mode="constant", fill_value=0.0,
                    interpolation="bilinear"):  # fmt: skip
    """Resample a batch with per-image projective maps, as ``ImageProjectiveTransformV3`` does.

    Transform convention (TensorFlow's): each row of ``transforms`` holds 8 numbers
    ``[a0, a1, a2, b0, b1, b2, c0, c1]`` that map an OUTPUT pixel ``(x, y)`` (column, row,
    pixel centres at integers) to the INPUT point

        ``x_in = (a0 x + a1 y + a2) / k``, ``y_in = (b0 x + b1 y + b2) / k``, ``k = c0 x + c1 y + 1``

    (the first 8 entries of a 3×3 output → input matrix whose last entry is 1).

    Sampling: with ``fill_mode="nearest"`` the input point is first clamped to the image
    (``[0, W - 1] × [0, H - 1]``); with ``"constant"`` pixels outside the image read
    ``fill_value`` (a bilinear neighbour outside reads ``fill_value``, and a point at least one
    pixel outside is exactly ``fill_value``). ``"nearest"`` interpolation rounds halves away
    from zero; ``"bilinear"`` blends the four neighbours.

    Works eagerly, in ``tf.function`` and under ``jit_compile=True``.

    Args:
        images: ``(B, H, W, C)`` tensor or array. ``"bilinear"`` needs a float dtype;
            ``"nearest"`` takes any dtype (integer masks stay integer, the values are only
            copied).
        transforms: float ``(B, 8)`` (or ``(8,)``, the same map for every image).
        output_size: ``(out_height, out_width)`` ints or an int32 ``(2,)`` tensor; default the
            input's ``(H, W)``.
        fill_mode: ``"constant"`` or ``"nearest"`` (any case).
        fill_value: the value outside the image in ``"constant"`` mode (a number or a scalar
            tensor), cast to the images' dtype.
        interpolation: ``"bilinear"`` or ``"nearest"`` (any case).

    Returns:
        ``(B, out_height, out_width, C)`` in the dtype of ``images``.

    Raises:
        TypeError / ValueError: an argument of the wrong kind, shape or value (named in the message).
    """
    tf = _tf()
    fill_mode = check_choice("fill_mode", _lower(fill_mode), WARP_FILL_MODES, "fill mode")
    interpolation = check_choice("interpolation", _lower(interpolation), WARP_INTERPOLATIONS, "interpolation")
    if not tf.is_tensor(fill_value):
        fill_value = check_float("fill_value", fill_value)
    try:
        images = tf.convert_to_tensor(images)
    except (TypeError, ValueError) as error:
        raise TypeError(f"images must be a (B, H, W, C) tensor or array, got {describe(images)}") from error
    if images.shape.rank is not None and images.shape.rank != 4:
        raise ValueError(f"images must have shape (B, H, W, C), got shape {tuple(images.shape)}")
    if not (images.dtype.is_floating or images.dtype.is_integer):
        raise TypeError(f"images must hold numbers (a float or integer dtype), got dtype {images.dtype.name}")
    if interpolation == "bilinear" and not images.dtype.is_floating:
        raise TypeError(
            f"images must be floating point for interpolation='bilinear', got dtype {images.dtype.name} "
            "(use interpolation='nearest' for integer images such as masks)"
        )
    try:
        converted = tf.convert_to_tensor(transforms)
    except (TypeError, ValueError) as error:
        raise TypeError(f"transforms must be a float (B, 8) tensor or array, got {describe(transforms)}") from error
    if not (converted.dtype.is_floating or converted.dtype.is_integer):
        raise TypeError(f"transforms must be a float (B, 8) tensor or array, got dtype {converted.dtype.name}")
    transforms = tf.cast(converted, tf.float32)
    if transforms.shape.rank == 1:
        transforms = tf.broadcast_to(transforms[None], (tf.shape(images)[0], 8))
    if transforms.shape.rank != 2 or transforms.shape[-1] not in (None, 8):
        raise ValueError(f"transforms must have shape (B, 8) or (8,), got shape {tuple(transforms.shape)}")
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    if output_size is None:
        out_height, out_width = height, width
    elif tf.is_tensor(output_size):
        output_size = tf.cast(output_size, tf.int32)
        out_height, out_width = output_size[0], output_size[1]
    else:
        out_height, out_width = check_int_tuple("output_size", output_size, 2)

    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    ys = tf.cast(tf.range(out_height), tf.float32)[None, :, None]
    xs = tf.cast(tf.range(out_width), tf.float32)[None, None, :]
    t = [transforms[:, i, None, None] for i in range(8)]
    k = t[6] * xs + t[7] * ys + 1.0
    x = (t[0] * xs + t[1] * ys + t[2]) / k  # (B, out_h, out_w)
    y = (t[3] * xs + t[4] * ys + t[5]) / k
    if fill_mode == "nearest":
        x = tf.clip_by_value(x, 0.0, w - 1.0)
        y = tf.clip_by_value(y, 0.0, h - 1.0)

    compute = images.dtype if interpolation == "nearest" or images.dtype == tf.float64 else tf.float32
    flat = tf.reshape(tf.cast(images, compute), (-1, channels))
    fill = tf.cast(fill_value, compute)
    base = (tf.range(batch) * height * width)[:, None, None]

    def read(yy, xx):
        """Pixels at integer-valued float coordinates; ``fill`` outside (constant mode)."""
        xi = tf.cast(tf.clip_by_value(xx, 0.0, w - 1.0), tf.int32)
        yi = tf.cast(tf.clip_by_value(yy, 0.0, h - 1.0), tf.int32)
        values = tf.gather(flat, base + yi * width + xi)
        if fill_mode == "constant":
            inside = (xx >= 0.0) & (xx <= w - 1.0) & (yy >= 0.0) & (yy <= h - 1.0)
            values = tf.where(inside[..., None], values, fill)
        return values

    if interpolation == "nearest":  # std::round: halves away from zero
        return read(tf.sign(y) * tf.floor(tf.abs(y) + 0.5), tf.sign(x) * tf.floor(tf.abs(x) + 0.5))
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = tf.cast(x - x0, compute)[..., None], tf.cast(y - y0, compute)[..., None]
    top = read(y0, x0) * (1.0 - fx) + read(y0, x0 + 1.0) * fx
    bottom = read(y0 + 1.0, x0) * (1.0 - fx) + read(y0 + 1.0, x0 + 1.0) * fx
    out = top * (1.0 - fy) + bottom * fy
    if fill_mode == "constant":
        far = (x <= -1.0) | (y <= -1.0) | (x >= w) | (y >= h)
        out = tf.where(far[..., None], fill, out)
    return tf.cast(out, images.dtype)
