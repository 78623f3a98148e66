"""Run MD of one cluster: R replicas in one jitted call, output, checkpoints, restart, safety stops.

:func:`run_md` is the driver behind ``painnjax md``. It takes any energy function in eV of
positions in Å -- a painnjax potential, or any jax-md style ``energy_fn(R, **kwargs)`` -- and
an ``ase.Atoms`` for species, masses and the start positions.

Example:
    >>> import painnjax
    >>> from md import MDConfig, run_md
    >>> from painnjax.data import bundled_structure
    >>> atoms = bundled_structure("SA1AM1")
    >>> model = painnjax.load_model("model.painn")                               # doctest: +SKIP
    >>> energy_fn = painnjax.potential(model, atoms, reference_positions=atoms.positions)  # doctest: +SKIP
    >>> cfg = MDConfig(ensemble="nvt-nh", temperature=(300.0, 400.0), replicas=2, dt=0.5, steps=20000)
    >>> result = run_md(energy_fn, atoms, cfg, out="run-300-400")                # doctest: +SKIP
    >>> result.summary["steps_per_second"], result.stop_reason                 # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from md.dynamics import checkpoint as ckpt
from md.dynamics import output
from md.dynamics.config import MDConfig
from md.dynamics.engine import Engine, Records
from md.dynamics.resources import check_run_memory
from md.dynamics.safety import check_frame, formula, fragments, lost_fragments
from md.dynamics.systems import Systems, check_mixed
from md.forces.potential import MDPotential
from painnjax.devices import distributed, is_main_process, to_host
from painnjax.errors import InputError
from painnjax.io.files import lock_run_folder
from painnjax.io.modelfile import check_same_model
from painnjax.io.plots import md_energies
from painnjax.potential import Potential
from painnjax.units import KB_EV, kelvin_to_kT, ns_per_day
from painnjax.validate import as_atomic_numbers, check_free_cluster, check_positions


class SafetyStopWarning(RuntimeWarning):
    """A replica was stopped by a safety check (the message names step, time and cause)."""


# Options that may change between a run and its restart.
RESTART_MAY_CHANGE = ("steps", "chunk_steps", "max_temperature", "fragment_distance", "max_spread", "collect_above")

#: where a run with a committee and ``collect_above`` writes its uncertain frames
UNCERTAIN_FILE = "uncertain.extxyz"


@dataclass
class MDResult:
    """What :func:`run_md` returns (files in ``out`` hold the same and more).

    Attributes:
        steps_done: the step the run reached: the last step with a good record (after a
            safety stop of every replica, the last good record before the stop, not the end of
            the chunk the stop came in).
        stop_reason: ``"completed"``, ``"interrupted"``, or ``"safety: <kind>"`` when every
            replica was stopped by a check (kinds: non-finite, temperature, fragmentation,
            uncertainty).
        summary: the contents of ``summary.json``.
        positions, velocities: (R, N, 3) of each replica's last good frame (Å, Å/ASE time).
        thermo: this session's records as columns (see :data:`md.dynamics.output.THERMO_COLUMNS`).
        state: the final jax-md state of all replicas (host arrays).
        messages: one line per stopped replica.
    """

    steps_done: int
    stop_reason: str
    summary: dict
    positions: np.ndarray
    velocities: np.ndarray
    thermo: dict
    state: Any = None
    messages: list = field(default_factory=list)


def _species_and_positions(atoms, energy_fn):
    if not hasattr(atoms, "get_atomic_numbers"):
        raise InputError("atoms must be an ase.Atoms (species, positions and masses of the cluster)")
    source = atoms.info.get("source") if hasattr(atoms, "info") else None
    Z = as_atomic_numbers(atoms, source=source)
    R = check_positions(atoms.positions, len(Z), source=source, symbols=atoms.get_chemical_symbols())
    own = energy_fn.species if isinstance(energy_fn, Potential) else None
    if own is not None and not np.array_equal(np.asarray(own), Z):
        raise InputError(
            f"{source + ': ' if source else ''}the structure's species differ from those the potential was built for"
        )
    if len(Z) < 2:
        raise InputError(f"{source + ': ' if source else ''}MD needs at least 2 atoms, got {len(Z)}")
    return Z, np.asarray(R, np.float64)


def _keys(seed: int, replicas: int):
    base = jax.random.PRNGKey(seed)
    return jax.vmap(lambda r: jax.random.fold_in(base, r))(jnp.arange(replicas))


def _check_restart(meta: dict, cfg: MDConfig, s: _Setup, traj_format: str, path) -> None:
    """Refuse a checkpoint written with other options, species, masses, dtype or trajectory format than this run's."""
    import dataclasses

    species, masses, dtype = _species_meta(s), s.masses, s.dtype

    # options newer than the checkpoint count as their defaults
    old = {f.name: f.default for f in dataclasses.fields(MDConfig)} | dict(meta["config"])
    new = cfg.to_dict()
    diff = [k for k in new if k not in RESTART_MAY_CHANGE and old.get(k) != new[k]]
    if diff:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in diff)
        raise InputError(f"{path}: the restart changes options the checkpoint was written with ({shown})")
    if meta["species"] != species:
        raise InputError(f"{path}: the checkpoint is of another cluster (species differ)")
    old_masses = np.asarray(meta["masses"], np.float64)
    if old_masses.shape != np.shape(masses) or not np.allclose(old_masses, masses, rtol=0, atol=1e-9):
        raise InputError(f"{path}: the checkpoint was written with other masses")
    if meta["dtype"] != str(dtype):
        raise InputError(f"{path}: the checkpoint is {meta['dtype']}, this run is {dtype}")
    if meta.get("traj_format") != traj_format:
        raise InputError(f"{path}: the run writes {meta.get('traj_format')} trajectories, not {traj_format}")


