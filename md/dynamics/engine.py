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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from md.dynamics.config import MDConfig
from md.dynamics.exchange import Swapped, exchange_key, swap_neighbours
from md.dynamics.integrators import make_integrator
from md.dynamics.velocities import kinetic_energy
from md.dynamics.wall import SphericalWall
from md.forces.active import where_active
from md.forces.cache import shared_cache
from md.forces.potential import MDPotential
from painnjax.compiler import jit
from painnjax.devices import batch_sharding, shard_batch, to_host


class Records(NamedTuple):
    """Arrays (R, B, ...) of one chunk: replica, record. ``max_pairs`` is (B,) over active replicas.

    ``extra`` holds (R, B) arrays of the run's features, by name: ``e_wall`` (eV) with a wall;
    ``e_std`` (eV), ``f_spread`` and ``f_spread_max`` (eV/Å) with a committee; ``walker``,
    ``x_attempted`` and ``x_accepted`` (entry r: the pair r, r + 1) under replica exchange.
    """

    position: np.ndarray  # (R, B, N, 3) Å
    velocity: np.ndarray  # (R, B, N, 3) Å / ASE time unit
    force: np.ndarray  # (R, B, N, 3) eV/Å
    e_pot: np.ndarray  # (R, B) eV, the model's (without the wall)
    e_kin: np.ndarray  # (R, B) eV
    conserved: np.ndarray  # (R, B) eV (NaN for Langevin)
    max_pairs: np.ndarray  # (B,) int
    extra: dict = {}


