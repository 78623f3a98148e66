"""Initial momenta and the degrees of freedom of an isolated cluster.

A free cluster conserves its total linear and angular momentum, so once both are zero only
``3N - 6`` coordinates (``3N - 5`` for two atoms) carry kinetic energy. Temperatures are
measured over those (ASE's ``get_temperature`` divides by ``3N`` and reads lower), and the
Nosé-Hoover chain is coupled to that count; jax-md's default of ``3N`` would heat a
77-atom cluster by 3 % and an 11-atom one by 22 %. Langevin noise moves and turns the
cluster, so there all ``3N`` coordinates are thermal.

Example:
    >>> import jax, jax.numpy as jnp
    >>> R = jnp.array([[0.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    >>> m = jnp.array([16.0, 1.0, 1.0, 1.0])
    >>> p = maxwell_boltzmann(jax.random.PRNGKey(0), R, m, kT=0.025, dof=cluster_dof(4))
    >>> bool(jnp.allclose(p.sum(0), 0.0, atol=1e-6)), round(float(jnp.sum(p**2 / m[:, None]) / 6), 6)  # 2 KE / dof
    (True, 0.025)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cluster_dof(n_atoms: int) -> int:
    """Kinetic degrees of freedom of a free cluster at rest and not rotating."""
    if n_atoms < 2:
        raise ValueError("a cluster needs at least 2 atoms")
    return 1 if n_atoms == 2 else 3 * n_atoms - 6


def remove_rotation_and_drift(R, P, mass, atom_mask=None):
    """Momenta ``P`` (N, 3) with zero total momentum and zero angular momentum about the centre of mass.

    With ``atom_mask`` (N,) bool, only the real atoms count and the others (padding) get zero momenta.
    """
    mass = mass.reshape(-1)
    if atom_mask is not None:
        mass = jnp.where(atom_mask, mass, 0.0)  # padding: no weight, and below no momentum
        P = jnp.where(atom_mask[:, None], P, 0.0)
    P = P - mass[:, None] * (jnp.sum(P, axis=0) / jnp.sum(mass))
    X = R - jnp.sum(mass[:, None] * R, axis=0) / jnp.sum(mass)
    L = jnp.sum(jnp.cross(X, P), axis=0)
    inertia = jnp.einsum("i,ij,ik->jk", mass, X, X)  # sum m x x^T
    inertia = jnp.trace(inertia) * jnp.eye(3, dtype=R.dtype) - inertia
    omega = jnp.linalg.pinv(inertia) @ L  # pinv: a linear cluster has a zero moment
    return P - mass[:, None] * jnp.cross(omega, X)


def maxwell_boltzmann(key, R, mass, kT, dof, atom_mask=None):
    """Maxwell-Boltzmann momenta (N, 3) without drift or rotation, scaled to exactly ``kT``.

    ``kT = 0`` gives zero momenta. Units: amu, Å, eV, jax-md time (momentum = mass * velocity).
    ``atom_mask`` (N,) bool: only these atoms move (the others are padding, at rest); ``dof``
    is then that of the real atoms.
    """
    mass = jnp.asarray(mass, R.dtype).reshape(-1)
    P = jnp.sqrt(mass)[:, None] * jax.random.normal(key, R.shape, R.dtype)
    P = remove_rotation_and_drift(R, P, mass, atom_mask)
    two_ke = jnp.sum(P**2 / mass[:, None])
    return P * jnp.sqrt(dof * kT / two_ke)


def kinetic_energy(P, mass):
    """0.5 * sum p^2 / m (eV)."""
    return 0.5 * jnp.sum(P**2 / jnp.reshape(mass, (-1, 1)))
