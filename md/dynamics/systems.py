"""Several different clusters as the replicas of one MD run: padded to one atom count, one compile.

Replica ``r`` runs cluster ``r mod K`` of the ``K`` given. Every cluster is padded to the atom
count ``N`` of the largest; a padded atom has the species of the cluster's first atom, mass
1 amu, no momentum, and sits alone far from everything (:data:`PAD_DISTANCE`), so it has no
pairs within any cutoff. The potential gets each replica's ``species`` and ``atom_mask`` as
keyword arguments (:class:`painnjax.potential.Potential` masks the padded atoms' energies),
the integrator keeps padded atoms at rest (:mod:`md.dynamics.integrators`), and temperatures
count each replica's own degrees of freedom.

What padding cannot do, refused by :func:`check_mixed` with the reason:

- jax-md's Nosé-Hoover chain takes its degrees of freedom as a compile-time constant, the same
  for every replica: clusters of different sizes run under NVE or Langevin (clusters of one
  size, e.g. isomers, run under Nosé-Hoover too);
- replica exchange swaps configurations, which only makes sense within one cluster;
- the wall's centre of mass would count the padded atoms.

Example:
    >>> from painnjax.data import bundled_structure
    >>> s = Systems.of([bundled_structure("SA1AM1"), bundled_structure("SA2AM2")], replicas=4)
    >>> s.n_max, s.n_atoms.tolist(), s.formulas
    (22, [11, 22, 11, 22], ['H5NO4S', 'H10N2O8S2', 'H5NO4S', 'H10N2O8S2'])
    >>> s.atom_mask.sum(axis=1).tolist(), s.padded
    ([11, 22, 11, 22], True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from md.dynamics.config import MDConfig
from md.dynamics.safety import formula
from md.dynamics.velocities import cluster_dof
from painnjax.errors import InputError
from painnjax.validate import as_atomic_numbers, check_positions

#: padded atoms sit this far (Å) beyond the cluster's farthest atom, and this far apart (Å, > any cutoff)
PAD_DISTANCE = 1000.0
PAD_SPACING = 20.0


def _where(atoms, k: int) -> str:
    source = atoms.info.get("source") if hasattr(atoms, "info") else None
    return source or f"start structure {k + 1}"


@dataclass(frozen=True)
class Systems:
    """The clusters of a run with several, padded: arrays (R, N, ...) over replicas and atoms."""

    clusters: tuple  # the K clusters (ase.Atoms), as given
    index: np.ndarray  # (R,) the cluster of each replica
    n_max: int

    @classmethod
    def of(cls, atoms_list, replicas: int) -> Systems:
        """Replica ``r`` runs ``atoms_list[r % K]``; each cluster checked (species, positions, size)."""
        clusters = tuple(atoms_list)
        if not clusters:
            raise InputError("no start structures given")
        if replicas < len(clusters):
            raise InputError(
                f"{len(clusters)} start structures need at least as many replicas, got {replicas} "
                "(replica r runs structure r mod K)"
            )
        for k, a in enumerate(clusters):
            if not hasattr(a, "get_atomic_numbers"):
                raise InputError(f"{_where(a, k)}: not an ase.Atoms")
            Z = as_atomic_numbers(a, source=_where(a, k))
            check_positions(a.positions, len(Z), source=_where(a, k), symbols=a.get_chemical_symbols())
            if len(Z) < 2:
                raise InputError(f"{_where(a, k)}: MD needs at least 2 atoms, got {len(Z)}")
        index = np.arange(replicas) % len(clusters)
        return cls(clusters, index, max(len(a) for a in clusters))

    @property
    def replicas(self) -> int:
        return len(self.index)

    @property
    def n_atoms(self) -> np.ndarray:
        """(R,) the real atoms of each replica."""
        return np.asarray([len(self.clusters[k]) for k in self.index])

    @property
    def padded(self) -> bool:
        """Whether any replica has padded atoms (clusters of different sizes)."""
        return bool(np.any(self.n_atoms < self.n_max))

    @property
    def cluster_formulas(self) -> list[str]:
        """(K,) the formula of each cluster, as given."""
        return [formula(a.get_chemical_symbols(), np.arange(len(a))) for a in self.clusters]

    @property
    def formulas(self) -> list[str]:
        """(R,) the formula of each replica's cluster."""
        names = self.cluster_formulas
        return [names[k] for k in self.index]

    @property
    def symbols(self) -> list[list[str]]:
        return [self.clusters[k].get_chemical_symbols() for k in self.index]

    @property
    def species(self) -> np.ndarray:
        """(R, N) atomic numbers; a padded atom has its cluster's first species."""
        out = np.zeros((self.replicas, self.n_max), np.int32)
        for r, k in enumerate(self.index):
            Z = self.clusters[k].get_atomic_numbers()
            out[r] = Z[0]
            out[r, : len(Z)] = Z
        return out

    @property
    def atom_mask(self) -> np.ndarray:
        """(R, N) bool: the real atoms."""
        return np.arange(self.n_max)[None, :] < self.n_atoms[:, None]

    def masses(self, masses=None) -> np.ndarray:
        """(R, N) amu: ASE's masses (or ``masses``, one array per cluster), 1 for padded atoms."""
        out = np.ones((self.replicas, self.n_max))
        for r, k in enumerate(self.index):
            m = self.clusters[k].get_masses() if masses is None else np.asarray(masses[k], np.float64)
            n = len(self.clusters[k])
            if m.shape != (n,) or not np.all(np.isfinite(m)) or np.any(m <= 0):
                raise InputError(f"{_where(self.clusters[k], k)}: masses must be {n} positive numbers (amu)")
            out[r, :n] = m
        return out

    def positions(self) -> np.ndarray:
        """(R, N, 3) Å: each replica's start, padded atoms in a row far along +x."""
        out = np.zeros((self.replicas, self.n_max, 3))
        for r, k in enumerate(self.index):
            R = np.asarray(self.clusters[k].positions, np.float64)
            out[r, : len(R)] = R
            far = R[:, 0].max() + PAD_DISTANCE
            pads = np.arange(self.n_max - len(R))
            out[r, len(R) :, 0] = far + PAD_SPACING * pads
        return out

    def dofs(self, ensemble: str) -> np.ndarray:
        """(R,) kinetic degrees of freedom of each replica (all 3N under Langevin, else 3N - 6)."""
        if ensemble == "nvt-langevin":
            return 3 * self.n_atoms
        return np.asarray([cluster_dof(int(n)) for n in self.n_atoms])

    def aux(self) -> dict:
        """The potential's per-replica keyword arguments: ``species`` and ``atom_mask`` (R, N)."""
        return {"species": self.species, "atom_mask": self.atom_mask}


def check_mixed(systems: Systems, cfg: MDConfig, potential) -> None:
    """Refuse what a run of several clusters cannot do (see the module docstring), saying why."""
    from painnjax.potential import Potential

    if not isinstance(potential, Potential):
        raise InputError(
            "several clusters in one run need a painnjax potential (it takes each replica's species); "
            f"got {type(potential).__name__}"
        )
    if potential.n_atoms != systems.n_max:
        raise InputError(
            f"the potential was built for {potential.n_atoms} atoms; the largest start structure has {systems.n_max}"
        )
    if systems.padded and cfg.ensemble == "nvt-nh":
        sizes = sorted(set(systems.n_atoms.tolist()))
        raise InputError(
            f"start structures of different sizes ({', '.join(map(str, sizes))} atoms) cannot share a "
            "Nosé-Hoover run: jax-md's chain couples every replica to the same number of degrees of freedom. "
            "Use --ensemble nvt-langevin (or nve), or clusters of one size"
        )
    if cfg.exchange_every:
        raise InputError("replica exchange needs one cluster: it swaps configurations between temperatures")
    if cfg.wall_radius is not None:
        raise InputError("the wall is for runs of one cluster (its centre of mass would count padded atoms)")
