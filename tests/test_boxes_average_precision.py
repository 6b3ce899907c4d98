"""Average precision (cnncourse.boxes.average_precision) against pycocotools' COCOeval and the VOC devkit rule."""

import contextlib
import io

import numpy as np
import pytest

from cnncourse import boxes as B

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


# ----------------------------------------------------------------------------- scenes


def make_scene(seed, num_images=20, num_classes=4, max_gt=8, crowded=False, empty_every=5, tied_scores=False,
               extra_class=None, dets_per_gt=(0, 3), false_positives=4, size_range=(4, 60)):
    """Random ground truth and detections: jittered copies of the ground truth, plus false positives.

    Returns ``(predictions, ground_truth)`` as -1-padded batch dicts of NumPy arrays.
    """
    rng = np.random.default_rng(seed)
    gt_boxes, gt_labels, det_boxes, det_labels, det_scores = [], [], [], [], []
    for image in range(num_images):
        n = 0 if empty_every and image % empty_every == empty_every - 1 else int(rng.integers(1, max_gt + 1))
        if crowded:  # clustered objects, some duplicated exactly
            centres = rng.uniform(20, 120, (2, 2))[rng.integers(0, 2, n)] + rng.normal(0, 6, (n, 2))
        else:
            centres = rng.uniform(0, 200, (n, 2))
        sizes = rng.uniform(*size_range, (n, 2))
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
        if crowded and n > 3:
            boxes[1] = boxes[0]
        labels = rng.integers(0, num_classes, n)
        dets, dlabels = [], []
        for box, label in zip(boxes, labels):
            for _ in range(int(rng.integers(*dets_per_gt))):
                scale = box[2:] - box[:2]
                jitter = rng.normal(0, 0.12, 4) * np.concatenate([scale, scale])
                dets.append(box + jitter)
                dlabels.append(label if rng.random() > 0.1 else int(rng.integers(0, num_classes)))
        for _ in range(int(rng.integers(0, false_positives + 1))):
            corner = rng.uniform(0, 200, 2)
            dets.append(np.concatenate([corner, corner + rng.uniform(*size_range, 2)]))
            dlabels.append(int(rng.integers(0, num_classes)) if extra_class is None or rng.random() < 0.7 else extra_class)
        dets = np.array(dets, dtype=np.float64).reshape(-1, 4)
        dets[:, 2:] = np.maximum(dets[:, 2:], dets[:, :2] + 0.5)
        scores = rng.random(len(dets))
        if tied_scores:
            scores = np.round(scores, 1)
        gt_boxes.append(boxes), gt_labels.append(labels)
        det_boxes.append(dets), det_labels.append(np.array(dlabels, np.int64)), det_scores.append(scores)
    return pad(det_boxes, det_labels, det_scores), pad(gt_boxes, gt_labels)


def pad(boxes, labels, scores=None):
    width = max([len(b) for b in boxes] + [1])
    out = {"boxes": -np.ones((len(boxes), width, 4)), "labels": -np.ones((len(boxes), width), np.int64)}
    if scores is not None:
        out["scores"] = -np.ones((len(boxes), width))
    for i, b in enumerate(boxes):
        out["boxes"][i, : len(b)] = b
        out["labels"][i, : len(b)] = labels[i]
        if scores is not None:
            out["scores"][i, : len(b)] = scores[i]
    return out


