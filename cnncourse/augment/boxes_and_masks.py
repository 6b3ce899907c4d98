"""Box- and mask-aware geometric augmentation on Keras's detection / segmentation dict.

Every function takes and returns a *batch* in Keras's format::

    {"images": float (B, H, W, C),
     "bounding_boxes": {"boxes": float (B, M, 4) "xyxy" pixels, "labels": int (B, M)},
     "segmentation_masks": int (B, H, W, K)}

with ``-1`` rows for padding; either ``"bounding_boxes"`` or ``"segmentation_masks"`` may
be absent. The image, every mask channel and the boxes move together:

- images are resampled bilinearly, masks with nearest neighbours, so **integer masks stay
  integer** (same dtype, same label values; Keras 3.15's ``RandomFlip`` returns float masks);
- pixels that come from outside the image are ``fill_value`` in images and ``0``
  (background) in masks;
- boxes are transformed with the same map. A box partly outside the image is **clipped** to
  it; a box entirely outside is **dropped**: its row becomes ``-1`` and its label ``-1``, in
  place (rows are not compacted, so row ``j`` stays instance ``j``).

Boxes follow the shapes world's convention: ``x2, y2`` are exclusive pixel edges, so the box
of a mask whose pixels span columns ``a..b`` is ``[a, b + 1)``. Flips, integer translations,
crops and quarter turns move boxes exactly: every kept box that stays inside the image is
still the tight box of its instance's visible mask. A box cut by the border is clipped,
which bounds the visible part but can be loose (the clipped part of a circle is narrower
than its box, and a clipped box can even be kept after all of its instance's visible pixels
left): only the masks know the visible part. A zoom moves boxes to within a pixel. A rotation by any other
angle makes the rotated box a loose bound, so :func:`random_rotation` needs an instance-id
mask channel (``instance_channel``; :meth:`cnncourse.data.ShapesData.to_keras_dict` with
``instance_ids=True`` puts it in channel 1) and re-derives every box from it. With
``instance_channel`` given, *every* function re-derives the boxes from the instance masks,
so boxes are tight by construction and an instance cropped away is dropped.

Randomness is stateless: ``seed`` is an int or a pair of ints;
:func:`augment_detection_dataset` gives batch ``k`` the seed ``(seed, k)``.

Each transform is also a registered serializable Keras layer on the same dict
(:class:`BoxMaskRandomFlip`, :class:`BoxMaskRandomTranslation`, :class:`BoxMaskRandomScaleCrop`,
:class:`BoxMaskRandomCrop`, :class:`BoxMaskRandomRotation`, :class:`BoxMaskRandomRotation90`):
identity at inference, a new seed pair from its ``SeedGenerator`` at each training call, usable
in a model, in a ``tf.data`` map, under ``jit_compile=True`` and ``mixed_float16``. The images
and masks are resampled by :func:`cnncourse.augment.warp.projective_warp`, TensorFlow's projective-transform kernel
rewritten with gathers, because the kernel itself has no XLA implementation.
"""

from __future__ import annotations

import math

import keras

from cnncourse._validation import check_bool, check_float, check_int, check_positive_int, check_seed
from cnncourse.augment._seeds import _tf
from cnncourse.augment._seeds import seed_pair as _seed_pair
from cnncourse.augment.warp import projective_warp

FILL_MASK = 0


