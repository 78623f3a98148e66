"""FIRE minimisation (jax-md's ``fire_descent``) to an ASE-like force criterion.

Converged when every atom's force is below ``fmax`` (eV/Å): ``max_i |F_i| < fmax``, ASE's test.
The steps run inside jit in chunks (``lax.while_loop``, stopping as soon as the criterion
holds); the pair list is managed and re-allocated as in MD (:mod:`md.dynamics.forces`). As in ASE's
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

from md.dynamics.engine import OVERFLOW_GROWTH, _where_active, shared_cache
from md.dynamics.forces import MDPotential
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


def _check_settings(fmax, max_steps, maxstep, dt_start, dt_max, least_steps: int) -> None:
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
    _check_settings(fmax, max_steps, maxstep, dt_start, dt_max, least_steps=0)
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
    dtype = jnp.dtype(jax.eval_shape(pot.energy(cap), jnp.asarray(R0, jnp.float32)).dtype)
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
        fns = cache.get(("fire", cap, settings))
        if fns is None:
            t0 = time.perf_counter()
            fns = _compile(pot, cap, dtype, R, maxstep, dt_start, dt_max)
            compile_seconds += time.perf_counter() - t0
            cache[("fire", cap, settings)] = fns
        init, chunk = fns
        if state is None:
            state = init(R)
        n_max = min(chunk_steps, max_steps - steps)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Explicitly requested dtype")
            new, taken, done, most, energy = chunk(
                state, jnp.asarray(n_max, jnp.int32), jnp.asarray(first), jnp.asarray(fmax * fmax, dtype)
            )
        most = int(most)
        if cap is not None and most > cap:
            cap = pot.capacity_for(int(most * OVERFLOW_GROWTH))
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


def _compile(pot: MDPotential, capacity, dtype, R, maxstep, dt_start, dt_max):
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
        init = jax.jit(init_fn)
        example = init(R)
        compiled = (
            jax.jit(chunk)
            .lower(example, jnp.asarray(0, jnp.int32), jnp.asarray(True), jnp.asarray(0.0, dtype))
            .compile()
        )
    return init, compiled


@dataclass
class BatchMinimizeResult:
    """Outcome of :func:`minimize_batch`, one row per input structure (in input order).

    positions (B, N, 3) Å, energies (B,) eV, fmax (B,) eV/Å, steps (B,), converged (B,) bool;
    ``structures_per_second`` counts every structure (converged or not) over ``seconds``,
    which leaves out compilation.
    """

    positions: np.ndarray
    energies: np.ndarray
    fmax: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    compile_seconds: float
    seconds: float
    slots: int
    pair_reallocations: int = 0

    @property
    def structures_per_second(self) -> float:
        return len(self.energies) / self.seconds if self.seconds > 0 else float("nan")


def minimize_batch(
    energy_fn: Callable,
    positions,
    *,
    fmax: float = 0.01,
    max_steps: int = 1000,
    maxstep: float = 0.2,
    dt_start: float = 0.1,
    dt_max: float = 1.0,
    slots: int | None = None,
    chunk_steps: int = 50,
    capacity: int | None = None,
    pairs: str = "auto",
    on_done: Callable | None = None,
    progress: bool = False,
) -> BatchMinimizeResult:
    """FIRE on many structures of one composition at once, each to its own convergence.

    The same FIRE as :func:`minimize`, vmapped over ``slots`` structures in one jitted chunk of
    ``chunk_steps`` steps (one compile for the whole batch). A structure stops when its
    largest atomic force is below ``fmax`` or after ``max_steps``; between chunks its slot is
    refilled with the next structure waiting, so slow structures never hold up the rest.

    Args:
        energy_fn: a painnjax potential or any ``energy_fn(R, **kwargs)`` in eV for N atoms.
        positions: (B, N, 3) start positions, Å.
        slots: structures minimised at once (default: 1 on a CPU, where one structure at a
            time is fastest, measured; up to 256 on a GPU). With 1 the structures run one after
            another through :func:`minimize`'s unbatched chunk (one compile for all of them).
        on_done: called as ``on_done(index, positions, energy, fmax, steps, converged)`` as
            soon as each structure finishes (for writing results as they come).
        progress: a progress bar over the structures.
    """
    P0, S = _check_batch(positions, slots, chunk_steps, fmax, max_steps, maxstep, dt_start, dt_max)
    if S == 1:
        return _one_at_a_time(
            energy_fn,
            P0,
            on_done,
            progress,
            fmax=fmax,
            max_steps=max_steps,
            maxstep=maxstep,
            dt_start=dt_start,
            dt_max=dt_max,
            chunk_steps=chunk_steps,
            capacity=capacity,
            pairs=pairs,
        )

    fire = _BatchFire(energy_fn, P0, S, capacity, pairs, maxstep, dt_start, dt_max)
    B = len(P0)
    out = BatchMinimizeResult(
        positions=P0.copy(),
        energies=np.full(B, np.nan),
        fmax=np.full(B, np.nan),
        steps=np.zeros(B, np.int64),
        converged=np.zeros(B, bool),
        compile_seconds=0.0,
        seconds=0.0,
        slots=S,
    )
    slot = _Slots.fill(P0, S)
    bar = _progress_bar(progress, B)
    state = None
    t_start = time.perf_counter()
    try:
        while (slot.slot_of >= 0).any():
            init, chunk = fire.fns(slot.start_R)
            state = _start_states(init, state, slot, fire.dtype)
            new, taken, f2, most, energy = _run_chunk(chunk, state, slot, fire.dtype, max_steps, chunk_steps, fmax)
            if fire.overflowed(int(most)):
                continue  # the same chunk again, from the same start state, with a larger list
            state = new
            n_done = _collect(state, taken, f2, energy, slot, out, P0, fmax, max_steps, on_done)
            if n_done and bar is not None:
                bar.update(n_done)
                bar.set_postfix_str(f"{int(out.converged.sum())} converged")
    finally:
        if bar is not None:
            bar.close()
    out.compile_seconds, out.pair_reallocations = fire.compile_seconds, fire.reallocations
    out.seconds = time.perf_counter() - t_start - fire.compile_seconds
    return out


def _progress_bar(progress: bool, total: int):
    """A tqdm bar over ``total`` structures, or None."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="structure", desc="FIRE", dynamic_ncols=True)


