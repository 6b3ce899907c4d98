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
a student's code is checked against. :func:`batched_nms` does the same for one image or a
batch with TensorFlow's ``tf.image.non_max_suppression`` kernel, one call per class present,
all in one compiled graph, and returns Keras-style padded results (-1 where there is no
detection). Both follow the same rules, so they agree:

- a box is suppressed when its IoU with a kept box of its class is >= ``iou_threshold``
  (``tf.image`` suppresses only when IoU > threshold; :func:`batched_nms` passes the float32
  just below, so a box exactly at the threshold is suppressed in both). In particular
  ``iou_threshold=0`` keeps one box per class, the best (IoU >= 0 holds for every pair),
  and ``iou_threshold=1`` drops only exact duplicates;
- a box is kept by the score filter when score >= ``score_threshold`` (the threshold rounded
  to the scores' dtype: a float32 score 0.7 passes ``score_threshold=0.7``);
- equal scores: the box that comes first in the input wins, within a class and across
  classes (the output lists tied boxes in input order, whatever their class);
- the kept boxes are listed by decreasing score, at most ``max_detections`` of them.

Precision: :func:`nms_reference` computes IoU in float64. :func:`batched_nms` orders the
boxes by their float64 scores itself (so ties and near-ties are decided exactly), and lets
``tf.image`` compute the IoU in float32 from float32 corners. For float32 ``xyxy`` input
the float32 IoU is within ``1e-6`` (relative) of the float64 one, so the two functions keep
the same boxes unless some same-class IoU lies within ``1e-6 * iou_threshold`` of the
threshold (``tests/test_boxes_nms.py`` checks this bound). Boxes on a pixel grid (integers)
have exact IoUs in both.

Why one ``tf.image.non_max_suppression`` call per class, not the "offset trick" (shift the
boxes of class ``c`` by ``c x (max coordinate + 1)`` and run one NMS): the shift rounds
float32 coordinates (for 80 classes of boxes in a 1000-pixel image, by up to 2**-7 px),
which changes IoUs near the threshold, so the result would no longer be the per-class rule.
Inside one graph the per-class calls cost little (``benchmarks/bench_boxes.py``).
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_float, check_positive_int
from cnncourse.boxes.formats import check_boxes, check_format, tensor_to_xyxy, to_xyxy
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



def _check_labels(labels, shape, num_classes=None, name="labels") -> np.ndarray:
    """Integer class ids of ``shape``, each -1 (padding) or in ``[0, num_classes)``; returned as int64."""
    labels = np.asarray(labels)
    if labels.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, one per box, got {labels.shape}")
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.number):
        raise TypeError(f"{name} must hold integer class ids, got dtype {labels.dtype}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not (np.all(np.isfinite(labels)) and np.all(labels == np.round(labels))):
            raise ValueError(f"{name} must be integers, got {labels.dtype} values like {labels.ravel()[:3].tolist()}")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < -1:
        raise ValueError(f"{name} must be class ids >= 0, or -1 for padding; got {int(labels.min())}")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"{name} must be < num_classes = {num_classes} (or -1 for padding); got {int(labels.max())}"
        )
    return labels


def _check_scores(scores, shape, name="scores") -> np.ndarray:
    scores = np.asarray(scores)
    if scores.dtype == bool or not np.issubdtype(scores.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if scores.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, one per box, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(scores))[0])
        raise ValueError(f"{name} must be finite, but {name}[{', '.join(map(str, where))}] = {scores[where]} (NaN or inf)")
    return scores


def _score_minimum(score_threshold, dtype) -> float:
    """The threshold rounded to the scores' float dtype, so that a score written as 0.7 passes 0.7."""
    if score_threshold is None:
        return -np.inf
    dtype = np.dtype(dtype)
    return float(np.asarray(score_threshold, dtype)) if np.issubdtype(dtype, np.floating) else score_threshold


def _check_thresholds(iou_threshold, score_threshold):
    """``iou_threshold`` in [0, 1]; ``score_threshold`` a finite number or ``None``."""
    iou_threshold = check_float("iou_threshold", iou_threshold, minimum=0.0, maximum=1.0)
    if score_threshold is not None:
        score_threshold = check_float("score_threshold", score_threshold)
    return iou_threshold, score_threshold