def _check_data(data):
    if not isinstance(data, dict) or "images" not in data:
        raise TypeError(
            "data must be a Keras dict {'images', 'bounding_boxes': {'boxes', 'labels'}, 'segmentation_masks'}, "
            f"got {type(data).__name__}" + (f" with keys {sorted(data)}" if isinstance(data, dict) else "")
        )
    tf = _tf()
    images = tf.convert_to_tensor(data["images"])
    if images.shape.rank != 4:
        raise ValueError(f"data['images'] must have shape (batch, height, width, channels), got {images.shape}")
    if "bounding_boxes" in data:
        boxes = data["bounding_boxes"]
        if not isinstance(boxes, dict) or "boxes" not in boxes or "labels" not in boxes:
            raise ValueError("data['bounding_boxes'] must be a dict with 'boxes' (B, M, 4) and 'labels' (B, M)")
        shape = tf.convert_to_tensor(boxes["boxes"]).shape
        if shape.rank != 3 or shape[-1] != 4:
            raise ValueError(f"data['bounding_boxes']['boxes'] must have shape (batch, boxes, 4), got {shape}")
    if "segmentation_masks" in data:
        masks = tf.convert_to_tensor(data["segmentation_masks"])
        if masks.shape.rank != 4:
            raise ValueError(f"data['segmentation_masks'] must have shape (batch, height, width, channels), got {masks.shape}")
        if masks.dtype.is_floating:
            raise TypeError(f"data['segmentation_masks'] must be integer class or instance ids, got dtype {masks.dtype.name}")
    return images


def _instance_ids(data, instance_channel):
    if instance_channel is None:
        return None
    if "segmentation_masks" not in data:
        raise ValueError("instance_channel is given but data has no 'segmentation_masks'")
    masks = data["segmentation_masks"]
    if not (0 <= instance_channel < masks.shape[-1]):
        raise ValueError(f"instance_channel must index a mask channel (0..{masks.shape[-1] - 1}), got {instance_channel}")
    return masks[..., instance_channel]


def boxes_from_instance_ids(instance_ids, num_boxes: int):
    """Tight ``"xyxy"`` boxes of instances ``1..num_boxes`` of an instance-id mask.

    Args:
        instance_ids: int ``(B, H, W)``: 0 background, ``j + 1`` instance ``j``.
        num_boxes: ``M``, the number of box slots.

    Returns:
        ``(boxes, present)``: float32 ``(B, M, 4)`` with exclusive ``x2, y2`` (``-1`` where
        the instance has no pixel) and bool ``(B, M)``.
    """
    tf = _tf()
    ids = tf.cast(instance_ids, tf.int32)
    one_hot = tf.equal(ids[..., None], tf.range(1, num_boxes + 1, dtype=tf.int32))  # (B, H, W, M)
    rows = tf.reduce_any(one_hot, axis=2)  # (B, H, M)
    cols = tf.reduce_any(one_hot, axis=1)  # (B, W, M)
    height, width = tf.shape(ids)[1], tf.shape(ids)[2]
    y1 = tf.argmax(tf.cast(rows, tf.int32), axis=1, output_type=tf.int32)
    y2 = height - tf.argmax(tf.cast(rows[:, ::-1], tf.int32), axis=1, output_type=tf.int32)
    x1 = tf.argmax(tf.cast(cols, tf.int32), axis=1, output_type=tf.int32)
    x2 = width - tf.argmax(tf.cast(cols[:, ::-1], tf.int32), axis=1, output_type=tf.int32)
    present = tf.reduce_any(rows, axis=1)
    boxes = tf.cast(tf.stack([x1, y1, x2, y2], axis=-1), tf.float32)
    return tf.where(present[..., None], boxes, -tf.ones_like(boxes)), present


