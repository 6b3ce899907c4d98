"""Segmentation networks: FCN-32s / 16s / 8s (Long et al., 2015) and U-Net (Ronneberger et al., 2015).

Both builders return a functional ``keras.Model`` made only of built-in Keras layers, so a
``.keras`` save/load round trip needs no custom objects. Inputs are float images in
``[0, 1]``, channels last, ``(N, H, W, C)``; outputs are per-pixel class LOGITS, float32
``(N, H, W, num_classes)`` (``activation="softmax"`` gives probabilities instead; either way
the last layer runs in float32, so the models also work under the ``mixed_float16``
policy). Train with ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` on
integer masks ``(N, H, W)``; ``keras.ops.softmax(logits, axis=-1)`` gives the class
probabilities and ``argmax(logits, -1)`` the predicted mask.

- :func:`bilinear_kernel`: the classic FCN bilinear filter (Caffe's ``upsample_filt``), for a
  ``Conv2DTranspose`` that starts as bilinear upsampling.
- :func:`fcn`: a small VGG-like backbone of five conv-conv-pool stages, 1×1 score layers and
  bilinear-initialised transposed convolutions; ``variant`` ``"32s"``, ``"16s"`` or ``"8s"``
  says how many skip connections (none, pool4, pool4 + pool3) refine the coarse scores.
- :func:`unet`: encoder-decoder with a skip connection (concatenation) at every scale.

Example::

    model = fcn(4, variant="8s", input_shape=(64, 64, 3), width=16)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, masks, epochs=5)
    predicted = model.predict(images).argmax(-1)          # (N, 64, 64) class indices
"""

from __future__ import annotations

import keras
import numpy as np

from cnncourse._validation import check_bool, check_choice, check_int, check_positive_int, describe, is_int

__all__ = ["FCN_VARIANTS", "bilinear_kernel", "fcn", "unet"]

L = keras.layers

#: The FCN variants: the output stride of the coarsest scores that are upsampled last.
FCN_VARIANTS = ("32s", "16s", "8s")
_ACTIVATIONS = (None, "softmax")


# --------------------------------------------------------------------------- bilinear kernel
def bilinear_kernel(factor: int, channels: int = 1) -> np.ndarray:
    """The FCN bilinear upsampling filter, as a Keras ``Conv2DTranspose`` kernel.

    Size ``k = 2 * factor - factor % 2``; entry ``(i, j)`` is
    ``(1 - |i - c| / f) * (1 - |j - c| / f)`` with ``f = ceil(k / 2)`` and centre
    ``c = f - 1`` (odd ``k``) or ``f - 0.5`` (even ``k``), as Caffe's ``upsample_filt``
    (Long et al.'s FCN code). The kernel is diagonal over channels: channel ``c`` of the
    output is channel ``c`` of the input upsampled on its own.

    ``Conv2DTranspose(channels, k, strides=factor, padding="same", use_bias=False)`` with this
    kernel computes bilinear interpolation with half-pixel centres (``tf.image.resize``'s
    ``"bilinear"``) away from the border; within ``factor`` pixels of the border it fades
    towards 0 (zero padding) instead of repeating the edge.

    Args:
        factor: upsampling factor (stride), a positive int.
        channels: number of channels (input = output), a positive int.

    Returns:
        float32 ``(k, k, channels, channels)``; ``kernel[:, :, c, c]`` is the 2-D filter, the
        off-diagonal ``(c, d)`` slices are 0.
    """
    factor = check_positive_int("factor", factor)
    channels = check_positive_int("channels", channels)
    size = 2 * factor - factor % 2
    f = (size + 1) // 2
    centre = f - 1 if size % 2 == 1 else f - 0.5
    grid = np.arange(size, dtype=np.float64)
    profile = 1.0 - np.abs(grid - centre) / f
    filt = np.outer(profile, profile).astype(np.float32)
    kernel = np.zeros((size, size, channels, channels), np.float32)
    for c in range(channels):
        kernel[:, :, c, c] = filt
    return kernel


def _bilinear_upsample(x, channels: int, factor: int, name: str, trainable: bool):
    """``Conv2DTranspose`` ×``factor`` (no bias) whose kernel starts as :func:`bilinear_kernel`."""
    size = 2 * factor - factor % 2
    layer = L.Conv2DTranspose(
        channels, size, strides=factor, padding="same", use_bias=False,
        kernel_initializer=keras.initializers.Constant(bilinear_kernel(factor, channels)),
        trainable=trainable, name=name,
    )
    return layer(x)


