"""Label-mixing augmentations for classification: MixUp, CutMix (and RandAugment).

MixUp (Zhang et al., 2018) blends two images and their one-hot labels with the same
weight ``λ ~ Beta(α, α)``::

    x = λ·x_i + (1 - λ)·x_j,        y = λ·y_i + (1 - λ)·y_j

CutMix (Yun et al., 2019) pastes a rectangle of image ``j`` into image ``i``; the label
weight of ``j`` is the share of pixels that really came from ``j`` (after the rectangle is
clipped to the image), so labels and pixels always agree. Keras 3.15's ``CutMix`` uses the
drawn ``λ`` before clipping instead (its labels disagree with its pixels near the border);
:func:`cutmix` counts the pasted pixels.

Both functions work on a batch (partner ``j`` is a random permutation of the batch) and are
deterministic given a stateless ``seed`` (two ints); :func:`mixed_dataset` applies one to
every batch of a ``tf.data`` pipeline. RandAugment needs no label change:
:func:`rand_augment` is Keras's layer with the course's defaults.

Boxes: :func:`mixup_detection` blends images and keeps the boxes of *both* images (Keras
3.15's ``MixUp`` concatenates the box labels along the wrong axis); :func:`cutmix_detection`
pastes the rectangle into images and masks and cuts the boxes to match (the image's own
boxes lose the covered part and are dropped when less than ``min_visible`` stays visible, the
partner's boxes are clipped to the rectangle; Keras 3.15's ``CutMix`` raises
``NotImplementedError`` on boxes), and :class:`BoxMaskCutMix` is that as a Keras layer.
:func:`cutmix` refuses a dict with ``"bounding_boxes"`` and names :func:`cutmix_detection`.
"""

from __future__ import annotations

from cnncourse._validation import check_float, check_positive_int, check_seed
from cnncourse.augment._seeds import _tf
from cnncourse.augment._seeds import seed_pair as _seed_pair
from cnncourse.augment.boxes_and_masks import BoxMaskAugmentation, _register


def _one_hot(labels, num_classes, name="labels"):
    tf = _tf()
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 1 or (labels.shape.rank == 2 and labels.shape[-1] == 1 and num_classes not in (None, 1)):
        if num_classes is None:
            raise ValueError(
                f"{name} must be one-hot (batch, classes) floats, got integer labels of shape {labels.shape}; "
                "pass num_classes= to one-hot them"
            )
        labels = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), check_positive_int("num_classes", num_classes))
    if labels.shape.rank != 2:
        raise ValueError(f"{name} must have shape (batch, classes), got {labels.shape}")
    return tf.cast(labels, tf.float32)


def _beta(shape, alpha, seed):
    tf = _tf()
    seeds = tf.random.experimental.stateless_split(seed, 2)
    a = tf.random.stateless_gamma(shape, seeds[0], alpha=alpha)
    b = tf.random.stateless_gamma(shape, seeds[1], alpha=alpha)
    return a / (a + b)


def _gamma_compilable(shape, alpha, seed, tries: int = 8):
    """``Gamma(alpha, 1)`` samples by Marsaglia and Tsang's method, with ``tries`` candidates
    drawn at once (the first accepted one is used), so XLA can compile it:
    ``tf.random.stateless_gamma`` has no XLA kernel. Each candidate is accepted with
    probability > 0.95, so all ``tries`` fail with probability < 1e-10 (the value is then
    ``d``, the distribution's mode region). ``alpha < 1`` uses ``Gamma(alpha + 1) · U^(1/alpha)``."""
    tf = _tf()
    seeds = tf.random.experimental.stateless_split(seed, 3)
    boost = alpha < 1.0
    a = alpha + 1.0 if boost else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    x = tf.random.stateless_normal([tries, *shape], seeds[0])
    u = tf.random.stateless_uniform([tries, *shape], seeds[1], minval=1e-12, maxval=1.0)
    v = (1.0 + c * x) ** 3
    accepted = (v > 0) & (tf.math.log(u) < 0.5 * x * x + d - d * v + d * tf.math.log(tf.maximum(v, 1e-12)))
    first = tf.argmax(tf.cast(accepted, tf.int32), axis=0)
    value = tf.gather(tf.transpose(d * v, [*range(1, len(shape) + 1), 0]), first[..., None], batch_dims=len(shape))[..., 0]
    value = tf.where(tf.reduce_any(accepted, axis=0), value, d)
    if boost:
        value = value * tf.random.stateless_uniform(shape, seeds[2], minval=1e-12, maxval=1.0) ** (1.0 / alpha)
    return value


