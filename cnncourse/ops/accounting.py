"""Accounting for convolutional networks: output sizes, parameters, multiply-accumulates, receptive fields.

Conventions:

* a kernel or field size given as one int ``K`` means a square ``K x K`` window; a tuple
  such as ``(3, 5)`` or ``(7,)`` gives every spatial axis;
* an output size given as one int ``O`` means a square ``O x O`` map; a tuple gives every
  spatial axis (``(1, 1)`` or ``1``: "per output position");
* "multiplies" are multiply-accumulates (MACs): one multiplication and one addition.
  Bias additions are not counted. FLOPs are about ``2 x`` MACs.

Examples from the lectures::

    dense_params((400, 400, 3), 500)                 # 240,000,500
    dense_params((640, 480, 3), 1000)                # 921,601,000
    conv_params(3, in_channels=3, out_channels=10, use_bias=False)   # 270
    conv_macs((28, 28), 5, 192, 32)                  # 120,422,400  ("120.422 million ops")
    conv_macs((28, 28), 1, 192, 16) + conv_macs((28, 28), 5, 16, 32)  # 12,443,648 ("12.4 million")
    conv_output_size(7, 3)                           # 5

A 3D convolution (video: time, rows, columns) takes tuple sizes in the same functions:
``conv_params((3, 3, 3), 64, 64)``, ``conv_macs((8, 28, 28), (3, 3, 3), 64, 64)``; its (2+1)D
factorisation has :func:`conv2plus1d_params` and :func:`conv2plus1d_macs`.
"""

from __future__ import annotations

import math
from typing import Iterable, NamedTuple

from cnncourse._validation import check_int_sequence, check_int_tuple, check_positive_int, describe, is_int
from cnncourse.ops.padding import effective_kernel_size, resolve_padding, same_padding

# --------------------------------------------------------------------------------------
# Output sizes
# --------------------------------------------------------------------------------------


def conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution or pooling layer: ``O = (I + 2P - K_eff) // S + 1``.

    ``K_eff = (K - 1) * D + 1`` is the extent of the dilated kernel. When ``S`` does not divide
    ``I + 2P - K_eff`` the last input rows are never visited (Keras does the same).

    Args:
        input_size: ``I``, an int, or a tuple with one size per spatial axis.
        kernel_size, stride, dilation: ints (or tuples, one per axis).
        padding: ``P`` as an int, ``(before, after)``, or ``"valid"`` (``P = 0``), ``"same"``
            (output ``ceil(I / S)``) or ``"full"`` (``P = K_eff - 1``). With a tuple
            ``input_size``, give one of these for all axes or a tuple with one per axis
            (so ``(ph, pw)`` for an image).

    Returns:
        The output size: an int, or a tuple for a tuple ``input_size``.

    Raises:
        ValueError: if the (dilated) kernel does not fit in the padded input.

    Example:
        >>> conv_output_size(7, 3), conv_output_size(7, 3, stride=2), conv_output_size(32, 5, padding="same")
        (5, 3, 32)
        >>> conv_output_size((28, 28), 5, padding=2, stride=2)
        (14, 14)
    """
    if not is_int(input_size):
        if isinstance(input_size, str) or not isinstance(input_size, Iterable):
            raise TypeError(f"input_size must be a positive int or a tuple of positive ints, got {describe(input_size)}")
        sizes = tuple(input_size)
        axes = len(sizes)
        kernels = _per_axis(kernel_size, axes, "kernel_size")
        strides = _per_axis(stride, axes, "stride")
        dilations = _per_axis(dilation, axes, "dilation")
        paddings = _per_axis(padding, axes, "padding")
        return tuple(conv_output_size(*args) for args in zip(sizes, kernels, strides, paddings, dilations))
    input_size = check_positive_int("input_size", input_size)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    stride = check_positive_int("stride", stride)
    dilation = check_positive_int("dilation", dilation)
    before, after = resolve_padding(padding, input_size, kernel_size, stride, dilation)
    k_eff = effective_kernel_size(kernel_size, dilation)
    padded = input_size + before + after
    if padded < k_eff:
        raise ValueError(
            f"kernel_size={kernel_size} (dilation {dilation}: covers {k_eff}) does not fit in input_size="
            f"{input_size} padded by {(before, after)} = {padded}"
        )
    return (padded - k_eff) // stride + 1


def _per_axis(value, axes, name):
    """``value`` repeated for every axis (an int or a string), or checked to have one entry per axis."""
    if is_int(value) or isinstance(value, str):
        return (value,) * axes
    expected = f"an int or have one entry per axis ({axes})"
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    value = tuple(value)
    if len(value) != axes:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def _window_area(size, name):
    """K*K for an int, the product of the entries for a tuple."""
    if is_int(size):
        return check_positive_int(name, size) ** 2
    return math.prod(check_int_sequence(name, size, min_length=1))


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


def conv_params(kernel_size, in_channels, out_channels, use_bias=True, groups=1):
    """Weights of a convolution layer: ``(KH * KW * Cin / groups + 1) * Cout`` (``+ 1`` for the bias).

    Independent of the image size: the same kernel is used at every position.

    Example (deck 002: 3 input channels, 10 output channels, 3x3 kernel, no bias):
        >>> conv_params(3, 3, 10, use_bias=False)
        270
    """
    area = _window_area(kernel_size, "kernel_size")
    in_channels = check_positive_int("in_channels", in_channels)
    out_channels = check_positive_int("out_channels", out_channels)
    groups = check_positive_int("groups", groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
        )
    return (area * (in_channels // groups) + int(bool(use_bias))) * out_channels


def dense_params(input_shape, units, use_bias=True):
    """Weights of a fully connected (``Dense``) layer on a flattened input: ``(inputs + 1) * units``.

    Args:
        input_shape: the number of input features, or a shape such as ``(400, 400, 3)``
            (flattened: the product of its entries).
        units: number of output units.

    Example (deck 000, a 400x400 RGB image into 500 hidden units):
        >>> dense_params((400, 400, 3), 500)
        240000500
    """
    features = (check_positive_int("input_shape", input_shape) if is_int(input_shape)
                else math.prod(check_int_sequence("input_shape", input_shape, min_length=1)))
    units = check_positive_int("units", units)
    return features * units + (units if use_bias else 0)


def locally_connected_params(num_units, field_size, in_channels=1, use_bias=False):
    """Weights of a locally connected layer: every unit has its own (unshared) window of weights.

    ``num_units * (field_area * in_channels + bias)``: like a convolution without parameter
    sharing, so it grows with the number of positions.

    Args:
        num_units: hidden units (positions x feature maps).
        field_size: each unit's window, ``F`` (``F x F``) or a tuple.
        in_channels: channels of the input window.

    Example (deck 004: 400,000 hidden units with 10x10 fields):
        >>> locally_connected_params(400_000, 10)
        40000000
    """
    num_units = check_positive_int("num_units", num_units)
    in_channels = check_positive_int("in_channels", in_channels)
    return num_units * (_window_area(field_size, "field_size") * in_channels + int(bool(use_bias)))


def separable_conv_params(kernel_size, in_channels, out_channels, depth_multiplier=1, use_bias=True):
    """Weights of a depthwise separable convolution (``keras.layers.SeparableConv2D``).

    Depthwise ``K * K * Cin * M`` (one ``K x K`` kernel per input channel, ``M`` per channel)
    plus pointwise ``Cin * M * Cout`` (a 1x1 convolution) plus ``Cout`` biases.
    """
    area = _window_area(kernel_size, "kernel_size")
    in_channels = check_positive_int("in_channels", in_channels)
    out_channels = check_positive_int("out_channels", out_channels)
    depth_multiplier = check_positive_int("depth_multiplier", depth_multiplier)
    return (area * in_channels * depth_multiplier + in_channels * depth_multiplier * out_channels
            + (out_channels if use_bias else 0))


# --------------------------------------------------------------------------------------
# Multiply-accumulates
# --------------------------------------------------------------------------------------


def conv_macs(output_size, kernel_size, in_channels, out_channels, groups=1):
    """Multiplications of a convolution: ``(OH * OW * Cout) * (KH * KW * Cin / groups)``.

    Every output value (``OH * OW * Cout`` of them) is a dot product of length
    ``KH * KW * Cin / groups``.

    Args:
        output_size: ``O`` (an ``O x O`` map), a tuple ``(OH, OW)``, or ``1`` per position.
        kernel_size: ``K`` or a tuple.

    Example (deck 000, inception: 5x5 convolution from 192 to 32 channels on 28x28):
        >>> conv_macs((28, 28), 5, 192, 32)
        120422400
        >>> conv_macs(1, 3, 256, 256)   # deck 001: per position, "≈ 590K"
        589824
    """
    positions = _window_area(output_size, "output_size")
    return positions * out_channels * conv_params(kernel_size, in_channels, out_channels, use_bias=False,
                                                  groups=groups) // out_channels


def separable_conv_macs(output_size, kernel_size, in_channels, out_channels, depth_multiplier=1):
    """Multiplications of a depthwise separable convolution: depthwise plus pointwise.

    ``positions * (K * K * Cin * M + Cin * M * Cout)``, compared with
    ``positions * K * K * Cin * Cout`` for a standard convolution.
    """
    positions = _window_area(output_size, "output_size")
    return positions * separable_conv_params(kernel_size, in_channels, out_channels, depth_multiplier,
                                             use_bias=False)


# --------------------------------------------------------------------------------------
# Video: 3D convolutions and their (2+1)D factorisation
# --------------------------------------------------------------------------------------


def _kernel_3d(kernel_size):
    """``(t, kh, kw)`` from an int ``k`` (a ``k x k x k`` kernel) or a tuple of 3 positive ints."""
    return check_int_tuple("kernel_size", kernel_size, 3)


def conv2plus1d_mid_channels(kernel_size, in_channels, out_channels):
    """Channels ``M`` between the two halves of a (2+1)D block with as many weights as the 3D convolution.

    R(2+1)D (Tran et al. 2018) replaces a ``t x k x k`` convolution from ``Cin`` to ``Cout``
    channels by a ``1 x k x k`` (spatial) one to ``M`` channels and a ``t x 1 x 1``
    (temporal) one to ``Cout``, with ``M = floor(t k² Cin Cout / (k² Cin + t Cout))``, so that
    both hold about the same number of weights (and the block gets an extra nonlinearity).

    Example:
        >>> conv2plus1d_mid_channels(3, 64, 64)
        144
    """
    t, kh, kw = _kernel_3d(kernel_size)
    in_channels = check_positive_int("in_channels", in_channels)
    out_channels = check_positive_int("out_channels", out_channels)
    return (t * kh * kw * in_channels * out_channels) // (kh * kw * in_channels + t * out_channels)


def conv2plus1d_params(kernel_size, in_channels, out_channels, mid_channels=None, use_bias=True):
    """Weights of a (2+1)D block: ``Conv3D(M, (1, kh, kw))`` then ``Conv3D(Cout, (t, 1, 1))``.

    ``(kh * kw * Cin + 1) * M + (t * M + 1) * Cout`` (the ``+ 1`` s are the biases). Compare
    with ``conv_params((t, kh, kw), Cin, Cout)`` for the full 3D convolution.

    Args:
        kernel_size: ``(t, kh, kw)``, or ``k`` for ``(k, k, k)``.
        in_channels, out_channels: ``Cin``, ``Cout``.
        mid_channels: ``M``; default :func:`conv2plus1d_mid_channels` (as many weights as the 3D one).
        use_bias: both convolutions have biases.

    Example (a 3x3x3 convolution from 64 to 64 channels and its factorisation, no biases):
        >>> conv_params((3, 3, 3), 64, 64, use_bias=False), conv2plus1d_params(3, 64, 64, use_bias=False)
        (110592, 110592)
        >>> conv2plus1d_params(3, 64, 64, mid_channels=64, use_bias=False)
        49152
    """
    t, kh, kw = _kernel_3d(kernel_size)
    in_channels = check_positive_int("in_channels", in_channels)
    out_channels = check_positive_int("out_channels", out_channels)
    if mid_channels is None:
        mid_channels = conv2plus1d_mid_channels(kernel_size, in_channels, out_channels)
    mid_channels = check_positive_int("mid_channels", mid_channels)
    bias = int(bool(use_bias))
    return (kh * kw * in_channels + bias) * mid_channels + (t * mid_channels + bias) * out_channels


def conv2plus1d_macs(output_size, kernel_size, in_channels, out_channels, mid_channels=None,
                     intermediate_size=None):
    """Multiply-accumulates of a (2+1)D block: the spatial half plus the temporal half.

    ``positions(intermediate) * M * kh * kw * Cin + positions(output) * Cout * t * M``, to
    compare with ``conv_macs(output_size, (t, kh, kw), Cin, Cout)`` for the 3D convolution.

    Args:
        output_size: ``(T, H, W)`` of the block's output.
        kernel_size: ``(t, kh, kw)`` or ``k``.
        in_channels, out_channels, mid_channels: as in :func:`conv2plus1d_params`.
        intermediate_size: ``(T', H, W)`` of the spatial half's output; default ``output_size``
            (right for stride 1 and "same" padding; with a temporal stride or "valid" padding
            in time the intermediate map has more frames than the output).

    Example (8 frames of 28x28, 3x3x3 from 64 to 64 channels):
        >>> conv_macs((8, 28, 28), (3, 3, 3), 64, 64), conv2plus1d_macs((8, 28, 28), 3, 64, 64)
        (693633024, 693633024)
    """
    t, kh, kw = _kernel_3d(kernel_size)
    in_channels = check_positive_int("in_channels", in_channels)
    out_channels = check_positive_int("out_channels", out_channels)
    if mid_channels is None:
        mid_channels = conv2plus1d_mid_channels(kernel_size, in_channels, out_channels)
    mid_channels = check_positive_int("mid_channels", mid_channels)
    output_positions = math.prod(check_int_tuple("output_size", output_size, 3))
    intermediate_positions = (output_positions if intermediate_size is None
                              else math.prod(check_int_tuple("intermediate_size", intermediate_size, 3)))
    return (intermediate_positions * mid_channels * kh * kw * in_channels
            + output_positions * out_channels * t * mid_channels)


# --------------------------------------------------------------------------------------
# Receptive fields
# --------------------------------------------------------------------------------------


class LayerSpec(NamedTuple):
    """The geometry of one convolution or pooling layer, for :func:`receptive_field`.

    Attributes:
        kernel_size: ``K`` (or the pool size), an int or one int per axis.
        stride: an int or one per axis.
        dilation: an int or one per axis.
        padding: ``"valid"`` / ``"same"`` / ``"full"`` or an int ``p`` (``p`` pixels on both sides),
            for every axis or one such value per axis. Only the *position* of the receptive
            field depends on it, not its size.
        name: an optional label.
    """

    kernel_size: int | tuple = 1
    stride: int | tuple = 1
    dilation: int | tuple = 1
    padding: str | int | tuple = "valid"
    name: str = ""


class ReceptiveField(NamedTuple):
    """Which input pixels one unit of the last layer sees.

    Attributes:
        size: receptive field size, in input pixels (per axis).
        jump: distance in input pixels between neighbouring units of the last layer (the
            product of the strides).
        offset: input index of the first pixel seen by unit 0 (negative when the receptive
            field reaches into the padding); ``None`` when it depends on an input size that
            is not known ("same" padding with stride > 1).

    Unit ``i`` of the last layer sees input pixels ``offset + i * jump`` to
    ``offset + i * jump + size - 1`` (:meth:`span`). For a 2D stack each field is a
    ``(height, width)`` tuple.
    """

    size: int | tuple
    jump: int | tuple
    offset: int | tuple | None

    def span(self, index):
        """``(first, last)`` input index (inclusive) seen by output unit ``index``.

        For 2D fields pass ``(row, col)`` and get ``((first_row, last_row), (first_col, last_col))``.
        """
        if isinstance(self.size, tuple):
            if self.offset is None or any(o is None for o in self.offset):
                raise ValueError("the offset of this receptive field is unknown; give input_size")
            if is_int(index) or len(index) != len(self.size):
                raise ValueError(f"index must have one entry per axis ({len(self.size)}), got {index!r}")
            return tuple(ReceptiveField(s, j, o).span(i) for s, j, o, i in
                         zip(self.size, self.jump, self.offset, index))
        if self.offset is None:
            raise ValueError("the offset of this receptive field is unknown; give input_size")
        first = self.offset + index * self.jump
        return first, first + self.size - 1


def _as_spec(layer, position):
    if isinstance(layer, LayerSpec):
        return layer
    if is_int(layer):
        return LayerSpec(kernel_size=layer)
    if isinstance(layer, dict):
        unknown = set(layer) - set(LayerSpec._fields)
        if unknown:
            raise ValueError(f"layers[{position}] has unknown keys {sorted(unknown)}; known: {LayerSpec._fields}")
        return LayerSpec(**layer)
    if isinstance(layer, (tuple, list)) and 1 <= len(layer) <= 3:
        return LayerSpec(*layer)
    raise ValueError(
        f"layers[{position}] must be a LayerSpec, a kernel size, (kernel, stride[, dilation]) or a dict, "
        f"got {layer!r}"
    )


def _spec_dims(spec):
    dims = {len(v) for v in (spec.kernel_size, spec.stride, spec.dilation) if isinstance(v, (tuple, list))}
    if isinstance(spec.padding, (tuple, list)):
        dims.add(len(spec.padding))
    return dims


def receptive_field(layers, input_size=None):
    """Receptive field of a stack of convolution / pooling layers (input first).

    Recurrence, layer by layer (``K_eff = (K - 1) * D + 1``)::

        size   += (K_eff - 1) * jump
        offset -= padding_before * jump
        jump   *= stride

    starting from ``size = 1, jump = 1, offset = 0`` on the input.

    Args:
        layers: a sequence of :class:`LayerSpec`, kernel sizes (stride 1), tuples
            ``(kernel_size, stride[, dilation])`` or dicts with :class:`LayerSpec`'s fields.
            Tuples *inside* a spec (``kernel_size=(3, 5)``) make it a 2D stack.
        input_size: the input's size (int or per-axis tuple); only needed for the offset when a
            layer uses ``"same"`` padding with a stride > 1.

    Returns:
        A :class:`ReceptiveField` (ints, or per-axis tuples for a 2D stack).

    Example (three 3x3 convolutions see as far as one 7x7):
        >>> receptive_field([3, 3, 3])
        ReceptiveField(size=7, jump=1, offset=0)
        >>> receptive_field([LayerSpec(3), LayerSpec(2, stride=2), LayerSpec(3, dilation=2)])
        ReceptiveField(size=12, jump=2, offset=0)
    """
    specs = [_as_spec(layer, position) for position, layer in enumerate(layers)]
    dims = set().union(*(_spec_dims(spec) for spec in specs)) if specs else set()
    if input_size is not None and not is_int(input_size):
        dims.add(len(tuple(input_size)))
    if len(dims) > 1:
        raise ValueError(f"layers mix different numbers of spatial axes: {sorted(dims)}")
    if not dims:
        return _receptive_field_1d(specs, input_size)
    (axes,) = dims
    sizes = (input_size,) * axes if input_size is None or is_int(input_size) else tuple(input_size)
    per_axis = [_receptive_field_1d([_axis_spec(spec, axis, axes) for spec in specs], sizes[axis])
                for axis in range(axes)]
    return ReceptiveField(*(tuple(field[i] for field in per_axis) for i in range(3)))


def _axis_spec(spec, axis, axes):
    """The 1D spec of one axis of a multi-axis spec."""
    values = [_per_axis(value, axes, name)[axis] for name, value in zip(LayerSpec._fields[:4], spec[:4])]
    return LayerSpec(*values, spec.name)


def _receptive_field_1d(specs, input_size):
    size, jump, offset = 1, 1, 0
    length = None if input_size is None else check_positive_int("input_size", input_size)
    for spec in specs:
        kernel = check_positive_int("kernel_size", spec.kernel_size)
        stride = check_positive_int("stride", spec.stride)
        dilation = check_positive_int("dilation", spec.dilation)
        k_eff = effective_kernel_size(kernel, dilation)
        if isinstance(spec.padding, str) and spec.padding.lower() == "same" and length is None:
            # "same" pads (k_eff - 1) // 2 before when the stride is 1; otherwise it depends on the length
            before = (k_eff - 1) // 2 if stride == 1 else None
        else:  # "valid", "full" and ints do not depend on the length
            before, after = resolve_padding(spec.padding, length or k_eff, kernel, stride, dilation,
                                            name=f"padding of {spec.name or 'a layer'}")
            if length is not None:
                length = conv_output_size(length, kernel, stride, (before, after), dilation)
        size, jump, offset = _step(size, jump, offset, kernel, stride, dilation, before)
    return ReceptiveField(size, jump, offset)


def _step(size, jump, offset, kernel, stride, dilation, pad_before):
    size = size + (effective_kernel_size(kernel, dilation) - 1) * jump
    offset = None if offset is None or pad_before is None else offset - pad_before * jump
    return size, jump * stride, offset


# Keras layers that work on each position separately (or leave positions alone).
_POINTWISE_LAYERS = (
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "BatchNormalization", "LayerNormalization",
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "Rescaling", "Identity", "ActivityRegularization",
)
_CONV_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
                "SeparableConv2D")
_TRANSPOSED_CONV_LAYERS = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_POOLING_LAYERS = ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
                   "AveragePooling3D")


def _keras_classes(names):
    import keras

    return tuple(c for c in (getattr(keras.layers, name, None) for name in names) if c is not None)


def _chain_layers(model):
    """The layers of a Sequential / functional chain, nested models flattened, checking it is a chain."""
    import keras

    layers = []
    previous_output = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):  # its .input is an empty list; .output starts the chain
            previous_output = layer.output
            continue
        try:
            layer_input, layer_output = layer.input, layer.output
        except (AttributeError, ValueError):  # not called on symbolic inputs: trust the order
            layer_input = layer_output = None
        if isinstance(layer_input, (list, tuple, dict)):
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) has several inputs: receptive_field_of_model "
                f"handles a plain chain of layers only"
            )
        if previous_output is not None and layer_input is not None and layer_input is not previous_output:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) does not take the previous layer's output: the model "
                f"is not a plain chain (branches or skip connections); list its path as LayerSpecs instead"
            )
        previous_output = layer_output
        if isinstance(layer, keras.Model):
            layers.extend(_chain_layers(layer))
        else:
            layers.append(layer)
    return layers


def _spatial_input_size(layer):
    try:
        shape = tuple(layer.input.shape)
    except (AttributeError, ValueError):
        return None
    data_format = getattr(layer, "data_format", "channels_last")
    spatial = shape[2:] if data_format == "channels_first" else shape[1:-1]
    return None if any(s is None for s in spatial) else spatial


def receptive_field_of_model(model, up_to=None):
    """Receptive field of the units of a Keras model (a ``Sequential`` or functional chain).

    Walks the layers in order: convolutions (``Conv1D/2D/3D``, depthwise, separable) and
    pooling layers change the field; ``ZeroPadding``/``Cropping`` shift it; activations,
    normalisation and dropout leave it as it is. Anything else (``Flatten``, ``Dense``, global
    pooling, transposed convolutions, branches) raises: stop before it with ``up_to``.

    Args:
        model: a built or unbuilt ``keras.Sequential`` or ``keras.Model`` whose layers form a
            chain (nested chains are flattened).
        up_to: name of the last layer to include (default: all layers).

    Returns:
        A :class:`ReceptiveField` with one entry per spatial axis, e.g. ``size=(5, 5)``. The
        offsets are ``None`` where they depend on an unknown input size.

    Example:
        >>> model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(8, 3),
        ...                           keras.layers.MaxPooling2D(), keras.layers.Conv2D(8, 3)])
        >>> receptive_field_of_model(model)
        ReceptiveField(size=(8, 8), jump=(2, 2), offset=(0, 0))
    """
    import keras

    conv_classes = _keras_classes(_CONV_LAYERS)
    transposed_classes = _keras_classes(_TRANSPOSED_CONV_LAYERS)
    pooling_classes = _keras_classes(_POOLING_LAYERS)
    pointwise_classes = _keras_classes(_POINTWISE_LAYERS)
    padding_classes = _keras_classes(("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"))
    cropping_classes = _keras_classes(("Cropping1D", "Cropping2D", "Cropping3D"))

    layers = _chain_layers(model)
    if up_to is not None and up_to not in [layer.name for layer in layers]:
        raise ValueError(f"up_to={up_to!r} is not a layer of the model; layers: {[layer.name for layer in layers]}")
    state = None  # per axis: [size, jump, offset]
    for layer in layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer, pointwise_classes):
            steps = None
        elif isinstance(layer, transposed_classes):
            raise ValueError(
                f"layer {layer.name!r} ({kind}) is a transposed convolution: its units do not have a single "
                f"receptive field formula here; pass up_to= a layer before it"
            )
        elif isinstance(layer, conv_classes) or isinstance(layer, pooling_classes):
            is_conv = isinstance(layer, conv_classes)
            kernels = tuple(layer.kernel_size if is_conv else layer.pool_size)
            strides = tuple(layer.strides)
            dilations = tuple(layer.dilation_rate) if is_conv else (1,) * len(kernels)
            sizes = _spatial_input_size(layer)
            steps = []
            for axis, (k, s, d) in enumerate(zip(kernels, strides, dilations)):
                if layer.padding == "valid":
                    before = 0
                elif sizes is not None:
                    before = same_padding(sizes[axis], k, s, d)[0]
                else:
                    before = (effective_kernel_size(k, d) - 1) // 2 if s == 1 else None
                steps.append((k, s, d, before))
        elif isinstance(layer, padding_classes) or isinstance(layer, cropping_classes):
            amounts = layer.padding if isinstance(layer, padding_classes) else layer.cropping
            amounts = (amounts,) if is_int(amounts[0]) else amounts  # 1D layers hold one (before, after)
            sign = 1 if isinstance(layer, padding_classes) else -1
            steps = [(1, 1, 1, sign * before) for before, _after in amounts]
        else:
            raise ValueError(
                f"layer {layer.name!r} ({kind}) is not a convolution, pooling, padding or pointwise layer, so its "
                f"units have no local receptive field here (Flatten, Dense and global pooling see the whole "
                f"input); pass up_to= the name of the last layer to include"
            )
        if steps is not None:
            if state is None:
                state = [[1, 1, 0] for _ in steps]
            if len(steps) != len(state):
                raise ValueError(f"layer {layer.name!r} ({kind}) has {len(steps)} spatial axes, earlier layers "
                                 f"{len(state)}")
            state = [list(_step(*axis_state, *step)) for axis_state, step in zip(state, steps)]
        if layer.name == up_to:
            break
    if state is None:
        raise ValueError("the model has no convolution or pooling layer (up to up_to): nothing to measure")
    size, jump, offset = (tuple(axis[i] for axis in state) for i in range(3))
    return ReceptiveField(size, jump, None if any(o is None for o in offset) else offset)


__all__ = [
    "conv_output_size",
    "conv_params",
    "dense_params",
    "locally_connected_params",
    "separable_conv_params",
    "conv_macs",
    "separable_conv_macs",
    "conv2plus1d_mid_channels",
    "conv2plus1d_params",
    "conv2plus1d_macs",
    "LayerSpec",
    "ReceptiveField",
    "receptive_field",
    "receptive_field_of_model",
]
