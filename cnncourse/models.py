"""Model builders: from LeNet-5 to ResNet, small enough for a CPU or full-size for accounting.

Small models, trained in the notebooks (inputs are float images in ``[0, 1]``,
channels last; outputs are class probabilities unless ``classifier_activation=None``,
which gives logits):

- :func:`mlp` and :func:`simple_convnet`: deck 003's MLP and ConvNet on 28x28 digits;
- :func:`lenet5`: LeNet-5 (LeCun et al., 1998);
- :func:`alexnet_cifar`: an AlexNet-like net for 32x32 images, whose conv and dense layers
  can be removed one by one (deck 000's "removing parameters" ablations);
- :func:`vgg_net`: stacks of 3x3 convolutions and 2x2 pooling;
- :func:`cifar_resnet` and :func:`cifar_plain_net`: the ``6n + 2``-layer networks of He et
  al. for CIFAR, with and without shortcuts (same layers otherwise), for the depth
  experiment;
- :func:`mini_googlenet` and :func:`cifar_densenet`: small nets built from
  :class:`~cnncourse.layers.InceptionModule` and :class:`~cnncourse.layers.DenseBlock`.

Full-size reference architectures, built with random weights (nothing is downloaded),
for :func:`cnncourse.model_costs.layer_table`:

- :func:`alexnet`: single-tower AlexNet on 227x227x3, the exact shapes of deck 003's table;
- :func:`vgg16` and :func:`resnet50`: ``keras.applications`` with ``weights=None``.

Every final ``Dense``/softmax runs in float32, so the builders also work under the
``mixed_float16`` policy.
"""

from __future__ import annotations

from typing import Sequence

import keras

from cnncourse._validation import check_choice, check_int, check_int_sequence, check_positive_int
from cnncourse.layers import BasicResidualBlock, DenseBlock, InceptionModule, TransitionLayer
from cnncourse.layers.residual import SHORTCUTS

__all__ = [
    "mlp",
    "simple_convnet",
    "lenet5",
    "alexnet_cifar",
    "vgg_net",
    "cifar_resnet",
    "cifar_plain_net",
    "mini_googlenet",
    "cifar_densenet",
    "alexnet",
    "vgg16",
    "resnet50",
]

L = keras.layers


def _input(input_shape, name="image"):
    shape = check_int_sequence("input_shape (height, width, channels)", input_shape, length=3)
    return keras.Input(shape, name=name)


def _classifier(x, num_classes, classifier_activation, name="predictions"):
    """Final Dense (float32) + optional activation (float32) for mixed-precision safety."""
    check_positive_int("num_classes", num_classes)
    x = L.Dense(num_classes, dtype="float32", name=name)(x)
    if classifier_activation is not None:
        x = L.Activation(classifier_activation, dtype="float32", name=f"{name}_{classifier_activation}")(x)
    return x


# ---------------------------------------------------------------------- first CNNs
def mlp(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    hidden_units: Sequence[int] = (256,),
    classifier_activation: str | None = "softmax",
    name: str = "mlp",
) -> keras.Model:
    """Deck 003's fully connected network: Flatten → Dense(256, relu) → Dense(10)."""
    inputs = _input(input_shape)
    x = L.Flatten(name="flatten")(inputs)
    for i, units in enumerate(check_int_sequence("hidden_units", hidden_units)):
        x = L.Dense(units, activation="relu", name=f"dense{i + 1}")(x)
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation), name=name)