class _Run:
    """Book-keeping of one call of :func:`run_md` (kept apart so the loop reads plainly)."""

    def __init__(self, cfg: MDConfig, s: _Setup, out: Path | None, opts: _Options):
        """``out``: the folder this process writes (None: none); ``opts`` give the trajectories' format and content."""
        # per replica: species, symbols and real atoms (the same for all in a run of one cluster)
        engine = s.engine
        self.cfg, self.engine, self.Zs, self.symbols = cfg, engine, s.Zs, s.symbols
        self.n = [len(z) for z in s.Zs]
        self.dofs = np.asarray(engine.dofs, np.float64)
        features = []
        if engine.wall is not None:
            features.append("e_wall")
        if engine.potential.members:
            features += ["e_std", "f_spread", "f_spread_max"]
        if cfg.exchange_every:
            features.append("walker")
        self.features = tuple(features)
        self.columns = output.thermo_columns(self.features)
        self.walker = np.arange(cfg.replicas)
        self.x_attempts = np.zeros(max(cfg.replicas - 1, 0), np.int64)
        self.x_accepts = np.zeros(max(cfg.replicas - 1, 0), np.int64)
        self.n_collected = 0
        self.max_spread_seen = [0.0] * cfg.replicas
        self.out, self.traj_format, self.write_forces = out, opts.traj_format, opts.write_forces
        self.fragment_distance = s.fragment_distance
        self.R = cfg.replicas
        self.temps = np.asarray(cfg.temperatures(), np.float64)
        self.max_temps = cfg.max_temperatures()
        self.status = [
            {"replica": r, "temperature_K": float(self.temps[r]), "status": "running"} for r in range(self.R)
        ]
        if engine.systems is not None:  # which cluster each replica runs
            for st, f in zip(self.status, engine.systems.formulas):
                st["formula"] = f
        self.sum_T = np.zeros(self.R)
        self.n_T = np.zeros(self.R, np.int64)
        self.last_good: list[dict | None] = [None] * self.R
        self.rows = {c: [] for c in self.columns}
        self.messages: list[str] = []
        self.writers = (
            [
                output.TrajectoryWriter(output.trajectory_path(out, r, self.traj_format), self.traj_format)
                for r in range(self.R)
            ]
            if out is not None
            else None
        )
        self.collector = (
            output.TrajectoryWriter(Path(out) / UNCERTAIN_FILE, "extxyz")
            if out is not None and cfg.collect_above is not None
            else None
        )

    @property
    def active(self) -> np.ndarray:
        return np.asarray([s["status"] == "running" for s in self.status])

    def temperature(self, e_kin, r: int):
        """Replica ``r``'s temperatures (K) from its kinetic energies (eV)."""
        return 2.0 * np.asarray(e_kin, np.float64) / (self.dofs[r] * KB_EV)

    def process(self, rec: Records, steps, active, first: bool = False) -> None:
        """Check, log and write the records of the replicas in ``active``; ``steps[j]`` is record j's step."""
        dt = self.cfg.dt
        thermo_lines = []
        frames = [[] for _ in range(self.R)]
        collected = []
        extra = {k: rec.extra[k] for k in self.features}
        if "x_attempted" in rec.extra and not first:
            self.x_attempts += rec.extra["x_attempted"][:-1].sum(axis=1)
            self.x_accepts += rec.extra["x_accepted"][:-1].sum(axis=1)
            self.walker = np.asarray(rec.extra["walker"][:, -1]) if len(steps) else self.walker
        for r in np.flatnonzero(active):
            T = self.temperature(rec.e_kin[r], r)
            n_good, n = 0, self.n[r]
            for j, step in enumerate(steps):
                bad = check_frame(
                    rec.position[r, j, :n],
                    float(rec.e_pot[r, j]),
                    float(T[j]),
                    self.max_temps[r],
                    self.fragment_distance,
                    self.symbols[r],
                )
                if bad is None and "f_spread_max" in extra:
                    spread = float(extra["f_spread_max"][r, j])
                    self.max_spread_seen[r] = max(self.max_spread_seen[r], spread)
                    if self.collector is not None and spread > self.cfg.collect_above:
                        collected.append(self._atoms(r, self._good(rec, r, j, step, T), spreads=(extra, r, j)))
                    bad = self._too_uncertain(spread)
                if bad is not None:
                    if first:
                        raise InputError(f"the start structure fails a safety check: {bad[1]}")
                    lost = None
                    if bad[0] == "fragmentation":
                        lost = lost_fragments(rec.position[r, j, :n], self.fragment_distance, self.symbols[r])
                    self._stop(r, int(step), *bad, fragments=lost)
                    break
                n_good += 1
                self.last_good[r] = self._good(rec, r, j, step, T)
                if not first:
                    self.sum_T[r] += T[j]
                    self.n_T[r] += 1
                if self.writers is not None and self.cfg.traj_every and step % self.cfg.traj_every == 0:
                    frames[r].append(self._atoms(r, self.last_good[r]))
            s = np.asarray(steps[:n_good])
            ex = {k: v[r, :n_good] for k, v in extra.items()}
            e_total = rec.e_pot[r, :n_good] + rec.e_kin[r, :n_good] + ex.get("e_wall", 0.0)
            cols = (
                s,
                s * dt,
                np.full(n_good, r),
                T[:n_good],
                rec.e_pot[r, :n_good],
                rec.e_kin[r, :n_good],
                e_total,
                rec.conserved[r, :n_good],
                *(ex[k] for k in output.EXTRA_COLUMNS if k in ex),
            )
            for c, v in zip(self.columns, cols):
                self.rows[c].extend(np.asarray(v).tolist())
            thermo_lines += output.thermo_rows(
                s,
                s * dt,
                r,
                T[:n_good],
                rec.e_pot[r, :n_good],
                rec.e_kin[r, :n_good],
                rec.conserved[r, :n_good],
                e_total=e_total,
                extra=ex,
            )
        if self.out is not None:
            lines = sorted(thermo_lines, key=lambda line: int(line.split(",", 1)[0]))
            output.append_thermo(self.out, lines, self.columns)
            for r, fr in enumerate(frames):
                self.writers[r].write(fr)
            if self.collector is not None:
                self.collector.write(sorted(collected, key=lambda a: (a.info["step"], a.info["replica"])))
                self.n_collected += len(collected)

    def _good(self, rec: Records, r: int, j: int, step, T) -> dict:
        """Replica ``r``'s record ``j`` (at ``step``) as a last-good frame (its real atoms)."""
        n = self.n[r]
        return {
            "step": int(step),
            "position": rec.position[r, j, :n],
            "velocity": rec.velocity[r, j, :n],
            "force": rec.force[r, j, :n],
            "e_pot": float(rec.e_pot[r, j]),
            "temperature": float(T[j]),
        }

    def _too_uncertain(self, spread: float):
        """The safety stop of a frame whose largest atomic force spread is above ``max_spread``, else None."""
        limit = self.cfg.max_spread
        if limit is None or spread <= limit:
            return None
        return "uncertainty", (
            f"the committee's largest atomic force spread {spread:.3g} eV/Å exceeds max_spread ({limit:g} eV/Å)"
        )

    def _atoms(self, r, good, spreads=None):
        atoms = output.frame_atoms(
            self.Zs[r],
            good["position"],
            good["velocity"],
            good["e_pot"],
            good["step"],
            good["step"] * self.cfg.dt,
            r,
            good["temperature"],
            forces=good["force"] if self.write_forces else None,
        )
        if spreads is not None:  # (extra, r, j): the committee's spreads of the frame
            extra, r_, j = spreads
            for k in ("e_std", "f_spread", "f_spread_max"):
                atoms.info[output.EXTRA_COLUMNS[k]] = float(extra[k][r_, j])
        return atoms

    def _stop(self, r, step, kind, message, fragments=None):
        time_fs = step * self.cfg.dt
        good = self.last_good[r]
        text = f"replica {r} stopped at step {step} (t = {time_fs:g} fs): {message}"
        entry = {
            "status": "stopped",
            "stop_reason": kind,
            "stop_step": step,
            "stop_time_fs": time_fs,
            "message": message,
        }
        if fragments is not None:  # the formulas of the groups that left (largest group kept out)
            entry["fragments"] = fragments
        if good is not None:
            entry["last_good_step"] = good["step"]
            if self.out is not None:
                path = Path(self.out) / f"last_good_r{r:03d}.extxyz"
                output.write_frame(path, self._atoms(r, good))
                entry["last_good_frame"] = str(path)
                text += f"; last good frame (step {good['step']}) saved to {path}"
        self.status[r].update(entry)
        self.messages.append(text)
        # stacklevel: _stop <- process <- _run_chunks <- _run_md <- run_md <- the caller of run_md
        warnings.warn(text, SafetyStopWarning, stacklevel=6)

    def meta(self, step: int, capacity) -> dict:
        return {
            "step": int(step),
            "capacity": capacity,
            "status": self.status,
            "sum_T": self.sum_T.tolist(),
            "n_T": self.n_T.tolist(),
            "walker": self.walker.tolist(),
            "exchange_attempts": self.x_attempts.tolist(),
            "exchange_accepts": self.x_accepts.tolist(),
            "n_collected": self.n_collected,
            "max_spread_seen": list(self.max_spread_seen),
            "last_good": [
                None
                if g is None
                else {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in g.items()}
                for g in self.last_good
            ],
        }

    def restore(self, meta: dict) -> None:
        self.status = [dict(s) for s in meta["status"]]
        self.sum_T = np.asarray(meta["sum_T"], np.float64)
        self.n_T = np.asarray(meta["n_T"], np.int64)
        self.walker = np.asarray(meta.get("walker", self.walker), np.int64)
        self.x_attempts = np.asarray(meta.get("exchange_attempts", self.x_attempts), np.int64)
        self.x_accepts = np.asarray(meta.get("exchange_accepts", self.x_accepts), np.int64)
        self.n_collected = int(meta.get("n_collected", 0))
        self.max_spread_seen = list(meta.get("max_spread_seen", self.max_spread_seen))
        self.last_good = [
            None if g is None else {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in g.items()}
            for g in meta["last_good"]
        ]