def _beta_compilable(shape, alpha, seed):
    """``Beta(alpha, alpha)`` as ``G1 / (G1 + G2)`` from :func:`_gamma_compilable` (XLA-compilable)."""
    tf = _tf()
    seeds = tf.random.experimental.stateless_split(seed, 2)
    a, b = _gamma_compilable(shape, alpha, seeds[0]), _gamma_compilable(shape, alpha, seeds[1])
    return a / (a + b)


def _partners(batch, seed):
    tf = _tf()
    return tf.argsort(tf.random.stateless_uniform([batch], seed))


def _check_images(images):
    tf = _tf()
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images must have shape (batch, height, width, channels), got {images.shape}")
    return images


def mixup(images, labels, *, alpha: float = 0.2, seed=0, num_classes: int | None = None):
    """MixUp on one batch.

    Args:
        images: float ``(B, H, W, C)``.
        labels: one-hot float ``(B, K)`` (or int ``(B,)`` with ``num_classes``).
        alpha: ``α`` of ``λ ~ Beta(α, α)`` (> 0; small α: mostly one image).
        seed: an int or a stateless seed pair.
        num_classes: one-hot integer labels with this many classes.

    Returns:
        ``(images, labels, weights)``: mixed float images, mixed one-hot labels
        ``(B, K)`` (rows sum to 1), and ``weights`` ``(B,)``, the ``λ`` of each image.
    """
    tf = _tf()
    alpha = check_float("alpha", alpha, minimum=0.0, include_minimum=False)
    images = _check_images(images)
    labels = _one_hot(labels, num_classes)
    seed = _seed_pair(seed)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    batch = tf.shape(images)[0]
    lam = _beta([batch], alpha, seeds[0])
    partner = _partners(batch, seeds[1])
    weight = tf.reshape(tf.cast(lam, images.dtype), [-1, 1, 1, 1])
    mixed = weight * images + (1 - weight) * tf.gather(images, partner)
    mixed_labels = lam[:, None] * labels + (1 - lam[:, None]) * tf.gather(labels, partner)
    return mixed, mixed_labels, lam


def cutmix_boxes(image_size, lam, seed):
    """The pasted rectangles of CutMix: ``(B, 4)`` int32 ``(y1, x1, y2, x2)``, clipped to the image.

    The rectangle has side ``sqrt(1 - λ)`` times the image's, a uniform random centre, and
    is clipped to the image (so its area can be smaller than ``(1 - λ)·H·W``).
    """
    tf = _tf()
    height, width = (tf.cast(v, tf.float32) for v in image_size)
    batch = tf.shape(lam)[0]
    side = tf.sqrt(1.0 - lam)
    cut_h, cut_w = side * height, side * width
    centre = tf.random.stateless_uniform([batch, 2], seed) * tf.stack([height, width])
    y1 = tf.clip_by_value(tf.round(centre[:, 0] - cut_h / 2), 0, height)
    y2 = tf.clip_by_value(tf.round(centre[:, 0] + cut_h / 2), 0, height)
    x1 = tf.clip_by_value(tf.round(centre[:, 1] - cut_w / 2), 0, width)
    x2 = tf.clip_by_value(tf.round(centre[:, 1] + cut_w / 2), 0, width)
    return tf.cast(tf.stack([y1, x1, y2, x2], axis=1), tf.int32)