def run_cocoeval(predictions, ground_truth, max_dets=(1, 10, 100), iou_thresholds=None, area_ranges=None):
    """pycocotools on the same data: image b has id b + 1, class c has category id c + 1."""
    num_images = ground_truth["labels"].shape[0]
    classes = sorted(set(ground_truth["labels"].ravel()) | set(predictions["labels"].ravel()) - {-1})
    classes = [c for c in classes if c != -1]
    images = [{"id": b + 1} for b in range(num_images)]
    categories = [{"id": int(c) + 1} for c in classes]

    def annotations(data, with_scores):
        out = []
        for b in range(num_images):
            for j in np.flatnonzero(data["labels"][b] != -1):
                x1, y1, x2, y2 = (float(v) for v in data["boxes"][b, j])
                box = [x1, y1, x2 - x1, y2 - y1]
                entry = {"id": len(out) + 1, "image_id": b + 1, "category_id": int(data["labels"][b, j]) + 1,
                         "bbox": box, "area": box[2] * box[3], "iscrowd": 0}
                if "iscrowd" in data:
                    entry["iscrowd"] = int(data["iscrowd"][b, j])
                if "area" in data:
                    entry["area"] = float(data["area"][b, j])
                if with_scores:
                    entry["score"] = float(data["scores"][b, j])
                out.append(entry)
        return out

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt, coco_dt = COCO(), COCO()
        coco_gt.dataset = {"images": images, "categories": categories, "annotations": annotations(ground_truth, False)}
        coco_dt.dataset = {"images": images, "categories": categories, "annotations": annotations(predictions, True)}
        coco_gt.createIndex(), coco_dt.createIndex()
        evaluation = COCOeval(coco_gt, coco_dt, "bbox")
        evaluation.params.maxDets = list(max_dets)
        if iou_thresholds is not None:
            evaluation.params.iouThrs = np.asarray(iou_thresholds)
        if area_ranges is not None:
            evaluation.params.areaRng = area_ranges
            evaluation.params.areaRngLbl = [str(i) for i in range(len(area_ranges))]
        evaluation.evaluate()
        evaluation.accumulate()
    if iou_thresholds is None and area_ranges is None and tuple(max_dets) == (1, 10, 100):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            evaluation.summarize()
        evaluation.printed = printed.getvalue()
    return evaluation, [int(c) for c in classes]


def assert_same_as_cocoeval(result, evaluation, classes, area_index=0, max_det_index=-1):
    precision = evaluation.eval["precision"][:, :, :, area_index, max_det_index]
    recall = evaluation.eval["recall"][:, :, area_index, max_det_index]
    # every category, with -1 where a class has no ground truth, as in COCOeval's arrays
    assert result.class_ids.tolist() == classes
    np.testing.assert_allclose(result.precision, precision, atol=1e-12)
    np.testing.assert_allclose(result.recall, recall, atol=1e-12)
    without = [k for k in range(len(classes)) if np.all(precision[:, :, k] == -1)]
    assert np.all(result.ap[:, without] == -1) and np.all(result.num_ground_truth[without] == 0)
    valid = precision[precision > -1]
    assert result.mean_ap == pytest.approx(valid.mean() if valid.size else float("nan"), abs=1e-9, nan_ok=True)


# ----------------------------------------------------------------------------- COCO


@pytest.mark.parametrize(
    "scene",
    [
        dict(seed=0),
        dict(seed=1, num_images=30, num_classes=6, tied_scores=True),
        dict(seed=2, num_images=6, num_classes=2, max_gt=60, crowded=True, dets_per_gt=(3, 7)),  # > 100 per class
        dict(seed=3, num_images=12, extra_class=9, empty_every=2),  # class 9: detections only
    ],
    ids=["plain", "tied-scores", "crowded", "empty-images-and-class-without-gt"],
)
def test_coco_equals_cocoeval_on_random_scenes(scene):
    predictions, ground_truth = make_scene(**scene)
    evaluation, classes = run_cocoeval(predictions, ground_truth)
    result = B.coco_average_precision(predictions, ground_truth)
    assert_same_as_cocoeval(result, evaluation, classes)
    assert result.mean_ap == pytest.approx(evaluation.stats[0], abs=1e-6)
    assert result.ap_at(0.5) == pytest.approx(evaluation.stats[1], abs=1e-6)
    assert result.ap_at(0.75) == pytest.approx(evaluation.stats[2], abs=1e-6)
    assert 0.05 < result.mean_ap < 0.95  # the scenes are neither hopeless nor perfect
    if scene.get("crowded"):
        per_image_class = [np.sum(predictions["labels"][b] == c) for b in range(6) for c in range(2)]
        assert max(per_image_class) > 100  # the 100-detection cap mattered


