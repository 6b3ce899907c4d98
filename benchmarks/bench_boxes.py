"""Benchmark cnncourse.boxes: mAP against pycocotools, NMS against tf.image.non_max_suppression.

Run::

    .venv/bin/python benchmarks/bench_boxes.py            # defaults: 1000 images, ~5000 detections
    .venv/bin/python benchmarks/bench_boxes.py --images 4000 --nms-batch 8 --nms-boxes 4000 --nms-classes 80
    .venv/bin/python benchmarks/bench_boxes.py --skip-map     # NMS only: 1 image x 1, 3, 20, 80 classes, batches

Prints the median wall time of each method (several repeats, after a warm-up; the NMS
methods run in turns, so that the machine's load affects them alike), the ratio to the
reference measured in the same run, and checks the results agree.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import numpy as np

from cnncourse import boxes as B
from cnncourse.runtime import import_tensorflow


def median_time(function, repeats):
    function()  # warm-up (TensorFlow traces, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(functions, repeats):
    """Median time of each function, run in turns (A, B, A, B, ...) so that a change in the
    machine's load affects them alike; ratios between them are what to read."""
    for function in functions:
        function()  # warm-up
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, measured in zip(functions, times):
            start = time.perf_counter()
            function()
            measured.append(time.perf_counter() - start)
    return [statistics.median(measured) for measured in times]


# ----------------------------------------------------------------------------- mAP


def detection_data(num_images, num_classes, seed=0):
    """About 5 objects per image; detections: jittered objects (some missed, some doubled) and false positives."""
    rng = np.random.default_rng(seed)
    max_gt, max_det = 10, 16
    gt_boxes = -np.ones((num_images, max_gt, 4))
    gt_labels = -np.ones((num_images, max_gt), np.int64)
    det_boxes = -np.ones((num_images, max_det, 4))
    det_labels = -np.ones((num_images, max_det), np.int64)
    det_scores = -np.ones((num_images, max_det))
    for b in range(num_images):
        n = int(rng.integers(0, max_gt + 1))
        centres = rng.uniform(0, 400, (n, 2))
        sizes = rng.uniform(10, 150, (n, 2))
        gt = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
        labels = rng.integers(0, num_classes, n)
        gt_boxes[b, :n], gt_labels[b, :n] = gt, labels
        dets, dlabels = [], []
        for box, label in zip(gt, labels):
            for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
                scale = np.tile(box[2:] - box[:2], 2)
                dets.append(box + rng.normal(0, 0.1, 4) * scale)
                dlabels.append(label)
        while len(dets) < min(max_det, len(dets) + int(rng.integers(0, 3))):
            corner = rng.uniform(0, 400, 2)
            dets.append(np.concatenate([corner, corner + rng.uniform(10, 150, 2)]))
            dlabels.append(int(rng.integers(0, num_classes)))
        dets = np.array(dets[:max_det]).reshape(-1, 4)
        dets[:, 2:] = np.maximum(dets[:, 2:], dets[:, :2] + 1)
        k = len(dets)
        det_boxes[b, :k], det_labels[b, :k], det_scores[b, :k] = dets, dlabels[:k], rng.random(k)
    predictions = {"boxes": det_boxes, "labels": det_labels, "scores": det_scores}
    ground_truth = {"boxes": gt_boxes, "labels": gt_labels}
    return predictions, ground_truth


