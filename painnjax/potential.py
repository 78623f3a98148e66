"""The pure potential: ``energy_fn(R, neighbor=None) -> E`` in eV, closed over weights and species.

:func:`potential` returns a :class:`Potential`: a frozen, callable value whose attributes
(``n_atoms``, ``species``, ``cutoff``, ``neighbor_mode``, ``capacity``, ``fits``) and its
pair-list policy for drivers (``needs_pair_list``, ``start_capacity``, ``grown_capacity``) are
the whole contract the MD drivers, minimisers and the ASE calculator read. Everything else uses this one
function: ``jax.grad`` gives forces, ``jax.hessian`` harmonic
frequencies, jax-md integrates it, ``jax.vmap`` screens many structures, training
differentiates :func:`energy` with respect to the parameters.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from painnjax import Model, PaiNNConfig, potential
    >>> model = Model.init(PaiNNConfig(n_atom_basis=16, n_interactions=2, n_rbf=8))
    >>> energy_fn = potential(model, ["O", "H", "H"])
    >>> R = jnp.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    >>> forces = -jax.grad(energy_fn)(R)
    >>> forces.shape
    (3, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from painnjax.compiler import jit
from painnjax.errors import InputError
from painnjax.nn.neighbors import (
    HalfPairs,
    PairMatrix,
    Pairs,
    all_pairs,
    count_pairs,
    from_jax_md,
    most_pairs,
    pair_capacity,
    pair_matrix,
    sparse_pairs,
)
from painnjax.nn.painn import PaiNN
from painnjax.validate import as_atomic_numbers, check_positions, check_species

# Below this many atoms all N(N-1) pairs are cheaper than building a sparse list.
ALL_PAIRS_MAX_ATOMS = 32
# How a potential gets its pairs when the call passes none (see :func:`potential`).
NEIGHBOR_MODES = ("auto", "all", "sparse", "matrix")


def energy(module: PaiNN, variables, Z, R, atom_mask, pairs: Pairs):
    """Total energy of one (padded) structure; the function training differentiates."""
    return module.apply(variables, Z, R, pairs, atom_mask)


def cast_variables(variables, dtype):
    """Weights in ``dtype`` (float64 needs ``jax.enable_x64``, which is checked)."""
    dtype = jnp.dtype(dtype)
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise InputError(
            "float64 was requested but JAX's x64 mode is off; run inside "
            "`with jax.enable_x64(True):` or set JAX_ENABLE_X64=1"
        )
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), variables)


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


@dataclass(frozen=True, eq=False)
class Potential:
    """A potential energy function of one cluster, and what a driver needs to know about it.

    Call it as jax-md calls an energy: ``E = pot(R, neighbor=None)`` (eV; ``R`` (N, 3) Å).
    It works under ``jax.jit``, ``jax.grad``, ``jax.vmap`` and ``jax.hessian`` like a function.
    ``pot(R, species=Z, atom_mask=m)`` evaluates another cluster of at most ``n_atoms`` atoms
    with the same weights: ``Z`` (N,) its atomic numbers, ``m`` (N,) bool its real atoms (the
    others are padding: they add no energy; keep them beyond the cutoff of everything). MD of
    several clusters in one compiled run uses this (:mod:`md.dynamics.systems`).

    Attributes:
        fn: ``fn(R, neighbor) -> E``, the energy (``neighbor`` may be None).
        n_atoms: atoms in the cluster.
        species: atomic numbers (N,), numpy int.
        cutoff: the model's cutoff radius, Å.
        neighbor_mode: ``"all"`` (all pairs, no capacity) or ``"sparse"`` (a pair list of
            ``capacity`` ordered pairs, NaN when a structure has more).
        capacity: ordered-pair capacity of the sparse list, or None with all pairs.
        members: the potentials averaged by a committee mean (:func:`mean_potential`), else ``()``.
    """

    fn: Callable
    n_atoms: int
    species: np.ndarray
    cutoff: float
    neighbor_mode: str = "all"
    capacity: int | None = None
    members: tuple = ()

    def __call__(self, R, neighbor=None, species=None, atom_mask=None, **unused_kwargs):
        if species is None and atom_mask is None:
            return self.fn(R, neighbor)
        return self.fn(R, neighbor, species=species, atom_mask=atom_mask)

    def fits(self, R) -> bool:
        """Whether structure ``R`` fits the sparse pair capacity (always True for all pairs)."""
        if self.members:
            return all(m.fits(R) for m in self.members)
        return self.neighbor_mode == "all" or count_pairs(R, self.cutoff) <= self.capacity

    def needs_pair_list(self) -> bool:
        """Whether a driver that calls this potential step after step (MD, the minimisers) should
        give it a list of the pairs within the cutoff, built by the driver at every call from a
        capacity it starts with (:meth:`start_capacity`) and grows when a structure needs more
        (:meth:`grown_capacity`).

        True for a sparse potential, and for one on all pairs of more than
        :data:`ALL_PAIRS_MAX_ATOMS` atoms (the pairs within the cutoff are then fewer than all
        pairs); a ``"matrix"`` potential keeps its own layout.
        """
        return self.neighbor_mode == "sparse" or (self.neighbor_mode == "all" and self.n_atoms > ALL_PAIRS_MAX_ATOMS)

    @property
    def max_capacity(self) -> int:
        """All unordered pairs of the cluster, N (N - 1) / 2: no pair list needs more."""
        return self.n_atoms * (self.n_atoms - 1) // 2

    def grown_capacity(self, n_pairs: int) -> int:
        """A driver's pair-list capacity (unordered pairs) for ``n_pairs`` unordered pairs: a 10 %
        margin, rounded up (:func:`~painnjax.nn.neighbors.pair_capacity`), never above :attr:`max_capacity`."""
        return int(min(pair_capacity(2 * int(n_pairs)) // 2, self.max_capacity))

    def start_capacity(self, positions, capacity: int | None = None) -> int:
        """The capacity (unordered pairs) a driver's pair list starts with to hold every structure in
        ``positions`` (S, N, 3) Å.

        ``capacity`` (unordered pairs) if given, else the potential's own (half its ordered
        :attr:`capacity`), when it holds the structure with the most pairs; otherwise
        :meth:`grown_capacity` of that count. At least 1, at most :attr:`max_capacity`.
        """
        most = most_pairs(np.asarray(positions, np.float64), self.cutoff)[1] // 2
        start = capacity if capacity is not None else (None if self.capacity is None else self.capacity // 2)
        if start is None or start < most:
            start = self.grown_capacity(most)
        return int(min(max(int(start), 1), self.max_capacity))

    def plus(self, extra: Callable) -> Potential:
        """This potential plus ``extra(R) -> E`` (eV; e.g. a restraint), with the same attributes."""
        fn = self.fn
        return replace(self, fn=lambda R, neighbor, **kw: fn(R, neighbor, **kw) + extra(R))


def potential(
    model,
    species,
    *,
    neighbor: str = "auto",
    capacity: int | None = None,
    reference_positions=None,
    dtype=jnp.float32,
) -> Potential:
    """Build the :class:`Potential` ``energy_fn(R, neighbor=None) -> E`` (eV) of a cluster.

    Args:
        model: a :class:`painnjax.Model` (or a model file path / bundled model name).
        species: atomic numbers or symbols (N,), or an ``ase.Atoms``.
        neighbor: the pair list used when the call passes none: ``"all"`` (all pairs, cutoff
            applied by the cosine cutoff), ``"sparse"`` (pairs within the cutoff in a fixed
            ``capacity``), or ``"auto"`` (all pairs up to 32 atoms, sparse above when
            ``reference_positions`` or ``capacity`` size the list, else all pairs). A
            structure with more pairs than the capacity gives NaN inside ``jit`` (never a
            silently wrong number) and a clear error when called eagerly; check with
            ``energy_fn.fits(R)`` and rebuild with a larger capacity. ``"matrix"``: all
            pairs as an (N, N) :class:`~painnjax.nn.neighbors.PairMatrix` (broadcasts and row
            sums, no gathers or scatters); the same energies, a layout for accelerators.
        capacity: pair capacity for ``"sparse"``; by default sized from
            ``reference_positions`` (10 % margin: padding slots cost as much as real pairs) or, without them, all pairs.
        reference_positions: a typical structure (N, 3) to size the sparse capacity.
        dtype: float32 (default) or float64 (needs ``jax.enable_x64``).

    The returned function follows jax-md's convention: ``energy_fn(R, neighbor=nbrs)`` accepts
    a ``jax_md.partition.NeighborList`` (any format) or a painnjax ``Pairs``, ``HalfPairs`` or
    ``PairMatrix``.
    Called on concrete arrays it checks the positions (shape, NaN, overlaps) and raises
    :class:`~painnjax.errors.InputError`; inside ``jit`` only shapes are checked.
    """
    from painnjax.io.modelfile import load_model

    model = load_model(model)
    Z_np = as_atomic_numbers(species)
    check_species(Z_np, model.elements, model.config.max_z)
    n = len(Z_np)
    Z = jnp.asarray(Z_np)
    mask = jnp.ones(n, bool)
    module = model.module
    variables = cast_variables(model.variables, dtype)
    cutoff = model.config.cutoff

    if neighbor not in NEIGHBOR_MODES:
        raise InputError(f"neighbor must be one of {', '.join(NEIGHBOR_MODES)}, got {neighbor!r}")
    sized = capacity is not None or reference_positions is not None
    if neighbor == "auto":
        mode = "sparse" if n > ALL_PAIRS_MAX_ATOMS and sized else "all"
    else:
        mode = neighbor
    if mode == "sparse" and capacity is None:
        if reference_positions is not None:
            capacity = pair_capacity(count_pairs(reference_positions, cutoff))
        else:
            capacity = n * (n - 1)
    # Even, since the list holds each pair once: capacity // 2 unordered pairs.
    capacity = None if mode in ("all", "matrix") else 2 * -(-min(int(capacity), n * (n - 1)) // 2)

    # Internal lists hold each pair once (HalfPairs): the radial work is then done once per pair.
    dense = all_pairs(mask, half=True)
    matrix = pair_matrix(mask)
    half_capacity = None if capacity is None else capacity // 2

    def energy_fn(R, neighbor=None, species=None, atom_mask=None):
        Z_, mask_ = (Z if species is None else species), (mask if atom_mask is None else atom_mask)

        def e_of(R, pairs):
            return energy(module, variables, Z_, R, mask_, pairs)

        R = jnp.asarray(R)
        if R.shape != (n, 3):
            raise InputError(f"positions must have shape ({n}, 3) for this potential, got {R.shape}")
        if _is_concrete(R) and atom_mask is None:
            check_positions(np.asarray(R), n)
            if neighbor is None and mode == "sparse":
                n_pairs = count_pairs(R, cutoff)
                if n_pairs > capacity:
                    raise InputError(
                        f"this structure has {n_pairs} pairs within {cutoff} Å, more than the "
                        f"potential's capacity of {capacity}; build it again with a larger capacity"
                    )
        R = R.astype(dtype)
        if neighbor is not None:
            own = isinstance(neighbor, (Pairs, HalfPairs, PairMatrix))
            pairs = neighbor if own else from_jax_md(neighbor, n)
            return e_of(R, pairs)
        if mode == "all":
            return e_of(R, dense)
        if mode == "matrix":
            return e_of(R, matrix)
        pairs, overflow = sparse_pairs(R, mask_, cutoff, half_capacity, half=True)
        # A lax.cond fallback to all pairs would double the cost of forces; NaN is loud instead.
        # A factor, not jnp.where, so that the forces (the gradient) are NaN too.
        return e_of(R, pairs) * jnp.where(overflow, jnp.nan, 1.0)

    return Potential(energy_fn, n, Z_np, float(cutoff), mode, capacity)


def energy_and_forces(energy_fn: Callable) -> Callable:
    """One jitted call ``(R, neighbor=None) -> (E, F)`` with ``F = -dE/dR``."""
    value_and_grad = jax.value_and_grad(energy_fn)

    @jit
    def fn(R, neighbor=None):
        e, g = value_and_grad(R, neighbor=neighbor)
        return e, -g

    return fn


def mean_potential(models, species, **kwargs) -> Potential:
    """The committee mean ``energy_fn(R, neighbor=None) = mean_k E_k(R)`` of several models.

    ``models`` are models (or files / bundled names) sharing one cutoff; ``species`` and the
    keyword arguments go to :func:`potential` for each. The result is a :class:`Potential`
    with the members in ``members``, so MD drivers manage its pair list the same way, and one
    list serves every member.
    """
    from painnjax.io.modelfile import load_model

    models = [load_model(m) for m in models]
    if not models:
        raise InputError("a committee needs at least one model")
    cutoffs = sorted({float(m.config.cutoff) for m in models})
    if len(cutoffs) > 1:
        raise InputError(
            f"the committee's models have different cutoffs ({cutoffs} Å); one pair list cannot serve them"
        )
    members = [potential(m, species, **kwargs) for m in models]
    first = members[0]
    capacity = max((p.capacity or 0) for p in members) or None

    def energy_fn(R, neighbor=None, **kwargs):
        return sum(p(R, neighbor=neighbor, **kwargs) for p in members) / len(members)

    mode = "sparse" if any(p.neighbor_mode == "sparse" for p in members) else first.neighbor_mode
    return Potential(energy_fn, first.n_atoms, first.species, first.cutoff, mode, capacity, tuple(members))