def test_coco_other_settings_equal_cocoeval():
    predictions, ground_truth = make_scene(seed=4, num_images=15, max_gt=12, dets_per_gt=(1, 5), size_range=(5, 70))
    small = [[0, 1e10], [0, 32**2]]
    evaluation, classes = run_cocoeval(predictions, ground_truth, area_ranges=small)
    assert_same_as_cocoeval(B.coco_average_precision(predictions, ground_truth, max_detections=10), evaluation,
                            classes, max_det_index=1)
    assert_same_as_cocoeval(B.coco_average_precision(predictions, ground_truth, area_range=(0, 32**2)), evaluation,
                            classes, area_index=1)
    thresholds = [0.3, 0.5, 0.65]
    evaluation, classes = run_cocoeval(predictions, ground_truth, iou_thresholds=thresholds)
    assert_same_as_cocoeval(B.coco_average_precision(predictions, ground_truth, iou_thresholds=thresholds),
                            evaluation, classes)


def test_coco_without_predictions_and_without_ground_truth():
    _, ground_truth = make_scene(seed=5, num_images=4)
    nothing = {"boxes": -np.ones((4, 3, 4)), "labels": -np.ones((4, 3), int), "scores": -np.ones((4, 3))}
    evaluation, classes = run_cocoeval(nothing, ground_truth)
    result = B.coco_average_precision(nothing, ground_truth)
    assert_same_as_cocoeval(result, evaluation, classes)
    assert result.mean_ap == 0.0 == evaluation.stats[0] and len(result.class_ids) > 0
    # no ground truth anywhere: nothing to average (COCOeval prints -1)
    no_gt = {"boxes": -np.ones((4, 2, 4)), "labels": -np.ones((4, 2), int)}
    predictions, _ = make_scene(seed=5, num_images=4)
    empty = B.coco_average_precision(predictions, no_gt)
    assert np.isnan(empty.mean_ap) and set(empty.ap_per_class.values()) == {-1.0}
    assert empty.class_ids.tolist() == sorted(set(predictions["labels"].ravel()) - {-1})


def test_coco_by_hand():
    gt = {"boxes": [[0, 0, 10, 10]], "labels": [0]}
    # IoU 0.9: a hit at thresholds 0.50 ... 0.90 (9 of 10); the false positive comes later
    pred = {"boxes": [[0, 0, 10, 9], [50, 50, 60, 60]], "labels": [0, 0], "scores": [0.9, 0.8]}
    assert B.coco_average_precision(pred, gt).mean_ap == pytest.approx(0.9)
    # the false positive first: precision 1/2 at recall 1 -> 0.5 at every threshold it hits
    pred["scores"] = [0.7, 0.8]
    assert B.coco_average_precision(pred, gt).mean_ap == pytest.approx(0.45)


def test_equal_overlaps_go_to_the_later_ground_truth_as_in_cocoeval():
    # the first detection overlaps both boxes equally (IoU 2/3); COCOeval gives it the later
    # one, so the second detection can take the earlier one
    ground_truth = {"boxes": np.array([[[-2, 0, 8, 10], [2, 0, 12, 10]]], float), "labels": np.array([[0, 0]])}
    predictions = {"boxes": np.array([[[0, 0, 10, 10], [-2, 0, 8, 10]]], float), "labels": np.array([[0, 0]]),
                   "scores": np.array([[0.9, 0.8]])}
    evaluation, classes = run_cocoeval(predictions, ground_truth)
    result = B.coco_average_precision(predictions, ground_truth)
    assert_same_as_cocoeval(result, evaluation, classes)
    assert result.ap_at(0.5) == pytest.approx(1.0)
    # VOC takes the first most-overlapping box, so the second detection is a duplicate
    assert B.voc_average_precision(predictions, ground_truth).mean_ap == pytest.approx(0.5)
    assert voc_devkit(predictions, ground_truth, 0)[0] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- VOC


def voc_devkit(predictions, ground_truth, class_id, threshold=0.5):
    """VOCevaldet, detection by detection (continuous coordinates, no 'difficult' boxes)."""

    def iou(a, b):
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    gts = {b: [box for box, lab in zip(ground_truth["boxes"][b], ground_truth["labels"][b]) if lab == class_id]
           for b in range(len(ground_truth["boxes"]))}
    taken = {b: [False] * len(boxes) for b, boxes in gts.items()}
    npos = sum(len(v) for v in gts.values())
    dets = [(-predictions["scores"][b][j], b, j) for b in range(len(predictions["boxes"]))
            for j in range(len(predictions["boxes"][b])) if predictions["labels"][b][j] == class_id]
    tp, fp = [], []
    for _, b, j in sorted(dets):
        overlaps = [iou(predictions["boxes"][b][j], g) for g in gts[b]]
        best = max(range(len(overlaps)), key=lambda i: (overlaps[i], -i)) if overlaps else None
        if best is not None and overlaps[best] >= threshold and not taken[b][best]:
            taken[b][best] = True
            tp.append(1), fp.append(0)
        else:
            tp.append(0), fp.append(1)
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    recall = tp / npos
    precision = tp / np.maximum(tp + fp, np.finfo(float).eps)
    mrec = [0.0, *recall, 1.0]
    mpre = [0.0, *precision, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    ap = sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])
    return ap, recall, precision