def nms_reference(
    boxes,
    scores,
    labels=None,
    iou_threshold: float = 0.5,
    score_threshold: float | None = None,
    max_detections: int | None = None,
    format: str = "xyxy",
) -> np.ndarray:
    """Non-maximum suppression by hand, for one image (NumPy, float64): the deck-001 rule.

    Args:
        boxes: array ``(N, 4)`` in ``format``.
        scores: array ``(N,)``: each box's score (see :func:`detection_scores`).
        labels: array ``(N,)`` of integer classes; ``None`` treats all boxes as one class.
            Boxes with label -1 (padding) are dropped.
        iou_threshold: in ``[0, 1]``; a box is dropped when its IoU with a kept box of its
            class is >= this (so 0 keeps one box per class).
        score_threshold: boxes with a score below this are dropped first (``None``: keep all).
        max_detections: keep at most this many (``None``: no limit).
        format: box format of ``boxes``.

    Returns:
        int64 array ``(K,)``: indices into ``boxes`` of the kept boxes, best score first;
        equal scores in input order.

    Raises:
        ValueError: NaN scores, labels below -1, a threshold outside its range, bad boxes.

    Example:
        >>> boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30]]
        >>> nms_reference(boxes, scores=[0.9, 0.8, 0.7, 0.6], labels=[0, 0, 1, 0])
        array([0, 2, 3])
    """
    xyxy = to_xyxy(boxes, format, "boxes", ndim=2)
    n = xyxy.shape[0]
    score_dtype = np.asarray(scores).dtype
    scores = _check_scores(scores, (n,))
    labels = np.zeros(n, np.int64) if labels is None else _check_labels(labels, (n,))
    iou_threshold, score_threshold = _check_thresholds(iou_threshold, score_threshold)
    if max_detections is not None:
        max_detections = check_positive_int("max_detections", max_detections)
    candidates = labels != -1
    if score_threshold is not None:
        candidates &= scores >= _score_minimum(score_threshold, score_dtype)
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


def _float32_just_below(value: float) -> float:
    """The largest float32 ``f`` with ``x > f`` <=> ``x >= value`` for every float32 ``x``.

    ``tf.image`` suppresses when IoU > threshold; given this number it suppresses when the
    float32 IoU is >= ``value`` (``value`` need not be a float32 itself).
    """
    ceiling = np.float32(value)
    if float(ceiling) < value:
        ceiling = np.nextafter(ceiling, np.float32(np.inf))
    return float(np.nextafter(ceiling, np.float32(-np.inf)))


_NMS_GRAPH = None


