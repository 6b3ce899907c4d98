"""Anchor boxes: generate them on feature-map grids, and label them against ground truth.

Generation
    A feature map with stride ``s`` (each cell covers ``s x s`` input pixels) gets, at the
    centre of every cell, one anchor per (scale, aspect ratio) pair. An anchor of base
    ``size``, ``scale`` and ``aspect_ratio = height / width`` has area
    ``(size * scale) ** 2``, width ``size * scale / sqrt(aspect_ratio)`` and height
    ``size * scale * sqrt(aspect_ratio)``. Faster R-CNN's 9 anchors are
    ``strides=(16,), sizes=(128,), scales=(1, 2, 4), aspect_ratios=(0.5, 1, 2)`` (the
    defaults); RetinaNet's are ``strides=(8, 16, 32, 64, 128)``,
    ``sizes=(32, 64, 128, 256, 512)``, ``scales=(1, 2 ** (1/3), 2 ** (2/3))``.

    Order: level, then row, then column, then scale, then aspect ratio. So a head whose
    output at one level is ``(H_l, W_l, A * 4)`` reshapes to ``(H_l * W_l * A, 4)`` and
    lines up with that level's anchors.

Matching (labelling)
    Each anchor takes the ground-truth box it overlaps most (the first of equal ones). With
    ``iou`` that overlap: ``iou >= positive_iou`` -> positive (1); ``iou < negative_iou`` ->
    negative (0); in between -> ignored (-1, no loss). With no ground truth (``(0, 4)`` or
    only padding) every anchor is negative.

    Then, so that no object is left without an anchor (``match_best_anchor=True``), every
    ground-truth box gets its best anchor *among those no other box has claimed in this
    step*: the boxes are served one by one, in order of decreasing best IoU (ties: lower
    index first); each claims the free anchor(s) it overlaps most (if that IoU is > 0), and
    they become positive and matched to it, overriding the threshold rule. This is the
    greedy one-to-one "bipartite" step of SSD/MultiBox; it differs from torchvision's
    ``Matcher(allow_low_quality_matches=True)`` and keras-hub's ``BoxMatcher``
    (``force_match_for_each_col``), where a box whose best anchor is taken by a box that
    overlaps it more gets nothing, even when another anchor overlaps it well. So a box is
    left without an anchor only when every anchor it overlaps (IoU > 0) was claimed by a
    box served before it: anchors ``[[0, 0, 10, 10], [30, 0, 40, 10]]`` and boxes
    ``[[0, 0, 10, 10], [0, 0, 10, 8]]`` give anchor 0 to box 0 (IoU 1 before 0.8), and box 1
    overlaps no other anchor, so it has none (the anchors do not allow it).

    Anchors within :data:`BEST_ANCHOR_TOLERANCE` of a box's best free IoU count as tied and
    are all claimed: grid anchors are often tied exactly (mirror-image positions), and
    rounding must not pick one of them. Both versions compute the IoU in float64 from the
    same numbers, so :func:`match_anchors` and :func:`match_anchors_tf` give the same labels.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from cnncourse._validation import check_bool, check_float, check_int_tuple
from cnncourse.boxes.formats import _from_xyxy, check_format, padding_mask, to_xyxy
from cnncourse.boxes.iou import box_iou

#: Anchors whose IoU with a ground-truth box is within this of the best one are tied for best.
BEST_ANCHOR_TOLERANCE = 1e-6


def _positive_numbers(values, name) -> tuple[float, ...]:
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {values.tolist()!r}")
    return tuple(float(v) for v in values)


def anchor_shapes(sizes, scales=(1.0,), aspect_ratios=(1.0,)) -> np.ndarray:
    """Widths and heights of the anchors at one location.

    Args:
        sizes: base side length(s) in pixels.
        scales: multipliers of the base size.
        aspect_ratios: ``height / width`` of each anchor.

    Returns:
        array ``(len(sizes) * len(scales) * len(aspect_ratios), 2)``: ``(width, height)``,
        in the order size, scale, aspect ratio.

    Example:
        >>> anchor_shapes(16, aspect_ratios=(0.25, 1, 4))
        array([[32.,  8.],
               [16., 16.],
               [ 8., 32.]])
    """
    sizes = _positive_numbers(sizes, "sizes")
    scales = _positive_numbers(scales, "scales")
    ratios = _positive_numbers(aspect_ratios, "aspect_ratios")
    shapes = [
        (size * scale / math.sqrt(ratio), size * scale * math.sqrt(ratio))
        for size in sizes
        for scale in scales
        for ratio in ratios
    ]
    return np.array(shapes, dtype=np.float64)


def anchor_grid(feature_size, stride, sizes, scales=(1.0,), aspect_ratios=(1.0,), offset: float = 0.5,
                format: str = "xyxy", dtype="float32") -> np.ndarray:
    """Anchors of one feature-map level.

    Args:
        feature_size: ``(rows, columns)`` of the feature map.
        stride: input pixels per feature-map cell.
        sizes, scales, aspect_ratios: see :func:`anchor_shapes`.
        offset: where in the cell the anchors are centred (0.5: the cell's centre,
            at pixel ``(column + 0.5) * stride``).
        format: format of the returned boxes.
        dtype: dtype of the result.

    Returns:
        array ``(rows * columns * A, 4)`` with ``A = len(sizes) * len(scales) * len(aspect_ratios)``.
    """
    rows, columns = check_int_tuple("feature_size", feature_size, 2)
    (stride,) = _positive_numbers(stride, "stride")
    shapes = anchor_shapes(sizes, scales, aspect_ratios)  # (A, 2)
    centre_y, centre_x = np.meshgrid(
        (np.arange(rows) + offset) * stride, (np.arange(columns) + offset) * stride, indexing="ij"
    )
    centres = np.stack([centre_x, centre_y], axis=-1).reshape(-1, 1, 2)  # (rows*cols, 1, 2)
    half = shapes[None] / 2  # (1, A, 2)
    xyxy = np.concatenate([centres - half, centres + half], axis=-1).reshape(-1, 4)
    return _from_xyxy(xyxy, check_format(format).removeprefix("rel_")).astype(dtype)


def generate_anchors(
    image_size,
    strides: Sequence[float] = (16,),
    sizes: Sequence[float] = (128,),
    scales: Sequence[float] = (1.0, 2.0, 4.0),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    offset: float = 0.5,
    format: str = "xyxy",
    dtype="float32",
) -> np.ndarray:
    """Anchors for every level of a feature pyramid: scales x aspect ratios x strides.

    Level ``l`` has a feature map of ``ceil(height / strides[l]) x ceil(width / strides[l])``
    cells and anchors of base size ``sizes[l]``.

    Args:
        image_size: ``(height, width)`` of the input image in pixels.
        strides: one stride per level.
        sizes: one base anchor size (pixels) per level.
        scales: multipliers of each level's base size.
        aspect_ratios: ``height / width`` of the anchors.
        offset: position of the anchor centre inside its cell (0.5: the centre).
        format: ``"xyxy"`` (default) or another format of :data:`cnncourse.boxes.BOX_FORMATS`;
            relative formats divide by ``image_size``.
        dtype: dtype of the result (float32, ready for a model).

    Returns:
        array ``(total_anchors, 4)``; ``total_anchors = sum_l H_l * W_l * A`` with
        ``A = len(scales) * len(aspect_ratios)``.

    Example:
        >>> generate_anchors((32, 32), strides=(16,), sizes=(16,), scales=(1,), aspect_ratios=(1,))
        array([[ 0.,  0., 16., 16.],
               [16.,  0., 32., 16.],
               [ 0., 16., 16., 32.],
               [16., 16., 32., 32.]], dtype=float32)
    """
    height, width = (float(v) for v in image_size)
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be (height, width) with positive values, got {image_size!r}")
    strides = _positive_numbers(strides, "strides")
    sizes = _positive_numbers(sizes, "sizes")
    if len(sizes) != len(strides):
        raise ValueError(f"sizes must give one base size per stride: strides={strides}, sizes={sizes}")
    format = check_format(format)
    levels = [
        anchor_grid(
            (math.ceil(height / stride), math.ceil(width / stride)), stride, size, scales, aspect_ratios,
            offset=offset, format="xyxy", dtype=np.float64,
        )
        for stride, size in zip(strides, sizes)
    ]
    xyxy = np.concatenate(levels, axis=0)
    if format.startswith("rel_"):
        xyxy = xyxy / np.array([width, height, width, height])
    return _from_xyxy(xyxy, format.removeprefix("rel_")).astype(dtype)


def _valid_ground_truth(gt_boxes, gt_labels, shape):
    valid = ~padding_mask(gt_boxes)
    if gt_labels is not None:
        labels = np.asarray(gt_labels)
        if labels.shape != shape:
            raise ValueError(f"gt_labels must have shape {shape} (one per gt box), got {labels.shape}")
        valid &= labels != -1
    return valid


def _check_thresholds(positive_iou, negative_iou):
    positive_iou = check_float("positive_iou", positive_iou, minimum=0.0, maximum=1.0)
    negative_iou = check_float("negative_iou", negative_iou, minimum=0.0, maximum=1.0)
    if not negative_iou <= positive_iou:
        raise ValueError(
            f"need 0 <= negative_iou <= positive_iou <= 1, got negative_iou={negative_iou}, "
            f"positive_iou={positive_iou}"
        )
    return positive_iou, negative_iou


def match_anchors(
    anchors,
    gt_boxes,
    gt_labels=None,
    positive_iou: float = 0.5,
    negative_iou: float = 0.4,
    match_best_anchor: bool = True,
    format: str = "xyxy",
):
    """Label anchors positive / negative / ignored by IoU with the ground truth (NumPy).

    Args:
        anchors: array ``(N, 4)`` in ``format``.
        gt_boxes: array ``(M, 4)`` or ``(B, M, 4)`` in ``format``, padded with -1 rows.
        gt_labels: optional array ``(M,)`` or ``(B, M)``; a label -1 also marks padding.
        positive_iou: IoU at or above which an anchor is positive (Faster R-CNN RPN: 0.7;
            RetinaNet: 0.5).
        negative_iou: IoU below which an anchor is negative (RPN: 0.3; RetinaNet: 0.4).
        match_best_anchor: also give every ground-truth box its best free anchor(s), the
            greedy one-to-one step described in the module docstring.
        format: box format of ``anchors`` and ``gt_boxes``.

    Returns:
        ``(matched_gt_index, anchor_labels)``, int64 arrays ``(N,)`` (or ``(B, N)``):
        ``matched_gt_index`` is the index into ``gt_boxes`` of the box each positive
        anchor should predict, -1 for the others; ``anchor_labels`` is 1 positive,
        0 negative, -1 ignored. With no ground truth every anchor is negative.

    Example:
        >>> anchors = [[0, 0, 10, 10], [10, 0, 20, 10], [0, 10, 10, 20]]
        >>> match_anchors(anchors, [[1, 0, 11, 10], [-1, -1, -1, -1]], positive_iou=0.7, negative_iou=0.3)
        (array([ 0, -1, -1]), array([1, 0, 0]))
    """
    positive_iou, negative_iou = _check_thresholds(positive_iou, negative_iou)
    match_best_anchor = check_bool("match_best_anchor", match_best_anchor)
    a = to_xyxy(anchors, format, "anchors", ndim=2, dtype=np.float64)
    gt = to_xyxy(gt_boxes, format, "gt_boxes", ndim=(2, 3), dtype=np.float64)
    valid = _valid_ground_truth(np.asarray(gt_boxes), gt_labels, gt.shape[:-1])
    if gt.ndim == 3:
        results = [
            _match_one(a, gt[b], valid[b], positive_iou, negative_iou, match_best_anchor) for b in range(gt.shape[0])
        ]
        if not results:
            empty = np.zeros((0, a.shape[0]), np.int64)
            return empty, empty.copy()
        return np.stack([r[0] for r in results]), np.stack([r[1] for r in results])
    return _match_one(a, gt, valid, positive_iou, negative_iou, match_best_anchor)


def _match_one(anchors, gt, valid, positive_iou, negative_iou, match_best_anchor):
    n = anchors.shape[0]
    gt_index = np.full(n, -1, np.int64)
    labels = np.zeros(n, np.int64)
    if n == 0 or not valid.any():
        return gt_index, labels
    iou = np.where(valid[None, :], box_iou(anchors, gt), -1.0)  # (N, M); padding never wins
    best_gt = iou.argmax(axis=1)
    best_iou = iou[np.arange(n), best_gt]
    labels[best_iou < negative_iou] = 0
    labels[(best_iou >= negative_iou) & (best_iou < positive_iou)] = -1
    positive = best_iou >= positive_iou
    labels[positive] = 1
    gt_index[positive] = best_gt[positive]
    if match_best_anchor:
        best_for_gt = iou.max(axis=0)  # (M,); -1 for padding
        taken = np.zeros(n, bool)
        for j in np.argsort(-best_for_gt, kind="stable"):  # best-overlapping boxes first
            column = np.where(taken, -1.0, iou[:, j])
            top = column.max()
            if top <= 0:
                continue
            claimed = column >= top - BEST_ANCHOR_TOLERANCE
            labels[claimed] = 1
            gt_index[claimed] = j
            taken |= claimed
    return gt_index, labels


def match_anchors_tf(
    anchors,
    gt_boxes,
    gt_labels=None,
    positive_iou: float = 0.5,
    negative_iou: float = 0.4,
    match_best_anchor: bool = True,
    format: str = "xyxy",
):
    """:func:`match_anchors` as tensors (``keras.ops``; XLA-compatible), for target encoding in a graph.

    Args:
        anchors: tensor ``(N, 4)``; gt_boxes: ``(M, 4)`` or ``(B, M, 4)``, padded with -1
            rows; gt_labels: optional ``(M,)`` / ``(B, M)`` with -1 for padding.
        positive_iou, negative_iou, match_best_anchor, format: as in :func:`match_anchors`.

    Returns:
        ``(matched_gt_index, anchor_labels)``: int32 tensors ``(N,)`` or ``(B, N)``.
    """
    from keras import ops

    from cnncourse.boxes.iou import _tf_pair, _tf_parts, _tf_safe_divide

    positive_iou, negative_iou = _check_thresholds(positive_iou, negative_iou)
    match_best_anchor = check_bool("match_best_anchor", match_best_anchor)
    gt = ops.convert_to_tensor(gt_boxes)
    unbatched = len(gt.shape) == 2
    if unbatched:
        gt = gt[None]
        if gt_labels is not None:
            gt_labels = ops.convert_to_tensor(gt_labels)[None]
    # one padding column at the end, so that images without ground truth (M = 0) need no special case
    batch = ops.shape(gt)[0]
    gt = ops.concatenate([ops.cast(gt, "float64"), -ops.ones((batch, 1, 4), "float64")], axis=1)  # (B, M + 1, 4)
    valid = ops.logical_not(ops.all(ops.equal(gt, -1.0), axis=-1))  # (B, M + 1)
    if gt_labels is not None:
        labels_in = ops.concatenate([ops.cast(gt_labels, "int32"), -ops.ones((batch, 1), "int32")], axis=1)
        valid = ops.logical_and(valid, ops.not_equal(labels_in, -1))
    a, b, _ = _tf_pair(ops.convert_to_tensor(anchors), gt, format, pairwise=True)
    iou = _tf_safe_divide(*_tf_parts(a, b))  # (B, N, M + 1), float64 as in NumPy
    iou = ops.where(valid[:, None, :], iou, -1.0)
    best_gt = ops.cast(ops.argmax(iou, axis=-1), "int32")  # (B, N); first of ties, like NumPy
    best_iou = ops.max(iou, axis=-1)
    positive = best_iou >= positive_iou  # best_iou is -1 without ground truth
    ignored = ops.logical_and(best_iou >= negative_iou, best_iou < positive_iou)
    labels = ops.cast(ops.where(positive, 1, ops.where(ignored, -1, 0)), "int32")
    gt_index = ops.cast(ops.where(positive, best_gt, -1), "int32")
    if match_best_anchor:
        best_for_gt = ops.max(iou, axis=1)  # (B, M + 1)
        count = ops.shape(best_for_gt)[1]
        position = ops.arange(count, dtype="int32")
        # rank of each box in the serving order: decreasing best IoU, lower index first on ties
        before = ops.logical_or(
            best_for_gt[:, None, :] > best_for_gt[:, :, None],
            ops.logical_and(best_for_gt[:, None, :] == best_for_gt[:, :, None],
                            position[None, None, :] < position[None, :, None]),
        )  # (B, M + 1, M + 1): before[b, j, k] = box k is served before box j
        rank = ops.sum(ops.cast(before, "int32"), axis=-1)  # (B, M + 1)

        def serve(r, state):
            labels, gt_index, taken = state
            j = ops.cast(ops.argmax(ops.cast(ops.equal(rank, r), "int32"), axis=-1), "int32")  # (B,)
            column = ops.take_along_axis(iou, ops.reshape(j, (-1, 1, 1)), axis=2)[..., 0]  # (B, N)
            column = ops.where(taken, -1.0, column)
            top = ops.max(column, axis=1, keepdims=True)
            claimed = ops.logical_and(column >= top - BEST_ANCHOR_TOLERANCE, top > 0)
            labels = ops.where(claimed, 1, labels)
            gt_index = ops.where(claimed, j[:, None], gt_index)
            return labels, gt_index, ops.logical_or(taken, claimed)

        labels, gt_index, _ = ops.fori_loop(0, count, serve, (labels, gt_index, ops.zeros_like(labels, "bool")))
    labels = ops.cast(labels, "int32")
    gt_index = ops.cast(gt_index, "int32")
    if unbatched:
        return gt_index[0], labels[0]
    return gt_index, labels
