"""Anchor generation and matching (cnncourse.boxes.anchors)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse import boxes as B


def test_generate_anchors_layout_sizes_and_ratios():
    strides, sizes, scales, ratios = (8, 16), (32, 64), (1.0, 2 ** 0.5), (0.5, 1.0, 2.0)
    anchors = B.generate_anchors((40, 56), strides=strides, sizes=sizes, scales=scales, aspect_ratios=ratios)
    per_location = len(scales) * len(ratios)
    grids = [(5, 7), (3, 4)]  # ceil(40/8), ceil(56/8); ceil(40/16), ceil(56/16)
    assert anchors.shape == (sum(h * w for h, w in grids) * per_location, 4)
    assert anchors.dtype == np.float32
    start = 0
    for (rows, columns), stride, size in zip(grids, strides, sizes):
        level = anchors[start:start + rows * columns * per_location].reshape(rows, columns, per_location, 4)
        start += rows * columns * per_location
        width = level[..., 2] - level[..., 0]
        height = level[..., 3] - level[..., 1]
        centre_x = (level[..., 0] + level[..., 2]) / 2
        centre_y = (level[..., 1] + level[..., 3]) / 2
        # a head output (rows, columns, A * 4) lines up: centres are the cell centres
        np.testing.assert_allclose(centre_x, ((np.arange(columns) + 0.5) * stride)[None, :, None] + 0 * width, atol=1e-4)
        np.testing.assert_allclose(centre_y, ((np.arange(rows) + 0.5) * stride)[:, None, None] + 0 * width, atol=1e-4)
        expected_area = [(size * s) ** 2 for s in scales for _ in ratios]
        expected_ratio = [r for _ in scales for r in ratios]
        np.testing.assert_allclose(width * height, np.broadcast_to(expected_area, width.shape), rtol=1e-5)
        np.testing.assert_allclose(height / width, np.broadcast_to(expected_ratio, width.shape), rtol=1e-5)


def test_generate_anchors_by_hand_and_formats():
    anchors = B.generate_anchors((32, 32), strides=(16,), sizes=(16,), scales=(1,), aspect_ratios=(1,))
    assert anchors.tolist() == [[0, 0, 16, 16], [16, 0, 32, 16], [0, 16, 16, 32], [16, 16, 32, 32]]
    faster_rcnn = B.generate_anchors((224, 224))  # 14 x 14 cells x 9 anchors (the defaults)
    assert faster_rcnn.shape == (14 * 14 * 9, 4)
    rel = B.generate_anchors((32, 64), strides=(32,), sizes=(32,), scales=(1,), aspect_ratios=(1,), format="rel_yxyx")
    np.testing.assert_allclose(rel, [[0, 0, 1, 0.5], [0, 0.5, 1, 1]])
    centre = B.generate_anchors((16, 16), strides=(16,), sizes=(8,), scales=(1,), aspect_ratios=(4,),
                                format="center_xywh")
    np.testing.assert_allclose(centre, [[8, 8, 4, 16]])
    assert B.anchor_shapes(16, aspect_ratios=(0.25, 1, 4)).tolist() == [[32, 8], [16, 16], [8, 32]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strides": (8, 16), "sizes": (32,)}, "one base size per stride"),
        ({"scales": (1.0, -2.0)}, "scales must be a non-empty list of positive numbers"),
        ({"aspect_ratios": ()}, "aspect_ratios must be a non-empty"),
    ],
)
def test_generate_anchors_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        B.generate_anchors((64, 64), **kwargs)
    with pytest.raises(ValueError, match="image_size"):
        B.generate_anchors((0, 64))


def match_by_loops(anchors, gt, valid, positive_iou, negative_iou, match_best_anchor):
    """The matching rule written anchor by anchor and box by box (an independent reference)."""
    iou = [[B.box_iou(a, g) if ok else -1.0 for g, ok in zip(gt, valid)] for a in anchors]
    index, labels = [], []
    for row in iou:
        best = max(range(len(row)), key=lambda j: (row[j], -j)) if any(valid) else None
        value = row[best] if best is not None else -1.0
        if best is not None and value >= positive_iou:
            index.append(best), labels.append(1)
        elif best is not None and value >= negative_iou:
            index.append(-1), labels.append(-1)
        else:
            index.append(-1), labels.append(0)
    if match_best_anchor:
        # boxes served by decreasing best IoU (lower index first); each claims its best free anchor(s)
        best = {j: max(row[j] for row in iou) for j in range(len(gt)) if valid[j]}
        taken = set()
        for j in sorted(best, key=lambda j: (-best[j], j)):
            free = [i for i in range(len(anchors)) if i not in taken]
            top = max((iou[i][j] for i in free), default=-1.0)
            if top <= 0:
                continue
            for i in free:
                if iou[i][j] >= top - B.anchors.BEST_ANCHOR_TOLERANCE:
                    labels[i], index[i] = 1, j
                    taken.add(i)
    return np.array(index), np.array(labels)


def random_scene(rng, num_gt, num_padding):
    gt = []
    for _ in range(num_gt):
        x, y = rng.uniform(0, 56, 2)
        w, h = rng.uniform(4, 40, 2)
        gt.append([x, y, x + w, y + h])
    gt += [[-1, -1, -1, -1]] * num_padding
    order = rng.permutation(len(gt))
    return np.array(gt, dtype=np.float64)[order].reshape(-1, 4)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_gt=st.integers(0, 6),
    num_padding=st.integers(0, 3),
    thresholds=st.tuples(st.floats(0.05, 0.8), st.floats(0.0, 0.3)).map(lambda t: (t[0], t[0] * (1 - t[1]))),
    match_best_anchor=st.booleans(),
)
def test_matching_properties_and_loop_reference(seed, num_gt, num_padding, thresholds, match_best_anchor):
    rng = np.random.default_rng(seed)
    anchors = B.generate_anchors((64, 64), strides=(16,), sizes=(16,), scales=(1, 2), aspect_ratios=(0.5, 1, 2))
    gt = random_scene(rng, num_gt, num_padding)
    positive_iou, negative_iou = thresholds
    index, labels = B.match_anchors(anchors, gt, positive_iou=positive_iou, negative_iou=negative_iou,
                                    match_best_anchor=match_best_anchor)
    valid = ~np.all(gt == -1, axis=1)
    ref_index, ref_labels = match_by_loops(anchors, gt, valid, positive_iou, negative_iou, match_best_anchor)
    np.testing.assert_array_equal(index, ref_index)
    np.testing.assert_array_equal(labels, ref_labels)

    assert set(np.unique(labels)) <= {-1, 0, 1}
    assert np.all((index >= 0) == (labels == 1))
    assert np.all(valid[index[labels == 1]])  # padding is never matched
    iou = np.where(valid[None], B.box_iou(anchors, gt), -1.0)
    best = iou.max(axis=1) if valid.any() else np.full(len(anchors), -1.0)
    if not valid.any():
        assert np.all(labels == 0)
        return
    # thresholds respected by the anchors no box claimed in the best-anchor step
    forced = np.zeros(len(anchors), bool)
    if match_best_anchor:
        forced = (labels == 1) & (iou.max(axis=1) < positive_iou)
        forced |= (labels == 1) & (iou[np.arange(len(anchors)), np.maximum(index, 0)] < iou.max(axis=1))
    free = ~forced
    assert np.all(labels[free & (best >= positive_iou)] == 1)
    assert np.all(labels[free & (best < negative_iou)] == 0)
    assert np.all(labels[free & (best >= negative_iou) & (best < positive_iou)] == -1)
    # every ground-truth box gets an anchor, unless each anchor it overlaps went to a box
    # whose best IoU is at least its own
    if match_best_anchor:
        top = iou.max(axis=0)
        for j in np.flatnonzero(valid):
            if top[j] <= 0 or np.any(index == j):
                continue
            overlapping = np.flatnonzero(iou[:, j] > 0)
            assert all(labels[a] == 1 and top[index[a]] >= top[j] for a in overlapping)


def test_matching_by_hand_batched_and_labels():
    anchors = [[0, 0, 10, 10], [10, 0, 20, 10], [0, 10, 10, 20]]
    gt = [[1, 0, 11, 10], [-1, -1, -1, -1]]
    index, labels = B.match_anchors(anchors, gt, positive_iou=0.7, negative_iou=0.3)
    assert index.tolist() == [0, -1, -1] and labels.tolist() == [1, 0, 0]
    # a small box: below every threshold, but its best anchor is made positive
    index, labels = B.match_anchors(anchors, [[12, 1, 14, 3]], positive_iou=0.5, negative_iou=0.4)
    assert index.tolist() == [-1, 0, -1] and labels.tolist() == [0, 1, 0]
    index, labels = B.match_anchors(anchors, [[12, 1, 14, 3]], match_best_anchor=False)
    assert labels.tolist() == [0, 0, 0]
    # between the thresholds: ignored
    index, labels = B.match_anchors(anchors, [[0, 0, 10, 10], [0, 10, 10, 16]], positive_iou=0.7, negative_iou=0.5,
                                    match_best_anchor=False)
    assert labels.tolist() == [1, 0, -1]  # IoU 0.6 with the second box
    # a label -1 marks padding too; batches of ground truth
    gt_batch = np.array([[[1, 0, 11, 10], [0, 10, 10, 20]], [[0, 10, 10, 20], [-1, -1, -1, -1]]], float)
    index, labels = B.match_anchors(anchors, gt_batch, gt_labels=[[3, -1], [0, -1]])
    assert index.tolist() == [[0, -1, -1], [-1, -1, 0]]
    assert labels.tolist() == [[1, 0, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="negative_iou <= positive_iou"):
        B.match_anchors(anchors, gt, positive_iou=0.3, negative_iou=0.5)
    with pytest.raises(ValueError, match=r"gt_boxes must have shape \(N, 4\) or \(B, N, 4\)"):
        B.match_anchors(anchors, [0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"gt_labels must have shape \(2,\)"):
        B.match_anchors(anchors, gt, gt_labels=[1, 2, 3])


def test_match_anchors_tf_under_xla_equals_numpy():
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    rng = np.random.default_rng(5)
    anchors = B.generate_anchors((64, 64), strides=(8, 16), sizes=(16, 32), scales=(1,), aspect_ratios=(0.5, 1, 2))
    gt = np.stack([random_scene(rng, n, 5 - n) for n in (0, 2, 5)]).astype(np.float32)  # (3, 5, 4)
    labels_in = np.where(np.all(gt == -1, axis=-1), -1, 1)

    @tf.function(jit_compile=True)
    def match(a, g, l):
        return B.match_anchors_tf(a, g, gt_labels=l, positive_iou=0.5, negative_iou=0.4)

    index_tf, labels_tf = match(tf.constant(anchors), tf.constant(gt), tf.constant(labels_in))
    index_np, labels_np = B.match_anchors(anchors, gt, gt_labels=labels_in, positive_iou=0.5, negative_iou=0.4)
    np.testing.assert_array_equal(index_tf.numpy(), index_np)
    np.testing.assert_array_equal(labels_tf.numpy(), labels_np)
    assert (labels_np == 1).sum() >= 6 and (labels_np == -1).sum() > 0
    single_index, single_labels = B.match_anchors_tf(anchors, gt[1])
    np.testing.assert_array_equal(single_index.numpy(), B.match_anchors(anchors, gt[1])[0])


def test_every_box_gets_its_best_free_anchor():
    boxes = [[0, 0, 10, 10], [0, 0, 10, 8]]
    # the case: box 1's only overlapping anchor is box 0's best (IoU 1 against 0.8): box 0
    # keeps it, and box 1 has no other anchor it overlaps, so it gets none (the rule cannot help)
    anchors = np.array([[0, 0, 10, 10], [30, 0, 40, 10]], float)
    for index, labels in (B.match_anchors(anchors, boxes), B.match_anchors_tf(anchors.astype(np.float32),
                                                                                np.float32(boxes))):
        assert np.asarray(index).tolist() == [0, -1] and np.asarray(labels).tolist() == [1, 0]
    # where the anchors allow it, box 1 gets its best free anchor (IoU 0.78), though that anchor
    # overlaps box 0 more (0.8); before, it went to box 0 and box 1 had no anchor
    anchors = np.array([[0, 0, 10, 10], [0, 1, 10, 9]], float)
    assert B.box_iou(anchors, boxes).round(3).tolist() == [[1.0, 0.8], [0.8, 0.778]]
    for index, labels in (B.match_anchors(anchors, boxes), B.match_anchors_tf(anchors.astype(np.float32),
                                                                                np.float32(boxes))):
        assert np.asarray(index).tolist() == [0, 1] and np.asarray(labels).tolist() == [1, 1]
    # boxes are served by their best IoU, not by their index
    index, _ = B.match_anchors(anchors, boxes[::-1])
    assert index.tolist() == [1, 0]


def test_match_anchors_tf_without_ground_truth_eager_in_tf_data_and_under_xla():
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    anchors = B.generate_anchors((32, 32), strides=(16,), sizes=(16,), scales=(1,), aspect_ratios=(1, 2))
    none = np.zeros((0, 4), np.float32)
    expected = B.match_anchors(anchors, none)
    assert expected[0].tolist() == [-1] * len(anchors) and expected[1].tolist() == [0] * len(anchors)
    results = {"eager": B.match_anchors_tf(anchors, none), "eager with labels": B.match_anchors_tf(
        anchors, none, gt_labels=np.zeros(0, np.int32))}
    xla = tf.function(lambda g: B.match_anchors_tf(tf.constant(anchors), g), jit_compile=True)
    results["jit_compile"] = xla(tf.constant(none))
    batch = xla(tf.zeros((3, 0, 4)))
    assert batch[1].shape == (3, len(anchors)) and not np.any(batch[1].numpy())
    scenes = [none, np.array([[0, 0, 16, 16]], np.float32), none]
    dataset = tf.data.Dataset.from_generator(lambda: iter(scenes), output_signature=tf.TensorSpec([None, 4], tf.float32))
    mapped = list(dataset.map(lambda g: B.match_anchors_tf(tf.constant(anchors), g)))
    results["tf.data"], results["tf.data, last"] = mapped[0], mapped[2]
    for name, (index, labels) in results.items():
        np.testing.assert_array_equal(index.numpy(), expected[0], err_msg=name)
        np.testing.assert_array_equal(labels.numpy(), expected[1], err_msg=name)
    np.testing.assert_array_equal(mapped[1][1].numpy(), B.match_anchors(anchors, scenes[1])[1])
    assert mapped[1][1].numpy().sum() >= 1


def test_match_anchors_tf_equals_numpy_on_random_float32_scenes():
    rng = np.random.default_rng(12)
    anchors = B.generate_anchors((64, 64), strides=(8, 16), sizes=(16, 32), scales=(1, 1.5), aspect_ratios=(0.5, 1, 2))
    for trial in range(4):
        gt = np.stack([random_scene(rng, n, 8 - n) for n in rng.integers(0, 9, 4)]).astype(np.float32)
        gt[:, 1] = gt[:, 0] if trial == 1 else gt[:, 1]  # duplicate boxes: exact ties
        for kwargs in (dict(positive_iou=0.5, negative_iou=0.4), dict(positive_iou=0.7, negative_iou=0.3)):
            index_np, labels_np = B.match_anchors(anchors, gt, **kwargs)
            index_tf, labels_tf = B.match_anchors_tf(anchors, gt, **kwargs)
            np.testing.assert_array_equal(index_tf.numpy(), index_np)
            np.testing.assert_array_equal(labels_tf.numpy(), labels_np)


def test_match_anchors_bad_arguments():
    anchors = [[0, 0, 10, 10]]
    with pytest.raises(ValueError, match=r"positive_iou must be a number in \[0.0, 1.0\], got 1.5"):
        B.match_anchors(anchors, [[0, 0, 1, 1]], positive_iou=1.5)
    with pytest.raises(TypeError, match="match_best_anchor must be True or False"):
        B.match_anchors_tf(np.float32(anchors), np.float32([[0, 0, 1, 1]]), match_best_anchor=1)


def test_anchor_grid_checks_feature_size():
    assert B.anchor_grid((2, 3), 8, 16).shape == (6, 4)
    assert B.anchor_grid((np.int64(2), 3), 8, 16).shape == (6, 4)
    with pytest.raises(ValueError, match="feature_size must be a positive int or a sequence of 2 positive ints"):
        B.anchor_grid((0, 3), 8, 16)
    with pytest.raises(TypeError, match="feature_size must be"):
        B.anchor_grid((2.5, 3), 8, 16)
