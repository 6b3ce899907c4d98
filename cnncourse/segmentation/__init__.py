"""Semantic segmentation: per-pixel metrics, losses and pictures for Keras 3 models.

Usage summary (``masks``: integer ``(N, H, W)`` class maps, ``0`` background; ``logits``:
``(N, H, W, C)`` per-pixel scores)::

    from cnncourse import segmentation

    # Models: per-pixel float32 logits (N, H, W, K); a classifier turned into a heat-map model.
    model = segmentation.unet(4, input_shape=(64, 64, 3), depth=3, width=8)     # or segmentation.fcn(4, variant="8s")
    heat = segmentation.convolutionize(classifier)(large_images)   # (N, H', W', K) sliding-window scores

    # Metrics from one confusion matrix (rows: true class, columns: predicted class).
    cm = segmentation.confusion_matrix(masks, predicted, num_classes=4, ignore_index=255)  # (C, C) int64
    segmentation.pixel_accuracy(cm)      # trace / sum
    segmentation.class_iou(cm)           # (C,) TP / (TP + FP + FN), nan for a class seen nowhere
    segmentation.mean_iou(cm)            # nanmean, as keras.metrics.MeanIoU
    segmentation.class_dice(cm), segmentation.mean_dice(cm)   # 2TP / (2TP + FP + FN)
    segmentation.boundary_f1(masks, predicted, tolerance=1)    # how well the edges agree (BF score)
    report = segmentation.segmentation_report(masks, predicted, 4, class_names=names)
    print(report.table())

    # The same numbers as Keras metrics, and the losses, for model.compile.
    model.compile(
        optimizer="adam",
        loss=segmentation.CrossEntropyDiceLoss(ignore_index=255),   # pixel cross-entropy + soft Dice
        metrics=[segmentation.PixelAccuracy(4), segmentation.MeanIoU(4), segmentation.MeanDice(4)],
    )

    # Pictures: image | truth | prediction(s), with a legend of class colours.
    fig = segmentation.show_segmentation(images, masks, {"U-Net": predicted}, class_names=names)
    rgb = segmentation.colourize(masks[0], num_classes=4)     # (H, W, 3) floats in [0, 1]

Modules: :mod:`.metrics` (confusion matrix, IoU, Dice, Keras metrics), :mod:`.losses`
(cross-entropy, soft Dice), :mod:`.boundary` (boundary F1), :mod:`.plot` (class colours, figures).
Importing the package imports Keras (the metrics and losses are Keras classes); matplotlib
is imported only when a figure is drawn.
"""

from cnncourse.segmentation.boundary import boundary_f1, label_boundaries
from cnncourse.segmentation.convolutionize import convolutionize, dense_to_conv_kernel
from cnncourse.segmentation.losses import (
    CrossEntropyDiceLoss, PixelCrossEntropy, SoftDiceLoss, pixel_cross_entropy, soft_dice_loss,
)
from cnncourse.segmentation.metrics import (
    ConfusionMatrixMetric, MeanDice, MeanIoU, PixelAccuracy, SegmentationReport, class_dice, class_iou,
    confusion_matrix, mean_dice, mean_iou, pixel_accuracy, segmentation_report,
)
from cnncourse.segmentation.models import FCN_VARIANTS, bilinear_kernel, fcn, unet
from cnncourse.segmentation.plot import class_colours, colourize, show_segmentation

__all__ = [
    "FCN_VARIANTS", "bilinear_kernel", "boundary_f1", "convolutionize", "dense_to_conv_kernel", "fcn",
    "label_boundaries", "unet",
    "ConfusionMatrixMetric", "CrossEntropyDiceLoss", "MeanDice", "MeanIoU", "PixelAccuracy", "PixelCrossEntropy",
    "SegmentationReport", "SoftDiceLoss", "class_colours", "class_dice", "class_iou", "colourize",
    "confusion_matrix", "mean_dice", "mean_iou", "pixel_accuracy", "pixel_cross_entropy", "segmentation_report",
    "show_segmentation", "soft_dice_loss",
]
