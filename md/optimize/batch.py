"""Many structures minimised at once, each to its own convergence: FIRE or L-BFGS in vmapped slots.

:func:`minimize_batch` keeps ``slots`` structures in one jitted, vmapped chunk of steps (one
compile for the whole batch); a structure stops when its largest atomic force is below
``fmax`` (eV/Å, ASE's test) or after ``max_steps``, and between chunks its slot is refilled
with the next structure waiting, so slow structures never hold up the rest. The pair list is
managed as in MD (a chunk that overflows it is run again with a larger list).

Methods: ``"fire"`` (:mod:`md.optimize.fire`, jax-md's FIRE with ASE's settings) and
``"lbfgs"`` (:mod:`md.optimize.lbfgs`, optax's L-BFGS with a zoom line search; on random
SA2AM2 candidates it needs several times fewer force calls than FIRE to reach fmax 0.01 eV/Å,
see ``benchmarks/RESULTS.md``).

Example:
    >>> res = minimize_batch(energy_fn, P0, method="lbfgs", fmax=0.01)     # doctest: +SKIP
    >>> res.energies, res.converged, res.force_calls                       # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from md.dynamics.engine import OVERFLOW_GROWTH, _where_active, shared_cache
from md.dynamics.forces import MDPotential
from md.optimize.fire import _check_settings, minimize
from painnjax.devices import batch_sharding, shard_batch
from painnjax.errors import InputError
from painnjax.validate import check_positions

#: the minimisers :func:`minimize_batch` knows
METHODS = ("fire", "lbfgs")


@dataclass
class BatchMinimizeResult:
    """Outcome of :func:`minimize_batch`, one row per input structure (in input order).

    positions (B, N, 3) Å, energies (B,) eV, fmax (B,) eV/Å, steps (B,) (FIRE steps or L-BFGS
    iterations), force_calls (B,) (energy-and-gradient evaluations, the first included: a FIRE
    step is one, an L-BFGS iteration one per line-search trial), converged (B,) bool;
    ``structures_per_second`` counts every structure (converged or not) over ``seconds``,
    which leaves out compilation; ``devices``: the local devices the slots were spread over.
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
    method: str = "fire"
    force_calls: np.ndarray | None = None
    devices: int = 1

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
    method: str = "fire",
    memory: int | None = None,
    linesearch_steps: int | None = None,
    devices: int | None = None,
) -> BatchMinimizeResult:
    """FIRE or L-BFGS on many structures of one composition at once, each to its own convergence.

    The minimiser (``method``: ``"fire"``, :mod:`md.optimize.fire`; ``"lbfgs"``,
    :mod:`md.optimize.lbfgs`) is vmapped over ``slots`` structures in one jitted chunk of
    ``chunk_steps`` steps (one compile for the whole batch). A structure stops when its
    largest atomic force is below ``fmax`` or after ``max_steps`` (FIRE steps or L-BFGS
    iterations); between chunks its slot is refilled with the next structure waiting, so slow
    structures never hold up the rest.

    Args:
        energy_fn: a painnjax potential or any ``energy_fn(R, **kwargs)`` in eV for N atoms.
        positions: (B, N, 3) start positions, Å.
        slots: structures minimised at once (default: 1 on a CPU, where one structure at a
            time is fastest, measured; up to 256 on a GPU). FIRE with 1 slot runs the structures
            one after another through :func:`md.optimize.fire.minimize`'s unbatched chunk (one
            compile for all of them).
        maxstep: largest displacement of an atom in one step, Å (ASE's 0.2; for FIRE the norm
            over all atoms, as ASE's FIRE; for L-BFGS per atom, as ASE's LBFGS).
        dt_start, dt_max: FIRE's time steps (ASE's); not used by L-BFGS.
        memory, linesearch_steps: L-BFGS's curvature pairs and most line-search trials
            (defaults :data:`md.optimize.lbfgs.DEFAULT_MEMORY`, ``DEFAULT_LINESEARCH_STEPS``).
        on_done: called as ``on_done(index, positions, energy, fmax, steps, converged, force_calls)``
            as soon as each structure finishes (for writing results as they come).
        progress: a progress bar over the structures.
        devices: local devices to spread the slots over (None: all of them; 1: the default
            device only). The slots are split over the largest number of these devices that
            divides ``slots`` (see :func:`painnjax.devices.batch_sharding`); the results are those
            of one device. ``BatchMinimizeResult.devices`` says how many were used.
    """
    P0, S = _check_batch(positions, slots, chunk_steps, fmax, max_steps, maxstep, dt_start, dt_max)
    compile_fn, settings = _method(method, memory, linesearch_steps, maxstep, dt_start, dt_max)
    sharding = batch_sharding(S, devices)  # None on one device: everything as without devices
    if S == 1 and method == "fire":
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

    fire = _Compiled(energy_fn, P0, S, capacity, pairs, method, compile_fn, settings, sharding)
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
        method=method,
        force_calls=np.zeros(B, np.int64),
        devices=1 if sharding is None else sharding.mesh.size,
    )
    slot = _Slots.fill(P0, S)
    bar = _progress_bar(progress, B, method)
    state = None
    t_start = time.perf_counter()
    try:
        while (slot.slot_of >= 0).any():
            init, chunk = fire.fns(slot.start_R)
            state = _start_states(init, state, slot, fire.dtype, sharding)
            new, taken, f2, most, energy, calls = _run_chunk(
                chunk, state, slot, fire.dtype, max_steps, chunk_steps, fmax, sharding
            )
            if fire.overflowed(int(most)):
                continue  # the same chunk again, from the same start state, with a larger list
            state = new
            slot.calls += np.asarray(calls, np.int64)
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


