"""Saliency maps (Simonyan et al., 2014) and SmoothGrad (Smilkov et al., 2017).

The saliency of pixel ``(i, j)`` for class ``c`` is ``max_k |∂S_c / ∂x_ijk|``: the absolute
gradient of the class **logit** ``S_c`` (not the softmax probability) with respect to the
input, maximised over the colour channels ``k``. Pass a model whose outputs are logits.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_float, check_positive_int, check_seed
from cnncourse.explain._common import (
    batches, check_batch_size, check_class_index, check_images, check_model, num_outputs, tf_module,
)


def input_gradients(model, images, class_index, *, batch_size: int = 64) -> np.ndarray:
    """Gradient of each image's class score with respect to its pixels.

    Args:
        model: a Keras model, ``(N, H, W, C)`` images → ``(N, K)`` class scores (logits).
        images: float ``(N, H, W, C)``.
        class_index: the class whose score is differentiated: an int, or ``(N,)`` ints.
        batch_size: images per gradient computation.

    Returns:
        float32 ``(N, H, W, C)``: ``∂S_c(x_n) / ∂x_n``.
    """
    model = check_model("model", model)
    images = check_images("images", images, model)
    classes = check_class_index("class_index", class_index, len(images), num_outputs("model", model))
    batch_size = check_batch_size("batch_size", batch_size)
    tf = tf_module()
    out = np.empty_like(images)
    for part in batches(len(images), batch_size):
        x = tf.constant(images[part])
        with tf.GradientTape() as tape:
            tape.watch(x)
            scores = model(x, training=False)
            picked = tf.gather(scores, classes[part], axis=1, batch_dims=1)
        out[part] = tape.gradient(picked, x).numpy()
    return out


def saliency_map(model, images, class_index, *, batch_size: int = 64) -> np.ndarray:
    """Simonyan's saliency: ``max over channels of |∂S_c / ∂x|``.

    Args:
        model: ``(N, H, W, C)`` → ``(N, K)`` logits.
        images: float ``(N, H, W, C)``.
        class_index: an int or ``(N,)`` ints.
        batch_size: images per gradient computation.

    Returns:
        float32 ``(N, H, W)``, non-negative. For a linear model ``S = W·x + b`` it is
        ``max_k |W_c[i, j, k]|``, the same for every image.
    """
    return np.abs(input_gradients(model, images, class_index, batch_size=batch_size)).max(axis=-1)


def smoothgrad(model, images, class_index, *, samples: int = 16, noise: float = 0.15, seed: int = 0,
               batch_size: int = 64) -> np.ndarray:
    """SmoothGrad: the saliency map averaged over noisy copies of each image.

    Each image gets ``samples`` copies ``x + ε``, ``ε ~ N(0, σ²)`` with
    ``σ = noise · (max(x) − min(x))`` of that image; the result is the mean of their saliency
    maps (:func:`saliency_map`, absolute gradient, max over channels).

    Args:
        model, images, class_index, batch_size: as in :func:`saliency_map`.
        samples: noisy copies per image.
        noise: noise level as a fraction of the image's value range (Smilkov et al.: 0.1–0.2).
        seed: seed of the noise.

    Returns:
        float32 ``(N, H, W)``, non-negative.
    """
    model = check_model("model", model)
    images = check_images("images", images, model)
    classes = check_class_index("class_index", class_index, len(images), num_outputs("model", model))
    samples = check_positive_int("samples", samples)
    noise = check_float("noise", noise, minimum=0.0)
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    spread = np.ptp(images.reshape(len(images), -1), axis=1)[:, None, None, None]
    total = np.zeros(images.shape[:3], np.float64)
    for _ in range(samples):
        noisy = images + rng.normal(size=images.shape).astype(np.float32) * (noise * spread).astype(np.float32)
        total += saliency_map(model, noisy, classes, batch_size=batch_size)
    return (total / samples).astype(np.float32)
