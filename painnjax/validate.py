"""Eager checks of structures before they reach jitted code (which cannot raise).

Elements and positions; the one rule for periodic input (:func:`check_free_cluster`,
:func:`free_cluster`) that every reader and entry point applies; and what to say about a file
ASE cannot read because it took it for another format (:func:`format_hint`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase.data import atomic_numbers as _symbol_to_z
from ase.data import chemical_symbols

from painnjax.errors import InputError

MIN_DISTANCE = 0.1  # Å; closer atoms are a broken structure, not chemistry


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def as_atomic_numbers(species, source: str | None = None) -> np.ndarray:
    """Atomic numbers (N,) int32 from numbers, symbols or an ``ase.Atoms``."""
    if hasattr(species, "get_atomic_numbers"):
        species = species.get_atomic_numbers()
    arr = np.asarray(species)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{_where(source)}species must be a non-empty 1-D sequence, got shape {arr.shape}")
    if arr.dtype.kind in "US":
        out = []
        for k, s in enumerate(arr):
            z = _symbol_to_z.get(str(s))
            if z is None or z == 0:
                raise InputError(f"{_where(source)}atom {k}: unknown element symbol {str(s)!r}")
            out.append(z)
        return np.asarray(out, np.int32)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise InputError(f"{_where(source)}species must be atomic numbers or symbols, got dtype {arr.dtype}")
    return arr.astype(np.int32)


def check_species(Z: np.ndarray, elements: Sequence[int] | None, max_z: int, source: str | None = None) -> None:
    """Every atomic number must be one the model knows."""
    known = set(int(z) for z in elements) if elements is not None else None
    for k, z in enumerate(np.asarray(Z).tolist()):
        ok = 1 <= z < max_z and (known is None or z in known)
        if not ok:
            sym = chemical_symbols[z] if 0 <= z < len(chemical_symbols) else "?"
            knows = (
                ", ".join(chemical_symbols[e] for e in sorted(known)) if known is not None else f"Z = 1..{max_z - 1}"
            )
            raise InputError(
                f"{_where(source)}atom {k}: element {sym} (Z={z}) is not known to this model (it knows {knows})"
            )


def check_positions(R, n_atoms: int, source: str | None = None, symbols: Sequence[str] | None = None) -> np.ndarray:
    """Positions must be (N, 3), finite, and no two atoms closer than 0.1 Å."""
    R = np.asarray(R)
    if R.shape != (n_atoms, 3):
        raise InputError(
            f"{_where(source)}positions must have shape ({n_atoms}, 3) to match the species, got {R.shape}"
        )
    bad = ~np.isfinite(R).all(axis=1)
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError(f"{_where(source)}atom {k}: position is not finite ({R[k].tolist()})")
    if n_atoms > 1:
        from scipy.spatial.distance import pdist

        dist = pdist(R)  # condensed: pairs (0,1), (0,2), ..., (1,2), ...
        k = int(np.argmin(dist))
        d = float(dist[k])
        if d < MIN_DISTANCE:
            i = int(np.searchsorted(np.cumsum(np.arange(n_atoms - 1, 0, -1)), k, side="right"))
            j = int(k - (i * (2 * n_atoms - i - 1)) // 2 + i + 1)
            name = (lambda a: f"{a} ({symbols[a]})") if symbols is not None else str
            raise InputError(
                f"{_where(source)}atoms {name(i)} and {name(j)} overlap: distance {d:.3g} Å < {MIN_DISTANCE} Å"
            )
    return R


# --------------------------------------------------------------------------------------------
# Periodic input: one rule for every entry point


def check_free_cluster(atoms, source: str | None = None, *, ignore_cell: bool = False) -> None:
    """The one rule for periodic input, applied by every reader and entry point: the models are
    for free clusters, so a frame with any periodic direction (``atoms.pbc``) is an
    :class:`InputError` naming ``source`` (file and frame) and saying how to clear it -- unless
    ``ignore_cell``, with which the caller treats the frame as a free cluster (cell and pbc
    dropped, see :func:`free_cluster`). A cell without pbc is allowed: nothing uses it.
    """
    pbc = np.asarray(getattr(atoms, "pbc", False), bool).reshape(-1)
    if ignore_cell or not pbc.any():
        return
    cell = getattr(atoms, "cell", None)
    if cell is not None and abs(cell.volume) > 1e-6:
        shape = " x ".join(f"{x:.4g}" for x in cell.lengths()) + " Å"
    else:
        shape = "no cell"
    flags = " ".join("T" if p else "F" for p in pbc)
    raise InputError(
        f"{_where(source)}periodic boundary conditions are not supported (pbc {flags}, {shape}): the models are "
        f"for free clusters. If this is a cluster, clear them (atoms.pbc = False; in an extxyz file "
        f'pbc="F F F" or no Lattice=), or pass --ignore-cell (ignore_cell=True) to drop the cell and pbc and '
        f"treat the frame as a free cluster"
    )


def free_cluster(atoms, source: str | None = None, *, ignore_cell: bool = False):
    """``atoms`` after :func:`check_free_cluster`; with ``ignore_cell`` its cell and pbc are
    dropped (in place), so that everything downstream -- the model, xTB, the files written --
    sees a free cluster. Returns ``atoms``."""
    check_free_cluster(atoms, source, ignore_cell=ignore_cell)
    if ignore_cell:
        atoms.pbc = False
        atoms.set_cell(np.zeros((3, 3)))
    return atoms


# --------------------------------------------------------------------------------------------
# Files ASE cannot read


def format_hint(path, format: str | None = None, *, takes_format: bool = False) -> str:
    """What to add to "cannot read ``path``": the format ASE took the file for (from its name
    unless ``format`` was given) and how to name the right one (``takes_format``: the reader
    has a ``format=`` argument). E.g. an xyz file named ``.dat`` is taken for a GAMESS punch file."""
    from pathlib import Path

    path = Path(path)
    if format is not None:
        return f"; read as format {format!r}: is that the file's format?"
    try:
        from ase.io.formats import filetype

        format = filetype(str(path), guess=True)
    except Exception:  # noqa: BLE001 - ASE raises several kinds for a file it does not know
        format = None
    fix = "name the file by its format (.xyz, .extxyz, .traj, ...)"
    try:
        with open(path, "rb") as f:
            if f.readline(100).strip().isdigit():  # an atom count
                fix = "it looks like an xyz file: name it .xyz or .extxyz"
    except OSError:
        pass
    if takes_format:
        fix += ", or pass format= (e.g. format='extxyz')"
    if format is None:
        return f"; ASE does not know its format: {fix}"
    took = f"ASE took it for format {format!r}" + (f" (from its name, {path.suffix})" if path.suffix else "")
    return f"; {took}: if that is not its format, {fix}"
