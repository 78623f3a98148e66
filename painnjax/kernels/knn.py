"""k-nearest-neighbour regression with a learned (MLKR), kernel-induced or Euclidean distance.

A prediction is the weighted mean of the k nearest training structures' targets (weights 1/d,
or uniform), as scikit-learn's ``KNeighborsRegressor`` computes it (a neighbour at distance 0
takes all the weight); the uncertainty is the spread (standard deviation) of those k targets.
Distances:

- ``"mlkr"``: Euclidean after the projection A (m, G) that MLKR (:mod:`.mlkr`, as metric-learn's)
  fits on the global FCHL19 vectors (Mahalanobis metric M = AᵀA; the k-NN study: m = 50);
- ``"euclidean"``: on the global vectors;
- ``"kernel"``: d² = K(a,a) + K(b,b) − 2K(a,b) with the local FCHL19 kernel (width σ), which
  costs a kernel row over the training set per prediction, as KRR.

Neighbour search: scikit-learn's ball tree on vectors; brute force on kernel distances.
"""

from __future__ import annotations

import numpy as np

from painnjax.kernels.fchl_jax import local_kernel, self_kernel
from painnjax.kernels.mlkr import fit_mlkr
from painnjax.kernels.representation import Representations, global_vectors


def fit_metric(G: np.ndarray, y: np.ndarray, components: int, max_iter: int, subsample: int, seed: int) -> np.ndarray:
    """MLKR's projection (m, G) fitted on the global vectors ``G`` (S, G) and targets ``y`` (on at most
    ``subsample`` of them, drawn with ``seed``; 0 = all)."""
    if subsample and subsample < len(G):
        idx = np.sort(np.random.default_rng(seed).choice(len(G), subsample, replace=False))
        G, y = G[idx], y[idx]
    return fit_mlkr(G, y, components, max_iter, seed)


def fit_knn(reps: Representations, y: np.ndarray, config, seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays of a k-NN model (``config``: the ``[model]`` section): the training targets and what
    the distance needs (projected vectors, global vectors, or representations and K(a,a))."""
    y = np.asarray(y, np.float64)
    if config.metric == "kernel":
        return {"X": reps.X, "Z": reps.Z, "self_k": self_kernel(reps, config.sigma), "y": y}
    G = global_vectors(reps, config.global_representation)
    if config.metric == "euclidean":
        return {"vectors": G, "y": y}
    A = fit_metric(G, y, config.mlkr_components, config.mlkr_max_iter, config.mlkr_subsample, seed)
    return {"components": A, "vectors": G @ A.T, "y": y}


def neighbours(arrays: dict[str, np.ndarray], reps: Representations, config) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (S, k) of the k nearest training structures, nearest first."""
    k = min(config.k, len(arrays["y"]))
    if config.metric == "kernel":
        train = Representations(arrays["X"], arrays["Z"], reps.elements)
        cross = local_kernel(reps, train, config.sigma)
        d2 = self_kernel(reps, config.sigma)[:, None] + arrays["self_k"][None, :] - 2.0 * cross
        d = np.sqrt(np.maximum(d2, 0.0))
        idx = np.argsort(d, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(d, idx, axis=1), idx
    from sklearn.neighbors import NearestNeighbors  # here: scikit-learn is an optional extra

    G = global_vectors(reps, config.global_representation)
    if config.metric == "mlkr":
        G = G @ arrays["components"].T
    tree = NearestNeighbors(n_neighbors=k, algorithm="ball_tree").fit(arrays["vectors"])
    return tree.kneighbors(G)


def weighted_mean(d: np.ndarray, idx: np.ndarray, y: np.ndarray, weights: str) -> np.ndarray:
    """(S,) mean of the neighbours' targets, weighted 1/d (``"distance"``; neighbours at d = 0 share all
    the weight) or equally (``"uniform"``), as scikit-learn's KNeighborsRegressor."""
    values = y[idx]
    if weights == "uniform":
        return values.mean(axis=1)
    with np.errstate(divide="ignore"):
        w = 1.0 / d
    zero = ~np.isfinite(w)
    w = np.where(zero.any(axis=1, keepdims=True), zero.astype(float), w)
    return (w * values).sum(axis=1) / w.sum(axis=1)


def predict_knn(arrays: dict[str, np.ndarray], reps: Representations, config) -> tuple[np.ndarray, np.ndarray]:
    """(S,) predictions and (S,) spreads (standard deviation of the k neighbours' targets)."""
    d, idx = neighbours(arrays, reps, config)
    y = arrays["y"]
    return weighted_mean(d, idx, y, config.weights), y[idx].std(axis=1)
