"""Replica exchange (parallel tempering): Metropolis swaps of configurations between neighbouring temperatures.

Replica r of a run always stays at temperature ``T_r`` (temperatures increasing with r);
what moves between replicas are the configurations. Every ``exchange_every`` steps the
neighbouring pairs (r, r + 1) with r even (at even exchange counts) or odd (at odd ones) are
offered a swap, accepted with probability ``min(1, exp((β_r − β_{r+1}) (E_r − E_{r+1})))``
where E is the potential energy (with the wall, if any) and β = 1/kT. A configuration that
moves from ``T_s`` to ``T_r`` takes its momenta scaled by ``sqrt(T_r / T_s)``; the thermostat
variables stay with their temperature. With this rule each temperature's samples are those of
the canonical distribution at that temperature (detailed balance), and each trajectory file
is one temperature's.

``walker[r]`` names the replica the configuration now at ``T_r`` started as, so round trips
of configurations through the temperatures can be followed (``walker`` in ``thermo.csv``).

The random numbers of exchange number x come from ``fold_in(key(seed), x)``: the swaps are
the same whatever the chunking of the run, and a restart continues them exactly.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from types import SimpleNamespace as NS
    >>> class S(NS):
    ...     def set(self, **kw): return S(**{**vars(self), **kw})
    >>> st = S(position=jnp.zeros((2, 1, 3)), momentum=jnp.ones((2, 1, 3)), force=jnp.zeros((2, 1, 3)))
    >>> kT = jnp.array([0.025, 0.1])
    >>> e = jnp.array([1.0, 0.0])           # the cold replica is higher in energy: always accepted
    >>> out = swap_neighbours(st, e, kT, jnp.arange(2), exchange_key(0, 1), 0, jnp.ones(2, bool))
    >>> out.walker.tolist(), out.accepted.tolist(), float(out.state.momentum[0, 0, 0])
    ([1, 0], [True, False], 0.5)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

#: folded into the run's seed so that exchange draws never coincide with velocity draws
_EXCHANGE_STREAM = 0x5EED


class Swapped(NamedTuple):
    """What :func:`swap_neighbours` returns; ``attempted`` and ``accepted`` are (R,): entry r is the pair (r, r + 1)."""

    state: Any
    e_pot: jnp.ndarray
    walker: jnp.ndarray
    attempted: jnp.ndarray
    accepted: jnp.ndarray


def exchange_key(seed, index):
    """The random key of exchange number ``index`` (1, 2, ...) of a run with ``seed``."""
    base = jax.random.fold_in(jax.random.PRNGKey(seed), _EXCHANGE_STREAM)
    return jax.random.fold_in(base, index)


def swap_neighbours(state, e_pot, kT, walker, key, parity, active) -> Swapped:
    """One exchange step over R replicas (leading axis of every field of ``state``).

    Args:
        state: a batched jax-md state with ``position``, ``momentum`` and ``force`` (R, N, 3);
            other fields (masses, thermostat chains, noise keys) stay with their replica.
        e_pot: (R,) potential energies (eV) of the configurations.
        kT: (R,) temperatures (eV), one per replica.
        walker: (R,) int, which configuration is where.
        key: the random key of this exchange (:func:`exchange_key`).
        parity: 0 or 1: offer the pairs (r, r + 1) with ``r % 2 == parity``.
        active: (R,) bool: a pair with a stopped replica is not offered.
    """
    R = kT.shape[0]
    r = jnp.arange(R)
    beta = 1.0 / kT
    e_next = jnp.roll(e_pot, -1)
    log_p = (beta - jnp.roll(beta, -1)) * (e_pot - e_next)  # entry r: the pair (r, r + 1)
    attempted = (r % 2 == parity) & (r < R - 1) & active & jnp.roll(active, -1)
    u = jax.random.uniform(key, (R,), dtype=log_p.dtype)
    # log u < log p, in a form that accepts p >= 1 always (and never a NaN energy)
    accepted = attempted & (jnp.log(u) < jnp.minimum(log_p, 0.0))
    down = jnp.roll(accepted, 1)  # replica r takes r - 1's configuration
    perm = jnp.where(accepted, r + 1, jnp.where(down, r - 1, r))
    scale = jnp.sqrt(kT / kT[perm]).astype(state.momentum.dtype)
    new = state.set(
        position=state.position[perm],
        momentum=state.momentum[perm] * scale[:, None, None],
        force=state.force[perm],
    )
    return Swapped(new, e_pot[perm], walker[perm], attempted, accepted)
