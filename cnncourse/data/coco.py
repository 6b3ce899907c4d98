"""COCO-format annotations and detections, for evaluating with ``pycocotools``.

- :func:`to_coco`: ground truth of a :class:`~cnncourse.data.ShapesData` as a COCO dataset
  dict (boxes ``[x, y, w, h]`` and RLE masks from ``pycocotools.mask``).
- :func:`coco_ground_truth`: the same, loaded into a ``pycocotools.coco.COCO`` object.
- :func:`to_coco_detections`: ``-1``-padded predictions (boxes, labels, scores, optional
  masks) as a list of COCO result dicts.
- :func:`coco_evaluate`: run ``COCOeval`` and return its twelve summary numbers by name.

Ids: image ``i`` of the data has COCO image id ``i + 1``; class ``k`` has category id
``k + 1`` (the value it has in the semantic masks; COCO reserves 0).

Example::

    >>> data = make_shapes(16, seed=0)
    >>> gt = coco_ground_truth(data)
    >>> results = to_coco_detections(data.boxes, data.labels, scores=np.ones(data.labels.shape),
    ...                              bounding_box_format=data.bounding_box_format,
    ...                              image_size=data.image_size)
    >>> coco_evaluate(gt, results)["AP"]     # the ground truth scores itself perfectly
    1.0
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from cnncourse.boxes import convert_format
from cnncourse._validation import check_array, check_box_format, check_choice, check_int_tuple

#: Names of ``COCOeval.stats``, in order.
COCO_STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "AP_small",
    "AP_medium",
    "AP_large",
    "AR1",
    "AR10",
    "AR100",
    "AR_small",
    "AR_medium",
    "AR_large",
)


def encode_mask(mask: np.ndarray) -> dict:
    """One binary ``(H, W)`` mask as a COCO RLE dict ``{"size": [H, W], "counts": str}``."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")  # JSON-friendly
    return rle


def to_coco(data, *, image_ids=None) -> dict:
    """The ground truth of a :class:`~cnncourse.data.ShapesData` as a COCO dataset dict.

    Args:
        data: a :class:`~cnncourse.data.ShapesData`.
        image_ids: optional ``(N,)`` integer COCO ids of the images (default ``1..N``).

    Returns:
        ``{"images": [...], "annotations": [...], "categories": [...]}``, JSON-serialisable.
        Each annotation has ``bbox`` ``[x, y, w, h]`` (pixels), ``segmentation`` (RLE of the
        visible mask), ``area`` (visible pixels), ``iscrowd = 0`` and
        ``category_id = label + 1``.
    """
    from cnncourse.data.shapes import ShapesData

    if not isinstance(data, ShapesData):
        raise TypeError(f"data must be a ShapesData (from make_shapes), got {type(data).__name__}")
    n = len(data)
    ids = _image_ids(image_ids, n)
    height, width = data.image_size
    xyxy = convert_format(data.boxes, data.bounding_box_format, "xyxy", height, width).astype(np.float32)
    images, annotations = [], []
    for i in range(n):
        images.append({"id": ids[i], "height": int(height), "width": int(width), "file_name": f"shapes_{ids[i]:06d}.png"})
        for j in np.flatnonzero(data.labels[i] >= 0):
            x0, y0, x1, y1 = (float(v) for v in xyxy[i, j])
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": ids[i],
                    "category_id": int(data.labels[i, j]) + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": float(data.masks[i, j].sum()),
                    "segmentation": encode_mask(data.masks[i, j]),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(data.class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_ground_truth(data_or_dict, *, image_ids=None):
    """A ``pycocotools.coco.COCO`` object of the ground truth (no file written).

    Args:
        data_or_dict: a :class:`~cnncourse.data.ShapesData` or a COCO dataset dict (as
            made by :func:`to_coco`).
        image_ids: passed to :func:`to_coco` when given a ``ShapesData``.
    """
    from pycocotools.coco import COCO

    dataset = data_or_dict if isinstance(data_or_dict, dict) else to_coco(data_or_dict, image_ids=image_ids)
    for key in ("images", "annotations", "categories"):
        if key not in dataset:
            raise ValueError(f"a COCO dataset dict needs the key {key!r}; got keys {sorted(dataset)}")
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):  # createIndex prints progress lines
        coco.createIndex()
    return coco


def _image_ids(image_ids, n: int) -> list[int]:
    if image_ids is None:
        return list(range(1, n + 1))
    array = check_array("image_ids", image_ids, shape=(n,), kinds="iu", what=f"({n},)")
    return [int(v) for v in array]


