"""What a network costs, layer by layer: parameters, multiply–accumulates and memory.

:func:`layer_table` walks a built Keras model and returns a :class:`LayerTable`: one
:class:`LayerRow` per layer call, plus :class:`Totals`. Print it for a text table, or
let a notebook display it (it has an HTML rendering)::

    >>> import keras
    >>> from cnncourse.model_costs import layer_table
    >>> model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 5, name="conv")])
    >>> table = layer_table(model)
    >>> table.row("conv").macs      # 24·24·32 outputs × 5·5·1 multiplies each
    460800

Conventions (the ones of the lecture decks and of the papers they quote):

Parameters
    every weight of the layer, trainable or not (batch-norm moving statistics count,
    as in ``model.count_params()``). A layer called twice counts its weights once.
MACs
    multiply–accumulates (one multiply and one add) of one forward pass of *one*
    example, counted for the layers that multiply by weights: convolutions (plain,
    depthwise, separable, transposed), ``Dense`` and :class:`~cnncourse.layers.LocallyConnected2D`.
    Biases, pooling, normalisation, activations and merges cost about one operation per
    value and are given 0 MACs, as the papers do. The famous "FLOPs" — ResNet-50 3.8B,
    VGG-16 15.3B (deck 003, from He et al.) — are such multiply–adds; the number of
    floating-point operations is about twice as large (:attr:`Totals.flops` = 2 · MACs).
    A layer type this module does not know gets 0 MACs and says so in its ``note``;
    :func:`register_mac_counter` teaches it a new one.
Activation memory
    the values a layer outputs for one example (``activation_values``) times the bytes
    of their dtype (4 for float32, 2 under ``mixed_float16``). The model's input counts
    (deck 003's VGG table starts with ``INPUT: [224x224x3] = 150K``). Layers that only
    look at their input in another way (``Flatten``, ``Reshape``, ``Dropout`` at
    inference) store nothing new and count 0 bytes.
Forward and training memory (estimates, for ``batch_size`` examples)
    forward: parameters + activations of all layers, kept together (what back-propagation
    needs to keep). Training: activations twice (their gradients, deck 003's "x2 for
    backward") and, for the trainable weights, their gradient and the optimizer's slots:
    ``"sgd"`` x2, ``"momentum"`` x3, ``"adam"`` x4 (deck 003: "x2 for plain SGD, x4 for
    Adam"). Frameworks free and reuse buffers, so these are upper-bound style estimates,
    not measurements.

Nested models and composite layers (a Keras ``Model`` inside another, a
:class:`~cnncourse.layers.BasicResidualBlock`, any layer holding sublayers) are opened:
their own row is a *group* row (indented children follow, the group's numbers are their
sums) and only the leaves enter the totals. A Functional or Sequential model is read from
its graph; a layer or subclassed model with sublayers is run once on zeros (batch of 1,
inference mode) to see which sublayer is called, in what order and on what shapes.

A note on deck 003's VGG-16 memory table: its rows are reproduced exactly, and they sum
to ``15.2M`` values (``61 MB`` in float32); the slide's total, "24M x 4 bytes ≈ 93MB",
does not follow from its own rows (a known slip of the cs231n notes it comes from).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cnncourse._validation import check_choice, check_int_sequence, check_positive_int

__all__ = [
    "LayerRow",
    "LayerTable",
    "Totals",
    "OPTIMIZER_PARAMETER_COPIES",
    "layer_table",
    "register_mac_counter",
    "format_count",
    "format_bytes",
]

#: Copies of each trainable weight kept while training: the weight, its gradient and the
#: optimizer's slots (momentum: 1 velocity; Adam: 2 moments).
OPTIMIZER_PARAMETER_COPIES = {"sgd": 2, "momentum": 3, "adam": 4}


@dataclass(frozen=True)
class LayerRow:
    """One call of one layer.

    Attributes:
        name: the layer's name; children of a nested model or composite layer are named
            ``"parent/child"``.
        type: the layer's class name (``"Conv2D"``).
        output_shape: output shape of one example (no batch axis), e.g. ``(55, 55, 96)``;
            a tuple of such shapes for a layer with several outputs.
        params: number of weights (0 for a second call of a shared layer).
        trainable_params: the trainable part of ``params``.
        macs: multiply–accumulates for one example (see the module's conventions).
        activation_values: number of output values for one example (0 for views).
        activation_bytes: ``activation_values`` times the bytes of the output dtype.
        param_bytes: bytes of the weights.
        forward_bytes: ``param_bytes + batch_size · activation_bytes``.
        training_bytes: ``param_bytes`` plus ``(copies - 1)`` times the trainable weights'
            bytes, plus ``2 · batch_size · activation_bytes``.
        depth: nesting depth (0 for the model's own layers).
        is_group: True for a nested model or composite layer whose children follow;
            its numbers are the sums of its children's and do not enter the totals.
        note: why a number is special ("shared weights", "unknown layer type: …").
    """

    name: str
    type: str
    output_shape: tuple
    params: int
    trainable_params: int
    macs: int
    activation_values: int
    activation_bytes: int
    param_bytes: int
    forward_bytes: int
    training_bytes: int
    depth: int = 0
    is_group: bool = False
    note: str = ""


@dataclass(frozen=True)
class Totals:
    """Sums over the leaf rows of a :class:`LayerTable`.

    ``params``, ``macs``, ``activation_values`` and ``activation_bytes`` are per example;
    ``forward_bytes`` and ``training_bytes`` are for the table's ``batch_size``.
    """

    params: int
    trainable_params: int
    macs: int
    activation_values: int
    activation_bytes: int
    param_bytes: int
    forward_bytes: int
    training_bytes: int

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    @property
    def flops(self) -> int:
        """Floating-point operations, counting a multiply–accumulate as 2."""
        return 2 * self.macs


@dataclass
class LayerTable:
    """Per-layer accounting of a model: ``rows`` (in call order), ``totals`` and settings.

    ``print(table)`` gives a text table; in a notebook the table displays as HTML.
    """

    model_name: str
    rows: list[LayerRow]
    batch_size: int
    optimizer: str
    totals: Totals = field(init=False)

    def __post_init__(self):
        leaves = [r for r in self.rows if not r.is_group]
        self.totals = Totals(
            params=sum(r.params for r in leaves),
            trainable_params=sum(r.trainable_params for r in leaves),
            macs=sum(r.macs for r in leaves),
            activation_values=sum(r.activation_values for r in leaves),
            activation_bytes=sum(r.activation_bytes for r in leaves),
            param_bytes=sum(r.param_bytes for r in leaves),
            forward_bytes=sum(r.forward_bytes for r in leaves),
            training_bytes=sum(r.training_bytes for r in leaves),
        )

    @property
    def leaves(self) -> list[LayerRow]:
        """The rows that enter the totals (no group rows)."""
        return [r for r in self.rows if not r.is_group]

    def row(self, name: str) -> LayerRow:
        """The first row called ``name`` (e.g. ``"conv1"`` or ``"block1/conv1"``)."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no layer named {name!r}; names are: {', '.join(r.name for r in self.rows)}")

    def macs_by_type(self) -> dict[str, int]:
        """Total MACs per layer type, over the leaves (e.g. ``{"Conv2D": …, "Dense": …}``)."""
        result: dict[str, int] = {}
        for r in self.leaves:
            result[r.type] = result.get(r.type, 0) + r.macs
        return result

    # ------------------------------------------------------------------ rendering
    _COLUMNS = ("Layer", "Type", "Output shape", "Params", "MACs", "Activations", "Notes")

    def _cells(self, r: LayerRow) -> tuple[str, ...]:
        return (
            "  " * r.depth + r.name,
            r.type,
            _format_shape(r.output_shape),
            f"{r.params:,}",
            f"{r.macs:,}",
            format_bytes(r.activation_bytes),
            ("(sum) " if r.is_group else "") + r.note,
        )

    def _summary_lines(self) -> list[str]:
        t = self.totals
        return [
            f"Parameters: {t.params:,} ({format_count(t.params)}; trainable {t.trainable_params:,}) "
            f"= {format_bytes(t.param_bytes)}",
            f"MACs per example: {t.macs:,} ({format_count(t.macs)} multiply-adds, "
            f"≈ {format_count(t.flops)} FLOPs)",
            f"Activations per example: {t.activation_values:,} values ({format_count(t.activation_values)}) "
            f"= {format_bytes(t.activation_bytes)}",
            f"Memory estimate, batch of {self.batch_size}: forward {format_bytes(t.forward_bytes)}, "
            f"training with {self.optimizer} {format_bytes(t.training_bytes)}",
        ]

    def to_text(self) -> str:
        """The table as aligned plain text, with the totals below it."""
        cells = [self._COLUMNS] + [self._cells(r) for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self._COLUMNS))]
        right = {3, 4, 5}

        def line(row):
            parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
            return "  ".join(parts).rstrip()

        rule = "-" * len(line(cells[0]))
        out = [f"Model: {self.model_name}", line(cells[0]), rule]
        out += [line(row) for row in cells[1:]]
        out += [rule] + self._summary_lines()
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self) -> str:
        """The table as a self-contained HTML ``<table>`` (no pandas needed)."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self._COLUMNS)
        body = []
        for r in self.rows:
            cells = list(self._cells(r))
            cells[0] = "&nbsp;" * (3 * r.depth) + html.escape(r.name)
            tds = []
            for i, c in enumerate(cells):
                text = c if i == 0 else html.escape(c)
                align = ' style="text-align:right"' if i in (3, 4, 5) else ""
                tds.append(f"<td{align}>{text}</td>")
            style = ' style="color:#777"' if r.is_group else ""
            body.append(f"<tr{style}>{''.join(tds)}</tr>")
        summary = "<br>".join(html.escape(s) for s in self._summary_lines())
        return (
            f"<div><b>{html.escape(self.model_name)}</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<p>{summary}</p></div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()


# ---------------------------------------------------------------------- formatting
def format_count(n: float) -> str:
    """``138357544`` → ``"138.4M"``; ``3.86e9`` → ``"3.86B"`` (3 significant digits)."""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= threshold:
            return f"{n / threshold:.3g}{suffix}"
    return f"{n:g}"


def format_bytes(n: float) -> str:
    """Bytes in decimal units: ``60950432`` → ``"61.0 MB"`` (1 MB = 10^6 bytes)."""
    for threshold, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(n) >= threshold:
            return f"{n / threshold:.1f} {suffix}"
    return f"{int(n)} B"


def _format_shape(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


# ---------------------------------------------------------------------- MAC counters
MacCounter = Callable[[object, list, list], int]
_MAC_COUNTERS: dict[type, MacCounter] = {}


def register_mac_counter(layer_class: type):
    """Decorator: count the MACs of ``layer_class`` (and its subclasses) with a function.

    The function receives ``(layer, input_shapes, output_shapes)``, shapes being tuples
    *with* the batch axis (``None``), and returns the MACs of one example::

        @register_mac_counter(MyAttention)
        def _(layer, input_shapes, output_shapes):
            return ...
    """

    def decorator(fn: MacCounter) -> MacCounter:
        _MAC_COUNTERS[layer_class] = fn
        return fn

    return decorator


def _prod(values) -> int:
    return int(math.prod(int(v) for v in values))


def _channel_axis(layer) -> int:
    return 1 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1


def _spatial(shape, layer) -> list:
    return list(shape[2:]) if _channel_axis(layer) == 1 else list(shape[1:-1])


def _conv_macs(layer, ins, outs):
    cin = ins[0][_channel_axis(layer)]
    groups = getattr(layer, "groups", 1) or 1
    return _prod(outs[0][1:]) * _prod(layer.kernel_size) * (cin // groups)


def _conv_transpose_macs(layer, ins, outs):
    # Every input value is multiplied by a whole kernel slice: kh·kw·filters products.
    return _prod(ins[0][1:]) * _prod(layer.kernel_size) * layer.filters


def _depthwise_macs(layer, ins, outs):
    return _prod(outs[0][1:]) * _prod(layer.kernel_size)


def _separable_macs(layer, ins, outs):
    cin = ins[0][_channel_axis(layer)]
    positions = _prod(_spatial(outs[0], layer))
    depthwise = positions * cin * layer.depth_multiplier * _prod(layer.kernel_size)
    pointwise = positions * cin * layer.depth_multiplier * layer.filters
    return depthwise + pointwise


def _dense_macs(layer, ins, outs):
    return _prod(ins[0][1:]) * layer.units


def _locally_connected_macs(layer, ins, outs):
    return _prod(outs[0][1:]) * _prod(layer.kernel_size) * ins[0][-1]


def _register_builtin_counters():
    import keras

    from cnncourse.layers import LocallyConnected2D

    L = keras.layers
    for cls in (L.Conv1D, L.Conv2D, L.Conv3D):
        _MAC_COUNTERS.setdefault(cls, _conv_macs)
    for cls in (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose):
        _MAC_COUNTERS.setdefault(cls, _conv_transpose_macs)
    for cls in (L.DepthwiseConv1D, L.DepthwiseConv2D):
        _MAC_COUNTERS.setdefault(cls, _depthwise_macs)
    for cls in (L.SeparableConv1D, L.SeparableConv2D):
        _MAC_COUNTERS.setdefault(cls, _separable_macs)
    _MAC_COUNTERS.setdefault(L.Dense, _dense_macs)
    _MAC_COUNTERS.setdefault(LocallyConnected2D, _locally_connected_macs)


def _zero_mac_types():
    """Layer types whose cost is O(values) and that the papers do not count."""
    import keras

    L = keras.layers
    names = [
        "InputLayer", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
        "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
        "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
        "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D",
        "Rescaling", "Normalization", "Resizing", "CenterCrop", "Permute", "RepeatVector",
        "GaussianNoise",
    ]  # fmt: skip
    found = tuple(getattr(L, n) for n in names if hasattr(L, n))
    from cnncourse.layers import ZeroPadShortcut

    return found + (ZeroPadShortcut,)


def _view_types():
    """Layer types whose output is their input seen differently (no new memory)."""
    import keras

    L = keras.layers
    names = ["Flatten", "Reshape", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
             "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity"]  # fmt: skip
    return tuple(getattr(L, n) for n in names if hasattr(L, n))


def _find_counter(layer):
    for cls in type(layer).__mro__:
        if cls in _MAC_COUNTERS:
            return _MAC_COUNTERS[cls]
    return None


# ---------------------------------------------------------------------- the walk
_SPECIAL_DTYPE_BYTES = {"bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1}


def _dtype_bytes(dtype) -> int:
    name = str(getattr(dtype, "name", dtype))
    if name in _SPECIAL_DTYPE_BYTES:
        return _SPECIAL_DTYPE_BYTES[name]
    return np.dtype(name).itemsize


def _shape_tuple(shape) -> tuple:
    return tuple(None if d is None else int(d) for d in shape)


class _Walker:
    def __init__(self, batch_size: int, copies: int):
        import keras

        self.keras = keras
        self.batch_size = batch_size
        self.copies = copies
        self.rows: list[LayerRow] = []
        self.seen_layers: set[int] = set()
        self.seen_own_weights: set[int] = set()
        self.zero_mac_types = _zero_mac_types()
        self.view_types = _view_types()

    # ---- rows
    def _row(self, name, type_name, out_shapes, out_dtypes, params, trainable, param_bytes, trainable_bytes,
             macs, depth, note, is_view=False):  # fmt: skip
        values = 0 if is_view else sum(_prod(s[1:]) for s in out_shapes)
        act_bytes = 0 if is_view else sum(_prod(s[1:]) * _dtype_bytes(d) for s, d in zip(out_shapes, out_dtypes))
        shapes = tuple(tuple(s[1:]) for s in out_shapes)
        row = LayerRow(
            name=name,
            type=type_name,
            output_shape=shapes[0] if len(shapes) == 1 else shapes,
            params=params,
            trainable_params=trainable,
            macs=macs,
            activation_values=values,
            activation_bytes=act_bytes,
            param_bytes=param_bytes,
            forward_bytes=param_bytes + self.batch_size * act_bytes,
            training_bytes=param_bytes + (self.copies - 1) * trainable_bytes + 2 * self.batch_size * act_bytes,
            depth=depth,
            note=note,
        )
        self.rows.append(row)
        return row

    def _weights_of(self, layer, first_call):
        if not first_call:
            return 0, 0, 0, 0
        return _weight_sums(getattr(layer, "weights", []))

    # ---- one call of one layer
    def account_call(self, layer, in_shapes, in_dtypes, out_shapes, out_dtypes, prefix, depth):
        name = prefix + layer.name
        if _find_counter(layer) is None and (_sublayers(layer) or _graph_of(layer) is not None):
            self._account_group(layer, in_shapes, in_dtypes, out_shapes, out_dtypes, name, depth)
        else:
            self._account_leaf(layer, in_shapes, out_shapes, out_dtypes, name, depth)

    def _account_leaf(self, layer, in_shapes, out_shapes, out_dtypes, name, depth, note=""):
        first_call = id(layer) not in self.seen_layers
        self.seen_layers.add(id(layer))
        params, trainable, param_bytes, trainable_bytes = self._weights_of(layer, first_call)
        notes = [note] if note else []
        if not first_call:
            notes.append("shared weights (counted at first call)")
        counter = _find_counter(layer)
        if counter is not None:
            macs = int(counter(layer, in_shapes, out_shapes))
        else:
            macs = 0
            if not isinstance(layer, self.zero_mac_types + self.view_types):
                kind = "layer type" if isinstance(layer, self.keras.layers.Layer) else "operation"
                notes.append(f"unknown {kind}: MACs not counted")
        is_view = isinstance(layer, self.view_types)
        if is_view:
            notes.append("view of its input (no new memory)")
        self._row(name, type(layer).__name__, out_shapes, out_dtypes, params, trainable, param_bytes,
                  trainable_bytes, macs, depth, "; ".join(notes), is_view=is_view)  # fmt: skip

    def _account_group(self, layer, in_shapes, in_dtypes, out_shapes, out_dtypes, name, depth):
        graph = _graph_of(layer)
        calls = None
        if graph is None or not _compatible(graph, in_shapes):
            try:
                calls = _trace_sublayer_calls(layer, in_shapes, in_dtypes)
            except _CannotTrace as error:
                # Count the whole layer as one row rather than lose its weights.
                self._account_leaf(layer, in_shapes, out_shapes, out_dtypes, name, depth, note=str(error))
                return
        group_index = len(self.rows)
        self.rows.append(None)  # placeholder, replaced once the children are known
        first_child = len(self.rows)
        note = ""
        if calls is None:
            self.walk_graph(graph, name + "/", depth + 1, include_inputs=False)
        else:
            for child, c_in, c_in_dtypes, c_out, c_out_dtypes in calls:
                self.account_call(child, c_in, c_in_dtypes, c_out, c_out_dtypes, name + "/", depth + 1)
        own = _own_weights(layer)
        if own and id(layer) not in self.seen_own_weights:
            # Weights created by the composite layer itself, not by a sublayer.
            self.seen_own_weights.add(id(layer))
            params, trainable, param_bytes, trainable_bytes = _weight_sums(own)
            self._row(name + "/(own weights)", type(layer).__name__, [(None,)], ["float32"], params, trainable,
                      param_bytes, trainable_bytes, 0, depth + 1,
                      "weights of the layer itself: MACs not counted", is_view=True)  # fmt: skip
        leaves = [r for r in self.rows[first_child:] if not r.is_group]
        shapes = tuple(tuple(s[1:]) for s in out_shapes)
        self.rows[group_index] = LayerRow(
            name=name,
            type=type(layer).__name__,
            output_shape=shapes[0] if len(shapes) == 1 else shapes,
            params=sum(r.params for r in leaves),
            trainable_params=sum(r.trainable_params for r in leaves),
            macs=sum(r.macs for r in leaves),
            activation_values=sum(r.activation_values for r in leaves),
            activation_bytes=sum(r.activation_bytes for r in leaves),
            param_bytes=sum(r.param_bytes for r in leaves),
            forward_bytes=sum(r.forward_bytes for r in leaves),
            training_bytes=sum(r.training_bytes for r in leaves),
            depth=depth,
            is_group=True,
            note=note,
        )

    # ---- a Functional graph
    def walk_graph(self, graph, prefix, depth, include_inputs=True):
        from keras.src.ops.function import make_node_key  # how a graph names its nodes

        input_layer_type = self.keras.layers.InputLayer
        for operation in graph.operations:
            if isinstance(operation, input_layer_type):
                if include_inputs:
                    tensor = operation.output
                    self._row(prefix + operation.name, "InputLayer", [_shape_tuple(tensor.shape)], [tensor.dtype],
                              0, 0, 0, 0, 0, depth, "")  # fmt: skip
                continue
            for index, node in enumerate(operation._inbound_nodes):
                if make_node_key(operation, index) not in graph._nodes:
                    continue
                ins = [_shape_tuple(t.shape) for t in node.input_tensors]
                outs = [_shape_tuple(t.shape) for t in node.output_tensors]
                self.account_call(
                    operation, ins, [t.dtype for t in node.input_tensors], outs,
                    [t.dtype for t in node.output_tensors], prefix, depth,
                )  # fmt: skip


class _CannotTrace(Exception):
    pass


def _sublayers(layer) -> list:
    if not hasattr(layer, "_flatten_layers"):
        return []
    return layer._flatten_layers(include_self=False, recursive=False)


def _weight_sums(weights) -> tuple[int, int, int, int]:
    """(params, trainable params, bytes, trainable bytes) of a list of variables."""
    weights = list(weights)
    trainable = [w for w in weights if w.trainable]
    return (
        sum(_prod(w.shape) for w in weights),
        sum(_prod(w.shape) for w in trainable),
        sum(_prod(w.shape) * _dtype_bytes(w.dtype) for w in weights),
        sum(_prod(w.shape) * _dtype_bytes(w.dtype) for w in trainable),
    )


def _own_weights(layer) -> list:
    """Variables of ``layer`` that belong to none of its sublayers."""
    inner = {id(w) for sub in _sublayers(layer) for w in getattr(sub, "weights", [])}
    return [w for w in getattr(layer, "weights", []) if id(w) not in inner]


def _graph_of(model):
    """The Functional graph of a Functional or built Sequential model, else None."""
    import keras

    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes") and hasattr(model, "operations") and hasattr(model, "_nodes_by_depth"):
        return model
    return None


def _compatible(graph, in_shapes) -> bool:
    """True if the graph's own input shapes are as specific as the call's."""
    own = [_shape_tuple(t.shape) for t in graph.inputs]
    if len(own) != len(in_shapes):
        return False
    for a, b in zip(own, in_shapes):
        if len(a) != len(b) or any(x is None and y is not None for x, y in zip(a[1:], b[1:])):
            return False
    return True


def _trace_sublayer_calls(layer, in_shapes, in_dtypes):
    """Run ``layer`` once on zeros and record each direct sublayer call, in order.

    Returns a list of ``(sublayer, input_shapes, input_dtypes, output_shapes, output_dtypes)``
    with batch axes set to None.
    """
    import keras

    if any(d is None for s in in_shapes for d in s[1:]):
        shapes = ", ".join(_format_shape(s[1:]) for s in in_shapes)
        raise _CannotTrace(f"input shape {shapes} not fully known: sublayers not listed")
    children = layer._flatten_layers(include_self=False, recursive=False)
    records = []

    def tensors(structure):
        return [t for t in keras.tree.flatten(structure) if hasattr(t, "shape") and hasattr(t, "dtype")]

    def unbatched(t):
        return (None,) + _shape_tuple(t.shape)[1:]

    def wrap(child, original):
        def recording_call(*args, **kwargs):
            outputs = original(*args, **kwargs)
            ins, outs = tensors(args), tensors(outputs)
            records.append(
                (child, [unbatched(t) for t in ins], [t.dtype for t in ins],
                 [unbatched(t) for t in outs], [t.dtype for t in outs])
            )  # fmt: skip
            return outputs

        return recording_call

    for child in children:
        object.__setattr__(child, "call", wrap(child, child.call))
    try:
        inputs = [keras.ops.zeros((1,) + tuple(s[1:]), dtype=d) for s, d in zip(in_shapes, in_dtypes)]
        kwargs = {"training": False} if getattr(layer, "_call_has_training_arg", False) else {}
        layer(inputs[0] if len(inputs) == 1 else inputs, **kwargs)
    finally:
        for child in children:
            object.__delattr__(child, "call")
    return records


def layer_table(model, input_shape=None, batch_size: int = 1, optimizer: str = "sgd") -> LayerTable:
    """Account a Keras model (or layer) layer by layer.

    Args:
        model: a ``keras.Model``: Functional, or Sequential with a known input shape, is
            read from its graph; a subclassed model or a single layer is run once on zeros
            of ``input_shape``. Nested models and layers with sublayers are opened (see the
            module docstring).
        input_shape: shape of one example without the batch axis, e.g. ``(32, 32, 3)``;
            needed only for a model or layer without a graph.
        batch_size: examples per step, for the forward and training memory estimates.
        optimizer: ``"sgd"``, ``"momentum"`` or ``"adam"``: how many copies of the
            trainable weights training keeps (2, 3 or 4).

    Returns:
        A :class:`LayerTable`; ``print`` it, or read ``rows`` and ``totals``.

    Raises:
        TypeError: if ``model`` is not a Keras layer or model.
        ValueError: for a bad ``batch_size``, an unknown optimizer, or a model without a
            graph and without ``input_shape``.
    """
    import keras

    _register_builtin_counters()
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.Model or keras.layers.Layer, got {type(model).__name__}")
    batch_size = check_positive_int("batch_size", batch_size)
    check_choice("optimizer", optimizer, OPTIMIZER_PARAMETER_COPIES, "optimizer")
    walker = _Walker(batch_size, OPTIMIZER_PARAMETER_COPIES[optimizer])
    graph = _graph_of(model)
    if graph is not None and input_shape is None:
        walker.walk_graph(graph, "", 0)
    else:
        if input_shape is None:
            raise ValueError(
                f"{type(model).__name__} {model.name!r} has no graph to read shapes from: "
                "pass input_shape=(height, width, channels) (one example, no batch axis)"
            )
        in_shape = (None,) + check_int_sequence("input_shape", input_shape, min_length=1)
        dtype = getattr(model, "input_dtype", None) or "float32"
        example = keras.ops.zeros((1,) + in_shape[1:], dtype=dtype)
        kwargs = {"training": False} if getattr(model, "_call_has_training_arg", False) else {}
        outputs = keras.tree.flatten(model(example, **kwargs))
        walker._row("input", "InputLayer", [in_shape], [dtype], 0, 0, 0, 0, 0, 0, "")
        walker.account_call(
            model, [in_shape], [dtype], [(None,) + _shape_tuple(o.shape)[1:] for o in outputs],
            [o.dtype for o in outputs], "", 0,
        )  # fmt: skip
    return LayerTable(model_name=model.name, rows=walker.rows, batch_size=batch_size, optimizer=optimizer)
