"""Segmentation metrics from one confusion matrix: pixel accuracy, IoU and Dice, per class and mean.

Every number of this module comes from the ``(C, C)`` confusion matrix of the pixels
(rows: true class, columns: predicted class). With ``TP_c`` its diagonal, ``FP_c`` the
rest of column ``c`` and ``FN_c`` the rest of row ``c``:

* pixel accuracy   = ``trace / sum`` (``nan`` when no pixel was counted);
* IoU of class c   = ``TP_c / (TP_c + FP_c + FN_c)``;
* Dice (F1) of c   = ``2 TP_c / (2 TP_c + FP_c + FN_c)`` = ``2 IoU / (1 + IoU)``;
* mean IoU / Dice  = the mean over the classes whose denominator is not 0.

A class absent from both the truth and the prediction has a denominator of 0: its IoU and
Dice are ``nan`` and it is left out of the means, as :class:`keras.metrics.MeanIoU` does
(which returns 0, where the functions here return ``nan``, when no class is left at all).
Pixels whose *true* label is ``ignore_index`` (VOC's 255, the object borders) are dropped
before counting, so they are neither right nor wrong.

The NumPy functions (:func:`confusion_matrix`, :func:`pixel_accuracy`, :func:`class_iou`,
:func:`mean_iou`, :func:`class_dice`, :func:`mean_dice`, :func:`segmentation_report`) are
the reference; the Keras metrics (:class:`PixelAccuracy`, :class:`MeanIoU`,
:class:`MeanDice`, all built on :class:`ConfusionMatrixMetric`) accumulate the same matrix
batch by batch inside ``fit`` / ``evaluate`` and give the same numbers.

Example::

    >>> import numpy as np
    >>> truth = np.array([[0, 0, 1], [1, 2, 255]])
    >>> guess = np.array([[0, 1, 1], [1, 1, 0]])
    >>> cm = confusion_matrix(truth, guess, 3, ignore_index=255)
    >>> cm
    array([[1, 1, 0],
           [0, 2, 0],
           [0, 1, 0]])
    >>> round(pixel_accuracy(cm), 3), class_iou(cm).round(3).tolist()
    (0.6, [0.5, 0.5, 0.0])
"""

from __future__ import annotations

import dataclasses
import warnings

import keras
import numpy as np

from cnncourse._validation import check_array, check_int, check_positive_int, describe, is_int

__all__ = [
    "ConfusionMatrixMetric", "MeanDice", "MeanIoU", "PixelAccuracy", "SegmentationReport", "class_dice",
    "class_iou", "confusion_matrix", "mean_dice", "mean_iou", "pixel_accuracy", "segmentation_report",
]


# ------------------------------------------------------------------------------ checks
def _check_ignore_index(ignore_index) -> int | None:
    if ignore_index is None:
        return None
    if not is_int(ignore_index):
        raise TypeError(f"ignore_index must be an integer or None, got {describe(ignore_index)}")
    return int(ignore_index)


def _check_mask(name: str, value) -> np.ndarray:
    """An integer (or bool) label array; floats are refused (a mask holds class indices)."""
    array = check_array(name, value, kinds="biu", what="of integer class labels")
    return array


def _bad_values_text(values: np.ndarray) -> str:
    bad = np.unique(values)
    shown = ", ".join(str(v) for v in bad[:10].tolist())
    return shown + (f", ... ({len(bad)} distinct values)" if len(bad) > 10 else "")


