"""Non-maximum suppression: the by-hand reference, tf.image's NMS, and the batched version agree."""

import numpy as np
import pytest

from cnncourse import boxes as B
from cnncourse.runtime import import_tensorflow


def random_scene(rng, n, num_classes, span=100.0):
    """Clustered boxes (so that NMS has work to do), distinct scores, random classes."""
    centres = rng.uniform(10, span - 10, (max(n // 15, 1), 2))
    picks = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 3, (n, 2))
    sizes = rng.uniform(12, 30, (n, 2))
    boxes = np.concatenate([picks - sizes / 2, picks + sizes / 2], axis=1)
    scores = rng.permutation(n) / n + rng.uniform(0, 0.5 / n, n)  # distinct
    labels = rng.integers(0, num_classes, n)
    return boxes.astype(np.float32), scores.astype(np.float32), labels


def tf_image_per_class(boxes, scores, labels, iou_threshold):
    """Independent reference: tf.image.non_max_suppression on each class, merged by score."""
    tf = import_tensorflow()
    kept = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen = tf.image.non_max_suppression(boxes[members], scores[members], len(members), iou_threshold).numpy()
        kept.extend(members[chosen])
    return np.array(sorted(kept, key=lambda i: -scores[i]), dtype=np.int64)


def test_deck_rule_by_hand():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 20]]
    # box 1 overlaps box 0 (IoU 81/119 >= 0.5): dropped; box 2 is another class: kept;
    # box 4 has IoU exactly 0.5 with box 0: dropped (the rule says >=)
    keep = B.nms_reference(boxes, scores=[0.9, 0.8, 0.7, 0.6, 0.5], labels=[0, 0, 1, 0, 0])
    assert keep.tolist() == [0, 2, 3]
    assert B.nms_reference(boxes, [0.9, 0.8, 0.7, 0.6, 0.5], [0, 0, 1, 0, 0], iou_threshold=0.51).tolist() == [0, 2, 3, 4]
    # without labels: one class, so box 2 (identical to box 0) goes too
    assert B.nms_reference(boxes, [0.9, 0.8, 0.7, 0.6, 0.5]).tolist() == [0, 3]
    # score threshold (>= kept), max_detections, padding labels
    assert B.nms_reference(boxes, [0.9, 0.8, 0.7, 0.6, 0.5], [0, 0, 1, 0, 0], score_threshold=0.7).tolist() == [0, 2]
    assert B.nms_reference(boxes, [0.9, 0.8, 0.7, 0.6, 0.5], [0, 0, 1, 0, 0], max_detections=2).tolist() == [0, 2]
    # (box 4 overlaps box 1 by 90 / 210 < 0.5)
    assert B.nms_reference(boxes, [0.9, 0.8, 0.7, 0.6, 0.5], [-1, 0, 1, 0, 0]).tolist() == [1, 2, 3, 4]
    # equal scores: the first box in the input wins
    assert B.nms_reference([[0, 0, 1, 1]] * 3, [0.5, 0.5, 0.5]).tolist() == [0]
    # other formats
    assert B.nms_reference([[0, 0, 10, 10], [1, 1, 10, 10]], [0.1, 0.9], format="xywh").tolist() == [1]


def test_detection_scores_is_class_probability_times_objectness():
    objectness = np.array([0.5, 1.0, 0.2])
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])
    scores, labels = B.detection_scores(objectness, probabilities)
    np.testing.assert_allclose(scores, [0.4, 0.9, 0.1])
    assert labels.tolist() == [1, 0, 0]
    batch_scores, batch_labels = B.detection_scores(objectness[None], probabilities[None])
    assert batch_scores.shape == (1, 3) and batch_labels.tolist() == [[1, 0, 0]]
    with pytest.raises(ValueError, match=r"class_probabilities must have shape \(\.\.\., N, C\)"):
        B.detection_scores(objectness, probabilities[:2])


