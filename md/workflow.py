"""MD and minimisation from files: what ``painnjax md`` and ``painnjax optimize`` call.

Both read a model (a file or a bundled model name) and a structure (any ASE-readable file,
its last frame, or a bundled structure name such as ``SA7AM7``), check them, and call
:func:`md.simulate.run_md` or :func:`md.fire.minimize`. Problems with the inputs are
:class:`~painnjax.errors.InputError` naming the file.

Example:
    >>> from md import MDConfig, run_md_file
    >>> result = run_md_file("model.painn", "SA7AM7", MDConfig(steps=2000), "run1")   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import jax
import jax.numpy as jnp

from md.config import MDConfig
from painnjax.errors import InputError
from painnjax.validate import check_positions

DTYPES = ("float32", "float64")


def read_structure(path_or_name):
    """An ``ase.Atoms`` from a file (its last frame) or a bundled structure name; ``info["source"]`` names it."""
    from ase.io import read

    from painnjax.data import bundled_structure, bundled_structures

    p = Path(path_or_name)
    if p.is_file():
        try:
            atoms = read(p)
        except Exception as exc:  # noqa: BLE001 - ASE raises many kinds for a bad file
            raise InputError(f"{p}: cannot read a structure from this file ({type(exc).__name__}: {exc})") from None
        if isinstance(atoms, list):  # pragma: no cover - read() without index gives one frame
            atoms = atoms[-1]
    elif p.exists():
        raise InputError(f"{p}: is not a file")
    elif re.fullmatch(r"SA\d+AM\d+", str(path_or_name)) and str(path_or_name) in bundled_structures():
        atoms = bundled_structure(str(path_or_name))
    else:
        raise InputError(f"{path_or_name}: no such file (bundled structures: {', '.join(bundled_structures())})")
    if len(atoms) == 0:
        raise InputError(f"{path_or_name}: the file holds no atoms")
    atoms.info["source"] = str(path_or_name)
    atoms.pbc = False
    return atoms


def build_potential(model, atoms, dtype: str = "float32"):
    """The painnjax potential for ``atoms`` (sized to its pairs); element errors name the file."""
    from painnjax.potential import potential

    source = atoms.info.get("source")
    check_positions(atoms.positions, len(atoms), source=source, symbols=atoms.get_chemical_symbols())
    try:
        return potential(model, atoms, reference_positions=atoms.positions, dtype=jnp.dtype(dtype))
    except InputError as exc:
        raise InputError(f"{source}: {exc}" if source else str(exc)) from None


@contextlib.contextmanager
def precision(dtype: str):
    """float64 needs JAX's x64 mode: switched on for the run only, never globally."""
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    with jax.enable_x64(dtype == "float64"):
        yield


def run_md_file(model, start, config: MDConfig, out, *, restart: bool = False, dtype: str = "float32",
                traj_format: str = "traj", write_forces: bool = False, progress: bool = True,
                velocities_from_file: bool = False):
    """:func:`md.simulate.run_md` for a model file and a start structure file; results in ``out``."""
    from md.simulate import run_md
    from painnjax.modelfile import load_model

    config.check()
    with precision(dtype):
        m = load_model(model)
        atoms = read_structure(start)
        energy_fn = build_potential(m, atoms, dtype)
        momenta = None
        if velocities_from_file:
            if not atoms.has("momenta"):
                raise InputError(f"{start}: the file holds no velocities (momenta)")
            momenta = atoms.get_momenta()
        extra = {"model": str(model) if not hasattr(model, "config") else "(in memory)", "start": str(start)}
        return run_md(energy_fn, atoms, config, out=out, restart=restart, traj_format=traj_format,
                      write_forces=write_forces, progress=progress, momenta=momenta, summary_extra=extra)


def optimize_file(model, inp, out, *, fmax: float = 0.01, max_steps: int = 1000, dtype: str = "float32"):
    """FIRE-minimise the structure in ``inp`` and write it (with energy and forces) to ``out``."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    from md.fire import minimize
    from painnjax.modelfile import load_model

    with precision(dtype):
        m = load_model(model)
        atoms = read_structure(inp)
        energy_fn = build_potential(m, atoms, dtype)
        res = minimize(energy_fn, atoms, fmax=fmax, max_steps=max_steps)
    result = atoms.copy()
    result.positions = res.positions
    result.calc = SinglePointCalculator(result, energy=res.energy, forces=res.forces)
    result.info.update(fmax=res.fmax, converged=res.converged, steps=res.steps)
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

