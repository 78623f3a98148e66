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

import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from md.forces.active import where_active
from md.forces.cache import shared_cache
from md.forces.potential import MDPotential
from md.optimize import fire, lbfgs
from md.optimize.minimiser import ChunkResult, Minimiser
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


@dataclass(frozen=True, eq=False)
class Minimum:
    """One structure that :func:`minimize_batch` finished, as ``on_done`` receives it.

    Attributes:
        index: the structure's row in the positions given (its candidate number for a screen).
        positions: (N, 3) Å where it stopped.
        energy: eV there.
        fmax: its largest atomic force there, eV/Å.
        steps: FIRE steps or L-BFGS iterations taken.
        converged: whether ``fmax`` fell below the one asked for (else ``max_steps`` ran out).
        force_calls: energy-and-gradient evaluations, the first included; None where not known
            (a resumed screen's record of a minimum, :func:`md.screening.screen.screen`).
    """

    index: int
    positions: np.ndarray
    energy: float
    fmax: float
    steps: int
    converged: bool
    force_calls: int | None = None


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
        on_done: called as ``on_done(minimum)`` with a :class:`Minimum` as soon as each
            structure finishes (for writing results as they come).
        progress: a progress bar over the structures.
        devices: local devices to spread the slots over (None: all of them; 1: the default
            device only). The slots are split over the largest number of these devices that
            divides ``slots`` (see :func:`painnjax.devices.batch_sharding`); the results are those
            of one device. ``BatchMinimizeResult.devices`` says how many were used.
    """
    P0, S = _check_batch(positions, slots, chunk_steps, fmax, max_steps, maxstep, dt_start, dt_max)
    chosen = _method(method, memory, linesearch_steps, maxstep, dt_start, dt_max)
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
    compiled = _Compiled(energy_fn, P0, S, (capacity, pairs), chosen, sharding)
    return _in_slots(compiled, _Slots.fill(P0, S), _Stops(fmax, max_steps, chunk_steps), on_done, progress)


class _Method(NamedTuple):
    """A minimiser chosen by name: its batched compile function (settings bound) and the settings that key its cache."""

    name: str
    compile_batch: Callable  # compile_batch(pot, capacity, dtype, R) -> Minimiser
    settings: tuple


@dataclass(frozen=True)
class _Stops:
    """When a structure is done (largest atomic force below ``fmax`` eV/Å, or ``max_steps`` taken),
    and the most steps of one chunk."""

    fmax: float
    max_steps: int
    chunk_steps: int


def _in_slots(compiled: _Compiled, slot: _Slots, stops: _Stops, on_done, progress: bool) -> BatchMinimizeResult:
    """:func:`minimize_batch` with the minimiser compiled: chunks over the slots, refilled as structures finish."""
    B, S, sharding = len(slot.P0), len(slot.slot_of), compiled.sharding
    out = BatchMinimizeResult(
        positions=slot.P0.copy(),
        energies=np.full(B, np.nan),
        fmax=np.full(B, np.nan),
        steps=np.zeros(B, np.int64),
        converged=np.zeros(B, bool),
        compile_seconds=0.0,
        seconds=0.0,
        slots=S,
        method=compiled.method,
        force_calls=np.zeros(B, np.int64),
        devices=1 if sharding is None else sharding.mesh.size,
    )
    bar = _progress_bar(progress, B, compiled.method)
    state = None
    t_start = time.perf_counter()
    try:
        while (slot.slot_of >= 0).any():
            minimiser = compiled.minimiser(slot.start_R)
            state = _start_states(minimiser.init, state, slot, compiled.dtype, sharding)
            res = _run_chunk(minimiser.chunk, state, slot, compiled.dtype, stops, sharding)
            if compiled.overflowed(int(res.most_pairs)):
                continue  # the same chunk again, from the same start state, with a larger list
            state = res.state
            slot.calls += np.asarray(res.force_calls, np.int64)
            n_done = _collect(res, slot, out, stops, on_done)
            if n_done and bar is not None:
                bar.update(n_done)
                bar.set_postfix_str(f"{int(out.converged.sum())} converged")
    finally:
        if bar is not None:
            bar.close()
    out.compile_seconds, out.pair_reallocations = compiled.compile_seconds, compiled.reallocations
    out.seconds = time.perf_counter() - t_start - compiled.compile_seconds
    return out


def _method(method, memory, linesearch_steps, maxstep, dt_start, dt_max) -> _Method:
    """The chosen minimiser's batched compile function and the settings that key its cache."""
    if method == "fire":
        settings = (maxstep, dt_start, dt_max)
        compile_fn = functools.partial(fire.compile_batch, maxstep=maxstep, dt_start=dt_start, dt_max=dt_max)
        return _Method(method, compile_fn, settings)
    if method == "lbfgs":
        memory = lbfgs.DEFAULT_MEMORY if memory is None else memory
        linesearch_steps = lbfgs.DEFAULT_LINESEARCH_STEPS if linesearch_steps is None else linesearch_steps
        for name, v in (("memory", memory), ("linesearch_steps", linesearch_steps)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{name} must be a whole number >= 1, got {v!r}")
        settings = (int(memory), int(linesearch_steps), float(maxstep))
        compile_fn = functools.partial(
            lbfgs.compile_batch, memory=settings[0], linesearch_steps=settings[1], maxstep=settings[2]
        )
        return _Method(method, compile_fn, settings)
    raise InputError(f"unknown minimiser {method!r}; known: {', '.join(METHODS)}")


def _progress_bar(progress: bool, total: int, method: str = "fire"):
    """A tqdm bar over ``total`` structures, or None."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="structure", desc="L-BFGS" if method == "lbfgs" else "FIRE", dynamic_ncols=True)


def _check_batch(positions, slots, chunk_steps, fmax, max_steps, maxstep, dt_start, dt_max):
    """Check the settings and the (B, N, 3) start positions; the positions (float64) and the slots to use."""
    fire.check_settings(fmax, max_steps, maxstep, dt_start, dt_max, least_steps=1)
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
    """The jitted batched minimiser for the current pair-list capacity: compiled once (or shared), grown on overflow.

    ``pair_list``: ``(capacity, pairs)`` of :func:`minimize_batch` (:meth:`MDPotential.wrap`).
    """

    def __init__(self, energy_fn, P0, S: int, pair_list: tuple, method: _Method, sharding=None):
        n = P0.shape[1]
        capacity, pairs = pair_list
        self.pot = MDPotential.wrap(energy_fn, n, pairs)
        self.cap = self.pot.initial_capacity(P0, capacity)
        self.dtype = self.pot.energy_dtype(self.cap)
        self.cache = shared_cache(self.pot.energy_fn)
        self.method = method.name
        self.tag = f"{method.name}-batch"
        self.settings = (*method.settings, n, S, str(self.dtype), jax.config.jax_enable_x64, self.pot.cutoff)
        if sharding is not None:  # compiled for these devices: not to be reused for another placement
            self.settings += (("devices", *(d.id for d in sharding.mesh.devices.flat)),)
        self.sharding = sharding
        self.compile_fn = method.compile_batch
        self.compile_seconds, self.reallocations = 0.0, 0

    def minimiser(self, start_R) -> Minimiser:
        """The :class:`~md.optimize.minimiser.Minimiser` for the current capacity, compiled on first
        use (the time is counted)."""
        minimiser = self.cache.get((self.tag, self.cap, self.settings))
        if minimiser is None:
            t0 = time.perf_counter()
            R = shard_batch(jnp.asarray(start_R, self.dtype), self.sharding)  # its placement is compiled in
            minimiser = self.compile_fn(self.pot, self.cap, self.dtype, R)
            self.compile_seconds += time.perf_counter() - t0
            self.cache[(self.tag, self.cap, self.settings)] = minimiser
        return minimiser

    def overflowed(self, most: int) -> bool:
        """Whether a chunk needed more pairs than the list holds; if so the list is grown for a re-run."""
        if self.cap is not None and most > self.cap:
            self.cap = self.pot.after_overflow(most)
            self.reallocations += 1
            return True
        return False


@dataclass
class _Slots:
    """The structures ``P0`` (B, N, 3), the one in each slot (-1: idle), those waiting, and each
    slot's start positions, steps taken and force calls made (the first, at the start positions,
    included)."""

    P0: np.ndarray
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
        return cls(P0, queue, slot_of, start_R, np.zeros(S, np.int64), np.ones(S, bool), np.ones(S, np.int64))

    def refill(self, s: int) -> None:
        """Give slot ``s`` the next waiting structure, or leave it idle when none waits."""
        if self.queue:
            self.slot_of[s] = self.queue.pop(0)
            self.start_R[s] = self.P0[self.slot_of[s]]
            self.fresh[s] = True
            self.steps[s] = 0
            self.calls[s] = 1
        else:
            self.slot_of[s] = -1


def _start_states(init, state, slot: _Slots, dtype, sharding=None):
    """Every slot's minimiser state at first; later, new states for the refilled slots only."""
    if state is None:
        return init(shard_batch(jnp.asarray(slot.start_R, dtype), sharding))
    if slot.fresh.any():
        fresh = init(shard_batch(jnp.asarray(slot.start_R, dtype), sharding))
        return where_active(shard_batch(jnp.asarray(slot.fresh), sharding), fresh, state)
    return state


