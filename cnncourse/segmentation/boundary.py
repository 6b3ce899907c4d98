"""Boundary quality of a segmentation: the boundary F1 score (BF score, Csurka et al., 2013).

Mean IoU is dominated by the interior of large regions: a prediction whose edges are a few pixels
off everywhere still scores well. The boundary F1 score looks only at the edges. The *boundary* of a
label map is the set of pixels that have a 4-neighbour (up, down, left, right) with another label.
A predicted boundary pixel is *matched* when a true boundary pixel lies within ``tolerance`` pixels
(Euclidean distance), and the other way round:

- precision = matched predicted boundary pixels / all predicted boundary pixels,
- recall = matched true boundary pixels / all true boundary pixels,
- F1 = 2 · precision · recall / (precision + recall),

computed per image and averaged over images. An image where neither map has a boundary (one
region everywhere, in both) scores 1; one where only one of them has a boundary scores 0.

Example::

    >>> import numpy as np
    >>> truth = np.zeros((1, 8, 8), int); truth[0, 2:6, 2:6] = 1
    >>> float(boundary_f1(truth, truth))
    1.0
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_array, check_float

__all__ = ["boundary_f1", "label_boundaries"]


def label_boundaries(labels, kept=None) -> np.ndarray:
    """Pixels with a 4-neighbour of another label.

    Args:
        labels: integer label maps ``(N, H, W)`` (or one ``(H, W)`` map).
        kept: optional bool array of the same shape: only pairs of neighbours that are both
            kept count (``None``: every pixel is kept).

    Returns:
        bool array of the same shape; both pixels of each unequal neighbouring pair are marked.
    """
    labels = check_array("labels", labels, ndim=(2, 3), kinds="iu", what="(N, H, W) or (H, W)")
    kept = np.ones(labels.shape, bool) if kept is None else check_array("kept", kept, shape=labels.shape, kinds="b")
    edges = np.zeros(labels.shape, bool)
    vertical = (labels[..., 1:, :] != labels[..., :-1, :]) & kept[..., 1:, :] & kept[..., :-1, :]
    horizontal = (labels[..., :, 1:] != labels[..., :, :-1]) & kept[..., :, 1:] & kept[..., :, :-1]
    edges[..., 1:, :] |= vertical
    edges[..., :-1, :] |= vertical
    edges[..., :, 1:] |= horizontal
    edges[..., :, :-1] |= horizontal
    return edges


def _matched_share(edges, other_edges, tolerance: float) -> float:
    """Share of ``edges`` pixels within ``tolerance`` of an ``other_edges`` pixel (one image)."""
    from scipy.ndimage import distance_transform_edt

    distance_to_other = distance_transform_edt(~other_edges)
    return float((distance_to_other[edges] <= tolerance).mean())


def boundary_f1(truth, prediction, *, tolerance: float = 1.0, ignore_index: int | None = None) -> float:
    """Mean over images of the boundary F1 score of ``prediction`` against ``truth``.

    Args:
        truth: integer label maps ``(N, H, W)`` (or one ``(H, W)`` map).
        prediction: integer label maps of the same shape.
        tolerance: the largest distance in pixels (≥ 0) at which boundary pixels still match.
        ignore_index: a true label to leave out: a pair of neighbours counts only when
            neither pixel has this true label, in both maps (``None``: every pixel counts).

    Returns:
        float in ``[0, 1]``.

    Raises:
        ValueError / TypeError: for non-integer maps, unequal shapes or a negative tolerance.
    """
    truth = check_array("truth", truth, ndim=(2, 3), kinds="iu", what="(N, H, W) or (H, W)")
    prediction = check_array("prediction", prediction, ndim=(2, 3), kinds="iu", what="(N, H, W) or (H, W)")
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction must have the shape of truth {truth.shape}, got {prediction.shape}")
    tolerance = check_float("tolerance", tolerance, minimum=0)
    if truth.ndim == 2:
        truth, prediction = truth[None], prediction[None]
    kept = None if ignore_index is None else truth != ignore_index
    true_edges, predicted_edges = label_boundaries(truth, kept), label_boundaries(prediction, kept)
    scores = []
    for t_edges, p_edges in zip(true_edges, predicted_edges):
        if not t_edges.any() and not p_edges.any():
            scores.append(1.0)
            continue
        if not t_edges.any() or not p_edges.any():
            scores.append(0.0)
            continue
        precision = _matched_share(p_edges, t_edges, tolerance)
        recall = _matched_share(t_edges, p_edges, tolerance)
        scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))