def _transform_boxes(boxes, labels, matrices, height, width):
    """Boxes through the maps ``matrices`` (B, 3, 3) on pixel centres; clip, drop outside."""
    tf = _tf()
    boxes = tf.cast(boxes, tf.float32)
    valid = (tf.cast(labels, tf.int32) >= 0) & tf.reduce_all(boxes >= 0, axis=-1)
    # pixel j covers [j - 0.5, j + 0.5) in centre coordinates: move the box's edges, then
    # output pixel p is inside when its centre is (p in [ceil(low), ceil(high) - 1]), which is
    # what nearest-neighbour sampling of the masks gives
    x1, y1, x2, y2 = boxes[..., 0] - 0.5, boxes[..., 1] - 0.5, boxes[..., 2] - 0.5, boxes[..., 3] - 0.5
    corners_x = tf.stack([x1, x2, x1, x2], axis=-1)  # (B, M, 4)
    corners_y = tf.stack([y1, y1, y2, y2], axis=-1)
    m = tf.cast(matrices, tf.float32)[:, None, None]  # (B, 1, 1, 3, 3)
    new_x = m[..., 0, 0] * corners_x + m[..., 0, 1] * corners_y + m[..., 0, 2]
    new_y = m[..., 1, 0] * corners_x + m[..., 1, 1] * corners_y + m[..., 1, 2]
    eps = 1e-4
    u1, u2 = tf.math.ceil(tf.reduce_min(new_x, -1) - eps), tf.math.ceil(tf.reduce_max(new_x, -1) - eps) - 1
    v1, v2 = tf.math.ceil(tf.reduce_min(new_y, -1) - eps), tf.math.ceil(tf.reduce_max(new_y, -1) - eps) - 1
    w, h = tf.cast(width, tf.float32), tf.cast(height, tf.float32)
    keep = valid & (u2 >= 0) & (u1 <= w - 1) & (v2 >= 0) & (v1 <= h - 1) & (u2 >= u1) & (v2 >= v1)
    out = tf.stack(
        [tf.clip_by_value(u1, 0, w - 1), tf.clip_by_value(v1, 0, h - 1),
         tf.clip_by_value(u2, 0, w - 1) + 1, tf.clip_by_value(v2, 0, h - 1) + 1], axis=-1
    )  # fmt: skip
    out = tf.where(keep[..., None], out, -tf.ones_like(out))
    return out, keep


def apply_affine(data, matrices, *, instance_channel: int | None = None, fill_value: float = 0.0, output_size=None):
    """Move images, masks and boxes of a batch by per-image affine maps.

    Args:
        data: the Keras dict (module docstring).
        matrices: float ``(B, 3, 3)``: ``[x', y', 1] = A · [x, y, 1]`` maps a pixel centre of
            the input (column ``x``, row ``y``) to the output.
        instance_channel: mask channel holding instance ids ``j + 1`` for box row ``j``;
            when given, boxes are re-derived from it after the move.
        fill_value: image value of pixels that come from outside.
        output_size: ``(height, width)`` of the output (default: the input's).

    Returns:
        a new dict of the same structure and dtypes.
    """
    tf = _tf()
    images = _check_data(data)
    fill_value = check_float("fill_value", fill_value)
    shape = tf.shape(images)
    height, width = (shape[1], shape[2]) if output_size is None else output_size
    matrices = tf.cast(matrices, tf.float32)
    inverse = tf.linalg.inv(matrices)
    inverse = inverse / inverse[:, 2:3, 2:3]
    transforms = tf.reshape(inverse, [-1, 9])[:, :8]
    output_shape = tf.stack([height, width])

    def warp(x, interpolation, fill):
        return projective_warp(x, transforms, output_size=output_shape, fill_value=fill, interpolation=interpolation)

    out = {key: value for key, value in data.items() if key not in ("images", "bounding_boxes", "segmentation_masks")}
    out["images"] = tf.cast(warp(tf.cast(images, tf.float32), "BILINEAR", fill_value), images.dtype)
    if "segmentation_masks" in data:
        masks = tf.convert_to_tensor(data["segmentation_masks"])
        moved = warp(tf.cast(masks, tf.float32), "NEAREST", float(FILL_MASK))
        out["segmentation_masks"] = tf.cast(tf.round(moved), masks.dtype)
    if "bounding_boxes" in data:
        boxes = tf.convert_to_tensor(data["bounding_boxes"]["boxes"])
        labels = tf.convert_to_tensor(data["bounding_boxes"]["labels"])
        ids = _instance_ids(out, instance_channel)
        if ids is None:
            new_boxes, keep = _transform_boxes(boxes, labels, matrices, height, width)
        else:
            new_boxes, keep = boxes_from_instance_ids(ids, boxes.shape[1] if boxes.shape[1] is not None else tf.shape(boxes)[1])
            keep = keep & (tf.cast(labels, tf.int32) >= 0)
            new_boxes = tf.where(keep[..., None], new_boxes, -tf.ones_like(new_boxes))
        out["bounding_boxes"] = {
            "boxes": tf.cast(new_boxes, boxes.dtype),
            "labels": tf.where(keep, labels, -tf.ones_like(labels)),
        }
    return out


