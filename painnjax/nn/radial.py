"""Radial basis, cutoff and a gradient-safe norm: the pair-distance features of PaiNN.

The Gaussian basis follows SchNetPack exactly (centres on [0, r_c], width = spacing,
``exp(-(d - mu)^2 / (2 w^2))``). The centres and widths are stored with the model (SchNetPack
keeps them as float32 buffers; recomputing them in float64 would change the basis at 1e-7).
e3nn-jax's ``soft_one_hot_linspace(basis="gaussian")`` uses another width and normalisation,
so it cannot be used without breaking weight parity.
"""

from __future__ import annotations

import jax.numpy as jnp


def gaussian_centers_widths(n_rbf: int, cutoff: float):
    """SchNetPack's default Gaussian centres (K,) on [0, cutoff] and widths (K,) = spacing."""
    centers = jnp.linspace(0.0, cutoff, n_rbf)
    return centers, jnp.full((n_rbf,), centers[1] - centers[0])


def gaussian_rbf(d, centers, widths):
    """Gaussian radial basis of distances ``d`` (...,) -> (..., K)."""
    coeff = -0.5 / widths**2
    return jnp.exp(coeff * (d[..., None] - centers) ** 2)


def cosine_cutoff(d, cutoff: float):
    """Behler cosine cutoff: 0.5 (cos(pi d / r_c) + 1) for d < r_c, exactly 0 beyond."""
    f = 0.5 * (jnp.cos(d * (jnp.pi / cutoff)) + 1.0)
    return jnp.where(d < cutoff, f, jnp.zeros_like(f))


def safe_pair_vectors(r_ij, mask):
    """Distances and unit vectors of pair vectors (P, 3), NaN-free in value and gradient.

    Masked pairs (padding) get a dummy unit vector before the square root, so neither the
    distance nor its gradient is evaluated at zero. Their distance is returned as +inf-free
    ``1.0`` and must be zeroed by the caller through the mask.
    """
    dummy = jnp.zeros_like(r_ij).at[:, 0].set(1.0)
    r_safe = jnp.where(mask[:, None], r_ij, dummy)  # (P, 3)
    d = jnp.sqrt(jnp.sum(r_safe * r_safe, axis=-1))  # (P,)
    return d, r_safe / d[:, None]