def simple_convnet(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    filters: Sequence[int] = (32, 64),
    kernel_sizes: Sequence[int] = (5, 3),
    dense_units: int = 256,
    dropout: float = 0.0,
    classifier_activation: str | None = "softmax",
    name: str = "convnet",
) -> keras.Model:
    """Deck 003's ConvNet: [Conv(32, 5x5, relu) → MaxPool 2] → [Conv(64, 3x3, relu) → MaxPool 2]
    → Flatten → Dense(256, relu) → Dense(10)."""
    filters = check_int_sequence("filters", filters)
    kernel_sizes = check_int_sequence("kernel_sizes", kernel_sizes)
    if len(filters) != len(kernel_sizes):
        raise ValueError(f"filters and kernel_sizes must have the same length, got {filters} and {kernel_sizes}")
    inputs = _input(input_shape)
    x = inputs
    for i, (f, k) in enumerate(zip(filters, kernel_sizes)):
        x = L.Conv2D(f, k, activation="relu", name=f"conv{i + 1}")(x)
        x = L.MaxPooling2D(2, strides=2, name=f"pool{i + 1}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(check_positive_int("dense_units", dense_units), activation="relu", name="dense")(x)
    if dropout:
        x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation), name=name)


def lenet5(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    activation: str = "tanh",
    pooling: str = "average",
    batch_norm: bool = False,
    classifier_activation: str | None = "softmax",
    name: str = "lenet5",
) -> keras.Model:
    """LeNet-5: C1 6@5x5 → S2 pool → C3 16@5x5 → S4 pool → F5 120 → F6 84 → output.

    On 28x28 inputs C1 uses ``"same"`` padding, so C1 is 28x28x6 as on the 32x32 images
    of the original (whose C1 is ``"valid"``). On 32x32 inputs C1 is ``"valid"``.

    Args:
        activation: ``"tanh"`` (the original) or e.g. ``"relu"``.
        pooling: ``"average"`` (the original subsampling) or ``"max"``.
        batch_norm: add batch normalisation after each convolution and hidden dense layer.
    """
    check_choice("pooling", pooling, ("average", "max"), "pooling")
    inputs = _input(input_shape)
    pool = L.AveragePooling2D if pooling == "average" else L.MaxPooling2D
    c1_padding = "valid" if min(input_shape[:2]) >= 32 else "same"

    def maybe_bn(x, name):
        return L.BatchNormalization(name=name)(x) if batch_norm else x

    x = L.Conv2D(6, 5, padding=c1_padding, name="c1")(inputs)
    x = L.Activation(activation, name="c1_act")(maybe_bn(x, "c1_bn"))
    x = pool(2, name="s2")(x)
    x = L.Conv2D(16, 5, name="c3")(x)
    x = L.Activation(activation, name="c3_act")(maybe_bn(x, "c3_bn"))
    x = pool(2, name="s4")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(120, name="f5")(x)
    x = L.Activation(activation, name="f5_act")(maybe_bn(x, "f5_bn"))
    x = L.Dense(84, name="f6")(x)
    x = L.Activation(activation, name="f6_act")(maybe_bn(x, "f6_bn"))
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation, name="output"), name=name)


# ---------------------------------------------------------------------- small classics
def alexnet_cifar(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    conv_filters: Sequence[int] = (64, 192, 384, 256, 256),
    pool_after: Sequence[int] = (1, 2, 5),
    dense_units: Sequence[int] = (512, 512),
    dropout: float = 0.5,
    batch_norm: bool = True,
    classifier_activation: str | None = "softmax",
    name: str = "alexnet_cifar",
) -> keras.Model:
    """An AlexNet-like network for 32x32 images: 5 conv layers, 3 poolings, 3 dense layers.

    The first conv is 5x5, the others 3x3 (all ``"same"``); 2x2 max pooling follows the
    conv layers listed in ``pool_after`` (1-based). Removing entries from ``conv_filters``
    or ``dense_units`` reproduces deck 000's ablations ("removing parameters").

    Args:
        conv_filters: filters of each conv layer (any length >= 1).
        pool_after: 1-based indices of the conv layers followed by pooling; indices beyond
            the number of conv layers are ignored.
        dense_units: hidden dense layers (possibly none).
        dropout: dropout before each hidden dense layer (0 disables it).
        batch_norm: batch normalisation after each conv layer (AlexNet used local
            response normalisation; batch norm trains faster at this scale).
    """
    conv_filters = check_int_sequence("conv_filters", conv_filters, min_length=1)
    dense_units = check_int_sequence("dense_units", dense_units)
    inputs = _input(input_shape)
    x = inputs
    for i, filters in enumerate(conv_filters, start=1):
        x = L.Conv2D(filters, 5 if i == 1 else 3, padding="same", use_bias=not batch_norm, name=f"conv{i}")(x)
        if batch_norm:
            x = L.BatchNormalization(name=f"conv{i}_bn")(x)
        x = L.ReLU(name=f"conv{i}_relu")(x)
        if i in pool_after:
            x = L.MaxPooling2D(2, name=f"pool{i}")(x)
    x = L.Flatten(name="flatten")(x)
    for i, units in enumerate(dense_units, start=len(conv_filters) + 1):
        if dropout:
            x = L.Dropout(dropout, name=f"fc{i}_dropout")(x)
        x = L.Dense(units, activation="relu", name=f"fc{i}")(x)
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation), name=name)