def run_md(
    energy_fn: Callable,
    atoms,
    config: MDConfig,
    *,
    out=None,
    restart: bool = False,
    traj_format: str = "traj",
    write_forces: bool = False,
    progress: bool = True,
    momenta=None,
    capacity: int | None = None,
    pairs: str = "auto",
    masses=None,
    summary_extra: dict | None = None,
    model_id: str | None = None,
    model_name: str | None = None,
    ignore_cell: bool = False,
    devices: int | None = None,
) -> MDResult:
    """Run ``config.steps`` steps of MD of the cluster ``atoms`` with ``energy_fn`` (eV, Å).

    Args:
        energy_fn: a painnjax potential (its dtype is the run's: build it with
            ``dtype=jnp.float64`` inside ``jax.enable_x64(True)`` for float64 MD) or any
            ``energy_fn(R, **kwargs)``.
        atoms: ``ase.Atoms``: species, start positions (Å) and masses (amu, ASE's by default);
            or a list of several clusters, replica ``r`` running cluster ``r mod K``, padded to
            one size in one compiled run (:mod:`md.dynamics.systems` says how, and what such a
            run cannot do). ``energy_fn`` is then a painnjax potential built for the largest.
        config: the :class:`MDConfig`.
        out: output folder (None: nothing is written; the result still holds the records).
        restart: continue the run in ``out`` from its checkpoint (exactly, step for step).
        traj_format: ``"traj"`` (ASE) or ``"extxyz"``.
        write_forces: store forces in the trajectory frames.
        progress: show a tqdm progress bar with ns/day.
        momenta: initial momenta (N, 3) or (R, N, 3) in amu Å/(ASE time unit) instead of
            Maxwell-Boltzmann ones (e.g. ``atoms.get_momenta()``), used as given: remove drift
            and rotation first (``md.dynamics.velocities.remove_rotation_and_drift``) if temperatures
            are to count 3N - 6 degrees of freedom exactly.
        capacity: pair-list capacity (unordered pairs) to start with; grows when needed.
        pairs: ``"auto"``, ``"sparse"`` or ``"own"`` (see :meth:`md.forces.potential.MDPotential.wrap`).
        masses: (N,) amu instead of ``atoms.get_masses()`` (several clusters: one array each).
        summary_extra: more entries for ``summary.json`` (e.g. the model file).
        model_id, model_name: the identity (:func:`painnjax.io.modelfile.model_identity`) and
            name of the model behind ``energy_fn``, kept in the checkpoint: a restart with
            another model is refused (an old checkpoint without one is continued with a warning).
        ignore_cell: run periodic ``atoms`` as a free cluster (cell and pbc not used); without
            it they are an :class:`InputError` (the models are for free clusters).
        devices: local devices to spread the replicas over (None: all of them; 1: one). The
            largest number of them that divides the number of replicas is used; the
            trajectories are those of one device (:mod:`painnjax.devices`).

    In a multi-process job (:func:`painnjax.devices.initialize_distributed`, one process per
    host) every process calls this alike; the replicas are spread over the devices of all of
    them and process 0 writes ``out`` (the others read it only to restart).

    ``out`` is locked for the run (:func:`painnjax.io.files.lock_run_folder`): a second run
    into the same folder at the same time is refused.
    """
    wall0 = time.perf_counter()
    config.check()
    cfg = config
    for a in atoms if isinstance(atoms, (list, tuple)) else [atoms]:
        check_free_cluster(a, getattr(a, "info", {}).get("source"), ignore_cell=ignore_cell)
    if model_id is not None:
        summary_extra = {**(summary_extra or {}), "model_id": model_id}
    opts = _Options(out, restart, traj_format, write_forces, progress, momenta, summary_extra, wall0)
    s = _prepare(_Inputs(energy_fn, atoms, masses, capacity, pairs, devices), cfg, opts)
    s.model_id, s.model_name = model_id, model_name
    with nullcontext() if out is None or not is_main_process() else lock_run_folder(out, "an MD run"):
        return _run_md(s, cfg, opts)


