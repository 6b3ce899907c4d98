"""A locally connected 2D layer: a convolution whose weights are *not* shared.

Keras 2 had ``LocallyConnected2D``; Keras 3 dropped it. The course needs it to show
what parameter sharing buys (deck 004: 400,000 hidden units with 10x10 fields need
``40 million`` weights when every unit has its own, but a convolution needs only the
weights of its few filters).

Each output position ``(i, j)`` has its own kernel ``W[i, j]`` of shape
``(kh, kw, C_in, filters)``::

    y[b, i, j, f] = sum_{u, v, c} x[b, i·sh + u, j·sw + v, c] · W[i, j, u, v, c, f] + bias[i, j, f]

Parameters: ``out_h · out_w · (kh · kw · C_in + 1) · filters`` with a bias, compared with
``(kh · kw · C_in + 1) · filters`` for the convolution of the same shape.

Example::

    >>> import keras
    >>> from cnncourse.layers import LocallyConnected2D
    >>> layer = LocallyConnected2D(filters=4, kernel_size=3)
    >>> layer(keras.ops.zeros((2, 8, 8, 1))).shape
    TensorShape([2, 6, 6, 4])
    >>> layer.count_params()            # 6·6·(3·3·1 + 1)·4
    1440
"""

from __future__ import annotations

import keras

from cnncourse._validation import check_bool, check_choice, check_image_shape, check_int_tuple, check_positive_int


def _output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


@keras.saving.register_keras_serializable(package="cnncourse")
class LocallyConnected2D(keras.layers.Layer):
    """Like ``Conv2D``, but every output position has its own kernel and bias.

    Input ``(batch, H, W, C_in)`` (channels_last, ``H`` and ``W`` known at build time)
    → output ``(batch, out_h, out_w, filters)``, with ``out = (H - kh) // sh + 1`` for
    ``"valid"`` padding and ``ceil(H / sh)`` for ``"same"`` (TensorFlow's convention: the
    extra padding goes to the bottom/right), exactly as ``Conv2D``.

    Weights:
        kernel: ``(out_h · out_w, kh · kw · C_in, filters)``; row ``p = i · out_w + j``
            holds position ``(i, j)``'s kernel flattened in ``(kh, kw, C_in)`` order,
            i.e. ``kernel[p] == W[i, j].reshape(-1, filters)``.
        bias: ``(out_h, out_w, filters)`` when ``use_bias``.

    Args:
        filters: output channels.
        kernel_size: int or ``(kh, kw)``.
        strides: int or ``(sh, sw)``.
        padding: ``"valid"`` or ``"same"``.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as for ``Conv2D``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_int_tuple("kernel_size", kernel_size, 2)
        self.strides = check_int_tuple("strides", strides, 2)
        self.padding = check_choice("padding", padding, ("valid", "same"), "padding")
        self.activation = keras.activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def output_spatial_shape(self, height: int, width: int) -> tuple[int, int]:
        """``(out_h, out_w)`` for an input of ``height x width``."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h = _output_size(height, kh, sh, self.padding)
        out_w = _output_size(width, kw, sw, self.padding)
        if out_h < 1 or out_w < 1:
            raise ValueError(
                f"LocallyConnected2D: input {height}x{width} is smaller than kernel_size="
                f"{self.kernel_size} with padding='valid'"
            )
        return out_h, out_w

    def build(self, input_shape):
        _, height, width, channels = check_image_shape(type(self).__name__, input_shape, need_spatial=True)
        self.out_h, self.out_w = self.output_spatial_shape(height, width)
        kh, kw = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.out_h * self.out_w, kh * kw * channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.out_h, self.out_w, self.filters),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        else:
            self.bias = None
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={1: height, 2: width, 3: channels})
        self.built = True

    def call(self, inputs):
        # patches[b, i, j, :] is the (kh, kw, C_in) window under output (i, j), flattened.
        patches = keras.ops.image.extract_patches(
            inputs, size=self.kernel_size, strides=self.strides, padding=self.padding
        )
        positions = self.out_h * self.out_w
        patches = keras.ops.reshape(patches, (-1, positions, patches.shape[-1]))
        # One matrix product per position: (batch, K) @ (K, filters).
        outputs = keras.ops.einsum("bpk,pkf->bpf", patches, self.kernel)
        outputs = keras.ops.reshape(outputs, (-1, self.out_h, self.out_w, self.filters))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        out_h, out_w = self.output_spatial_shape(input_shape[1], input_shape[2])
        return (input_shape[0], out_h, out_w, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        }