@pytest.mark.parametrize("seed", range(4))
def test_reference_agrees_with_tf_image_non_max_suppression(seed):
    rng = np.random.default_rng(seed)
    boxes, scores, labels = random_scene(rng, 60, num_classes=3)
    threshold = [0.3, 0.5, 0.6, 0.45][seed]
    keep = B.nms_reference(boxes, scores, labels, iou_threshold=threshold)
    np.testing.assert_array_equal(keep, tf_image_per_class(boxes, scores, labels, threshold))
    assert 5 < len(keep) < 55  # suppression happened, and not everything went


def test_batched_nms_agrees_with_reference_image_by_image():
    rng = np.random.default_rng(10)
    scenes = [random_scene(rng, 80, num_classes=4) for _ in range(3)]
    boxes = np.stack([s[0] for s in scenes])
    scores = np.stack([s[1] for s in scenes])
    labels = np.stack([s[2] for s in scenes])
    labels[1, ::7] = -1  # padding
    labels[2] = -1  # an image with nothing
    out = B.batched_nms(boxes, scores, labels, iou_threshold=0.5, score_threshold=0.2, max_detections=30)
    assert out["boxes"].shape == (3, 30, 4) and out["labels"].dtype.name == "int32"
    for b in range(3):
        keep = B.nms_reference(boxes[b], scores[b], labels[b], iou_threshold=0.5, score_threshold=0.2,
                               max_detections=30)
        count = int(out["num_detections"][b])
        assert count == len(keep)
        np.testing.assert_allclose(out["boxes"][b, :count].numpy(), boxes[b, keep])
        np.testing.assert_allclose(out["scores"][b, :count].numpy(), scores[b, keep])
        np.testing.assert_array_equal(out["labels"][b, :count].numpy(), labels[b, keep])
        assert np.all(out["boxes"][b, count:].numpy() == -1)
        assert np.all(out["scores"][b, count:].numpy() == -1) and np.all(out["labels"][b, count:].numpy() == -1)
    assert int(out["num_detections"][0]) == 30  # truncated to max_detections
    assert int(out["num_detections"][2]) == 0


def test_batched_nms_with_a_score_per_class_agrees_with_reference():
    rng = np.random.default_rng(11)
    boxes, _, _ = random_scene(rng, 40, num_classes=1)
    class_scores = rng.uniform(0, 1, (40, 3)).astype(np.float32)  # every box is a candidate for each class
    out = B.batched_nms(boxes[None], class_scores[None], iou_threshold=0.5, score_threshold=0.3, max_detections=200)
    candidates = np.repeat(boxes, 3, axis=0)
    keep = B.nms_reference(candidates, class_scores.ravel(), np.tile(np.arange(3), 40), iou_threshold=0.5,
                           score_threshold=0.3)
    count = int(out["num_detections"][0])
    assert count == len(keep) > 10
    np.testing.assert_allclose(out["scores"][0, :count].numpy(), class_scores.ravel()[keep])
    np.testing.assert_array_equal(out["labels"][0, :count].numpy(), np.tile(np.arange(3), 40)[keep])
    # class-specific boxes (B, N, C, 4)
    per_class_boxes = np.stack([boxes, boxes + 50, boxes + 100], axis=1)[None]
    out = B.batched_nms(per_class_boxes, class_scores[None], iou_threshold=0.5, max_detections=200)
    keep = B.nms_reference(per_class_boxes[0].reshape(-1, 4), class_scores.ravel(), np.tile(np.arange(3), 40))
    count = int(out["num_detections"][0])
    np.testing.assert_allclose(out["boxes"][0, :count].numpy(), per_class_boxes[0].reshape(-1, 4)[keep])


