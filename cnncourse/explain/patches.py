"""Top-k image patches per unit: the inputs that excite one channel of a layer most.

For channel ``unit`` of layer ``layer_name``, every spatial position of every image is a
candidate; the ``k`` largest activations are kept (at most one per image by default) and for
each the **receptive field** of that position (:func:`cnncourse.ops.receptive_field_of_model`)
is cut out of the image, padded with zeros where it leaves the image.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cnncourse._validation import check_bool, check_non_negative_int, check_positive_int
from cnncourse.explain._common import check_images, check_layer, check_model
from cnncourse.explain.filters import activation_maps


class TopPatches(NamedTuple):
    """The ``k`` strongest responses of one unit.

    Attributes:
        patches: float32 ``(k, size_h, size_w, C)``: the receptive fields, strongest first.
        activations: float32 ``(k,)``.
        image_index: int ``(k,)``: which image.
        position: int ``(k, 2)``: ``(row, col)`` of the unit in the layer's map.
        boxes: int ``(k, 4)``: the field as ``(x1, y1, x2, y2)`` input pixels, inclusive, may reach outside.
        field: the layer's :class:`cnncourse.ops.ReceptiveField`.
    """

    patches: np.ndarray
    activations: np.ndarray
    image_index: np.ndarray
    position: np.ndarray
    boxes: np.ndarray
    field: object


def top_patches(model, images, layer_name: str, unit: int, *, k: int = 9, one_per_image: bool = True) -> TopPatches:
    """The ``k`` image patches that drive channel ``unit`` of ``layer_name`` hardest.

    Args:
        model: a functional Keras model whose layers up to ``layer_name`` form a chain of
            convolutions, pooling and pointwise layers (what ``receptive_field_of_model`` reads).
        images: float ``(N, H, W, C)``.
        layer_name: a layer with ``(N, h, w, F)`` output.
        unit: the channel, ``0 <= unit < F``.
        k: how many patches.
        one_per_image: keep only the best position of each image.

    Returns:
        :class:`TopPatches`.
    """
    from cnncourse.ops import receptive_field_of_model

    model = check_model("model", model)
    images = check_images("images", images, model)
    layer = check_layer("layer_name", model, layer_name)
    k = check_positive_int("k", k)
    one_per_image = check_bool("one_per_image", one_per_image)
    maps = activation_maps(model, images, layer_name)
    if maps.ndim != 4:
        raise ValueError(f"layer_name must name a layer with (N, h, w, F) outputs, got {layer.name!r} with {maps.shape[1:]}")
    unit = check_non_negative_int("unit", unit)
    if unit >= maps.shape[-1]:
        raise ValueError(f"unit must be below the layer's {maps.shape[-1]} channels, got {unit}")
    field = receptive_field_of_model(model, up_to=layer_name)
    size, jump, offset = field.size, field.jump, field.offset
    if offset is None or any(o is None for o in offset):
        raise ValueError(f"the receptive field of {layer_name!r} has no fixed offset (same padding with stride > 1 "
                         f"on an unknown input size): give the model a fixed input size")
    values = maps[..., unit]
    n, h, w = values.shape
    if one_per_image:
        best = values.reshape(n, -1).argmax(axis=1)
        candidates = np.stack([np.arange(n), best // w, best % w], axis=1)
        scores = values.reshape(n, -1)[np.arange(n), best]
    else:
        flat = np.arange(n * h * w)
        candidates = np.stack([flat // (h * w), flat % (h * w) // w, flat % w], axis=1)
        scores = values.ravel()
    order = np.argsort(-scores, kind="stable")[:k]
    chosen = candidates[order]
    margin = max(size)
    padded = np.pad(images, ((0, 0), (margin, margin), (margin, margin), (0, 0)))
    patches, boxes = [], []
    for i, r, c in chosen:
        top, left = offset[0] + r * jump[0], offset[1] + c * jump[1]
        patches.append(padded[i, top + margin:top + margin + size[0], left + margin:left + margin + size[1]])
        boxes.append((left, top, left + size[1] - 1, top + size[0] - 1))
    return TopPatches(np.stack(patches).astype(np.float32), scores[order].astype(np.float32), chosen[:, 0],
                      chosen[:, 1:], np.asarray(boxes, np.int64), field)