@dataclass(frozen=True)
class _Inputs:
    """What :func:`run_md` runs: the energy, the cluster(s), and how its replicas are set up (its arguments)."""

    energy_fn: Callable
    atoms: Any  # an ase.Atoms, or a list of several clusters
    masses: Any  # (N,) amu, one array per cluster, or None for ASE's
    capacity: int | None  # the pair capacity to start with (unordered pairs)
    pairs: str  # "auto", "sparse" or "own" (MDPotential.wrap)
    devices: int | None


@dataclass(frozen=True)
class _Options:
    """How :func:`run_md` runs and writes (its arguments); ``out`` is the folder as given (None: no files)."""

    out: Any
    restart: bool
    traj_format: str
    write_forces: bool
    progress: bool
    momenta: Any
    summary_extra: dict | None
    wall0: float  # time.perf_counter() when run_md was called


def _run_md(s: _Setup, cfg: MDConfig, opts: _Options):
    """:func:`run_md` once its inputs are checked and its folder is locked."""
    writes = opts.out is not None and is_main_process()  # a multi-process run's files are process 0's
    run = _Run(cfg, s, Path(opts.out) if writes else None, opts)
    kT = np.asarray([kelvin_to_kT(T) for T in run.temps])
    keys = _keys(cfg.seed, cfg.replicas)
    ckpt_file = None if opts.out is None else Path(opts.out) / ckpt.CHECKPOINT_FILE
    saver = _Checkpointer(ckpt_file if writes else None, cfg, s, opts.traj_format)
    state, step = _start(run, s, opts, kT, keys, ckpt_file)
    loop = _Loop(state, step, last_ckpt=step, first_step=step)
    bar = _progress(opts.progress and is_main_process(), cfg.steps, step)
    stop_reason = "completed"
    try:
        _run_chunks(loop, run, kT, saver, bar, start=not opts.restart)
    except KeyboardInterrupt:
        stop_reason = "interrupted"
        if loop.last_ckpt != loop.step:
            saver.save(run, loop.state, loop.step)
        raise
    except InputError:
        stop_reason = None  # nothing was run: no summary
        raise
    except Exception as exc:
        stop_reason = f"error: {type(exc).__name__}: {exc}"
        raise
    finally:
        stop_reason, summary = _finish(run, s, loop, stop_reason, bar, opts)
    return _result(loop, stop_reason, summary, run, s.R0s)


