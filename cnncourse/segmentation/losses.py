"""Segmentation losses: per-pixel cross-entropy, soft Dice, and their sum.

With ``logits`` ``(B, H, W, C)``, ``p = softmax(logits)`` over the last axis, ``y`` the
one-hot truth and ``M`` the set of pixels whose label is not ``ignore_index``:

* :func:`pixel_cross_entropy` = ``-(1/|M|) Σ_{i∈M} log p_i[y_i]``: the mean over the
  counted pixels of the whole batch (0 when every pixel is ignored);
* :func:`soft_dice_loss` = ``1 - (1/C) Σ_c (2 Σ_{i∈M} p_ic y_ic + s) / (Σ_{i∈M} p_ic + Σ_{i∈M} y_ic + s)``,
  each sum running over the batch *and* the pixels (one Dice per class for the whole
  batch, not one per image), ``s = smooth``. A class absent from the truth scores
  ``s / (Σ p_c + s)``: 1 when the network predicts it nowhere, less the more it does.
  Ignored pixels are left out of all three sums.

Cross-entropy trains every pixel equally, so on images that are mostly background a
network may do well by predicting background; the Dice term weighs each class equally
whatever its area (Milletari et al., 2016, V-Net). :class:`CrossEntropyDiceLoss` adds the
two, as nnU-Net does.

The Keras losses :class:`PixelCrossEntropy`, :class:`SoftDiceLoss` and
:class:`CrossEntropyDiceLoss` call these functions. They always take **logits** (there is
no ``from_logits`` switch: end the model with a linear ``Conv2D(C, 1)``), accept labels
``(B, H, W)`` or ``(B, H, W, 1)``, compute in float32 even when the model runs under
``mixed_float16``, and return a float32 scalar per batch (so a ``sample_weight`` given to
them just scales that scalar by its mean; drop pixels with ``ignore_index`` instead).

Example::

    >>> import numpy as np
    >>> labels = np.array([[[0, 1], [1, 255]]])                 # (1, 2, 2), 255 ignored
    >>> logits = np.zeros((1, 2, 2, 2), "float32")               # p = 1/2 everywhere
    >>> round(float(pixel_cross_entropy(labels, logits, ignore_index=255)), 4)   # log 2
    0.6931
"""

from __future__ import annotations

import keras

from cnncourse._validation import check_float, describe, is_int

__all__ = ["CrossEntropyDiceLoss", "PixelCrossEntropy", "SoftDiceLoss", "pixel_cross_entropy", "soft_dice_loss"]


def _check_ignore_index(ignore_index) -> int | None:
    if ignore_index is None:
        return None
    if not is_int(ignore_index):
        raise TypeError(f"ignore_index must be an integer or None, got {describe(ignore_index)}")
    return int(ignore_index)


