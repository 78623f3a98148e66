"""The jitted step loop: R replicas, chunks of steps in one call, pair-list overflow handled.

One call of a compiled chunk runs ``n_records * log_every`` steps of every replica
(``jax.vmap`` over replicas, ``lax.fori_loop`` over steps) and returns a thermo/frame record
every ``log_every`` steps. The number of records is a run-time argument, so one compilation
serves every chunk length up to the buffer size; a new one is made only when the pair list
grows.

Overflow: after every step the pairs within the cutoff are counted; a chunk whose largest
count exceeds the capacity is thrown away and run again from its saved start state with a
larger list (:meth:`Engine.run`). Results of an overflowing chunk never leave this module.

Example (low level; :func:`md.dynamics.simulate.run_md` drives this for you):
    >>> engine = Engine(MDPotential.wrap(energy_fn, n), cfg, masses, dtype)      # doctest: +SKIP
    >>> state = engine.init(R0, kT, keys)                                       # doctest: +SKIP
    >>> state, rec, rec0 = engine.run(state, kT, active, n_records=10, start=True)  # doctest: +SKIP
"""

from __future__ import annotations

import time
import weakref
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from md.dynamics.config import MDConfig
from md.dynamics.forces import MDPotential
from md.dynamics.integrators import make_integrator
from md.dynamics.velocities import kinetic_energy


class Records(NamedTuple):
    """Arrays (R, B, ...) of one chunk: replica, record. ``max_pairs`` is (B,) over active replicas."""

    position: np.ndarray  # (R, B, N, 3) Å
    velocity: np.ndarray  # (R, B, N, 3) Å / ASE time unit
    force: np.ndarray  # (R, B, N, 3) eV/Å
    e_pot: np.ndarray  # (R, B) eV
    e_kin: np.ndarray  # (R, B) eV
    conserved: np.ndarray  # (R, B) eV (NaN for Langevin)
    max_pairs: np.ndarray  # (B,) int


#: on overflow the list is sized for this many times the largest count seen (plus the usual
#: 10 % margin): a cluster that is getting denser would otherwise overflow again and again,
#: each time with a new compilation.
OVERFLOW_GROWTH = 1.15

# Compiled chunks, shared by every Engine of the same energy function (a restart in the same
# process, many runs in a test session): keyed weakly by the energy function.
_SHARED = weakref.WeakKeyDictionary()


def shared_cache(fn) -> dict:
    try:
        return _SHARED.setdefault(fn, {})
    except TypeError:  # not weak-referenceable: a cache of this engine's own
        return {}


def _where_active(active, new, old):
    def pick(a, b):
        return jnp.where(active.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)

    return jax.tree_util.tree_map(pick, new, old)