@pytest.mark.parametrize("seed, crowded", [(6, False), (7, True)])
def test_voc_equals_the_devkit_rule(seed, crowded):
    predictions, ground_truth = make_scene(seed=seed, num_images=10, crowded=crowded, max_gt=15 if crowded else 8)
    result = B.voc_average_precision(predictions, ground_truth)
    assert len(result.class_ids) == 4
    for class_id in result.class_ids:
        ap, recall, precision = voc_devkit(predictions, ground_truth, class_id)
        assert result.ap_per_class[int(class_id)] == pytest.approx(ap, abs=1e-12)
        curve = result.curves[int(class_id)]
        np.testing.assert_allclose(curve.recall, recall, atol=1e-12)
        np.testing.assert_allclose(curve.precision, precision, atol=1e-12)
        assert np.all(np.diff(curve.interpolated_precision) <= 0) and np.all(curve.interpolated_precision >= curve.precision)
        assert curve.average_precision == pytest.approx(ap, abs=1e-12)
    assert result.mean_ap == pytest.approx(np.mean([voc_devkit(predictions, ground_truth, c)[0] for c in result.class_ids]))
    assert 0.1 < result.mean_ap < 0.95


def test_voc_by_hand():
    gt = {"boxes": [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], "labels": [0, 0, 0]}
    # TP, FP (a duplicate), TP, FP: precision 1, 1/2, 2/3, 1/2 at recall 1/3, 1/3, 2/3, 2/3
    pred = {"boxes": [[0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 30, 10], [60, 0, 70, 10]],
            "labels": [0, 0, 0, 0], "scores": [0.9, 0.8, 0.7, 0.6]}
    result = B.voc_average_precision(pred, gt)
    assert result.mean_ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    assert result.recall.tolist() == [[pytest.approx(2 / 3)]]
    assert B.voc_average_precision(pred, gt, interpolation="11_points").mean_ap == pytest.approx((4 * 1 + 3 * 2 / 3) / 11)
    # VOC counts the duplicate of a taken box as a false positive even when another box overlaps enough;
    # COCO gives the duplicate the other box
    gt2 = {"boxes": [[0, 0, 10, 10], [0, 0, 10, 8]], "labels": [0, 0]}
    pred2 = {"boxes": [[0, 0, 10, 10], [0, 0, 10, 9.5]], "labels": [0, 0], "scores": [0.9, 0.8]}
    assert B.voc_average_precision(pred2, gt2).mean_ap == pytest.approx(0.5)
    assert B.coco_average_precision(pred2, gt2, iou_thresholds=[0.5]).mean_ap == pytest.approx(1.0)
    summary = result.summary()
    assert "mAP@0.5 (voc)" in summary and "class    0" in summary


# ----------------------------------------------------------------------------- inputs


def test_input_forms_give_the_same_result():
    predictions, ground_truth = make_scene(seed=8, num_images=5)
    batched = B.coco_average_precision(predictions, ground_truth)

    def ragged(data):
        keep = [data["labels"][b] != -1 for b in range(len(data["labels"]))]
        return {k: [np.asarray(v[b])[keep[b]] for b in range(len(keep))] for k, v in data.items()}

    listed = B.coco_average_precision(ragged(predictions), ragged(ground_truth))
    np.testing.assert_array_equal(listed.precision, batched.precision)
    # one image without the batch axis, in another format
    one_pred = {k: v[0] for k, v in predictions.items()}
    one_gt = {k: v[0] for k, v in ground_truth.items()}
    single = B.coco_average_precision(one_pred, one_gt)
    first = B.coco_average_precision({k: v[:1] for k, v in predictions.items()},
                                     {k: v[:1] for k, v in ground_truth.items()})
    assert single.mean_ap == first.mean_ap

    def as_xywh(data):
        converted = B.convert_format(data["boxes"], "xyxy", "xywh")
        return {**data, "boxes": np.where(data["labels"][..., None] == -1, -1, converted)}

    in_xywh = B.coco_average_precision(as_xywh(predictions), as_xywh(ground_truth), format="xywh")
    np.testing.assert_allclose(in_xywh.precision, batched.precision, atol=1e-9)