def _run_chunk(chunk, state, slot: _Slots, dtype, stops: _Stops, sharding=None) -> ChunkResult:
    """One jitted chunk of the minimiser on the occupied slots, each for at most its remaining steps.

    Over several devices every argument is first placed as the chunk was compiled for (the
    slot arrays split over the devices, the scalars and some parts of the state copied to each).
    """
    active = jnp.asarray(slot.slot_of >= 0)
    limit = jnp.asarray(np.maximum(stops.max_steps - slot.steps, 0), jnp.int32)
    fmax = stops.fmax
    args = (state, active, limit, jnp.asarray(stops.chunk_steps, jnp.int32), jnp.asarray(fmax * fmax, dtype))
    if sharding is not None:
        args = jax.device_put(args, chunk.input_shardings[0])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        return chunk(*args)


def _collect(res: ChunkResult, slot: _Slots, out: BatchMinimizeResult, stops: _Stops, on_done) -> int:
    """Count a chunk's steps; store (and report) the structures it finished and refill their slots; how many."""
    slot.fresh[:] = False
    slot.steps += np.asarray(res.steps, np.int64)
    f = np.sqrt(np.asarray(res.max_force2, np.float64))
    energy = np.asarray(res.energy, np.float64)
    finished = [
        s
        for s in range(len(slot.slot_of))
        if slot.slot_of[s] >= 0 and (f[s] < stops.fmax or slot.steps[s] >= stops.max_steps)
    ]
    if finished:
        R_now = np.asarray(res.state.position, np.float64)
        for s in finished:
            b = slot.slot_of[s]
            out.positions[b], out.energies[b], out.fmax[b], out.steps[b] = R_now[s], energy[s], f[s], slot.steps[s]
            out.converged[b] = f[s] < stops.fmax
            if out.force_calls is not None:
                out.force_calls[b] = slot.calls[s]
            if on_done is not None:
                on_done(
                    Minimum(
                        int(b),
                        out.positions[b],
                        float(out.energies[b]),
                        float(out.fmax[b]),
                        int(out.steps[b]),
                        bool(out.converged[b]),
                        int(slot.calls[s]),
                    )
                )
            slot.refill(s)
    return len(finished)


def _one_at_a_time(energy_fn, P0, on_done, progress, **kwargs) -> BatchMinimizeResult:
    """:func:`minimize_batch` with one slot: :func:`md.optimize.fire.minimize` on each structure in turn."""
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
            r = fire.minimize(energy_fn, P0[b], **kwargs)
            out.positions[b], out.energies[b], out.fmax[b] = r.positions, r.energy, r.fmax
            out.steps[b], out.converged[b] = r.steps, r.converged
            out.force_calls[b] = r.steps + 1  # one per FIRE step, and the first
            out.compile_seconds += r.compile_seconds
            out.pair_reallocations += r.pair_reallocations
            if on_done is not None:
                on_done(Minimum(b, r.positions, r.energy, r.fmax, r.steps, r.converged, r.steps + 1))
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{int(out.converged.sum())} converged")
    finally:
        if bar is not None:
            bar.close()
    out.seconds = time.perf_counter() - t_start - out.compile_seconds
    return out