def _check_confusion(confusion) -> np.ndarray:
    confusion = check_array("confusion", confusion, ndim=2, kinds="iuf", what="(C, C)")
    if confusion.shape[0] != confusion.shape[1] or confusion.shape[0] == 0:
        raise ValueError(f"confusion must be a square (C, C) matrix with C >= 1, got shape {confusion.shape}")
    if np.any(confusion < 0) or not np.all(np.isfinite(confusion)):
        raise ValueError("confusion must hold finite, non-negative counts")
    return confusion.astype(np.float64)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with ``nan`` where the denominator is 0 (and no warning)."""
    out = np.full(np.shape(numerator), np.nan, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    if np.all(np.isnan(values)):
        return float("nan")
    return float(np.nanmean(values))


# ------------------------------------------------------------------------ NumPy reference
def confusion_matrix(y_true, y_pred, num_classes: int, *, ignore_index: int | None = None) -> np.ndarray:
    """The ``(C, C)`` confusion matrix of two label maps: ``[i, j]`` = pixels of true class i predicted j.

    Args:
        y_true: integer labels of any shape, e.g. ``(N, H, W)`` masks; values in
            ``[0, num_classes)`` or ``ignore_index``.
        y_pred: integer labels of the same shape, values in ``[0, num_classes)`` wherever
            ``y_true`` is not ignored (an argmax over the class axis of a network's scores).
        num_classes: ``C``.
        ignore_index: pixels whose **true** label equals it are dropped (their prediction is
            not looked at). May also be a class in ``[0, C)`` (its row is then all 0).

    Returns:
        int64 ``(C, C)``; its sum is the number of pixels not ignored.

    Raises:
        TypeError: a float (or other non-integer) mask.
        ValueError: shapes differ, or a label is outside ``[0, C)`` (the message lists the bad values).

    One :func:`numpy.bincount` over ``true * C + pred``: about 0.1 s for 10⁷ uint8 pixels.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    ignore_index = _check_ignore_index(ignore_index)
    y_true = _check_mask("y_true", y_true)
    y_pred = _check_mask("y_pred", y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    true, pred = y_true.reshape(-1), y_pred.reshape(-1)
    if ignore_index is not None:
        keep = true != ignore_index
        if not keep.all():
            true, pred = true[keep], pred[keep]
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            outside = (labels < 0) | (labels >= num_classes)
            extra = f" or ignore_index={ignore_index}" if name == "y_true" and ignore_index is not None else ""
            where = " where y_true is not ignored" if name == "y_pred" and ignore_index is not None else ""
            raise ValueError(
                f"{name} must hold labels in [0, {num_classes}){extra}{where}; "
                f"got {_bad_values_text(labels[outside])}"
            )
    # Small dtypes (uint8 masks) stay small until the product; uint64 would turn intp arithmetic into floats.
    pred = pred.astype(np.intp) if pred.dtype == np.uint64 else pred
    counts = np.bincount(true.astype(np.intp) * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64, copy=False)


def pixel_accuracy(confusion) -> float:
    """Fraction of counted pixels labelled right: ``trace / sum`` of a ``(C, C)`` confusion; ``nan`` if empty."""
    confusion = _check_confusion(confusion)
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total > 0 else float("nan")


def _tp_fp_fn(confusion: np.ndarray):
    tp = np.diag(confusion)
    return tp, confusion.sum(axis=0) - tp, confusion.sum(axis=1) - tp


def class_iou(confusion) -> np.ndarray:
    """Per-class intersection over union, float64 ``(C,)``: ``TP / (TP + FP + FN)``.

    ``nan`` for a class absent from both truth and prediction (denominator 0); ``0`` for a
    class that is predicted but never true, or true but never predicted.
    """
    tp, fp, fn = _tp_fp_fn(_check_confusion(confusion))
    return _divide(tp, tp + fp + fn)


def mean_iou(confusion) -> float:
    """Mean of :func:`class_iou` over the classes whose IoU is defined (as ``keras.metrics.MeanIoU``).

    ``nan`` when no class is defined (nothing counted); Keras returns 0 there.
    """
    return _nanmean(class_iou(confusion))


def class_dice(confusion) -> np.ndarray:
    """Per-class Dice coefficient (F1), float64 ``(C,)``: ``2TP / (2TP + FP + FN)``; ``nan`` as :func:`class_iou`."""
    tp, fp, fn = _tp_fp_fn(_check_confusion(confusion))
    return _divide(2.0 * tp, 2.0 * tp + fp + fn)


def mean_dice(confusion) -> float:
    """Mean of :func:`class_dice` over the classes whose Dice is defined; ``nan`` when none is."""
    return _nanmean(class_dice(confusion))


@dataclasses.dataclass(frozen=True)
class SegmentationReport:
    """All the metrics of one comparison of label maps (see :func:`segmentation_report`).

    Attributes:
        confusion: int64 ``(C, C)``, rows true, columns predicted.
        pixel_accuracy, mean_iou, mean_dice: floats (``nan`` when undefined).
        class_iou, class_dice: float64 ``(C,)``, ``nan`` for a class seen nowhere.
        class_names: ``C`` names (``"0"``, ``"1"``, … when none were given).
    """

    confusion: np.ndarray
    pixel_accuracy: float
    class_iou: np.ndarray
    mean_iou: float
    class_dice: np.ndarray
    mean_dice: float
    class_names: tuple[str, ...]

    def table(self, digits: int = 3) -> str:
        """A plain-text table: one row per class (pixels true, pixels predicted, IoU, Dice), then the means."""
        digits = check_int("digits", digits, minimum=0, maximum=10)

        def number(value: float) -> str:
            return "-" if np.isnan(value) else f"{value:.{digits}f}"

        width = max([len("class"), len("pixel accuracy")] + [len(n) for n in self.class_names])
        columns = ("true px", "pred px", "IoU", "Dice")
        header = f"{'class':<{width}}  " + "  ".join(f"{c:>9}" for c in columns)
        lines = [header, "-" * len(header)]
        true_px, pred_px = self.confusion.sum(axis=1), self.confusion.sum(axis=0)
        for c, name in enumerate(self.class_names):
            cells = (str(true_px[c]), str(pred_px[c]), number(self.class_iou[c]), number(self.class_dice[c]))
            lines.append(f"{name:<{width}}  " + "  ".join(f"{cell:>9}" for cell in cells))
        lines.append("-" * len(header))
        blank = f"{'':>9}  {'':>9}"
        lines.append(f"{'mean':<{width}}  {blank}  {number(self.mean_iou):>9}  {number(self.mean_dice):>9}")
        lines.append(f"{'pixel accuracy':<{width}}  {blank}  {number(self.pixel_accuracy):>9}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def segmentation_report(
    y_true, y_pred, num_classes: int, *, ignore_index: int | None = None, class_names=None
) -> SegmentationReport:
    """:func:`confusion_matrix` of ``y_true`` / ``y_pred`` and every metric of it, in a :class:`SegmentationReport`.

    Args:
        y_true, y_pred, num_classes, ignore_index: as :func:`confusion_matrix`.
        class_names: optional sequence of ``num_classes`` names, for :meth:`SegmentationReport.table`.
    """
    confusion = confusion_matrix(y_true, y_pred, num_classes, ignore_index=ignore_index)
    if class_names is None:
        names = tuple(str(c) for c in range(num_classes))
    else:
        if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
            raise TypeError(f"class_names must be a sequence of {num_classes} strings, got {describe(class_names)}")
        if len(class_names) != num_classes:
            raise ValueError(f"class_names must hold num_classes={num_classes} names, got {len(class_names)}")
        names = tuple(str(n) for n in class_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return SegmentationReport(
            confusion=confusion,
            pixel_accuracy=pixel_accuracy(confusion),
            class_iou=class_iou(confusion),
            mean_iou=mean_iou(confusion),
            class_dice=class_dice(confusion),
            mean_dice=mean_dice(confusion),
            class_names=names,
        )


# -------------------------------------------------------------------------- Keras metrics
@keras.saving.register_keras_serializable(package="cnncourse")
class ConfusionMatrixMetric(keras.metrics.Metric):
    """A Keras metric that accumulates the ``(C, C)`` pixel confusion matrix over batches.

    ``update_state(y_true, y_pred, sample_weight=None)``:

    * ``y_true``: integer (or integer-valued float) labels ``(B, H, W)`` or ``(B, H, W, 1)``;
    * ``y_pred``: either per-pixel scores ``(B, H, W, C)`` of a floating dtype (logits or
      probabilities, float16 included: the predicted class is the argmax over the last
      axis), or integer labels ``(B, H, W)`` / ``(B, H, W, 1)``;
    * ``sample_weight``: optional, broadcastable to ``(B, H, W)`` (e.g. ``(B,)`` per image,
      or ``(B, H, W)`` per pixel); the matrix then holds weighted counts.

    Pixels whose true label is ``ignore_index`` are dropped. Inside a compiled graph no
    error can be raised, so pixels whose true or predicted label lies outside ``[0, C)``
    (and is not ``ignore_index``) are dropped too; check the data with the NumPy
    :func:`confusion_matrix`, which raises. The state is a float64 variable (exact counts
    up to 2⁵³ pixels), ``result()`` is float32.

    Subclasses define ``result()`` from ``self.confusion_matrix()``; the base class'
    ``result()`` is the matrix itself.

    Args:
        num_classes: ``C``.
        ignore_index: true label to drop, or ``None``.
        name, dtype: as every Keras metric (``dtype`` of the result).
    """

    def __init__(self, num_classes: int, *, ignore_index: int | None = None, name: str = "confusion_matrix",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.ignore_index = _check_ignore_index(ignore_index)
        self.confusion = self.add_variable(
            shape=(self.num_classes, self.num_classes), initializer="zeros", dtype="float64", name="confusion",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        c = self.num_classes
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        if "float" in str(y_pred.dtype) or "bfloat" in str(y_pred.dtype):
            if y_pred.shape[-1] is not None and y_pred.shape[-1] != c:
                raise ValueError(
                    f"{type(self).__name__}: y_pred must hold num_classes={c} scores per pixel on its last "
                    f"axis (B, H, W, {c}), got shape {tuple(y_pred.shape)}"
                )
            pred = ops.argmax(y_pred, axis=-1)
        else:
            pred = y_pred
            if len(pred.shape) == 4 and pred.shape[-1] == 1:  # (B, H, W, 1) labels
                pred = ops.squeeze(pred, axis=-1)
        if len(y_true.shape) == len(pred.shape) + 1 and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        if len(y_true.shape) != len(pred.shape):
            raise ValueError(
                f"{type(self).__name__}: y_true {tuple(y_true.shape)} does not match the predicted labels "
                f"{tuple(pred.shape)} (expected (B, H, W) or (B, H, W, 1) labels and (B, H, W, {c}) scores)"
            )
        true = ops.cast(y_true, "int32")
        pred = ops.cast(pred, "int32")
        keep = (true >= 0) & (true < c) & (pred >= 0) & (pred < c)
        if self.ignore_index is not None:
            keep = keep & (true != self.ignore_index)
        weight = ops.cast(keep, "float64")
        if sample_weight is not None:
            sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float64")
            while len(sample_weight.shape) < len(weight.shape):
                sample_weight = ops.expand_dims(sample_weight, axis=-1)
            if len(sample_weight.shape) > len(weight.shape) and sample_weight.shape[-1] == 1:
                sample_weight = ops.squeeze(sample_weight, axis=-1)
            weight = weight * ops.broadcast_to(sample_weight, ops.shape(weight))
        index = ops.where(keep, true * c + pred, ops.zeros_like(true))
        counts = ops.segment_sum(ops.reshape(weight, (-1,)), ops.reshape(index, (-1,)), num_segments=c * c)
        self.confusion.assign_add(ops.reshape(counts, (c, c)))

    def confusion_matrix(self):
        """The accumulated float64 ``(C, C)`` matrix (rows true, columns predicted), a tensor."""
        return keras.ops.convert_to_tensor(self.confusion)

    def _tp_fp_fn(self):
        ops = keras.ops
        cm = self.confusion_matrix()
        tp = ops.diagonal(cm)
        return tp, ops.sum(cm, axis=0) - tp, ops.sum(cm, axis=1) - tp

    @staticmethod
    def _nan_mean_ratio(numerator, denominator):
        """Mean of ``numerator / denominator`` over the entries with a non-zero denominator; nan if none."""
        ops = keras.ops
        defined = denominator > 0
        ratio = ops.where(defined, numerator / ops.where(defined, denominator, ops.ones_like(denominator)), 0.0)
        count = ops.sum(ops.cast(defined, "float64"))
        return ops.where(count > 0, ops.sum(ratio) / ops.maximum(count, 1.0), float("nan"))

    def result(self):
        return keras.ops.cast(self.confusion_matrix(), self.dtype)

    def reset_state(self):
        self.confusion.assign(keras.ops.zeros((self.num_classes, self.num_classes), dtype="float64"))

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "ignore_index": self.ignore_index})
        return config


@keras.saving.register_keras_serializable(package="cnncourse")
class PixelAccuracy(ConfusionMatrixMetric):
    """Fraction of (non-ignored) pixels whose predicted class is the true one; as :func:`pixel_accuracy`.

    Example: ``model.compile(..., metrics=[PixelAccuracy(num_classes=4, ignore_index=255)])``.
    """

    def __init__(self, num_classes: int, *, ignore_index: int | None = None, name: str = "pixel_accuracy",
                 dtype=None):
        super().__init__(num_classes, ignore_index=ignore_index, name=name, dtype=dtype)

    def result(self):
        ops = keras.ops
        cm = self.confusion_matrix()
        total = ops.sum(cm)
        value = ops.where(total > 0, ops.trace(cm) / ops.maximum(total, 1.0), float("nan"))
        return ops.cast(value, self.dtype)


@keras.saving.register_keras_serializable(package="cnncourse")
class MeanIoU(ConfusionMatrixMetric):
    """Mean intersection over union of the classes seen in truth or prediction; as :func:`mean_iou`.

    Equal to ``keras.metrics.MeanIoU(num_classes, ignore_class=ignore_index, sparse_y_pred=...)``
    whenever at least one pixel was counted (Keras then gives 0 where this gives ``nan``),
    but takes scores or labels without being told which, and accumulates in float64.
    """

    def __init__(self, num_classes: int, *, ignore_index: int | None = None, name: str = "mean_iou", dtype=None):
        super().__init__(num_classes, ignore_index=ignore_index, name=name, dtype=dtype)

    def result(self):
        tp, fp, fn = self._tp_fp_fn()
        return keras.ops.cast(self._nan_mean_ratio(tp, tp + fp + fn), self.dtype)


@keras.saving.register_keras_serializable(package="cnncourse")
class MeanDice(ConfusionMatrixMetric):
    """Mean Dice coefficient (F1) ``2TP / (2TP + FP + FN)`` of the classes seen anywhere; as :func:`mean_dice`."""

    def __init__(self, num_classes: int, *, ignore_index: int | None = None, name: str = "mean_dice", dtype=None):
        super().__init__(num_classes, ignore_index=ignore_index, name=name, dtype=dtype)

    def result(self):
        tp, fp, fn = self._tp_fp_fn()
        return keras.ops.cast(self._nan_mean_ratio(2.0 * tp, 2.0 * tp + fp + fn), self.dtype)