@dataclass
class _Setup:
    """What :func:`run_md` works out before it runs: species, start, masses, engine, dtype, safety distance.

    ``Zs`` and ``symbols`` hold one entry per replica (the same cluster's in a run of one);
    ``masses`` is (N,), or (R, N) with several clusters (``engine.systems``)."""

    Zs: list
    R0: np.ndarray  # (N, 3) start positions (of the largest cluster)
    R0s: np.ndarray  # (R, N, 3): the start of every replica (padded)
    masses: np.ndarray
    engine: Engine
    dtype: Any
    symbols: list
    fragment_distance: float
    model_id: str | None = None  # the model's identity, kept in checkpoints
    model_name: str | None = None


@dataclass
class _Loop:
    """Where the chunk loop of :func:`run_md` stands: the state, its step, this session's steps and run time."""

    state: Any
    step: int
    last_ckpt: int  # the step of the last checkpoint written
    first_step: int = 0  # the step this session started from (a restart's checkpoint step)
    steps_session: int = 0
    run_seconds: float = 0.0  # in the jitted chunks, compilation left out


@dataclass
class _Checkpointer:
    """Writes a run's checkpoint with what a restart checks (nothing when the run has no output folder)."""

    path: Path | None
    cfg: MDConfig
    setup: _Setup
    traj_format: str

    def save(self, run: _Run, state, step: int) -> None:
        """Checkpoint ``state`` at ``step`` with the run's book-keeping."""
        if distributed():  # every process takes part in gathering the state; process 0 writes it
            state = to_host(state)
        if self.path is not None:
            s = self.setup
            meta = run.meta(step, s.engine.capacity)
            meta.update(
                config=self.cfg.to_dict(),
                species=_species_meta(s),
                masses=s.masses.tolist(),
                dtype=str(s.dtype),
                traj_format=self.traj_format,
            )
            if s.model_id is not None:
                meta.update(model_id=s.model_id, model=s.model_name)
            ckpt.save_checkpoint(self.path, state, meta)


def _species_meta(s: _Setup) -> list:
    """The species a checkpoint keeps: one list (one cluster) or one per replica (several)."""
    if s.engine.systems is None:
        return [int(z) for z in s.Zs[0]]
    return [[int(z) for z in Z] for Z in s.Zs]


def _prepare(inputs: _Inputs, cfg: MDConfig, opts: _Options) -> _Setup:
    """Check the inputs and build the engine; a new run must start from one cluster (per replica)."""
    traj_format, restart, energy_fn = opts.traj_format, opts.restart, inputs.energy_fn
    if traj_format not in output.TRAJ_FORMATS:
        raise InputError(f"trajectory format must be one of {', '.join(output.TRAJ_FORMATS)}, got {traj_format!r}")
    atoms = inputs.atoms
    if isinstance(atoms, (list, tuple)):
        if len(atoms) != 1:
            return _prepare_several(inputs, list(atoms), cfg, restart)
        atoms = atoms[0]
    Z, R0 = _species_and_positions(atoms, energy_fn)
    n = len(Z)
    masses = _masses(atoms, inputs.masses, n)
    pot = MDPotential.wrap(energy_fn, n, inputs.pairs)
    cap0 = pot.initial_capacity(R0[None], inputs.capacity)  # every replica starts from R0
    # before anything is allocated for the replicas: refuse what cannot fit (stacklevel: run_md's caller)
    check_run_memory(pot, cap0, cfg, stacklevel=3)
    R0s = np.broadcast_to(R0, (cfg.replicas, n, 3))
    engine, dtype = _build_engine(pot, cap0, cfg, masses, inputs.devices)
    fragment_distance = _fragment_distance(cfg, pot, energy_fn)
    source = atoms.info.get("source")
    if engine.wall is not None and not restart:
        engine.wall.check_start(R0, masses, source)
    if not pot.members and (cfg.max_spread is not None or cfg.collect_above is not None):
        given = "max_spread" if cfg.max_spread is not None else "collect_above"
        raise InputError(f"[md] {given}: needs a committee (two or more models, --committee) to measure a spread")
    symbols = atoms.get_chemical_symbols()
    if not restart:
        _check_one_cluster(atoms, R0, symbols, fragment_distance)
    R = cfg.replicas
    return _Setup([Z] * R, R0, R0s, masses, engine, dtype, [symbols] * R, fragment_distance)