def test_batched_nms_edge_cases_match_the_reference_rule():
    # IoU exactly at the threshold is suppressed (tf.image alone would keep it)
    boxes = np.array([[0, 0, 2, 1], [0, 0, 1, 1], [5, 5, 6, 6]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    out = B.batched_nms(boxes, scores, iou_threshold=0.5, max_detections=5)  # one image, class-agnostic
    assert out["num_detections"].numpy() == 2 and out["scores"].numpy().tolist()[:2] == pytest.approx([0.9, 0.7])
    assert B.nms_reference(boxes, scores).tolist() == [0, 2]
    # a score exactly at the threshold is kept
    out = B.batched_nms(boxes, scores, score_threshold=0.7, max_detections=5)
    assert int(out["num_detections"]) == 2
    # equal scores on identical boxes: the first one wins in both
    same = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]], np.float32) + np.array([[0], [0], [0]], np.float32)
    out = B.batched_nms(same, np.array([0.5, 0.5, 0.5], np.float32), max_detections=3)
    assert int(out["num_detections"]) == 1 == len(B.nms_reference(same, [0.5, 0.5, 0.5]))
    # formats go through
    yxyx = B.convert_format(boxes, "xyxy", "yxyx").astype(np.float32)
    out = B.batched_nms(yxyx, scores, max_detections=5, format="yxyx")
    np.testing.assert_allclose(out["boxes"][:2].numpy(), yxyx[[0, 2]])