def vgg_net(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    stages: Sequence[tuple[int, int]] = ((32, 2), (64, 2), (128, 2)),
    dense_units: Sequence[int] = (256,),
    batch_norm: bool = True,
    dropout: float = 0.5,
    global_pooling: bool = False,
    classifier_activation: str | None = "softmax",
    name: str = "vgg_net",
) -> keras.Model:
    """VGG-style network: stages of ``(filters, number of 3x3 convs)``, each ending in 2x2
    max pooling, then dense layers.

    ``stages=((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))`` with
    ``dense_units=(4096, 4096)`` on 224x224x3 is VGG-16.

    Args:
        stages: ``(filters, convs)`` per stage.
        dense_units: hidden dense layers.
        batch_norm: batch normalisation after each convolution (not in the original).
        dropout: before each hidden dense layer (0 disables it).
        global_pooling: global average pooling instead of Flatten before the dense layers.
    """
    inputs = _input(input_shape)
    x = inputs
    for s, stage in enumerate(stages, start=1):
        filters, convs = check_int_sequence(f"stages[{s - 1}] (filters, convs)", stage, length=2)
        for c in range(1, convs + 1):
            conv_name = f"block{s}_conv{c}"
            if batch_norm:
                x = L.Conv2D(filters, 3, padding="same", use_bias=False, name=conv_name)(x)
                x = L.BatchNormalization(name=f"{conv_name}_bn")(x)
                x = L.ReLU(name=f"{conv_name}_relu")(x)
            else:
                x = L.Conv2D(filters, 3, padding="same", activation="relu", name=conv_name)(x)
        x = L.MaxPooling2D(2, name=f"block{s}_pool")(x)
    x = L.GlobalAveragePooling2D(name="global_pool")(x) if global_pooling else L.Flatten(name="flatten")(x)
    for i, units in enumerate(check_int_sequence("dense_units", dense_units), start=1):
        if dropout:
            x = L.Dropout(dropout, name=f"fc{i}_dropout")(x)
        x = L.Dense(units, activation="relu", name=f"fc{i}")(x)
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation), name=name)


# ---------------------------------------------------------------------- depth experiment
def _cifar_blocks_per_stage(depth: int) -> int:
    if check_int("depth", depth) < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, …), got {depth!r}")
    return (depth - 2) // 6


