"""L-BFGS with a line search (optax's ``lbfgs`` and zoom line search), vmapped over structures.

The quasi-Newton counterpart of :mod:`md.optimize.fire` for :func:`md.optimize.batch.minimize_batch`:
each structure keeps its own curvature memory (``memory`` pairs of position and gradient
differences) and line search; converged when every atom's force is below ``fmax`` (eV/Å), ASE's
test, as for FIRE. The line search is optax's zoom search (strong Wolfe conditions, with the
*approximate* Wolfe test of Hager and Zhang as fallback): the approximate test accepts a step by
the slope along it, not by an energy difference, which matters in float32, where a cluster's
total energy (~1.5 keV for SA2AM2) is only good to ~1e-4 eV, the size of the last steps' energy
changes near ``fmax`` = 0.01 eV/Å.

Force calls are counted honestly: one at the start of a structure and one per line-search
trial (``num_linesearch_steps``; usually 1 per iteration). An iteration that fails its line
search still moves by the search's best trial; ``max_steps`` bounds the iterations.

Example:
    >>> from md.optimize.batch import minimize_batch
    >>> res = minimize_batch(energy_fn, P0, method="lbfgs", fmax=0.01)     # doctest: +SKIP
    >>> res.converged.mean(), res.force_calls.mean()                        # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp

from md.forces.active import where_active
from md.forces.potential import MDPotential
from md.optimize.minimiser import ChunkResult, Minimiser
from painnjax.compiler import jit

#: curvature pairs kept per structure (measured on SA2AM2 candidates: 10 pairs need ~1.6x the
#: force calls of 40; memory costs 2 x memory x N x 3 numbers per structure)
DEFAULT_MEMORY = 40
#: most trial points of one line search
DEFAULT_LINESEARCH_STEPS = 20


class LBFGSState(NamedTuple):
    """One structure's state (vmapped: one row per slot). ``need_grad``: energy and gradient not
    yet computed (a fresh slot); the chunk computes them before its first iteration."""

    position: jax.Array
    opt_state: object
    energy: jax.Array
    grad: jax.Array
    need_grad: jax.Array


def optimizer(memory: int = DEFAULT_MEMORY, linesearch_steps: int = DEFAULT_LINESEARCH_STEPS, maxstep: float = 0.2):
    """optax's L-BFGS direction, capped so that no atom moves more than ``maxstep`` Å at a unit
    step, then optax's zoom line search on steps up to 1 (at most ``linesearch_steps`` trials).

    The cap is ASE's ``maxstep`` (0.2 Å, as for FIRE): without it an early, poorly scaled
    direction lets the line search jump atoms into one another, where a neural potential can
    be lower than at any physical geometry (seen on a random SA2AM2 candidate: forces 1e13 eV/Å).
    """
    import optax

    def cap(updates, params=None):
        largest = jnp.sqrt(jnp.max(jnp.sum(updates**2, axis=-1)))
        return updates * jnp.minimum(1.0, maxstep / jnp.maximum(largest, 1e-30)).astype(updates.dtype)

    return optax.chain(
        optax.scale_by_lbfgs(memory_size=int(memory)),
        optax.scale(-1.0),
        optax.stateless(cap),
        optax.scale_by_zoom_linesearch(max_linesearch_steps=int(linesearch_steps), max_learning_rate=1.0),
    )


def _per_slot(fn, slots: int):
    """``fn`` over a leading slot axis: vmapped, or for one slot called on it directly. A vmapped
    line search evaluates both sides of its branches for every slot; one structure need not."""
    if slots > 1:
        return jax.vmap(fn)

    def one(*args):
        out = fn(*jax.tree_util.tree_map(lambda x: x[0], args))
        return jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], out)

    return one


def compile_batch(
    pot: MDPotential, capacity, dtype, R, memory: int, linesearch_steps: int, maxstep: float = 0.2
) -> Minimiser:
    """L-BFGS vmapped over the slots of ``R`` (S, N, 3), for :func:`md.optimize.batch.minimize_batch`.

    A :class:`~md.optimize.minimiser.Minimiser`: ``init(R)`` -> :class:`LBFGSState` per slot;
    its chunk counts L-BFGS iterations as steps and one force call per line-search trial
    (:class:`~md.optimize.minimiser.ChunkResult`).
    """
    import optax

    energy = pot.energy(capacity)
    opt = optimizer(memory, linesearch_steps, maxstep)
    S = R.shape[0]
    value_and_grad = _per_slot(jax.value_and_grad(energy), S)
    count = _per_slot(pot.count, S)

    def init_one(R):
        return LBFGSState(R, opt.init(R), jnp.zeros((), R.dtype), jnp.zeros_like(R), jnp.asarray(True))

    def update_one(state: LBFGSState):
        updates, opt_state = opt.update(
            state.grad, state.opt_state, state.position, value=state.energy, grad=state.grad, value_fn=energy
        )
        calls = optax.tree_utils.tree_get(opt_state, "num_linesearch_steps")
        # A failed line search (no sufficient decrease: a direction spoilt by a curvature pair of
        # the wrong sign, or round-off) forgets the curvature pairs: the next iteration starts
        # again from steepest descent. Without this a failed search can take a zero step and
        # repeat itself for ever.
        failed = optax.tree_utils.tree_get(opt_state, "decrease_error") > 0
        position = optax.apply_updates(state.position, updates)
        value = optax.tree_utils.tree_get(opt_state, "value").astype(state.energy.dtype)
        grad = optax.tree_utils.tree_get(opt_state, "grad").astype(state.grad.dtype)
        opt_state = jax.tree_util.tree_map(
            lambda fresh, kept: jnp.where(failed, fresh, kept), opt.init(position), opt_state
        )
        new = LBFGSState(
            position,
            opt_state,
            value,
            grad,
            jnp.asarray(False),
        )
        return new, calls.astype(jnp.int32)

    update = _per_slot(update_one, S)

    def max_force2(state):
        return jnp.max(jnp.sum(state.grad**2, axis=-1), axis=-1)

    def chunk(state: LBFGSState, occupied, limit, n_max, fmax2):
        fresh = state.need_grad & occupied

        def evaluate(state):
            e, g = value_and_grad(state.position)
            return state._replace(
                energy=jnp.where(fresh, e.astype(state.energy.dtype), state.energy),
                grad=jnp.where(fresh[:, None, None], g.astype(state.grad.dtype), state.grad),
            )

        state = jax.lax.cond(jnp.any(fresh), evaluate, lambda s: s, state)
        state = state._replace(need_grad=state.need_grad & ~occupied)

        def running(state, taken):
            return occupied & (taken < limit) & (max_force2(state) >= fmax2)

        def cond(carry):
            state, i, taken, calls, most = carry
            return (i < n_max) & jnp.any(running(state, taken))

        def body(carry):
            state, i, taken, calls, most = carry
            go = running(state, taken)
            new, n_calls = update(state)
            state = where_active(go, new, state)
            most = jnp.maximum(most, jnp.max(jnp.where(go, count(state.position), 0)))
            return state, i + 1, taken + go.astype(jnp.int32), calls + jnp.where(go, n_calls, 0), most

        zeros = jnp.zeros(occupied.shape, jnp.int32)
        carry = (state, jnp.zeros((), jnp.int32), zeros, zeros, jnp.max(count(state.position)))
        state, _, taken, calls, most = jax.lax.while_loop(cond, body, carry)
        return ChunkResult(state, taken, max_force2(state), most, state.energy, calls)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        init = jit(jax.vmap(init_one))
        example = init(R)
        compiled = (
            jit(chunk)
            .lower(
                example, jnp.ones(S, bool), jnp.zeros(S, jnp.int32), jnp.asarray(0, jnp.int32), jnp.asarray(0.0, dtype)
            )
            .compile()
        )
    return Minimiser(init, compiled)