def _method(method, memory, linesearch_steps, maxstep, dt_start, dt_max):
    """The chosen minimiser's batched compile function and the settings that key its cache."""
    import functools

    if method == "fire":
        from md.optimize.fire import compile_batch

        return functools.partial(compile_batch, maxstep=maxstep, dt_start=dt_start, dt_max=dt_max), (
            maxstep,
            dt_start,
            dt_max,
        )
    if method == "lbfgs":
        from md.optimize.lbfgs import DEFAULT_LINESEARCH_STEPS, DEFAULT_MEMORY, compile_batch

        memory = DEFAULT_MEMORY if memory is None else memory
        linesearch_steps = DEFAULT_LINESEARCH_STEPS if linesearch_steps is None else linesearch_steps
        for name, v in (("memory", memory), ("linesearch_steps", linesearch_steps)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{name} must be a whole number >= 1, got {v!r}")
        settings = (int(memory), int(linesearch_steps), float(maxstep))
        return functools.partial(
            compile_batch, memory=settings[0], linesearch_steps=settings[1], maxstep=settings[2]
        ), settings
    raise InputError(f"unknown minimiser {method!r}; known: {', '.join(METHODS)}")


def _progress_bar(progress: bool, total: int, method: str = "fire"):
    """A tqdm bar over ``total`` structures, or None."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="structure", desc="L-BFGS" if method == "lbfgs" else "FIRE", dynamic_ncols=True)


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


class _Compiled:
    """The jitted batched minimiser for the current pair-list capacity: compiled once (or shared), grown on overflow."""

    def __init__(self, energy_fn, P0, S, capacity, pairs, method, compile_fn, settings, sharding=None):
        n = P0.shape[1]
        self.pot = MDPotential.wrap(energy_fn, n, pairs)
        self.cap = self.pot.initial_capacity(P0, capacity)
        self.dtype = jnp.dtype(jax.eval_shape(self.pot.energy(self.cap), jnp.asarray(P0[0], jnp.float32)).dtype)
        self.cache = shared_cache(self.pot.energy_fn)
        self.tag = f"{method}-batch"
        self.settings = (*settings, n, S, str(self.dtype), jax.config.jax_enable_x64, self.pot.cutoff)
        if sharding is not None:  # compiled for these devices: not to be reused for another placement
            self.settings += (("devices", *(d.id for d in sharding.mesh.devices.flat)),)
        self.sharding = sharding
        self.compile_fn = compile_fn
        self.compile_seconds, self.reallocations = 0.0, 0

    def fns(self, start_R):
        """``init`` and ``chunk`` for the current capacity, compiled on first use (the time is counted)."""
        fns = self.cache.get((self.tag, self.cap, self.settings))
        if fns is None:
            t0 = time.perf_counter()
            R = shard_batch(jnp.asarray(start_R, self.dtype), self.sharding)  # its placement is compiled in
            fns = self.compile_fn(self.pot, self.cap, self.dtype, R)
            self.compile_seconds += time.perf_counter() - t0
            self.cache[(self.tag, self.cap, self.settings)] = fns
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
    """The structure in each slot (-1: idle), those waiting, and each slot's start positions, steps
    taken and force calls made (the first, at the start positions, included)."""

    queue: list
    slot_of: np.ndarray
    start_R: np.ndarray
    steps: np.ndarray
    fresh: np.ndarray  # slots (re)filled since the last chunk: their states are made anew
    calls: np.ndarray

    @classmethod
    def fill(cls, P0, S: int) -> _Slots:
        """The first ``S`` structures of ``P0`` in the slots, the others waiting."""
        queue = list(range(len(P0)))
        slot_of = np.full(S, -1)
        start_R = np.repeat(P0[:1], S, axis=0)
        for s in range(S):
            slot_of[s] = queue.pop(0)
            start_R[s] = P0[slot_of[s]]
        return cls(queue, slot_of, start_R, np.zeros(S, np.int64), np.ones(S, bool), np.ones(S, np.int64))

    def refill(self, s: int, P0) -> None:
        """Give slot ``s`` the next waiting structure, or leave it idle when none waits."""
        if self.queue:
            self.slot_of[s] = self.queue.pop(0)
            self.start_R[s] = P0[self.slot_of[s]]
            self.fresh[s] = True
            self.steps[s] = 0
            self.calls[s] = 1
        else:
            self.slot_of[s] = -1


def _start_states(init, state, slot: _Slots, dtype, sharding=None):
    """Every slot's FIRE state at first; later, new states for the refilled slots only."""
    if state is None:
        return init(shard_batch(jnp.asarray(slot.start_R, dtype), sharding))
    if slot.fresh.any():
        fresh = init(shard_batch(jnp.asarray(slot.start_R, dtype), sharding))
        return _where_active(shard_batch(jnp.asarray(slot.fresh), sharding), fresh, state)
    return state


def _run_chunk(chunk, state, slot: _Slots, dtype, max_steps, chunk_steps, fmax, sharding=None):
    """One jitted chunk of FIRE on the occupied slots, each for at most its remaining steps.

    Over several devices every argument is first placed as the chunk was compiled for (the
    slot arrays split over the devices, the scalars and some parts of the state copied to each).
    """
    active = jnp.asarray(slot.slot_of >= 0)
    limit = jnp.asarray(np.maximum(max_steps - slot.steps, 0), jnp.int32)
    args = (state, active, limit, jnp.asarray(chunk_steps, jnp.int32), jnp.asarray(fmax * fmax, dtype))
    if sharding is not None:
        args = jax.device_put(args, chunk.input_shardings[0])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        return chunk(*args)


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
            if out.force_calls is not None:
                out.force_calls[b] = slot.calls[s]
            if on_done is not None:
                on_done(
                    int(b),
                    out.positions[b],
                    float(out.energies[b]),
                    float(out.fmax[b]),
                    int(out.steps[b]),
                    bool(out.converged[b]),
                    int(slot.calls[s]),
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
        force_calls=np.zeros(B, np.int64),
    )
    bar = _progress_bar(progress, B)
    # One pair capacity for all (one compile), grown like minimize's own when a structure needs it.
    pot = MDPotential.wrap(energy_fn, P0.shape[1], kwargs.get("pairs", "auto"))
    kwargs["capacity"] = pot.initial_capacity(P0, kwargs.get("capacity"))
    t_start = time.perf_counter()
    try:
        for b in range(B):
            r = minimize(energy_fn, P0[b], **kwargs)
            out.positions[b], out.energies[b], out.fmax[b] = r.positions, r.energy, r.fmax
            out.steps[b], out.converged[b] = r.steps, r.converged
            out.force_calls[b] = r.steps + 1  # one per FIRE step, and the first
            out.compile_seconds += r.compile_seconds
            out.pair_reallocations += r.pair_reallocations
            if on_done is not None:
                on_done(b, r.positions, r.energy, r.fmax, r.steps, r.converged, r.steps + 1)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{int(out.converged.sum())} converged")
    finally:
        if bar is not None:
            bar.close()
    out.seconds = time.perf_counter() - t_start - out.compile_seconds
    return out