def _batch_size(data):
    tf = _tf()
    return tf.shape(tf.convert_to_tensor(data["images"]))[0]


def _size(data):
    tf = _tf()
    shape = tf.shape(tf.convert_to_tensor(data["images"]))
    return tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)


def _matrices(a, b, c, d, e, f):
    """(B, 3, 3) from the rows [a b c; d e f; 0 0 1] (each (B,))."""
    tf = _tf()
    zero, one = tf.zeros_like(a), tf.ones_like(a)
    return tf.reshape(tf.stack([a, b, c, d, e, f, zero, zero, one], axis=-1), [-1, 3, 3])


def random_flip(data, *, horizontal: bool = True, vertical: bool = False, rate: float = 0.5, seed=0,
                instance_channel: int | None = None, fill_value: float = 0.0):  # fmt: skip
    """Flip each image left-right (and/or top-bottom) with probability ``rate``; boxes exact."""
    tf = _tf()
    horizontal, vertical = check_bool("horizontal", horizontal), check_bool("vertical", vertical)
    rate = check_float("rate", rate, minimum=0.0, maximum=1.0)
    _check_data(data)
    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), 2)
    batch = _batch_size(data)
    height, width = _size(data)
    fx = tf.cast(tf.random.stateless_uniform([batch], seeds[0]) < rate, tf.float32) if horizontal else tf.zeros([batch])
    fy = tf.cast(tf.random.stateless_uniform([batch], seeds[1]) < rate, tf.float32) if vertical else tf.zeros([batch])
    sx, sy = 1 - 2 * fx, 1 - 2 * fy
    matrices = _matrices(sx, tf.zeros_like(sx), fx * (width - 1), tf.zeros_like(sx), sy, fy * (height - 1))
    return apply_affine(data, matrices, instance_channel=instance_channel, fill_value=fill_value)


def random_translation(data, *, max_shift: float = 0.2, seed=0, instance_channel: int | None = None,
                       fill_value: float = 0.0):  # fmt: skip
    """Shift each image by a whole number of pixels, up to ``max_shift`` of its size each way.

    Shifts are uniform in ``[-max_shift·W, max_shift·W]`` (rounded); boxes move exactly,
    are clipped at the border and dropped when they leave the image.
    """
    tf = _tf()
    max_shift = check_float("max_shift", max_shift, minimum=0.0, maximum=1.0)
    _check_data(data)
    batch = _batch_size(data)
    height, width = _size(data)
    shift = tf.random.stateless_uniform([batch, 2], _seed_pair(seed), -max_shift, max_shift)
    dx, dy = tf.round(shift[:, 0] * width), tf.round(shift[:, 1] * height)
    one, zero = tf.ones_like(dx), tf.zeros_like(dx)
    return apply_affine(data, _matrices(one, zero, dx, zero, one, dy), instance_channel=instance_channel,
                        fill_value=fill_value)  # fmt: skip


def random_scale_crop(data, *, scale=(0.75, 1.33), seed=0, instance_channel: int | None = None,
                      fill_value: float = 0.0):  # fmt: skip
    """Scale jitter + random crop: zoom by ``s ~ U(scale)``, then keep a random ``H × W`` window.

    ``s > 1`` zooms in (a random crop of the enlarged image); ``s < 1`` zooms out (the smaller
    image placed at a random spot, the rest filled). Window offsets are whole pixels. Boxes
    are scaled and shifted, clipped and dropped as documented; without an instance channel
    they are within one pixel of the scaled masks' tight boxes.
    """
    tf = _tf()
    low, high = scale if isinstance(scale, (tuple, list)) else (scale, scale)
    low = check_float("scale[0]", low, minimum=0.0, include_minimum=False)
    high = check_float("scale[1]", high, minimum=low)
    _check_data(data)
    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), 2)
    batch = _batch_size(data)
    height, width = _size(data)
    s = tf.random.stateless_uniform([batch], seeds[0], low, high)
    u = tf.random.stateless_uniform([batch, 2], seeds[1])
    # output = s * input + t: s > 1 takes t in [-(s - 1)(W - 1), 0] (the window stays on the
    # enlarged image), s < 1 takes t in [0, (1 - s)(W - 1)] (the image stays in the window)
    span_x, span_y = (s - 1) * (width - 1), (s - 1) * (height - 1)
    tx = -tf.round(u[:, 0] * span_x)
    ty = -tf.round(u[:, 1] * span_y)
    zero = tf.zeros_like(s)
    return apply_affine(data, _matrices(s, zero, tx, zero, s, ty), instance_channel=instance_channel,
                        fill_value=fill_value)  # fmt: skip


