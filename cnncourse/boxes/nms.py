"""Non-maximum suppression (NMS): one box per object.

A detector fires many overlapping boxes on each object. The rule of the lecture (deck 001,
"Reducing #boxes at test time"):

1. label each box by its class score = class probability x objectness
   (:func:`detection_scores`);
2. discard boxes with low scores (``score_threshold``);
3. repeat until no box is left: output the box ``b`` with the highest score, and
   discard every remaining box *of the same class* whose IoU with ``b`` is >= 0.5
   (``iou_threshold``).

:func:`nms_reference` is that loop, written plainly in NumPy, for one image: the reference
a student's code is checked against. :func:`batched_nms` does the same for a batch with
TensorFlow's ``tf.image.combined_non_max_suppression`` and returns Keras-style padded
results (-1 where there is no detection). Both follow the same conventions, so they agree:

- a box is suppressed when IoU >= ``iou_threshold`` (``tf.image`` ops suppress only when
  IoU > threshold; :func:`batched_nms` passes the next float below, so a box at exactly the
  threshold is suppressed in both);
- a box is kept by the score filter when score >= ``score_threshold``;
- equal scores: the box that comes first in the input wins;
- the kept boxes are listed by decreasing score, at most ``max_detections`` of them.
"""

from __future__ import annotations

import numpy as np

from cnncourse.boxes.formats import check_format, convert_format_tf, tensor_to_xyxy, to_xyxy
from cnncourse.boxes.iou import box_iou


def detection_scores(objectness, class_probabilities):
    """Class score of each box = class probability x objectness; label = the best class.

    Args:
        objectness: array ``(..., N)``: the probability that box ``i`` holds an object.
        class_probabilities: array ``(..., N, C)``: class probabilities given an object.

    Returns:
        ``(scores, labels)``: float64 ``(..., N)`` (the best class score of each box) and
        int64 ``(..., N)`` (its class).

    Example:
        >>> detection_scores([0.5, 1.0], [[0.2, 0.8], [0.9, 0.1]])
        (array([0.4, 0.9]), array([1, 0]))
    """
    objectness = np.asarray(objectness, dtype=np.float64)
    probabilities = np.asarray(class_probabilities, dtype=np.float64)
    if probabilities.ndim < 2 or probabilities.shape[:-1] != objectness.shape:
        raise ValueError(
            f"class_probabilities must have shape (..., N, C) with (..., N) = objectness.shape "
            f"{objectness.shape}, got {probabilities.shape}"
        )
    if probabilities.shape[-1] == 0:
        raise ValueError("class_probabilities must have at least one class (C >= 1)")
    if not (np.all(np.isfinite(objectness)) and np.all(np.isfinite(probabilities))):
        raise ValueError("objectness and class_probabilities must be finite, got NaN or inf")
    class_scores = probabilities * objectness[..., None]
    labels = class_scores.argmax(axis=-1)
    return np.take_along_axis(class_scores, labels[..., None], axis=-1)[..., 0], labels


def _check_scores_labels(scores, labels, n):
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n,):
        raise ValueError(f"scores must have shape (N,) = ({n},), one per box, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite, got NaN or inf")
    if labels is None:
        return scores, np.zeros(n, np.int64)
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape (N,) = ({n},), one per box, got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise ValueError(f"labels must be integers, got {labels.dtype} values like {labels[:3].tolist()}")
    return scores, labels.astype(np.int64)


