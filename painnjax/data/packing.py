"""Packed batches: a batch's structures laid end to end as one graph, with no per-structure padding.

Size buckets (:mod:`painnjax.data.batching`) pad every structure of a batch to the bucket's
size and fill a bucket's last batch with weight-0 copies; on small or mixed sets that is most
of the work (at batch 32 on 64 pool structures, 41 % of the atom slots were real). Here a
batch of ``batch_size`` structures drawn from the whole set (no buckets) is laid out as
``groups`` graphs (one per device), each with a fixed number of atom slots and pair slots, a
:class:`Budget`. Each atom knows its structure (``owner``); the pairs of each structure within
the cutoff are found once on the host (:func:`structure_pairs`) and shifted to its slots. A
few budgets (:func:`make_budgets`), from the sizes of random batches, keep the compiles few and
the padding small; a batch takes the smallest budget it fits. Any batch fits the largest.

Example:
    >>> pairs = structure_pairs(ds, cutoff=5.0)                                   # doctest: +SKIP
    >>> budgets = make_budgets(ds, pairs, batch_size=32, groups=1)                # doctest: +SKIP
    >>> for k, members, packed in iterate_packed(ds, pairs, idx, 32, budgets, 1, rng):  # doctest: +SKIP
    ...     packed.R.shape  # (1, budgets[k].atoms, 3)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# Padding atoms sit far from everything and from each other (as in padded batches): no pair
# reaches them, and their mask removes them anyway.
_FAR = 1000.0


class Packed(NamedTuple):
    """``groups`` graphs of ``A`` atom slots and ``H`` pair slots holding up to ``b`` structures each."""

    Z: np.ndarray  # (G, A) int32, 0 on padding
    R: np.ndarray  # (G, A, 3) Å
    atom_mask: np.ndarray  # (G, A) bool
    owner: np.ndarray  # (G, A) int32: the structure slot (0..b-1) of each atom; 0 on padding
    energy: np.ndarray  # (G, b) eV
    forces: np.ndarray  # (G, A, 3) eV/Å (zeros when the set has none)
    weight: np.ndarray  # (G, b) 1.0 for real structures, 0.0 for empty slots
    idx_i: np.ndarray  # (G, H) int32: each pair within the cutoff once (i < j), in graph slots
    idx_j: np.ndarray  # (G, H) int32
    pair_mask: np.ndarray  # (G, H) bool


@dataclass(frozen=True)
class Budget:
    atoms: int  # atom slots of each group's graph
    pairs: int  # pair slots (unordered pairs within the cutoff) of each group's graph


def structure_pairs(ds, cutoff: float) -> list[np.ndarray]:
    """Per structure, its unordered pairs closer than ``cutoff`` as an (h, 2) int32 array (i < j)."""
    # Imported here, not at the head: scipy would add 0.4 s to `import painnjax`, so to every
    # `painnjax` command and `--help` (2026-12-07: `import scipy.spatial.distance` timed after `import painnjax`).
    from scipy.spatial.distance import pdist

    out = []
    for R in ds.positions:
        n = len(R)
        i, j = np.triu_indices(n, k=1)
        close = pdist(np.asarray(R, np.float64)) < cutoff if n > 1 else np.zeros(0, bool)
        out.append(np.stack([i[close], j[close]], axis=1).astype(np.int32))
    return out


def _round_up(x, multiple: int) -> int:
    return int(-(-max(int(x), 1) // multiple) * multiple)


def _group_sizes(per_group: int, n: int, groups: int) -> list[int]:
    """How ``n`` structures of a batch are split over ``groups`` graphs (in order, full groups first)."""
    return [min(per_group, max(n - g * per_group, 0)) for g in range(groups)]


def make_budgets(
    ds, pairs, indices, batch_size: int, groups: int = 1, n_budgets: int = 3, seed: int = 0, multiple: int = 16
) -> list[Budget]:
    """Up to ``n_budgets`` + 1 budgets for batches of ``batch_size`` structures of ``indices``.

    The atoms and pairs of a group of ``batch_size // groups`` random structures are sampled
    (2,000 draws); budgets sit at their 50 %, 90 % and 99 % quantiles (for three), and the
    last one holds the largest structures together, so that every batch fits somewhere.
    """
    if batch_size % groups:
        raise ValueError(f"a batch of {batch_size} structures cannot be split into {groups} equal groups")
    per_group = batch_size // groups
    idx = np.asarray(indices)
    atoms = np.asarray(ds.n_atoms)[idx]
    n_pairs = np.asarray([len(pairs[k]) for k in idx])
    k = min(per_group, len(idx))
    largest = Budget(
        _round_up(np.sort(atoms)[::-1][:k].sum(), multiple), _round_up(np.sort(n_pairs)[::-1][:k].sum(), multiple)
    )
    rng = np.random.default_rng(seed)
    draws = np.stack([rng.choice(len(idx), size=k, replace=False) for _ in range(2000)])
    sum_atoms, sum_pairs = atoms[draws].sum(axis=1), n_pairs[draws].sum(axis=1)
    qs = np.linspace(0.5, 0.99, n_budgets) if n_budgets > 1 else np.asarray([0.9])
    budgets = {
        Budget(
            min(_round_up(np.quantile(sum_atoms, q), multiple), largest.atoms),
            min(_round_up(np.quantile(sum_pairs, q), multiple), largest.pairs),
        )
        for q in qs
    }
    budgets.add(largest)
    return sorted(budgets, key=lambda b: (b.atoms, b.pairs))


def pack(ds, pairs, members, budget: Budget, batch_size: int, groups: int = 1) -> Packed:
    """Lay structures ``members`` (at most ``batch_size``) out as ``groups`` graphs of ``budget``."""
    per_group = batch_size // groups
    G, A, H, b = groups, budget.atoms, budget.pairs, per_group
    members = [int(k) for k in members]
    if not 1 <= len(members) <= batch_size:
        raise ValueError(f"a batch holds 1..{batch_size} structures, got {len(members)}")
    Z = np.zeros((G, A), np.int32)
    R = np.tile((_FAR + 100.0 * np.arange(A))[None, :, None], (G, 1, 3))
    mask = np.zeros((G, A), bool)
    owner = np.zeros((G, A), np.int32)
    energy = np.zeros((G, b))
    forces = np.zeros((G, A, 3))
    weight = np.zeros((G, b))
    idx_i = np.zeros((G, H), np.int32)
    idx_j = np.zeros((G, H), np.int32)
    pair_mask = np.zeros((G, H), bool)
    start = 0
    for g, size in enumerate(_group_sizes(per_group, len(members), groups)):
        a = h = 0
        for s, k in enumerate(members[start : start + size]):
            n, p = len(ds.numbers[k]), pairs[k]
            if a + n > A or h + len(p) > H:
                raise ValueError(f"the structures of group {g} do not fit {budget}")
            Z[g, a : a + n] = ds.numbers[k]
            R[g, a : a + n] = ds.positions[k]
            mask[g, a : a + n] = True
            owner[g, a : a + n] = s
            if ds.forces is not None:
                forces[g, a : a + n] = ds.forces[k]
            energy[g, s] = ds.energy[k]
            weight[g, s] = 1.0
            idx_i[g, h : h + len(p)] = p[:, 0] + a
            idx_j[g, h : h + len(p)] = p[:, 1] + a
            pair_mask[g, h : h + len(p)] = True
            a, h = a + n, h + len(p)
        start += size
    return Packed(Z, R, mask, owner, energy, forces, weight, idx_i, idx_j, pair_mask)


def fitting_budget(ds, pairs, members, budgets: list[Budget], batch_size: int, groups: int = 1) -> int:
    """Index of the smallest budget that holds every group of ``members``."""
    per_group = batch_size // groups
    members = [int(k) for k in members]
    need_atoms = need_pairs = start = 0
    for size in _group_sizes(per_group, len(members), groups):
        group = members[start : start + size]
        need_atoms = max(need_atoms, sum(len(ds.numbers[k]) for k in group))
        need_pairs = max(need_pairs, sum(len(pairs[k]) for k in group))
        start += size
    for i, budget in enumerate(budgets):
        if need_atoms <= budget.atoms and need_pairs <= budget.pairs:
            return i
    raise ValueError(f"a batch of {need_atoms} atoms and {need_pairs} pairs per group fits no budget")


def iterate_packed(
    ds, pairs, indices, batch_size: int, budgets: list[Budget], groups: int = 1, rng: np.random.Generator | None = None
) -> Iterator[tuple[int, np.ndarray, Packed]]:
    """``(budget index, structure indices, packed batch)`` over ``indices`` in batches of
    ``batch_size``, shuffled by ``rng`` (None: in order). Only the last batch may be short."""
    order = np.asarray(indices)
    if rng is not None:
        order = rng.permutation(order)
    for s in range(0, len(order), batch_size):
        members = order[s : s + batch_size]
        k = fitting_budget(ds, pairs, members, budgets, batch_size, groups)
        yield k, members, pack(ds, pairs, members, budgets[k], batch_size, groups)
