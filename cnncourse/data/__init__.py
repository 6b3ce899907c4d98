"""Offline-first datasets for the course: real images that ship with packages, a synthetic
shapes world for detection and segmentation, and opt-in tfds loaders. Nothing downloads.

Usage summary::

    from cnncourse import data

    # Real data (no download): float32 images in [0, 1], channels last, int32 labels,
    # deterministic stratified splits; as_dataset=True gives batched tf.data instead.
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data.load_digits()   # (N, 28, 28, 1)
    faces = data.load_faces(image_size=32)             # face / not face, faces.class_names
    img = data.sample_image("astronaut")               # (512, 512, 3) float32 in [0, 1]
    gray = data.sample_image("camera", grayscale=True, size=128)   # (128, 128)
    photos = data.sample_images(["coffee", "chelsea", "china"])     # {name: image}
    data.SAMPLE_IMAGES                                 # every available photo, described

    # Shapes world for detection / segmentation (uint8 images, -1-padded boxes & labels).
    shapes = data.make_shapes(64, image_size=64, objects=(1, 4), seed=0)
    shapes.images, shapes.boxes, shapes.labels         # (N,H,W,3) uint8, (N,M,4) xyxy, (N,M)
    shapes.masks, shapes.semantic_masks                # (N,M,H,W) bool, (N,H,W) 0=bg, k+1=class k
    for chunk in data.iter_shapes(10_000, chunk_size=256): ...      # flat memory
    ds = data.shapes_dataset(1024, batch_size=32)      # tf.data of Keras dicts:
    #   {"images", "bounding_boxes": {"boxes", "labels"}, "segmentation_masks"}
    ds = shapes.to_dataset(batch_size=32, shuffle=True)                # same, from arrays
    single = data.make_single_shapes(1000)             # one object: labels (N,), boxes (N, 4)
    ds = single.to_dataset(batch_size=32)              # (images, {"labels", "boxes"})

    # CIFAR-like classification worlds (10 classes, 32x32 RGB), two of them for transfer.
    (x_train, y_train), val, test = data.load_shape_classes("shapes")   # or "textures"

    # COCO evaluation with pycocotools.
    gt = data.coco_ground_truth(shapes)                # pycocotools COCO object
    results = data.to_coco_detections(boxes, labels, scores, bounding_box_format="xyxy")
    stats = data.coco_evaluate(gt, results)            # {"AP": ..., "AP50": ..., ...}

    # Beyond images: sequences whose label depends on order, clips whose label is the motion.
    text = data.make_negation_sentences(2000, seed=0)  # tokens (N, 16) int32, 0-padded; labels (N,)
    text.text(0), text.vocabulary                      # "the plot was not good but ...", the words
    data.bag_of_words(text.tokens)                     # (N, V) word counts: the order forgotten
    signals = data.make_chirp_signals(1000, length=256)   # (N, 256, 1) float32: rising / falling chirp
    clips = data.make_motion_clips(1000, frames=8, size=16)   # (N, T, H, W, 1) float32: right/left/down/up

    # Plots.
    data.show_images(x_train[:16], y_train[:16], class_names=("0", ..., "9"))
    data.show_shapes(shapes)                           # boxes, names and masks
    data.show_detections(images, boxes, labels, scores=scores, class_names=...)

    # Real datasets for a GPU: opt-in, never downloaded unless download=True.
    train = data.load_tfds("cifar10", split="train", batch_size=128)
    # -> DatasetNotAvailableError (a RuntimeError) when not prepared locally.

Conventions: boxes use Keras's format names (``"xyxy"`` by default, in pixels) and are
padded with ``-1`` (labels too); class ``k`` is ``k + 1`` in semantic masks and COCO
category ids (0 = background). Every function checks its arguments and names the bad one.
The modules (:mod:`.real`, :mod:`.shapes`, :mod:`.shape_classes`, :mod:`.coco`,
:mod:`.tfds`, :mod:`.plot`, :mod:`.splits`) say more; TensorFlow, tfds, pycocotools and
matplotlib are imported only by the functions that need them.
"""

from cnncourse.data.coco import coco_evaluate, coco_ground_truth, to_coco, to_coco_detections
from cnncourse.data.plot import show_detections, show_images, show_shapes
from cnncourse.data.real import SAMPLE_IMAGES, load_digits, load_faces, sample_image, sample_images
from cnncourse.data.shape_classes import ShapeClassData, load_shape_classes, make_shape_classes
from cnncourse.data.clips import ClipData, make_motion_clips
from cnncourse.data.sentences import SentenceData, bag_of_words, make_negation_sentences
from cnncourse.data.shapes import (
    SHAPE_NAMES,
    ShapesData,
    SingleShapeData,
    iter_shapes,
    make_shapes,
    make_single_shapes,
    shapes_dataset,
)
from cnncourse.data.signals import SignalData, make_chirp_signals
from cnncourse.data.splits import ArraySplit, Splits, to_dataset
from cnncourse.data.tfds import DatasetNotAvailableError, load_tfds

__all__ = [
    "ArraySplit",
    "ClipData",
    "DatasetNotAvailableError",
    "SAMPLE_IMAGES",
    "SHAPE_NAMES",
    "SentenceData",
    "ShapeClassData",
    "ShapesData",
    "SignalData",
    "SingleShapeData",
    "Splits",
    "bag_of_words",
    "coco_evaluate",
    "coco_ground_truth",
    "iter_shapes",
    "load_digits",
    "load_faces",
    "load_shape_classes",
    "load_tfds",
    "make_chirp_signals",
    "make_motion_clips",
    "make_negation_sentences",
    "make_shape_classes",
    "make_shapes",
    "make_single_shapes",
    "sample_image",
    "sample_images",
    "shapes_dataset",
    "show_detections",
    "show_images",
    "show_shapes",
    "to_coco",
    "to_coco_detections",
    "to_dataset",
]