def random_crop(data, size, *, seed=0, instance_channel: int | None = None):
    """A random ``size = (h, w)`` window of each image (whole-pixel offsets); boxes move exactly.

    What Keras's ``RandomCrop`` does, with boxes moved by the window's ``(x, y)`` offset
    (Keras 3.15 subtracts the row offset from x and the column offset from y). Boxes cut by
    the window are clipped, boxes outside it dropped.
    """
    from cnncourse._validation import check_int_tuple

    tf = _tf()
    images = _check_data(data)
    crop_h, crop_w = check_int_tuple("size", size, 2, minimum=1)
    height, width = images.shape[1], images.shape[2]
    if height is not None and (crop_h > height or crop_w > width):
        raise ValueError(f"size {(crop_h, crop_w)} must fit in the images' size {(height, width)}")
    batch = _batch_size(data)
    h, w = _size(data)
    u = tf.random.stateless_uniform([batch, 2], _seed_pair(seed))
    dx = -tf.floor(u[:, 0] * (w - crop_w + 1))
    dy = -tf.floor(u[:, 1] * (h - crop_h + 1))
    one, zero = tf.ones_like(dx), tf.zeros_like(dx)
    return apply_affine(data, _matrices(one, zero, dx, zero, one, dy), instance_channel=instance_channel,
                        output_size=(crop_h, crop_w))  # fmt: skip


def random_rotation90(data, *, seed=0, instance_channel: int | None = None):
    """Rotate each square image by a random multiple of 90°; boxes stay exact."""
    tf = _tf()
    images = _check_data(data)
    if images.shape[1] is not None and images.shape[1] != images.shape[2]:
        raise ValueError(f"random_rotation90 needs square images, got height {images.shape[1]} and width {images.shape[2]}")
    batch = _batch_size(data)
    height, width = _size(data)
    k = tf.random.stateless_uniform([batch], _seed_pair(seed), 0, 4, dtype=tf.int32)
    angle = tf.cast(k, tf.float32) * (math.pi / 2)
    cos, sin = tf.round(tf.cos(angle)), tf.round(tf.sin(angle))
    return apply_affine(data, _rotation(cos, sin, height, width), instance_channel=instance_channel)


def _rotation(cos, sin, height, width):
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # out = R (in - c) + c with R = [[cos, -sin], [sin, cos]]
    return _matrices(cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy)


def random_rotation(data, *, max_degrees: float = 15.0, seed=0, instance_channel: int | None = None,
                    fill_value: float = 0.0):  # fmt: skip
    """Rotate each image by ``U(-max_degrees, max_degrees)`` about its centre.

    A rotated box is no longer the tight box of its rotated object, so with boxes this needs
    ``instance_channel`` (boxes are re-derived from the rotated instance masks); without
    boxes (segmentation only) it is not needed.
    """
    tf = _tf()
    max_degrees = check_float("max_degrees", max_degrees, minimum=0.0, maximum=180.0)
    _check_data(data)
    if "bounding_boxes" in data and instance_channel is None:
        raise ValueError(
            "random_rotation moves boxes only through the instance masks: pass instance_channel= (the mask channel "
            "of instance ids, e.g. ShapesData.to_keras_dict(instance_ids=True) -> 1), or use random_rotation90"
        )
    batch = _batch_size(data)
    height, width = _size(data)
    angle = tf.random.stateless_uniform([batch], _seed_pair(seed), -max_degrees, max_degrees) * (math.pi / 180)
    return apply_affine(data, _rotation(tf.cos(angle), tf.sin(angle), height, width),
                        instance_channel=instance_channel, fill_value=fill_value)  # fmt: skip


