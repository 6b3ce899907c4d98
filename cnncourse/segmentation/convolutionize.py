"""Convolutionize a classifier: its Dense layers become convolutions, so it slides over larger images.

A Dense layer that follows ``Flatten`` of an ``(h, w, c)`` feature map computes, per unit, one
dot product with the whole map: exactly a ``Conv2D(units, (h, w), padding="valid")`` whose
kernel is the Dense kernel reshaped to ``(h, w, c, units)`` (:func:`dense_to_conv_kernel`).
Every later Dense acts on a 1×1 "map" and becomes a 1×1 convolution. The convolutionized
network (:func:`convolutionize`, Long et al. 2015, section 3.1; OverFeat) takes images of any
size ``H ≥`` the training size and returns a coarse map of class scores
``(N, H', W', K)``; position ``(i, j)`` is the classifier applied to the window that starts at
pixel ``(i·s, j·s)``, with ``s`` the product of the strides before ``Flatten``. On an image of
the training size the map is ``(N, 1, 1, K)`` and equals the classifier's output.

The window equivalence is exact when the layers before ``Flatten`` use ``padding="valid"``;
with ``"same"`` padding, a window sees its real neighbours where the classifier saw zeros,
so positions whose window touches a padded border differ (the training-size output is still
exact).

Example::

    heat = convolutionize(classifier)(large_images)           # (N, H', W', K)
    probabilities = keras.ops.softmax(heat, axis=-1)           # when the classifier returns logits
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_array, check_int_sequence, describe

__all__ = ["SUPPORTED_FEATURE_LAYERS", "SUPPORTED_HEAD_LAYERS", "convolutionize", "dense_to_conv_kernel"]

#: ``keras.layers`` classes allowed before ``Flatten`` (rebuilt with their weights), by name.
SUPPORTED_FEATURE_LAYERS = (
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization", "Activation", "ReLU", "Dropout", "Rescaling",
)
#: ``keras.layers`` classes allowed after ``Flatten``: Dense becomes Conv2D, the others are kept.
SUPPORTED_HEAD_LAYERS = ("Dense", "Dropout", "Activation")


def _is(layer, *names: str) -> bool:
    """``type(layer)`` is exactly one of the named ``keras.layers`` classes (a subclass may compute otherwise)."""
    import keras

    return any(type(layer) is getattr(keras.layers, name) for name in names)


def dense_to_conv_kernel(kernel, feature_shape) -> np.ndarray:
    """A Dense kernel that follows ``Flatten`` of an ``(h, w, c)`` map, as a ``Conv2D`` kernel.

    ``Flatten`` (channels last) orders the map's entries ``(row, column, channel)`` in C order,
    so the Dense kernel's row ``(i·w + j)·c + k`` multiplies entry ``(i, j, k)``; reshaping the
    kernel to ``(h, w, c, units)`` gives the kernel of ``Conv2D(units, (h, w), padding="valid")``
    that computes the same numbers. ``feature_shape=(1, 1, c)`` gives a 1×1 kernel.

    Args:
        kernel: ``(h·w·c, units)`` numeric array (``dense.kernel``).
        feature_shape: ``(h, w, c)`` positive ints, the shape of the map before ``Flatten``.

    Returns:
        ``(h, w, c, units)`` array of the kernel's dtype (float32 stays float32).

    Raises:
        ValueError: ``kernel`` is not 2-D, or its first axis is not ``h·w·c``.
    """
    kernel = check_array("kernel", kernel, ndim=2, kinds="f", what="(h*w*c, units)")
    h, w, c = check_int_sequence("feature_shape", feature_shape, length=3)
    if kernel.shape[0] != h * w * c:
        raise ValueError(
            f"kernel must have shape (h*w*c, units) = ({h * w * c}, units) for feature_shape={(h, w, c)}, "
            f"got {kernel.shape}"
        )
    return np.reshape(kernel, (h, w, c, kernel.shape[1]))


def _chain(classifier) -> list:
    """The classifier's layers in order, InputLayer excluded; ValueError when they are not one chain."""
    import keras

    layers = [layer for layer in classifier.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(classifier, keras.Sequential):
        if len(classifier.inputs) != 1 or len(classifier.outputs) != 1:
            raise ValueError(
                f"classifier must have one input and one output, got {len(classifier.inputs)} and "
                f"{len(classifier.outputs)}"
            )
        previous = classifier.inputs[0]
        for layer in layers:
            if len(layer._inbound_nodes) != 1 or layer.input is not previous:
                raise ValueError(
                    f"classifier must be a chain of layers (each fed by the one before it, each used once); "
                    f"layer {layer.name!r} ({type(layer).__name__}) is not"
                )
            previous = layer.output
        if previous is not classifier.outputs[0]:
            raise ValueError("classifier must be a chain of layers ending at its output")
    return layers


def _unsupported(layer, where: str, supported) -> ValueError:
    names = ", ".join(supported)
    return ValueError(
        f"convolutionize cannot convert layer {layer.name!r} ({type(layer).__name__}) {where}; "
        f"supported there: {names}"
    )


def _clone(layer):
    """A new layer from ``layer``'s config (same name), to be called on the new graph."""
    return layer.__class__.from_config(layer.get_config())


def convolutionize(classifier):
    """A fully convolutional copy of ``classifier``: Dense layers become equivalent convolutions.

    Supported: a Sequential or functional chain
    ``Input → [Conv2D, MaxPooling2D, AveragePooling2D, BatchNormalization, Activation, ReLU,
    Dropout, Rescaling]* → Flatten → [Dense, Dropout, Activation]*`` (channels last). The
    layers before ``Flatten`` are rebuilt from their configs with the same weights; the first
    Dense becomes ``Conv2D(units, (h, w), padding="valid")`` over the ``(h, w, c)`` map that
    ``Flatten`` received (``{name}_conv``), later Dense layers become 1×1 convolutions, each
    with the Dense's activation, bias and dtype policy. Dropout and Activation are kept
    (Dropout does nothing at inference; a softmax acts over the channel axis, so per
    position). The weights are copied, not shared: training one model leaves the other as it is.

    Args:
        classifier: a built ``keras.Model`` taking ``(N, H, W, C)`` images (``H``, ``W`` known).

    Returns:
        ``keras.Model`` with input ``(None, None, C)``: images ``(N, H', W', C)`` with
        ``H' ≥ H``, ``W' ≥ W`` → ``(N, H'', W'', K)``, ``(N, 1, 1, K)`` on an image of the
        training size, equal to the classifier's ``(N, K)``. For a classifier with
        ``padding="valid"`` everywhere that reads every row and column of its input (no
        pool or stride leaves a remainder at the training size),
        ``H'' = (H' − H) // s + 1`` with ``s`` the product of the strides before ``Flatten``;
        otherwise the layers' own output-size arithmetic may fit one more window.

    Raises:
        TypeError: ``classifier`` is not a Keras model.
        ValueError: a layer that is not supported where it is (naming it and what is
        supported), no ``Flatten`` or no Dense after it, unknown input height/width, or
        ``channels_first`` layers.
    """
    import keras

    L = keras.layers
    if not isinstance(classifier, keras.Model):
        raise TypeError(f"classifier must be a keras.Model, got {describe(classifier)}")
    if not classifier.built or not classifier.inputs:
        raise ValueError("classifier must be built with a known input shape (e.g. start it with keras.Input)")
    layers = _chain(classifier)
    input_shape = tuple(classifier.inputs[0].shape)
    if len(input_shape) != 4 or input_shape[-1] is None:
        raise ValueError(f"classifier must take images (N, H, W, C) with known C, got input shape {input_shape}")
    if input_shape[1] is None or input_shape[2] is None:
        raise ValueError(
            f"classifier must have a known input height and width (the Dense kernel fixes them), "
            f"got input shape {input_shape}"
        )
    flatten_at = [i for i, layer in enumerate(layers) if _is(layer, "Flatten")]
    if not flatten_at:
        for layer in layers:
            if not _is(layer, *SUPPORTED_FEATURE_LAYERS):
                raise _unsupported(layer, "before Flatten", SUPPORTED_FEATURE_LAYERS)
        raise ValueError("classifier has no Flatten layer; convolutionize expects ... → Flatten → Dense → ...")
    split = flatten_at[0]
    features, flatten, head = layers[:split], layers[split], layers[split + 1:]

    inputs = keras.Input((None, None, input_shape[-1]), name="image")
    x = inputs
    shape = (1,) + input_shape[1:]
    for layer in features:
        if not _is(layer, *SUPPORTED_FEATURE_LAYERS):
            raise _unsupported(layer, "before Flatten", SUPPORTED_FEATURE_LAYERS)
        if getattr(layer, "data_format", "channels_last") != "channels_last" or (
            _is(layer, "BatchNormalization") and layer.axis not in (-1, 3)
        ):
            raise ValueError(f"convolutionize supports channels_last layers only; layer {layer.name!r} is not")
        clone = _clone(layer)
        x = clone(x)
        clone.set_weights(layer.get_weights())
        shape = tuple(layer.compute_output_shape(shape))
    if getattr(flatten, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"convolutionize supports channels_last layers only; layer {flatten.name!r} is not")
    feature_shape = shape[1:]
    if len(feature_shape) != 3 or any(s is None for s in feature_shape):
        raise ValueError(f"the map before Flatten must be (h, w, c) with known sizes, got {feature_shape}")

    seen_dense = False
    for layer in head:
        if not _is(layer, *SUPPORTED_HEAD_LAYERS) or (_is(layer, "Activation") and not seen_dense):
            where = "after Flatten" if seen_dense else "between Flatten and the first Dense"
            supported = SUPPORTED_HEAD_LAYERS if seen_dense else ("Dense", "Dropout")
            raise _unsupported(layer, where, supported)
        if _is(layer, "Dense"):
            weights = layer.get_weights()
            window = feature_shape[:2] if not seen_dense else (1, 1)
            conv = L.Conv2D(
                layer.units, window, padding="valid", activation=layer.activation, use_bias=layer.use_bias,
                dtype=layer.dtype_policy, name=f"{layer.name}_conv",
            )
            x = conv(x)
            kernel = dense_to_conv_kernel(weights[0], feature_shape if not seen_dense else (1, 1, weights[0].shape[0]))
            conv.set_weights([kernel] + weights[1:])
            seen_dense = True
        else:
            clone = _clone(layer)
            x = clone(x)
    if not seen_dense:
        raise ValueError("classifier has no Dense layer after Flatten; nothing to convolutionize")
    return keras.Model(inputs, x, name=f"{classifier.name}_convolutionized")
