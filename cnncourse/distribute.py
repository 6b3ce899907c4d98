"""Training on one device or several: pick a ``tf.distribute`` strategy, build and fit under it.

With two or more GPUs visible, :func:`pick_strategy` returns a ``MirroredStrategy`` over them
(one model replica per GPU, gradients averaged every step); otherwise TensorFlow's default
strategy, which is plain single-device training. The helpers below take ``strategy=`` and
create the model and its optimizer inside ``strategy.scope()``, which is all Keras needs::

    from cnncourse import distribute

    strategy = distribute.pick_strategy()                 # Mirrored on a multi-GPU machine
    model, history = distribute.fit(lambda: models.lenet5(), x_train, y_train,
                                    optimizer=lambda: keras.optimizers.Adam(1e-3),
                                    loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                                    epochs=5, batch_size=128, strategy=strategy)

``batch_size`` is always the *global* batch: a MirroredStrategy over N devices gives each
replica ``batch_size / N`` examples and averages their gradients, so the same code computes
the same updates (within floating-point rounding) on one device or on N. One exception:
``BatchNormalization`` normalises with the statistics of each replica's share of the batch
unless it is built with ``synchronized=True``, so its training differs slightly on N devices.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from cnncourse._tensorflow import import_tensorflow
from cnncourse._validation import check_bool, check_positive_int, describe


def _device_names(name: str, devices) -> list[str]:
    if isinstance(devices, (str, bytes)) or not isinstance(devices, Sequence):
        raise TypeError(f"{name} must be a list of devices (tf.config.LogicalDevice or names such as "
                        f"'/gpu:0'), got {describe(devices)}")
    names = []
    for index, device in enumerate(devices):
        device_name = device if isinstance(device, str) else getattr(device, "name", None)
        if not isinstance(device_name, str) or not device_name:
            raise TypeError(f"{name}[{index}] must be a device name or a tf.config.LogicalDevice, "
                            f"got {describe(device)}")
        names.append(device_name)
    if len(set(names)) != len(names):
        raise ValueError(f"{name} must name each device once, got {names}")
    return names


def pick_strategy(devices=None):
    """The strategy for this machine: ``MirroredStrategy`` over ≥ 2 devices, the default one otherwise.

    Args:
        devices: the devices to train on, as ``tf.config.LogicalDevice`` objects or names
            (``"/gpu:0"``); ``None`` means every GPU TensorFlow sees
            (``tf.config.list_logical_devices("GPU")``).

    Returns:
        ``tf.distribute.MirroredStrategy(devices)`` when there are two or more devices,
        else ``tf.distribute.get_strategy()`` (the default, single-device strategy).
    """
    tf = import_tensorflow()
    if devices is None:
        devices = tf.config.list_logical_devices("GPU")
    names = _device_names("devices", devices)
    if len(names) >= 2:
        return tf.distribute.MirroredStrategy(names)
    return tf.distribute.get_strategy()


def describe_strategy(strategy=None) -> str:
    """One line naming ``strategy`` (default: :func:`pick_strategy`) and its replicas."""
    strategy = pick_strategy() if strategy is None else _checked_strategy(strategy)
    replicas = strategy.num_replicas_in_sync
    kind = type(strategy).__name__
    if kind == "_DefaultDistributionStrategy":
        return "default strategy (one device)"
    devices = getattr(strategy.extended, "worker_devices", ())
    return f"{kind} over {replicas} replica{'s' if replicas != 1 else ''}" + (
        f" ({', '.join(devices)})" if devices else "")


def _checked_strategy(strategy):
    tf = import_tensorflow()
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"strategy must be a tf.distribute.Strategy (e.g. from cnncourse.distribute.pick_strategy()) "
                        f"or None, got {describe(strategy)}")
    return strategy


def _make(value):
    """``value()`` if it is a factory (class or function), else ``value`` itself (a name such as "adam")."""
    return value() if callable(value) and not isinstance(value, str) else value


def build_and_compile(build: Callable[[], Any], *, optimizer, loss, metrics: Sequence = (), strategy=None,
                      **compile_kwargs):
    """Build a model with ``build()`` and compile it, both inside ``strategy.scope()``.

    Args:
        build: a function of no arguments returning an uncompiled ``keras.Model``.
        optimizer: a Keras optimizer name (``"adam"``) or a function of no arguments returning
            an optimizer (``lambda: keras.optimizers.Adam(1e-3)``): its variables must be made
            in the scope, so an optimizer *object* made elsewhere is refused.
        loss, metrics, compile_kwargs: passed to ``model.compile``.
        strategy: a ``tf.distribute.Strategy``; ``None`` means :func:`pick_strategy`.

    Returns:
        The compiled model, its variables mirrored on every replica of ``strategy``.
    """
    import keras

    if not callable(build) or isinstance(build, keras.Model):
        raise TypeError(f"build must be a function of no arguments returning a keras.Model (its variables are made "
                        f"inside the strategy's scope), got {describe(build)}")
    if isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError("optimizer must be a name or a function returning an optimizer (e.g. "
                        "lambda: keras.optimizers.Adam(1e-3)), not an optimizer object: its variables have to be "
                        "created inside the strategy's scope")
    if not (isinstance(optimizer, str) or callable(optimizer)):
        raise TypeError(f"optimizer must be a Keras optimizer name or a function returning an optimizer, "
                        f"got {describe(optimizer)}")
    strategy = pick_strategy() if strategy is None else _checked_strategy(strategy)
    with strategy.scope():
        model = build()
        if not isinstance(model, keras.Model):
            raise TypeError(f"build() must return a keras.Model, returned {describe(model)}")
        model.compile(optimizer=_make(optimizer), loss=loss, metrics=list(metrics), **compile_kwargs)
    return model


def fit(build: Callable[[], Any], x, y=None, *, optimizer, loss, metrics: Sequence = (), epochs: int = 1,
        batch_size: int = 32, validation_data=None, shuffle: bool = True, strategy=None, verbose: int = 0,
        **compile_kwargs):
    """Build, compile and train a model under ``strategy``; return ``(model, history dict)``.

    Args:
        build, optimizer, loss, metrics, compile_kwargs: see :func:`build_and_compile`.
        x, y: training inputs and targets, as for ``model.fit`` (arrays, or a ``tf.data`` /
            dataset ``x`` with ``y=None``).
        epochs: passes over the data.
        batch_size: the *global* batch size (split over the replicas); ignored for datasets,
            which are batched already.
        validation_data: as for ``model.fit``.
        shuffle: reshuffle the arrays every epoch (the order follows Keras's seed).
        strategy: a ``tf.distribute.Strategy``; ``None`` means :func:`pick_strategy`.
        verbose: ``model.fit``'s verbosity.

    Returns:
        ``(model, history)`` with ``history = model.fit(...).history`` (lists per metric).
    """
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle = check_bool("shuffle", shuffle)
    strategy = pick_strategy() if strategy is None else _checked_strategy(strategy)
    model = build_and_compile(build, optimizer=optimizer, loss=loss, metrics=metrics, strategy=strategy,
                              **compile_kwargs)
    tf = import_tensorflow()
    is_dataset = isinstance(x, tf.data.Dataset)
    history = model.fit(x, y, epochs=epochs, batch_size=None if is_dataset else batch_size,
                        validation_data=validation_data, shuffle=shuffle, verbose=verbose)
    return model, history.history
