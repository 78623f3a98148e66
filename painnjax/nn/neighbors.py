"""Neighbour lists as fixed-shape pair lists, all jit-compatible.

A pair list is ``Pairs(idx_i, idx_j, mask)``: messages flow from atom ``idx_j`` to atom
``idx_i`` (SchNetPack's convention, ``r_ij = R[j] - R[i]``), and padded entries have
``mask == False``. Three sources give the same structure:

1. :func:`all_pairs`: every ordered pair i != j of real atoms; the cosine cutoff zeroes pairs
   beyond r_c. Simplest; best for small clusters.
2. :func:`sparse_pairs`: pairs within the cutoff packed into a fixed capacity, with an
   overflow flag; for larger clusters and padded batches (``jax.vmap`` over structures).
3. :func:`from_jax_md`: a ``jax_md.partition.NeighborList`` in any format, so MD can keep
   jax-md's own list (with its skin) and pass it straight to the potential.

Example:
    >>> import jax.numpy as jnp
    >>> R = jnp.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [9.0, 0.0, 0.0]])
    >>> pairs, overflow = sparse_pairs(R, jnp.ones(3, bool), cutoff=5.0, capacity=4)
    >>> int(pairs.mask.sum()), bool(overflow)
    (2, False)
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np


class Pairs(NamedTuple):
    idx_i: jnp.ndarray  # (P,) int32, receiving atom
    idx_j: jnp.ndarray  # (P,) int32, sending atom
    mask: jnp.ndarray  # (P,) bool, False for padding


class HalfPairs(NamedTuple):
    """Each unordered pair once (``idx_i < idx_j``); the model mirrors it to both directions.

    Distances, radial basis and filters are symmetric in i and j, so they are computed once
    per pair: half the work of a :class:`Pairs` list for the same cluster.
    """

    idx_i: jnp.ndarray  # (H,) int32
    idx_j: jnp.ndarray  # (H,) int32
    mask: jnp.ndarray  # (H,) bool

    def mirrored(self) -> Pairs:
        """The directed list: the H pairs (i, j) followed by the H pairs (j, i)."""
        cat = jnp.concatenate
        return Pairs(cat([self.idx_i, self.idx_j]), cat([self.idx_j, self.idx_i]), cat([self.mask, self.mask]))


class PairMatrix(NamedTuple):
    """All pairs as an (N, N) mask: the same maths as :class:`Pairs` without gather/scatter.

    Broadcasting and row sums replace the index gathers and scatter-adds, whose gradients
    are slow on CPU; best for single clusters of up to a few hundred atoms.
    """

    mask: jnp.ndarray  # (N, N) bool, True where i != j are both real atoms


def pair_matrix(atom_mask) -> PairMatrix:
    """All ordered pairs i != j of real atoms as a :class:`PairMatrix`."""
    n = atom_mask.shape[0]
    return PairMatrix(atom_mask[:, None] & atom_mask[None, :] & ~jnp.eye(n, dtype=bool))


def all_pairs(atom_mask, half: bool = False):
    """All ordered pairs i != j of the N atom slots, masked to real atoms: P = N(N-1).

    With ``half=True``, each unordered pair once (i < j) as a :class:`HalfPairs`.
    """
    n = atom_mask.shape[0]
    i, j = np.nonzero(np.triu(np.ones((n, n), bool), k=1) if half else ~np.eye(n, dtype=bool))
    i = jnp.asarray(i, dtype=jnp.int32)
    j = jnp.asarray(j, dtype=jnp.int32)
    return (HalfPairs if half else Pairs)(i, j, atom_mask[i] & atom_mask[j])


def within_cutoff(R, atom_mask, cutoff):
    """(N, N) bool: real atoms i != j closer than ``cutoff`` (the test every pair list uses)."""
    n = R.shape[0]
    d2 = jnp.sum((R[:, None, :] - R[None, :, :]) ** 2, axis=-1)  # (N, N)
    return (d2 < cutoff * cutoff) & ~jnp.eye(n, dtype=bool) & atom_mask[:, None] & atom_mask[None, :]


def sparse_pairs(R, atom_mask, cutoff: float, capacity: int, half: bool = False):
    """Pairs with distance < ``cutoff`` packed into ``capacity`` slots.

    Returns ``(pairs, overflow)``; when ``overflow`` is True some pairs were dropped and the
    caller must rebuild with a larger capacity (outside jit) -- see :func:`pair_capacity`.
    With ``half=True`` the list is a :class:`HalfPairs` (each pair once, i < j) and
    ``capacity`` counts unordered pairs.
    """
    within = within_cutoff(R, atom_mask, cutoff)
    if half:
        within = jnp.triu(within, k=1)
    n = R.shape[0]
    i, j = jnp.nonzero(within, size=capacity, fill_value=n)
    mask = i < n
    # Padding slots point at atom 0 (a valid index); their mask removes them exactly.
    i = jnp.where(mask, i, 0).astype(jnp.int32)
    j = jnp.where(mask, j, 0).astype(jnp.int32)
    return (HalfPairs if half else Pairs)(i, j, mask), jnp.sum(within) > capacity


def count_pairs(R, cutoff: float, atom_mask=None) -> int:
    """Number of ordered pairs within ``cutoff`` (eager; each pair's distance computed once)."""
    from scipy.spatial.distance import pdist

    R = np.asarray(R, dtype=np.float64)
    if atom_mask is not None:
        R = R[np.asarray(atom_mask, bool)]
    return 2 * int(np.count_nonzero(pdist(R) < cutoff)) if len(R) > 1 else 0


def most_pairs(structures, cutoff: float) -> tuple[int, int]:
    """``(index, n_pairs)``: the structure among ``structures`` ((S, N, 3), or a list of (N, 3)) with the
    most ordered pairs within ``cutoff`` (the first of equals), and its count; eager, as :func:`count_pairs`.

    A pair list sized to it holds them all (see :meth:`painnjax.potential.Potential.start_capacity`).
    """
    counts = [count_pairs(R, cutoff) for R in structures]
    if not counts:
        raise ValueError("most_pairs needs at least one structure")
    k = int(np.argmax(counts))
    return k, counts[k]


def pair_capacity(n_pairs: int, multiplier: float = 1.1, multiple: int = 64) -> int:
    """A tight pair capacity: ``n_pairs`` times a margin, rounded up to a multiple (for reuse)."""
    want = max(int(np.ceil(n_pairs * multiplier)), 1)
    return int(-(-want // multiple) * multiple)


def from_jax_md(neighbor, n_atoms: int) -> Pairs:
    """Pair list from a ``jax_md.partition.NeighborList`` (Dense, Sparse or OrderedSparse).

    jax-md pads with index ``n_atoms``; those slots are masked. OrderedSparse lists hold each
    pair once and are mirrored here, since PaiNN messages are directed.
    """
    from jax_md import partition  # local: jax-md is only needed when its lists are used

    idx = neighbor.idx
    fmt = neighbor.format
    if fmt == partition.NeighborListFormat.Dense:
        if idx.ndim != 2 or idx.shape[0] != n_atoms:
            raise ValueError(f"dense jax-md neighbour list has shape {idx.shape}, expected ({n_atoms}, M)")
        i = jnp.repeat(jnp.arange(n_atoms, dtype=jnp.int32), idx.shape[1])
        j = idx.reshape(-1)
    elif fmt in (partition.NeighborListFormat.Sparse, partition.NeighborListFormat.OrderedSparse):
        i, j = idx[0], idx[1]
        if fmt == partition.NeighborListFormat.OrderedSparse:
            i, j = jnp.concatenate([i, j]), jnp.concatenate([j, i])
    else:  # pragma: no cover - jax-md has no other formats today
        raise ValueError(f"unsupported jax-md neighbour list format {fmt!r}")
    mask = (i < n_atoms) & (j < n_atoms) & (i != j)
    i = jnp.where(mask, i, 0).astype(jnp.int32)
    j = jnp.where(mask, j, 0).astype(jnp.int32)
    return Pairs(i, j, mask)


def jax_md_neighbor_fn(cutoff: float, skin: float = 0.5, fmt: str = "sparse", capacity_multiplier: float = 1.25):
    """A free-space jax-md neighbour-list function for clusters (no periodic box).

    Returns ``neighbor_fn`` with ``neighbor_fn.allocate(R)`` / ``neighbor_fn.update(R, nbrs)``.
    The cell list is disabled (free space has no box), as jax-md requires.
    """
    from jax_md import partition, space

    displacement, _ = space.free()
    formats = {
        "dense": partition.NeighborListFormat.Dense,
        "sparse": partition.NeighborListFormat.Sparse,
        "ordered_sparse": partition.NeighborListFormat.OrderedSparse,
    }
    if fmt not in formats:
        raise ValueError(f"neighbour-list format must be one of {sorted(formats)}, got {fmt!r}")
    return partition.neighbor_list(
        displacement,
        box=jnp.ones(3) * 1e3,  # unused with disable_cell_list, but jax-md asks for one
        r_cutoff=cutoff,
        dr_threshold=skin,
        capacity_multiplier=capacity_multiplier,
        disable_cell_list=True,
        format=formats[fmt],
    )
