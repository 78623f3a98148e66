"""Padded, size-bucketed, fixed-shape batches: one compile per bucket, little padding.

Structures are grouped by atom count into a few buckets; every batch of a bucket has the same
shapes ``(B, N_bucket)``, and a last partial batch is filled with weight-0 copies. Pair lists
are built inside jit with a per-bucket capacity equal to the most pairs any structure of that
bucket has, so they can never overflow on the data they were sized for.

Example:
    >>> buckets = make_buckets(ds, max_buckets=3)                       # doctest: +SKIP
    >>> for b, idx, batch in iterate_batches(ds, split.train, 2, buckets, epoch_rng(42, 0)):  # doctest: +SKIP
    ...     batch.R.shape  # (2, N_bucket, 3)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from painnjax.nn.neighbors import count_pairs


class Batch(NamedTuple):
    Z: np.ndarray  # (B, N) int32, 0 on padded atoms
    R: np.ndarray  # (B, N, 3) Å; padded atoms are placed far apart, away from the cluster
    atom_mask: np.ndarray  # (B, N) bool
    energy: np.ndarray  # (B,) eV
    forces: np.ndarray  # (B, N, 3) eV/Å (zeros when the set has none)
    weight: np.ndarray  # (B,) 1.0 for real structures, 0.0 for batch filling


@dataclass(frozen=True)
class Bucket:
    n_atoms: int  # atom slots of every structure in the bucket
    pair_capacity: int  # unordered pairs within the cutoff: the most any member has


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The shuffling RNG of one epoch: a function of (seed, epoch) only, so a resumed run
    shuffles exactly as an uninterrupted one."""
    return np.random.default_rng([int(seed), int(epoch)])


def make_buckets(ds, cutoff: float, max_buckets: int = 4, multiple: int = 4) -> list[Bucket]:
    """Up to ``max_buckets`` atom-count buckets from quantiles of the sizes in ``ds``."""
    sizes = np.asarray(ds.n_atoms)
    edges = np.unique(np.quantile(sizes, np.linspace(0, 1, max_buckets + 1)[1:], method="higher"))
    edges = np.unique(-(-edges.astype(int) // multiple) * multiple)
    which = np.searchsorted(edges, sizes)
    buckets = []
    for b, n_slots in enumerate(edges):
        members = np.nonzero(which == b)[0]
        if len(members) == 0:
            continue
        cap = max(count_pairs(ds.positions[k], cutoff) // 2 for k in members)
        buckets.append(Bucket(int(n_slots), max(int(cap), 1)))
    return buckets


def bucket_of(n_atoms: int, buckets: list[Bucket]) -> int:
    for b, bucket in enumerate(buckets):
        if n_atoms <= bucket.n_atoms:
            return b
    raise ValueError(f"a structure of {n_atoms} atoms is larger than the largest bucket ({buckets[-1].n_atoms})")


def pad_structures(ds, indices, n_slots: int, batch_size: int) -> Batch:
    """Stack structures ``indices`` (at most ``batch_size``) into one padded batch."""
    B, N = batch_size, n_slots
    Z = np.zeros((B, N), np.int32)
    # Padded atoms sit 100 Å apart from each other and from the cluster: no pair reaches them,
    # and their mask removes them anyway.
    R = np.tile((1000.0 + 100.0 * np.arange(N))[None, :, None], (B, 1, 3))
    mask = np.zeros((B, N), bool)
    energy = np.zeros(B)
    forces = np.zeros((B, N, 3))
    weight = np.zeros(B)
    idx = list(indices)
    if not 1 <= len(idx) <= B:
        raise ValueError(f"a batch holds 1..{B} structures, got {len(idx)}")
    for b in range(B):
        k = idx[b] if b < len(idx) else idx[0]  # fill with copies of a real structure, weight 0
        n = len(ds.numbers[k])
        Z[b, :n] = ds.numbers[k]
        R[b, :n] = ds.positions[k]
        mask[b, :n] = True
        energy[b] = ds.energy[k]
        if ds.forces is not None:
            forces[b, :n] = ds.forces[k]
        weight[b] = 1.0 if b < len(idx) else 0.0
    return Batch(Z, R, mask, energy, forces, weight)


def iterate_batches(
    ds, indices, batch_size: int, buckets: list[Bucket], rng: np.random.Generator | None = None
) -> Iterator[tuple[int, np.ndarray, Batch]]:
    """``(bucket index, structure indices, batch)`` over ``indices``; shuffled by ``rng``
    (None: in order, bucket by bucket). The indices are those of the batch's real rows."""
    indices = np.asarray(indices)
    groups: dict[int, list[int]] = {}
    for k in indices:
        groups.setdefault(bucket_of(int(ds.n_atoms[k]), buckets), []).append(int(k))
    plan = []
    for b, members in sorted(groups.items()):
        members = np.asarray(members)
        if rng is not None:
            members = rng.permutation(members)
        plan += [(b, members[s : s + batch_size]) for s in range(0, len(members), batch_size)]
    if rng is not None:
        plan = [plan[i] for i in rng.permutation(len(plan))]
    for b, members in plan:
        yield b, members, pad_structures(ds, members, buckets[b].n_atoms, batch_size)