def test_batched_nms_output_feeds_the_evaluation():
    predictions, ground_truth = make_scene(seed=9, num_images=4, dets_per_gt=(2, 5))
    labels = np.where(predictions["labels"] == -1, -1, predictions["labels"])
    detections = B.batched_nms(predictions["boxes"].astype(np.float32), predictions["scores"].astype(np.float32),
                               labels, iou_threshold=0.5, max_detections=50)
    after = B.coco_average_precision(detections, ground_truth)
    before = B.coco_average_precision(predictions, ground_truth)
    assert set(after.class_ids) == set(before.class_ids)
    assert after.ap_at(0.5) >= before.ap_at(0.5) - 0.05  # NMS removes mostly duplicates (false positives)


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda p, g: ({k: v for k, v in p.items() if k != "scores"}, g), KeyError, r"predictions lacks \['scores'\]"),
        (lambda p, g: ({**p, "scores": np.where(p["labels"] == -1, -1, np.nan)}, g), ValueError,
         r"predictions\['scores'\] must be finite"),
        (lambda p, g: (p, {**g, "boxes": g["boxes"][..., ::-1]}), ValueError,
         r"ground_truth\['boxes'\] in format 'xyxy' must have x2 >= x1"),
        (lambda p, g: (p, {**g, "boxes": g["boxes"][..., :3]}), ValueError, r"ground_truth\['boxes'\] must have shape"),
        (lambda p, g: (p, {**g, "labels": g["labels"] - 5}), ValueError, r"class ids >= 0, or -1 for padding"),
        (lambda p, g: (p, {k: v[:2] for k, v in g.items()}), ValueError, "must cover the same images: 3 and 2"),
        (lambda p, g: (p, [g["boxes"], g["labels"]]), TypeError, "ground_truth must be a dict"),
    ],
)
def test_bad_input(change, error, message):
    predictions, ground_truth = make_scene(seed=10, num_images=3, empty_every=0)
    predictions, ground_truth = change(predictions, ground_truth)
    with pytest.raises(error, match=message):
        B.coco_average_precision(predictions, ground_truth)
    with pytest.raises(ValueError, match="format must be one of"):
        B.voc_average_precision(*make_scene(seed=10, num_images=3), format="ltrb")


# ----------------------------------------------------------------------------- crowds, areas, difficult, precision


def with_crowds_and_areas(ground_truth, seed, crowd_fraction=0.3):
    """Mark some ground truth as crowd regions and give every box an annotation area unlike its box area."""
    rng = np.random.default_rng(seed)
    real = ground_truth["labels"] != -1
    crowd = (rng.random(real.shape) < crowd_fraction) & real
    box_area = (ground_truth["boxes"][..., 2] - ground_truth["boxes"][..., 0]) * (
        ground_truth["boxes"][..., 3] - ground_truth["boxes"][..., 1])
    area = np.where(real, box_area * rng.uniform(0.3, 1.2, real.shape), -1)  # a mask's area is smaller than its box's
    return {**ground_truth, "iscrowd": crowd.astype(np.int64), "area": area}