def cifar_resnet(
    depth: int = 20,
    width: int = 16,
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    shortcut: str = "zero_pad",
    weight_decay: float = 0.0,
    batch_norm_momentum: float = 0.9,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """He et al.'s CIFAR ResNet with ``depth = 6n + 2`` weighted layers.

    3x3 conv (``width``) → 3 stages of ``n`` :class:`~cnncourse.layers.BasicResidualBlock`
    with ``width``, ``2·width``, ``4·width`` filters (the first block of stages 2 and 3 has
    stride 2) → global average pooling → Dense. Depth 20 (n = 3), 32 (n = 5), 56 (n = 9)
    are the paper's ResNet-20/32/56 (``width=16``: 0.27M, 0.47M, 0.86M parameters here, counting
    batch-norm statistics; the paper gives 0.27M, 0.46M, 0.85M).

    Args:
        depth: number of conv and dense layers, ``6n + 2``.
        width: filters of the first stage.
        shortcut: ``"zero_pad"`` (option A, the paper's choice for CIFAR: the residual net
            has exactly the parameters of its plain twin), ``"projection"``, or ``"none"``
            (the plain net: see :func:`cifar_plain_net`).
        weight_decay: L2 factor on conv and dense kernels (the paper: 1e-4).
        batch_norm_momentum: 0.9 (PyTorch's default) rather than Keras's 0.99, so that the
            moving statistics used at inference are usable after a few hundred steps.
    """
    n = _cifar_blocks_per_stage(depth)
    check_positive_int("width", width)
    check_choice("shortcut", shortcut, SHORTCUTS, "shortcut")
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None
    if name is None:
        name = f"{'plain' if shortcut == 'none' else 'resnet'}{depth}"
    inputs = _input(input_shape)
    x = L.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                 kernel_regularizer=regularizer, name="stem_conv")(inputs)  # fmt: skip
    x = L.BatchNormalization(momentum=batch_norm_momentum, name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    for stage in range(3):
        for block in range(n):
            strides = 2 if stage > 0 and block == 0 else 1
            x = BasicResidualBlock(
                width * 2**stage,
                strides=strides,
                shortcut=shortcut,
                kernel_regularizer=regularizer,
                batch_norm_momentum=batch_norm_momentum,
                name=f"stage{stage + 1}_block{block + 1}",
            )(x)
    x = L.GlobalAveragePooling2D(name="global_pool")(x)
    x = L.Dense(num_classes, kernel_regularizer=regularizer, dtype="float32", name="predictions")(x)
    if classifier_activation is not None:
        x = L.Activation(classifier_activation, dtype="float32", name=f"predictions_{classifier_activation}")(x)
    return keras.Model(inputs, x, name=name)


def cifar_plain_net(depth: int = 20, width: int = 16, **kwargs) -> keras.Model:
    """The plain twin of :func:`cifar_resnet`: the same layers and widths, no shortcuts.

    With the default ``shortcut="zero_pad"`` of the residual net, both have exactly the same
    number of parameters, so any difference in training comes from the shortcuts alone.
    """
    if "shortcut" in kwargs:
        raise ValueError("cifar_plain_net has no shortcut argument: it is cifar_resnet(shortcut='none')")
    return cifar_resnet(depth, width, shortcut="none", **kwargs)


def mini_googlenet(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    batch_norm: bool = True,
    classifier_activation: str | None = "softmax",
    name: str = "mini_googlenet",
) -> keras.Model:
    """A small GoogLeNet for 32x32 images: a 3x3 stem, two Inception modules, pooling,
    two more modules, global average pooling (no big dense layers, as in GoogLeNet)."""
    inputs = _input(input_shape)
    x = L.Conv2D(64, 3, padding="same", use_bias=not batch_norm, name="stem_conv")(inputs)
    if batch_norm:
        x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    x = InceptionModule(32, 48, 64, 8, 16, 16, batch_norm=batch_norm, name="inception3a")(x)
    x = InceptionModule(64, 64, 96, 16, 48, 32, batch_norm=batch_norm, name="inception3b")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    x = InceptionModule(96, 48, 104, 8, 24, 32, batch_norm=batch_norm, name="inception4a")(x)
    x = InceptionModule(80, 56, 112, 12, 32, 32, batch_norm=batch_norm, name="inception4b")(x)
    x = L.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation), name=name)


