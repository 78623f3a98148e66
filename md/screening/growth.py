"""Growth moves: candidates of a larger cluster made by adding one molecule to minima of a smaller one.

How larger clusters are screened in the field: the low minima of (SA)n(AM)m already hold the
good hydrogen-bond and ion-pair motifs, so candidates for one molecule more start from them
rather than from scratch. :func:`grown_candidates` takes the parents (e.g. the ``best.extxyz``
of a screen of the smaller cluster) and, for candidate ``k``, parent ``k % len(parents)``
(round-robin: every parent gets an equal share) with the new molecule (a rigid template of
:mod:`md.screening.candidates`: SA, AM or W) at a uniformly random orientation, brought in
along a uniformly random direction towards the parent's centre of mass until one of its atoms
comes within ``contact`` Å of the parent's (steps of 0.05 Å; a direction whose first contact
is closer than ``min_distance`` Å is drawn again).

A water (``W``) is also put inside the network: in about half the candidates (a seeded coin,
drawn after the surface water) it is then moved into a hydrogen bond of the parent as a bridge,
by the refinement's water move (:func:`md.screening.refine.water_bridged`, with ``min_distance``;
the acceptor's molecule of the parent moves with it), where the parent has a hydrogen bond and
room (else it stays at the surface); ``info["placed"]`` says which (``"bridge"``,
``"surface"``). ``bridge=False``: every water at the surface, the candidates of painnjax before.

Atoms: the parent's, in its order, then the new molecule's. ``info``: ``composition`` (the
canonical neutral name of parent + molecule), ``state`` (the parent's protonation state,
:func:`md.screening.protonation.detect_state`, with the neutral molecule added), ``parent``
(its index among the parents), ``candidate`` (k) and ``seed``. Candidate ``k`` depends only on
(parents, molecule, seed, k).

Example:
    >>> from ase.io import read
    >>> cands = grown_candidates(read("scr-SA2AM2/best.extxyz", ":5"), "SA", 50, seed=0)   # doctest: +SKIP
    >>> cands[0].info["composition"]                                                        # doctest: +SKIP
    'SA3AM2'
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from scipy.spatial.distance import cdist
from scipy.spatial.transform import Rotation

from md.screening.candidates import composition_name, parse_composition, template
from md.screening.protonation import detect_state
from md.screening.refine import water_bridged
from painnjax.data.composition import molecule_counts
from painnjax.errors import InputError

#: molecules a growth move may add (neutral: a cluster stays neutral)
ADDABLE = ("SA", "AM", "W")


def _parent_counts(atoms, where: str) -> dict:
    """The neutral molecule counts of a parent, from its composition name or its atoms."""
    return {k: v for k, v in molecule_counts(atoms.numbers, source=where).items() if v}


def grown_candidates(
    parents,
    molecule: str,
    n: int,
    seed: int = 0,
    *,
    contact: float = 1.8,
    min_distance: float = 1.5,
    tries: int = 100,
    bridge: bool = True,
) -> list:
    """``n`` candidates: parent ``k % len(parents)`` plus one ``molecule``; see the module doc."""
    parents = list(parents)
    if not parents:
        raise InputError("growth needs at least one parent structure")
    name = str(molecule).upper()
    if name not in ADDABLE:
        raise InputError(f"a growth move adds a neutral molecule ({', '.join(ADDABLE)}), not {molecule!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a whole number >= 1, got {n!r}")
    if not (0 < min_distance < contact):
        raise InputError(f"need 0 < min_distance < contact, got {min_distance} and {contact} Å")
    atoms_lists = {tuple(p.numbers) for p in parents}
    if len(atoms_lists) > 1:
        raise InputError("the parents must have the same atoms in the same order (one cluster's minima)")
    counts = _parent_counts(parents[0], "growth parent 0")
    counts[name] = counts.get(name, 0) + 1
    comp = composition_name(counts)
    mol = template(name)
    states = []
    for p in parents:
        _, state = detect_state(p)
        try:
            states.append(composition_name(_added(parse_composition(state), name)))
        except InputError:  # "other", or a state that is not a neutral cluster
            states.append("other")
    out = []
    for k in range(int(n)):
        j = k % len(parents)
        parent = parents[j]
        P = np.asarray(parent.positions, np.float64)
        centre = parent.get_center_of_mass()
        rng = np.random.default_rng([int(seed), k])
        for _ in range(int(tries)):
            X = mol.positions @ Rotation.random(random_state=rng).as_matrix().T
            u = rng.normal(size=3)
            u /= np.linalg.norm(u)
            r = np.max(np.linalg.norm(P - centre, axis=1)) + np.max(np.linalg.norm(X, axis=1)) + contact + 1.0
            while r > 0:
                pos = X + centre + r * u
                d = cdist(pos, P).min()
                if d <= contact:
                    break
                r -= 0.05
            if d >= min_distance:
                break
        else:
            raise InputError(
                f"growth: no room for {name} next to parent {j} in {tries} directions (min_distance {min_distance} Å)"
            )
        a = parent.copy()
        a.calc = None
        a += Atoms(mol.get_chemical_symbols(), positions=pos)
        info = {"composition": comp, "state": states[j], "parent": j, "candidate": k, "seed": int(seed)}
        if name == "W":
            bridged = None
            if bridge and rng.integers(2):  # the same draws as before up to here: the surface water, then the coin
                bridged = water_bridged(a, rng, water=np.arange(len(parent), len(a)), min_distance=min_distance)
            a = a if bridged is None else bridged
            info["placed"] = "surface" if bridged is None else "bridge"
        a.positions -= a.get_center_of_mass()
        a.info = info
        out.append(a)
    return out


def _added(counts: dict, name: str) -> dict:
    out = dict(counts)
    out[name] = out.get(name, 0) + 1
    return out