def _prepare(y_true, logits, ignore_index):
    """float32 logits ``(..., C)``, int32 labels ``(...)`` with ignored ones set to 0, float32 mask ``(...)``."""
    ops = keras.ops
    logits = ops.cast(ops.convert_to_tensor(logits), "float32")
    y_true = ops.convert_to_tensor(y_true)
    if len(logits.shape) < 2:
        raise ValueError(f"logits must have shape (B, H, W, C), got {tuple(logits.shape)}")
    if len(y_true.shape) == len(logits.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if len(y_true.shape) != len(logits.shape) - 1 or any(
        t is not None and l is not None and t != l for t, l in zip(y_true.shape, logits.shape[:-1])
    ):
        raise ValueError(
            f"y_true must have shape (B, H, W) or (B, H, W, 1) matching logits (B, H, W, C) = "
            f"{tuple(logits.shape)}, got {tuple(y_true.shape)}"
        )
    labels = ops.cast(y_true, "int32")
    if ignore_index is None:
        mask = ops.ones_like(labels, dtype="float32")
    else:
        keep = ops.not_equal(labels, ignore_index)
        mask = ops.cast(keep, "float32")
        labels = ops.where(keep, labels, ops.zeros_like(labels))
    return logits, labels, mask


def pixel_cross_entropy(y_true, logits, *, ignore_index: int | None = None):
    """Mean softmax cross-entropy over the non-ignored pixels of the batch, a float32 scalar.

    Args:
        y_true: integer labels ``(B, H, W)`` or ``(B, H, W, 1)`` in ``[0, C)`` or ``ignore_index``
            (integer-valued floats are accepted, as Keras passes them).
        logits: float ``(B, H, W, C)`` scores before the softmax (any float dtype).
        ignore_index: label of pixels that add nothing, neither to the sum nor to the count.

    Without ``ignore_index`` this equals
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y_true, logits)``.
    """
    ops = keras.ops
    ignore_index = _check_ignore_index(ignore_index)
    logits, labels, mask = _prepare(y_true, logits, ignore_index)
    log_p = ops.log_softmax(logits, axis=-1)
    picked = ops.squeeze(ops.take_along_axis(log_p, ops.expand_dims(labels, -1), axis=-1), axis=-1)
    return -ops.sum(picked * mask) / ops.maximum(ops.sum(mask), 1.0)


def soft_dice_loss(y_true, logits, *, ignore_index: int | None = None, smooth: float = 1.0):
    """``1 -`` the mean over classes of the soft Dice of ``softmax(logits)`` and the one-hot truth.

    ``1 - (1/C) Σ_c (2 Σ p_c·y_c + smooth) / (Σ p_c + Σ y_c + smooth)``, the sums over the
    batch and the pixels, ignored pixels excluded from every sum; a float32 scalar in
    ``[0, 1)``: near 0 for a confident right prediction, near 1 for a confident wrong one.

    Args:
        y_true: integer labels ``(B, H, W)`` or ``(B, H, W, 1)`` in ``[0, C)`` or ``ignore_index``.
        logits: float ``(B, H, W, C)`` scores before the softmax.
        ignore_index: label of pixels left out.
        smooth: ``s > 0``, added above and below: keeps a class absent from truth and
            prediction at Dice 1 (not 0/0) and softens the gradient of small classes.
    """
    ops = keras.ops
    ignore_index = _check_ignore_index(ignore_index)
    smooth = check_float("smooth", smooth, minimum=0.0, include_minimum=False)
    logits, labels, mask = _prepare(y_true, logits, ignore_index)
    num_classes = logits.shape[-1]
    if num_classes is None:
        raise ValueError("logits must have a known number of classes on its last axis")
    mask = ops.expand_dims(mask, -1)
    p = ops.softmax(logits, axis=-1) * mask
    y = ops.one_hot(labels, num_classes, dtype="float32") * mask
    axes = tuple(range(len(logits.shape) - 1))
    intersection = ops.sum(p * y, axis=axes)
    dice = (2.0 * intersection + smooth) / (ops.sum(p, axis=axes) + ops.sum(y, axis=axes) + smooth)
    return 1.0 - ops.mean(dice)


class _SegmentationLoss(keras.losses.Loss):
    """Shared argument handling: logits in, float32 scalar out."""

    def __init__(self, *, ignore_index: int | None, name: str, reduction: str, dtype):
        super().__init__(name=name, reduction=reduction, dtype=dtype or "float32")
        self.ignore_index = _check_ignore_index(ignore_index)

    def get_config(self):
        config = super().get_config()
        config["ignore_index"] = self.ignore_index
        return config


@keras.saving.register_keras_serializable(package="cnncourse")
class PixelCrossEntropy(_SegmentationLoss):
    """Keras loss: :func:`pixel_cross_entropy` of ``(y_true, logits)`` (always from logits).

    Example: ``model.compile(optimizer="adam", loss=PixelCrossEntropy(ignore_index=255))``.
    """

    def __init__(self, *, ignore_index: int | None = None, name: str = "pixel_cross_entropy",
                 reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(ignore_index=ignore_index, name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return pixel_cross_entropy(y_true, y_pred, ignore_index=self.ignore_index)


@keras.saving.register_keras_serializable(package="cnncourse")
class SoftDiceLoss(_SegmentationLoss):
    """Keras loss: :func:`soft_dice_loss` of ``(y_true, logits)`` (always from logits)."""

    def __init__(self, *, ignore_index: int | None = None, smooth: float = 1.0, name: str = "soft_dice_loss",
                 reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(ignore_index=ignore_index, name=name, reduction=reduction, dtype=dtype)
        self.smooth = check_float("smooth", smooth, minimum=0.0, include_minimum=False)

    def call(self, y_true, y_pred):
        return soft_dice_loss(y_true, y_pred, ignore_index=self.ignore_index, smooth=self.smooth)

    def get_config(self):
        config = super().get_config()
        config["smooth"] = self.smooth
        return config


@keras.saving.register_keras_serializable(package="cnncourse")
class CrossEntropyDiceLoss(_SegmentationLoss):
    """Keras loss: ``pixel_cross_entropy + dice_weight * soft_dice_loss`` (always from logits).

    Args:
        dice_weight: weight ``>= 0`` of the Dice term (0 gives plain cross-entropy).
        ignore_index: label of pixels left out of both terms.
        smooth: the Dice term's ``smooth``.
    """

    def __init__(self, dice_weight: float = 1.0, *, ignore_index: int | None = None, smooth: float = 1.0,
                 name: str = "cross_entropy_dice_loss", reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(ignore_index=ignore_index, name=name, reduction=reduction, dtype=dtype)
        self.dice_weight = check_float("dice_weight", dice_weight, minimum=0.0)
        self.smooth = check_float("smooth", smooth, minimum=0.0, include_minimum=False)

    def call(self, y_true, y_pred):
        cross_entropy = pixel_cross_entropy(y_true, y_pred, ignore_index=self.ignore_index)
        dice = soft_dice_loss(y_true, y_pred, ignore_index=self.ignore_index, smooth=self.smooth)
        return cross_entropy + self.dice_weight * dice

    def get_config(self):
        config = super().get_config()
        config.update({"dice_weight": self.dice_weight, "smooth": self.smooth})
        return config
