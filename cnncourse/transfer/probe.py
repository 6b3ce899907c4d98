"""Linear probes: how well a linear classifier on one layer's features solves a target task.

Deck 004's Zeiler–Fergus table chops a pre-trained network at layer 1, 2, …, 7, trains a
linear classifier (SVM or softmax) on each layer's features for another data set, and finds
that deeper layers transfer better. :func:`linear_probe` builds that table for any Keras
model: features from :func:`cnncourse.transfer.extract_features`, standardised (mean 0,
variance 1 per feature, statistics from the training set), then scikit-learn's multinomial
``LogisticRegression`` (a softmax classifier, L2-regularised with strength ``1 / C``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncourse._validation import check_array, check_float, check_positive_int, check_seed, describe


@dataclass(frozen=True)
class ProbeRow:
    """One layer of a probe table: its name, feature size and the probe's accuracies."""

    layer: str
    features: int
    train_accuracy: float
    test_accuracy: float


@dataclass(frozen=True)
class ProbeTable:
    """The result of :func:`linear_probe`: one :class:`ProbeRow` per layer, bottom to top."""

    rows: tuple[ProbeRow, ...]
    pooling: str = "avg"

    @property
    def test_accuracy(self) -> dict[str, float]:
        """``{layer: test accuracy}``."""
        return {row.layer: row.test_accuracy for row in self.rows}

    @property
    def train_accuracy(self) -> dict[str, float]:
        """``{layer: training accuracy}``."""
        return {row.layer: row.train_accuracy for row in self.rows}

    def __str__(self) -> str:
        width = max(len("layer"), *(len(row.layer) for row in self.rows))
        lines = [f"{'layer':<{width}}  features  train acc  test acc   (linear probe, {self.pooling} pooling)"]
        lines += [f"{row.layer:<{width}}  {row.features:>8}  {row.train_accuracy:>9.3f}  {row.test_accuracy:>8.3f}"
                  for row in self.rows]
        return "\n".join(lines)


def _check_split(name: str, split):
    """``(images, labels)`` with matching lengths and integer labels."""
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise TypeError(f"{name} must be a tuple (images, labels), got {describe(split)}")
    images = check_array(f"{name}[0] (images)", split[0], ndim=4, kinds="uif", what="(N, H, W, C)")
    labels = check_array(f"{name}[1] (labels)", split[1], ndim=1, kinds="iu", what="(N,) of int")
    if len(images) != len(labels):
        raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels")
    return images, labels


def probe_features(train_features, train_labels, test_features, test_labels, *, C: float = 1.0, seed: int = 0,
                   max_iter: int = 2000) -> tuple[float, float]:
    """Fit a linear softmax classifier on features you already have and score it.

    Args:
        train_features: float ``(N, D)``; train_labels: int ``(N,)``.
        test_features: float ``(M, D)``; test_labels: int ``(M,)``.
        C: inverse L2 strength of scikit-learn's ``LogisticRegression`` (> 0).
        seed: its ``random_state``.
        max_iter: lbfgs iterations (> 0).

    Returns:
        ``(train_accuracy, test_accuracy)``, floats in ``[0, 1]``.
    """
    x_train = check_array("train_features", train_features, ndim=2, kinds="biuf", what="(N, D)")
    y_train = check_array("train_labels", train_labels, ndim=1, kinds="iu", what="(N,) of int")
    x_test = check_array("test_features", test_features, ndim=2, kinds="biuf", what="(M, D)")
    y_test = check_array("test_labels", test_labels, ndim=1, kinds="iu", what="(M,) of int")
    if len(x_train) != len(y_train):
        raise ValueError(f"train_features has {len(x_train)} rows but train_labels has {len(y_train)}")
    if len(x_test) != len(y_test):
        raise ValueError(f"test_features has {len(x_test)} rows but test_labels has {len(y_test)}")
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError(f"test_features must have {x_train.shape[1]} columns like train_features, got {x_test.shape[1]}")
    if len(np.unique(y_train)) < 2:
        raise ValueError("train_labels must hold at least two classes")
    C = check_float("C", C, minimum=0.0, include_minimum=False)
    seed = check_seed("seed", seed)
    max_iter = check_positive_int("max_iter", max_iter)
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(x_train.astype(np.float64), y_train)
    return (float(classifier.score(x_train.astype(np.float64), y_train)),
            float(classifier.score(x_test.astype(np.float64), y_test)))


def linear_probe(model, train, test, layers=None, *, pooling: str = "avg", C: float = 1.0, seed: int = 0,
                 batch_size: int = 256) -> ProbeTable:
    """The Zeiler–Fergus table: a linear classifier on each layer's features of ``model``.

    Args:
        model: a ``keras.Model`` (default layers: the course CNN's ``BLOCK_NAMES``).
        train, test: ``(images, labels)``: images ``(N, H, W, C)`` as the model expects,
            labels int ``(N,)``.
        layers: layer names, bottom to top (default ``transfer.BLOCK_NAMES``).
        pooling: ``"avg"``, ``"max"`` or ``"flatten"`` (see :mod:`cnncourse.transfer.features`).
        C, seed: of the probe (see :func:`probe_features`).
        batch_size: of the feature extraction.

    Returns:
        :class:`ProbeTable` (``str(table)`` prints it; ``table.test_accuracy[layer]``).
    """
    from cnncourse.transfer.backbone import BLOCK_NAMES
    from cnncourse.transfer.features import extract_features

    x_train, y_train = _check_split("train", train)
    x_test, y_test = _check_split("test", test)
    names = list(BLOCK_NAMES if layers is None else ([layers] if isinstance(layers, str) else layers))
    train_features = extract_features(model, x_train, names, pooling=pooling, batch_size=batch_size)
    test_features = extract_features(model, x_test, names, pooling=pooling, batch_size=batch_size)
    rows = []
    for name in names:
        train_accuracy, test_accuracy = probe_features(train_features[name], y_train, test_features[name], y_test,
                                                       C=C, seed=seed)
        rows.append(ProbeRow(name, int(train_features[name].shape[1]), train_accuracy, test_accuracy))
    return ProbeTable(tuple(rows), pooling)