def cutmix(images, labels, *, alpha: float = 1.0, seed=0, num_classes: int | None = None):
    """CutMix on one batch; label weights are the real shares of pasted pixels.

    Args:
        images: float ``(B, H, W, C)`` (a dict with ``"bounding_boxes"`` is refused).
        labels: one-hot float ``(B, K)`` (or int ``(B,)`` with ``num_classes``).
        alpha: ``α`` of ``λ ~ Beta(α, α)`` (1: uniform, as in the paper).
        seed: an int or a stateless seed pair.
        num_classes: one-hot integer labels with this many classes.

    Returns:
        ``(images, labels, weights)``: images with a rectangle of their partner pasted in,
        labels ``(1 - s)·y_i + s·y_j`` where ``s`` is the pasted share of pixels, and
        ``weights`` ``(B,)`` = ``1 - s``.
    """
    tf = _tf()
    if isinstance(images, dict):
        if "bounding_boxes" in images:
            raise ValueError(
                "cutmix: images is a dict with 'bounding_boxes'; cutmix mixes one-hot class labels and would leave "
                "the boxes wrong: use cutmix_detection (boxes cut and pasted with the pixels) for detection data, "
                "or pass the images alone"
            )
        images = images["images"]
    alpha = check_float("alpha", alpha, minimum=0.0, include_minimum=False)
    images = _check_images(images)
    labels = _one_hot(labels, num_classes)
    seed = _seed_pair(seed)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    lam = _beta([batch], alpha, seeds[0])
    partner = _partners(batch, seeds[1])
    rect = cutmix_boxes((height, width), lam, seeds[2])
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (
        (rows >= rect[:, 0, None, None]) & (rows < rect[:, 2, None, None])
        & (cols >= rect[:, 1, None, None]) & (cols < rect[:, 3, None, None])
    )  # fmt: skip
    mixed = tf.where(inside[..., None], tf.gather(images, partner), images)
    share = tf.reduce_mean(tf.cast(inside, tf.float32), axis=[1, 2])
    mixed_labels = (1 - share[:, None]) * labels + share[:, None] * tf.gather(labels, partner)
    return mixed, mixed_labels, 1 - share


def mixup_detection(data, *, alpha: float = 1.5, seed=0):
    """MixUp for detection: blended images, and the boxes of both images kept.

    Args:
        data: Keras dict ``{"images": (B, H, W, C), "bounding_boxes": {"boxes": (B, M, 4),
            "labels": (B, M)}}`` with -1 padding (no ``"segmentation_masks"``: a blended
            image has no single class per pixel).
        alpha: ``α`` of ``λ ~ Beta(α, α)`` (YOLOv4 style blends use α ≈ 1.5).
        seed: an int or a stateless seed pair.

    Returns:
        the dict with blended images, boxes ``(B, 2M, 4)`` and labels ``(B, 2M)`` (the
        image's own boxes first, then its partner's), and ``"mix_weights"`` ``(B,)``
        (``λ``, the weight of the image's own boxes in a weighted loss).
    """
    tf = _tf()
    if "segmentation_masks" in data:
        raise ValueError("mixup_detection: data has 'segmentation_masks'; blended images have no per-pixel class")
    alpha = check_float("alpha", alpha, minimum=0.0, include_minimum=False)
    images = _check_images(data["images"])
    seed = _seed_pair(seed)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    batch = tf.shape(images)[0]
    lam = _beta([batch], alpha, seeds[0])
    partner = _partners(batch, seeds[1])
    weight = tf.reshape(tf.cast(lam, images.dtype), [-1, 1, 1, 1])
    boxes = tf.convert_to_tensor(data["bounding_boxes"]["boxes"])
    labels = tf.convert_to_tensor(data["bounding_boxes"]["labels"])
    return {
        "images": weight * images + (1 - weight) * tf.gather(images, partner),
        "bounding_boxes": {
            "boxes": tf.concat([boxes, tf.gather(boxes, partner)], axis=1),
            "labels": tf.concat([labels, tf.gather(labels, partner)], axis=1),
        },
        "mix_weights": lam,
    }


