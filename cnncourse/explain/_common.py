"""Shared plumbing of :mod:`cnncourse.explain`: argument checks, sub-models, batching.

TensorFlow and Keras are imported by the functions that need them.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_array, check_int, check_positive_int, describe


def tf_module():
    from cnncourse._tensorflow import import_tensorflow

    return import_tensorflow()


def check_model(name: str, model):
    """``model`` if it is a built Keras model with one image input ``(N, H, W, C)``."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"{name} must be a keras.Model, got {describe(model)}")
    if len(model.inputs) != 1:
        raise ValueError(f"{name} must have exactly one input, got {len(model.inputs)}")
    if len(model.inputs[0].shape) != 4:
        raise ValueError(f"{name} must take images (N, H, W, C), got an input of shape {tuple(model.inputs[0].shape)}")
    return model


def check_images(name: str, images, model=None) -> np.ndarray:
    """``images`` as float32 ``(N, H, W, C)``; with ``model``, sizes the model's input allows."""
    images = check_array(name, images, ndim=4, kinds="biuf", what="(N, H, W, C)").astype(np.float32)
    if len(images) == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {images.shape}")
    if model is not None:
        expected = tuple(model.inputs[0].shape[1:])
        if any(e is not None and e != g for e, g in zip(expected, images.shape[1:])):
            raise ValueError(f"{name} must have shape (N, {', '.join('?' if e is None else str(e) for e in expected)}) "
                             f"for this model, got {images.shape}")
    return images


def check_class_index(name: str, class_index, n: int, num_classes: int) -> np.ndarray:
    """``class_index`` (an int or ``(N,)`` ints) as an int32 array of shape ``(N,)``."""
    if isinstance(class_index, (int, np.integer)) and not isinstance(class_index, bool):
        values = np.full(n, int(class_index), dtype=np.int32)
    else:
        values = check_array(name, class_index, ndim=1, kinds="iu", what=f"({n},) class indices")
        if len(values) != n:
            raise ValueError(f"{name} must hold one class per image ({n}), got {len(values)}")
        values = values.astype(np.int32)
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"{name} must be in [0, {num_classes - 1}] (the model has {num_classes} outputs), "
                         f"got {values.min()}..{values.max()}")
    return values


def num_outputs(name: str, model) -> int:
    """Number of class scores of a model whose output is ``(N, K)``."""
    shape = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    if shape is None or len(shape) != 2 or shape[1] is None:
        raise ValueError(f"{name} must output class scores (N, K), got outputs of shape "
                         f"{[tuple(o.shape) for o in model.outputs]}")
    return int(shape[1])


def check_layer(name: str, model, layer_name: str):
    """The layer ``layer_name`` of ``model`` (a name of ``model.layers``)."""
    if not isinstance(layer_name, str):
        raise TypeError(f"{name} must be a layer name (str), got {describe(layer_name)}")
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"{name} must name a layer of the model, got {layer_name!r}; the layers are {names}")
    return model.get_layer(layer_name)


def layer_model(model, layer_names, with_output: bool = False):
    """A ``keras.Model`` from ``model``'s input to the outputs of ``layer_names`` (and its output)."""
    import keras

    outputs = [model.get_layer(n).output for n in layer_names]
    if with_output:
        outputs.append(model.outputs[0])
    return keras.Model(model.inputs[0], outputs)


def check_batch_size(name: str, value) -> int:
    return check_positive_int(name, value)


def batches(n: int, batch_size: int):
    """``slice`` objects covering ``range(n)`` in chunks of ``batch_size``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def resize_maps(maps, size) -> np.ndarray:
    """``(N, h, w)`` maps resized bilinearly to ``(N, H, W)`` (``size = (H, W)``)."""
    tf = tf_module()
    maps = np.asarray(maps, np.float32)
    if maps.shape[1:] == tuple(size):
        return maps
    return tf.image.resize(maps[..., None], size, method="bilinear").numpy()[..., 0]


def normalise_maps(maps) -> np.ndarray:
    """Each map of ``(N, ...)`` scaled to ``[0, 1]`` by its own min and max (constant maps -> 0)."""
    maps = np.asarray(maps, np.float64)
    flat = maps.reshape(len(maps), -1)
    low, high = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    return ((flat - low) / span).reshape(maps.shape).astype(np.float32)


def check_steps(name: str, value) -> int:
    return check_int(name, value, minimum=0)


def chain_model(model, input_shape=None, outputs=None):
    """The layers of a chain model (each layer fed by the one before) on a new input size.

    Args:
        model: a Sequential-like functional model (e.g. :func:`cnncourse.transfer.load_backbone`).
        input_shape: ``(H, W, C)``, ``None`` entries allowed (default: the model's own).
        outputs: names of the layers whose outputs the new model returns, as a list (default:
            the last layer's output alone).

    Returns:
        A ``keras.Model`` sharing ``model``'s layers (and weights).
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for name in outputs or ():
        check_layer("outputs", model, name)
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous:
            raise ValueError(f"model must be a chain of layers (each fed by the one before); {layer.name!r} is not")
        previous = layer.output
    shape = tuple(model.inputs[0].shape[1:]) if input_shape is None else tuple(input_shape)
    x = inputs = keras.Input(shape)
    found = {}
    for layer in layers:
        x = layer(x)
        found[layer.name] = x
        if outputs and all(name in found for name in outputs):
            break
    result = [found[name] for name in outputs] if outputs else x
    return keras.Model(inputs, result, name=f"{model.name}_chain")