def test_batched_nms_bad_input():
    with pytest.raises(ValueError, match="max_detections must be a positive integer"):
        B.batched_nms(np.zeros((1, 2, 4)), np.zeros((1, 2)), max_detections=0)
    with pytest.raises(ValueError, match=r"scores must have shape \(B, N\) or \(B, N, C\)"):
        B.batched_nms(np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\), \(B, N, 4\) or \(B, N, C, 4\)"):
        B.batched_nms(np.zeros((1, 2, 5)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"scores must have shape \(3,\), one per box, got \(2,\)"):
        B.nms_reference(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match=r"boxes in format 'xyxy' must have x2 >= x1"):
        B.nms_reference([[0, 0, -1, 1]], [1.0])
    with pytest.raises(ValueError, match="scores must be finite"):
        B.nms_reference([[0, 0, 1, 1]], [np.nan])
    with pytest.raises(TypeError, match="iou_threshold must be a number, got None"):
        B.nms_reference([[0, 0, 1, 1]], [1.0], iou_threshold=None)


# ----------------------------------------------------------------------------- issue 11 cases

TIED_BOXES = np.array([[7, 11, 10, 16], [4, 6, 11, 11], [6, 7, 12, 11], [5, 6, 11, 10]], np.float32)


def kept(output):
    """The kept indices of a one-image batched_nms output."""
    indices = output["indices"].numpy()
    return indices[: int(output["num_detections"])].tolist()


def test_equal_scores_first_in_the_input_wins_as_in_tf_image():
    scores = np.full(4, 0.5, np.float32)
    expected = tf_image_per_class(TIED_BOXES, scores, np.zeros(4, int), 0.5).tolist()
    assert expected == [0, 1] == B.nms_reference(TIED_BOXES, scores, iou_threshold=0.5).tolist()
    assert kept(B.batched_nms(TIED_BOXES, scores, np.zeros(4, int), iou_threshold=0.5)) == [0, 1]
    assert kept(B.batched_nms(TIED_BOXES, scores, iou_threshold=0.5)) == [0, 1]  # class-agnostic
    # across classes, tied scores are listed in input order, not by class id
    labels = np.array([3, 1, 2, 0])
    out = B.batched_nms(TIED_BOXES, scores, labels, iou_threshold=0.5)
    assert kept(out) == [0, 1, 2, 3] == B.nms_reference(TIED_BOXES, scores, labels).tolist()
    assert out["labels"].numpy()[:4].tolist() == [3, 1, 2, 0]
    # a score per class (B, N, C): candidates in the order box 0 class 0, box 0 class 1, ...
    per_class = np.full((1, 4, 2), 0.5, np.float32)
    out = B.batched_nms(TIED_BOXES[None], per_class, iou_threshold=0.5)
    reference = B.nms_reference(np.repeat(TIED_BOXES, 2, axis=0), per_class.ravel(), np.tile([0, 1], 4))
    assert out["indices"].numpy()[0, : int(out["num_detections"][0])].tolist() == reference.tolist() == [0, 1, 2, 3]


def test_iou_threshold_zero_keeps_the_best_box_of_each_class():
    boxes = np.array([[0, 0, 1, 1], [5, 5, 6, 6], [0, 0, 1, 1]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert B.nms_reference(boxes, scores, iou_threshold=0.0).tolist() == [0]
    assert kept(B.batched_nms(boxes, scores, iou_threshold=0.0)) == [0]
    labels = np.array([1, 0, 0])
    assert kept(B.batched_nms(boxes, scores, labels, iou_threshold=0.0)) == [0, 1]
    assert B.nms_reference(boxes, scores, labels, iou_threshold=0.0).tolist() == [0, 1]
    # and 1: only exact duplicates go
    assert kept(B.batched_nms(boxes, scores, iou_threshold=1.0)) == [0, 1] == B.nms_reference(
        boxes, scores, iou_threshold=1.0).tolist()


def batched_paths(monkeypatch, boxes, scores, labels, **kwargs):
    """batched_nms run eagerly (per-class calls), through its compiled graph, and inside a tf.function."""
    tf = import_tensorflow()
    results = {"eager": B.batched_nms(boxes, scores, labels, **kwargs)}
    with monkeypatch.context() as patch:
        patch.setattr(B.nms, "_EAGER_CALLS", 0)
        results["graph"] = B.batched_nms(boxes, scores, labels, **kwargs)

    @tf.function
    def inside(b, s, l):
        return B.batched_nms(b, s, l, **kwargs)

    results["tf.function"] = inside(tf.constant(boxes), tf.constant(scores), tf.constant(labels))
    return results


@pytest.mark.parametrize("seed", range(6))
def test_random_ties_and_thresholds_agree_with_reference_and_tf_image(seed, monkeypatch):
    rng = np.random.default_rng(100 + seed)
    num_classes = [1, 2, 5, 1, 3, 20][seed]
    boxes, _, labels = random_scene(rng, 90, num_classes)
    if seed % 2:  # boxes on a pixel grid: many exact ties of IoU and of scores
        boxes = np.round(boxes)
    scores = rng.integers(0, 6, len(boxes)).astype(np.float32) / 5  # many equal scores
    threshold = float(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0]) if seed > 1 else [0.0, 0.5][seed])
    reference = B.nms_reference(boxes, scores, labels, iou_threshold=threshold, score_threshold=0.2)
    candidates = scores >= 0.2
    if threshold > 0:  # tf.image itself, class by class (it suppresses IoU > t; pass the float32 below t)
        members = np.flatnonzero(candidates)
        by_tf = members[tf_image_per_class(boxes[members], scores[members], labels[members],
                                           float(np.nextafter(np.float32(threshold), np.float32(0))))]
        np.testing.assert_array_equal(np.sort(by_tf), np.sort(reference))
    batch = np.stack([boxes, boxes[::-1]]), np.stack([scores, scores[::-1]]), np.stack([labels, labels[::-1]])
    for name, out in batched_paths(monkeypatch, *batch, iou_threshold=threshold, score_threshold=0.2,
                                   max_detections=90, num_classes=num_classes).items():
        count = out["num_detections"].numpy()
        assert count[0] == len(reference), name
        np.testing.assert_array_equal(out["indices"].numpy()[0, : count[0]], reference, err_msg=name)
        np.testing.assert_array_equal(out["labels"].numpy()[0, : count[0]], labels[reference], err_msg=name)
        np.testing.assert_array_equal(out["boxes"].numpy()[0, : count[0]], boxes[reference], err_msg=name)
        flipped = B.nms_reference(*(a[1] for a in batch), iou_threshold=threshold, score_threshold=0.2)
        np.testing.assert_array_equal(out["indices"].numpy()[1, : count[1]], flipped, err_msg=name)


@pytest.mark.parametrize("seed", range(3))
def test_float32_iou_agrees_with_the_float64_reference_away_from_the_threshold(seed, monkeypatch):
    # random float32 coordinates (not on a grid): tf.image's float32 IoU decides; the documented
    # bound says the kept boxes are the reference's unless an IoU is within 1e-6 of the threshold
    rng = np.random.default_rng(200 + seed)
    boxes, scores, labels = random_scene(rng, 150, num_classes=[1, 4, 30][seed])
    threshold = 0.45
    iou = B.box_iou(boxes, boxes)
    same = labels[:, None] == labels[None, :]
    assert np.abs(iou - threshold)[same].min() > 1e-6 * threshold  # no pair in the uncertain band
    reference = B.nms_reference(boxes, scores, labels, iou_threshold=threshold)
    for name, out in batched_paths(monkeypatch, boxes[None], scores[None], labels[None],
                                   iou_threshold=threshold, max_detections=150).items():
        np.testing.assert_array_equal(out["indices"].numpy()[0, : int(out["num_detections"][0])], reference,
                                      err_msg=name)


def test_float32_just_below_turns_greater_into_greater_or_equal():
    for value in [0.5, 0.45, 0.3, 0.7, 1.0, 1e-3, 0.1 + 1e-12]:
        below = np.float32(B.nms._float32_just_below(value))
        candidates = np.array([below, np.nextafter(below, np.float32(1)), np.float32(value)], np.float32)
        for x in candidates:
            assert (x > below) == (float(x) >= value), (value, x)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(scores=[0.5, np.nan, 0.5, 0.5]), ValueError, r"scores must be finite, but scores\[(0, )?1\] = nan"),
        (dict(labels=[0, 3, 0, 0], num_classes=3), ValueError, "labels must be < num_classes = 3"),
        (dict(labels=[0, -2, 0, 0]), ValueError, "labels must be class ids >= 0, or -1 for padding; got -2"),
        (dict(labels=[0, 0.5, 0, 0]), ValueError, "labels must be integers"),
        (dict(iou_threshold=1.5), ValueError, r"iou_threshold must be a number in \[0.0, 1.0\], got 1.5"),
        (dict(iou_threshold=-0.1), ValueError, r"iou_threshold must be a number in \[0.0, 1.0\]"),
        (dict(iou_threshold=float("nan")), ValueError, "iou_threshold must be a finite number"),
        (dict(score_threshold=float("inf")), ValueError, "score_threshold must be a finite number"),
        (dict(max_detections_per_class=0), ValueError, "max_detections_per_class must be a positive integer"),
        (dict(num_classes=2.5), TypeError, "num_classes must be an integer"),
        (dict(format="ltrb"), ValueError, "format must be one of .* got 'ltrb'"),
    ],
)
def test_batched_nms_rejects_bad_input_naming_the_argument(kwargs, error, message):
    arguments = dict(scores=[0.5] * 4, labels=[0] * 4)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        B.batched_nms(TIED_BOXES, **arguments)
    reference_kwargs = {k: v for k, v in arguments.items() if k not in ("num_classes", "max_detections_per_class")}
    if "num_classes" not in kwargs and "max_detections_per_class" not in kwargs:
        with pytest.raises(error, match=message):
            B.nms_reference(TIED_BOXES, **reference_kwargs)


def test_batched_nms_in_a_graph_asserts_with_a_clear_message():
    tf = import_tensorflow()

    @tf.function
    def run(scores, labels):
        return B.batched_nms(tf.constant(TIED_BOXES), scores, labels, num_classes=3)["num_detections"]

    assert int(run(tf.constant([0.5] * 4), tf.constant([0, 1, 2, -1]))) == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="scores must be finite"):
        run(tf.constant([0.5, np.nan, 0.5, 0.5]), tf.constant([0, 0, 0, 0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be < num_classes = 3"):
        run(tf.constant([0.5] * 4), tf.constant([0, 3, 0, 0]))