def to_coco_detections(
    boxes,
    labels,
    scores,
    *,
    masks=None,
    image_ids=None,
    bounding_box_format: str = "xyxy",
    image_size=None,
) -> list[dict]:
    """Turn ``-1``-padded predictions into COCO detection results.

    Args:
        boxes: ``(N, M, 4)`` predicted boxes in ``bounding_box_format``.
        labels: ``(N, M)`` predicted class indices; ``-1`` marks padding rows (skipped).
        scores: ``(N, M)`` confidence scores.
        masks: optional ``(N, M, H, W)`` predicted binary (or probability, thresholded at
            0.5) masks, for ``iou_type="segm"``.
        image_ids: ``(N,)`` COCO image ids (default ``1..N``, as :func:`to_coco`).
        bounding_box_format: Keras format name of ``boxes``.
        image_size: ``(H, W)``; needed for ``rel_*`` formats.

    Returns:
        A list of ``{"image_id", "category_id" (label + 1), "bbox" [x, y, w, h], "score"}``
        dicts (plus ``"segmentation"`` RLE with ``masks``), as ``COCO.loadRes`` expects.
    """
    boxes = check_array("boxes", boxes, ndim=3, kinds="iuf", what="(N, M, 4)")
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (N, M, 4), got {boxes.shape}")
    n, m = boxes.shape[:2]
    labels = check_array("labels", labels, shape=(n, m), kinds="iu", what=f"({n}, {m})")
    scores = check_array("scores", scores, shape=(n, m), kinds="iuf", what=f"({n}, {m})")
    bounding_box_format = check_box_format("bounding_box_format", bounding_box_format)
    height = width = None
    if image_size is not None:
        height, width = check_int_tuple("image_size", image_size, 2)
    elif bounding_box_format.startswith("rel_"):
        raise ValueError(f"image_size=(H, W) is needed to convert {bounding_box_format!r} boxes to pixels")
    if masks is not None:
        masks = check_array("masks", masks, ndim=4, kinds="biuf", what=f"({n}, {m}, H, W)")
        if masks.shape[:2] != (n, m):
            raise ValueError(f"masks must have shape ({n}, {m}, H, W), got {masks.shape}")
    ids = _image_ids(image_ids, n)
    xyxy = convert_format(boxes, bounding_box_format, "xyxy", height, width).astype(np.float32)
    results = []
    for i in range(n):
        for j in np.flatnonzero(labels[i] >= 0):
            x0, y0, x1, y1 = (float(v) for v in xyxy[i, j])
            result = {
                "image_id": ids[i],
                "category_id": int(labels[i, j]) + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "score": float(scores[i, j]),
            }
            if masks is not None:
                mask = masks[i, j] > 0.5 if masks.dtype.kind == "f" else masks[i, j].astype(bool)
                result["segmentation"] = encode_mask(mask)
            results.append(result)
    return results


def coco_evaluate(ground_truth, detections: list[dict], *, iou_type: str = "bbox", verbose: bool = False) -> dict:
    """Evaluate detections with ``pycocotools.cocoeval.COCOeval``.

    Args:
        ground_truth: a ``pycocotools.coco.COCO`` (see :func:`coco_ground_truth`), a COCO
            dataset dict or a :class:`~cnncourse.data.ShapesData`.
        detections: result dicts from :func:`to_coco_detections`.
        iou_type: ``"bbox"`` or ``"segm"`` (needs masks in the detections).
        verbose: print COCOeval's usual summary table.

    Returns:
        ``{name: value}`` for the names in :data:`COCO_STAT_NAMES` (``"AP"`` is
        mAP@[0.5:0.95]; ``-1`` where a number is undefined, as in COCOeval).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    check_choice("iou_type", iou_type, ("bbox", "segm"), "iou type")
    if not isinstance(ground_truth, COCO):
        ground_truth = coco_ground_truth(ground_truth)
    if not isinstance(detections, list):
        raise TypeError(f"detections must be a list of dicts (from to_coco_detections), got {type(detections).__name__}")
    if not detections:
        raise ValueError("detections is empty: COCOeval needs at least one detection")
    if iou_type == "segm" and "segmentation" not in detections[0]:
        raise ValueError("iou_type='segm' needs detections with masks (pass masks= to to_coco_detections)")
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        predicted = ground_truth.loadRes(detections)
        evaluator = COCOeval(ground_truth, predicted, iouType=iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(value) for name, value in zip(COCO_STAT_NAMES, evaluator.stats)}
