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
3.15's ``MixUp`` concatenates the box labels along the wrong axis); CutMix would cut boxes
and has no box-aware version here (Keras raises ``NotImplementedError``), so :func:`cutmix`
refuses a dict with ``"bounding_boxes"`` with a clear message.
"""

from __future__ import annotations

from cnncourse._validation import check_float, check_positive_int, check_seed
from cnncourse.augment._seeds import _tf
from cnncourse.augment._seeds import seed_pair as _seed_pair


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
                "cutmix: images is a dict with 'bounding_boxes'; CutMix cuts boxes apart and has no box-aware "
                "version here: use mixup_detection for detection data, or pass the images alone"
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