def _fragment_distance(cfg: MDConfig, pot: MDPotential, energy_fn) -> float:
    """The distance (Å) beyond which a group of atoms counts as lost (0: no check)."""
    if cfg.fragment_distance is not None:
        return cfg.fragment_distance
    if cfg.wall_radius is not None:
        return 0.0  # the wall keeps molecules near: a fragment is not a stop
    return pot.cutoff or (energy_fn.cutoff if isinstance(energy_fn, Potential) else 5.0)


def _prepare_several(inputs: _Inputs, clusters: list, cfg: MDConfig, restart: bool) -> _Setup:
    """:func:`_prepare` for several clusters as the replicas (:mod:`md.dynamics.systems`)."""
    energy_fn, capacity = inputs.energy_fn, inputs.capacity
    systems = Systems.of(clusters, cfg.replicas)
    check_mixed(systems, cfg, energy_fn)
    masses = systems.masses(inputs.masses)
    R0s = systems.positions()
    R0 = R0s[int(np.argmax(systems.n_atoms))]  # the largest: no padding
    pot = MDPotential.wrap(energy_fn, len(R0), inputs.pairs)
    # the memory estimate counts the pairs of the largest cluster; the list holds every cluster's
    check_run_memory(pot, pot.initial_capacity(R0[None], capacity), cfg, stacklevel=4)
    engine, dtype = _build_engine(pot, pot.initial_capacity(R0s, capacity), cfg, masses, inputs.devices, systems)
    fragment_distance = _fragment_distance(cfg, pot, energy_fn)
    if not restart:
        for k, a in enumerate(clusters):
            _check_one_cluster(a, np.asarray(a.positions, np.float64), a.get_chemical_symbols(), fragment_distance)
    Zs = [np.asarray(systems.clusters[k].get_atomic_numbers()) for k in systems.index]
    return _Setup(Zs, R0, R0s, masses, engine, dtype, systems.symbols, fragment_distance)


def _masses(atoms, masses, n: int) -> np.ndarray:
    """The masses (amu): ``masses`` or ASE's, checked to be ``n`` positive numbers."""
    masses = np.asarray(atoms.get_masses() if masses is None else masses, np.float64)
    if masses.shape != (n,) or not np.all(np.isfinite(masses)) or np.any(masses <= 0):
        raise InputError(f"masses must be {n} positive numbers (amu)")
    return masses