def coco_objects(predictions, ground_truth):
    from pycocotools.coco import COCO

    num_images = ground_truth["labels"].shape[0]
    classes = sorted(set(ground_truth["labels"].ravel().tolist()) | set(predictions["labels"].ravel().tolist()) - {-1})
    images = [{"id": b + 1} for b in range(num_images)]
    categories = [{"id": c + 1} for c in classes if c != -1]

    def annotations(data, with_scores):
        out = []
        for b, j in zip(*np.nonzero(data["labels"] != -1)):
            x1, y1, x2, y2 = (float(v) for v in data["boxes"][b, j])
            entry = {"id": len(out) + 1, "image_id": int(b) + 1, "category_id": int(data["labels"][b, j]) + 1,
                     "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0}
            if with_scores:
                entry["score"] = float(data["scores"][b, j])
            out.append(entry)
        return out

    with contextlib.redirect_stdout(io.StringIO()):
        gt, dt = COCO(), COCO()
        gt.dataset = {"images": images, "categories": categories, "annotations": annotations(ground_truth, False)}
        dt.dataset = {"images": images, "categories": categories, "annotations": annotations(predictions, True)}
        gt.createIndex(), dt.createIndex()
    return gt, dt


def bench_map(num_images, num_classes, repeats):
    from pycocotools.cocoeval import COCOeval

    predictions, ground_truth = detection_data(num_images, num_classes)
    num_dets = int((predictions["labels"] != -1).sum())
    num_gt = int((ground_truth["labels"] != -1).sum())
    coco_gt, coco_dt = coco_objects(predictions, ground_truth)
    state = {}

    def with_pycocotools():
        with contextlib.redirect_stdout(io.StringIO()):
            evaluation = COCOeval(coco_gt, coco_dt, "bbox")
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        state["coco"] = evaluation

    def with_cnncourse():
        state["ours"] = B.coco_average_precision(predictions, ground_truth)

    def with_cnncourse_voc():
        B.voc_average_precision(predictions, ground_truth)

    reference = median_time(with_pycocotools, max(1, repeats // 3))
    ours = median_time(with_cnncourse, repeats)
    voc = median_time(with_cnncourse_voc, repeats)
    evaluation, result = state["coco"], state["ours"]
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    has_gt = [k for k in range(precision.shape[2]) if np.any(precision[:, :, k] > -1)]
    difference = float(np.abs(precision[:, :, has_gt] - result.precision).max())
    print(f"mAP@[.5:.95] on {num_images} images, {num_classes} classes, {num_gt} ground-truth boxes, "
          f"{num_dets} detections")
    print(f"  pycocotools COCOeval (evaluate+accumulate+summarize): {reference * 1e3:9.1f} ms   mAP {evaluation.stats[0]:.6f}")
    print(f"  cnncourse coco_average_precision:                     {ours * 1e3:9.1f} ms   mAP {result.mean_ap:.6f}"
          f"   speed-up x{reference / ours:.1f}")
    print(f"  cnncourse voc_average_precision (AP@0.5):             {voc * 1e3:9.1f} ms")
    print(f"  largest difference in the precision arrays: {difference:.2e}")


# ----------------------------------------------------------------------------- NMS


def nms_data(batch, num_boxes, num_classes, seed=1):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 600, (batch, num_boxes // 10 + 1, 2))
    picks = np.take_along_axis(centres, rng.integers(0, centres.shape[1], (batch, num_boxes, 1)), axis=1)
    picks = picks + rng.normal(0, 8, (batch, num_boxes, 2))
    sizes = rng.uniform(20, 120, (batch, num_boxes, 2))
    boxes = np.concatenate([picks - sizes / 2, picks + sizes / 2], axis=-1).astype(np.float32)
    scores = rng.random((batch, num_boxes)).astype(np.float32)
    labels = rng.integers(0, num_classes, (batch, num_boxes)).astype(np.int32)
    return boxes, scores, labels


def per_class_loop(tf, boxes, scores, labels, iou_threshold, max_detections):
    """What a detector writes without batched_nms: one tf.image.non_max_suppression per class,
    merged by score, and the kept boxes, scores and labels gathered (the same outputs as batched_nms)."""
    kept = []
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == label)
        chosen = tf.image.non_max_suppression(tf.gather(boxes, members), tf.gather(scores, members), max_detections,
                                              iou_threshold).numpy()
        kept.append(members[chosen])
    kept = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    kept = kept[np.argsort(kept, kind="stable")]
    kept = kept[np.argsort(-scores.numpy()[kept], kind="stable")][:max_detections]
    return kept, {"boxes": tf.gather(boxes, kept), "scores": tf.gather(scores, kept), "labels": tf.gather(labels, kept)}


def bench_nms(batch, num_boxes, num_classes, repeats, iou_threshold=0.5, max_detections=100):
    """batched_nms on a batch against the per-class tf.image loop over the images, same process."""
    tf = import_tensorflow()
    boxes, scores, labels = nms_data(batch, num_boxes, num_classes)
    boxes_t, scores_t = tf.constant(boxes), tf.constant(scores)
    state = {}

    def tf_image_loop():
        state["tf"] = [per_class_loop(tf, boxes_t[b], scores_t[b], labels[b], iou_threshold, max_detections)[0]
                       for b in range(batch)]

    def ours_batched():
        state["ours"] = B.batched_nms(boxes_t if batch > 1 else boxes_t[0], scores_t if batch > 1 else scores_t[0],
                                      labels if batch > 1 else labels[0], iou_threshold=iou_threshold,
                                      max_detections=max_detections, num_classes=num_classes)

    def reference_loop():
        state["reference"] = [
            B.nms_reference(boxes[b], scores[b], labels[b], iou_threshold=iou_threshold, max_detections=max_detections)
            for b in range(batch)
        ]

    reference, ours = interleaved_medians([tf_image_loop, ours_batched], repeats)
    by_hand = median_time(reference_loop, max(1, repeats // 5))
    indices = state["ours"]["indices"].numpy().reshape(batch, -1)
    agree = all(
        np.array_equal(state["reference"][b], state["tf"][b])
        and np.array_equal(indices[b][indices[b] >= 0], state["reference"][b])
        for b in range(batch)
    )
    print(f"NMS on {batch} image(s) x {num_boxes} boxes, {num_classes} classes, IoU {iou_threshold}, "
          f"max {max_detections} per image")
    print(f"  tf.image.non_max_suppression per class, loop over images: {reference * 1e3:8.2f} ms   (kept boxes, "
          f"scores and labels gathered, as batched_nms returns them)")
    print(f"  cnncourse batched_nms:                                    {ours * 1e3:8.2f} ms   "
          f"x{reference / ours:.2f} the speed of the loop")
    print(f"  cnncourse nms_reference (NumPy, by hand):                 {by_hand * 1e3:8.2f} ms   x{reference / by_hand:.3g}")
    print(f"  all three keep the same boxes in the same order: {agree}")
    return reference / ours


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="images for the mAP benchmark")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--nms-batch", type=int, nargs="+", default=[1, 1, 1, 1, 8, 32], help="one NMS run per value")
    parser.add_argument("--nms-boxes", type=int, nargs="+", default=[1000, 1000, 1000, 1000, 2000, 1000])
    parser.add_argument("--nms-classes", type=int, nargs="+", default=[1, 3, 20, 80, 20, 3])
    parser.add_argument("--skip-map", action="store_true", help="only the NMS benchmarks")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if not args.skip_map:
        bench_map(args.images, args.classes, args.repeats)
    if not len(args.nms_batch) == len(args.nms_boxes) == len(args.nms_classes):
        parser.error("--nms-batch, --nms-boxes and --nms-classes need the same number of values")
    for batch, num_boxes, num_classes in zip(args.nms_batch, args.nms_boxes, args.nms_classes):
        print()
        bench_nms(batch, num_boxes, num_classes, args.repeats)


if __name__ == "__main__":
    main()