def _check_threshold(value, name, optional=False):
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def nms_reference(
    boxes,
    scores,
    labels=None,
    iou_threshold: float = 0.5,
    score_threshold: float | None = None,
    max_detections: int | None = None,
    format: str = "xyxy",
) -> np.ndarray:
    """Non-maximum suppression by hand, for one image (NumPy): the deck-001 rule.

    Args:
        boxes: array ``(N, 4)`` in ``format``.
        scores: array ``(N,)``: each box's score (see :func:`detection_scores`).
        labels: array ``(N,)`` of integer classes; ``None`` treats all boxes as one class.
            Boxes with label -1 (padding) are dropped.
        iou_threshold: a box is dropped when its IoU with a kept box of its class is >= this.
        score_threshold: boxes with a score below this are dropped first (``None``: keep all).
        max_detections: keep at most this many (``None``: no limit).
        format: box format of ``boxes``.

    Returns:
        int64 array ``(K,)``: indices into ``boxes`` of the kept boxes, best score first.

    Example:
        >>> boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30]]
        >>> nms_reference(boxes, scores=[0.9, 0.8, 0.7, 0.6], labels=[0, 0, 1, 0])
        array([0, 2, 3])
    """
    xyxy = to_xyxy(boxes, format, "boxes", ndim=2)
    scores, labels = _check_scores_labels(scores, labels, xyxy.shape[0])
    _check_threshold(iou_threshold, "iou_threshold")
    _check_threshold(score_threshold, "score_threshold", optional=True)
    candidates = labels != -1
    if score_threshold is not None:
        candidates &= scores >= score_threshold
    # best score first; equal scores keep their input order (a stable sort)
    order = [int(i) for i in np.argsort(-scores, kind="stable") if candidates[i]]
    keep: list[int] = []
    while order and (max_detections is None or len(keep) < max_detections):
        best = order.pop(0)
        keep.append(best)
        if not order:
            break
        rest = np.array(order)
        overlaps = box_iou(xyxy[best], xyxy[rest])  # (len(rest),)
        same_class = labels[rest] == labels[best]
        order = [int(i) for i in rest[~(same_class & (overlaps >= iou_threshold))]]
    return np.array(keep, dtype=np.int64)


def _float32_below(value: float) -> float:
    """The largest float32 strictly below ``value`` (turns TF's ``>`` into ``>=``)."""
    return float(np.nextafter(np.float32(value), np.float32(-np.inf)))


