"""Residual blocks (He et al., 2016): basic and bottleneck, with their plain twins.

A residual block computes ``relu(F(x) + shortcut(x))``: the stacked layers ``F`` only
have to learn the *difference* to the identity (deck 000: "Residual idea"). When the
block changes the shape (stride 2, or more channels), the shortcut must change shape too:

``shortcut="projection"``
    a strided 1x1 convolution + batch norm (option B of the paper; what ResNet-50 uses);
``shortcut="zero_pad"``
    take every ``strides``-th pixel and pad the new channels with zeros (option A): no
    parameters, so a residual net has exactly as many weights as its plain twin (the
    CIFAR ResNet-20/32/44/56 of the paper use it);
``shortcut="none"``
    no shortcut at all: the *plain* block with the same layers, for the depth experiment.

When the shape does not change, both residual options use the identity.

Both blocks are "post-activation" (ResNet v1): conv → BN → ReLU → … → BN → add → ReLU.
The bottleneck block puts its stride on the 3x3 convolution (as torchvision's ResNet-50
"v1.5"; ``keras.applications.ResNet50`` puts it on the first 1x1).

Every step is a sublayer (``Conv2D``, ``BatchNormalization``, ``ReLU``, ``Add``), so
:func:`cnncourse.model_costs.layer_table` can list them one by one.

Example::

    >>> import keras
    >>> from cnncourse.layers import BasicResidualBlock
    >>> block = BasicResidualBlock(32, strides=2)
    >>> block(keras.ops.zeros((1, 16, 16, 16))).shape
    TensorShape([1, 8, 8, 32])
"""

from __future__ import annotations

import keras

from cnncourse._validation import check_choice, check_float, check_image_shape, check_positive_int

SHORTCUTS = ("projection", "zero_pad", "none")


