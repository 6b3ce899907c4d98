"""DenseNet's dense block and transition layer (Huang et al., 2017).

In a dense block every layer sees the concatenation of *all* earlier feature maps and
adds ``growth_rate`` new channels::

    x0 → H1(x0) = x1 → H2([x0, x1]) = x2 → … → output [x0, x1, …, xL]

so ``L`` layers turn ``C`` channels into ``C + L·growth_rate``. Each ``H`` is
BN → ReLU → 3x3 conv, preceded by a 1x1 "bottleneck" BN → ReLU → conv to
``4·growth_rate`` channels in DenseNet-B (``bottleneck=True``).

A transition layer between blocks shrinks the maps: BN → ReLU → 1x1 conv to
``floor(compression · C)`` channels → 2x2 average pooling (DenseNet-C for compression < 1).

Example::

    >>> import keras
    >>> from cnncourse.layers import DenseBlock, TransitionLayer
    >>> x = keras.ops.zeros((1, 16, 16, 24))
    >>> y = DenseBlock(num_layers=4, growth_rate=12)(x)   # 24 + 4·12 = 72 channels
    >>> TransitionLayer(compression=0.5)(y).shape
    TensorShape([1, 8, 8, 36])
"""

from __future__ import annotations

import math

import keras

from cnncourse._validation import check_bool, check_float, check_image_shape, check_positive_int


def _apply(layers, x, training):
    for layer in layers:
        if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Dropout)):
            x = layer(x, training=training)
        else:
            x = layer(x)
    return x


def _build_chain(layers, shape):
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


@keras.saving.register_keras_serializable(package="cnncourse")
class DenseBlock(keras.layers.Layer):
    """``num_layers`` densely connected BN-ReLU-conv layers.

    Input ``(batch, H, W, C)`` → output ``(batch, H, W, C + num_layers · growth_rate)``.

    Args:
        num_layers: number of composite layers ``H``.
        growth_rate: channels each layer adds (``k`` in the paper).
        bottleneck: put a 1x1 convolution to ``bottleneck_factor · growth_rate``
            channels before each 3x3 convolution (DenseNet-B).
        bottleneck_factor: 4 in the paper.
        dropout_rate: dropout after each convolution (0 disables it).
        kernel_initializer, kernel_regularizer: for every convolution.
    """

    def __init__(
        self,
        num_layers: int,
        growth_rate: int,
        bottleneck: bool = True,
        bottleneck_factor: int = 4,
        dropout_rate: float = 0.0,
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.growth_rate = check_positive_int("growth_rate", growth_rate)
        self.bottleneck = check_bool("bottleneck", bottleneck)
        self.bottleneck_factor = check_positive_int("bottleneck_factor", bottleneck_factor)
        self.dropout_rate = check_float("dropout_rate", dropout_rate, minimum=0.0, maximum=1.0, include_maximum=False)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

        self.composite_layers = [self._composite(i) for i in range(self.num_layers)]
        self.concats = [
            keras.layers.Concatenate(axis=-1, dtype=self.dtype_policy, name=f"concat{i + 1}")
            for i in range(self.num_layers)
        ]

    def _bn_relu_conv(self, filters, kernel_size, name):
        layers = [
            keras.layers.BatchNormalization(dtype=self.dtype_policy, name=f"{name}_bn"),
            keras.layers.ReLU(dtype=self.dtype_policy, name=f"{name}_relu"),
            keras.layers.Conv2D(
                filters,
                kernel_size,
                padding="same",
                use_bias=False,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=self.kernel_regularizer,
                dtype=self.dtype_policy,
                name=f"{name}_conv",
            ),
        ]
        if self.dropout_rate:
            layers.append(keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy, name=f"{name}_drop"))
        return layers

    def _composite(self, index):
        name = f"layer{index + 1}"
        layers = []
        if self.bottleneck:
            layers += self._bn_relu_conv(self.bottleneck_factor * self.growth_rate, 1, f"{name}_1x1")
        layers += self._bn_relu_conv(self.growth_rate, 3, f"{name}_3x3")
        return layers

    def build(self, input_shape):
        shape = check_image_shape(type(self).__name__, input_shape)
        for composite, concat in zip(self.composite_layers, self.concats):
            new_features = _build_chain(composite, shape)
            concat.build([shape, new_features])
            shape = concat.compute_output_shape([shape, new_features])
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        for composite, concat in zip(self.composite_layers, self.concats):
            x = concat([x, _apply(composite, x, training)])
        return x

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1] + self.num_layers * self.growth_rate
        return (*tuple(input_shape)[:3], channels)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "growth_rate": self.growth_rate,
            "bottleneck": self.bottleneck,
            "bottleneck_factor": self.bottleneck_factor,
            "dropout_rate": self.dropout_rate,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


@keras.saving.register_keras_serializable(package="cnncourse")
class TransitionLayer(keras.layers.Layer):
    """BN → ReLU → 1x1 conv → 2x2 average pooling, between two dense blocks.

    Input ``(batch, H, W, C)`` → output ``(batch, H // 2, W // 2, floor(compression · C))``.

    Args:
        compression: fraction of the channels kept, in ``(0, 1]`` (``θ`` in the paper).
        kernel_initializer, kernel_regularizer: for the convolution.
    """

    def __init__(
        self,
        compression: float = 0.5,
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.compression = check_float("compression", compression, minimum=0.0, maximum=1.0, include_minimum=False)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bn = keras.layers.BatchNormalization(dtype=self.dtype_policy, name="bn")
        self.relu = keras.layers.ReLU(dtype=self.dtype_policy, name="relu")
        self.pool = keras.layers.AveragePooling2D(2, dtype=self.dtype_policy, name="pool")

    def output_channels(self, input_channels: int) -> int:
        """``floor(compression · input_channels)``, at least 1."""
        return max(1, math.floor(self.compression * input_channels))

    def build(self, input_shape):
        shape = check_image_shape(type(self).__name__, input_shape)
        # The number of filters depends on the input, so the convolution is made here.
        self.conv = keras.layers.Conv2D(
            self.output_channels(shape[-1]),
            1,
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name="conv",
        )
        _build_chain([self.bn, self.relu, self.conv, self.pool], shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.bn(inputs, training=training)
        return self.pool(self.conv(self.relu(x)))

    def compute_output_shape(self, input_shape):
        def half(size):
            return None if size is None else size // 2

        return (input_shape[0], half(input_shape[1]), half(input_shape[2]), self.output_channels(input_shape[-1]))

    def get_config(self):
        return {
            **super().get_config(),
            "compression": self.compression,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
