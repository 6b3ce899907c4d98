"""Measuring heat maps: the pointing game, and the model-randomisation sanity check.

**Pointing game** (Zhang et al., 2016): a map *hits* when its maximum falls inside the
object's box. Pixel ``(row, col)`` has centre ``(col + 0.5, row + 0.5)`` in ``xyxy`` pixel
coordinates and is inside when ``x1 <= col + 0.5 <= x2`` and ``y1 <= row + 0.5 <= y2``.
Ties go to the first maximum in row-major order (so a constant map points at the top-left).

**Randomisation check** (Adebayo et al., 2018, "Sanity checks for saliency maps"): a map
that explains the *model* must change when the model's weights are replaced by random ones.
:func:`randomization_check` computes each method's maps on the trained model and on a copy
with every kernel and bias redrawn, and reports the mean Spearman rank correlation of the
two; a method whose correlation is at least ``threshold`` is flagged (it shows the image, not
what the model learned).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from cnncourse._validation import check_array, check_float, check_seed
from cnncourse.explain._common import check_images, check_model


def pointing_hits(maps, boxes) -> np.ndarray:
    """bool ``(N,)``: whether each map's maximum lies in its box.

    Args:
        maps: ``(N, H, W)`` heat maps (pixel resolution).
        boxes: ``(N, 4)`` ``xyxy`` boxes in pixels.
    """
    maps = check_array("maps", maps, ndim=3, kinds="biuf", what="(N, H, W)")
    boxes = check_array("boxes", boxes, shape=(len(maps), 4), kinds="iuf", what=f"({len(maps)}, 4) xyxy")
    flat = maps.reshape(len(maps), -1).argmax(axis=1)
    rows, cols = flat // maps.shape[2] + 0.5, flat % maps.shape[2] + 0.5
    return (boxes[:, 0] <= cols) & (cols <= boxes[:, 2]) & (boxes[:, 1] <= rows) & (rows <= boxes[:, 3])


def pointing_game(maps, boxes) -> float:
    """Fraction of maps whose maximum lies in the object's box (see :func:`pointing_hits`)."""
    return float(pointing_hits(maps, boxes).mean())


def randomize_weights(model, *, seed: int = 0):
    """A copy of ``model`` whose kernels and biases are redrawn (the original is untouched).

    Every weight named ``kernel``, ``bias`` or ``depthwise_kernel``/``pointwise_kernel`` gets
    fresh values ``N(0, s²)`` with ``s`` the standard deviation of the trained values (a
    small ``s`` for all-zero biases); BatchNorm statistics are kept. The architecture and
    layer names are the same, so a layer name used for Grad-CAM still works.
    """
    import keras

    model = check_model("model", model)
    seed = check_seed("seed", seed)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    for variable in copy.weights:
        name = variable.path.rsplit("/", 1)[-1]
        if name in ("kernel", "bias", "depthwise_kernel", "pointwise_kernel"):
            values = np.asarray(variable)
            scale = float(values.std()) or 0.05
            variable.assign(rng.normal(0.0, scale, size=values.shape).astype(values.dtype))
    return copy


def rank_correlation(a, b) -> np.ndarray:
    """float ``(N,)``: Spearman rank correlation of each pair of maps ``a[n]``, ``b[n]`` (0 if one is constant)."""
    from scipy.stats import rankdata

    a = check_array("a", a, kinds="biuf")
    b = check_array("b", b, kinds="biuf")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    out = np.zeros(len(a))
    for n in range(len(a)):
        x, y = rankdata(a[n].ravel()), rankdata(b[n].ravel())
        x, y = x - x.mean(), y - y.mean()
        denominator = np.sqrt((x ** 2).sum() * (y ** 2).sum())
        out[n] = (x * y).sum() / denominator if denominator > 0 else 0.0
    return out


class SanityResult(NamedTuple):
    """One method's randomisation check: ``similarity`` (mean rank correlation, trained vs
    random), ``per_image`` ``(N,)``, ``passes`` (``similarity < threshold``), ``threshold``."""

    method: str
    similarity: float
    per_image: np.ndarray
    passes: bool
    threshold: float


def randomization_check(method: Callable, model, images, class_index, *, name: str | None = None,
                        threshold: float = 0.5, seed: int = 0, random_model=None) -> SanityResult:
    """Adebayo et al.'s model-randomisation test of one heat-map method.

    Args:
        method: ``method(model, images, class_index) -> (N, H, W)`` maps (wrap extra
            arguments in a lambda, e.g. Grad-CAM's layer).
        model: the trained model.
        images: float ``(N, H, W, C)``.
        class_index: an int or ``(N,)`` ints (the same classes for both models).
        name: the method's name in the result (default ``method.__name__``).
        threshold: rank correlation at or above which the method is flagged.
        seed: seed of the random weights.
        random_model: a model from :func:`randomize_weights` (to reuse it); made when ``None``.

    Returns:
        :class:`SanityResult`.
    """
    if not callable(method):
        raise TypeError(f"method must be callable, got {type(method).__name__}")
    model = check_model("model", model)
    images = check_images("images", images, model)
    threshold = check_float("threshold", threshold, minimum=-1.0, maximum=1.0)
    random_model = randomize_weights(model, seed=seed) if random_model is None else check_model("random_model", random_model)
    trained = np.asarray(method(model, images, class_index))
    randomised = np.asarray(method(random_model, images, class_index))
    per_image = rank_correlation(trained, randomised)
    similarity = float(per_image.mean())
    return SanityResult(name or getattr(method, "__name__", "method"), similarity, per_image,
                        similarity < threshold, threshold)