# --------------------------------------------------------------------------- shared checks
def _check_input_shape(input_shape, multiple: int, what: str) -> tuple:
    """``(H, W, C)`` with ``C`` a positive int and ``H``/``W`` positive multiples of ``multiple`` (or None)."""
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__") or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {describe(input_shape)}")
    height, width, channels = input_shape
    channels = check_positive_int("input_shape[2] (channels)", channels)
    sides = []
    for index, (axis, side) in enumerate((("height", height), ("width", width))):
        if side is None:
            sides.append(None)
            continue
        if not is_int(side):
            raise TypeError(f"input_shape[{index}] ({axis}) must be an integer or None, got {describe(side)}")
        if side <= 0 or side % multiple:
            raise ValueError(
                f"input_shape[{index}] ({axis}) must be a positive multiple of {multiple} ({what}), "
                f"got {side} in input_shape={tuple(input_shape)}"
            )
        sides.append(int(side))
    return (sides[0], sides[1], channels)


def _conv_block(x, filters: int, prefix: str, index: int, batch_norm: bool):
    """3×3 same conv (+ BatchNorm) + ReLU, layers named ``{prefix}_conv{i}``, ``_bn{i}``, ``_relu{i}``.

    BatchNorm uses ``momentum=0.9`` (Keras's default is 0.99): the notebooks train for a few
    hundred steps, after which 0.99's moving statistics still hold much of their initial
    (0, 1) and inference suffers (a width-8 U-Net on the shapes world after 160 steps: test
    mean IoU 0.25 with 0.99, 0.67 with 0.9).
    """
    x = L.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"{prefix}_conv{index}")(x)
    if batch_norm:
        x = L.BatchNormalization(momentum=0.9, name=f"{prefix}_bn{index}")(x)
    return L.ReLU(name=f"{prefix}_relu{index}")(x)


def _head(x, activation, name="logits"):
    """float32 identity (logits) or softmax, so mixed precision still returns float32."""
    if activation is None:
        return L.Activation("linear", dtype="float32", name=name)(x)
    return L.Activation("softmax", dtype="float32", name="probabilities")(x)


