"""A flat-bottom spherical wall around the cluster's centre of mass: keeps molecules from leaving.

Inside a sphere of ``radius`` Å around the centre of mass the wall does nothing; an atom at a
distance d > radius from it feels ``E = k/2 (d - radius)^2`` (``k`` in eV/Å²), which pushes it
back. The centre of mass moves with the atoms, so the wall exerts no net force or torque on the
cluster: momentum and angular momentum stay zero, and the ``3N - 6`` degrees of freedom of a
free cluster stay right.

MD drivers add :meth:`SphericalWall.energy` to the model's energy and report it apart
(``e_wall_eV`` in ``thermo.csv``); the energies of trajectory frames stay the model's.

Example:
    >>> import jax.numpy as jnp
    >>> wall = SphericalWall(radius=2.0, k=1.0)
    >>> R = jnp.array([[0.0, 0, 0], [3.0, 0, 0]])     # equal masses: centre at x = 1.5
    >>> float(wall.energy(R, jnp.ones(2)))            # both atoms 1.5 Å from the centre: inside
    0.0
    >>> R = jnp.array([[0.0, 0, 0], [5.0, 0, 0]])     # 2.5 Å: 0.5 Å outside, twice 0.5 * 0.25
    >>> float(wall.energy(R, jnp.ones(2)))
    0.25
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from painnjax.errors import InputError

#: the wall's force constant when none is given (eV/Å²): an atom 0.3 Å outside feels 0.3 eV/Å,
#: several times the thermal forces on a molecule's centre at 300-500 K
DEFAULT_K = 1.0


def center_of_mass(R, masses):
    """(3,) the centre of mass of positions ``R`` (N, 3) with ``masses`` (N,)."""
    m = jnp.asarray(masses, R.dtype)
    return m @ R / jnp.sum(m)


@dataclass(frozen=True)
class SphericalWall:
    """A flat-bottom harmonic wall at ``radius`` Å from the centre of mass, ``k`` eV/Å²."""

    radius: float
    k: float = DEFAULT_K

    def distances(self, R, masses):
        """(N,) distances of the atoms from the centre of mass (Å), with a gradient that is finite at 0."""
        x = R - center_of_mass(R, masses)
        d2 = jnp.sum(x * x, axis=-1)
        positive = d2 > 0
        return jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)

    def energy(self, R, masses):
        """The wall's energy (eV): ``k/2`` times the sum of squared distances outside the sphere."""
        outside = jnp.maximum(self.distances(R, masses) - self.radius, 0.0)
        return 0.5 * self.k * jnp.sum(outside * outside)

    def check_start(self, R, masses, source: str | None = None) -> None:
        """Refuse a start structure that reaches beyond the wall (it would start with a kick)."""
        R = np.asarray(R, np.float64)
        m = np.asarray(masses, np.float64)
        far = float(np.max(np.linalg.norm(R - m @ R / m.sum(), axis=-1)))
        if far > self.radius:
            where = f"{source}: " if source else ""
            raise InputError(
                f"{where}the wall (radius {self.radius:g} Å) lies inside the start structure: its farthest atom "
                f"is {far:.2f} Å from the centre of mass; give a radius larger than that (--wall)"
            )