def mixed_dataset(dataset, method: str = "mixup", *, alpha: float | None = None, seed: int = 0, num_classes=None):
    """Apply :func:`mixup` or :func:`cutmix` to every ``(images, labels)`` batch of ``dataset``.

    Batch ``k`` uses the stateless seed ``(seed, k)``, so the pipeline is deterministic and
    may map in parallel. Returns a dataset of ``(images, one-hot labels)``.
    """
    from cnncourse._validation import check_choice

    tf = _tf()
    method = check_choice("method", method, ("mixup", "cutmix"), "method")
    seed = check_seed("seed", seed)
    function = mixup if method == "mixup" else cutmix
    alpha = (0.2 if method == "mixup" else 1.0) if alpha is None else alpha

    def apply(index, batch):
        images, labels = batch
        mixed, mixed_labels, _ = function(
            images, labels, alpha=alpha, seed=tf.stack([tf.constant(seed, tf.int64), index]), num_classes=num_classes
        )
        return mixed, mixed_labels

    return dataset.enumerate().map(apply, num_parallel_calls=tf.data.AUTOTUNE)


def rand_augment(num_ops: int = 2, factor: float = 0.5, value_range=(0.0, 1.0), seed: int = 0):
    """Keras's ``RandAugment`` (Cubuk et al., 2020): ``num_ops`` random operations of strength ``factor``.

    Labels are unchanged. Input float ``(B, H, W, C)`` in ``value_range``.
    """
    import keras

    return keras.layers.RandAugment(
        value_range=tuple(value_range),
        num_ops=check_positive_int("num_ops", num_ops),
        factor=check_float("factor", factor, minimum=0.0, maximum=1.0),
        seed=check_seed("seed", seed),
    )


def _box_area(boxes):
    tf = _tf()
    return tf.maximum(boxes[..., 2] - boxes[..., 0], 0.0) * tf.maximum(boxes[..., 3] - boxes[..., 1], 0.0)


def _outside_rectangle_bounds(boxes, rect):
    """The bounding box of ``box \\ rect`` for xyxy ``boxes`` (B, M, 4) and ``rect`` (B, 1, 4) xyxy.

    Only a rectangle that spans the box's whole height (width) can shorten it in x (y): it
    cuts the box's left or right (top or bottom) part away. Elsewhere the box is unchanged.
    """
    tf = _tf()
    bx1, by1, bx2, by2 = (boxes[..., i] for i in range(4))
    rx1, ry1, rx2, ry2 = (rect[..., i] for i in range(4))
    spans_height, spans_width = (ry1 <= by1) & (ry2 >= by2), (rx1 <= bx1) & (rx2 >= bx2)
    nx1 = tf.where(spans_height & (rx1 <= bx1) & (rx2 > bx1), tf.minimum(rx2, bx2), bx1)
    nx2 = tf.where(spans_height & (rx2 >= bx2) & (rx1 < bx2), tf.maximum(rx1, bx1), bx2)
    ny1 = tf.where(spans_width & (ry1 <= by1) & (ry2 > by1), tf.minimum(ry2, by2), by1)
    ny2 = tf.where(spans_width & (ry2 >= by2) & (ry1 < by2), tf.maximum(ry1, by1), by2)
    return tf.stack([nx1, ny1, nx2, ny2], axis=-1)


def _cutmix_draw(shape, alpha, seed):
    """The random part of :func:`cutmix_detection`: ``(partner (B,), rect (B, 4) y1 x1 y2 x2, inside (B, H, W))``."""
    tf = _tf()
    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), 3)
    batch, height, width = shape[0], shape[1], shape[2]
    lam = _beta_compilable([batch], alpha, seeds[0])
    partner = _partners(batch, seeds[1])
    rect = cutmix_boxes((height, width), lam, seeds[2])
    rows, cols = tf.range(height)[None, :, None], tf.range(width)[None, None, :]
    inside = (
        (rows >= rect[:, 0, None, None]) & (rows < rect[:, 2, None, None])
        & (cols >= rect[:, 1, None, None]) & (cols < rect[:, 3, None, None])
    )  # fmt: skip
    return partner, rect, inside


