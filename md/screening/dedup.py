"""Duplicate minima: a rotation-, translation- and permutation-invariant fingerprint, and energy windows.

Many starts of a screen fall into the same minimum. Two minimised structures are the same
minimum when their energies lie within ``energy_window`` (kcal/mol) and their fingerprints
within ``tolerance`` (Å). The fingerprint of a structure is, for every pair of elements
(H-H, H-N, ..., S-S), its sorted interatomic distances: it does not change when the
cluster is rotated, translated or mirrored, or when identical atoms or molecules swap
places, and two structures of one composition are compared by the root-mean-square
difference of their sorted distances. Mirror images (same energy, same distances) count as
one minimum.

Example:
    >>> import numpy as np
    >>> from ase import Atoms
    >>> a = Atoms("H2O", positions=[[0.76, 0.59, 0], [-0.76, 0.59, 0], [0, 0, 0]])
    >>> b = a.copy(); b.rotate(40, "z"); b.translate([1, 2, 3])
    >>> fingerprint_distance(fingerprint(a), fingerprint(b)) < 1e-12
    True
"""

from __future__ import annotations

import numpy as np

from painnjax.units import KCAL_PER_MOL


def fingerprint(atoms_or_numbers, positions=None) -> dict[tuple[int, int], np.ndarray]:
    """Sorted interatomic distances (Å) for each pair of elements, keyed by (Z_a, Z_b) with Z_a <= Z_b."""
    if positions is None:
        numbers, positions = atoms_or_numbers.numbers, atoms_or_numbers.positions
    else:
        numbers = atoms_or_numbers
    Z = np.asarray(numbers)
    R = np.asarray(positions, np.float64)
    i, j = np.triu_indices(len(Z), k=1)
    d = np.linalg.norm(R[i] - R[j], axis=1)
    za, zb = np.minimum(Z[i], Z[j]), np.maximum(Z[i], Z[j])
    return {(int(a), int(b)): np.sort(d[(za == a) & (zb == b)]) for a, b in sorted(set(zip(za.tolist(), zb.tolist())))}


def fingerprint_distance(fa: dict, fb: dict) -> float:
    """RMS difference (Å) of two fingerprints over all distances; inf for different compositions."""
    if fa.keys() != fb.keys() or any(len(fa[k]) != len(fb[k]) for k in fa):
        return float("inf")
    sq = sum(float(np.sum((fa[k] - fb[k]) ** 2)) for k in fa)
    count = sum(len(fa[k]) for k in fa)
    return float(np.sqrt(sq / max(count, 1)))


def unique_minima(
    energies, fingerprints, *, energy_window: float = 0.1, tolerance: float = 0.03, composition=None
) -> np.ndarray:
    """For each structure, the index of the structure it duplicates, or its own index if it is new.

    Structures are visited from the lowest energy up; each is compared with the distinct
    minima found so far whose energy lies within ``energy_window`` kcal/mol (and of the same
    ``composition``, when given) and is a duplicate when its fingerprint lies within
    ``tolerance`` Å of one of them. Non-finite energies are never duplicates (nor duplicated).
    """
    E = np.asarray(energies, np.float64)
    if len(fingerprints) != len(E):
        raise ValueError("one fingerprint per energy is needed")
    comp = list(composition) if composition is not None else [None] * len(E)
    window = energy_window * KCAL_PER_MOL
    order = np.argsort(np.where(np.isfinite(E), E, np.inf), kind="stable")
    same_as = np.arange(len(E))
    kept: list[int] = []
    for k in order:
        if not np.isfinite(E[k]):
            continue
        for m in reversed(kept):  # the nearest energies are the latest kept
            if E[k] - E[m] > window:
                break  # all earlier ones are lower still
            if comp[m] == comp[k] and fingerprint_distance(fingerprints[m], fingerprints[k]) <= tolerance:
                same_as[k] = m
                break
        if same_as[k] == k:
            kept.append(int(k))
    return same_as
