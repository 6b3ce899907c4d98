"""Feature extraction from any named layer of a Keras model, batched, with progress.

A CNN is a feature extractor: chop it at a layer and use that layer's output as the image's
description (deck 004, Zeiler & Fergus 2013). :func:`extract_features` runs the images through
the network once, in batches, and collects the outputs of one or several named layers.
4-D feature maps ``(N, h, w, c)`` are reduced to vectors:

* ``"avg"`` — global average over the ``h × w`` positions → ``(N, c)`` (default; what a
  classifier head of a modern CNN sees),
* ``"max"`` — global maximum → ``(N, c)``,
* ``"flatten"`` — every position and channel → ``(N, h·w·c)`` (keeps where things are, can
  be large: block 1 of the course CNN gives 6,144 numbers per image).

Outputs that are already vectors ``(N, d)`` are returned as they are.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_array, check_choice, check_positive_int, describe

POOLINGS = ("avg", "max", "flatten")


def _check_layers(model, layers) -> tuple[list[str], bool]:
    """``layers`` as a list of layer names of ``model``, and whether one name (a str) was given."""
    single = isinstance(layers, str)
    names = [layers] if single else layers
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"layers must be a layer name (str) or a non-empty list of names, got {describe(layers)}")
    available = [layer.name for layer in model.layers]
    for name in names:
        if name not in available:
            raise ValueError(f"layers: {name!r} is not a layer of model {model.name!r}; its layers are "
                             f"{', '.join(available[:12])}{', …' if len(available) > 12 else ''}")
    if len(set(names)) != len(names):
        raise ValueError(f"layers must not repeat a name, got {list(names)}")
    return list(names), single


def pool_features(maps, pooling: str = "avg") -> np.ndarray:
    """Reduce feature maps to vectors.

    Args:
        maps: ``(N, h, w, c)`` feature maps, or ``(N, d)`` vectors (returned unchanged).
        pooling: ``"avg"`` → ``(N, c)``, ``"max"`` → ``(N, c)``, ``"flatten"`` → ``(N, h·w·c)``.

    Returns:
        float32 ``(N, D)``.
    """
    check_choice("pooling", pooling, POOLINGS, "pooling")
    maps = check_array("maps", maps, ndim=(2, 4), kinds="f", what="(N, h, w, c) or (N, d)")
    if maps.ndim == 2:
        return maps.astype(np.float32)
    if pooling == "avg":
        return maps.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
    if pooling == "max":
        return maps.max(axis=(1, 2)).astype(np.float32)
    return maps.reshape(len(maps), -1).astype(np.float32)


def extract_features(model, images, layers, *, pooling: str = "avg", batch_size: int = 256, verbose="auto"):
    """Outputs of named layers of ``model`` for ``images``, in one batched forward pass.

    Args:
        model: a built ``keras.Model`` (functional or sequential), e.g.
            :func:`cnncourse.transfer.load_backbone`; run in inference mode (BatchNorm uses
            its moving statistics, dropout is off).
        images: ``(N, H, W, C)`` as the model expects (for the course CNN: float32
            ``(N, 32, 32, 3)`` in ``[0, 1]``, see :func:`cnncourse.transfer.to_backbone_input`).
        layers: one layer name, or a list of names (e.g. ``transfer.BLOCK_NAMES``).
        pooling: how 4-D maps become vectors: ``"avg"``, ``"max"`` or ``"flatten"`` (see the
            module docstring); 2-D outputs are kept.
        batch_size: images per forward pass (> 0).
        verbose: show a progress bar (tqdm): ``True``, ``False``, or ``"auto"`` (when more
            than 2,048 images).

    Returns:
        float32 ``(N, D)`` for a single name; for a list, ``{name: (N, D_name)}`` in the given
        order.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {describe(model)}")
    names, single = _check_layers(model, layers)
    check_choice("pooling", pooling, POOLINGS, "pooling")
    images = check_array("images", images, ndim=4, kinds="uif", what="(N, H, W, C)")
    batch_size = check_positive_int("batch_size", batch_size)
    if verbose != "auto" and not isinstance(verbose, bool):
        raise TypeError(f"verbose must be True, False or 'auto', got {describe(verbose)}")
    show = len(images) > 2048 if verbose == "auto" else verbose
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, [model.get_layer(name).output for name in names])
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    starts = range(0, len(images), batch_size)
    if show:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="features", unit="batch")
    for start in starts:
        outputs = extractor(images[start:start + batch_size], training=False)
        if len(names) == 1 and not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        for name, output in zip(names, outputs):
            chunks[name].append(pool_features(keras.ops.convert_to_numpy(output), pooling))
    features = {name: np.concatenate(parts) for name, parts in chunks.items()}
    return features[names[0]] if single else features
