"""Structures and the potential for them, as every md driver reads them.

:func:`read_structure` reads a file (its last frame) or a bundled structure name such as
``SA7AM7``; :func:`build_potential` makes the painnjax potential for it with element errors
naming the file; :func:`precision` switches float64 on for one run only.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import jax
import jax.numpy as jnp

from painnjax.errors import InputError
from painnjax.validate import check_free_cluster, check_positions, format_hint, free_cluster

DTYPES = ("float32", "float64")


def read_structure(path_or_name, *, ignore_cell: bool = False):
    """An ``ase.Atoms`` from a file (its last frame) or a bundled structure name; ``info["source"]`` names it.

    A periodic frame is an :class:`InputError` (the models are for free clusters) unless
    ``ignore_cell``, which drops its cell and pbc (:func:`painnjax.validate.free_cluster`).
    """
    from ase.io import read

    from painnjax.data import bundled_structure, bundled_structures

    p = Path(path_or_name)
    where = str(path_or_name)
    if p.is_file():
        where = f"{p}, last frame"
        try:
            atoms = read(p)
        except Exception as exc:  # noqa: BLE001 - ASE raises many kinds for a bad file
            raise InputError(
                f"{p}: cannot read a structure from this file ({type(exc).__name__}: {exc}){format_hint(p)}"
            ) from None
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
    return free_cluster(atoms, where, ignore_cell=ignore_cell)


def build_potential(model, atoms, dtype: str = "float32", neighbor: str = "auto"):
    """The painnjax potential for ``atoms`` (sized to its pairs); element errors name the file.

    A list of models gives their committee mean (:func:`painnjax.potential.mean_potential`).
    ``neighbor``: the pair layout (:func:`painnjax.potential`)."""
    from painnjax.potential import mean_potential, potential

    source = atoms.info.get("source")
    check_free_cluster(atoms, source)
    check_positions(atoms.positions, len(atoms), source=source, symbols=atoms.get_chemical_symbols())
    kwargs = dict(reference_positions=atoms.positions, dtype=jnp.dtype(dtype), neighbor=neighbor)
    try:
        if isinstance(model, (list, tuple)):
            return mean_potential(model, atoms, **kwargs)
        return potential(model, atoms, **kwargs)
    except InputError as exc:
        raise InputError(f"{source}: {exc}" if source else str(exc)) from None


@contextlib.contextmanager
def precision(dtype: str):
    """float64 needs JAX's x64 mode: switched on for the run only, never globally."""
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    with jax.enable_x64(dtype == "float64"):
        yield
