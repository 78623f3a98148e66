"""(SA)n(AM)m clusters to start MD from: bundled or published structures, or packed from molecules.

- :func:`starting_structure`: ``SA{n}AM{m}`` from painnjax's bundled structures (n = m = 1, 2,
  4, 7, 10, 15), else from a folder of starting structures (``wu_{n}sa{m}am.xyz`` or
  ``k24_{n}sa{m}am.xyz``, as in ``../shared/data/starts``).
- :func:`build_cluster`: any composition, packed from rigid molecule templates (SA =
  H2SO4, AM = NH3, W = H2O; GFN1-xTB minima, :data:`painnjax.data.molecules.TEMPLATES`) at
  random orientations, each molecule slid in from outside until it touches the cluster. A
  start for :func:`md.minimize`, not a minimum.
- :func:`molecules`: the atoms of each molecule (covalent bonds by ASE's natural cutoffs);
  :func:`rmsd`: RMSD of two structures after the best superposition.

Example:
    >>> atoms = build_cluster(2, 1, seed=0)
    >>> atoms.get_chemical_formula(), len(molecules(atoms))
    ('H7NO8S2', 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from painnjax.data.molecules import MOLECULE_TYPES, TEMPLATES
from painnjax.errors import InputError


def molecule(name: str):
    """A molecule template (``"SA"``, ``"AM"``, ``"W"``) as an ``ase.Atoms`` centred at its centre of mass."""
    if name not in TEMPLATES:
        raise InputError(f"unknown molecule {name!r}; templates: {', '.join(TEMPLATES)}")
    return MOLECULE_TYPES[name].atoms()


def build_cluster(n_sa: int, n_am: int, n_w: int = 0, seed: int = 0, contact: float = 1.8, step: float = 0.05):
    """A compact (SA)n(AM)m(W)k cluster packed from molecule templates (an ``ase.Atoms``).

    Molecules are added acid and base in turn, each at a random orientation and from a random
    direction, moved towards the cluster's centre until an atom comes within ``contact`` Å of
    an atom already placed. The same ``seed`` gives the same cluster.
    """
    from ase import Atoms
    from scipy.spatial.distance import cdist
    from scipy.spatial.transform import Rotation

    for name, n in (("n_sa", n_sa), ("n_am", n_am), ("n_w", n_w)):
        if not (isinstance(n, (int, np.integer)) and n >= 0):
            raise InputError(f"{name} must be an integer >= 0, got {n!r}")
    order = []
    for k in range(max(n_sa, n_am, n_w)):
        order += [m for m, n in (("SA", n_sa), ("AM", n_am), ("W", n_w)) if k < n]
    if not order:
        raise InputError("a cluster needs at least one molecule")
    rng = np.random.default_rng(seed)
    symbols: list[str] = []
    placed = np.zeros((0, 3))
    for name in order:
        mol = molecule(name)
        X = mol.positions @ Rotation.random(random_state=rng).as_matrix().T
        if len(placed) == 0:
            pos = X
        else:
            centre = placed.mean(axis=0)
            u = rng.normal(size=3)
            u /= np.linalg.norm(u)
            r = np.max(np.linalg.norm(placed - centre, axis=1)) + np.max(np.linalg.norm(X, axis=1)) + contact + 1.0
            while r > 0:
                pos = X + centre + r * u
                if cdist(pos, placed).min() <= contact:
                    break
                r -= step
        symbols += mol.get_chemical_symbols()
        placed = np.vstack([placed, pos])
    atoms = Atoms(symbols, positions=placed)
    atoms.positions -= atoms.get_center_of_mass()
    atoms.info["composition"] = f"SA{n_sa}AM{n_am}" + (f"W{n_w}" if n_w else "")
    return atoms


def starting_structure(n_sa: int, n_am: int, starts_dir=None):
    """The published (SA)n(AM)m structure: bundled, or from ``starts_dir`` (``wu_``/``k24_`` files)."""
    from ase.io import read

    from painnjax.data import bundled_structure, bundled_structures

    name = f"SA{n_sa}AM{n_am}"
    if name in bundled_structures():
        atoms = bundled_structure(name)
        atoms.info["source"] = name
        return atoms
    tried = []
    if starts_dir is not None:
        for prefix in ("wu", "k24"):
            path = Path(starts_dir) / f"{prefix}_{n_sa}sa{n_am}am.xyz"
            tried.append(str(path))
            if path.is_file():
                atoms = read(path)
                atoms.info["source"] = str(path)
                return atoms
    have = ", ".join(bundled_structures())
    more = f"; also looked for {', '.join(tried)}" if tried else "; pass starts_dir for more"
    raise InputError(f"no starting structure for {name}: bundled are {have}{more}")


def molecules(atoms, scale: float = 1.2) -> list[np.ndarray]:
    """Atom indices of each covalently bound molecule (bonds: ``scale`` x ASE's natural cutoffs)."""
    from ase.neighborlist import natural_cutoffs, neighbor_list
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(atoms)
    i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=scale))
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    n_comp, labels = connected_components(graph, directed=False)
    groups = [np.flatnonzero(labels == c) for c in range(n_comp)]
    return sorted(groups, key=lambda g: g[0])


def rmsd(A, B) -> float:
    """RMSD (Å) of two structures (N, 3) after the best rotation and translation (Kabsch)."""
    A = np.asarray(A, np.float64) - np.mean(A, axis=0)
    B = np.asarray(B, np.float64) - np.mean(B, axis=0)
    U, _, Vt = np.linalg.svd(A.T @ B)
    d = np.sign(np.linalg.det(U @ Vt))
    rot = U @ np.diag([1.0, 1.0, d]) @ Vt
    return float(np.sqrt(np.mean(np.sum((A @ rot - B) ** 2, axis=1))))
