"""Lennard-Jones clusters for the minimiser and screening tests: a known-answer system.

LJ7's minima are textbook values (Doye & Wales; the Cambridge Cluster Database): global minimum
-16.505384 ε (pentagonal bipyramid), then -15.935 ε (capped octahedron), -15.593 ε and -15.533 ε.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from ase import Atoms

EPS, SIGMA = 0.1, 3.0  # eV, Å
LJ7_MINIMA = np.array([-16.505384, -15.935033, -15.593180, -15.533060])  # units of ε


def lj(n):
    i, j = np.triu_indices(n, k=1)

    def energy(R, **unused_kwargs):
        s6 = (SIGMA / jnp.linalg.norm(R[i] - R[j], axis=-1)) ** 6
        return jnp.sum(4.0 * EPS * (s6 * s6 - s6))

    return energy


def random_lj_starts(n_structures, n_atoms=7, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n_structures:
        R = rng.uniform(-3.5, 3.5, (n_atoms, 3))
        d = np.linalg.norm(R[:, None] - R[None], axis=-1) + 9 * np.eye(n_atoms)
        if d.min() > 2.8:
            out.append(Atoms(f"Ar{n_atoms}", positions=R))
    return out
