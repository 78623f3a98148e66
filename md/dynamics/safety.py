"""Checks on each thermo record: finite energies and positions, temperature, one cluster.

A replica that fails a check is stopped; the driver saves its last good frame and reports
step and time. The checks run on the host, on records the jitted loop returns anyway.

Example:
    >>> import numpy as np
    >>> R = np.array([[0.0, 0, 0], [1.0, 0, 0], [9.0, 0, 0]])
    >>> [f.tolist() for f in fragments(R, 5.0)]
    [[0, 1], [2]]
    >>> check_frame(R, e_pot=-1.0, temperature=300.0, max_temperature=2000.0,
    ...             fragment_distance=5.0, symbols=["O", "H", "H"])
    ('fragmentation', 'a fragment H (atom 2) is more than 5 Å from the rest of the cluster')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def fragments(R, distance: float) -> list[np.ndarray]:
    """Groups of atoms (largest first) linked by distances below ``distance`` (Å)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial.distance import pdist

    R = np.asarray(R, np.float64)
    n = len(R)
    if n < 2:
        return [np.arange(n)]
    near = pdist(R) < distance
    i, j = np.triu_indices(n, k=1)
    graph = coo_matrix((np.ones(int(near.sum())), (i[near], j[near])), shape=(n, n))
    n_comp, labels = connected_components(graph, directed=False)
    groups = [np.flatnonzero(labels == c) for c in range(n_comp)]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def formula(symbols: Sequence[str], atoms: np.ndarray) -> str:
    """Hill-style formula of a group of atoms, e.g. ``H3N``."""
    counts = Counter(symbols[k] for k in atoms)
    return "".join(f"{el}{counts[el] if counts[el] > 1 else ''}" for el in sorted(counts))


def lost_fragments(R, distance: float, symbols: Sequence[str]) -> list[str]:
    """Formulas of the groups that are apart from the largest one (e.g. ``["H3N"]`` for a lost ammonia)."""
    return [formula(symbols, g) for g in fragments(R, distance)[1:]]


def _atom_list(atoms: np.ndarray) -> str:
    if len(atoms) == 1:
        return f"atom {atoms[0]}"
    shown = ", ".join(str(a) for a in atoms[:8])
    return f"atoms {shown}{', ...' if len(atoms) > 8 else ''}"


def check_frame(
    R, e_pot: float, temperature: float, max_temperature: float, fragment_distance: float, symbols: Sequence[str]
) -> tuple[str, str] | None:
    """``(kind, message)`` for the first failed check, or None when the frame is good.

    Kinds: ``"non-finite"``, ``"temperature"``, ``"fragmentation"``.
    """
    R = np.asarray(R)
    if not (np.isfinite(e_pot) and np.isfinite(temperature) and np.isfinite(R).all()):
        what = "energy" if not np.isfinite(e_pot) else "temperature" if not np.isfinite(temperature) else "positions"
        return "non-finite", f"the {what} became non-finite (E_pot = {e_pot}, T = {temperature})"
    if temperature > max_temperature:
        return "temperature", f"the temperature ran away: {temperature:.0f} K > {max_temperature:.0f} K"
    if fragment_distance > 0:
        groups = fragments(R, fragment_distance)
        if len(groups) > 1:
            parts = "; ".join(f"{formula(symbols, g)} ({_atom_list(g)})" for g in groups[1:])
            return "fragmentation", (
                f"a fragment {parts} is more than {fragment_distance:g} Å from the rest of the cluster"
            )
    return None