def cifar_densenet(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    block_layers: Sequence[int] = (4, 4, 4),
    growth_rate: int = 12,
    compression: float = 0.5,
    bottleneck: bool = True,
    classifier_activation: str | None = "softmax",
    name: str = "cifar_densenet",
) -> keras.Model:
    """A small DenseNet-BC: 3x3 stem with ``2·growth_rate`` filters, dense blocks separated
    by transition layers, BN → ReLU → global average pooling → Dense."""
    block_layers = check_int_sequence("block_layers", block_layers)
    inputs = _input(input_shape)
    x = L.Conv2D(2 * check_positive_int("growth_rate", growth_rate), 3, padding="same", use_bias=False,
                 kernel_initializer="he_normal", name="stem_conv")(inputs)  # fmt: skip
    for i, layers in enumerate(block_layers, start=1):
        x = DenseBlock(layers, growth_rate, bottleneck=bottleneck, name=f"dense_block{i}")(x)
        if i < len(block_layers):
            x = TransitionLayer(compression, name=f"transition{i}")(x)
    x = L.BatchNormalization(name="final_bn")(x)
    x = L.ReLU(name="final_relu")(x)
    x = L.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation), name=name)


# ---------------------------------------------------------------------- full-size references
def alexnet(
    input_shape=(227, 227, 3),
    num_classes: int = 1000,
    dropout: float = 0.5,
    classifier_activation: str | None = "softmax",
    name: str = "alexnet",
) -> keras.Model:
    """AlexNet as in deck 003's table: one tower (no split over two GPUs), no LRN.

    ::

        INPUT  [227x227x3]
        CONV1  [55x55x96]   96 11x11 filters at stride 4, pad 0     34,944 parameters
        POOL1  [27x27x96]   3x3 max pooling at stride 2
        CONV2  [27x27x256]  256 5x5 filters at stride 1, pad 2
        POOL2  [13x13x256]
        CONV3  [13x13x384]  384 3x3 filters at stride 1, pad 1
        CONV4  [13x13x384]  384 3x3 filters at stride 1, pad 1
        CONV5  [13x13x256]  256 3x3 filters at stride 1, pad 1
        POOL3  [6x6x256]
        FC6    [4096]       (dropout before FC6 and FC7 when ``dropout`` > 0)
        FC7    [4096]
        FC8    [1000]       (the logits; softmax follows unless ``classifier_activation=None``)

    Weights are random: this builder is for shapes, parameters and costs (62.4M
    parameters, about deck 004's "60 million").
    """
    inputs = _input(input_shape, name="input")
    x = L.Conv2D(96, 11, strides=4, padding="valid", activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = L.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = L.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
    x = L.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool3")(x)
    x = L.Flatten(name="flatten")(x)
    for fc in ("fc6", "fc7"):
        if dropout:
            x = L.Dropout(dropout, name=f"{fc}_dropout")(x)
        x = L.Dense(4096, activation="relu", name=fc)(x)
    return keras.Model(inputs, _classifier(x, num_classes, classifier_activation, name="fc8"), name=name)


def _no_download(weights):
    if weights is not None:
        raise ValueError(
            f"weights must be None (random weights; nothing is downloaded here), got {weights!r}. "
            "Pretrained weights are an explicit opt-in of the transfer-learning helpers."
        )


def vgg16(input_shape=(224, 224, 3), num_classes: int = 1000, include_top: bool = True, weights=None) -> keras.Model:
    """VGG-16 from ``keras.applications`` with random weights (138,357,544 parameters).

    Args:
        input_shape: ``(224, 224, 3)`` for the classic table; any size >= 32 without the top.
        num_classes: classes of the top layer.
        include_top: keep the three dense layers.
        weights: must be None; accepted only to say clearly that nothing is downloaded.
    """
    _no_download(weights)
    return keras.applications.VGG16(
        weights=None, include_top=include_top, input_tensor=_input(input_shape, name="input"), classes=num_classes
    )


def resnet50(input_shape=(224, 224, 3), num_classes: int = 1000, include_top: bool = True, weights=None) -> keras.Model:
    """ResNet-50 from ``keras.applications`` with random weights (25,636,712 parameters).

    Its bottleneck blocks put the stride on the first 1x1 convolution (the original
    "v1"), which gives the paper's 3.8 billion multiply-adds.
    """
    _no_download(weights)
    return keras.applications.ResNet50(
        weights=None, include_top=include_top, input_tensor=_input(input_shape, name="input"), classes=num_classes
    )