@keras.saving.register_keras_serializable(package="cnncourse")
class ZeroPadShortcut(keras.layers.Layer):
    """Parameter-free shortcut (option A): subsample by ``strides``, zero-pad the channels.

    Input ``(batch, H, W, C)`` → output ``(batch, ceil(H/s), ceil(W/s), out_channels)``;
    the first ``C`` channels are ``x[:, ::s, ::s, :]``, the others are zeros.

    Args:
        out_channels: number of output channels, at least the input's.
        strides: spatial subsampling factor ``s`` (matches a ``"same"`` conv of stride ``s``).
    """

    def __init__(self, out_channels: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.strides = check_positive_int("strides", strides)

    def build(self, input_shape):
        shape = check_image_shape(type(self).__name__, input_shape)
        if shape[-1] > self.out_channels:
            raise ValueError(
                f"ZeroPadShortcut can only add channels: out_channels={self.out_channels} "
                f"is smaller than the input's {shape[-1]} channels"
            )
        self.built = True

    def call(self, inputs):
        s = self.strides
        x = inputs[:, ::s, ::s, :] if s > 1 else inputs
        extra = self.out_channels - inputs.shape[-1]
        if extra:
            x = keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def compute_output_shape(self, input_shape):
        def shrink(size):
            return None if size is None else -(-size // self.strides)

        return (input_shape[0], shrink(input_shape[1]), shrink(input_shape[2]), self.out_channels)

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels, "strides": self.strides}


class _ResidualBase(keras.layers.Layer):
    """Shared parts of the two blocks: arguments, shortcut, build and config."""

    def __init__(
        self,
        filters: int,
        strides: int = 1,
        shortcut: str = "projection",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        batch_norm_momentum: float = 0.99,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.strides = check_positive_int("strides", strides)
        self.shortcut = check_choice("shortcut", shortcut, SHORTCUTS, "shortcut")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.batch_norm_momentum = check_float(
            "batch_norm_momentum", batch_norm_momentum, minimum=0.0, maximum=1.0, include_maximum=False
        )

    # Subclasses set these in __init__.
    out_channels: int
    _residual_layers: list

    def _conv(self, filters, kernel_size, strides, name):
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name=name,
        )

    def _batch_norm(self, name):
        return keras.layers.BatchNormalization(
            momentum=self.batch_norm_momentum, dtype=self.dtype_policy, name=name
        )

    def _make_merge_layers(self):
        if self.shortcut != "none":
            self.merge = keras.layers.Add(dtype=self.dtype_policy, name="add")
        self.out_relu = keras.layers.ReLU(dtype=self.dtype_policy, name="out_relu")

    def build(self, input_shape):
        shape = check_image_shape(type(self).__name__, input_shape)
        # Build the residual path layer by layer, so that every weight exists before a
        # saved model's weights are loaded into it.
        for layer in self._residual_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        changes_shape = self.strides != 1 or input_shape[-1] != self.out_channels
        self.shortcut_layers = []
        if self.shortcut == "projection" and changes_shape:
            self.shortcut_layers = [
                self._conv(self.out_channels, 1, self.strides, name="shortcut_conv"),
                self._batch_norm(name="shortcut_bn"),
            ]
        elif self.shortcut == "zero_pad" and changes_shape:
            self.shortcut_layers = [
                ZeroPadShortcut(
                    self.out_channels, self.strides, dtype=self.dtype_policy, name="shortcut_pad"
                )
            ]
        short_shape = tuple(input_shape)
        for layer in self.shortcut_layers:
            layer.build(short_shape)
            short_shape = layer.compute_output_shape(short_shape)
        if self.shortcut != "none":
            self.merge.build([shape, shape])
        self.out_relu.build(shape)
        self.built = True

    @staticmethod
    def _run(layers, x, training):
        for layer in layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def call(self, inputs, training=None):
        x = self._run(self._residual_layers, inputs, training)
        if self.shortcut != "none":
            x = self.merge([x, self._run(self.shortcut_layers, inputs, training)])
        return self.out_relu(x)

    def compute_output_shape(self, input_shape):
        def shrink(size):
            return None if size is None else -(-size // self.strides)

        return (input_shape[0], shrink(input_shape[1]), shrink(input_shape[2]), self.out_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "shortcut": self.shortcut,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "batch_norm_momentum": self.batch_norm_momentum,
        }


@keras.saving.register_keras_serializable(package="cnncourse")
class BasicResidualBlock(_ResidualBase):
    """Two 3x3 convolutions with a shortcut: ``relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))``.

    Input ``(batch, H, W, C)`` float → output ``(batch, ceil(H/s), ceil(W/s), filters)``.

    Args:
        filters: channels of both convolutions and of the output.
        strides: stride ``s`` of the first convolution (2 halves the resolution).
        shortcut: ``"projection"`` (1x1 conv + BN when the shape changes),
            ``"zero_pad"`` (parameter-free, option A) or ``"none"`` (the plain twin).
        kernel_initializer, kernel_regularizer: for every convolution.
        batch_norm_momentum: of every batch normalisation (Keras's 0.99 by default; 0.9
            lets the moving statistics catch up within a short CPU run).
    """

    def __init__(self, filters: int, strides: int = 1, shortcut: str = "projection", **kwargs):
        super().__init__(filters, strides, shortcut, **kwargs)
        self.out_channels = self.filters
        self.conv1 = self._conv(self.filters, 3, self.strides, name="conv1")
        self.bn1 = self._batch_norm(name="bn1")
        self.relu1 = keras.layers.ReLU(dtype=self.dtype_policy, name="relu1")
        self.conv2 = self._conv(self.filters, 3, 1, name="conv2")
        self.bn2 = self._batch_norm(name="bn2")
        self._residual_layers = [self.conv1, self.bn1, self.relu1, self.conv2, self.bn2]
        self._make_merge_layers()


@keras.saving.register_keras_serializable(package="cnncourse")
class BottleneckResidualBlock(_ResidualBase):
    """1x1 (reduce) → 3x3 → 1x1 (expand) with a shortcut, as in ResNet-50/101/152.

    Input ``(batch, H, W, C)`` → output ``(batch, ceil(H/s), ceil(W/s), filters * expansion)``.
    The 1x1 convolutions make the 3x3 one cheap: on 256 channels, a bottleneck of 64
    costs ``256·64 + 9·64·64 + 64·256 ≈ 70K`` multiplies per position, against
    ``9·256·256 ≈ 590K`` for a single 3x3 convolution at full width.

    Args:
        filters: channels of the 1x1 reduction and of the 3x3 convolution.
        strides: stride of the 3x3 convolution.
        shortcut: ``"projection"``, ``"zero_pad"`` or ``"none"`` (see the module).
        expansion: output channels are ``filters * expansion`` (4 in ResNet-50).
        kernel_initializer, kernel_regularizer: for every convolution.
        batch_norm_momentum: of every batch normalisation.
    """

    def __init__(
        self,
        filters: int,
        strides: int = 1,
        shortcut: str = "projection",
        expansion: int = 4,
        **kwargs,
    ):
        super().__init__(filters, strides, shortcut, **kwargs)
        self.expansion = check_positive_int("expansion", expansion)
        self.out_channels = self.filters * self.expansion
        self.conv1 = self._conv(self.filters, 1, 1, name="conv1")
        self.bn1 = self._batch_norm(name="bn1")
        self.relu1 = keras.layers.ReLU(dtype=self.dtype_policy, name="relu1")
        self.conv2 = self._conv(self.filters, 3, self.strides, name="conv2")
        self.bn2 = self._batch_norm(name="bn2")
        self.relu2 = keras.layers.ReLU(dtype=self.dtype_policy, name="relu2")
        self.conv3 = self._conv(self.out_channels, 1, 1, name="conv3")
        self.bn3 = self._batch_norm(name="bn3")
        self._residual_layers = [
            self.conv1, self.bn1, self.relu1,
            self.conv2, self.bn2, self.relu2,
            self.conv3, self.bn3,
        ]  # fmt: skip
        self._make_merge_layers()

    def get_config(self):
        return {**super().get_config(), "expansion": self.expansion}