def _nms_graph():
    """The compiled per-image, per-class NMS (built on first use; one trace for all shapes)."""
    global _NMS_GRAPH
    if _NMS_GRAPH is not None:
        return _NMS_GRAPH
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()

    def one_image(boxes, xyxy, scores, labels, iou_threshold, score_minimum, per_class, max_detections):
        # candidates by decreasing float64 score, input order on ties: their rank is their priority
        order = tf.argsort(-scores, stable=True)
        keep = tf.logical_and(labels >= 0, scores >= score_minimum)
        order = tf.boolean_mask(order, tf.gather(keep, order))  # (K,) indices, best first
        ranked_labels = tf.gather(labels, order)
        by_class = tf.argsort(ranked_labels, stable=True)  # ranks, grouped by class
        grouped = tf.gather(ranked_labels, by_class)
        count = tf.size(by_class)
        starts = tf.cast(tf.where(tf.concat([tf.ones([tf.minimum(count, 1)], tf.bool), grouped[1:] != grouped[:-1]], 0))[:, 0], tf.int32)
        ends = tf.concat([starts[1:], [count]], 0)
        classes = tf.size(starts)
        kept = tf.TensorArray(tf.int32, size=classes, infer_shape=False, element_shape=tf.TensorShape([None]))

        def body(i, kept):
            ranks = by_class[starts[i]:ends[i]]
            members = tf.gather(order, ranks)
            # the scores tf.image sees are minus the ranks: exact priorities, ties already broken
            chosen = tf.image.non_max_suppression(
                tf.gather(xyxy, members), -tf.cast(ranks, tf.float32), per_class, iou_threshold
            )
            return i + 1, kept.write(i, tf.gather(ranks, chosen))

        _, kept = tf.while_loop(lambda i, _: i < classes, body, (tf.constant(0), kept))
        ranks = tf.sort(kept.concat())[:max_detections]
        found = tf.size(ranks)
        indices = tf.gather(order, ranks)
        padding = max_detections - found
        minus_ones = -tf.ones([padding], tf.int32)
        return {
            "boxes": tf.concat([tf.gather(boxes, indices), -tf.ones([padding, 4], tf.float32)], 0),
            "scores": tf.concat([tf.cast(tf.gather(scores, indices), tf.float32), -tf.ones([padding], tf.float32)], 0),
            "labels": tf.concat([tf.gather(labels, indices), minus_ones], 0),
            "indices": tf.concat([indices, minus_ones], 0),
            "num_detections": found,
        }

    scalars = [tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float64), tf.TensorSpec([], tf.int32),
               tf.TensorSpec([], tf.int32)]

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None], tf.float64),
            tf.TensorSpec([None], tf.int32),
            *scalars,
        ]
    )
    def single(boxes, xyxy, scores, labels, iou_threshold, score_minimum, per_class, max_detections):
        return one_image(boxes, xyxy, scores, labels, iou_threshold, score_minimum, per_class, max_detections)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, 4], tf.float32),
            tf.TensorSpec([None, None, 4], tf.float32),
            tf.TensorSpec([None, None], tf.float64),
            tf.TensorSpec([None, None], tf.int32),
            *scalars,
        ]
    )
    def batch(boxes, xyxy, scores, labels, iou_threshold, score_minimum, per_class, max_detections):
        def image(args):
            return one_image(*args, iou_threshold, score_minimum, per_class, max_detections)

        signature = {
            "boxes": tf.TensorSpec([None, 4], tf.float32),
            "scores": tf.TensorSpec([None], tf.float32),
            "labels": tf.TensorSpec([None], tf.int32),
            "indices": tf.TensorSpec([None], tf.int32),
            "num_detections": tf.TensorSpec([], tf.int32),
        }
        return tf.map_fn(image, (boxes, xyxy, scores, labels), fn_output_signature=signature)

    _NMS_GRAPH = (single, batch)
    return _NMS_GRAPH


def _candidates_numpy(boxes, scores, labels, num_classes, format):
    """Eager inputs as NumPy candidates: ``(B, K, 4)`` boxes, float64 ``(B, K)`` scores, int64 labels."""
    boxes = np.asarray(boxes)
    if boxes.dtype == bool or not np.issubdtype(boxes.dtype, np.number):
        raise TypeError(f"boxes must hold numbers, got dtype {boxes.dtype}")
    scores = np.asarray(scores)
    score_dtype = scores.dtype
    if boxes.ndim not in (2, 3, 4) or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), (B, N, 4) or (B, N, C, 4), got {boxes.shape}")
    unbatched = boxes.ndim == 2
    if unbatched:
        boxes, scores = boxes[None], scores[None]
        labels = None if labels is None else np.asarray(labels)[None]
    if labels is not None:
        if boxes.ndim != 3 or scores.ndim != 2:
            raise ValueError(f"with labels, boxes must be (B, N, 4) and scores (B, N); got {boxes.shape} and {scores.shape}")
        scores = _check_scores(scores, boxes.shape[:2])
        labels = _check_labels(labels, boxes.shape[:2], num_classes)
    elif scores.ndim == 2:
        if boxes.ndim != 3:
            raise ValueError(f"boxes (B, N, C, 4) need scores (B, N, C), got {scores.shape}")
        scores = _check_scores(scores, boxes.shape[:2])
        labels = np.zeros(scores.shape, np.int64)
    elif scores.ndim == 3:
        expected = boxes.shape[:2] + (scores.shape[2],)
        if boxes.ndim == 4 and boxes.shape[:3] != scores.shape:
            raise ValueError(f"boxes (B, N, C, 4) need scores (B, N, C) = {boxes.shape[:3]}, got {scores.shape}")
        scores = _check_scores(scores, expected)
        if num_classes is not None and scores.shape[2] > num_classes:
            raise ValueError(f"scores (B, N, C) have C = {scores.shape[2]} classes, more than num_classes = {num_classes}")
        b, n, c = scores.shape
        if boxes.ndim == 3:
            boxes = np.broadcast_to(boxes[:, :, None, :], (b, n, c, 4))
        boxes = boxes.reshape(b, n * c, 4)
        labels = np.broadcast_to(np.arange(c), (b, n, c)).reshape(b, n * c)
        scores = scores.reshape(b, n * c)
    else:
        raise ValueError(f"without labels, scores must have shape (B, N) or (B, N, C), got {scores.shape}")
    out_boxes = boxes.astype(np.float32, copy=False)
    if format == "xyxy":
        check_boxes(boxes, "boxes", format, ignore=labels == -1)
        xyxy = out_boxes
    else:  # convert in float64, then round once
        xyxy = to_xyxy(boxes, format, "boxes", ignore=labels == -1, dtype=np.float64).astype(np.float32)
    return out_boxes, xyxy, scores, labels, unbatched, score_dtype