def augment_detection_dataset(dataset, transforms, *, seed: int = 0):
    """Apply ``transforms`` (functions ``t(data, seed=...)``, e.g. ``functools.partial(random_flip)``)
    in order to every batch of a ``tf.data`` dataset of Keras dicts.

    Batch ``k`` and transform ``t`` get the stateless seed ``(seed, 1000·k + t)``: deterministic,
    mapped in parallel, prefetched.
    """
    tf = _tf()
    seed = check_seed("seed", seed)
    transforms = list(transforms)

    def apply(index, data):
        for number, transform in enumerate(transforms):
            data = transform(data, seed=tf.stack([tf.constant(seed, tf.int64), 1000 * index + number]))
        return data

    return dataset.enumerate().map(apply, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- the same transforms as Keras layers
class BoxMaskAugmentation(keras.layers.Layer):
    """Base of the box- and mask-aware layers: one Keras dict in, one out (identity at inference).

    ``call(data, training=True)`` takes the batch dict of the module docstring and returns a
    dict of the same structure and dtypes (a crop changes ``H, W``). Each call draws a new
    stateless seed pair from the layer's ``keras.random.SeedGenerator``, so ``seed`` makes a
    run reproducible and successive calls differ. Subclasses define ``_transform(data, seed)``.

    Args:
        instance_channel: mask channel of instance ids (``j + 1`` for box row ``j``); when
            given, boxes are re-derived from it after the move (tight by construction).
        seed: seed of the layer's random generator (an int >= 0, or None).
    """

    def __init__(self, instance_channel: int | None = None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.instance_channel = None if instance_channel is None else check_int("instance_channel", instance_channel,
                                                                                 minimum=0)  # fmt: skip
        self.seed = None if seed is None else check_seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = False

    def build(self, input_shape):
        if not isinstance(input_shape, dict) or "images" not in input_shape:
            raise TypeError(
                f"{type(self).__name__} takes the Keras dict {{'images', 'bounding_boxes', 'segmentation_masks'}}, "
                f"got inputs of shape {input_shape}"
            )

    def call(self, data, training=True):
        if not training:
            return data
        tf = _tf()
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        return self._transform(dict(data), seed)

    def _transform(self, data, seed):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define _transform(data, seed)")

    def get_config(self):
        config = super().get_config()
        config.update(instance_channel=self.instance_channel, seed=self.seed)
        return config


_register = keras.saving.register_keras_serializable(package="cnncourse")


@_register
class BoxMaskRandomFlip(BoxMaskAugmentation):
    """:func:`random_flip` as a layer on the Keras dict: boxes exact, integer masks stay integer."""

    def __init__(self, horizontal: bool = True, vertical: bool = False, rate: float = 0.5, fill_value: float = 0.0,
                 instance_channel: int | None = None, seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(instance_channel=instance_channel, seed=seed, **kwargs)
        self.horizontal, self.vertical = check_bool("horizontal", horizontal), check_bool("vertical", vertical)
        self.rate = check_float("rate", rate, minimum=0.0, maximum=1.0)
        self.fill_value = check_float("fill_value", fill_value)

    def _transform(self, data, seed):
        return random_flip(data, horizontal=self.horizontal, vertical=self.vertical, rate=self.rate, seed=seed,
                           instance_channel=self.instance_channel, fill_value=self.fill_value)  # fmt: skip

    def get_config(self):
        config = super().get_config()
        config.update(horizontal=self.horizontal, vertical=self.vertical, rate=self.rate, fill_value=self.fill_value)
        return config


@_register
class BoxMaskRandomTranslation(BoxMaskAugmentation):
    """:func:`random_translation` as a layer: whole-pixel shifts up to ``max_shift`` of the size."""

    def __init__(self, max_shift: float = 0.2, fill_value: float = 0.0, instance_channel: int | None = None,
                 seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(instance_channel=instance_channel, seed=seed, **kwargs)
        self.max_shift = check_float("max_shift", max_shift, minimum=0.0, maximum=1.0)
        self.fill_value = check_float("fill_value", fill_value)

    def _transform(self, data, seed):
        return random_translation(data, max_shift=self.max_shift, seed=seed, instance_channel=self.instance_channel,
                                  fill_value=self.fill_value)  # fmt: skip

    def get_config(self):
        config = super().get_config()
        config.update(max_shift=self.max_shift, fill_value=self.fill_value)
        return config


@_register
class BoxMaskRandomScaleCrop(BoxMaskAugmentation):
    """:func:`random_scale_crop` as a layer: scale jitter ``s ~ U(scale)`` and a random window."""

    def __init__(self, scale=(0.75, 1.33), fill_value: float = 0.0, instance_channel: int | None = None,
                 seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(instance_channel=instance_channel, seed=seed, **kwargs)
        low, high = scale if isinstance(scale, (tuple, list)) else (scale, scale)
        low = check_float("scale[0]", low, minimum=0.0, include_minimum=False)
        self.scale = (low, check_float("scale[1]", high, minimum=low))
        self.fill_value = check_float("fill_value", fill_value)

    def _transform(self, data, seed):
        return random_scale_crop(data, scale=self.scale, seed=seed, instance_channel=self.instance_channel,
                                 fill_value=self.fill_value)  # fmt: skip

    def get_config(self):
        config = super().get_config()
        config.update(scale=list(self.scale), fill_value=self.fill_value)
        return config


@_register
class BoxMaskRandomCrop(BoxMaskAugmentation):
    """:func:`random_crop` as a layer: a random ``(height, width)`` window, boxes moved exactly.

    At inference the layer returns the input unchanged (as Keras's ``RandomCrop`` resizes
    instead, use it only on training data, e.g. in a ``tf.data`` map).
    """

    def __init__(self, height: int, width: int, instance_channel: int | None = None, seed: int | None = None,
                 **kwargs):  # fmt: skip
        super().__init__(instance_channel=instance_channel, seed=seed, **kwargs)
        self.height, self.width = check_positive_int("height", height), check_positive_int("width", width)

    def _transform(self, data, seed):
        return random_crop(data, (self.height, self.width), seed=seed, instance_channel=self.instance_channel)

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width)
        return config


@_register
class BoxMaskRandomRotation(BoxMaskAugmentation):
    """:func:`random_rotation` as a layer: ``U(-max_degrees, max_degrees)``; with boxes it needs
    ``instance_channel`` (boxes re-derived from the turned instance masks)."""

    def __init__(self, max_degrees: float = 15.0, fill_value: float = 0.0, instance_channel: int | None = None,
                 seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(instance_channel=instance_channel, seed=seed, **kwargs)
        self.max_degrees = check_float("max_degrees", max_degrees, minimum=0.0, maximum=180.0)
        self.fill_value = check_float("fill_value", fill_value)

    def build(self, input_shape):
        super().build(input_shape)
        if "bounding_boxes" in input_shape and self.instance_channel is None:
            raise ValueError(
                "BoxMaskRandomRotation moves boxes only through the instance masks: pass instance_channel= (the mask "
                "channel of instance ids, e.g. ShapesData.to_keras_dict(instance_ids=True) -> 1), or use "
                "BoxMaskRandomRotation90"
            )

    def _transform(self, data, seed):
        return random_rotation(data, max_degrees=self.max_degrees, seed=seed, instance_channel=self.instance_channel,
                               fill_value=self.fill_value)  # fmt: skip

    def get_config(self):
        config = super().get_config()
        config.update(max_degrees=self.max_degrees, fill_value=self.fill_value)
        return config


@_register
class BoxMaskRandomRotation90(BoxMaskAugmentation):
    """:func:`random_rotation90` as a layer: random quarter turns of square images, boxes exact."""

    def _transform(self, data, seed):
        return random_rotation90(data, seed=seed, instance_channel=self.instance_channel)