def cutmix_detection(data, *, alpha: float = 1.0, min_visible: float = 0.25, seed=0, instance_channel: int | None = None):
    """Box- and mask-aware CutMix: a rectangle of the partner image pasted in, boxes cut to match.

    Image ``i`` gets the rectangle of :func:`cutmix_boxes` (side ``sqrt(1 - λ)``,
    ``λ ~ Beta(α, α)`` drawn by an XLA-compilable sampler, clipped to the image) from its partner ``j`` (a random permutation
    of the batch); every mask channel is pasted alike. The rule for boxes:

    - **the image's own boxes** lose the part under the rectangle: a box keeps the bounding box
      of what lies outside it (a rectangle across the box's whole height or width cuts it
      shorter; a rectangle inside the box leaves it as it is, it still bounds the visible
      parts); it is **dropped** (``-1`` row and label) when less than ``min_visible`` of its
      area stays visible;
    - **the partner's boxes** are clipped to the rectangle and kept when at least
      ``min_visible`` of their area lies inside it.

    With ``instance_channel`` (the mask channel of instance ids ``j + 1`` for box row ``j``),
    the partner's ids are moved to ``M + j + 1`` in the pasted region, every box is re-derived
    from the pasted instance masks (tight by construction) and the visible share is the share
    of the instance's *pixels* that stay, instead of the share of its box's area.

    Args:
        data: Keras dict ``{"images": (B, H, W, C), "bounding_boxes": {"boxes": (B, M, 4) xyxy
            pixels with exclusive x2, y2, "labels": (B, M)}, "segmentation_masks": int (B, H, W, K)}``
            (masks optional), padded with ``-1``.
        alpha: ``α`` of ``λ ~ Beta(α, α)`` (> 0; 1: uniform, as in the paper).
        min_visible: the share (in ``[0, 1]``) of a box that must stay visible for it to be kept.
        seed: an int or a stateless seed pair.
        instance_channel: see above; ``None`` works from the boxes alone.

    Returns:
        a dict with the pasted ``"images"``, ``"bounding_boxes"`` with boxes ``(B, 2M, 4)`` and
        labels ``(B, 2M)`` (the image's own rows first, in place, then its partner's),
        ``"segmentation_masks"`` (when given) and ``"mix_weights"`` ``(B,)``: the share of
        pixels that still come from the image itself (``1 - s`` of :func:`cutmix`).
    """
    from cnncourse.augment.boxes_and_masks import _check_data, _instance_ids, boxes_from_instance_ids

    tf = _tf()
    images = _check_data(data)
    if "bounding_boxes" not in data:
        raise ValueError("cutmix_detection: data has no 'bounding_boxes'; use cutmix for images and one-hot labels")
    alpha = check_float("alpha", alpha, minimum=0.0, include_minimum=False)
    min_visible = check_float("min_visible", min_visible, minimum=0.0, maximum=1.0)
    partner, rect, inside = _cutmix_draw(tf.shape(images), alpha, seed)
    out = {"images": tf.where(inside[..., None], tf.gather(images, partner), images)}

    boxes_in = tf.convert_to_tensor(data["bounding_boxes"]["boxes"])
    boxes = tf.cast(boxes_in, tf.float32)
    labels = tf.convert_to_tensor(data["bounding_boxes"]["labels"])
    num_boxes = boxes.shape[1] if boxes.shape[1] is not None else tf.shape(boxes)[1]
    valid = (tf.cast(labels, tf.int32) >= 0) & tf.reduce_all(boxes >= 0, axis=-1)
    partner_boxes, partner_labels = tf.gather(boxes, partner), tf.gather(labels, partner)
    partner_valid = tf.gather(valid, partner)
    all_labels = tf.concat([labels, partner_labels], axis=1)

    ids = _instance_ids(data, instance_channel)
    if "segmentation_masks" in data:
        masks = tf.convert_to_tensor(data["segmentation_masks"])
        partner_masks = tf.gather(masks, partner)
        if ids is not None:
            channel = tf.one_hot(instance_channel, masks.shape[-1], dtype=masks.dtype)  # (K,)
            moved = tf.where(partner_masks > 0, partner_masks + tf.cast(num_boxes, masks.dtype), partner_masks)
            partner_masks = partner_masks + channel * (moved - partner_masks)
        out["segmentation_masks"] = tf.where(inside[..., None], partner_masks, masks)

    if ids is None:
        xyxy = tf.cast(tf.stack([rect[:, 1], rect[:, 0], rect[:, 3], rect[:, 2]], axis=-1), tf.float32)[:, None]
        own_area, partner_area = _box_area(boxes), _box_area(partner_boxes)
        clipped = tf.concat([tf.maximum(partner_boxes[..., :2], xyxy[..., :2]),
                             tf.minimum(partner_boxes[..., 2:], xyxy[..., 2:])], axis=-1)  # fmt: skip
        covered = _box_area(tf.concat([tf.maximum(boxes[..., :2], xyxy[..., :2]),
                                       tf.minimum(boxes[..., 2:], xyxy[..., 2:])], axis=-1))  # fmt: skip
        own_share = 1.0 - covered / tf.maximum(own_area, 1e-9)
        partner_share = _box_area(clipped) / tf.maximum(partner_area, 1e-9)
        new_boxes = tf.concat([_outside_rectangle_bounds(boxes, xyxy), clipped], axis=1)
    else:
        new_ids = out["segmentation_masks"][..., instance_channel]
        new_boxes, present = boxes_from_instance_ids(new_ids, 2 * num_boxes)

        def counts(instance_ids, offset):
            hits = tf.equal(tf.cast(instance_ids, tf.int32)[..., None], tf.range(1, num_boxes + 1) + offset)
            return tf.reduce_sum(tf.cast(hits, tf.float32), axis=[1, 2])  # (B, M)

        before = tf.concat([counts(ids, 0), counts(tf.gather(ids, partner), 0)], axis=1)
        after = tf.concat([counts(new_ids, 0), counts(new_ids, num_boxes)], axis=1)
        share = tf.where(before > 0, after / tf.maximum(before, 1.0), 0.0)
        share = tf.where(present, share, 0.0)
        own_share, partner_share = share[:, :num_boxes], share[:, num_boxes:]
    visible = tf.concat([own_share, partner_share], axis=1)
    keep = tf.concat([valid, partner_valid], axis=1) & (visible >= min_visible) & (visible > 0)
    out["bounding_boxes"] = {
        "boxes": tf.cast(tf.where(keep[..., None], new_boxes, -tf.ones_like(new_boxes)), boxes_in.dtype),
        "labels": tf.where(keep, all_labels, -tf.ones_like(all_labels)),
    }
    out["mix_weights"] = 1.0 - tf.reduce_mean(tf.cast(inside, tf.float32), axis=[1, 2])
    return out


@_register
class BoxMaskCutMix(BoxMaskAugmentation):
    """:func:`cutmix_detection` as a Keras layer on the dict (identity at inference).

    Training calls return boxes ``(B, 2M, 4)``, labels ``(B, 2M)`` and ``"mix_weights"``
    (see :func:`cutmix_detection` for the rule that clips and drops boxes).
    """

    def __init__(self, alpha: float = 1.0, min_visible: float = 0.25, instance_channel: int | None = None,
                 seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(instance_channel=instance_channel, seed=seed, **kwargs)
        self.alpha = check_float("alpha", alpha, minimum=0.0, include_minimum=False)
        self.min_visible = check_float("min_visible", min_visible, minimum=0.0, maximum=1.0)

    def _transform(self, data, seed):
        return cutmix_detection(data, alpha=self.alpha, min_visible=self.min_visible, seed=seed,
                                instance_channel=self.instance_channel)  # fmt: skip

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, min_visible=self.min_visible)
        return config