def _nms_eager(tf, xyxy, scores, labels, present, tf_threshold, score_minimum, per_class, max_detections):
    """One image: indices of the kept candidates, best first (one tf.image call per class in ``present``)."""
    order = np.argsort(-scores, kind="stable")
    order = order[(labels[order] >= 0) & (scores[order] >= score_minimum)]
    ranked_labels = labels[order]
    if len(present) == 1:  # one class: one call on all the boxes, minus the ranks as their scores
        priority = np.full(len(scores), -np.inf, np.float32)
        priority[order] = -np.arange(len(order), dtype=np.float32)
        return tf.image.non_max_suppression(xyxy, priority, min(per_class, max_detections), tf_threshold,
                                            score_threshold=-float(len(order))).numpy()
    kept = []
    for label in present:
        ranks = np.flatnonzero(ranked_labels == label)
        # tf.image sees minus the ranks as scores: exact priorities, ties already broken by input order
        chosen = tf.image.non_max_suppression(xyxy[order[ranks]], -ranks.astype(np.float32), per_class,
                                              tf_threshold).numpy()
        kept.append(ranks[chosen])
    ranks = np.sort(np.concatenate(kept))[:max_detections] if kept else np.zeros(0, np.int64)
    return order[ranks]


#: Above this many tf.image calls (images x classes) an eager call runs the compiled graph.
_EAGER_CALLS = 24


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
    """Per-class NMS for one image or a batch, with ``tf.image.non_max_suppression`` (the deck-001 rule).

    Three ways to give the scores:

    - ``scores`` ``(B, N)`` with ``labels`` ``(B, N)``: one class per box (YOLO after
      :func:`detection_scores`); this matches :func:`nms_reference` image by image.
      Labels -1 mark padding.
    - ``scores`` ``(B, N, C)`` and ``labels=None``: a score for every class (RetinaNet, SSD);
      each (box, class) pair is a candidate, in the order box 0 class 0, box 0 class 1, ...
      (the order that breaks ties), and NMS runs per class.
    - ``scores`` ``(B, N)`` and ``labels=None``: class-agnostic NMS (every box class 0).

    Args:
        boxes: tensor/array ``(B, N, 4)`` in ``format``, or ``(B, N, C, 4)`` (one box per
            class) with ``(B, N, C)`` scores. A single image ``(N, 4)`` is accepted too
            (then the outputs have no batch axis).
        scores: ``(B, N)`` or ``(B, N, C)``, see above; finite.
        labels: ``(B, N)`` integer classes (-1 for padding), or ``None``.
        iou_threshold: in ``[0, 1]``: suppress a box whose IoU with a kept box of its class
            is >= this (0 keeps the best box of each class).
        score_threshold: drop candidates whose score is below this (``None``: none).
        max_detections: number of detections returned per image (the padded length).
        max_detections_per_class: cap per class per image (``None``: ``max_detections``).
        num_classes: if given, labels must be below it (checked).
        format: box format of ``boxes`` and of the returned boxes.

    Returns:
        dict of tensors, padded with -1 after the ``num_detections`` real ones, best first
        (equal scores in input order):
        ``"boxes"`` ``(B, max_detections, 4)`` float32 in ``format``,
        ``"scores"`` ``(B, max_detections)`` float32, ``"labels"`` ``(B, max_detections)``
        int32, ``"indices"`` ``(B, max_detections)`` int32 (of the kept candidates in the
        input, ``n`` or ``n * C + c``), ``"num_detections"`` ``(B,)`` int32. Feed it to
        :func:`cnncourse.boxes.coco_average_precision` as the predictions.

    Raises:
        ValueError: NaN or infinite scores, labels >= ``num_classes`` or < -1, non-integer
            labels, ``iou_threshold`` outside [0, 1], a non-finite ``score_threshold``,
            ``max_detections`` < 1, wrong shapes (checked when called eagerly; inside a
            ``tf.function`` the value checks are ``tf.debugging`` assertions that raise
            ``InvalidArgumentError`` with the same messages).

    Precision: see the module docstring (the float32 IoU is within 1e-6 of the float64 one).
    Not XLA-compatible (``tf.image``'s NMS kernels are CPU/GPU ops): call it outside
    ``jit_compile=True`` code, e.g. in a layer used only at inference. Speed: one compiled
    graph for the batch, one NMS kernel call per class present in each image; at least as
    fast as a Python loop of ``tf.image.non_max_suppression`` per class (see
    ``benchmarks/bench_boxes.py``).
    """
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    format = check_format(format)
    max_detections = check_positive_int("max_detections", max_detections)
    per_class = max_detections if max_detections_per_class is None else check_positive_int(
        "max_detections_per_class", max_detections_per_class
    )
    if num_classes is not None:
        num_classes = check_positive_int("num_classes", num_classes)
    iou_threshold, score_threshold = _check_thresholds(iou_threshold, score_threshold)
    if iou_threshold == 0.0:  # IoU >= 0 for every pair: only the best box of each class stays
        per_class, tf_threshold = 1, 0.0
    else:
        tf_threshold = _float32_just_below(iou_threshold)
    if tf.executing_eagerly():
        out_boxes, xyxy, candidate_scores, labels, unbatched, score_dtype = _candidates_numpy(
            boxes, scores, labels, num_classes, format
        )
        score_minimum = _score_minimum(score_threshold, score_dtype)
        present = [np.unique(row[row >= 0]) for row in labels]
        if sum(len(p) for p in present) <= _EAGER_CALLS:
            return _eager_output(tf, out_boxes, xyxy, candidate_scores, labels, present, unbatched,
                                 (tf_threshold, score_minimum, per_class, max_detections))
        output = _run_graph(tf, unbatched, out_boxes, xyxy, candidate_scores, labels.astype(np.int32),
                            tf_threshold, score_minimum, per_class, max_detections)
        return output
    boxes = tf.convert_to_tensor(boxes)
    scores = tf.convert_to_tensor(scores)
    if boxes.shape.rank is None or boxes.shape[-1] not in (4, None):
        raise ValueError(f"boxes must have shape (B, N, 4) or (B, N, C, 4), got {tuple(boxes.shape)}")
    if boxes.dtype.is_integer:
        boxes = tf.cast(boxes, tf.float32)
    if not boxes.dtype.is_floating:
        raise TypeError(f"boxes must hold numbers, got dtype {boxes.dtype.name}")
    if not (scores.dtype.is_floating or scores.dtype.is_integer):
        raise TypeError(f"scores must hold numbers, got dtype {scores.dtype.name}")
    score_minimum = _score_minimum(score_threshold, scores.dtype.as_numpy_dtype)
    scores = tf.cast(scores, tf.float64)
    unbatched = boxes.shape.rank == 2
    if unbatched:
        boxes, scores = boxes[None], scores[None]
        labels = None if labels is None else tf.convert_to_tensor(labels)[None]
    if boxes.shape.rank not in (3, 4):
        raise ValueError(f"boxes must have shape (B, N, 4) or (B, N, C, 4), got {tuple(boxes.shape)}")
    if labels is not None:
        if boxes.shape.rank != 3 or scores.shape.rank != 2:
            raise ValueError(
                f"with labels, boxes must be (B, N, 4) and scores (B, N); got {tuple(boxes.shape)} "
                f"and {tuple(scores.shape)}"
            )
        labels = tf.convert_to_tensor(labels)
        if not (labels.dtype.is_integer or labels.dtype.is_floating):
            raise TypeError(f"labels must hold integer class ids, got dtype {labels.dtype.name}")
        candidates, candidate_scores = boxes, scores
    elif scores.shape.rank == 2:  # one score per box, no classes: one class
        if boxes.shape.rank != 3:
            raise ValueError(f"boxes (B, N, C, 4) need scores (B, N, C), got {tuple(scores.shape)}")
        labels = tf.zeros(tf.shape(scores), tf.int32)
        candidates, candidate_scores = boxes, scores
    elif scores.shape.rank == 3:  # a score per class: every (box, class) pair is a candidate
        shape = tf.shape(scores)
        classes = shape[2]
        labels = tf.broadcast_to(tf.range(classes, dtype=tf.int32), shape)
        if boxes.shape.rank == 3:
            boxes = tf.broadcast_to(boxes[:, :, None, :], tf.concat([shape, [4]], 0))
        candidates = tf.reshape(boxes, [shape[0], -1, 4])
        candidate_scores = tf.reshape(scores, [shape[0], -1])
        labels = tf.reshape(labels, [shape[0], -1])
    else:
        raise ValueError(f"without labels, scores must have shape (B, N) or (B, N, C), got {tuple(scores.shape)}")
    _check_values(tf, candidate_scores, labels, candidates, num_classes)
    labels = tf.cast(labels, tf.int32)
    out_boxes = tf.cast(candidates, tf.float32)
    if format == "xyxy":
        xyxy = out_boxes if candidates.dtype == tf.float32 else tf.cast(candidates, tf.float32)
    else:  # convert in float64, then round once
        xyxy = tf.cast(tensor_to_xyxy(tf.cast(candidates, tf.float64), format), tf.float32)
    return _run_graph(tf, unbatched, out_boxes, xyxy, candidate_scores, labels, tf_threshold, score_minimum,
                      per_class, max_detections)