class Engine:
    """Compiled chunks of MD steps for R replicas of one cluster.

    Args:
        potential: the energy and its pair-list policy (:class:`md.forces.potential.MDPotential`).
        cfg: the run's :class:`MDConfig` (ensemble, dt, thermostat, ``log_every``).
        masses: (N,) amu.
        dtype: float32 or float64 (the potential's dtype).
        capacity: pair capacity (unordered pairs) to start with, if the list is managed here.
        devices: local devices to spread the replicas over (None: all; 1: one). The largest
            number of them that divides the replicas is used (:func:`painnjax.devices.batch_sharding`).
        systems: several clusters as the replicas (:class:`md.dynamics.systems.Systems`); then
            ``masses`` is (R, N) and each replica's ``species`` and ``atom_mask`` go to the energy.

    The config's wall (``wall_radius``, ``wall_k``) is added to the energy; a committee
    potential (``potential.members``) gets its spreads recorded; ``exchange_every`` swaps
    configurations between neighbouring temperatures (:mod:`md.dynamics.exchange`).
    """

    def __init__(
        self,
        potential: MDPotential,
        cfg: MDConfig,
        masses,
        dtype,
        capacity: int | None = None,
        devices=None,
        systems=None,
    ):
        self.potential = potential
        self.systems = systems
        # per-replica keyword arguments of the energy (none for one cluster: the same programs as before)
        self.aux = {} if systems is None else {k: jnp.asarray(v) for k, v in systems.aux().items()}
        self.sharding = batch_sharding(cfg.replicas, devices)
        self.cfg = cfg
        self.wall = None if cfg.wall_radius is None else SphericalWall(float(cfg.wall_radius), float(cfg.wall_k))
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
            None if self.wall is None else (self.wall.radius, self.wall.k),
            len(potential.members),
            c.exchange_every,
            c.seed if c.exchange_every else None,
        )

    # -- building blocks -------------------------------------------------------------------
    def _parts(self, capacity):
        key = ("parts", capacity)
        if key not in self._cache:
            model = self.potential.energy(capacity)
            wall, masses = self.wall, self.masses
            energy = model if wall is None else (lambda R, **kw: model(R, **kw) + wall.energy(R, masses))
            integ = make_integrator(energy, self.potential.n_atoms, self.cfg)
            committee = self.potential.committee(capacity) if self.potential.members else None

            def observe(state, e, kT, aux):
                """The record of a state whose energy (the integrator's: model + wall) is ``e``."""
                ke = kinetic_energy(state.momentum, state.mass)
                v = state.momentum / state.mass
                extra, e_model = {}, e
                if wall is not None:
                    extra["e_wall"] = wall.energy(state.position, masses)
                    e_model = e - extra["e_wall"]
                if committee is not None:
                    E, F = committee(state.position, **aux)
                    atom = jnp.linalg.norm(jnp.std(F, axis=0), axis=-1)  # (N,) as painnjax.training.committee
                    extra.update(e_std=jnp.std(E), f_spread=jnp.mean(atom), f_spread_max=jnp.max(atom))
                base = (state.position, v, state.force, e_model, ke, integ.conserved(state, e, kT))
                return base, extra

            self._cache[key] = (energy, integ, observe)
        return self._cache[key]

    @property
    def n_devices(self) -> int:
        """How many devices the replicas are spread over."""
        return 1 if self.sharding is None else self.sharding.mesh.size

    def _compile(self, key, fn, *args):
        shapes = jax.tree_util.tree_map(lambda x: (jnp.shape(x), jnp.result_type(x)), args)
        placement = None if self.sharding is None else tuple(d.id for d in self.sharding.mesh.devices.flat)
        key = (
            key,
            self._key,
            str(jax.tree_util.tree_structure(args)),
            str(shapes),
            jax.config.jax_enable_x64,
            placement,
        )
        if key not in self._compiled:
            t0 = time.perf_counter()
            self._compiled[key] = jit(fn).lower(*args).compile()
            self.compile_seconds += time.perf_counter() - t0
        return self._compiled[key]

    @property
    def dof(self) -> int:
        """The integrator's degrees of freedom (of the padded size in a run of several clusters)."""
        return self._parts(self.capacity)[1].dof

    @property
    def dofs(self) -> np.ndarray:
        """(R,) each replica's kinetic degrees of freedom (for its temperature)."""
        if self.systems is not None:
            return self.systems.dofs(self.cfg.ensemble)
        return np.full(self.cfg.replicas, self.dof)

    def _init_fn(self, integ, with_momenta: bool):
        """The vmapped ``init`` and how its arguments map over replicas (masses and padding per replica or shared)."""
        if self.systems is None:

            def one(k, R, t, m, P=None):
                return integ.init(k, R, m, t, momenta=P)

            return one, (0, 0, 0, None) + ((0,) if with_momenta else ()), ()
        mask = jnp.asarray(self.systems.atom_mask)
        # momenta are drawn without drift or rotation: kT over each cluster's 3 N_r - 6, as for one cluster
        dofs = jnp.asarray(self.systems.dofs("nve"), self.dtype)

        def one(k, R, t, m, a, d, P=None):
            return integ.init(k, R, m, t, momenta=P, atom_mask=a, n_dof=d)

        return one, (0, 0, 0, 0, 0, 0) + ((0,) if with_momenta else ()), (mask, dofs)

    # -- initial states ---------------------------------------------------------------------
    def init(self, positions, kT, keys, momenta=None):
        """States of R replicas from positions (R, N, 3), kT (R,) eV, keys (R, 2); momenta (R, N, 3) optional.

        Forces are filled in by the first :meth:`run` with ``start=True`` (so that
        initialising never compiles the model).
        """
        positions = jnp.asarray(positions, self.dtype)
        kT = jnp.asarray(kT, self.dtype)
        counts = np.asarray(jit(jax.vmap(self.potential.count))(positions))
        self._grow_to(int(counts.max()) if counts.size else 0)
        _, integ, _ = self._parts(self.capacity)
        one, axes, padding = self._init_fn(integ, momenta is not None)
        fn = jax.vmap(one, in_axes=axes)
        args = (keys, positions, kT, self.masses, *padding)
        if momenta is not None:
            args += (jnp.asarray(momenta, self.dtype),)
        name = "init" if momenta is None else "init_momenta"
        # the arguments with the replica axis first are spread over the devices; shared masses are not
        args = tuple(shard_batch(a, self.sharding) if ax == 0 else a for a, ax in zip(args, axes))
        return self._compile((name, self.capacity), fn, *args)(*args)

    def state_shape(self, positions, kT, keys):
        """The state's pytree of shapes, without compiling (a template for checkpoints)."""
        _, integ, _ = self._parts(self.capacity)
        one, axes, padding = self._init_fn(integ, False)
        fn = jax.vmap(one, in_axes=axes)
        args = (keys, jnp.asarray(positions, self.dtype), jnp.asarray(kT, self.dtype), self.masses, *padding)
        return jax.eval_shape(fn, *args)

    # -- the chunk --------------------------------------------------------------------------
    def _chunk_fn(self, capacity):
        energy, integ, observe = self._parts(capacity)
        count = self.potential.count
        log_every = self.cfg.log_every
        buffer = self.buffer

        def start_state(state, start, aux):
            """The state with its force (when ``start``: new, force not yet evaluated) and its energy."""
            e_shape = jax.eval_shape(energy, state.position)
            return jax.lax.cond(
                start,
                lambda s: integ.with_force(s, **aux),
                lambda s: (s, jnp.zeros(e_shape.shape, e_shape.dtype)),
                state,
            )

        def advance(state, kT, aux):
            """``log_every`` steps; the most pairs within the cutoff after any of them."""

            def step(_, c):
                s, most = c
                s = integ.step(s, kT, **aux)
                return s, jnp.maximum(most, count(s.position))

            return jax.lax.fori_loop(0, log_every, step, (state, jnp.zeros((), jnp.int32)))

        def empty(rec0):
            return jax.tree_util.tree_map(lambda x: jnp.zeros((buffer,) + x.shape, x.dtype), rec0)

        def one(state, kT, aux, n_records, start):
            # start: the state is new (force not yet evaluated); also report it as a record.
            state, e0 = start_state(state, start, aux)
            rec0 = observe(state, e0, kT, aux)
            bufs = (empty(rec0), jnp.zeros(buffer, jnp.int32))

            def record(i, carry):
                state, bufs = carry
                state, most = advance(state, kT, aux)
                rec = (observe(state, energy(state.position, **aux), kT, aux), most)
                bufs = jax.tree_util.tree_map(lambda b, x: b.at[i].set(x), bufs, rec)
                return state, bufs

            state, bufs = jax.lax.fori_loop(0, n_records, record, (state, bufs))
            return state, bufs, rec0

        def chunk(state, kT, aux, active, n_records, start, first_record, walker):
            if kT.shape[0] == 1:  # one replica: no vmap (XLA:CPU is slow on batches of one in float32)
                squeeze = lambda tree: jax.tree_util.tree_map(lambda x: x[0], tree)  # noqa: E731
                expand = lambda tree: jax.tree_util.tree_map(lambda x: x[None], tree)  # noqa: E731
                new, bufs, rec0 = expand(one(squeeze(state), kT[0], squeeze(aux), n_records, start))
            else:
                new, bufs, rec0 = jax.vmap(one, in_axes=(0, 0, 0, None, None))(state, kT, aux, n_records, start)
            return new, bufs, rec0

        def chunk_exchange(state, kT, aux, active, n_records, start, first_record, walker):
            """As ``chunk``, all replicas advanced together so that they can swap at exchange steps (one cluster)."""
            every = self.cfg.exchange_every // log_every  # records between exchanges
            seed = self.cfg.seed
            state, e0 = jax.vmap(start_state, in_axes=(0, None, 0))(state, start, aux)
            rec0 = jax.vmap(observe)(state, e0, kT, aux)
            R = kT.shape[0]
            flags = jnp.zeros(R, bool)
            rec0 = (rec0[0], {**rec0[1], "walker": walker, "x_attempted": flags, "x_accepted": flags})
            bufs = (empty(rec0), jnp.zeros((buffer, R), jnp.int32))

            def record(i, carry):
                state, bufs, walker = carry
                state, most = jax.vmap(advance)(state, kT, aux)
                e = jax.vmap(lambda R, a: energy(R, **a))(state.position, aux)
                number = first_record + i + 1  # records since step 0
                x = number // every  # exchanges since step 0

                def exchange(args):
                    state, e, walker = args
                    return swap_neighbours(state, e, kT, walker, exchange_key(seed, x), x % 2, active)

                def skip(args):
                    state, e, walker = args
                    return Swapped(state, e, walker, flags, flags)

                out = jax.lax.cond(number % every == 0, exchange, skip, (state, e, walker))
                base, extra = jax.vmap(observe)(out.state, out.e_pot, kT, aux)
                extra = {**extra, "walker": out.walker, "x_attempted": out.attempted, "x_accepted": out.accepted}
                bufs = jax.tree_util.tree_map(lambda b, v: b.at[i].set(v), bufs, ((base, extra), most))
                return out.state, bufs, out.walker

            state, bufs, _ = jax.lax.fori_loop(0, n_records, record, (state, bufs, walker))
            # to the layout of ``chunk``: (R, B, ...)
            bufs = jax.tree_util.tree_map(lambda b: jnp.swapaxes(b, 0, 1), bufs)
            return state, bufs, rec0

        body = chunk_exchange if self.cfg.exchange_every else chunk

        def run(state, kT, aux, active, n_records, start, first_record, walker):
            new, ((base, extra), most), rec0 = body(state, kT, aux, active, n_records, start, first_record, walker)
            new = where_active(active, new, state)
            most = jnp.max(jnp.where(active[:, None], most, 0), axis=0)
            return new, Records(*base, max_pairs=most, extra=extra), rec0

        return run

    def run(self, state, kT, active, n_records: int, start: bool = False, first_record: int = 0, walker=None):
        """Advance the active replicas by ``n_records * log_every`` steps; inactive ones stay as they are.

        Returns ``(state, records, start_record)``: host arrays of the first ``n_records``
        records, and with ``start=True`` (the first call after :meth:`init`, which also
        evaluates the initial forces) a record (R, 1, ...) of the initial state, else None.
        A chunk that overflowed the pair list is run again with a larger one.

        Under replica exchange, ``first_record`` is the number of records before this chunk
        (the step over ``log_every``: it says when exchanges fall) and ``walker`` (R,) which
        configuration each replica holds; the records' ``extra["walker"]`` carries it on.
        """
        if not 0 <= n_records <= self.buffer:
            raise ValueError(f"n_records must be in 0..{self.buffer}, got {n_records}")
        kT = jnp.asarray(kT, self.dtype)
        active = jnp.asarray(active, bool)
        n = jnp.asarray(n_records, jnp.int32)
        first = jnp.asarray(bool(start))
        offset = jnp.asarray(first_record, jnp.int32)
        walker = jnp.arange(kT.shape[0], dtype=jnp.int32) if walker is None else jnp.asarray(walker, jnp.int32)
        while True:
            capacity = self.capacity
            args = shard_batch((state, kT, self.aux, active, n, first, offset, walker), self.sharding)
            fn = self._compile(("chunk", capacity), lambda *a: self._chunk_fn(capacity)(*a), *args)
            new, rec, rec0 = fn(*args)
            rec, rec0 = to_host((rec, rec0))  # whole, on every process of a multi-process run
            rec = Records(
                *(np.asarray(x)[:, :n_records] for x in rec[:6]),
                max_pairs=np.asarray(rec.max_pairs)[:n_records],
                extra={k: np.asarray(v)[:, :n_records] for k, v in rec.extra.items()},
            )
            most = int(rec.max_pairs.max()) if n_records else 0
            if capacity is not None and most > capacity:
                self.capacity = self.potential.after_overflow(most)
                self.reallocations += 1
                continue  # the same chunk again, from the same start state
            start_rec = None
            if start:
                base, extra = rec0
                start_rec = Records(
                    *(np.asarray(x)[:, None] for x in base),
                    max_pairs=np.zeros(1, np.int64),
                    extra={k: np.asarray(v)[:, None] for k, v in extra.items()},
                )
            return new, rec, start_rec

    def _grow_to(self, n_pairs: int) -> None:
        if self.potential.managed and (self.capacity is None or n_pairs > self.capacity):
            self.capacity = self.potential.capacity_for(max(n_pairs, 1))