@pytest.mark.parametrize("seed", range(4))
def test_coco_with_crowd_regions_and_areas_equals_cocoeval(seed):
    predictions, ground_truth = make_scene(seed=40 + seed, num_images=8, num_classes=3, max_gt=12, crowded=True,
                                           dets_per_gt=(1, 5), size_range=(8, 110), extra_class=5 if seed == 1 else None)
    ground_truth = with_crowds_and_areas(ground_truth, seed)
    assert ground_truth["iscrowd"].sum() >= 3
    evaluation, classes = run_cocoeval(predictions, ground_truth)
    result = B.coco_average_precision(predictions, ground_truth)
    assert_same_as_cocoeval(result, evaluation, classes)
    assert result.mean_ap == pytest.approx(evaluation.stats[0], abs=1e-12)
    # without the crowd flags and areas the numbers differ: the test can see them
    plain = B.coco_average_precision(predictions, {k: ground_truth[k] for k in ("boxes", "labels")})
    assert not np.allclose(plain.precision, result.precision)
    # area ranges use the annotation's area
    ranges = [[0, 1e10], [0, 32**2], [32**2, 96**2], [96**2, 1e10]]
    evaluation, classes = run_cocoeval(predictions, ground_truth, area_ranges=ranges)
    for index, area_range in enumerate(ranges):
        assert_same_as_cocoeval(B.coco_average_precision(predictions, ground_truth, area_range=area_range),
                                evaluation, classes, area_index=index)
    # COCOeval.summarize(): the same 12 numbers, printed the same way
    evaluation, classes = run_cocoeval(predictions, ground_truth)
    summary = B.coco_summary(predictions, ground_truth)
    np.testing.assert_allclose(summary.stats, evaluation.stats, atol=1e-12)
    assert str(summary) + "\n" == evaluation.printed
    assert len(summary.lines) == 12


def test_a_crowd_region_matches_many_detections_by_the_detections_area():
    # one crowd region holding two small detections: IoU against a crowd = intersection / detection area
    ground_truth = {"boxes": np.array([[[0, 0, 100, 100], [200, 200, 210, 210]]], float), "labels": np.array([[0, 0]]),
                    "iscrowd": np.array([[1, 0]])}
    predictions = {"boxes": np.array([[[10, 10, 20, 20], [50, 50, 60, 60], [200, 200, 210, 210]]], float),
                   "labels": np.array([[0, 0, 0]]), "scores": np.array([[0.9, 0.8, 0.7]])}
    evaluation, classes = run_cocoeval(predictions, ground_truth)
    result = B.coco_average_precision(predictions, ground_truth)
    assert_same_as_cocoeval(result, evaluation, classes)
    assert result.mean_ap == pytest.approx(1.0)  # both detections in the crowd are ignored, not false positives
    assert result.num_ground_truth.tolist() == [1]
    without = B.coco_average_precision(predictions, {k: ground_truth[k] for k in ("boxes", "labels")})
    assert without.mean_ap < 0.5


def test_float32_boxes_are_compared_in_float64_like_cocoeval():
    gt = {"boxes": np.array([[0, 0, 2000, 1]], np.float32), "labels": np.array([0])}
    pred = {"boxes": np.array([[2**-20, 0, 1000, 1]], np.float32), "labels": np.array([0]),
            "scores": np.array([0.9], np.float32)}
    batch = lambda d: {k: v[None] for k, v in d.items()}  # noqa: E731
    evaluation, _ = run_cocoeval(batch(pred), batch(gt), iou_thresholds=[0.5])
    assert evaluation.eval["precision"][0, :, 0, 0, -1].max() == 0.0  # IoU 0.5 - 2**-31: a miss
    assert B.coco_average_precision(pred, gt, iou_thresholds=[0.5]).mean_ap == 0.0
    assert B.voc_average_precision(pred, gt).mean_ap == 0.0
    assert B.coco_average_precision(pred, gt, iou_thresholds=[0.5], format="xyxy").recall.tolist() == [[0.0]]
    # the same boxes in float64 agree, and the float32 IoU would have said 0.5 (a hit)
    assert B.coco_average_precision({k: v.astype(np.float64) for k, v in pred.items()}, gt,
                                    iou_thresholds=[0.5]).mean_ap == 0.0
    assert np.float32(1000) - np.float32(2**-20) == np.float32(1000)


