"""MD and minimisation from files: what ``painnjax md`` and ``painnjax optimize`` call.

Both read a model (a file or a bundled model name) and a structure (any ASE-readable file,
its last frame, or a bundled structure name such as ``SA7AM7``; a periodic frame is an error
unless ``ignore_cell``), check them, and call
:func:`md.dynamics.simulate.run_md` or :func:`md.optimize.fire.minimize`. Problems with the inputs are
:class:`~painnjax.errors.InputError` naming the file.

Example:
    >>> from md import MDConfig, run_md_file
    >>> result = run_md_file("model.painn", "SA7AM7", MDConfig(steps=2000), "run1")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from md.dynamics.config import MDConfig
from md.dynamics.simulate import run_md
from md.forces.build import build_potential, precision
from md.optimize.fire import minimize
from md.structures import read_structure
from painnjax.errors import InputError
from painnjax.io.modelfile import load_model, model_identity


def run_md_file(
    model,
    start,
    config: MDConfig,
    out,
    *,
    restart: bool = False,
    dtype: str = "float32",
    traj_format: str = "traj",
    write_forces: bool = False,
    progress: bool = True,
    velocities_from_file: bool = False,
    ignore_cell: bool = False,
    committee=None,
    devices: int | None = None,
    pairs: str = "auto",
):
    """:func:`md.dynamics.simulate.run_md` for a model file and a start structure file; results in ``out``.

    ``start`` may be a list of several files (or bundled names): replica ``r`` then runs the
    cluster of file ``r mod K``, all padded to the largest in one compiled run
    (:mod:`md.dynamics.systems`).

    ``ignore_cell``: a periodic start frame is run as a free cluster (else an error).
    ``committee``: more models (files or bundled names); the run follows the mean of ``model``
    and these, and records the committee's spreads. ``devices``: local devices for the replicas
    (None: all). ``pairs``: the potential's pair layout (``neighbor`` of
    :func:`painnjax.potential`)."""
    config.check()
    with precision(dtype):
        m = load_model(model)
        starts = list(start) if isinstance(start, (list, tuple)) else [start]
        clusters = [read_structure(f, ignore_cell=ignore_cell) for f in starts]
        if committee:
            m = [m] + [load_model(c) for c in committee]
        for a in clusters[1:]:  # every cluster's elements checked against the model, its file named
            build_potential(m, a, dtype, neighbor=pairs)
        largest = max(clusters, key=len)
        energy_fn = build_potential(m, largest, dtype, neighbor=pairs)
        atoms = clusters[0] if len(clusters) == 1 else clusters
        momenta = None
        if velocities_from_file and len(clusters) > 1:
            raise InputError("--velocities-from-file is for a run of one start structure")
        if velocities_from_file:
            if not atoms.has("momenta"):
                raise InputError(f"{start}: the file holds no velocities (momenta)")
            momenta = atoms.get_momenta()
        extra = {
            "model": str(model) if not hasattr(model, "config") else "(in memory)",
            "start": str(starts[0]) if len(starts) == 1 else [str(f) for f in starts],
        }
        extra["pairs"] = energy_fn.neighbor_mode  # the layout "auto" resolved to
        if committee:
            extra["committee_models"] = [str(c) if not hasattr(c, "config") else "(in memory)" for c in committee]
        return run_md(
            energy_fn,
            atoms,
            config,
            out=out,
            restart=restart,
            traj_format=traj_format,
            write_forces=write_forces,
            progress=progress,
            momenta=momenta,
            summary_extra=extra,
            model_id=model_identity(m),  # a restart with another model is refused
            model_name=extra["model"],
            devices=devices,
        )


def format_md_summary(summary: dict) -> str:
    """One line from an MD run's ``summary``: the system, how far it got, speed, mean temperature, why it stopped."""
    s = summary
    speed = (
        f"{s['steps_per_second']:.1f} steps/s ({s['ns_per_day']:.3g} ns/day)"
        if s["steps_per_second"]
        else "no steps run"
    )
    mean_T = f", mean T {s['mean_temperature_K']:.1f} K" if s["mean_temperature_K"] is not None else ""
    system = f"{s['formula']} ({s['n_atoms']} atoms)"
    if s.get("clusters"):
        system = f"{len(s['clusters'])} clusters ({s['formula']}; up to {s['n_atoms']} atoms)"
    return (
        f"{system}, {s['ensemble']}, {s['replicas']} replica(s): step "
        f"{s['steps_done']} of {s['steps_target']} ({s['time_ps']:g} ps), {speed}, compile "
        f"{s['compile_seconds']:.1f} s{mean_T}; stop reason: {s['stop_reason']}"
    )


def optimize_file(
    model,
    inp,
    out,
    *,
    fmax: float = 0.01,
    max_steps: int = 1000,
    dtype: str = "float32",
    ignore_cell: bool = False,
    settle=None,
):
    """FIRE-minimise the structure in ``inp`` and write it (with energy and forces) to ``out``;
    ``ignore_cell``: a periodic frame is minimised as a free cluster (else an error).

    ``settle``: a check of the minimum by its Hessian, ``settle(model, atoms, fmax=, max_steps=)
    -> (positions, record)`` (:func:`md.analysis.settle.settle_model_minimum`, passed in by the
    layer above: ``painnjax optimize --check-minimum``, the demo). When FIRE has converged and the
    check moved the structure off a saddle, FIRE runs again from there in ``dtype`` (energy and
    forces of the file in one precision); the record is the result's ``settled``, and the
    file's ``info`` gets ``settle_rounds`` (steps off a saddle) and ``is_minimum``."""
    with precision(dtype):
        m = load_model(model)
        atoms = read_structure(inp, ignore_cell=ignore_cell)
        energy_fn = build_potential(m, atoms, dtype)
        res = minimize(energy_fn, atoms, fmax=fmax, max_steps=max_steps)
    record = None
    if settle is not None and res.converged:
        minimum = atoms.copy()
        minimum.positions = res.positions
        positions, record = settle(m, minimum, fmax=fmax, max_steps=max_steps)
        if record["moved"]:
            minimum.positions = positions
            with precision(dtype):
                again = minimize(energy_fn, minimum, fmax=fmax, max_steps=max_steps)
            again.steps += res.steps
            again.compile_seconds += res.compile_seconds
            again.seconds += res.seconds
            res = again
        res.settled = record
    result = atoms.copy()
    result.positions = res.positions
    result.calc = SinglePointCalculator(result, energy=res.energy, forces=res.forces)
    result.info.update(fmax=res.fmax, converged=res.converged, steps=res.steps)
    if record is not None:
        result.info.update(settle_rounds=len(record["rounds"]), is_minimum=bool(record["is_minimum"]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    try:
        write(tmp, result)
    except Exception as exc:  # noqa: BLE001 - unknown extension and friends
        if tmp.exists():
            tmp.unlink()
        raise InputError(f"{out}: cannot write the structure ({exc})") from None
    os.replace(tmp, out)
    return res
