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
    with pytest.raises(ValueError, match=r"scores must have shape \(B, N, C\)"):
        B.batched_nms(np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\)"):
        B.batched_nms(np.zeros((1, 2, 5)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"scores must have shape \(N,\)"):
        B.nms_reference(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match=r"boxes in format 'xyxy' must have x2 >= x1"):
        B.nms_reference([[0, 0, -1, 1]], [1.0])
    with pytest.raises(ValueError, match="scores must be finite"):
        B.nms_reference([[0, 0, 1, 1]], [np.nan])
    with pytest.raises(ValueError, match="iou_threshold must be a finite number, got None"):
        B.nms_reference([[0, 0, 1, 1]], [1.0], iou_threshold=None)
