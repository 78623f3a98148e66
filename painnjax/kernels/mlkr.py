"""Metric learning for kernel regression (MLKR, Weinberger & Tesauro 2007) in JAX: metric-learn's, on CPU or GPU.

The projection A (m, G) minimises the leave-one-out error of Gaussian kernel regression in the
projected space: ŷ_i = Σ_{j≠i} softmax_j(−‖A x_i − A x_j‖²) y_j, loss Σ_i (ŷ_i − y_i)². As
metric-learn's ``MLKR`` (0.7.0): the same objective, started from PCA's components when m < min(G, n)
(else the identity), minimised with SciPy's L-BFGS-B (``tol`` None, ``max_iter`` iterations); the
loss and its gradient come from JAX in float64. Memory: a few n² arrays (n = structures fitted on;
10k: ~3 GB), hence ``[model] mlkr_subsample``. metric-learn itself is not called: its 0.7.0
does not run with scikit-learn >= 1.8 (``check_X_y(force_all_finite=...)`` was removed).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def mlkr_loss(A, X, y):
    """Σ_i (ŷ_i − y_i)² of leave-one-out kernel regression with the metric AᵀA (float64 arrays)."""
    Xe = X @ A.T
    sq = jnp.sum(Xe * Xe, axis=1)
    d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * Xe @ Xe.T, 0.0)
    d2 = jnp.where(jnp.eye(len(X), dtype=bool), jnp.inf, d2)
    yhat = jax.nn.softmax(-d2, axis=1) @ y
    return jnp.sum((yhat - y) ** 2)


_value_and_grad = jax.jit(jax.value_and_grad(mlkr_loss))


def initial_components(X: np.ndarray, m: int, seed: int) -> np.ndarray:
    """metric-learn's "auto" start for regression: PCA's m components when m < min(G, n), else the identity."""
    n, G = X.shape
    if m < min(G, n):
        from sklearn.decomposition import PCA

        return PCA(n_components=m, random_state=np.random.RandomState(seed)).fit(X).components_
    return np.eye(m, G)


def fit_mlkr(X: np.ndarray, y: np.ndarray, components: int, max_iter: int, seed: int = 0) -> np.ndarray:
    """The projection A (m, G), m = min(components, G), fitted on vectors ``X`` (n, G) and targets ``y`` (n,)."""
    from scipy.optimize import minimize

    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    A0 = initial_components(X, min(components, X.shape[1]), seed)
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)

        def loss(flat):
            value, grad = _value_and_grad(jnp.asarray(flat.reshape(A0.shape)), Xj, yj)
            return float(value), np.asarray(grad, np.float64).ravel()

        res = minimize(loss, A0.ravel(), method="L-BFGS-B", jac=True, tol=None, options={"maxiter": max_iter})
    return res.x.reshape(A0.shape)
