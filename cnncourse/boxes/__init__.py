"""Boxes for detectors: formats, IoU, anchors and matching, deltas, NMS, AP/mAP.

Every detector of the course builds on these functions, and the notebooks check the
student's code against them. NumPy functions take one image without a batch axis
(``(N, 4)`` boxes, ``(N,)`` scores and labels) as readily as a batch, check their inputs
(wrong shape, NaN, ``x2 < x1``, unknown format -> ``ValueError`` naming the argument),
and compute in float64. Functions ending in ``_tf`` take tensors, use ``keras.ops`` and
run inside ``tf.function(jit_compile=True)`` (except :func:`batched_nms`).

Box formats are Keras's names: ``"xyxy"`` (default), ``"yxyx"``, ``"xywh"``,
``"center_xywh"``, ``"center_yxhw"``, ``"rel_xyxy"``, ... (:data:`BOX_FORMATS`). Padding
rows are -1, as in Keras's ``{"boxes", "labels"}`` dicts.

Usage::

    import numpy as np
    from cnncourse import boxes as B

    # formats, clipping, area
    B.convert_format([[10, 20, 30, 60]], "xyxy", "center_xywh")   # [[20., 40., 20., 40.]]
    B.clip_boxes([[-5, 0, 50, 10]], height=32, width=32)           # [[0., 0., 32., 10.]]
    B.box_area([[0, 0, 2, 3]])                                     # [6.]

    # IoU and GIoU: (N, 4), (M, 4) -> (N, M); two single boxes -> a float
    B.box_iou([0, 0, 2, 2], [1, 1, 3, 3])                          # 1/7
    B.generalized_box_iou(boxes_a, boxes_b)                        # (N, M)
    B.box_iou_tf(tensor_a, tensor_b)                               # tensors, XLA-friendly

    # anchors: scales x aspect ratios x strides, then labels 1 / 0 / -1 against ground truth
    anchors = B.generate_anchors((224, 224), strides=(16,), sizes=(128,),
                                 scales=(1, 2, 4), aspect_ratios=(0.5, 1, 2))   # (14*14*9, 4)
    gt_index, anchor_labels = B.match_anchors(anchors, gt_boxes,              # gt_boxes (M, 4), -1 padded
                                              positive_iou=0.7, negative_iou=0.3)

    # deltas (tx, ty, tw, th) of the positive anchors: exact inverses
    positive = anchor_labels == 1
    deltas = B.encode_deltas(anchors[positive], gt_boxes[gt_index[positive]], variances=(0.1, 0.1, 0.2, 0.2))
    decoded = B.decode_deltas(anchors[positive], deltas, variances=(0.1, 0.1, 0.2, 0.2))  # == gt boxes
    # in a model: B.match_anchors_tf, B.encode_deltas_tf, B.decode_deltas_tf (XLA-friendly)

    # NMS, the deck-001 rule: score = class probability x objectness; per class, keep the
    # best, drop same-class boxes with IoU >= 0.5
    scores, labels = B.detection_scores(objectness, class_probabilities)     # (N,), (N, C) -> (N,), (N,)
    keep = B.nms_reference(boxes, scores, labels, iou_threshold=0.5)         # indices, best first
    # a batch, with tf.image: boxes (B, N, 4), scores and labels (B, N) -> tensors padded with -1:
    # {"boxes": (B, 100, 4), "scores": (B, 100), "labels": (B, 100), "num_detections": (B,)}
    detections = B.batched_nms(batch_boxes, batch_scores, batch_labels, iou_threshold=0.5, max_detections=100)

    # average precision (pycocotools' numbers, faster)
    predictions = {"boxes": pred_boxes, "labels": pred_labels, "scores": pred_scores}  # (B, N, ...)
    ground_truth = {"boxes": gt_boxes, "labels": gt_labels}                            # (B, M, ...)
    coco = B.coco_average_precision(predictions, ground_truth)
    coco.mean_ap, coco.ap_at(0.5), coco.ap_per_class          # mAP@[.5:.95], AP50, {class: AP} (-1: no gt)
    # ground truth may carry "iscrowd" and "area" (COCO) or "difficult" (VOC), each (B, M)
    print(B.coco_summary(predictions, ground_truth))          # COCOeval.summarize()'s 12 lines
    voc = B.voc_average_precision(predictions, ground_truth)  # AP@0.5, all-point interpolation
    curve = voc.curves[class_id]                              # plt.plot(curve.recall, curve.precision)
    print(voc.summary())

Modules: :mod:`~cnncourse.boxes.formats`, :mod:`~cnncourse.boxes.iou`,
:mod:`~cnncourse.boxes.anchors`, :mod:`~cnncourse.boxes.deltas`,
:mod:`~cnncourse.boxes.nms`, :mod:`~cnncourse.boxes.average_precision`.
TensorFlow is imported only by the ``_tf`` functions and :func:`batched_nms`.
"""

from cnncourse.boxes.anchors import (
    BEST_ANCHOR_TOLERANCE,
    anchor_grid,
    anchor_shapes,
    generate_anchors,
    match_anchors,
    match_anchors_tf,
)
from cnncourse.boxes.average_precision import (
    COCO_AREA_ALL,
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    COCO_RECALL_THRESHOLDS,
    CocoSummary,
    DetectionEvaluation,
    PrecisionRecallCurve,
    coco_average_precision,
    coco_summary,
    voc_average_precision,
)
from cnncourse.boxes.deltas import (
    DEFAULT_MAX_LOG_SCALE,
    decode_deltas,
    decode_deltas_tf,
    encode_deltas,
    encode_deltas_tf,
)
from cnncourse.boxes.formats import (
    BOX_FORMATS,
    box_area,
    check_boxes,
    clip_boxes,
    convert_format,
    convert_format_tf,
    padding_mask,
)
from cnncourse.boxes.iou import (
    box_iou,
    box_iou_tf,
    elementwise_box_iou,
    elementwise_box_iou_tf,
    elementwise_generalized_box_iou,
    elementwise_generalized_box_iou_tf,
    generalized_box_iou,
    generalized_box_iou_tf,
)
from cnncourse.boxes.nms import batched_nms, detection_scores, nms_reference

__all__ = [
    "BEST_ANCHOR_TOLERANCE",
    "BOX_FORMATS",
    "COCO_AREA_ALL",
    "COCO_AREA_RANGES",
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_THRESHOLDS",
    "CocoSummary",
    "DEFAULT_MAX_LOG_SCALE",
    "DetectionEvaluation",
    "PrecisionRecallCurve",
    "anchor_grid",
    "anchor_shapes",
    "batched_nms",
    "box_area",
    "box_iou",
    "box_iou_tf",
    "check_boxes",
    "clip_boxes",
    "coco_average_precision",
    "coco_summary",
    "convert_format",
    "convert_format_tf",
    "decode_deltas",
    "decode_deltas_tf",
    "detection_scores",
    "elementwise_box_iou",
    "elementwise_box_iou_tf",
    "elementwise_generalized_box_iou",
    "elementwise_generalized_box_iou_tf",
    "encode_deltas",
    "encode_deltas_tf",
    "generalized_box_iou",
    "generalized_box_iou_tf",
    "generate_anchors",
    "match_anchors",
    "match_anchors_tf",
    "nms_reference",
    "padding_mask",
    "voc_average_precision",
]