def _build_engine(pot: MDPotential, cap0: int | None, cfg: MDConfig, masses, devices=None, systems=None):
    """The :class:`Engine` of ``pot`` with a pair list of ``cap0``, and the run's dtype (that of the potential)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        dtype = pot.energy_dtype(cap0)
    return Engine(pot, cfg, masses, dtype, cap0, devices, systems), dtype


def _check_one_cluster(atoms, R0, symbols, fragment_distance) -> None:
    """Refuse a start structure of more than one cluster (not checked when ``fragment_distance`` is 0)."""
    if fragment_distance > 0:
        groups = fragments(R0, fragment_distance)
        if len(groups) > 1:
            where = atoms.info.get("source")
            raise InputError(
                f"{where + ': ' if where else ''}the start structure is not one cluster: "
                f"{formula(symbols, groups[1])} ({len(groups[1])} atoms) is more than {fragment_distance:g} Å "
                "from the rest (set fragment_distance, --fragment-distance, to 0 to simulate it anyway)"
            )


def _start(run: _Run, s: _Setup, opts: _Options, kT, keys, ckpt_path):
    """Make the output folder; the state to start from and its step (the checkpoint's on restart, else 0)."""
    if run.out is not None:
        run.out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        if opts.restart:
            return _resume(run, s, opts, kT, keys, ckpt_path)
        return _fresh(run, s, opts.momenta, kT, keys, ckpt_path), 0


def _resume(run: _Run, s: _Setup, opts: _Options, kT, keys, ckpt_path):
    """Load and check the checkpoint in ``opts.out``; rewind the book-keeping, thermo log and trajectories to its
    step."""
    out = opts.out
    if out is None:
        raise InputError("restart needs the output folder of the run to continue")
    template = s.engine.state_shape(s.R0s, kT, keys)
    state, meta = ckpt.load_checkpoint(ckpt_path, template)
    _check_restart(meta, run.cfg, s, opts.traj_format, ckpt_path)
    check_same_model(meta.get("model_id"), meta.get("model"), s.model_id, s.model_name, ckpt_path)
    step = int(meta["step"])
    run.restore(meta)
    if meta.get("capacity") is not None:
        s.engine.capacity = max(int(meta["capacity"]), s.engine.capacity or 0)
    if run.out is not None:  # process 0 of a multi-process run, or the only one
        output.truncate_thermo(out, step, run.columns)
        for w in run.writers + ([run.collector] if run.collector is not None else []):
            w.truncate_after(step)
    return state, step


def _fresh(run: _Run, s: _Setup, momenta, kT, keys, ckpt_path):
    """New states of all replicas (from ``momenta`` or Maxwell-Boltzmann); refuses a folder that holds a run."""
    cfg, out = run.cfg, run.out
    if out is not None and (ckpt_path.exists() or (Path(out) / output.THERMO_FILE).exists()):
        raise InputError(
            f"{out} already holds an MD run; continue it with restart (--restart) or choose another folder"
        )
    if momenta is not None:
        if s.engine.systems is not None:
            raise InputError("start velocities are for runs of one cluster (several were given)")
        momenta = np.broadcast_to(np.asarray(momenta, np.float64), (cfg.replicas, len(s.Zs[0]), 3))
    return s.engine.init(s.R0s, kT, keys, momenta)


def _advance(loop: _Loop, run: _Run, kT, n_rec: int, start: bool):
    """Run ``n_rec`` records from ``loop.state`` in one jitted call; add its time (less compiling) to ``loop``."""
    engine = run.engine
    compile_before = engine.compile_seconds
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        first_record = loop.step // run.cfg.log_every
        out_ = engine.run(loop.state, kT, run.active, n_rec, start=start, first_record=first_record, walker=run.walker)
        jax.block_until_ready(out_[0])
    loop.run_seconds += time.perf_counter() - t0 - (engine.compile_seconds - compile_before)
    return out_


def _run_chunks(loop: _Loop, run: _Run, kT, saver: _Checkpointer, bar, start: bool) -> None:
    """The step-0 record of a new run, then chunks until ``cfg.steps`` or every replica stopped, checkpointing."""
    cfg = run.cfg
    chunk_steps = run.engine.buffer * cfg.log_every
    if start:  # forces and the step-0 record of the new states, then a checkpoint at step 0
        loop.state, _, rec0 = _advance(loop, run, kT, 0, True)
        run.process(rec0, [0], run.active, first=True)
        saver.save(run, loop.state, 0)
    while loop.step < cfg.steps and run.active.any():
        n_steps = min(chunk_steps, cfg.steps - loop.step, cfg.checkpoint_every - loop.step % cfg.checkpoint_every)
        n_rec = n_steps // cfg.log_every
        active = run.active
        new_state, rec, _ = _advance(loop, run, kT, n_rec, False)
        run.process(rec, loop.step + cfg.log_every * np.arange(1, n_rec + 1), active)
        loop.state = new_state
        loop.step += n_steps
        loop.steps_session += n_steps
        if loop.step % cfg.checkpoint_every == 0 or loop.step >= cfg.steps or not run.active.any():
            saver.save(run, loop.state, loop.step)
            loop.last_ckpt = loop.step
        if bar is not None:
            bar.update(n_steps)
            if loop.run_seconds > 0:
                bar.set_postfix_str(_postfix(run, loop.steps_session / loop.run_seconds, cfg.dt))


def _finish(run: _Run, s: _Setup, loop: _Loop, stop_reason, bar, opts: _Options):
    """Close the bar, settle the stop reason and summary; write final frames, summary and
    ``energies.png`` (:func:`painnjax.io.plots.md_energies`) unless nothing ran."""
    if bar is not None:
        bar.close()
    stop_reason = _final_stop_reason(run, stop_reason, loop.step, run.cfg.steps)
    summary = _summary(run, s, loop, stop_reason, opts)
    if run.out is not None and stop_reason is not None:
        for r, good in enumerate(run.last_good):
            if good is not None:
                output.write_frame(Path(opts.out) / f"final_r{r:03d}.extxyz", run._atoms(r, good))
        output.write_summary(opts.out, summary)
        if (Path(opts.out) / output.THERMO_FILE).exists():
            title = f"{summary['formula']}, {summary['ensemble']}, {summary['replicas']} replica(s)"
            md_energies(output.read_thermo(opts.out), Path(opts.out) / "energies.png", title=title)
    return stop_reason, summary


def _final_stop_reason(run: _Run, stop_reason, step: int, steps: int):
    """Mark replicas that reached ``steps`` completed; a "completed" run with none completed ends by safety."""
    if stop_reason == "completed" and step >= steps:
        for st in run.status:
            if st["status"] == "running":
                st["status"] = "completed"
    if stop_reason == "completed" and not any(st["status"] == "completed" for st in run.status):
        kinds = sorted({s.get("stop_reason", "?") for s in run.status})
        stop_reason = "safety: " + ", ".join(kinds)
    return stop_reason


def _steps_reached(run: _Run, step: int) -> int:
    """The last step the run has a good record of: ``step`` (where the chunks got to) when a replica
    is not stopped, else the latest last good step of the stopped ones (a stop mid-chunk does not
    count the rest of the chunk, which was computed but thrown away)."""
    reached = [step if st["status"] != "stopped" else int(st.get("last_good_step", 0)) for st in run.status]
    return max(reached, default=step)


def _result(loop: _Loop, stop_reason, summary, run: _Run, R0s) -> MDResult:
    """The :class:`MDResult`: each replica's last good frame (the start where none), records, final state.

    Several clusters of different sizes: ``positions`` and ``velocities`` are lists of (N_r, 3)."""
    starts = [R0s[r, :n] for r, n in enumerate(run.n)]
    positions = [g["position"] if g is not None else R for g, R in zip(run.last_good, starts)]
    velocities = [g["velocity"] if g is not None else np.zeros_like(R) for g, R in zip(run.last_good, starts)]
    if len(set(run.n)) == 1:
        positions, velocities = np.stack(positions), np.stack(velocities)
    thermo = {c: np.asarray(v) for c, v in run.rows.items()}
    return MDResult(
        _steps_reached(run, loop.step),
        stop_reason,
        summary,
        positions,
        velocities,
        thermo,
        to_host(loop.state),
        run.messages,
    )


def _progress(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", desc="md", dynamic_ncols=True)


def _postfix(run: _Run, steps_per_second: float, dt_fs: float) -> str:
    temps = [g["temperature"] for g, a in zip(run.last_good, run.active) if g is not None and a]
    T = f", T {np.mean(temps):.0f} K" if temps else ""
    return f"{ns_per_day(steps_per_second, dt_fs):.3g} ns/day{T}"


def _summary(run: _Run, s: _Setup, loop: _Loop, stop_reason, opts: _Options) -> dict:
    """The contents of ``summary.json``: the run's settings, where it got to, its speed and each replica's status."""
    wall_seconds = time.perf_counter() - opts.wall0
    cfg, engine, dtype, Zs, symbols = run.cfg, s.engine, s.dtype, s.Zs, s.symbols
    step, steps_session, run_seconds = _steps_reached(run, loop.step), loop.steps_session, loop.run_seconds
    restarted_from = loop.first_step if opts.restart else None
    extra = opts.summary_extra
    sps = steps_session / run_seconds if run_seconds > 0 else None
    mean_T = [float(s / k) if k else None for s, k in zip(run.sum_T, run.n_T)]
    total = int(run.n_T.sum())
    formulas = [formula(sym, np.arange(len(sym))) for sym in symbols]
    summary = {
        "ensemble": cfg.ensemble,
        "formula": ", ".join(dict.fromkeys(formulas)),  # several clusters: each once, in order
        "n_atoms": max(len(Z) for Z in Zs),
        "replicas": cfg.replicas,
        "temperatures_K": run.temps.tolist(),
        "dt_fs": cfg.dt,
        "dtype": str(dtype),
        "device": jax.devices()[0].platform,
        "devices": engine.n_devices,
        "processes": jax.process_count(),
        "steps_target": cfg.steps,
        "steps_done": int(step),
        "time_ps": step * cfg.dt / 1000.0,
        "stop_reason": stop_reason,
        "stop_messages": list(run.messages),
        "steps_per_second": sps,
        "replica_steps_per_second": None if sps is None else sps * cfg.replicas,
        "ns_per_day": None if sps is None else ns_per_day(sps, cfg.dt),
        "compile_seconds": engine.compile_seconds,
        "run_seconds": run_seconds,
        "wall_seconds": wall_seconds,
        "steps_this_session": int(steps_session),
        "restarted_from_step": restarted_from,
        "mean_temperature_K": float(run.sum_T.sum() / total) if total else None,
        "mean_temperature_K_per_replica": mean_T,
        "temperature_dof": engine.dof if engine.systems is None else engine.dofs.tolist(),
        "pair_capacity": engine.capacity,
        "pair_reallocations": engine.reallocations,
        "replica_status": run.status,
        "config": cfg.to_dict(),
    }
    if engine.systems is not None:
        systems = engine.systems
        summary["clusters"] = [
            {"formula": f, "n_atoms": len(a), "replicas": np.flatnonzero(systems.index == k).tolist()}
            for k, (f, a) in enumerate(zip(systems.cluster_formulas, systems.clusters))
        ]
    if engine.wall is not None:
        summary["wall"] = {"radius_A": engine.wall.radius, "k_eV_A2": engine.wall.k}
    if engine.potential.members:
        summary["committee"] = {
            "members": len(engine.potential.members),
            "max_force_spread_eV_A_per_replica": [float(x) for x in run.max_spread_seen],
            "collected_frames": run.n_collected,
        }
    if cfg.exchange_every:
        att, acc = run.x_attempts, run.x_accepts
        summary["exchange_attempts"] = att.tolist()
        summary["exchange_acceptance"] = [float(a / n) if n else None for a, n in zip(acc, att)]
        summary["walker_at_temperature"] = run.walker.tolist()
    if extra:
        summary.update(extra)
    return summary
