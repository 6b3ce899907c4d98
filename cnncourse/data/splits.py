"""Containers for classification data split into train / val / test, and their tf.data form.

Every classification loader (:func:`~cnncourse.data.load_digits`,
:func:`~cnncourse.data.load_faces`, :func:`~cnncourse.data.load_shape_classes`) returns a
:class:`Splits`::

    data = load_digits()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data   # unpacks like Keras' load_data
    data.train.images.shape     # (N, 28, 28, 1) float32 in [0, 1]
    data.class_names            # ('0', '1', ..., '9')

With ``as_dataset=True`` the three splits are batched, prefetched ``tf.data.Dataset`` s of
``(images, labels)`` pairs instead, ready for ``model.fit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from cnncourse._validation import check_array, check_bool, check_positive_int, check_seed


class ArraySplit(NamedTuple):
    """One split as NumPy arrays.

    Attributes:
        images: float32 ``(N, H, W, C)`` in ``[0, 1]``.
        labels: int32 ``(N,)``, class indices into ``Splits.class_names``.
    """

    images: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True, eq=False)
class Splits:
    """Train / validation / test splits and the class names.

    ``train``, ``val`` and ``test`` are :class:`ArraySplit` s, or ``tf.data.Dataset`` s of
    ``(images, labels)`` batches when the loader was called with ``as_dataset=True``.
    Iterating gives ``train, val, test`` (so ``train, val, test = data`` works).
    """

    train: Any
    val: Any
    test: Any
    class_names: tuple[str, ...]

    def __iter__(self):
        return iter((self.train, self.val, self.test))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def to_dataset(images, labels, batch_size: int = 32, shuffle: bool = False, seed: int = 0):
    """A batched, prefetched ``tf.data.Dataset`` of ``(images, labels)`` from arrays.

    Args:
        images: ``(N, H, W, C)`` array (any numeric dtype; kept as is).
        labels: ``(N,)`` integer array.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle: reshuffle the examples every epoch (deterministically from ``seed``).
        seed: the shuffle seed.

    Returns:
        ``tf.data.Dataset`` yielding ``(images[B, H, W, C], labels[B])``.
    """
    from cnncourse.runtime import import_tensorflow

    images = check_array("images", images, ndim=4, what="(N, H, W, C)")
    labels = check_array("labels", labels, ndim=1, kinds="iu", what="(N,)")
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle = check_bool("shuffle", shuffle)
    seed = check_seed("seed", seed)
    tf = import_tensorflow()
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int):
    """Indices ``(train, val, test)`` of a deterministic stratified split of ``labels``.

    The test and validation splits get ``round(fraction · N)`` examples each; scikit-learn's
    ``train_test_split`` draws them (test first, then val from the rest) keeping the class
    proportions. Each split comes in a shuffled (seed-determined) order, so that its first
    images show a mix of classes.
    """
    from sklearn.model_selection import train_test_split

    n = len(labels)
    n_test, n_val = round(test_fraction * n), round(val_fraction * n)
    indices = np.arange(n)
    rest, test = indices, indices[:0]
    if n_test > 0:
        rest, test = train_test_split(indices, test_size=n_test, stratify=labels, random_state=seed)
    train, val = rest, rest[:0]
    if n_val > 0:
        train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed + 1)
    return train, val, test


def make_splits(
    images: np.ndarray,
    labels: np.ndarray,
    class_names,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    as_dataset: bool,
    batch_size: int,
) -> Splits:
    """Split arrays into a :class:`Splits` (NumPy, or tf.data with a shuffled train split)."""
    train, val, test = stratified_split(labels, val_fraction, test_fraction, seed)
    parts = [ArraySplit(images[idx], labels[idx].astype(np.int32)) for idx in (train, val, test)]
    if as_dataset:
        parts = [
            to_dataset(part.images, part.labels, batch_size=batch_size, shuffle=(i == 0), seed=seed)
            for i, part in enumerate(parts)
        ]
    return Splits(*parts, class_names=tuple(class_names))
