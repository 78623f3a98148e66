"""FIRE minimisation (jax-md's ``fire_descent``) to an ASE-like force criterion.

Many structures at once, with FIRE or L-BFGS: :func:`md.optimize.batch.minimize_batch`.

Converged when every atom's force is below ``fmax`` (eV/Å): ``max_i |F_i| < fmax``, ASE's test.
The steps run inside jit in chunks (``lax.while_loop``, stopping as soon as the criterion
holds); the pair list is managed and re-allocated as in MD (:mod:`md.forces.potential`). As in ASE's
FIRE, all masses are 1, the time step starts at 0.1 and grows to at most 1.0 ASE time units
(jax-md's time unit is the same), and no step moves the atoms by more than ``maxstep`` Å
(the norm over all atoms).

Example:
    >>> from md import minimize
    >>> res = minimize(energy_fn, atoms, fmax=0.01, max_steps=2000)      # doctest: +SKIP
    >>> res.converged, res.steps, res.fmax, res.energy                  # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import minimize as jmd_minimize

from md.forces.active import where_active
from md.forces.cache import shared_cache
from md.forces.potential import MDPotential
from md.optimize.minimiser import ChunkResult, Minimiser
from painnjax.compiler import jit
from painnjax.errors import InputError
from painnjax.validate import as_atomic_numbers, check_free_cluster, check_positions


@dataclass
class MinimizeResult:
    """Outcome of :func:`minimize`: positions (N, 3) Å, energy eV, forces (N, 3) eV/Å."""

    positions: np.ndarray
    energy: float
    forces: np.ndarray
    fmax: float
    steps: int
    converged: bool
    compile_seconds: float
    seconds: float
    pair_reallocations: int = 0
    #: what a check of the minimum by its Hessian did (:meth:`md.analysis.settle.Settled.to_dict`;
    #: ``md.workflow.optimize_file`` with ``settle``), None when not checked
    settled: dict | None = None


def check_settings(fmax, max_steps, maxstep, dt_start, dt_max, least_steps: int) -> None:
    """Refuse settings FIRE cannot run with (:class:`~painnjax.errors.InputError`, naming the setting):
    ``fmax``, ``maxstep``, ``dt_start`` and ``dt_max`` finite and > 0, ``max_steps`` a whole
    number >= ``least_steps``."""
    for name, value in (("fmax", fmax), ("maxstep", maxstep), ("dt_start", dt_start), ("dt_max", dt_max)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    if not (isinstance(max_steps, int) and max_steps >= least_steps):
        raise InputError(f"max_steps must be an integer >= {least_steps}, got {max_steps!r}")


def _capped_shift(maxstep: float):
    def shift(R, dR, **unused_kwargs):
        norm = jnp.sqrt(jnp.sum(dR**2))
        return R + dR * jnp.minimum(1.0, maxstep / jnp.maximum(norm, 1e-30))

    return shift


def _fire_fns(energy, maxstep, dt_start, dt_max):
    """jax-md FIRE's ``init`` and ``apply`` for ``energy`` with ASE's step cap.

    ``init`` is built on a zero energy: it then costs no force call, and the chunk computes
    the forces of a fresh state itself (once, where it starts), not twice.
    """

    def zero(R, **unused_kwargs):
        return jnp.zeros((), R.dtype) * jnp.sum(R)

    shift = _capped_shift(maxstep)
    init_fn, _ = jmd_minimize.fire_descent(zero, shift, dt_start=dt_start, dt_max=dt_max)
    _, apply_fn = jmd_minimize.fire_descent(energy, shift, dt_start=dt_start, dt_max=dt_max)
    return init_fn, apply_fn


def minimize(
    energy_fn: Callable,
    atoms,
    *,
    fmax: float = 0.01,
    max_steps: int = 1000,
    maxstep: float = 0.2,
    dt_start: float = 0.1,
    dt_max: float = 1.0,
    chunk_steps: int = 200,
    capacity: int | None = None,
    pairs: str = "auto",
    ignore_cell: bool = False,
) -> MinimizeResult:
    """Minimise the energy of ``atoms`` (``ase.Atoms`` or positions (N, 3) Å) with FIRE.

    Args:
        energy_fn: a painnjax potential or any ``energy_fn(R, **kwargs)`` in eV.
        fmax: convergence: the largest atomic force below this (eV/Å).
        max_steps: give up after this many steps (``converged`` is then False).
        maxstep: largest displacement of one step (Å, norm over all atoms; ASE's FIRE).
        dt_start, dt_max: FIRE time steps (ASE/jax-md time units, ~10.18 fs).
        chunk_steps: steps per jitted call at most.
        ignore_cell: minimise periodic ``atoms`` as a free cluster (cell and pbc not used);
            without it they are an :class:`InputError` (the models are for free clusters).
    """
    check_settings(fmax, max_steps, maxstep, dt_start, dt_max, least_steps=0)
    if hasattr(atoms, "get_positions"):
        source = atoms.info.get("source")
        check_free_cluster(atoms, source, ignore_cell=ignore_cell)
        Z = as_atomic_numbers(atoms, source=source)
        R0 = check_positions(atoms.positions, len(Z), source=source, symbols=atoms.get_chemical_symbols())
    else:
        R0 = np.asarray(atoms, np.float64)
        check_positions(R0, len(R0))
    n = len(R0)
    pot = MDPotential.wrap(energy_fn, n, pairs)
    cap = pot.initial_capacity(R0[None], capacity)
    dtype = pot.energy_dtype(cap)
    state = None
    compile_seconds = 0.0
    reallocations = 0
    cache = shared_cache(pot.energy_fn)
    settings = (maxstep, dt_start, dt_max, n, str(dtype), jax.config.jax_enable_x64, pot.cutoff)
    t_start = time.perf_counter()
    steps = 0
    converged = False
    R = jnp.asarray(R0, dtype)
    first = True
    while True:
        minimiser = cache.get(("fire", cap, settings))
        if minimiser is None:
            t0 = time.perf_counter()
            minimiser = _compile(pot, cap, dtype, R, maxstep, dt_start, dt_max)
            compile_seconds += time.perf_counter() - t0
            cache[("fire", cap, settings)] = minimiser
        if state is None:
            state = minimiser.init(R)
        n_max = min(chunk_steps, max_steps - steps)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Explicitly requested dtype")
            new, taken, done, most, energy = minimiser.chunk(
                state, jnp.asarray(n_max, jnp.int32), jnp.asarray(first), jnp.asarray(fmax * fmax, dtype)
            )
        most = int(most)
        if cap is not None and most > cap:
            cap = pot.after_overflow(most)
            reallocations += 1
            continue  # the same chunk again, from the same start state, with a larger list
        state, first = new, False
        steps += int(taken)
        converged = bool(done)
        if converged or steps >= max_steps:
            break
    F = np.asarray(state.force, np.float64)
    return MinimizeResult(
        positions=np.asarray(state.position, np.float64),
        energy=float(energy),
        forces=F,
        fmax=float(np.sqrt((F**2).sum(axis=1).max())),
        steps=steps,
        converged=converged,
        compile_seconds=compile_seconds,
        seconds=time.perf_counter() - t_start - compile_seconds,
        pair_reallocations=reallocations,
    )


def _compile(pot: MDPotential, capacity, dtype, R, maxstep, dt_start, dt_max) -> Minimiser:
    """Jitted ``init`` and ``chunk`` of FIRE for one structure: ``chunk(state, n_max, start, fmax2)``
    returns ``(state, steps, converged, most_pairs, energy)``; ``start``: the state is new (its
    forces not yet evaluated)."""
    energy = pot.energy(capacity)
    value_and_grad = jax.value_and_grad(energy)

    init_fn, apply_fn = _fire_fns(energy, maxstep, dt_start, dt_max)

    def max_force2(state):
        return jnp.max(jnp.sum(state.force**2, axis=1))

    def with_force(state):
        e, g = value_and_grad(state.position)
        return state.set(force=-g), e

    def chunk(state, n_max, start, fmax2):
        e_shape = jax.eval_shape(energy, state.position)
        state, _ = jax.lax.cond(start, with_force, lambda s: (s, jnp.zeros(e_shape.shape, e_shape.dtype)), state)

        def cond(carry):
            state, i, most = carry
            return (i < n_max) & (max_force2(state) >= fmax2)

        def body(carry):
            state, i, most = carry
            state = apply_fn(state)
            return state, i + 1, jnp.maximum(most, pot.count(state.position))

        state, i, most = jax.lax.while_loop(cond, body, (state, jnp.zeros((), jnp.int32), pot.count(state.position)))
        return state, i, max_force2(state) < fmax2, most, energy(state.position)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        init = jit(init_fn)
        example = init(R)
        compiled = (
            jit(chunk).lower(example, jnp.asarray(0, jnp.int32), jnp.asarray(True), jnp.asarray(0.0, dtype)).compile()
        )
    return Minimiser(init, compiled)


def compile_batch(pot: MDPotential, capacity, dtype, R, maxstep, dt_start, dt_max) -> Minimiser:
    """FIRE vmapped over the slots of ``R`` (S, N, 3) (the batched :func:`_compile`), for
    :func:`md.optimize.batch.minimize_batch`: a :class:`~md.optimize.minimiser.Minimiser` whose
    chunk returns a :class:`~md.optimize.minimiser.ChunkResult`; one force call per FIRE step."""
    energy = pot.energy(capacity)
    value_and_grad = jax.vmap(jax.value_and_grad(energy))

    init_one, apply_one = _fire_fns(energy, maxstep, dt_start, dt_max)
    apply_fn = jax.vmap(apply_one)
    count = jax.vmap(pot.count)

    def max_force2(state):
        return jnp.max(jnp.sum(state.force**2, axis=-1), axis=-1)

    def chunk(state, occupied, limit, n_max, fmax2):
        _, g = value_and_grad(state.position)  # forces of refilled slots (the others' are the same)
        state = state.set(force=-g.astype(state.force.dtype))

        def running(state, taken):
            return occupied & (taken < limit) & (max_force2(state) >= fmax2)

        def cond(carry):
            state, i, taken, most = carry
            return (i < n_max) & jnp.any(running(state, taken))

        def body(carry):
            state, i, taken, most = carry
            go = running(state, taken)
            state = where_active(go, apply_fn(state), state)
            return state, i + 1, taken + go.astype(jnp.int32), jnp.maximum(most, jnp.max(count(state.position)))

        zeros = jnp.zeros(occupied.shape, jnp.int32)
        carry = (state, jnp.zeros((), jnp.int32), zeros, jnp.max(count(state.position)))
        state, _, taken, most = jax.lax.while_loop(cond, body, carry)
        return ChunkResult(state, taken, max_force2(state), most, jax.vmap(energy)(state.position), taken)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        init = jit(jax.vmap(init_one))
        example = init(R)
        S = R.shape[0]
        compiled = (
            jit(chunk)
            .lower(
                example, jnp.ones(S, bool), jnp.zeros(S, jnp.int32), jnp.asarray(0, jnp.int32), jnp.asarray(0.0, dtype)
            )
            .compile()
        )
    return Minimiser(init, compiled)
