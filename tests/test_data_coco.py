"""COCO export of the shapes world, checked with pycocotools itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from cnncourse.data import coco_evaluate, coco_ground_truth, make_shapes, to_coco, to_coco_detections

# pycocotools' decode trips a NumPy 2 copy-keyword deprecation; it is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")


@pytest.fixture(scope="module")
def data():
    return make_shapes(24, objects=(1, 4), overlap=0.5, seed=11)


def perfect_detections(data, **kwargs):
    return to_coco_detections(data.boxes, data.labels, np.ones(data.labels.shape), image_size=data.image_size, **kwargs)


def test_export_is_json_and_matches_pycocotools_decoding(data):
    dataset = json.loads(json.dumps(to_coco(data)))  # JSON-serialisable
    assert len(dataset["images"]) == 24
    assert len(dataset["annotations"]) == int(data.num_objects.sum())
    assert [c["name"] for c in dataset["categories"]] == list(data.class_names)
    by_image = {}
    for annotation in dataset["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    for i in range(len(data)):
        annotations = by_image[i + 1]
        for j, annotation in enumerate(annotations):
            rle = dict(annotation["segmentation"], counts=annotation["segmentation"]["counts"].encode())
            np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), data.masks[i, j])
            # pycocotools' own box of the RLE mask equals ours: boxes are tight.
            np.testing.assert_allclose(mask_utils.toBbox(rle), annotation["bbox"])
            assert annotation["area"] == mask_utils.area(rle)
            assert annotation["category_id"] == data.labels[i, j] + 1


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_ground_truth_evaluated_against_itself_gives_ap_one(data, iou_type):
    gt = coco_ground_truth(data)
    detections = perfect_detections(data, masks=data.masks if iou_type == "segm" else None)
    stats = coco_evaluate(gt, detections, iou_type=iou_type)
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AP50"] == pytest.approx(1.0)
    assert stats["AR100"] == pytest.approx(1.0)


def test_worse_detections_score_lower(data):
    gt = coco_ground_truth(data)
    # Shift every box by half its width: IoU 1/3 with its own object, below every COCO
    # threshold (a rare shifted box may still meet another, overlapping object).
    shifted = data.boxes.copy()
    widths = shifted[..., 2] - shifted[..., 0]
    shifted[..., 0] += widths / 2
    shifted[..., 2] += widths / 2
    detections = to_coco_detections(shifted, data.labels, np.ones(data.labels.shape))
    assert coco_evaluate(gt, detections)["AP"] < 0.01
    # Drop the second object of every image: recall falls, precision stays.
    labels = data.labels.copy()
    labels[:, 1] = -1
    partial = to_coco_detections(data.boxes, labels, np.ones(labels.shape))
    kept = (labels >= 0).sum() / (data.labels >= 0).sum()
    assert coco_evaluate(gt, partial)["AR100"] == pytest.approx(kept, abs=0.02)


def test_detections_skip_padding_and_convert_formats(data):
    detections = perfect_detections(data)
    assert len(detections) == int((data.labels >= 0).sum())
    rel = make_shapes(24, objects=(1, 4), overlap=0.5, seed=11, bounding_box_format="rel_center_xywh")
    converted = to_coco_detections(rel.boxes, rel.labels, np.ones(rel.labels.shape), bounding_box_format="rel_center_xywh", image_size=64)
    np.testing.assert_allclose([d["bbox"] for d in converted], [d["bbox"] for d in detections], atol=1e-4)
    assert {d["category_id"] for d in detections} <= {1, 2, 3}


def test_custom_image_ids(data):
    ids = np.arange(100, 124)
    dataset = to_coco(data, image_ids=ids)
    assert [im["id"] for im in dataset["images"]] == list(range(100, 124))
    gt = coco_ground_truth(dataset)
    detections = to_coco_detections(data.boxes, data.labels, np.ones(data.labels.shape), image_ids=ids)
    assert coco_evaluate(gt, detections)["AP"] == pytest.approx(1.0)


def test_bad_input_is_named(data):
    with pytest.raises(ValueError, match=r"labels must have shape \(24, 4\), got \(24, 3\)"):
        to_coco_detections(data.boxes, data.labels[:, :3], np.ones((24, 4)))
    with pytest.raises(ValueError, match="image_size"):
        to_coco_detections(data.boxes, data.labels, np.ones((24, 4)), bounding_box_format="rel_xyxy")
    with pytest.raises(TypeError, match="labels must be an array of dtype int or unsigned int, got dtype float"):
        to_coco_detections(data.boxes, data.labels.astype(float), np.ones((24, 4)))
    with pytest.raises(TypeError, match="data must be a ShapesData"):
        to_coco({"images": []})
    with pytest.raises(ValueError, match="iou_type='box' is not a known"):
        coco_evaluate(coco_ground_truth(data), perfect_detections(data), iou_type="box")
    with pytest.raises(ValueError, match="needs detections with masks"):
        coco_evaluate(coco_ground_truth(data), perfect_detections(data), iou_type="segm")