def _check_batch(positions, slots, chunk_steps, fmax, max_steps, maxstep, dt_start, dt_max):
    """Check the settings and the (B, N, 3) start positions; the positions (float64) and the slots to use."""
    _check_settings(fmax, max_steps, maxstep, dt_start, dt_max, least_steps=1)
    if not (isinstance(chunk_steps, int) and chunk_steps >= 1):
        raise InputError(f"chunk_steps must be an integer >= 1, got {chunk_steps!r}")
    P0 = np.asarray(positions, np.float64)
    if P0.ndim != 3 or P0.shape[-1] != 3 or P0.shape[0] == 0:
        raise InputError(f"positions must have shape (B, N, 3) with B >= 1, got {P0.shape}")
    B, n = P0.shape[:2]
    for b in range(B):
        check_positions(P0[b], n, source=f"structure {b}")
    if slots is None:
        slots = 1 if jax.default_backend() == "cpu" else 256
    if not (isinstance(slots, int) and slots >= 1):
        raise InputError(f"slots must be an integer >= 1, got {slots!r}")
    return P0, min(slots, B)


class _BatchFire:
    """The jitted batched FIRE for the current pair-list capacity: compiled once (or shared), grown on overflow."""

    def __init__(self, energy_fn, P0, S, capacity, pairs, maxstep, dt_start, dt_max):
        n = P0.shape[1]
        self.pot = MDPotential.wrap(energy_fn, n, pairs)
        self.cap = self.pot.initial_capacity(P0, capacity)
        self.dtype = jnp.dtype(jax.eval_shape(self.pot.energy(self.cap), jnp.asarray(P0[0], jnp.float32)).dtype)
        self.cache = shared_cache(self.pot.energy_fn)
        self.settings = (maxstep, dt_start, dt_max, n, S, str(self.dtype), jax.config.jax_enable_x64, self.pot.cutoff)
        self.fire_settings = (maxstep, dt_start, dt_max)
        self.compile_seconds, self.reallocations = 0.0, 0

    def fns(self, start_R):
        """``init`` and ``chunk`` for the current capacity, compiled on first use (the time is counted)."""
        fns = self.cache.get(("fire-batch", self.cap, self.settings))
        if fns is None:
            t0 = time.perf_counter()
            fns = _compile_batch(self.pot, self.cap, self.dtype, jnp.asarray(start_R, self.dtype), *self.fire_settings)
            self.compile_seconds += time.perf_counter() - t0
            self.cache[("fire-batch", self.cap, self.settings)] = fns
        return fns

    def overflowed(self, most: int) -> bool:
        """Whether a chunk needed more pairs than the list holds; if so the list is grown for a re-run."""
        if self.cap is not None and most > self.cap:
            self.cap = self.pot.capacity_for(int(most * OVERFLOW_GROWTH))
            self.reallocations += 1
            return True
        return False


@dataclass
class _Slots:
    """The structure in each slot (-1: idle), those waiting, and each slot's start positions and steps taken."""

    queue: list
    slot_of: np.ndarray
    start_R: np.ndarray
    steps: np.ndarray
    fresh: np.ndarray  # slots (re)filled since the last chunk: their states are made anew

    @classmethod
    def fill(cls, P0, S: int) -> _Slots:
        """The first ``S`` structures of ``P0`` in the slots, the others waiting."""
        queue = list(range(len(P0)))
        slot_of = np.full(S, -1)
        start_R = np.repeat(P0[:1], S, axis=0)
        for s in range(S):
            slot_of[s] = queue.pop(0)
            start_R[s] = P0[slot_of[s]]
        return cls(queue, slot_of, start_R, np.zeros(S, np.int64), np.ones(S, bool))

    def refill(self, s: int, P0) -> None:
        """Give slot ``s`` the next waiting structure, or leave it idle when none waits."""
        if self.queue:
            self.slot_of[s] = self.queue.pop(0)
            self.start_R[s] = P0[self.slot_of[s]]
            self.fresh[s] = True
            self.steps[s] = 0
        else:
            self.slot_of[s] = -1


