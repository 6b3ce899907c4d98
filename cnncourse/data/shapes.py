"""The synthetic shapes world: images with boxes, labels and masks for detection and segmentation.

After the "shapes" sample of matterport's Mask R-CNN: coloured circles, squares and
triangles on a background, every instance known exactly. Unlike a real data set it is
generated on the spot, in any amount, deterministically from a seed, with no download.

- :func:`make_shapes` returns a :class:`ShapesData` (all arrays in memory).
- :func:`iter_shapes` yields the same data in chunks (memory stays flat for any ``n``).
- :func:`make_single_shapes`: one object per image, for classification + localisation.
- :func:`shapes_dataset` / :meth:`ShapesData.to_dataset`: ``tf.data`` in Keras's dict format
  ``{"images", "bounding_boxes": {"boxes", "labels"}, "segmentation_masks"}``, which Keras's
  augmentation layers (``RandomFlip(bounding_box_format="xyxy")``, …) accept.

Conventions:

- ``images``: uint8 RGB ``(N, H, W, 3)`` (the tf.data form is float32 in ``[0, 1]``);
- ``labels``: int32 ``(N, M)``, class index into ``class_names``, ``-1`` for padding
  (``M = objects[1]``, the most objects an image can hold);
- ``boxes``: float32 ``(N, M, 4)`` in ``bounding_box_format`` (Keras's names; default
  ``"xyxy"`` = ``[left, top, right, bottom]`` in pixels), ``-1`` for padding. Box edges lie
  on the pixel grid: a box is the tight box of its instance's visible pixels, so pixel
  columns ``x0..x1`` give ``left = x0``, ``right = x1 + 1`` (as ``pycocotools.mask.toBbox``);
- ``masks``: bool ``(N, M, H, W)``, the *visible* pixels of each instance (a part covered by
  a later instance is not in the earlier one's mask); all False for padding;
- ``semantic_masks``: uint8 ``(N, H, W)``, ``0`` = background, ``k + 1`` = class ``k``;
- ``instance_ids``: uint8 ``(N, H, W)``, ``0`` = background, ``j + 1`` = instance ``j``;
- ``full_areas``: int32 ``(N, M)``, the pixels each instance would have if nothing covered
  it (0 for padding): ``masks.sum((2, 3)) / full_areas`` is the visible share.

Example::

    >>> from cnncourse.data import make_shapes
    >>> data = make_shapes(8, image_size=64, seed=0)
    >>> data.images.shape, data.boxes.shape, data.masks.shape
    ((8, 64, 64, 3), (8, 4, 4), (8, 4, 64, 64))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from cnncourse.data import _draw
from cnncourse.boxes import convert_format
from cnncourse._validation import (
    check_bool,
    check_box_format,
    check_float,
    check_int,
    check_int_range,
    check_int_tuple,
    check_names,
    check_positive_int,
    check_seed,
)

SHAPE_NAMES = _draw.SHAPE_NAMES
DEFAULT_CLASSES = ("circle", "square", "triangle")
BACKGROUNDS = ("random", "clutter", "black", "white", "gray")

#: Fewest visible pixels an instance keeps (no one-pixel slivers).
MIN_VISIBLE_PIXELS = 6
_TRIES_PER_OBJECT = 60
_RESTARTS_PER_IMAGE = 25
_MIN_COLOUR_DISTANCE = 90.0
_CHUNK = 256  # images drawn and post-processed together by make_shapes


@dataclass(frozen=True, eq=False)
class ShapesData:
    """Images of the shapes world and everything known about their instances.

    Attributes (N images of H × W, at most M objects each):
        images: uint8 ``(N, H, W, 3)`` RGB.
        boxes: float32 ``(N, M, 4)`` in ``bounding_box_format``, ``-1`` rows for padding.
        labels: int32 ``(N, M)``, index into ``class_names``, ``-1`` for padding.
        masks: bool ``(N, M, H, W)``, visible pixels of each instance.
        semantic_masks: uint8 ``(N, H, W)``: 0 = background, ``k + 1`` = class ``k``.
        instance_ids: uint8 ``(N, H, W)``: 0 = background, ``j + 1`` = instance ``j``.
        full_areas: int32 ``(N, M)``: pixels of each instance before occlusion (0 = padding).
        class_names: names of the classes, in label order.
        bounding_box_format: Keras box format name of ``boxes``.

    ``len(data)`` is N; ``data[i:j]`` (or any index array) selects images.
    """

    images: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    semantic_masks: np.ndarray
    instance_ids: np.ndarray
    full_areas: np.ndarray
    class_names: tuple[str, ...]
    bounding_box_format: str = "xyxy"

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index) -> "ShapesData":
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1 if index != -1 else None)
        return replace(
            self,
            images=self.images[index],
            boxes=self.boxes[index],
            labels=self.labels[index],
            masks=self.masks[index],
            semantic_masks=self.semantic_masks[index],
            instance_ids=self.instance_ids[index],
            full_areas=self.full_areas[index],
        )

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.images.shape[1], self.images.shape[2]

    @property
    def num_objects(self) -> np.ndarray:
        """int ``(N,)``: how many instances each image holds."""
        return (self.labels >= 0).sum(axis=1)

    def to_keras_dict(self, instance_ids: bool = False) -> dict:
        """The data as Keras's dict of NumPy arrays (images as float32 in ``[0, 1]``).

        Returns:
            ``{"images": float32 (N, H, W, 3), "bounding_boxes": {"boxes": float32 (N, M, 4),
            "labels": int32 (N, M)}, "segmentation_masks": int32 (N, H, W, 1)}``. With
            ``instance_ids=True`` the masks have two channels: ``[..., 0]`` the semantic
            mask and ``[..., 1]`` the instance ids (so geometric augmentations move both).

        Keras's augmentation layers may hand the masks back as floats: cast them back
        with ``tf.cast(tf.round(masks), tf.int32)``.
        """
        masks = self.semantic_masks[..., None]
        if check_bool("instance_ids", instance_ids):
            masks = np.stack([self.semantic_masks, self.instance_ids], axis=-1)
        return {
            "images": self.images.astype(np.float32) / np.float32(255.0),
            "bounding_boxes": {"boxes": self.boxes.astype(np.float32), "labels": self.labels.astype(np.int32)},
            "segmentation_masks": masks.astype(np.int32),
        }

    def to_dataset(self, batch_size: int = 32, *, shuffle: bool = False, seed: int = 0, instance_ids: bool = False):
        """A batched, prefetched ``tf.data.Dataset`` of Keras dicts (see :meth:`to_keras_dict`).

        Args:
            batch_size: images per batch (the last batch may be smaller).
            shuffle: reshuffle the images every epoch (deterministically from ``seed``).
            seed: shuffle seed.
            instance_ids: add the instance-id channel to ``segmentation_masks``.
        """
        from cnncourse.runtime import import_tensorflow

        batch_size = check_positive_int("batch_size", batch_size)
        shuffle = check_bool("shuffle", shuffle)
        seed = check_seed("seed", seed)
        tf = import_tensorflow()
        dataset = tf.data.Dataset.from_tensor_slices(self.to_keras_dict(instance_ids=instance_ids))
        if shuffle:
            dataset = dataset.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class _World:
    """Validated generation settings (shared by the eager, chunked and tf.data forms)."""

    height: int
    width: int
    classes: tuple[str, ...]
    objects: tuple[int, int]
    size: tuple[int, int]
    overlap: float
    background: object  # a name of BACKGROUNDS or an RGB float array
    noise: float
    rotation: bool
    seed: int
    bounding_box_format: str


def _min_area(kind: str, size: int) -> int:
    """Pixels of ``kind`` drawn at ``size`` in the middle of a large enough canvas."""
    canvas = size + 4
    centre = (canvas - 1) / 2
    rr, _ = _draw.shape_pixels(kind, centre, centre, float(size), 0.0, canvas, canvas)
    return len(rr)


def _check_background(background):
    if isinstance(background, str):
        if background not in BACKGROUNDS:
            raise ValueError(
                f"background={background!r} is not known; use one of {', '.join(BACKGROUNDS)}, "
                f"a gray level 0..255 or an (r, g, b) triple of 0..255"
            )
        return background
    if isinstance(background, (tuple, list)):
        if len(background) != 3:
            raise ValueError(f"background must be an (r, g, b) triple, got {background!r}")
        return np.array([check_int(f"background[{i}]", v, minimum=0, maximum=255) for i, v in enumerate(background)], dtype=np.uint8)
    gray = check_int("background", background, minimum=0, maximum=255)
    return np.full(3, gray, dtype=np.uint8)


def _world(
    image_size,
    classes,
    objects,
    size,
    overlap,
    background,
    noise,
    rotation,
    seed,
    bounding_box_format,
) -> _World:
    height, width = check_int_tuple("image_size", image_size, 2, minimum=8, maximum=2048)
    classes = check_names("classes", classes, SHAPE_NAMES, "shape")
    objects = check_int_range("objects", objects, minimum=1, maximum=255)
    if size is None:
        size = (max(4, min(height, width) // 8), max(4, min(height, width) // 3))
    size = check_int_range("size", size, minimum=4)
    if size[1] > min(height, width):
        raise ValueError(
            f"size={size!r}: an object of size {size[1]} does not fit in a {height}x{width} image; "
            f"the largest allowed size is {min(height, width)}"
        )
    overlap = check_float("overlap", overlap, minimum=0.0, maximum=1.0, include_maximum=False)
    background = _check_background(background)
    noise = check_float("noise", noise, minimum=0.0, maximum=128.0)
    rotation = check_bool("rotation", rotation)
    seed = check_seed("seed", seed)
    bounding_box_format = check_box_format("bounding_box_format", bounding_box_format)
    # Each instance keeps at least (1 - overlap) of its pixels, and visible parts are
    # disjoint: past this area budget the requested objects cannot be placed.
    smallest = min(_min_area(kind, size[0]) for kind in classes)
    needed = objects[1] * max(1.0 - overlap, MIN_VISIBLE_PIXELS / max(smallest, 1)) * smallest
    if needed > 0.6 * height * width:
        raise ValueError(
            f"objects={objects!r}: {objects[1]} objects of size >= {size[0]} with overlap={overlap} need "
            f"about {needed:.0f} visible pixels, more than a {height}x{width} image can hold; "
            f"use fewer objects, a smaller size, a larger image_size or a larger overlap"
        )
    return _World(height, width, classes, objects, size, overlap, background, noise, rotation, seed, bounding_box_format)


def _background(world: _World, rng: np.random.Generator):
    """uint8 ``(H, W, 3)`` background and the colour(s) an object must stand out from."""
    h, w = world.height, world.width
    if isinstance(world.background, np.ndarray):
        colour = world.background
    elif world.background == "clutter":
        image, base = _draw.clutter_background(rng, h, w)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8), [base]
    elif world.background == "random":
        colour = rng.integers(0, 256, size=3)
    else:
        colour = {"black": 0, "white": 255, "gray": 128}[world.background]
    image = np.empty((h, w, 3), dtype=np.uint8)
    image[...] = colour
    return image, [np.broadcast_to(np.asarray(colour, dtype=np.float32), (3,))]


def _place_objects(world: _World, rng: np.random.Generator, count: int, index: int):
    """Rasterise ``count`` objects; returns (instance id map, per-instance pixels, labels, full areas).

    Objects are placed one after another, each on top of the earlier ones. A candidate is
    rejected when it would hide more than ``overlap`` of an earlier instance's own pixels
    (or leave it fewer than ``MIN_VISIBLE_PIXELS``).
    """
    h, w = world.height, world.width
    keep_fraction = 1.0 - world.overlap
    smin, smax = world.size
    for _ in range(_RESTARTS_PER_IMAGE):
        ids = np.zeros((h, w), dtype=np.uint8)
        full = np.zeros(count, dtype=np.int64)
        visible = np.zeros(count, dtype=np.int64)
        pixels, labels = [], []
        for j in range(count):
            draws = rng.random((_TRIES_PER_OBJECT, 5))
            for u_class, u_size, u_y, u_x, u_angle in draws:
                label = int(u_class * len(world.classes))
                size = smin + u_size * (smax - smin)
                half = size / 2.0
                cy = half - 0.5 + u_y * (h - size)
                cx = half - 0.5 + u_x * (w - size)
                angle = u_angle * 2 * np.pi if world.rotation else 0.0
                rr, cc = _draw.shape_pixels(world.classes[label], cy, cx, size, angle, h, w)
                if len(rr) < MIN_VISIBLE_PIXELS:
                    continue
                if j:
                    covered = np.bincount(ids[rr, cc], minlength=j + 1)[1 : j + 1]
                    left = visible[:j] - covered
                    if np.any(left < np.maximum(keep_fraction * full[:j], MIN_VISIBLE_PIXELS)):
                        continue
                    visible[:j] = left
                ids[rr, cc] = j + 1
                full[j] = visible[j] = len(rr)
                pixels.append((rr, cc))
                labels.append(label)
                break
            else:
                break  # object j found no place: start this image again
        if len(labels) == count:
            return ids, pixels, labels, full
    raise ValueError(
        f"could not place {count} objects of size {world.size!r} with overlap={world.overlap} in a "
        f"{h}x{w} image (image {index}, {_RESTARTS_PER_IMAGE} restarts of {_TRIES_PER_OBJECT} tries per "
        f"object); use fewer objects, a smaller size, a larger image_size or a larger overlap"
    )


def _draw_image(world: _World, index: int):
    """Image ``index`` of the world: (uint8 image, instance id map, labels, full areas)."""
    rng = np.random.default_rng((world.seed, index))
    count = int(rng.integers(world.objects[0], world.objects[1] + 1))
    image, avoid = _background(world, rng)
    ids, pixels, labels, full = _place_objects(world, rng, count, index)
    colours = _draw.distinct_colours(rng, count, avoid, _MIN_COLOUR_DISTANCE)
    for (rr, cc), colour in zip(pixels, colours):
        image[rr, cc] = colour
    return _draw.to_uint8(image, rng, world.noise), ids, labels, full


def _allocate(world: _World, n: int) -> dict:
    """Empty output arrays for ``n`` images."""
    h, w, m = world.height, world.width, world.objects[1]
    return {
        "images": np.empty((n, h, w, 3), dtype=np.uint8),
        "boxes": np.empty((n, m, 4), dtype=np.float32),
        "labels": np.empty((n, m), dtype=np.int32),
        "masks": np.empty((n, m, h, w), dtype=bool),
        "semantic_masks": np.empty((n, h, w), dtype=np.uint8),
        "instance_ids": np.empty((n, h, w), dtype=np.uint8),
        "full_areas": np.empty((n, m), dtype=np.int32),
    }


def _fill(world: _World, out: dict, start: int, stop: int) -> None:
    """Draw images ``start .. stop - 1`` into ``out[...][0 : stop - start]``.

    Per image, objects are rasterised one by one; masks, semantic masks and tight boxes
    are then derived for the whole chunk at once with array operations.
    """
    count = stop - start
    h, w, m = world.height, world.width, world.objects[1]
    images, ids, labels = out["images"][:count], out["instance_ids"][:count], out["labels"][:count]
    areas = out["full_areas"][:count]
    labels.fill(-1)
    areas.fill(0)
    for row, index in enumerate(range(start, stop)):
        images[row], ids[row], image_labels, image_areas = _draw_image(world, index)
        labels[row, : len(image_labels)] = image_labels
        areas[row, : len(image_areas)] = image_areas
    masks = np.equal(ids[:, None, :, :], np.arange(1, m + 1, dtype=np.uint8)[None, :, None, None], out=out["masks"][:count])
    # Visible masks are disjoint, so the semantic mask is a sum: class k + 1 where instance j is.
    semantic = out["semantic_masks"][:count]
    semantic.fill(0)
    for j in range(m):
        semantic += masks[:, j] * (labels[:, j] + 1).astype(np.uint8)[:, None, None]
    rows = masks.any(axis=3)  # (count, m, H): rows holding a pixel of the instance
    cols = masks.any(axis=2)  # (count, m, W)
    top = rows.argmax(axis=2)
    bottom = h - rows[:, :, ::-1].argmax(axis=2)
    left = cols.argmax(axis=2)
    right = w - cols[:, :, ::-1].argmax(axis=2)
    xyxy = np.stack([left, top, right, bottom], axis=-1).astype(np.float32)
    xyxy[labels < 0] = -1  # padding rows
    out["boxes"][:count] = convert_format(xyxy, "xyxy", world.bounding_box_format, h, w)


def _as_data(world: _World, arrays: dict) -> ShapesData:
    return ShapesData(**arrays, class_names=world.classes, bounding_box_format=world.bounding_box_format)


def _generate(world: _World, start: int, stop: int) -> ShapesData:
    arrays = _allocate(world, stop - start)
    _fill(world, arrays, start, stop)
    return _as_data(world, arrays)


def iter_shapes(
    n: int,
    *,
    chunk_size: int = 256,
    image_size=64,
    classes=DEFAULT_CLASSES,
    objects=(1, 4),
    size=None,
    overlap: float = 0.25,
    background="random",
    noise: float = 0.0,
    rotation: bool = False,
    seed: int = 0,
    bounding_box_format: str = "xyxy",
) -> Iterator[ShapesData]:
    """Generate the shapes world in chunks of ``chunk_size`` images (memory stays flat).

    Image ``i`` depends only on ``seed`` and ``i``: concatenating the chunks gives exactly
    ``make_shapes(n, ...)`` whatever the chunk size. Arguments as in :func:`make_shapes`.

    Yields:
        :class:`ShapesData` of ``chunk_size`` images (the last chunk may be smaller).
    """
    n = check_positive_int("n", n)
    chunk_size = check_positive_int("chunk_size", chunk_size)
    world = _world(image_size, classes, objects, size, overlap, background, noise, rotation, seed, bounding_box_format)
    return _iterate(world, n, chunk_size)


def _iterate(world: _World, n: int, chunk_size: int) -> Iterator[ShapesData]:
    for start in range(0, n, chunk_size):
        yield _generate(world, start, min(n, start + chunk_size))


def make_shapes(
    n: int,
    *,
    image_size=64,
    classes=DEFAULT_CLASSES,
    objects=(1, 4),
    size=None,
    overlap: float = 0.25,
    background="random",
    noise: float = 0.0,
    rotation: bool = False,
    seed: int = 0,
    bounding_box_format: str = "xyxy",
) -> ShapesData:
    """Generate ``n`` images of coloured shapes with boxes, labels and masks.

    Args:
        n: number of images (> 0).
        image_size: side ``S`` of square images, or ``(height, width)``; 8..2048.
        classes: shape names, one per class, in label order; any of :data:`SHAPE_NAMES`
            (``circle, square, triangle, diamond, hexagon, star, cross, ring, ellipse,
            rectangle, semicircle, crescent``).
        objects: ``(low, high)`` objects per image, drawn uniformly (or one int).
        size: ``(low, high)`` object size in pixels (a circle's diameter, a square's side),
            drawn uniformly; default ``(S // 8, S // 3)``. ``high`` must fit in the image.
        overlap: in ``[0, 1)``, the largest share of an instance's pixels that objects drawn
            later may cover; ``0`` means no two objects share a pixel.
        background: ``"random"`` (a random plain colour per image), ``"clutter"`` (a
            gradient with distractor strokes), ``"black"``, ``"white"``, ``"gray"``, a gray
            level 0..255 or an ``(r, g, b)`` triple.
        noise: standard deviation of Gaussian pixel noise, in 0..255 units (0: none).
        rotation: rotate each object by a random angle (default: upright, as matterport's).
        seed: the same seed gives identical data; image ``i`` depends only on ``(seed, i)``.
        bounding_box_format: Keras format name of the returned boxes.

    Returns:
        :class:`ShapesData` (shapes and dtypes in its docstring). Objects are drawn on top
        of one another in order; masks hold only visible pixels and every box is the tight
        box of its visible mask.

    Raises:
        ValueError / TypeError: for arguments out of range, naming the argument; also when
        the objects requested cannot fit in the image.
    """
    n = check_positive_int("n", n)
    world = _world(image_size, classes, objects, size, overlap, background, noise, rotation, seed, bounding_box_format)
    arrays = _allocate(world, n)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        _fill(world, {name: array[start:stop] for name, array in arrays.items()}, start, stop)
    return _as_data(world, arrays)


@dataclass(frozen=True, eq=False)
class SingleShapeData:
    """One object per image, for classification + localisation.

    Attributes:
        images: uint8 ``(N, H, W, 3)``.
        labels: int32 ``(N,)``, index into ``class_names``.
        boxes: float32 ``(N, 4)`` in ``bounding_box_format`` (tight box of the object).
        masks: bool ``(N, H, W)``, the object's pixels.
        class_names, bounding_box_format: as in :class:`ShapesData`.
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    class_names: tuple[str, ...]
    bounding_box_format: str = "xyxy"

    def __len__(self) -> int:
        return len(self.images)

    def to_dataset(self, batch_size: int = 32, *, shuffle: bool = False, seed: int = 0):
        """A batched, prefetched ``tf.data.Dataset`` of ``(images, {"labels", "boxes"})``.

        Ready for a two-output Keras model whose outputs are named ``"labels"`` (class) and
        ``"boxes"`` (box regression): images float32 ``(B, H, W, 3)`` in ``[0, 1]``,
        labels int32 ``(B,)``, boxes float32 ``(B, 4)`` in ``bounding_box_format``.
        """
        from cnncourse.runtime import import_tensorflow

        batch_size = check_positive_int("batch_size", batch_size)
        shuffle = check_bool("shuffle", shuffle)
        seed = check_seed("seed", seed)
        tf = import_tensorflow()
        images = self.images.astype(np.float32) / np.float32(255.0)
        targets = {"labels": self.labels.astype(np.int32), "boxes": self.boxes.astype(np.float32)}
        dataset = tf.data.Dataset.from_tensor_slices((images, targets))
        if shuffle:
            dataset = dataset.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def make_single_shapes(
    n: int,
    *,
    image_size=64,
    classes=DEFAULT_CLASSES,
    size=None,
    background="random",
    noise: float = 0.0,
    rotation: bool = False,
    seed: int = 0,
    bounding_box_format: str = "xyxy",
) -> SingleShapeData:
    """Images with exactly one shape each: a class label and one box per image.

    Arguments as in :func:`make_shapes` (with ``objects=1``).

    Example::

        >>> data = make_single_shapes(100, image_size=64, seed=1)
        >>> data.images.shape, data.labels.shape, data.boxes.shape
        ((100, 64, 64, 3), (100,), (100, 4))
    """
    data = make_shapes(
        n,
        image_size=image_size,
        classes=classes,
        objects=1,
        size=size,
        overlap=0.0,
        background=background,
        noise=noise,
        rotation=rotation,
        seed=seed,
        bounding_box_format=bounding_box_format,
    )
    return SingleShapeData(
        images=data.images,
        labels=data.labels[:, 0],
        boxes=data.boxes[:, 0],
        masks=data.masks[:, 0],
        class_names=data.class_names,
        bounding_box_format=data.bounding_box_format,
    )


def shapes_dataset(
    n: int,
    batch_size: int = 32,
    *,
    instance_ids: bool = False,
    image_size=64,
    classes=DEFAULT_CLASSES,
    objects=(1, 4),
    size=None,
    overlap: float = 0.25,
    background="random",
    noise: float = 0.0,
    rotation: bool = False,
    seed: int = 0,
    bounding_box_format: str = "xyxy",
):
    """The shapes world as a streaming ``tf.data.Dataset`` of Keras dict batches.

    Images are generated batch by batch while the dataset is read (memory stays flat);
    every pass over it gives the same ``n`` images (those of ``make_shapes(n, ...)``).

    Args:
        n: number of images per pass.
        batch_size: images per batch (the last batch may be smaller).
        instance_ids: add the instance-id map as a second ``segmentation_masks`` channel.
        Other arguments: as in :func:`make_shapes`.

    Returns:
        ``tf.data.Dataset`` of ``{"images": float32 (B, H, W, 3) in [0, 1],
        "bounding_boxes": {"boxes": float32 (B, M, 4), "labels": int32 (B, M)},
        "segmentation_masks": int32 (B, H, W, 1 or 2)}``, prefetched.

    Example::

        >>> ds = shapes_dataset(256, batch_size=32)
        >>> flip = keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy")
        >>> ds = ds.map(flip)
    """
    from cnncourse.runtime import import_tensorflow

    n = check_positive_int("n", n)
    batch_size = check_positive_int("batch_size", batch_size)
    instance_ids = check_bool("instance_ids", instance_ids)
    world = _world(image_size, classes, objects, size, overlap, background, noise, rotation, seed, bounding_box_format)
    tf = import_tensorflow()
    h, w, m = world.height, world.width, world.objects[1]
    signature = {
        "images": tf.TensorSpec((None, h, w, 3), tf.float32),
        "bounding_boxes": {
            "boxes": tf.TensorSpec((None, m, 4), tf.float32),
            "labels": tf.TensorSpec((None, m), tf.int32),
        },
        "segmentation_masks": tf.TensorSpec((None, h, w, 2 if instance_ids else 1), tf.int32),
    }

    def batches():
        for chunk in _iterate(world, n, batch_size):
            yield chunk.to_keras_dict(instance_ids=instance_ids)

    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
    return dataset.prefetch(tf.data.AUTOTUNE)
