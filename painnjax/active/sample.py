"""Configurations to label: frames from NN MD (one model or a committee mean) or from xTB MD through ASE.

:func:`sample_md` runs :func:`md.dynamics.simulate.run_md` (any ensemble, replicas, one temperature
per replica) with one model or with the mean of a committee, in a work folder (checkpointed,
so an interrupted sampling continues with ``restart=True``), and writes every ``every``-th
frame after ``equilibrate`` steps of every replica to one extxyz file, positions only, ready
for ``painnjax label``. A replica stopped by a safety check (blow-up, runaway temperature, a
molecule leaving) keeps its frames up to the stop: where a poorly trained model goes wrong is
where new labels help most.

:func:`sample_xtb` does the same with ASE's Langevin MD on tblite's xTB (slow: seconds per
step on a CPU for clusters of tens of atoms; for small systems or seeds).

Every frame's ``info``: ``composition``, ``temperature_K``, ``replica``, ``step``, ``time_fs``,
``sampled_by`` (the model(s) or xTB method) and ``source`` (the start structure).

Example:
    >>> from md import MDConfig
    >>> n = sample_md(["m1.painn", "m2.painn"], "SA2AM2", "pool.extxyz",
    ...               MDConfig(temperature=[300, 400], steps=4000), every=40)   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.constraints import FixCom
from ase.io import read
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from tqdm.auto import tqdm

from md.dynamics.output import trajectory_path
from md.dynamics.simulate import run_md
from md.forces.build import build_potential, precision
from md.structures import read_structure
from painnjax.active.label import check_method, tblite_calculator_class
from painnjax.data.composition import composition_of
from painnjax.errors import InputError
from painnjax.io.files import lock_run_folder, write_extxyz_atomic
from painnjax.io.modelfile import load_model, model_identity


def _bare(atoms, **info):
    """Positions and species only (no energies, no velocities), with the sampling info."""
    bare = Atoms(numbers=atoms.numbers, positions=atoms.positions)
    bare.info.update(composition=composition_of(atoms.numbers) or atoms.get_chemical_formula(mode="hill"), **info)
    return bare


def sampling_intervals(every: int, log_every: int = 10, checkpoint_every: int = 1000) -> dict:
    """MD output intervals for frames every ``every`` steps: ``traj_every = every``, and the
    thermo and checkpoint intervals moved to multiples of the record interval that divide it."""
    log_every = log_every if every % log_every == 0 else every
    return {
        "traj_every": every,
        "log_every": log_every,
        "checkpoint_every": max(log_every, checkpoint_every // log_every * log_every),
    }


def sample_md(
    models,
    start,
    out,
    config,
    *,
    every: int = 20,
    equilibrate: int = 0,
    workdir=None,
    restart: bool = False,
    dtype: str = "float32",
    progress: bool = True,
    ignore_cell: bool = False,
) -> int:
    """NN MD from ``start`` with one model or the mean of several; every ``every``-th frame to ``out``.

    Args:
        models: a model (file, bundled name, ``Model``) or a list of them (their mean drives MD).
        start: a structure file (its last frame) or a bundled name.
        out: the extxyz file to write (replaced).
        config: an :class:`md.MDConfig` (ensemble, temperatures, replicas, steps, dt);
            its ``traj_every`` is set to ``every``.
        every: steps between sampled frames. equilibrate: steps left out at the start.
        workdir: where the MD runs (default: ``OUT`` without suffix + ``_md``); locked for the
            call (a second sampling into it at the same time is refused).
        restart: continue the MD in ``workdir``; refused when its checkpoint was written with
            other models.
        ignore_cell: a periodic start frame is run as a free cluster (else an error).
    Returns the number of frames written.
    """
    if not (isinstance(every, int) and every >= 1):
        raise InputError(f"every must be an integer >= 1 (steps), got {every!r}")
    if not (isinstance(equilibrate, int) and 0 <= equilibrate < config.steps):
        raise InputError(f"equilibrate must be an integer in [0, steps) = [0, {config.steps}), got {equilibrate!r}")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    cfg = dataclasses.replace(config, **sampling_intervals(every, config.log_every, config.checkpoint_every))
    out = Path(out)
    workdir = Path(workdir) if workdir is not None else out.with_name(out.stem + "_md")
    names = [str(m) if not hasattr(m, "config") else "(model in memory)" for m in models]
    with precision(dtype):
        # a bad start or model fails here, before the work folder is made
        atoms = read_structure(start, ignore_cell=ignore_cell)
        models = [load_model(m) for m in models]
    with lock_run_folder(workdir, "sampling MD"):  # for the MD and the frames it gives
        return _sample_md(models, names, atoms, start, out, cfg, workdir, equilibrate, restart, dtype, progress)


def _sample_md(models, names, atoms, start, out: Path, cfg, workdir: Path, equilibrate, restart, dtype, progress):
    """:func:`sample_md` once its inputs are read and its work folder is locked."""
    label = "mean of " + ", ".join(names) if len(names) > 1 else names[0]
    with precision(dtype):
        energy_fn = build_potential(models, atoms, dtype)  # the committee mean; warns outside the models' domain
        run_md(
            energy_fn,
            atoms,
            cfg,
            out=workdir,
            restart=restart,
            progress=progress,
            summary_extra={"models": names, "start": str(start)},
            model_id=model_identity(models),  # a restart with other models is refused
            model_name=label,
        )
    frames = []
    for r in range(cfg.replicas):
        path = trajectory_path(workdir, r, "traj")
        if not path.exists():
            continue
        for a in read(path, index=":"):
            step = int(a.info.get("step", 0))
            if step < max(equilibrate, 1):  # the start structure itself is not a sample
                continue
            frames.append(
                _bare(
                    a,
                    temperature_K=float(a.info.get("temperature_K", np.nan)),
                    replica=r,
                    step=step,
                    time_fs=float(a.info.get("time_fs", np.nan)),
                    sampled_by=label,
                    source=str(start),
                )
            )
    if not frames:
        raise InputError(f"the MD in {workdir} gave no frames after {equilibrate} steps; run longer")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_extxyz_atomic(out, frames)
    return len(frames)


def sample_xtb(
    start,
    out,
    *,
    method: str = "GFN1-xTB",
    temperature: float = 300.0,
    steps: int = 1000,
    every: int = 20,
    dt: float = 1.0,
    friction: float = 0.02,
    seed: int = 0,
    equilibrate: int = 0,
    progress: bool = True,
    ignore_cell: bool = False,
) -> int:
    """Langevin MD at xTB (tblite through ASE) from ``start``; every ``every``-th step to ``out``.

    ``dt`` in fs, ``friction`` in 1/fs (the shared data set's settings: 1 fs, 0.02 fs⁻¹).
    ``ignore_cell``: a periodic start frame is run as a free cluster (else an error).
    Returns the number of frames written.
    """
    for name, value in (("temperature", temperature), ("dt", dt), ("friction", friction)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    if not (isinstance(steps, int) and steps >= 1 and isinstance(every, int) and every >= 1):
        raise InputError(f"steps and every must be integers >= 1, got {steps!r} and {every!r}")
    atoms = read_structure(start, ignore_cell=ignore_cell)
    atoms.calc = tblite_calculator_class()(method=check_method(method), verbosity=0)
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    atoms.set_constraint(FixCom())  # ASE's advice over Langevin(fixcm=True), which samples NVT only roughly
    dyn = Langevin(
        atoms, timestep=dt * units.fs, temperature_K=temperature, friction=friction / units.fs, fixcm=False, rng=rng
    )
    frames = []
    bar = None
    if progress:
        bar = tqdm(total=steps, unit="step", desc=f"{method} MD", dynamic_ncols=True)
    try:
        for step in range(1, steps + 1):
            dyn.run(1)
            if bar is not None:
                bar.update(1)
            if step % every == 0 and step >= equilibrate:
                frames.append(
                    _bare(
                        atoms,
                        temperature_K=float(temperature),
                        replica=0,
                        step=step,
                        time_fs=step * dt,
                        sampled_by=method,
                        source=str(start),
                    )
                )
    finally:
        if bar is not None:
            bar.close()
    if not frames:
        raise InputError(
            f"no frames sampled: steps ({steps}) must reach every ({every}) past equilibrate ({equilibrate})"
        )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_extxyz_atomic(out, frames)
    return len(frames)