def batched_nms(
    boxes,
    scores,
    labels=None,
    iou_threshold: float = 0.5,
    score_threshold: float | None = None,
    max_detections: int = 100,
    max_detections_per_class: int | None = None,
    num_classes: int | None = None,
    format: str = "xyxy",
):
    """Per-class NMS for a batch of images with ``tf.image.combined_non_max_suppression``.

    Two ways to give the scores:

    - ``scores`` ``(B, N)`` with ``labels`` ``(B, N)``: one class per box (YOLO after
      :func:`detection_scores`); this is the deck-001 rule and matches
      :func:`nms_reference` image by image. Labels -1 mark padding.
    - ``scores`` ``(B, N, C)`` and ``labels=None``: a score for every class (RetinaNet, SSD);
      each (box, class) pair is a candidate, NMS runs per class.
    - ``scores`` ``(B, N)`` and ``labels=None``: class-agnostic NMS (every box class 0).

    Args:
        boxes: tensor/array ``(B, N, 4)`` in ``format``, or ``(B, N, C, 4)`` (one box per
            class) with ``(B, N, C)`` scores. A single image ``(N, 4)`` is accepted too
            (then the outputs have no batch axis).
        scores: ``(B, N)`` or ``(B, N, C)``, see above.
        labels: ``(B, N)`` integer classes, or ``None``.
        iou_threshold: suppress a box whose IoU with a kept box of its class is >= this.
        score_threshold: drop candidates whose score is below this (``None``: none).
        max_detections: number of detections returned per image (the padded length).
        max_detections_per_class: cap per class per image (``None``: ``max_detections``).
        num_classes: the number of classes ``C`` when ``labels`` are given; ``None`` reads
            ``max(labels) + 1`` (fine when eager; pass it inside a ``tf.function``).
        format: box format of ``boxes`` and of the returned boxes.

    Returns:
        dict of tensors, padded with -1 after the ``num_detections`` real ones, best first:
        ``"boxes"`` ``(B, max_detections, 4)`` float32 in ``format``,
        ``"scores"`` ``(B, max_detections)`` float32, ``"labels"`` ``(B, max_detections)``
        int32, ``"num_detections"`` ``(B,)`` int32. Feed it to
        :func:`cnncourse.boxes.coco_average_precision` as the predictions.

    Not XLA-compatible (``tf.image``'s NMS kernels are CPU/GPU ops): call it outside
    ``jit_compile=True`` code, e.g. in a layer used only at inference.

    Speed: one call for the whole batch. TensorFlow's combined kernel runs one NMS per
    class, so with many classes (80) it is slower than one ``tf.image.non_max_suppression``
    per image on boxes shifted by ``class x image size`` (the "offset trick"; see
    ``benchmarks/bench_boxes.py``). That trick adds up to ``C x`` the image size to float32
    coordinates, which rounds them, so near the threshold it can disagree with
    :func:`nms_reference`; this function compares the boxes as given.
    """
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    format = check_format(format)
    if not (isinstance(max_detections, (int, np.integer)) and max_detections >= 1):
        raise ValueError(f"max_detections must be a positive integer, got {max_detections!r}")
    per_class = max_detections if max_detections_per_class is None else int(max_detections_per_class)
    _check_threshold(iou_threshold, "iou_threshold")
    _check_threshold(score_threshold, "score_threshold", optional=True)
    boxes = tf.convert_to_tensor(boxes)
    scores = tf.cast(tf.convert_to_tensor(scores), tf.float32)
    unbatched = boxes.shape.rank == 2
    if unbatched:
        boxes, scores = boxes[None], scores[None]
        labels = None if labels is None else tf.convert_to_tensor(labels)[None]
    if labels is None and scores.shape.rank == 2:  # one score per box, no classes: one class
        labels = tf.zeros(tf.shape(scores), tf.int32)
    xyxy = tf.cast(tensor_to_xyxy(boxes, format), tf.float32)
    if labels is not None:
        if xyxy.shape.rank != 3 or scores.shape.rank != 2:
            raise ValueError(
                f"with labels, boxes must be (B, N, 4) and scores (B, N); got {tuple(boxes.shape)} "
                f"and {tuple(scores.shape)}"
            )
        labels = tf.cast(tf.convert_to_tensor(labels), tf.int32)
        depth = num_classes if num_classes is not None else tf.maximum(tf.reduce_max(labels) + 1, 1)
        one_hot = tf.one_hot(labels, depth, on_value=True, off_value=False, dtype=tf.bool)  # -1 -> all False
        class_scores = tf.where(one_hot, scores[..., None], tf.constant(-np.inf, tf.float32))
    else:
        if scores.shape.rank != 3:
            raise ValueError(f"without labels, scores must have shape (B, N, C), got {tuple(scores.shape)}")
        class_scores = scores
    if xyxy.shape.rank == 3:
        xyxy = xyxy[:, :, None, :]  # (B, N, 1, 4): the same box for every class
    elif xyxy.shape.rank != 4:
        raise ValueError(f"boxes must have shape (B, N, 4) or (B, N, C, 4), got {tuple(boxes.shape)}")
    low = _float32_below(score_threshold) if score_threshold is not None else float(np.finfo(np.float32).min)
    result = tf.image.combined_non_max_suppression(
        xyxy,
        class_scores,
        max_output_size_per_class=per_class,
        max_total_size=int(max_detections),
        iou_threshold=_float32_below(iou_threshold),
        score_threshold=low,
        pad_per_class=False,
        clip_boxes=False,
    )
    count = result.valid_detections
    real = tf.sequence_mask(count, int(max_detections))
    out_boxes = result.nmsed_boxes
    if format != "xyxy":
        out_boxes = convert_format_tf(out_boxes, "rel_xyxy" if format.startswith("rel_") else "xyxy", format)
    output = {
        "boxes": tf.where(real[..., None], out_boxes, -1.0),
        "scores": tf.where(real, result.nmsed_scores, -1.0),
        "labels": tf.where(real, tf.cast(result.nmsed_classes, tf.int32), -1),
        "num_detections": count,
    }
    if unbatched:
        output = {key: value[0] for key, value in output.items()}
    return output
