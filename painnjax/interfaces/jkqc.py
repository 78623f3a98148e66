"""JKQC databases in: the pandas pickles of Kubečka's JKCS/JKQC (and the published ACDB data) as extxyz.

A JKQC database is a pickled pandas DataFrame with two-level columns, one row per calculation:
``("xyz", "structure")`` an ASE Atoms (Å), ``("log", "electronic_energy")`` in Hartree,
``("extra", "forces")`` a list of per-atom force vectors, ``("log", "method")`` and
``("log", "program")`` the level of theory and program, ``("info", "file_basename")`` the
structure's name, ``("log", "charge")``/``("log", "multiplicity")``. JKQC's own readers store
forces in Hartree/Å: they divide Gaussian's forces and the negative of ORCA's gradients, both in
Hartree/Bohr, by 0.529177 Å/Bohr. :func:`convert_jkqc` writes eV and eV/Å.

Reading: a pickle calls what it names, so a crafted file can run any code. :func:`load_jkqc`
reads with an unpickler that allows only the pandas, numpy and ASE classes such a DataFrame
holds (:data:`ALLOWED`) and refuses any other by name; ``trust_pickle=True`` (the command
line's ``--trust-pickle``) reads a file you trust with ``pandas.read_pickle``. Needs pandas
(``pip install 'painnjax[jkqc]'``).

Example:
    >>> report = convert_jkqc("sa_am.pkl", "sa_am.extxyz")  # doctest: +SKIP
    >>> print(report.summary())                             # doctest: +SKIP
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from painnjax.data.dataset import _energy_factor, _forces_factor
from painnjax.errors import InputError
from painnjax.io.files import write_extxyz_atomic

INSTALL_HINT = "pip install 'painnjax[jkqc]'"
STRUCTURE = ("xyz", "structure")
ENERGY = ("log", "electronic_energy")
FORCES = ("extra", "forces")
#: JKQC's force unit (its readers: Hartree/Bohr divided by 0.529177 Å/Bohr)
JKQC_FORCES_UNIT = "Hartree/Angstrom"

_NUMPY = [
    (m, n)
    for core in ("numpy.core", "numpy._core")
    for m, n in (
        (f"{core}.multiarray", "_reconstruct"),
        (f"{core}.multiarray", "scalar"),
        (f"{core}.numeric", "_frombuffer"),
    )
]
#: the (module, name) globals a JKQC DataFrame pickle may name (pandas 1-3, numpy 1-2, ASE)
ALLOWED = frozenset(
    [
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        *_NUMPY,
        ("builtins", "slice"),
        ("copyreg", "_reconstructor"),
        ("_codecs", "encode"),
        ("pandas", "DataFrame"),
        ("pandas", "Index"),
        ("pandas", "MultiIndex"),
        ("pandas", "RangeIndex"),
        ("pandas", "StringDtype"),
        ("pandas.arrays", "StringArray"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.multi", "MultiIndex"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.indexes.numeric", "Int64Index"),
        ("pandas.core.indexes.numeric", "UInt64Index"),
        ("pandas.core.indexes.numeric", "Float64Index"),
        ("pandas.core.indexes.frozen", "FrozenList"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.internals.blocks", "new_block"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
        ("pandas.core.arrays.string_", "StringArray"),
        ("pandas.core.arrays.string_", "StringDtype"),
        ("ase.atoms", "Atoms"),
        ("ase.cell", "Cell"),
        ("ase.constraints", "FixAtoms"),
        ("ase.constraints.fix_atoms", "FixAtoms"),
        ("ase.calculators.calculator", "Parameters"),
        ("ase.calculators.singlepoint", "SinglePointCalculator"),
        ("ase.calculators.singlepoint", "SinglePointDFTCalculator"),
        ("builtins", "getattr"),  # only the bound method below (a pickled ASE calculator holds one)
    ]
)
#: attributes ``getattr`` may fetch while reading: the bound methods an ASE calculator's pickle holds
GETATTR_NAMES = frozenset({"_deprecated_get_spin_polarized"})


def _pandas():
    try:  # imported here: pandas is an optional extra (painnjax[jkqc])
        import pandas
    except ImportError as exc:
        raise InputError(
            f"reading JKQC databases needs pandas, which is not installed ({exc}); {INSTALL_HINT}"
        ) from None
    return pandas


class _Refused(pickle.UnpicklingError):
    """A global the file names that is not allowed (its message: the name)."""


def _safe_getattr(obj, name):
    from ase.calculators.calculator import BaseCalculator

    if not (isinstance(obj, BaseCalculator) and name in GETATTR_NAMES):
        raise _Refused(f"builtins.getattr({type(obj).__name__}, {name!r})")
    return getattr(obj, name)


def _restricted_unpickler(data):
    from pandas.compat.pickle_compat import Unpickler

    class RestrictedUnpickler(Unpickler):
        def find_class(self, module, name):
            if (module, name) not in ALLOWED:
                raise _Refused(f"{module}.{name}")
            if (module, name) == ("builtins", "getattr"):
                return _safe_getattr
            return super().find_class(module, name)

    return RestrictedUnpickler(data)


def _open(path: Path):
    head = path.open("rb").read(6)
    if head.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if head.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return path.open("rb")


def load_jkqc(path, trust_pickle: bool = False):
    """The DataFrame of the JKQC database ``path`` (gzip, bz2 or xz compressed or not).

    Without ``trust_pickle`` only the globals of :data:`ALLOWED` may be named; a file naming any
    other is an :class:`InputError` that names it. ``trust_pickle=True`` is ``pandas.read_pickle``:
    it runs whatever the file's pickle calls, so only for a file you made or whose source you trust.
    """
    pd = _pandas()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
    try:
        if trust_pickle:
            df = pd.read_pickle(path)
        else:
            with _open(path) as fh, warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2 reading numpy.core names
                df = _restricted_unpickler(io.BytesIO(fh.read())).load()
    except _Refused as exc:
        raise InputError(
            f"{path}: not loaded: the file names {exc}, which is not one of the pandas, numpy and ASE classes of "
            "a JKQC database, and reading a pickle calls what it names (a crafted file can run any code). If you "
            "made this file or trust its source, convert it with --trust-pickle (trust_pickle=True)"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        OSError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        KeyError,
        IndexError,
    ) as exc:
        raise InputError(f"{path}: cannot be read as a JKQC database ({type(exc).__name__}: {exc})") from None
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{path}: holds a {type(df).__name__}, not a JKQC DataFrame")
    return df


# --------------------------------------------------------------------------------------------
# Rows to frames


@dataclass
class JKQCReport:
    """What :func:`convert_jkqc` did: rows read, frames written, rows skipped (row, name, why)."""

    path: Path
    out: Path
    n_rows: int
    written: int = 0
    with_forces: int = 0
    skipped: list = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.path}: {self.written} of {self.n_rows} rows written to {self.out}"]
        parts.append(f"{self.with_forces} with forces" if self.with_forces else "energies only")
        if self.skipped:
            shown = ", ".join(f"{name or row} ({why})" for row, name, why in self.skipped[:5])
            more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            parts.append(f"{len(self.skipped)} skipped: {shown}{more}")
        return "; ".join(parts)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value) -> str | None:
    return None if _missing(value) else str(value)


def _column(text) -> tuple[str, str]:
    if isinstance(text, tuple):
        return text
    top, sep, sub = str(text).partition(":")
    if not sep:
        raise InputError(f"energy column {text!r}: give it as SECTION:NAME, e.g. log:electronic_energy")
    return top, sub


def jkqc_frames(
    df,
    *,
    source: str = "database",
    energy_column=ENERGY,
    energy_unit="Hartree",
    forces_unit=JKQC_FORCES_UNIT,
    level: str | None = None,
):
    """``(frames, skipped)``: an ``ase.Atoms`` with energy (eV) and forces (eV/Å) for each row that
    has a structure and an energy, and ``(row, name, reason)`` for each that has not.

    Each frame's info: ``name`` (``file_basename``), ``level`` (``level`` or the row's
    ``("log", "method")``), ``program``, ``charge`` and ``multiplicity`` where the row has them,
    and ``jkqc_row`` (the DataFrame's index label). A row with forces of the wrong shape or
    non-finite values is an :class:`InputError` naming it; a row without forces gets the energy only.
    """
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    energy_column = _column(energy_column)
    e_factor = _energy_factor(energy_unit)
    f_factor = _forces_factor(forces_unit, energy_unit)
    columns = set(df.columns)
    for col, what in ((STRUCTURE, "structures"), (energy_column, "energies")):
        if col not in columns:
            have = ", ".join(":".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in list(df.columns)[:20])
            raise InputError(f"{source}: no column {':'.join(col)} ({what}); its columns: {have}")

    def cell(row, col):
        return row[col] if col in columns else None

    frames, skipped = [], []
    for label, row in df.iterrows():
        name = _text(cell(row, ("info", "file_basename")))
        where = f"{source}, row {label}" + (f" ({name})" if name else "")
        structure, energy = row[STRUCTURE], row[energy_column]
        if not isinstance(structure, Atoms):
            skipped.append((label, name, "no structure"))
            continue
        try:
            energy = float(energy)
        except (TypeError, ValueError):
            raise InputError(f"{where}: energy {energy!r} is not a number") from None
        if not math.isfinite(energy):
            skipped.append((label, name, "no energy"))
            continue
        atoms = Atoms(numbers=structure.numbers, positions=structure.positions)
        results = {"energy": energy * e_factor}
        forces = cell(row, FORCES)
        if not _missing(forces):
            try:
                f = np.array([np.asarray(v, np.float64) for v in forces], np.float64)
            except (TypeError, ValueError):
                raise InputError(f"{where}: forces are not a list of 3-vectors") from None
            if f.shape != (len(atoms), 3):
                raise InputError(f"{where}: forces of shape {f.shape}, the structure has {len(atoms)} atoms")
            if not np.isfinite(f).all():
                raise InputError(f"{where}: non-finite forces")
            results["forces"] = f * f_factor
        info = {"jkqc_row": label if isinstance(label, (int, np.integer)) else str(label)}
        if name:
            info["name"] = name
        lvl = level or _text(cell(row, ("log", "method")))
        if lvl:
            info["level"] = lvl
        program = _text(cell(row, ("log", "program")))
        if program:
            info["program"] = program
        for key in ("charge", "multiplicity"):
            value = cell(row, ("log", key))
            if not _missing(value) and float(value) == int(float(value)):
                info[key] = int(float(value))
        atoms.info.update(info)
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames, skipped


def convert_jkqc(
    path,
    out,
    *,
    trust_pickle: bool = False,
    energy_column=ENERGY,
    energy_unit="Hartree",
    forces_unit=JKQC_FORCES_UNIT,
    level: str | None = None,
) -> JKQCReport:
    """The JKQC database ``path`` as an extxyz file ``out`` (eV, eV/Å); see :func:`jkqc_frames`.

    Raises:
        InputError: ``out`` exists, pandas not installed, a file that is not a JKQC database or
            names a class outside :data:`ALLOWED` (without ``trust_pickle``), a missing column, a bad row,
            no row with a structure and an energy, or an unknown unit.
    """
    path, out = Path(path), Path(out)
    if out.suffix.lower() not in (".extxyz", ".xyz"):
        raise InputError(f"{out}: frames are written as extxyz; name the file *.extxyz or *.xyz")
    if out.exists() or out.is_symlink():  # labels are costly: never replace a file of them
        raise InputError(f"{out} exists; convert-jkqc does not overwrite a file (remove it or choose another name)")
    _forces_factor(forces_unit, energy_unit)  # a bad unit before a long read
    df = load_jkqc(path, trust_pickle=trust_pickle)
    frames, skipped = jkqc_frames(
        df, source=str(path), energy_column=energy_column, energy_unit=energy_unit, forces_unit=forces_unit, level=level
    )
    if not frames:
        raise InputError(f"{path}: none of its {len(df)} rows has a structure and an energy")
    write_extxyz_atomic(out, frames)
    n_forces = sum("forces" in a.calc.results for a in frames)
    return JKQCReport(path, out, len(df), len(frames), n_forces, skipped)


__all__ = ["ALLOWED", "JKQC_FORCES_UNIT", "JKQCReport", "convert_jkqc", "jkqc_frames", "load_jkqc"]