def _start_states(init, state, slot: _Slots, dtype):
    """Every slot's FIRE state at first; later, new states for the refilled slots only."""
    if state is None:
        return init(jnp.asarray(slot.start_R, dtype))
    if slot.fresh.any():
        return _where_active(jnp.asarray(slot.fresh), init(jnp.asarray(slot.start_R, dtype)), state)
    return state


def _run_chunk(chunk, state, slot: _Slots, dtype, max_steps, chunk_steps, fmax):
    """One jitted chunk of FIRE on the occupied slots, each for at most its remaining steps."""
    active = jnp.asarray(slot.slot_of >= 0)
    limit = jnp.asarray(np.maximum(max_steps - slot.steps, 0), jnp.int32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        return chunk(state, active, limit, jnp.asarray(chunk_steps, jnp.int32), jnp.asarray(fmax * fmax, dtype))


def _collect(state, taken, f2, energy, slot: _Slots, out: BatchMinimizeResult, P0, fmax, max_steps, on_done) -> int:
    """Count a chunk's steps; store (and report) the structures it finished and refill their slots; how many."""
    slot.fresh[:] = False
    slot.steps += np.asarray(taken, np.int64)
    f = np.sqrt(np.asarray(f2, np.float64))
    energy = np.asarray(energy, np.float64)
    finished = [
        s for s in range(len(slot.slot_of)) if slot.slot_of[s] >= 0 and (f[s] < fmax or slot.steps[s] >= max_steps)
    ]
    if finished:
        R_now = np.asarray(state.position, np.float64)
        for s in finished:
            b = slot.slot_of[s]
            out.positions[b], out.energies[b], out.fmax[b], out.steps[b] = R_now[s], energy[s], f[s], slot.steps[s]
            out.converged[b] = f[s] < fmax
            if on_done is not None:
                on_done(
                    int(b),
                    out.positions[b],
                    float(out.energies[b]),
                    float(out.fmax[b]),
                    int(out.steps[b]),
                    bool(out.converged[b]),
                )
            slot.refill(s, P0)
    return len(finished)


def _one_at_a_time(energy_fn, P0, on_done, progress, **kwargs) -> BatchMinimizeResult:
    """:func:`minimize_batch` with one slot: :func:`minimize` on each structure in turn."""
    B = len(P0)
    out = BatchMinimizeResult(
        positions=P0.copy(),
        energies=np.full(B, np.nan),
        fmax=np.full(B, np.nan),
        steps=np.zeros(B, np.int64),
        converged=np.zeros(B, bool),
        compile_seconds=0.0,
        seconds=0.0,
        slots=1,
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=B, unit="structure", desc="FIRE", dynamic_ncols=True)
    # One pair capacity for all (one compile), grown like minimize's own when a structure needs it.
    pot = MDPotential.wrap(energy_fn, P0.shape[1], kwargs.get("pairs", "auto"))
    kwargs["capacity"] = pot.initial_capacity(P0, kwargs.get("capacity"))
    t_start = time.perf_counter()
    try:
        for b in range(B):
            r = minimize(energy_fn, P0[b], **kwargs)
            out.positions[b], out.energies[b], out.fmax[b] = r.positions, r.energy, r.fmax
            out.steps[b], out.converged[b] = r.steps, r.converged
            out.compile_seconds += r.compile_seconds
            out.pair_reallocations += r.pair_reallocations
            if on_done is not None:
                on_done(b, r.positions, r.energy, r.fmax, r.steps, r.converged)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{int(out.converged.sum())} converged")
    finally:
        if bar is not None:
            bar.close()
    out.seconds = time.perf_counter() - t_start - out.compile_seconds
    return out


def _compile_batch(pot: MDPotential, capacity, dtype, R, maxstep, dt_start, dt_max):
    """Jitted ``init`` and ``chunk`` of FIRE vmapped over slots (the batched :func:`_compile`)."""
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
            state = _where_active(go, apply_fn(state), state)
            return state, i + 1, taken + go.astype(jnp.int32), jnp.maximum(most, jnp.max(count(state.position)))

        zeros = jnp.zeros(occupied.shape, jnp.int32)
        carry = (state, jnp.zeros((), jnp.int32), zeros, jnp.max(count(state.position)))
        state, _, taken, most = jax.lax.while_loop(cond, body, carry)
        return state, taken, max_force2(state), most, jax.vmap(energy)(state.position)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        init = jax.jit(jax.vmap(init_one))
        example = init(R)
        S = R.shape[0]
        compiled = (
            jax.jit(chunk)
            .lower(
                example, jnp.ones(S, bool), jnp.zeros(S, jnp.int32), jnp.asarray(0, jnp.int32), jnp.asarray(0.0, dtype)
            )
            .compile()
        )
    return init, compiled
