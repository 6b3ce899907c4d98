"""The fine-tuning recipe of deck 003 as one function, and the blocks it unfreezes.

1. Put a fresh linear head (``Dense(num_classes)``, logits) on a pre-trained base, its inputs
   standardised with the statistics of the training features.
2. Freeze the base, train the head (a few epochs, ordinary learning rate).
3. Unfreeze the top ``N`` blocks of the base and train again with a smaller learning rate.

BatchNorm stays in inference mode throughout: the base is called with ``training=False``
(as Keras's transfer-learning guide does) and the BatchNorm layers of the unfrozen blocks
stay frozen, so their moving mean and variance (learnt on the source task) are kept and the
small target batches never replace them. The freezing is what does it: in Keras 3.15 a
functional model passes ``fit``'s ``training=True`` on to every nested layer, overriding the
``training=False`` of the nested call (tests/test_transfer_fine_tune.py shows it), and a
``BatchNormalization`` layer normalises with batch statistics only when it is trainable. ``batchnorm_training=True`` shows the classic mistake instead: BatchNorm layers
unfrozen and the base called in training mode, so during fine-tuning each layer normalises
with the statistics of the current batch and drifts its moving averages towards them; at
evaluation time the moving averages (half source, half target after a few hundred steps)
no longer match what the next layers were trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cnncourse._validation import check_bool, check_float, check_non_negative_int, check_positive_int, check_seed, describe

# Block of a layer, from its name: course CNN and VGG16 "block3_conv1", ResNet50
# "conv4_block2_1_conv", MobileNetV2 "block_13_expand" (its "Conv1"/"expanded_conv_*" stem and
# "Conv_1"/"out_relu" top are blocks of their own).
_BLOCK_PATTERNS = (
    re.compile(r"^(conv\d+_block\d+)_"),
    re.compile(r"^(block_\d+)_"),
    re.compile(r"^(block\d+)(?:_|$)"),
    re.compile(r"^(expanded_conv)_"),
    re.compile(r"^(conv\d+)_"),
)


def backbone_blocks(model) -> list[tuple[str, list]]:
    """The blocks of a backbone, bottom to top, as ``[(block_name, [layer, ...]), ...]``.

    A layer's block is read from its name (``block3_conv1`` → ``block3``; ResNet50's
    ``conv4_block2_1_conv`` → ``conv4_block2``; MobileNetV2's ``block_13_expand`` →
    ``block_13``). A layer with another name joins the block before it, or a block of its
    own when it has weights and follows no block (a stem) or when its name starts a new
    group (MobileNetV2's ``Conv_1``). Layers without weights before the first block
    (``InputLayer``) are left out.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {describe(model)}")
    blocks: list[tuple[str, list]] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        name = next((m.group(1) for p in (*_BLOCK_PATTERNS,) if (m := p.match(layer.name))), None)
        if name is None:
            if layer.weights and (not blocks or layer.name in ("Conv_1", "Conv1")):
                name = layer.name
            elif blocks:
                name = blocks[-1][0]
            else:
                continue
        if blocks and blocks[-1][0] == name:
            blocks[-1][1].append(layer)
        else:
            blocks.append((name, [layer]))
    return blocks


@dataclass
class FineTuneResult:
    """What :func:`fine_tune` returns.

    Attributes:
        model: the whole network (base + head), ``(N, H, W, C)`` → ``(N, num_classes)`` logits,
            compiled with sparse cross-entropy and ``"accuracy"``.
        head_history: ``History.history`` of phase 1 (head only): ``{"loss": [...],
            "accuracy": [...]}`` plus ``"val_loss"``, ``"val_accuracy"`` with ``val``;
            ``{}`` when ``head_epochs=0``.
        fine_tune_history: the same for phase 2; ``{}`` when ``fine_tune_epochs=0``.
        unfrozen_blocks: names of the base's blocks trained in phase 2 (``()`` without one).
    """

    model: object
    head_history: dict = field(default_factory=dict)
    fine_tune_history: dict = field(default_factory=dict)
    unfrozen_blocks: tuple[str, ...] = ()


def _data(name: str, data, batch_size: int, required: bool):
    """``(x, y)`` arrays or a ``tf.data.Dataset`` → keyword arguments of ``fit``."""
    if data is None:
        if required:
            raise TypeError(f"{name} must be (images, labels) or a tf.data.Dataset, got None")
        return None
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        return data
    from cnncourse.transfer.probe import _check_split

    return _check_split(name, data)


def fine_tune(base, train, val=None, *, num_classes: int, head_epochs: int = 5, fine_tune_epochs: int = 5,
              unfreeze_blocks=1, head_learning_rate: float = 1e-3, fine_tune_learning_rate: float = 1e-4,
              batch_size: int = 32, dropout: float = 0.0, normalize_features: bool = True,
              batchnorm_training: bool = False, strategy=None, seed: int = 0, verbose: int = 1) -> FineTuneResult:
    """Fine-tune a pre-trained base on a target task (deck 003's recipe), in two phases.

    Args:
        base: a ``keras.Model`` backbone, e.g. :func:`cnncourse.transfer.load_backbone` (output
            ``(N, D)``) or an ImageNet one (output a 4-D map, global-average-pooled here). Its
            weights are changed in place in phase 2: load a fresh copy for each experiment.
        train: ``(images, labels)`` — images ``(N, H, W, C)`` as the base expects, labels int
            ``(N,)`` in ``0..num_classes-1`` — or a batched ``tf.data.Dataset`` of such pairs.
        val: the same for validation (optional): adds ``val_loss`` / ``val_accuracy``.
        num_classes: classes of the target task (≥ 2).
        head_epochs: phase 1 epochs, base frozen (0 skips the phase).
        fine_tune_epochs: phase 2 epochs (0 skips the phase).
        unfreeze_blocks: how many top blocks of :func:`backbone_blocks` phase 2 trains
            (an int ≥ 0, or ``"all"``). ``fine_tune(build_backbone(), ..., head_epochs=0,
            unfreeze_blocks="all", fine_tune_learning_rate=1e-3)`` trains from scratch.
        head_learning_rate, fine_tune_learning_rate: Adam learning rates of the two phases.
        batch_size: for array inputs.
        dropout: dropout rate before the head (0 = none).
        normalize_features: put a ``keras.layers.Normalization`` (``"head_norm"``) before the
            head, adapted to the base's features of the training images (mean 0, variance 1
            per feature, as a linear probe does). Without it a head on pooled features of
            images unlike the source (digits) learns slowly: the features share a large
            offset and vary little.
        batchnorm_training: demonstrate the mistake (see the module docstring): BatchNorm of
            the unfrozen blocks trainable and the base called in training mode.
        strategy: an optional ``tf.distribute.Strategy``; the head is built and the model
            compiled in its scope (create the base inside ``strategy.scope()`` as well).
        seed: seeds Keras (head initialisation, shuffling, dropout).
        verbose: ``fit`` verbosity (0, 1 progress bar, 2 one line per epoch); with ≥ 1 a line
            announces each phase and its trainable weights.

    Returns:
        :class:`FineTuneResult` ``(model, head_history, fine_tune_history, unfrozen_blocks)``.
    """
    import keras

    if not isinstance(base, keras.Model):
        raise TypeError(f"base must be a keras.Model, got {describe(base)}")
    num_classes = check_positive_int("num_classes", num_classes)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    head_epochs = check_non_negative_int("head_epochs", head_epochs)
    fine_tune_epochs = check_non_negative_int("fine_tune_epochs", fine_tune_epochs)
    blocks = backbone_blocks(base)
    if unfreeze_blocks == "all":
        unfreeze_blocks = len(blocks)
    elif isinstance(unfreeze_blocks, str) or not isinstance(unfreeze_blocks, int) or isinstance(unfreeze_blocks, bool):
        raise TypeError(f"unfreeze_blocks must be an int or 'all', got {describe(unfreeze_blocks)}")
    if not 0 <= unfreeze_blocks <= len(blocks):
        raise ValueError(f"unfreeze_blocks must be in 0..{len(blocks)} (the base has {len(blocks)} blocks: "
                         f"{', '.join(b for b, _ in blocks)}) or 'all', got {unfreeze_blocks}")
    head_learning_rate = check_float("head_learning_rate", head_learning_rate, minimum=0.0, include_minimum=False)
    fine_tune_learning_rate = check_float("fine_tune_learning_rate", fine_tune_learning_rate, minimum=0.0,
                                          include_minimum=False)
    batch_size = check_positive_int("batch_size", batch_size)
    dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, include_maximum=False)
    normalize_features = check_bool("normalize_features", normalize_features)
    batchnorm_training = check_bool("batchnorm_training", batchnorm_training)
    seed = check_seed("seed", seed)
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0, 1 or 2, got {describe(verbose)}")
    train = _data("train", train, batch_size, required=True)
    val = _data("val", val, batch_size, required=False)
    if strategy is not None:
        import tensorflow as tf

        if not isinstance(strategy, tf.distribute.Strategy):
            raise TypeError(f"strategy must be a tf.distribute.Strategy or None, got {describe(strategy)}")

    keras.utils.set_random_seed(seed)
    def scope():
        return strategy.scope() if strategy is not None else _NullScope()

    with scope():
        inputs = keras.Input(base.input_shape[1:], name="images")
        # training=False as in Keras's guide; frozen BatchNorm layers are what keep inference mode.
        x = base(inputs) if batchnorm_training else base(inputs, training=False)
        if len(x.shape) == 4:
            x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
        if normalize_features:
            normalization = keras.layers.Normalization(name="head_norm")
            features = keras.Model(inputs, x)
            if isinstance(train, tuple):
                normalization.adapt(features.predict(train[0], batch_size=256, verbose=0))
            else:
                normalization.adapt(train.map(lambda images, labels: features(images, training=False)))
            x = normalization(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seed, name="head_dropout")(x)
        outputs = keras.layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                                     name="head")(x)
        model = keras.Model(inputs, outputs, name=f"{base.name}_fine_tuned")

    def compile_and_fit(learning_rate: float, epochs: int, phase: str) -> dict:
        with scope():
            model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        if verbose:
            count = sum(_size(w.shape) for w in model.trainable_weights)
            print(f"{phase}: {epochs} epoch(s) at learning rate {learning_rate:g}, {count:,} trainable weights", flush=True)
        if isinstance(train, tuple):
            history = model.fit(train[0], train[1], batch_size=batch_size, epochs=epochs, shuffle=True,
                                validation_data=val, verbose=verbose)
        else:
            history = model.fit(train, epochs=epochs, validation_data=val, shuffle=False, verbose=verbose)
        return {k: [float(v) for v in vs] for k, vs in history.history.items()}

    head_history: dict = {}
    fine_tune_history: dict = {}
    base.trainable = False
    if head_epochs:
        head_history = compile_and_fit(head_learning_rate, head_epochs, "phase 1 (base frozen, head only)")
    unfrozen = tuple(name for name, _ in blocks[len(blocks) - unfreeze_blocks:]) if fine_tune_epochs else ()
    if fine_tune_epochs:
        base.trainable = True
        for name, layers in blocks:
            for layer in layers:
                is_batchnorm = isinstance(layer, keras.layers.BatchNormalization)
                layer.trainable = name in unfrozen and (batchnorm_training or not is_batchnorm)
        what = f"top {unfreeze_blocks} block(s) unfrozen: {', '.join(unfrozen) or 'none'}"
        what += ", BatchNorm in training mode" if batchnorm_training else ", BatchNorm frozen in inference mode"
        fine_tune_history = compile_and_fit(fine_tune_learning_rate, fine_tune_epochs, f"phase 2 ({what})")
    return FineTuneResult(model, head_history, fine_tune_history, unfrozen)


def _size(shape) -> int:
    count = 1
    for dim in shape:
        count *= int(dim)
    return count


class _NullScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
