"""Guided backpropagation (Springenberg et al., 2015), without global gradient overrides.

At every ReLU, the backward pass lets a gradient through only where the forward input was
positive **and** the incoming gradient is positive: ``g_in = g_out · [x > 0] · [g_out > 0]``.
:func:`guided_model` builds a *copy* of the model (``keras.models.clone_model``) whose ReLUs
(``ReLU`` layers, ``Activation("relu")`` layers and layers with ``activation="relu"``) use a
ReLU with that custom gradient, and copies the weights; the original model is untouched, and
no gradient registry is changed, so other models in the same process are not affected.
"""

from __future__ import annotations

import numpy as np

from cnncourse.explain._common import check_images, check_model, tf_module


def guided_relu(x):
    """ReLU whose gradient is ``g · [x > 0] · [g > 0]`` (TensorFlow ``custom_gradient``)."""
    tf = tf_module()

    @tf.custom_gradient
    def _guided(value):
        def grad(upstream):
            return upstream * tf.cast(value > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)

        return tf.nn.relu(value), grad

    return _guided(x)


def _is_relu(activation) -> bool:
    import keras

    return activation is keras.activations.relu or getattr(activation, "__name__", "") == "relu"


def _guided_layer(layer):
    import keras

    if isinstance(layer, keras.Model):
        return guided_model(layer)
    config = layer.get_config()
    if isinstance(layer, keras.layers.ReLU):
        if config.get("max_value") is None and not config.get("negative_slope") and not config.get("threshold"):
            return keras.layers.Activation(guided_relu, name=layer.name)
        return layer.__class__.from_config(config)
    clone = layer.__class__.from_config(config)
    if _is_relu(getattr(layer, "activation", None)):
        clone.activation = guided_relu
    return clone


def guided_model(model):
    """A copy of ``model`` (same weights) whose ReLUs backpropagate the guided way.

    Args:
        model: a functional or Sequential Keras model (nested models are copied too).

    Returns:
        A new ``keras.Model`` with the same outputs in the forward pass.
    """
    import keras

    model = check_model("model", model) if isinstance(model, keras.Model) and model.inputs and len(model.inputs[0].shape) == 4 else model
    copy = keras.models.clone_model(model, clone_function=_guided_layer)
    copy.set_weights(model.get_weights())
    return copy


def guided_backprop(model, images, class_index, *, batch_size: int = 64, guided=None) -> np.ndarray:
    """Guided-backpropagation maps: ``max over channels of |guided ∂S_c / ∂x|``.

    Args:
        model: ``(N, H, W, C)`` → ``(N, K)`` logits.
        images: float ``(N, H, W, C)``.
        class_index: an int or ``(N,)`` ints.
        batch_size: images per gradient computation.
        guided: a model made by :func:`guided_model` from ``model`` (to reuse it); made here when ``None``.

    Returns:
        float32 ``(N, H, W)``, non-negative. With no ReLU in the model it equals
        :func:`~cnncourse.explain.saliency_map`.
    """
    from cnncourse.explain.saliency import saliency_map

    model = check_model("model", model)
    check_images("images", images, model)
    guided = guided_model(model) if guided is None else check_model("guided", guided)
    return saliency_map(guided, images, class_index, batch_size=batch_size)
