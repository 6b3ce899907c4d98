"""Grad-CAM (Selvaraju et al., 2017) for any convolutional layer of a Keras model.

For feature maps ``A^k`` (``(h, w)`` each, ``k`` the channel) of a chosen layer and the class
logit ``S_c``: ``α_k = mean_ij ∂S_c / ∂A^k_ij`` and ``L = ReLU(Σ_k α_k A^k)``, an ``(h, w)`` map,
resized bilinearly to the input's size.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_bool
from cnncourse.explain._common import (
    batches, check_batch_size, check_class_index, check_images, check_layer, check_model, layer_model, num_outputs,
    resize_maps, tf_module,
)


def grad_cam(model, images, layer_name: str, class_index, *, upsample: bool = True, batch_size: int = 64) -> np.ndarray:
    """Grad-CAM maps of ``layer_name`` for ``class_index``.

    Args:
        model: a functional Keras model, ``(N, H, W, C)`` images → ``(N, K)`` logits.
        images: float ``(N, H, W, C)``.
        layer_name: a layer of ``model.layers`` whose output is ``(N, h, w, C')``.
        class_index: an int or ``(N,)`` ints.
        upsample: resize the maps to ``(H, W)`` (bilinear); else keep ``(h, w)``.
        batch_size: images per gradient computation.

    Returns:
        float32 ``(N, H, W)`` (or ``(N, h, w)``), non-negative, not normalised.
    """
    model = check_model("model", model)
    images = check_images("images", images, model)
    classes = check_class_index("class_index", class_index, len(images), num_outputs("model", model))
    layer = check_layer("layer_name", model, layer_name)
    if len(layer.output.shape) != 4:
        raise ValueError(f"layer_name must name a layer with (N, h, w, C) outputs, got {layer_name!r} "
                         f"with output shape {tuple(layer.output.shape)}")
    upsample = check_bool("upsample", upsample)
    batch_size = check_batch_size("batch_size", batch_size)
    tf = tf_module()
    both = layer_model(model, [layer_name], with_output=True)
    maps = []
    for part in batches(len(images), batch_size):
        with tf.GradientTape() as tape:
            features, scores = both(tf.constant(images[part]), training=False)
            picked = tf.gather(scores, classes[part], axis=1, batch_dims=1)
        grads = tape.gradient(picked, features)
        if grads is None:
            raise ValueError(f"layer_name: the class scores do not depend on the output of {layer_name!r} "
                             f"(a layer that passes its input through unchanged has no output of its own)")
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        maps.append(tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy())
    maps = np.concatenate(maps).astype(np.float32)
    return resize_maps(maps, images.shape[1:3]) if upsample else maps
