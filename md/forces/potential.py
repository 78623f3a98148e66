"""The energy MD and the minimisers see, with the pair list rebuilt at every call and its overflow told apart.

A painnjax potential (``painnjax.potential``) that asks for a pair list of its driver
(:meth:`painnjax.potential.Potential.needs_pair_list`: a sparse potential, or one of more than
32 atoms) is evaluated here on a list of a fixed ``capacity`` (unordered pairs) that
:class:`MDPotential` builds from the positions at every force call, inside the jitted loop. The
drivers count the pairs within the cutoff after every step (:meth:`MDPotential.count`): when the
count exceeds the capacity, the chunk of steps is run again from its saved start with a larger
list (:meth:`MDPotential.after_overflow`), so no step ever uses a truncated list. A real blow-up
(non-finite energies) is therefore never confused with an overflow. The capacities themselves
are the potential's policy (:meth:`~painnjax.potential.Potential.start_capacity`,
:meth:`~painnjax.potential.Potential.grown_capacity`).

Any other function ``energy_fn(R, **kwargs) -> E`` (eV, Å) -- a small painnjax potential on
all pairs, or any jax-md style energy -- is called as it is.

Example:
    >>> import jax.numpy as jnp, painnjax
    >>> from painnjax.data import bundled_structure
    >>> atoms = bundled_structure("SA4AM4")                         # 44 atoms
    >>> model = painnjax.Model.init(painnjax.PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4))
    >>> pot = MDPotential.wrap(painnjax.potential(model, atoms), 44)
    >>> pot.managed, pot.initial_capacity(atoms.positions[None]) >= int(pot.count(jnp.asarray(atoms.positions)))
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from painnjax.nn.neighbors import sparse_pairs, within_cutoff
from painnjax.potential import Potential

#: on overflow the list is sized for this many times the largest count seen (plus the usual
#: 10 % margin): a cluster that is getting denser would otherwise overflow again and again,
#: each time with a new compilation.
OVERFLOW_GROWTH = 1.15


def _cluster(kwargs: dict) -> dict:
    """The keyword arguments that say which (padded) cluster is evaluated, if any."""
    return {k: kwargs[k] for k in ("species", "atom_mask") if kwargs.get(k) is not None}


@dataclass(frozen=True)
class MDPotential:
    """An energy function plus how its pair list is managed.

    Attributes:
        energy_fn: ``energy_fn(R, neighbor=None, **kwargs) -> E`` in eV; a painnjax
            :class:`~painnjax.potential.Potential` whenever the list is managed here.
        n_atoms: atoms in the cluster.
        cutoff: pair-list cutoff (Å) when the list is managed here, else None.
        capacity_hint: the potential's own sparse capacity in unordered pairs, if any.
        members: the energy functions of a committee whose mean ``energy_fn`` is
            (:func:`painnjax.potential.mean_potential`), else ``()``.
    """

    energy_fn: Callable
    n_atoms: int
    cutoff: float | None = None
    capacity_hint: int | None = None
    members: tuple = ()

    @classmethod
    def wrap(cls, energy_fn: Callable, n_atoms: int, pairs: str = "auto") -> MDPotential:
        """Decide how ``energy_fn`` gets its pairs.

        ``pairs="auto"``: a painnjax :class:`~painnjax.potential.Potential` gets a managed
        sparse list when it asks for one (:meth:`~painnjax.potential.Potential.needs_pair_list`:
        sparse, or more than 32 atoms); anything else is called as it is. ``"sparse"`` forces a
        managed list (needs a painnjax potential, for its cutoff), ``"own"`` calls
        ``energy_fn(R)`` as it is.
        """
        if isinstance(energy_fn, MDPotential):
            return energy_fn
        typed = isinstance(energy_fn, Potential)
        if pairs == "auto":
            managed = typed and energy_fn.needs_pair_list()
        elif pairs == "sparse":
            if not typed:
                raise ValueError("pairs='sparse' needs a painnjax Potential (its cutoff sizes the pair list)")
            managed = True
        elif pairs == "own":
            managed = False
        else:
            raise ValueError(f"pairs must be 'auto', 'sparse' or 'own', got {pairs!r}")
        cap = energy_fn.capacity if typed and energy_fn.neighbor_mode == "sparse" else None
        members = tuple(energy_fn.members) if typed else ()
        return cls(
            energy_fn,
            int(n_atoms),
            float(energy_fn.cutoff) if managed else None,
            None if cap is None else int(cap) // 2,
            members if len(members) > 1 else (),
        )

    @property
    def managed(self) -> bool:
        """Whether the pair list is built here (and can overflow)."""
        return self.cutoff is not None

    def _pairs(self, R, capacity: int | None) -> dict:
        """The keyword arguments that give an energy function its pairs: ``{"neighbor": list}``
        built from ``R`` (no gradient through it) when the list is managed here, else ``{}``."""
        if not self.managed:
            return {}
        mask = jnp.ones(self.n_atoms, bool)
        pairs, _ = sparse_pairs(jax.lax.stop_gradient(R), mask, self.cutoff, capacity, half=True)
        return {"neighbor": pairs}

    def energy(self, capacity: int | None) -> Callable:
        """``energy(R, **kwargs) -> E`` on a pair list of ``capacity`` unordered pairs.

        ``species`` and ``atom_mask`` among the keyword arguments (a padded cluster of a run
        of several, :mod:`md.dynamics.systems`) go on to the potential; the rest are dropped.
        """
        fn = self.energy_fn

        def energy(R, **kwargs):
            return fn(R, **self._pairs(R, capacity), **_cluster(kwargs))

        return energy

    def energy_dtype(self, capacity: int | None) -> jnp.dtype:
        """The dtype of the energy (the potential's: float32, or float64 when built so), from the
        shapes alone: nothing is computed or compiled."""
        R = jax.ShapeDtypeStruct((self.n_atoms, 3), jnp.float32)
        return jnp.dtype(jax.eval_shape(self.energy(capacity), R).dtype)

    def committee(self, capacity: int | None) -> Callable:
        """``committee(R, **kwargs) -> (E, F)``: each member's energy (K,) eV, forces (K, N, 3) eV/Å, one pair list."""
        if not self.members:
            raise ValueError("the potential is not a committee (it has no members)")
        members = self.members

        def committee(R, **aux):
            kwargs = {**self._pairs(R, capacity), **_cluster(aux)}  # one list for every member
            outs = [jax.value_and_grad(lambda x, m=m: m(x, **kwargs))(R) for m in members]
            return jnp.stack([e for e, _ in outs]), -jnp.stack([g for _, g in outs])

        return committee

    def count(self, R) -> jnp.ndarray:
        """Unordered pairs within the cutoff (0 when the list is not managed here); jit-able."""
        if not self.managed:
            return jnp.zeros((), jnp.int32)
        within = within_cutoff(R, jnp.ones(self.n_atoms, bool), self.cutoff)  # the test sparse_pairs uses
        return jnp.sum(jnp.triu(within, k=1)).astype(jnp.int32)

    def capacity_for(self, n_pairs: int) -> int:
        """A capacity with a margin for ``n_pairs`` unordered pairs (never above all pairs); managed lists only.

        The potential decides (:meth:`painnjax.potential.Potential.grown_capacity`)."""
        return self.energy_fn.grown_capacity(n_pairs)

    def after_overflow(self, most: int) -> int:
        """The capacity to run a chunk again with, after it saw ``most`` unordered pairs (more than
        its list held): :meth:`capacity_for` ``OVERFLOW_GROWTH`` times that."""
        return self.capacity_for(max(int(most * OVERFLOW_GROWTH), 1))

    def initial_capacity(self, positions, capacity: int | None = None) -> int | None:
        """Capacity that holds every structure in ``positions`` (S, N, 3); None if not managed.

        ``capacity`` (unordered pairs) or the potential's own capacity is used when it holds
        the structures; otherwise one with a 10 % margin
        (:meth:`painnjax.potential.Potential.start_capacity`). It grows during the run when needed.
        """
        if not self.managed:
            return None
        return self.energy_fn.start_capacity(positions, capacity)
