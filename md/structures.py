"""Structures as every md driver reads them.

:func:`read_structure` reads a file (its last frame) or a bundled structure name such as
``SA7AM7``, with a periodic frame refused unless its cell is to be ignored. The potential for
it and the precision of a run: :mod:`md.forces.build`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ase.io import read

from painnjax.data import bundled_structure, bundled_structures
from painnjax.errors import InputError
from painnjax.validate import format_hint, free_cluster


def read_structure(path_or_name, *, ignore_cell: bool = False):
    """An ``ase.Atoms`` from a file (its last frame) or a bundled structure name; ``info["source"]`` names it.

    A periodic frame is an :class:`InputError` (the models are for free clusters) unless
    ``ignore_cell``, which drops its cell and pbc (:func:`painnjax.validate.free_cluster`).
    """
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