# --------------------------------------------------------------------------- FCN
def fcn(
    num_classes: int,
    *,
    variant: str = "8s",
    input_shape=(64, 64, 3),
    width: int = 16,
    batch_norm: bool = True,
    activation=None,
    name: str | None = None,
) -> keras.Model:
    """A small fully convolutional network, FCN-32s / FCN-16s / FCN-8s style (Long et al., 2015).

    Backbone: five stages ``stage{s}`` of two 3×3 convs (+ BatchNorm when ``batch_norm``) + ReLU
    and a 2×2 max pool ``pool{s}``, widths ``width * (1, 2, 4, 8, 8)``; then ``fc6`` (3×3 conv)
    and ``fc7`` (1×1 conv), ``width * 8`` channels each, standing in for VGG's convolutionized
    fully connected layers. ``score_fr`` (1×1 conv) gives class scores at stride 32.

    - ``"32s"``: ``upsample_32x`` upsamples them ×32 to the input size.
    - ``"16s"``: ``upsample_pool5_2x`` (×2) + ``score_pool4`` (1×1 conv of ``pool4``, stride 16)
      → ``fuse_pool4`` → ``upsample_16x``.
    - ``"8s"``: as 16s, then ``upsample_pool4_2x`` (×2) + ``score_pool3`` → ``fuse_pool3`` →
      ``upsample_8x``.

    Every upsampling is a ``Conv2DTranspose`` without bias whose kernel starts as
    :func:`bilinear_kernel`. As in the paper, the ×2 ones inside the decoder learn and the
    final ×32 / ×16 / ×8 one is frozen (``trainable=False``: fixed bilinear interpolation).
    ``score_pool4`` / ``score_pool3`` start at zero (the paper's initialisation), so at
    initialisation FCN-16s/8s compute what FCN-32s computes and the skips learn a refinement.

    Args:
        num_classes: number of classes ``K`` (background included), a positive int.
        variant: ``"32s"``, ``"16s"`` or ``"8s"``.
        input_shape: ``(H, W, C)``; ``H`` and ``W`` positive multiples of 32, or ``None``
            (any multiple of 32 at call time).
        width: channels of the first stage, a positive int.
        batch_norm: BatchNormalization after every backbone conv.
        activation: ``None`` (logits) or ``"softmax"`` (probabilities), per pixel.
        name: model name; default ``"fcn{variant}"``.

    Returns:
        ``keras.Model``: float images ``(N, H, W, C)`` → float32 ``(N, H, W, num_classes)``
        logits (or probabilities).

    Raises:
        ValueError / TypeError: naming the argument, e.g. ``input_shape[0] (height) must be a
        positive multiple of 32``.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    variant = check_choice("variant", variant, FCN_VARIANTS, "FCN variant")
    input_shape = _check_input_shape(input_shape, 32, "FCN downsamples 5 times by 2")
    width = check_positive_int("width", width)
    batch_norm = check_bool("batch_norm", batch_norm)
    activation = check_choice("activation", activation, _ACTIVATIONS, "activation")

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    pools = {}
    for stage, multiplier in enumerate((1, 2, 4, 8, 8), start=1):
        for index in (1, 2):
            x = _conv_block(x, width * multiplier, f"stage{stage}", index, batch_norm)
        x = L.MaxPooling2D(2, name=f"pool{stage}")(x)
        pools[stage] = x
    x = L.Conv2D(width * 8, 3, padding="same", activation="relu", name="fc6")(x)
    x = L.Conv2D(width * 8, 1, activation="relu", name="fc7")(x)
    scores = L.Conv2D(num_classes, 1, name="score_fr")(x)

    if variant == "32s":
        x = _bilinear_upsample(scores, num_classes, 32, "upsample_32x", trainable=False)
    else:
        x = _bilinear_upsample(scores, num_classes, 2, "upsample_pool5_2x", trainable=True)
        skip = L.Conv2D(num_classes, 1, kernel_initializer="zeros", name="score_pool4")(pools[4])
        x = L.Add(name="fuse_pool4")([x, skip])
        if variant == "16s":
            x = _bilinear_upsample(x, num_classes, 16, "upsample_16x", trainable=False)
        else:
            x = _bilinear_upsample(x, num_classes, 2, "upsample_pool4_2x", trainable=True)
            skip = L.Conv2D(num_classes, 1, kernel_initializer="zeros", name="score_pool3")(pools[3])
            x = L.Add(name="fuse_pool3")([x, skip])
            x = _bilinear_upsample(x, num_classes, 8, "upsample_8x", trainable=False)
    outputs = _head(x, activation)
    return keras.Model(inputs, outputs, name=name or f"fcn{variant}")


# --------------------------------------------------------------------------- U-Net
def unet(
    num_classes: int,
    *,
    input_shape=(64, 64, 3),
    depth: int = 4,
    width: int = 16,
    batch_norm: bool = True,
    activation=None,
    name: str | None = None,
) -> keras.Model:
    """U-Net (Ronneberger et al., 2015) with ``depth`` downsampling stages, same padding.

    Encoder level ``i = 1..depth``: ``enc{i}_conv1``, ``enc{i}_conv2`` (3×3, ``width * 2**(i-1)``
    filters, + ``enc{i}_bn*`` when ``batch_norm``, ReLU ``enc{i}_relu*``), then ``enc{i}_pool``
    (2×2 max pool). Bottleneck: ``bottleneck_conv1/2`` with ``width * 2**depth`` filters.
    Decoder level ``i = depth..1``: ``dec{i}_up`` (2×2 ``Conv2DTranspose``, stride 2,
    ``width * 2**(i-1)`` filters), ``dec{i}_concat`` with the encoder's ``enc{i}`` output
    (the skip connection), ``dec{i}_conv1/2``. Head: ``score`` (1×1 conv to ``num_classes``)
    and a float32 ``logits`` (or ``probabilities``) activation.

    Args:
        num_classes: number of classes ``K`` (background included), a positive int.
        input_shape: ``(H, W, C)``; ``H`` and ``W`` positive multiples of ``2**depth``, or ``None``.
        depth: number of 2× downsamplings, an int in 1..6.
        width: filters of the first level, a positive int.
        batch_norm: BatchNormalization after every 3×3 conv.
        activation: ``None`` (logits) or ``"softmax"`` (probabilities), per pixel.
        name: model name; default ``"unet"``.

    Returns:
        ``keras.Model``: float images ``(N, H, W, C)`` → float32 ``(N, H, W, num_classes)``.

    Raises:
        ValueError / TypeError: naming the argument.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    depth = check_int("depth", depth, minimum=1, maximum=6)
    input_shape = _check_input_shape(input_shape, 2 ** depth, f"the U-Net downsamples depth={depth} times by 2")
    width = check_positive_int("width", width)
    batch_norm = check_bool("batch_norm", batch_norm)
    activation = check_choice("activation", activation, _ACTIVATIONS, "activation")

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    skips = []
    for level in range(1, depth + 1):
        filters = width * 2 ** (level - 1)
        x = _conv_block(x, filters, f"enc{level}", 1, batch_norm)
        x = _conv_block(x, filters, f"enc{level}", 2, batch_norm)
        skips.append(x)
        x = L.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = _conv_block(x, width * 2 ** depth, "bottleneck", 1, batch_norm)
    x = _conv_block(x, width * 2 ** depth, "bottleneck", 2, batch_norm)
    for level in range(depth, 0, -1):
        filters = width * 2 ** (level - 1)
        x = L.Conv2DTranspose(filters, 2, strides=2, name=f"dec{level}_up")(x)
        x = L.Concatenate(name=f"dec{level}_concat")([x, skips[level - 1]])
        x = _conv_block(x, filters, f"dec{level}", 1, batch_norm)
        x = _conv_block(x, filters, f"dec{level}", 2, batch_norm)
    x = L.Conv2D(num_classes, 1, name="score")(x)
    outputs = _head(x, activation)
    return keras.Model(inputs, outputs, name=name or "unet")
