"""Average precision (AP) of a detector: VOC AP@0.5 and COCO mAP@[0.5:0.95].

How it works, for one class and one IoU threshold ``t``:

1. Sort the detections of that class, over all images, by decreasing score.
2. Walk down the list: a detection is a *true positive* if it overlaps (IoU >= ``t``) a
   ground-truth box of its class in its image that no better detection has taken,
   otherwise a *false positive*.
3. After each detection, precision = TP / (TP + FP) and recall = TP / (number of
   ground-truth boxes): the precision-recall curve.
4. Replace each precision by the best precision at any higher recall (the curve's
   upper envelope), and take the area under it: the AP.

The two conventions differ in details:

=======================  =================================  ====================================
                         VOC (:func:`voc_average_precision`)   COCO (:func:`coco_average_precision`)
=======================  =================================  ====================================
IoU thresholds           0.5                                 0.50, 0.55, ..., 0.95 (averaged)
area under the envelope  exact ("all points", VOC 2010+)     mean at 101 recalls 0, 0.01, ..., 1
which ground truth       the one the detection overlaps      the best-overlapping one not yet
                         most; if taken already -> FP        taken (if any is above ``t``)
detections per image     all                                 the best 100 per class
=======================  =================================  ====================================

The mean AP (mAP) averages over the classes that have ground truth in the data; classes
without any (seen only in the detections, or below ``num_classes``) are reported with AP,
precision and recall -1 and left out of the mean, as in COCOeval's arrays.

Ground truth may carry optional per-box fields, ``(B, M)`` like the labels:

- ``"iscrowd"`` (COCO): crowd regions. As in COCOeval they are ignored (not counted as
  objects to find); a detection that matches one (IoU = intersection / the *detection's*
  area) is ignored, neither TP nor FP, and one crowd region may absorb many detections.
- ``"area"`` (COCO): the annotation's area (a mask's, say), used for the area ranges
  instead of the box area.
- ``"difficult"`` (VOC): as in the devkit, not counted as objects to find; a detection whose
  most-overlapping box is difficult (and overlaps it enough) is neither TP nor FP.

:func:`coco_summary` gives COCOeval's 12 ``summarize()`` numbers and lines. Boxes of any
dtype are compared in float64 (float32 boxes are cast before conversion), as COCOeval does. :func:`coco_average_precision` reproduces
``pycocotools.cocoeval.COCOeval`` (``iouType="bbox"``, area range "all", 100 detections)
exactly: the tests compare the full precision arrays on random data. It vectorises the
matching over images, classes and thresholds, so it is much faster than COCOeval.

Inputs follow the Keras convention: dicts of -1-padded arrays::

    predictions  = {"boxes": (B, N, 4), "labels": (B, N), "scores": (B, N)}
    ground_truth = {"boxes": (B, M, 4), "labels": (B, M)}

(the output of :func:`cnncourse.boxes.batched_nms` is a valid ``predictions``). A label
of -1 marks padding. One image may be given without the batch axis (``(N, 4)``, ``(N,)``),
and images with different numbers of boxes as lists of per-image arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cnncourse._validation import check_positive_int
from cnncourse.boxes.formats import _from_xyxy, _to_xyxy, check_boxes, check_format

#: COCO's IoU thresholds 0.50:0.05:0.95, computed as ``COCOeval`` does (same floats).
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: COCO's 101 recall thresholds 0:0.01:1, computed as ``COCOeval`` does.
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
#: COCO's area range "all" (in squared pixels).
COCO_AREA_ALL = (0.0, 1e5**2)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PrecisionRecallCurve:
    """The precision-recall curve of one class at one IoU threshold.

    One point per detection (detections COCO ignores are left out), by decreasing score.
    Plot it with ``plt.plot(c.recall, c.precision)`` and the envelope whose area is the
    AP with ``plt.step(c.recall, c.interpolated_precision, where="post")``.

    Attributes:
        class_id: the class.
        iou_threshold: the IoU a detection needed to count as a true positive.
        scores: float64 ``(D,)``, decreasing.
        recall: float64 ``(D,)``: TP so far / number of ground-truth boxes.
        precision: float64 ``(D,)``: TP so far / detections so far.
        interpolated_precision: float64 ``(D,)``: best precision at this recall or higher.
        true_positive: bool ``(D,)``.
        num_ground_truth: number of ground-truth boxes of the class.
        average_precision: the class's AP at this threshold (by the evaluation's convention).
    """

    class_id: int
    iou_threshold: float
    scores: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    interpolated_precision: np.ndarray
    true_positive: np.ndarray
    num_ground_truth: int
    average_precision: float


@dataclass(frozen=True)
class DetectionEvaluation:
    """The result of :func:`coco_average_precision` or :func:`voc_average_precision`.

    Attributes:
        class_ids: int64 ``(K,)``: the classes reported, ascending (every class in the data,
            or ``0 .. num_classes - 1``); those without ground truth have AP -1.
        iou_thresholds: float64 ``(T,)``.
        ap: float64 ``(T, K)``: AP per IoU threshold and class (-1: no ground truth).
        recall: float64 ``(T, K)``: the recall reached with all detections (-1: no ground truth).
        num_ground_truth: int64 ``(K,)``.
        curves: ``{class_id: PrecisionRecallCurve}`` at ``iou_thresholds[0]``.
        precision: COCO only: float64 ``(T, R, K)``, the interpolated precision at
            ``recall_thresholds`` (``COCOeval.eval["precision"][:, :, :, 0, -1]``); else ``None``.
        recall_thresholds: COCO only: float64 ``(R,)``; else ``None``.
        convention: ``"coco"`` or ``"voc"``.

    Use ``mean_ap``, ``ap_per_class``, ``ap_per_iou_threshold``, ``ap_at(0.5)`` and
    ``summary()``.
    """

    class_ids: np.ndarray
    iou_thresholds: np.ndarray
    ap: np.ndarray
    recall: np.ndarray
    num_ground_truth: np.ndarray
    curves: dict = field(repr=False)
    precision: np.ndarray | None = field(default=None, repr=False)
    recall_thresholds: np.ndarray | None = field(default=None, repr=False)
    convention: str = "coco"

    @property
    def has_ground_truth(self) -> np.ndarray:
        """bool ``(K,)``: the classes that have ground truth (the others have AP -1)."""
        return self.num_ground_truth > 0

    @property
    def mean_ap(self) -> float:
        """Mean AP over the classes with ground truth and the IoU thresholds (``nan`` if none has any)."""
        valid = self.ap[:, self.has_ground_truth]
        return float(valid.mean()) if valid.size else float("nan")

    @property
    def ap_per_class(self) -> dict[int, float]:
        """``{class_id: AP averaged over the IoU thresholds}``; -1 for a class without ground truth."""
        means = np.where(self.has_ground_truth, self.ap.mean(axis=0), -1.0) if self.ap.size else []
        return {int(c): float(v) for c, v in zip(self.class_ids, means)}

    @property
    def ap_per_iou_threshold(self) -> np.ndarray:
        """float64 ``(T,)``: mean AP over the classes with ground truth at each IoU threshold (``nan`` if none)."""
        valid = self.ap[:, self.has_ground_truth]
        if not valid.size:
            return np.full(len(self.iou_thresholds), np.nan)
        return valid.mean(axis=1)

    def ap_at(self, iou_threshold: float) -> float:
        """Mean AP over classes at one of the evaluated IoU thresholds (e.g. AP50 = ``ap_at(0.5)``)."""
        matches = np.flatnonzero(np.isclose(self.iou_thresholds, iou_threshold))
        if matches.size == 0:
            raise ValueError(
                f"iou_threshold {iou_threshold} was not evaluated; thresholds: {self.iou_thresholds.tolist()}"
            )
        return float(self.ap_per_iou_threshold[matches[0]])

    def summary(self) -> str:
        """A short text table: mAP, then AP per class."""
        name = "mAP@[0.5:0.95]" if self.convention == "coco" and len(self.iou_thresholds) == 10 else (
            f"mAP@{self.iou_thresholds[0]:g}" if len(self.iou_thresholds) == 1 else "mAP"
        )
        lines = [f"{name} ({self.convention}) = {self.mean_ap:.4f} over {int(self.has_ground_truth.sum())} classes"]
        for k, (class_id, value) in enumerate(self.ap_per_class.items()):
            if not self.has_ground_truth[k]:
                lines.append(f"  class {class_id:>4}: no ground truth (AP -1, left out of the mean)")
                continue
            lines.append(f"  class {class_id:>4}: AP {value:.4f}  ({int(self.num_ground_truth[k])} ground-truth boxes)")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- inputs


@dataclass
class _Boxes:
    """All non-padding boxes of a batch, flattened; ``image`` and ``position`` say where each came from."""

    image: np.ndarray  # int64 (n,)
    position: np.ndarray  # int64 (n,): index within its image
    boxes: np.ndarray  # float64 (n, 4), xywh (COCO's layout)
    labels: np.ndarray  # int64 (n,)
    scores: np.ndarray | None  # float64 (n,)
    num_images: int
    extras: dict = field(default_factory=dict)  # optional per-box fields ("iscrowd", "area", "difficult"), (n,)


def _is_per_image_list(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(
        hasattr(v, "shape") and hasattr(v, "dtype") for v in value
    )


def _as_labels(value, name):
    labels = np.asarray(value)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.number):
        raise TypeError(f"{name} must hold integer class ids, got dtype {labels.dtype}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise ValueError(
                f"{name} must hold integer class ids (or -1 for padding), got values like "
                f"{labels.ravel()[:4].tolist()}"
            )
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < -1:
        raise ValueError(f"{name} must be class ids >= 0, or -1 for padding; got {labels.min()}")
    return labels


#: Optional per-box fields of the ground truth: COCO's crowd flag and area, VOC's "difficult".
GROUND_TRUTH_FIELDS = ("iscrowd", "area", "difficult")


def _parse(data, what: str, format: str, with_scores: bool) -> _Boxes:
    required = ("boxes", "labels", "scores") if with_scores else ("boxes", "labels")
    if not isinstance(data, dict):
        raise TypeError(f"{what} must be a dict with keys {required}, got {type(data).__name__}")
    missing = [k for k in required if k not in data]
    if missing:
        raise KeyError(f"{what} lacks {missing}: expected a dict with keys {required}, got keys {sorted(data)}")
    extra = () if with_scores else tuple(k for k in GROUND_TRUTH_FIELDS if k in data)
    keys = required + extra
    if _is_per_image_list(data["boxes"]):  # ragged: one array per image
        for k in keys[1:]:
            if len(data[k]) != len(data["boxes"]):
                raise ValueError(
                    f"{what}['{k}'] has {len(data[k])} images but {what}['boxes'] has {len(data['boxes'])}"
                )
        images = [[data[k][i] for k in keys] for i in range(len(data["boxes"]))]
    else:
        boxes = np.asarray(data["boxes"])
        if boxes.ndim == 3:
            return _parse_batch(*(np.asarray(data[k]) for k in required), what=what, format=format, image=None,
                                extras={k: np.asarray(data[k]) for k in extra})
        if boxes.ndim not in (1, 2) or (boxes.ndim == 1 and boxes.size):
            raise ValueError(f"{what}['boxes'] must have shape (B, N, 4) or (N, 4), got {boxes.shape}")
        images = [[data[k] for k in keys]]  # one image without the batch axis
    parts = []
    for i, values in enumerate(images):
        values = [np.asarray(v) for v in values]
        if values[0].size == 0:
            values[0] = values[0].reshape(0, 4)
        parts.append(_parse_batch(*(v[None] for v in values[: len(required)]), what=what, format=format,
                                  image=i if len(images) > 1 else None,
                                  extras={k: v[None] for k, v in zip(extra, values[len(required):])}))
    return _Boxes(
        image=np.concatenate([p.image + i for i, p in enumerate(parts)]),
        position=np.concatenate([p.position for p in parts]),
        boxes=np.concatenate([p.boxes for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        scores=np.concatenate([p.scores for p in parts]) if with_scores else None,
        num_images=len(parts),
        extras={k: np.concatenate([p.extras[k] for p in parts]) for k in extra},
    )


def _parse_batch(boxes, labels, scores=None, *, what, format, image, extras=None) -> _Boxes:
    """Check one batch ``(B, N, 4), (B, N)[, (B, N)]`` and keep its non-padding boxes."""
    prefix = what if image is None else f"{what} (image {image})"
    labels = _as_labels(labels, f"{prefix}['labels']")
    if boxes.ndim != 3 or labels.shape != boxes.shape[:2]:
        raise ValueError(
            f"{prefix}: boxes must be (B, N, 4) and labels (B, N); got boxes {boxes.shape}, labels {labels.shape}"
        )
    padding = labels == -1
    boxes = check_boxes(boxes, f"{prefix}['boxes']", format, ndim=3, ignore=padding).astype(np.float64)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != labels.shape:
            raise ValueError(f"{prefix}['scores'] must have the shape of the labels {labels.shape}, got {scores.shape}")
        if not np.all(np.isfinite(scores[~padding])):
            raise ValueError(f"{prefix}['scores'] must be finite, got NaN or inf")
    image, position = np.nonzero(~padding)
    fields = {}
    for key, value in (extras or {}).items():
        value = np.asarray(value)
        if value.shape != labels.shape:
            raise ValueError(f"{prefix}['{key}'] must have the shape of the labels {labels.shape}, got {value.shape}")
        if key == "area":
            value = value.astype(np.float64)
            if not np.all(np.isfinite(value[~padding])) or np.any(value[~padding] < 0):
                raise ValueError(f"{prefix}['area'] must be finite and >= 0")
        else:
            if value.dtype != bool and not (np.issubdtype(value.dtype, np.number) and np.all(np.isin(value[~padding], (0, 1)))):
                raise ValueError(f"{prefix}['{key}'] must be 0/1 or True/False flags, got values like "
                                 f"{value[~padding].ravel()[:4].tolist()}")
            value = value.astype(bool)
        fields[key] = value[image, position]
    kept = boxes[image, position]
    if format.removeprefix("rel_") != "xywh":  # COCO's layout; relative boxes stay relative
        kept = _from_xyxy(_to_xyxy(kept, format.removeprefix("rel_")), "xywh")
    return _Boxes(
        image=image.astype(np.int64),
        position=position.astype(np.int64),
        boxes=kept.astype(np.float64),
        labels=labels[image, position],
        scores=None if scores is None else scores[image, position],
        num_images=boxes.shape[0],
        extras=fields,
    )


# ----------------------------------------------------------------------------- matching


def _coco_iou(dets, gts, crowd=None):
    """IoU of xywh boxes exactly as pycocotools' ``bbIou`` computes it: ``(..., D, 4), (..., G, 4) -> (..., D, G)``.

    For a crowd region (``crowd`` ``(..., G)`` True) the union is the detection's area.
    """
    d = dets[..., :, None, :]
    g = gts[..., None, :, :]
    width = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    height = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    overlap = (width > 0) & (height > 0)
    intersection = width * height
    union = d[..., 2] * d[..., 3] + g[..., 2] * g[..., 3] - intersection
    if crowd is not None:
        union = np.where(crowd[..., None, :], d[..., 2] * d[..., 3], union)
    return np.where(overlap, intersection / np.where(overlap, union, 1.0), 0.0)


def _last_argmax(values):
    """Index of the last maximum along the last axis (COCOeval keeps the last of equal IoUs)."""
    return values.shape[-1] - 1 - np.argmax(values[..., ::-1], axis=-1)


def _match_chunk(det_boxes, det_valid, gt_boxes, gt_valid, gt_ignore, gt_crowd, thresholds, rule):
    """Greedy matching for a chunk of (image, class) groups, all IoU thresholds at once.

    Shapes: det_boxes (c, D, 4), det_valid (c, D), gt_boxes (c, G, 4), gt_valid, gt_ignore
    and gt_crowd (c, G), thresholds (T,). Returns matched and matched-to-ignored, both (c, T, D).
    COCO: a crowd region (ignored) may be matched by any number of detections. VOC: a
    detection whose most-overlapping box is ignored ("difficult") is matched to it, ignored.
    """
    c, num_dets = det_valid.shape
    t = len(thresholds)
    matched = np.zeros((c, t, num_dets), bool)
    matched_ignored = np.zeros((c, t, num_dets), bool)
    if gt_boxes.shape[1] == 0:
        return matched, matched_ignored
    iou = np.where(gt_valid[:, None, :], _coco_iou(det_boxes, gt_boxes, gt_crowd), -np.inf)  # (c, D, G)
    taken = np.zeros((c, t, gt_boxes.shape[1]), bool)
    rows = np.arange(c)[:, None]
    columns = np.arange(t)[None, :]
    for d in range(num_dets):
        overlap = iou[:, d, :]  # (c, G)
        if rule == "coco":
            # the best overlapping ground truth not yet taken, regular ones before ignored ones
            above = ~taken & (overlap[:, None, :] >= thresholds[None, :, None])  # (c, T, G)
            regular = above & ~gt_ignore[:, None, :]
            ignored = above & gt_ignore[:, None, :]
            best_regular = _last_argmax(np.where(regular, overlap[:, None, :], -np.inf))
            best_ignored = _last_argmax(np.where(ignored, overlap[:, None, :], -np.inf))
            found_regular = regular.any(axis=-1)
            found_ignored = ignored.any(axis=-1) & ~found_regular
            best = np.where(found_regular, best_regular, best_ignored)
            found = (found_regular | found_ignored) & det_valid[:, d][:, None]
            matched_ignored[:, :, d] = found_ignored & found
            reusable = gt_crowd[rows, best]  # crowd regions are never used up
        else:  # voc: the most overlapping ground truth; a duplicate if it is taken already
            best_gt = np.argmax(overlap, axis=-1)  # (c,), first of ties (MATLAB's max)
            best_overlap = overlap[np.arange(c), best_gt]
            best = np.broadcast_to(best_gt[:, None], (c, t))
            difficult = gt_ignore[rows, best]
            hit = (best_overlap[:, None] >= thresholds[None, :]) & det_valid[:, d][:, None]
            found = hit & (~taken[rows, columns, best] | difficult)
            matched_ignored[:, :, d] = found & difficult
            reusable = difficult  # difficult boxes are never used up (the devkit never marks them)
        matched[:, :, d] = found
        taken[rows, columns, best] |= found & ~reusable
    return matched, matched_ignored


def _chunks(sizes, budget=2_000_000):
    """Split groups (sorted by size) into runs whose padded work ``count * D * G`` stays under budget."""
    start = 0
    n = len(sizes)
    while start < n:
        end = start + 1
        max_d, max_g = sizes[start]
        while end < n:
            d, g = max(max_d, sizes[end][0]), max(max_g, sizes[end][1])
            if (end - start + 1) * max(d, 1) * max(g, 1) > budget:
                break
            max_d, max_g = d, g
            end += 1
        yield start, end
        start = end


def _evaluate(predictions, ground_truth, *, format, iou_thresholds, max_detections, area_range, class_ids, rule,
              num_classes=None):
    format = check_format(format)
    dets = _parse(predictions, "predictions", format, with_scores=True)
    gts = _parse(ground_truth, "ground_truth", format, with_scores=False)
    if dets.num_images != gts.num_images:
        raise ValueError(
            f"predictions and ground_truth must cover the same images: {dets.num_images} and {gts.num_images}"
        )
    thresholds = np.asarray(iou_thresholds, dtype=np.float64).ravel()
    if thresholds.size == 0 or np.any((thresholds < 0) | (thresholds > 1)):
        raise ValueError(f"iou_thresholds must be numbers in [0, 1], got {thresholds.tolist()}")
    low, high = area_range

    # ground truth: COCO ignores crowd regions and boxes whose area (the annotation's "area" if
    # given) is outside the range; VOC ignores "difficult" boxes. Classes = those with regular gt.
    none = np.zeros(len(gts.labels), bool)
    if rule == "coco":
        gt_area = gts.extras.get("area", gts.boxes[:, 2] * gts.boxes[:, 3])
        gt_crowd = gts.extras.get("iscrowd", none)
        gt_ignore = gt_crowd | (gt_area < low) | (gt_area > high)
    else:
        gt_crowd = none
        gt_ignore = gts.extras.get("difficult", none)
    seen = np.union1d(gts.labels, dets.labels)
    if num_classes is not None:
        if seen.size and seen.max() >= num_classes:
            raise ValueError(f"labels must be < num_classes = {num_classes}, got {int(seen.max())}")
        seen = np.arange(num_classes)
    if class_ids is not None:
        seen = np.intersect1d(seen, np.asarray(class_ids, dtype=np.int64))
    classes = np.unique(gts.labels[~gt_ignore])
    if class_ids is not None:
        classes = np.intersect1d(classes, np.asarray(class_ids, dtype=np.int64))
    num_classes = len(classes)
    gt_keep = np.isin(gts.labels, classes)
    det_keep = np.isin(dets.labels, classes)
    gt_class = np.searchsorted(classes, gts.labels[gt_keep])
    det_class = np.searchsorted(classes, dets.labels[det_keep])
    gt_image, gt_boxes, gt_ignore = gts.image[gt_keep], gts.boxes[gt_keep], gt_ignore[gt_keep]
    gt_crowd = gt_crowd[gt_keep]
    det_image, det_boxes = dets.image[det_keep], dets.boxes[det_keep]
    det_scores, det_position = dets.scores[det_keep], dets.position[det_keep]
    num_gt = np.bincount(gt_class[~gt_ignore], minlength=num_classes).astype(np.int64)

    # groups = (image, class). Detections: best score first, input order on ties; top max_detections.
    det_order = np.lexsort((det_position, -det_scores, det_class, det_image))
    det_key = (det_image * num_classes + det_class)[det_order]
    det_boxes, det_scores = det_boxes[det_order], det_scores[det_order]
    det_image, det_class = det_image[det_order], det_class[det_order]
    group_keys, group_start, group_size = np.unique(det_key, return_index=True, return_counts=True)
    rank = np.arange(len(det_key)) - np.repeat(group_start, group_size)
    if max_detections is not None:
        top = rank < max_detections
        det_key, det_boxes, det_scores = det_key[top], det_boxes[top], det_scores[top]
        det_image, det_class, rank = det_image[top], det_class[top], rank[top]
        group_keys, group_start, group_size = np.unique(det_key, return_index=True, return_counts=True)
    # Ground truth: regular before ignored, input order otherwise (COCOeval's order).
    gt_order = np.lexsort((np.arange(len(gt_class)), gt_ignore, gt_class, gt_image))
    gt_key = (gt_image * num_classes + gt_class)[gt_order]
    gt_boxes, gt_ignore, gt_crowd = gt_boxes[gt_order], gt_ignore[gt_order], gt_crowd[gt_order]
    gt_first = np.searchsorted(gt_key, group_keys, side="left")
    gt_count = np.searchsorted(gt_key, group_keys, side="right") - gt_first

    num_t = len(thresholds)
    matched = np.zeros((num_t, len(det_key)), bool)
    matched_ignored = np.zeros((num_t, len(det_key)), bool)
    effective = np.minimum(thresholds, 1 - 1e-10) if rule == "coco" else thresholds
    by_size = np.lexsort((group_size, gt_count))
    sizes = list(zip(group_size[by_size].tolist(), gt_count[by_size].tolist()))
    for start, end in _chunks(sizes):
        groups = by_size[start:end]
        max_d, max_g = int(group_size[groups].max()), int(gt_count[groups].max())
        d_index = group_start[groups][:, None] + np.arange(max_d)[None, :]
        d_valid = np.arange(max_d)[None, :] < group_size[groups][:, None]
        d_index = np.where(d_valid, d_index, 0)
        g_index = gt_first[groups][:, None] + np.arange(max_g)[None, :]
        g_valid = np.arange(max_g)[None, :] < gt_count[groups][:, None]
        g_index = np.where(g_valid, g_index, 0)
        if len(gt_key) == 0:
            g_box = np.zeros((len(groups), 0, 4))
            g_ign = g_crowd = np.zeros((len(groups), 0), bool)
        else:
            g_box, g_ign, g_crowd = gt_boxes[g_index], gt_ignore[g_index] & g_valid, gt_crowd[g_index] & g_valid
        m, mi = _match_chunk(det_boxes[d_index], d_valid, g_box, g_valid, g_ign, g_crowd, effective, rule)
        flat = d_index[d_valid]
        matched[:, flat] = np.moveaxis(m, 1, 0)[:, d_valid]
        matched_ignored[:, flat] = np.moveaxis(mi, 1, 0)[:, d_valid]
    # unmatched detections outside the area range are ignored (COCOeval)
    det_area = det_boxes[:, 2] * det_boxes[:, 3]
    ignored = matched_ignored | (~matched & ((det_area < low) | (det_area > high))[None, :])
    matched = matched & ~matched_ignored

    # accumulate per class over images: by score, then image, then rank (COCOeval's order)
    order = np.lexsort((rank, det_image, -det_scores, det_class))
    det_class, det_scores = det_class[order], det_scores[order]
    matched, ignored = matched[:, order], ignored[:, order]
    bounds = np.searchsorted(det_class, np.arange(num_classes + 1))
    return dict(
        classes=classes, thresholds=thresholds, num_gt=num_gt, bounds=bounds,
        scores=det_scores, matched=matched, ignored=ignored, all_classes=np.union1d(seen, classes),
    )


def _envelope(precision):
    """Best precision at this point or later, along the last axis."""
    return np.flip(np.maximum.accumulate(np.flip(precision, -1), axis=-1), -1)


def _curve(class_id, threshold, scores, recall, precision, true_positive, keep, num_gt, ap):
    """The curve of one class; ``keep`` drops the detections COCO ignores."""
    return PrecisionRecallCurve(
        class_id=int(class_id),
        iou_threshold=float(threshold),
        scores=scores[keep],
        recall=recall[keep],
        precision=precision[keep],
        interpolated_precision=_envelope(precision[keep]) if keep.any() else precision[keep],
        true_positive=true_positive[keep],
        num_ground_truth=int(num_gt),
        average_precision=float(ap),
    )


# ----------------------------------------------------------------------------- public


def coco_average_precision(
    predictions,
    ground_truth,
    *,
    format: str = "xyxy",
    iou_thresholds=COCO_IOU_THRESHOLDS,
    max_detections: int | None = 100,
    area_range=COCO_AREA_ALL,
    class_ids=None,
    num_classes: int | None = None,
) -> DetectionEvaluation:
    """COCO mean average precision, mAP@[0.5:0.95] with 101-point interpolation (NumPy).

    Equals ``pycocotools``' ``COCOeval(iouType="bbox")``: ``result.mean_ap`` is
    ``stats[0]``, ``result.ap_at(0.5)`` is ``stats[1]``, ``result.ap_at(0.75)`` ``stats[2]``,
    and ``result.precision`` is ``eval["precision"][:, :, :, 0, -1]`` with the columns
    of classes without ground truth left out. Boxes are compared as COCO does, in
    ``xywh`` layout.

    Args:
        predictions: dict ``{"boxes": (B, N, 4), "labels": (B, N), "scores": (B, N)}``,
            padded with label -1 (single image: ``(N, 4), (N,), (N,)``; or lists of
            per-image arrays).
        ground_truth: dict ``{"boxes": (B, M, 4), "labels": (B, M)}``, padded with -1.
        format: box format of both.
        iou_thresholds: the IoU thresholds to average over (``[0.5]`` gives AP50).
        max_detections: detections kept per image and class, best first (COCO: 100;
            ``None``: all).
        area_range: ``(low, high)`` in squared pixels; ground truth outside is ignored and
            so are unmatched detections outside (COCO "all": ``(0, 1e10)``; "small":
            ``(0, 32**2)``).
        class_ids: evaluate only these classes (default: every class in either dict).
        num_classes: report classes ``0 .. num_classes - 1`` (labels must be below it).

    ``ground_truth`` may hold ``"iscrowd"`` and ``"area"`` ``(B, M)`` (see the module docstring).

    Returns:
        a :class:`DetectionEvaluation` (``mean_ap``, ``ap_per_class``, ``curves``, ...);
        classes without ground truth have AP, precision and recall -1 (COCOeval's arrays).

    Example:
        >>> gt = {"boxes": [[0, 0, 10, 10]], "labels": [0]}
        >>> pred = {"boxes": [[0, 0, 10, 9], [50, 50, 60, 60]], "labels": [0, 0], "scores": [0.9, 0.8]}
        >>> round(coco_average_precision(pred, gt).mean_ap, 4)   # IoU 0.9: a hit at 0.5 ... 0.9
        0.9
    """
    if max_detections is not None:
        max_detections = check_positive_int("max_detections", max_detections)
    low, high = (float(v) for v in area_range)
    r = _evaluate(
        predictions, ground_truth, format=format, iou_thresholds=iou_thresholds, max_detections=max_detections,
        area_range=(low, high), class_ids=class_ids, rule="coco", num_classes=_num_classes(num_classes),
    )
    classes, thresholds, num_gt, bounds = r["classes"], r["thresholds"], r["num_gt"], r["bounds"]
    num_t, num_r, num_k = len(thresholds), len(COCO_RECALL_THRESHOLDS), len(classes)
    precision_at = np.zeros((num_t, num_r, num_k))
    recall = np.zeros((num_t, num_k))
    curves = {}
    for k in range(num_k):
        part = slice(bounds[k], bounds[k + 1])
        matched, ignored = r["matched"][:, part], r["ignored"][:, part]
        tp = np.cumsum(matched & ~ignored, axis=1).astype(float)
        fp = np.cumsum(~matched & ~ignored, axis=1).astype(float)
        rc = tp / num_gt[k]
        pr = tp / (fp + tp + np.spacing(1))
        envelope = _envelope(pr)
        count = tp.shape[1]
        for t in range(num_t):
            if count:
                recall[t, k] = rc[t, -1]
            index = np.searchsorted(rc[t], COCO_RECALL_THRESHOLDS, side="left")
            inside = index < count
            precision_at[t, inside, k] = envelope[t, index[inside]]
        ap_k0 = precision_at[0, :, k].mean()
        curves[int(classes[k])] = _curve(
            classes[k], thresholds[0], r["scores"][part], rc[0], pr[0],
            matched[0] & ~ignored[0], ~ignored[0], num_gt[k], ap_k0,
        )
    return _with_every_class(DetectionEvaluation(
        class_ids=classes,
        iou_thresholds=thresholds,
        ap=precision_at.mean(axis=1),
        recall=recall,
        num_ground_truth=num_gt,
        curves=curves,
        precision=precision_at,
        recall_thresholds=COCO_RECALL_THRESHOLDS.copy(),
        convention="coco",
    ), r["all_classes"])


def _num_classes(value):
    return None if value is None else check_positive_int("num_classes", value)


def _with_every_class(result: DetectionEvaluation, all_classes) -> DetectionEvaluation:
    """``result`` (over the classes with ground truth) widened to ``all_classes``, -1 where a class has none."""
    all_classes = np.asarray(all_classes, np.int64)
    where = np.searchsorted(all_classes, result.class_ids)
    t, k = len(result.iou_thresholds), len(all_classes)
    ap = np.full((t, k), -1.0)
    recall = np.full((t, k), -1.0)
    num_gt = np.zeros(k, np.int64)
    ap[:, where], recall[:, where], num_gt[where] = result.ap, result.recall, result.num_ground_truth
    precision = None
    if result.precision is not None:
        precision = np.full((t, result.precision.shape[1], k), -1.0)
        precision[:, :, where] = result.precision
    curves = dict(result.curves)
    empty = np.zeros(0)
    for class_id in all_classes[num_gt == 0]:
        curves[int(class_id)] = PrecisionRecallCurve(
            int(class_id), float(result.iou_thresholds[0]), empty, empty, empty, empty, np.zeros(0, bool), 0, -1.0
        )
    return replace(result, class_ids=all_classes, ap=ap, recall=recall, num_ground_truth=num_gt, precision=precision,
                   curves=curves)


def voc_average_precision(
    predictions,
    ground_truth,
    *,
    format: str = "xyxy",
    iou_threshold: float = 0.5,
    interpolation: str = "all_points",
    class_ids=None,
    num_classes: int | None = None,
) -> DetectionEvaluation:
    """PASCAL VOC average precision at one IoU threshold (AP@0.5 by default), per class and mean.

    Follows the VOC development kit (``VOCevaldet``): detections of a class, over all
    images, by decreasing score; each is matched to the ground-truth box it overlaps most,
    and is a true positive if that overlap is >= ``iou_threshold`` and the box is not
    taken yet (a second detection of it is a false positive). Boxes flagged
    ``ground_truth["difficult"]`` are not counted, and a detection whose best box is
    difficult is neither TP nor FP (as in the kit). Difference from the kit: coordinates are
    continuous (no "+1" pixel); the overlap test is ``>=`` (the MATLAB ``VOCevaldet``;
    ``voc_eval.py`` writes ``>``).

    Args:
        predictions: dict ``{"boxes", "labels", "scores"}`` as for :func:`coco_average_precision`.
        ground_truth: dict ``{"boxes", "labels"}``, padded with -1.
        format: box format of both.
        iou_threshold: the IoU a detection needs (VOC: 0.5).
        interpolation: ``"all_points"`` (VOC 2010+: the exact area under the precision
            envelope) or ``"11_points"`` (VOC 2007: mean of the envelope at recall 0, 0.1, ..., 1).
        class_ids: evaluate only these classes (default: every class in either dict).
        num_classes: report classes ``0 .. num_classes - 1`` (labels must be below it).

    Returns:
        a :class:`DetectionEvaluation` with one IoU threshold; AP -1 for classes without
        (non-difficult) ground truth.

    Example:
        >>> gt = {"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 0]}
        >>> pred = {"boxes": [[0, 0, 10, 10], [0, 0, 10, 10]], "labels": [0, 0], "scores": [0.9, 0.8]}
        >>> voc_average_precision(pred, gt).mean_ap   # one hit, one duplicate: recall stops at 1/2
        0.5
    """
    if interpolation not in ("all_points", "11_points"):
        raise ValueError(f"interpolation must be 'all_points' or '11_points', got {interpolation!r}")
    r = _evaluate(
        predictions, ground_truth, format=format, iou_thresholds=[iou_threshold], max_detections=None,
        area_range=(-np.inf, np.inf), class_ids=class_ids, rule="voc", num_classes=_num_classes(num_classes),
    )
    classes, thresholds, num_gt, bounds = r["classes"], r["thresholds"], r["num_gt"], r["bounds"]
    ap = np.zeros((1, len(classes)))
    recall = np.zeros((1, len(classes)))
    curves = {}
    for k in range(len(classes)):
        part = slice(bounds[k], bounds[k + 1])
        keep = ~r["ignored"][0, part]  # detections of "difficult" boxes: neither TP nor FP
        true_positive = r["matched"][0, part][keep]
        tp = np.cumsum(true_positive).astype(float)
        fp = np.cumsum(~true_positive).astype(float)
        rc = tp / num_gt[k]
        pr = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        if interpolation == "all_points":
            mrec = np.concatenate([[0.0], rc, [1.0]])
            mpre = _envelope(np.concatenate([[0.0], pr, [0.0]]))
            steps = np.flatnonzero(mrec[1:] != mrec[:-1])
            ap[0, k] = np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1])
        else:
            levels = np.arange(0.0, 1.1, 0.1)  # recall 0, 0.1, ..., 1
            ap[0, k] = np.mean([pr[rc >= level].max() if np.any(rc >= level) else 0.0 for level in levels])
        recall[0, k] = rc[-1] if rc.size else 0.0
        curves[int(classes[k])] = _curve(
            classes[k], thresholds[0], r["scores"][part][keep], rc, pr, true_positive,
            np.ones_like(true_positive), num_gt[k], ap[0, k],
        )
    return _with_every_class(DetectionEvaluation(
        class_ids=classes,
        iou_thresholds=thresholds,
        ap=ap,
        recall=recall,
        num_ground_truth=num_gt,
        curves=curves,
        convention="voc",
    ), r["all_classes"])


#: COCO's area ranges for ``summarize()`` (squared pixels; bounds inclusive, as in COCOeval).
COCO_AREA_RANGES = {"all": COCO_AREA_ALL, "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2),
                    "large": (96.0**2, 1e5**2)}


@dataclass(frozen=True)
class CocoSummary:
    """COCOeval's 12 summary numbers and lines (``COCOeval.summarize()``), from :func:`coco_summary`.

    Attributes:
        stats: float64 ``(12,)``, ``COCOeval.stats``: AP@[.5:.95], AP50, AP75, AP small,
            medium, large (100 detections), AR with 1, 10, 100 detections, AR small, medium,
            large; -1 where nothing can be averaged.
        lines: the 12 lines COCOeval prints, character for character.
    """

    stats: np.ndarray
    lines: tuple

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _valid_mean(values) -> float:
    values = np.asarray(values)
    values = values[values > -1]
    return float(values.mean()) if values.size else -1.0


def coco_summary(predictions, ground_truth, *, format: str = "xyxy", num_classes: int | None = None) -> CocoSummary:
    """The 12 numbers and lines of ``COCOeval.summarize()`` (``iouType="bbox"``), same values, same format.

    Args:
        predictions, ground_truth: as for :func:`coco_average_precision` (``ground_truth`` may
            hold ``"iscrowd"`` and ``"area"``).
        format: box format of both.
        num_classes: as for :func:`coco_average_precision`.

    Returns:
        a :class:`CocoSummary`; ``print(summary)`` prints what COCOeval prints.
    """
    def run(area, max_detections, thresholds=COCO_IOU_THRESHOLDS):
        return coco_average_precision(predictions, ground_truth, format=format, iou_thresholds=thresholds,
                                      max_detections=max_detections, area_range=COCO_AREA_RANGES[area],
                                      num_classes=num_classes)

    full = run("all", 100)
    by_area = {area: run(area, 100) for area in ("small", "medium", "large")}
    by_count = {count: run("all", count) for count in (1, 10)}
    at = {threshold: int(np.flatnonzero(np.isclose(COCO_IOU_THRESHOLDS, threshold))[0]) for threshold in (0.5, 0.75)}
    rows = [  # (AP?, IoU threshold or None, area, max detections, value)
        (True, None, "all", 100, _valid_mean(full.precision)),
        (True, 0.5, "all", 100, _valid_mean(full.precision[at[0.5]])),
        (True, 0.75, "all", 100, _valid_mean(full.precision[at[0.75]])),
        *[(True, None, area, 100, _valid_mean(by_area[area].precision)) for area in ("small", "medium", "large")],
        (False, None, "all", 1, _valid_mean(by_count[1].recall)),
        (False, None, "all", 10, _valid_mean(by_count[10].recall)),
        (False, None, "all", 100, _valid_mean(full.recall)),
        *[(False, None, area, 100, _valid_mean(by_area[area].recall)) for area in ("small", "medium", "large")],
    ]
    lines = []
    for is_ap, threshold, area, count, value in rows:
        title, kind = ("Average Precision", "(AP)") if is_ap else ("Average Recall", "(AR)")
        iou = f"{COCO_IOU_THRESHOLDS[0]:0.2f}:{COCO_IOU_THRESHOLDS[-1]:0.2f}" if threshold is None else f"{threshold:0.2f}"
        lines.append(f" {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6s} | maxDets={count:>3d} ] = {value:0.3f}")
    return CocoSummary(stats=np.array([row[-1] for row in rows]), lines=tuple(lines))
