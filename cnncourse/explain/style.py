"""Neural style transfer (Gatys et al., 2016) with Gram matrices.

For a layer's feature maps ``F`` reshaped to ``(C, M)`` (``C`` channels, ``M = h · w``
positions) the Gram matrix is ``G = F Fᵀ / M``: entry ``(i, j)`` is the mean over positions
of the product of channels ``i`` and ``j``. We divide by ``M`` so that ``G`` does not grow
with the image size. With that normalisation Gatys's layer loss
``E_l = Σ (G − A)² / (4 C² M²)`` becomes ``E_l = Σ_ij (G_ij − A_ij)² / (4 C²)``, and the style
loss is ``Σ_l w_l E_l``. The content loss is ``½ · mean((F − P)²)`` over the content layer's
elements (a mean rather than Gatys's sum, again so that weights do not depend on sizes).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cnncourse._validation import check_bool, check_float, check_non_negative_int, check_positive_int
from cnncourse.explain._common import chain_model, check_images, check_layer, check_model, tf_module


def gram_matrix(features):
    """``G = F Fᵀ / M`` of each feature map.

    Args:
        features: ``(N, h, w, C)`` array or tensor.

    Returns:
        float32 tensor ``(N, C, C)``.
    """
    tf = tf_module()
    features = tf.convert_to_tensor(features, dtype=tf.float32)
    if features.shape.rank != 4:
        raise ValueError(f"features must have shape (N, h, w, C), got {tuple(features.shape)}")
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return tf.einsum("nhwi,nhwj->nij", features, features) / positions


def style_layer_loss(gram, target_gram):
    """``Σ_ij (G − A)² / (4 C²)``, averaged over the batch: one layer's style loss (float32 scalar tensor).

    Args:
        gram, target_gram: ``(N, C, C)`` (or ``(C, C)``) Gram matrices.
    """
    tf = tf_module()
    gram, target_gram = tf.convert_to_tensor(gram, tf.float32), tf.convert_to_tensor(target_gram, tf.float32)
    if gram.shape[-2:] != target_gram.shape[-2:] or gram.shape[-1] != gram.shape[-2]:
        raise ValueError(f"gram and target_gram must be (C, C) Gram matrices of the same C, got "
                         f"{tuple(gram.shape)} and {tuple(target_gram.shape)}")
    channels = float(gram.shape[-1])
    per = tf.reduce_sum(tf.reshape((gram - target_gram) ** 2, (-1, gram.shape[-1] ** 2)), axis=-1)
    return tf.reduce_mean(per) / (4.0 * channels ** 2)


def style_loss(features, target_grams, weights=None):
    """``Σ_l w_l E_l`` over the style layers.

    Args:
        features: list of ``(N, h_l, w_l, C_l)`` feature maps of the generated image.
        target_grams: list of ``(N or 1, C_l, C_l)`` Gram matrices of the style image.
        weights: list of ``w_l`` (default ``1 / L`` each).

    Returns:
        float32 scalar tensor.
    """
    if len(features) != len(target_grams):
        raise ValueError(f"features and target_grams must have one entry per style layer, got "
                         f"{len(features)} and {len(target_grams)}")
    weights = [1.0 / len(features)] * len(features) if weights is None else list(weights)
    if len(weights) != len(features):
        raise ValueError(f"weights must have one entry per style layer ({len(features)}), got {len(weights)}")
    return sum(w * style_layer_loss(gram_matrix(f), a) for w, f, a in zip(weights, features, target_grams))


def content_loss(features, target_features):
    """``½ · mean((F − P)²)``: float32 scalar tensor; ``features`` and ``target_features`` of one shape."""
    tf = tf_module()
    features = tf.convert_to_tensor(features, tf.float32)
    target_features = tf.convert_to_tensor(target_features, tf.float32)
    if features.shape != target_features.shape:
        raise ValueError(f"features and target_features must have the same shape, got "
                         f"{tuple(features.shape)} and {tuple(target_features.shape)}")
    return 0.5 * tf.reduce_mean((features - target_features) ** 2)


def total_variation(images):
    """Mean absolute difference of neighbouring pixels of ``(N, H, W, C)`` images (a smoothness penalty)."""
    tf = tf_module()
    return (tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1])) +
            tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1])))


class StyleTransferResult(NamedTuple):
    """``image`` float32 ``(H, W, C)`` in ``[0, 1]``; ``history`` dict of float32 ``(steps,)``
    arrays: ``"content"``, ``"style"``, ``"tv"``, ``"total"`` (weighted), before each step."""

    image: np.ndarray
    history: dict


def style_transfer(model, content_image, style_image, *, content_layer: str, style_layers, steps: int = 100,
                   content_weight: float = 1.0, style_weight: float = 100.0, tv_weight: float = 0.0,
                   learning_rate: float = 0.05, style_weights=None, progress: bool = True,
                   start: str = "content") -> StyleTransferResult:
    """Gatys's style transfer: an image with the content of one and the style of another.

    Minimises ``content_weight · content_loss + style_weight · style_loss + tv_weight · TV``
    with Adam over the pixels, clipping them to ``[0, 1]`` after each step.

    Args:
        model: a chain model (e.g. the course backbone) whose layers work at any image size;
            it is rebuilt on the images' size (:func:`chain_model`), weights shared.
        content_image, style_image: float ``(H, W, C)`` in ``[0, 1]`` (the style image may
            have another size).
        content_layer: the layer whose features the result must keep.
        style_layers: layers whose Gram matrices the result must match.
        steps: optimiser steps.
        content_weight, style_weight, tv_weight: the loss weights.
        learning_rate: Adam's.
        style_weights: ``w_l`` per style layer (default ``1 / L``).
        progress: print the losses five times during the run.
        start: ``"content"`` (start from the content image) or ``"noise"``.

    Returns:
        :class:`StyleTransferResult`.
    """
    import keras

    model = check_model("model", model)
    content_image = check_images("content_image", np.asarray(content_image)[None])
    style_image = check_images("style_image", np.asarray(style_image)[None])
    check_layer("content_layer", model, content_layer)
    style_layers = list(style_layers)
    for name in style_layers:
        check_layer("style_layers", model, name)
    steps = check_non_negative_int("steps", steps)
    content_weight = check_float("content_weight", content_weight, minimum=0.0)
    style_weight = check_float("style_weight", style_weight, minimum=0.0)
    tv_weight = check_float("tv_weight", tv_weight, minimum=0.0)
    learning_rate = check_float("learning_rate", learning_rate, minimum=0.0, include_minimum=False)
    progress = check_bool("progress", progress)
    if start not in ("content", "noise"):
        raise ValueError(f"start must be 'content' or 'noise', got {start!r}")
    tf = tf_module()
    extractor = chain_model(model, (None, None, content_image.shape[-1]), outputs=[content_layer] + style_layers)
    content_target = extractor(content_image)[0]
    style_targets = [gram_matrix(f) for f in extractor(style_image)[1:]]
    if start == "content":
        init = content_image
    else:
        init = np.random.default_rng(0).uniform(size=content_image.shape).astype(np.float32)
    x = tf.Variable(init)
    optimizer = keras.optimizers.Adam(learning_rate)
    history = {"content": [], "style": [], "tv": [], "total": []}

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outputs = extractor(x, training=False)
            c = content_loss(outputs[0], content_target)
            s = style_loss(outputs[1:], style_targets, style_weights)
            tv = total_variation(x)
            total = content_weight * c + style_weight * s + tv_weight * tv
        optimizer.apply_gradients([(tape.gradient(total, x), x)])
        x.assign(tf.clip_by_value(x, 0.0, 1.0))
        return c, s, tv, total

    report = max(1, steps // 5)
    for i in range(steps):
        values = [float(v) for v in step()]
        for key, value in zip(history, values):
            history[key].append(value)
        if progress and (i % report == 0 or i == steps - 1):
            print(f"step {i + 1:4d}/{steps}: content {values[0]:.4g}  style {values[1]:.4g}  tv {values[2]:.4g}  "
                  f"total {values[3]:.4g}")
    return StyleTransferResult(x.numpy()[0], {k: np.asarray(v, np.float32) for k, v in history.items()})