def voc_eval_devkit(predictions, ground_truth, class_id, threshold=0.5):
    """The logic of the VOC devkit's ``voc_eval.py`` (py-faster-rcnn), detection by detection, with
    "difficult" boxes; continuous coordinates (no +1) and the MATLAB kit's ``>=`` threshold."""
    difficult_all = ground_truth.get("difficult", np.zeros_like(ground_truth["labels"]))
    class_recs, npos = {}, 0
    for b in range(len(ground_truth["boxes"])):
        mine = ground_truth["labels"][b] == class_id
        difficult = difficult_all[b][mine].astype(bool)
        class_recs[b] = {"bbox": ground_truth["boxes"][b][mine], "difficult": difficult, "det": [False] * int(mine.sum())}
        npos += int((~difficult).sum())
    image_ids, confidence, boxes = [], [], []
    for b in range(len(predictions["boxes"])):
        for j in np.flatnonzero(predictions["labels"][b] == class_id):
            image_ids.append(b), confidence.append(predictions["scores"][b][j]), boxes.append(predictions["boxes"][b][j])
    order = np.argsort(-np.array(confidence), kind="stable")
    tp, fp = np.zeros(len(order)), np.zeros(len(order))
    for d, index in enumerate(order):
        R, bb = class_recs[image_ids[index]], boxes[index]
        ovmax, BBGT = -np.inf, R["bbox"]
        if BBGT.size > 0:
            iw = np.maximum(np.minimum(BBGT[:, 2], bb[2]) - np.maximum(BBGT[:, 0], bb[0]), 0.0)
            ih = np.maximum(np.minimum(BBGT[:, 3], bb[3]) - np.maximum(BBGT[:, 1], bb[1]), 0.0)
            inters = iw * ih
            uni = (bb[2] - bb[0]) * (bb[3] - bb[1]) + (BBGT[:, 2] - BBGT[:, 0]) * (BBGT[:, 3] - BBGT[:, 1]) - inters
            overlaps = inters / uni
            ovmax, jmax = np.max(overlaps), np.argmax(overlaps)
        if ovmax >= threshold:
            if not R["difficult"][jmax]:
                if not R["det"][jmax]:
                    tp[d] = 1.0
                    R["det"][jmax] = True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


@pytest.mark.parametrize("seed", range(4))
def test_voc_with_difficult_boxes_equals_the_devkit(seed):
    predictions, ground_truth = make_scene(seed=60 + seed, num_images=10, crowded=seed % 2 == 1, max_gt=12)
    rng = np.random.default_rng(seed)
    difficult = (rng.random(ground_truth["labels"].shape) < 0.25) & (ground_truth["labels"] != -1)
    ground_truth = {**ground_truth, "difficult": difficult}
    assert difficult.sum() >= 4
    result = B.voc_average_precision(predictions, ground_truth)
    checked = 0
    for k, class_id in enumerate(result.class_ids):
        if not result.has_ground_truth[k]:
            continue
        assert result.ap_per_class[int(class_id)] == pytest.approx(voc_eval_devkit(predictions, ground_truth, class_id),
                                                                   abs=1e-12)
        assert result.num_ground_truth[k] == np.sum((ground_truth["labels"] == class_id) & ~difficult)
        checked += 1
    assert checked >= 3
    plain = B.voc_average_precision(predictions, {k: ground_truth[k] for k in ("boxes", "labels")})
    assert plain.mean_ap != pytest.approx(result.mean_ap)
    # the devkit without difficult flags is the old rule
    for class_id in plain.class_ids:
        assert plain.ap_per_class[int(class_id)] == pytest.approx(
            voc_eval_devkit(predictions, {k: ground_truth[k] for k in ("boxes", "labels")}, class_id), abs=1e-12)


def test_classes_without_ground_truth_get_minus_one():
    predictions, ground_truth = make_scene(seed=70, num_images=5, num_classes=3, extra_class=7)
    result = B.coco_average_precision(predictions, ground_truth, num_classes=9)
    assert result.class_ids.tolist() == list(range(9))
    without = ~result.has_ground_truth
    assert without.sum() >= 6 and np.all(result.precision[:, :, without] == -1) and np.all(result.ap[:, without] == -1)
    assert result.mean_ap == pytest.approx(B.coco_average_precision(predictions, ground_truth).mean_ap)
    assert "no ground truth" in result.summary()
    voc = B.voc_average_precision(predictions, ground_truth, num_classes=9)
    assert voc.ap_per_class[8] == -1.0 and voc.curves[8].num_ground_truth == 0
    with pytest.raises(ValueError, match="labels must be < num_classes = 5, got 7"):
        B.coco_average_precision(predictions, ground_truth, num_classes=5)
    with pytest.raises(ValueError, match=r"ground_truth\['iscrowd'\] must be 0/1 or True/False flags"):
        B.coco_average_precision(predictions, {**ground_truth, "iscrowd": np.full(ground_truth["labels"].shape, 2)})