def _run_graph(tf, unbatched, out_boxes, xyxy, scores, labels, tf_threshold, score_minimum, per_class, max_detections):
    single, batch = _nms_graph()
    arguments = (
        tf.constant(tf_threshold, tf.float32), tf.constant(score_minimum, tf.float64),
        tf.constant(per_class, tf.int32), tf.constant(max_detections, tf.int32),
    )
    if unbatched:
        output = single(out_boxes[0], xyxy[0], scores[0], labels[0], *arguments)
    else:
        output = batch(out_boxes, xyxy, scores, labels, *arguments)
    lead = [] if unbatched else [None]
    for key in ("boxes", "scores", "labels", "indices"):
        output[key].set_shape(lead + [max_detections] + ([4] if key == "boxes" else []))
    return output


def _eager_output(tf, boxes, xyxy, scores, labels, present, unbatched, settings):
    max_detections = settings[-1]
    size = (len(boxes), max_detections)
    out = {
        "boxes": -np.ones(size + (4,), np.float32),
        "scores": -np.ones(size, np.float32),
        "labels": -np.ones(size, np.int32),
        "indices": -np.ones(size, np.int32),
        "num_detections": np.zeros(len(boxes), np.int32),
    }
    for b in range(len(boxes)):
        kept = _nms_eager(tf, xyxy[b], scores[b], labels[b], present[b], *settings)
        k = len(kept)
        out["boxes"][b, :k], out["scores"][b, :k] = boxes[b, kept], scores[b, kept]
        out["labels"][b, :k], out["indices"][b, :k], out["num_detections"][b] = labels[b, kept], kept, k
    if unbatched:
        out = {key: value[0] for key, value in out.items()}
    return {key: tf.constant(value) for key, value in out.items()}


def _check_values(tf, scores, labels, boxes, num_classes):
    """Graph mode: finite scores, integer labels in [-1, num_classes), as ``tf.debugging`` assertions."""
    tf.debugging.assert_all_finite(scores, "batched_nms: scores must be finite (got NaN or inf)")
    if labels.dtype.is_floating:
        tf.debugging.assert_equal(labels, tf.round(labels), message="batched_nms: labels must be integers")
    tf.debugging.assert_greater_equal(
        tf.cast(labels, tf.int64), tf.constant(-1, tf.int64),
        message="batched_nms: labels must be class ids >= 0, or -1 for padding",
    )
    if num_classes is not None:
        tf.debugging.assert_less(
            tf.cast(labels, tf.int64), tf.constant(num_classes, tf.int64),
            message=f"batched_nms: labels must be < num_classes = {num_classes} (or -1 for padding)",
        )
