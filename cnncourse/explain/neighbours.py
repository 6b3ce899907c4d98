"""Nearest neighbours in feature space, and a t-SNE map of the features (scikit-learn)."""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_array, check_bool, check_choice, check_float, check_positive_int, check_seed


def nearest_neighbours(features, queries, *, k: int = 5, metric: str = "euclidean", exclude_self: bool = False):
    """The ``k`` rows of ``features`` closest to each query.

    Args:
        features: float ``(N, D)`` (e.g. a network's penultimate layer).
        queries: float ``(Q, D)``.
        k: neighbours per query.
        metric: ``"euclidean"`` or ``"cosine"`` (``1 − cos``).
        exclude_self: skip neighbours at distance 0 with the same index (queries taken from ``features``).

    Returns:
        ``(indices, distances)``: int ``(Q, k)`` and float32 ``(Q, k)``, nearest first (ties by index).
    """
    features = check_array("features", features, ndim=2, kinds="biuf", what="(N, D)").astype(np.float64)
    queries = check_array("queries", queries, ndim=2, kinds="biuf", what="(Q, D)").astype(np.float64)
    if queries.shape[1] != features.shape[1]:
        raise ValueError(f"queries must have {features.shape[1]} columns like features, got {queries.shape}")
    k = check_positive_int("k", k)
    metric = check_choice("metric", metric, ("euclidean", "cosine"), "metric")
    exclude_self = check_bool("exclude_self", exclude_self)
    if k + exclude_self > len(features):
        raise ValueError(f"k must be at most {len(features) - exclude_self} for {len(features)} features, got {k}")
    if metric == "cosine":
        f = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        distances = 1.0 - q @ f.T
    else:
        sq = (queries ** 2).sum(1)[:, None] + (features ** 2).sum(1)[None] - 2 * queries @ features.T
        distances = np.sqrt(np.maximum(sq, 0.0))
    if exclude_self:
        if len(queries) > len(features):
            raise ValueError("exclude_self needs the queries to be the first rows of features")
        distances[np.arange(len(queries)), np.arange(len(queries))] = np.inf
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(distances, order, axis=1).astype(np.float32)


def tsne_embedding(features, *, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE map of ``features`` (scikit-learn's ``TSNE``, PCA initialisation).

    Args:
        features: float ``(N, D)``, ``N > perplexity``.
        perplexity: t-SNE's neighbourhood size.
        seed: its random state.

    Returns:
        float32 ``(N, 2)``.
    """
    from sklearn.manifold import TSNE

    features = check_array("features", features, ndim=2, kinds="biuf", what="(N, D)").astype(np.float32)
    perplexity = check_float("perplexity", perplexity, minimum=1.0)
    seed = check_seed("seed", seed)
    if len(features) <= perplexity:
        raise ValueError(f"features must have more rows than perplexity ({perplexity}), got {len(features)}")
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(features).astype(np.float32)
