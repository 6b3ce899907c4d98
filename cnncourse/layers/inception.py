"""The Inception module with 1x1 reductions (GoogLeNet, Szegedy et al., 2015).

Four branches look at the same input at different scales and are concatenated along
the channels::

    x ─┬─ 1x1 ───────────────────────┐
       ├─ 1x1 (reduce) ─ 3x3 ────────┤
       ├─ 1x1 (reduce) ─ 5x5 ────────┼─ concatenate → filters_1x1 + filters_3x3
       └─ 3x3 max pool ─ 1x1 (proj) ─┘                 + filters_5x5 + filters_pool_proj

The 1x1 "reduce" convolutions make the 3x3 and 5x5 ones cheap (deck 000): a 5x5
convolution from 192 to 32 channels on 28x28 costs ``120.4M`` multiplies, but only
``12.4M`` after a 1x1 reduction to 16 channels.

Example (GoogLeNet's "inception (3a)": 28x28x192 → 28x28x256, 128M multiply-adds)::

    >>> import keras
    >>> from cnncourse.layers import InceptionModule
    >>> module = InceptionModule(64, 96, 128, 16, 32, 32)
    >>> module(keras.ops.zeros((1, 28, 28, 192))).shape
    TensorShape([1, 28, 28, 256])
"""

from __future__ import annotations

import keras

from cnncourse._validation import check_image_shape, check_positive_int


@keras.saving.register_keras_serializable(package="cnncourse")
class InceptionModule(keras.layers.Layer):
    """GoogLeNet's Inception module (the "dimension reduction" version).

    Input ``(batch, H, W, C)`` → output ``(batch, H, W, filters_1x1 + filters_3x3 +
    filters_5x5 + filters_pool_proj)``; every convolution uses ``"same"`` padding and
    stride 1, followed by a ReLU (and batch norm before it when ``batch_norm=True``,
    as in Inception v2).

    Args:
        filters_1x1: channels of the 1x1 branch.
        filters_3x3_reduce, filters_3x3: the 1x1 reduction and the 3x3 convolution.
        filters_5x5_reduce, filters_5x5: the 1x1 reduction and the 5x5 convolution.
        filters_pool_proj: the 1x1 projection after the 3x3 max pooling.
        batch_norm: add batch normalisation after each convolution (convs then have
            no bias).
        kernel_initializer, kernel_regularizer: for every convolution.
    """

    def __init__(
        self,
        filters_1x1: int,
        filters_3x3_reduce: int,
        filters_3x3: int,
        filters_5x5_reduce: int,
        filters_5x5: int,
        filters_pool_proj: int,
        batch_norm: bool = False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters_1x1 = check_positive_int("filters_1x1", filters_1x1)
        self.filters_3x3_reduce = check_positive_int("filters_3x3_reduce", filters_3x3_reduce)
        self.filters_3x3 = check_positive_int("filters_3x3", filters_3x3)
        self.filters_5x5_reduce = check_positive_int("filters_5x5_reduce", filters_5x5_reduce)
        self.filters_5x5 = check_positive_int("filters_5x5", filters_5x5)
        self.filters_pool_proj = check_positive_int("filters_pool_proj", filters_pool_proj)
        self.batch_norm = bool(batch_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

        self.branch_1x1 = self._conv_unit(self.filters_1x1, 1, "b1x1")
        self.branch_3x3 = self._conv_unit(self.filters_3x3_reduce, 1, "b3x3_reduce") + self._conv_unit(
            self.filters_3x3, 3, "b3x3"
        )
        self.branch_5x5 = self._conv_unit(self.filters_5x5_reduce, 1, "b5x5_reduce") + self._conv_unit(
            self.filters_5x5, 5, "b5x5"
        )
        pool = keras.layers.MaxPooling2D(3, strides=1, padding="same", dtype=self.dtype_policy, name="bpool")
        self.branch_pool = [pool] + self._conv_unit(self.filters_pool_proj, 1, "bpool_proj")
        self.concat = keras.layers.Concatenate(axis=-1, dtype=self.dtype_policy, name="concat")

    @property
    def out_channels(self) -> int:
        return self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + self.filters_pool_proj

    def _conv_unit(self, filters, kernel_size, name):
        """[Conv2D with ReLU] or [Conv2D, BatchNormalization, ReLU]."""
        conv = keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            activation=None if self.batch_norm else "relu",
            use_bias=not self.batch_norm,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name=name,
        )
        if not self.batch_norm:
            return [conv]
        return [
            conv,
            keras.layers.BatchNormalization(dtype=self.dtype_policy, name=f"{name}_bn"),
            keras.layers.ReLU(dtype=self.dtype_policy, name=f"{name}_relu"),
        ]

    @property
    def _branches(self):
        return [self.branch_1x1, self.branch_3x3, self.branch_5x5, self.branch_pool]

    def build(self, input_shape):
        input_shape = check_image_shape(type(self).__name__, input_shape)
        branch_shapes = []
        for branch in self._branches:
            shape = input_shape
            for layer in branch:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            branch_shapes.append(shape)
        self.concat.build(branch_shapes)
        self.built = True

    def call(self, inputs, training=None):
        outputs = []
        for branch in self._branches:
            x = inputs
            for layer in branch:
                if isinstance(layer, keras.layers.BatchNormalization):
                    x = layer(x, training=training)
                else:
                    x = layer(x)
            outputs.append(x)
        return self.concat(outputs)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:3], self.out_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "filters_1x1": self.filters_1x1,
            "filters_3x3_reduce": self.filters_3x3_reduce,
            "filters_3x3": self.filters_3x3,
            "filters_5x5_reduce": self.filters_5x5_reduce,
            "filters_5x5": self.filters_5x5,
            "filters_pool_proj": self.filters_pool_proj,
            "batch_norm": self.batch_norm,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