class Engine:
    """Compiled chunks of MD steps for R replicas of one cluster.

    Args:
        potential: the energy and its pair-list policy (:class:`md.dynamics.forces.MDPotential`).
        cfg: the run's :class:`MDConfig` (ensemble, dt, thermostat, ``log_every``).
        masses: (N,) amu.
        dtype: float32 or float64 (the potential's dtype).
        capacity: pair capacity (unordered pairs) to start with, if the list is managed here.
    """

    def __init__(self, potential: MDPotential, cfg: MDConfig, masses, dtype, capacity: int | None = None):
        self.potential = potential
        self.cfg = cfg
        self.dtype = jnp.dtype(dtype)
        self.masses = jnp.asarray(masses, self.dtype)
        self.capacity = capacity
        self.buffer = cfg.records_per_chunk()
        self.compile_seconds = 0.0
        self.reallocations = 0
        self._cache: dict = {}
        self._compiled = shared_cache(potential.energy_fn)
        c = cfg
        # Everything besides shapes, capacity and the energy function that a compiled chunk depends on.
        self._key = (
            c.ensemble,
            c.dt,
            c.tau,
            c.chain_length,
            c.chain_steps,
            c.sy_steps,
            c.friction,
            c.log_every,
            self.buffer,
            potential.cutoff,
            potential.n_atoms,
        )

    # -- building blocks -------------------------------------------------------------------
    def _parts(self, capacity):
        key = ("parts", capacity)
        if key not in self._cache:
            energy = self.potential.energy(capacity)
            integ = make_integrator(energy, self.potential.n_atoms, self.cfg)

            def observe(state, e, kT):
                ke = kinetic_energy(state.momentum, state.mass)
                v = state.momentum / state.mass
                return state.position, v, state.force, e, ke, integ.conserved(state, e, kT)

            self._cache[key] = (energy, integ, observe)
        return self._cache[key]

    def _compile(self, key, fn, *args):
        shapes = jax.tree_util.tree_map(lambda x: (jnp.shape(x), jnp.result_type(x)), args)
        key = (key, self._key, str(jax.tree_util.tree_structure(args)), str(shapes), jax.config.jax_enable_x64)
        if key not in self._compiled:
            t0 = time.perf_counter()
            self._compiled[key] = jax.jit(fn).lower(*args).compile()
            self.compile_seconds += time.perf_counter() - t0
        return self._compiled[key]

    @property
    def dof(self) -> int:
        return self._parts(self.capacity)[1].dof

    # -- initial states ---------------------------------------------------------------------
    def init(self, positions, kT, keys, momenta=None):
        """States of R replicas from positions (R, N, 3), kT (R,) eV, keys (R, 2); momenta (R, N, 3) optional.

        Forces are filled in by the first :meth:`run` with ``start=True`` (so that
        initialising never compiles the model).
        """
        positions = jnp.asarray(positions, self.dtype)
        kT = jnp.asarray(kT, self.dtype)
        counts = np.asarray(jax.jit(jax.vmap(self.potential.count))(positions))
        self._grow_to(int(counts.max()) if counts.size else 0)
        _, integ, _ = self._parts(self.capacity)
        if momenta is None:
            fn = jax.vmap(lambda k, R, t, m: integ.init(k, R, m, t), in_axes=(0, 0, 0, None))
            args = (keys, positions, kT, self.masses)
        else:
            fn = jax.vmap(lambda k, R, t, m, P: integ.init(k, R, m, t, momenta=P), in_axes=(0, 0, 0, None, 0))
            args = (keys, positions, kT, self.masses, jnp.asarray(momenta, self.dtype))
        name = "init" if momenta is None else "init_momenta"
        return self._compile((name, self.capacity), fn, *args)(*args)

    def state_shape(self, positions, kT, keys):
        """The state's pytree of shapes, without compiling (a template for checkpoints)."""
        _, integ, _ = self._parts(self.capacity)
        mass = self.masses
        fn = jax.vmap(lambda k, R, t: integ.init(k, R, mass, t))
        return jax.eval_shape(fn, keys, jnp.asarray(positions, self.dtype), jnp.asarray(kT, self.dtype))

    # -- the chunk --------------------------------------------------------------------------
    def _chunk_fn(self, capacity):
        energy, integ, observe = self._parts(capacity)
        count = self.potential.count
        log_every = self.cfg.log_every
        buffer = self.buffer

        def one(state, kT, n_records, start):
            # start: the state is new (force not yet evaluated); also report it as a record.
            e_shape = jax.eval_shape(energy, state.position)
            state, e0 = jax.lax.cond(
                start, integ.with_force, lambda s: (s, jnp.zeros(e_shape.shape, e_shape.dtype)), state
            )
            rec0 = observe(state, e0, kT)
            bufs = tuple(jnp.zeros((buffer,) + x.shape, x.dtype) for x in rec0) + (jnp.zeros(buffer, jnp.int32),)

            def record(i, carry):
                state, bufs = carry

                def step(_, c):
                    s, most = c
                    s = integ.step(s, kT)
                    return s, jnp.maximum(most, count(s.position))

                state, most = jax.lax.fori_loop(0, log_every, step, (state, jnp.zeros((), jnp.int32)))
                rec = observe(state, energy(state.position), kT) + (most,)
                bufs = tuple(b.at[i].set(x) for b, x in zip(bufs, rec))
                return state, bufs

            state, bufs = jax.lax.fori_loop(0, n_records, record, (state, bufs))
            return state, bufs, rec0

        def chunk(state, kT, active, n_records, start):
            if kT.shape[0] == 1:  # one replica: no vmap (XLA:CPU is slow on batches of one in float32)
                squeeze = lambda tree: jax.tree_util.tree_map(lambda x: x[0], tree)  # noqa: E731
                expand = lambda tree: jax.tree_util.tree_map(lambda x: x[None], tree)  # noqa: E731
                new, bufs, rec0 = expand(one(squeeze(state), kT[0], n_records, start))
            else:
                new, bufs, rec0 = jax.vmap(one, in_axes=(0, 0, None, None))(state, kT, n_records, start)
            new = _where_active(active, new, state)
            most = jnp.max(jnp.where(active[:, None], bufs[-1], 0), axis=0)
            return new, Records(*bufs[:-1], max_pairs=most), rec0

        return chunk

    def run(self, state, kT, active, n_records: int, start: bool = False):
        """Advance the active replicas by ``n_records * log_every`` steps; inactive ones stay as they are.

        Returns ``(state, records, start_record)``: host arrays of the first ``n_records``
        records, and with ``start=True`` (the first call after :meth:`init`, which also
        evaluates the initial forces) a record (R, 1, ...) of the initial state, else None.
        A chunk that overflowed the pair list is run again with a larger one.
        """
        if not 0 <= n_records <= self.buffer:
            raise ValueError(f"n_records must be in 0..{self.buffer}, got {n_records}")
        kT = jnp.asarray(kT, self.dtype)
        active = jnp.asarray(active, bool)
        n = jnp.asarray(n_records, jnp.int32)
        first = jnp.asarray(bool(start))
        while True:
            capacity = self.capacity
            args = (state, kT, active, n, first)
            fn = self._compile(("chunk", capacity), lambda *a: self._chunk_fn(capacity)(*a), *args)
            new, rec, rec0 = fn(*args)
            rec = Records(
                *(np.asarray(x)[:, :n_records] for x in rec[:-1]), max_pairs=np.asarray(rec.max_pairs)[:n_records]
            )
            most = int(rec.max_pairs.max()) if n_records else 0
            if capacity is not None and most > capacity:
                self._grow_to(most, OVERFLOW_GROWTH)
                self.reallocations += 1
                continue  # the same chunk again, from the same start state
            start_rec = None
            if start:
                start_rec = Records(*(np.asarray(x)[:, None] for x in rec0), max_pairs=np.zeros(1, np.int64))
            return new, rec, start_rec

    def _grow_to(self, n_pairs: int, grow: float = 1.0) -> None:
        if self.potential.managed and (self.capacity is None or n_pairs > self.capacity):
            self.capacity = self.potential.capacity_for(max(int(n_pairs * grow), 1))
