"""Training data: structures with energies and forces read from ASE-readable files.

A :class:`Dataset` holds, per structure, atomic numbers, positions (Å), the energy target (eV)
and forces (eV/Å), plus where each structure came from (file and frame index) and its
composition. ``Dataset.reference`` records what the energy means:

- ``{"kind": "total"}``: total energies as read (e.g. GFN1-xTB electronic energies);
- ``{"kind": "binding", "monomers": {"SA": E, "AM": E}, "monomer_file": path}``:
  ΔE = E − Σ_m n_m·E(m), see :func:`to_binding_energies`;
- ``{"kind": "element_offsets", "atomref": {Z: E}}``: E − Σ_i atomref[Z_i], see
  :func:`fit_element_offsets` and :func:`subtract_element_offsets`;
- ``{"kind": "unlabeled"}``: some frames have no energy (NaN), e.g. a pool to select from
  (``read_dataset(..., require_energy=False)``); for predictions only;
- a Δ-learning set (``read_dataset(..., delta_low_key=...)``) also has
  ``"delta": {"high": key, "low": key}``: the target is E(high) − E(low).

Compositions follow the naming of the atmospheric cluster literature and of the shared data:
``SA4AM4`` is (H2SO4)4(NH3)4; ``SA0AM1`` is one ammonia; water is appended as ``W{k}`` when
present. Molecules are recognised by their formula only (:data:`MOLECULES`, which callers can
extend, e.g. with ionised forms), never by bonding.

Every problem with the input is an :class:`~painnjax.errors.InputError` naming the file, the
frame index in that file and the field.
"""

from __future__ import annotations

import copy
import gzip
import io
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.data import chemical_symbols

from painnjax.data import bundled_dataset_path, bundled_datasets
from painnjax.data.composition import MOLECULES, composition_of, molecule_counts, molecule_table
from painnjax.errors import InputError
from painnjax.units import ENERGY_UNITS, LENGTH_UNITS
from painnjax.validate import as_atomic_numbers, check_positions, format_hint, free_cluster

# --------------------------------------------------------------------------------------------
# The dataset


@dataclass
class Dataset:
    """Structures with energies (eV) and, optionally, forces (eV/Å).

    ``info[i]`` holds ``"source"`` (the file), ``"frame"`` (the index of the structure in that
    file) and ``"composition"``, plus the frame's own ``atoms.info`` entries (converted to plain
    Python types). A frame's own entries named ``source`` or ``frame`` (in the shared data: the
    start structure and the MD frame number) are kept as ``info_source`` and ``info_frame``.
    """

    numbers: list[np.ndarray]
    positions: list[np.ndarray]
    energy: np.ndarray
    forces: list[np.ndarray] | None
    info: list[dict]
    reference: dict = field(default_factory=lambda: {"kind": "total"})

    def __post_init__(self):
        self.energy = np.asarray(self.energy, np.float64).reshape(-1)
        S = len(self.energy)
        lengths = {"numbers": len(self.numbers), "positions": len(self.positions), "info": len(self.info)}
        if self.forces is not None:
            lengths["forces"] = len(self.forces)
        for name, n in lengths.items():
            if n != S:
                raise InputError(f"Dataset: {name} has {n} entries but energy has {S}")
        for i in range(S):
            n = len(self.numbers[i])
            if np.shape(self.positions[i]) != (n, 3):
                raise InputError(
                    f"Dataset: structure {i}: positions have shape {np.shape(self.positions[i])}, expected ({n}, 3)"
                )
            if self.forces is not None and np.shape(self.forces[i]) != (n, 3):
                raise InputError(
                    f"Dataset: structure {i}: forces have shape {np.shape(self.forces[i])}, expected ({n}, 3)"
                )

    def __len__(self) -> int:
        return len(self.energy)

    def __repr__(self) -> str:
        comps = sorted(set(self.compositions))
        shown = ", ".join(comps[:8]) + (", ..." if len(comps) > 8 else "")
        return (
            f"Dataset({len(self)} structures, {int(self.n_atoms.sum()) if len(self) else 0} atoms, "
            f"forces={'yes' if self.forces is not None else 'no'}, reference={self.reference.get('kind')}, "
            f"compositions: {shown})"
        )

    def subset(self, indices) -> Dataset:
        """The structures at ``indices`` (ints or a boolean mask), in that order, same reference."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise InputError(f"subset: boolean mask has shape {idx.shape}, expected ({len(self)},)")
            idx = np.nonzero(idx)[0]
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise InputError(f"subset: indices must be a 1-D sequence of integers, got {idx.dtype} {idx.shape}")
        bad = (idx < 0) | (idx >= len(self))
        if bad.any():
            raise InputError(f"subset: index {int(idx[bad][0])} is out of range for {len(self)} structures")
        idx = idx.tolist()
        return Dataset(
            numbers=[self.numbers[i] for i in idx],
            positions=[self.positions[i] for i in idx],
            energy=self.energy[idx].copy(),
            forces=None if self.forces is None else [self.forces[i] for i in idx],
            info=[dict(self.info[i]) for i in idx],
            reference=copy.deepcopy(self.reference),
        )

    def with_energy(self, energy, reference: dict) -> Dataset:
        """The same structures and forces with new target energies and what they mean."""
        return Dataset(
            numbers=list(self.numbers),
            positions=list(self.positions),
            energy=np.asarray(energy, np.float64),
            forces=None if self.forces is None else list(self.forces),
            info=[dict(d) for d in self.info],
            reference=reference,
        )

    @property
    def n_atoms(self) -> np.ndarray:
        """(S,) number of atoms per structure."""
        return np.asarray([len(z) for z in self.numbers], dtype=np.int64)

    @property
    def elements(self) -> list[int]:
        """Sorted unique atomic numbers over all structures."""
        if not self.numbers:
            return []
        return sorted(int(z) for z in np.unique(np.concatenate([np.asarray(z) for z in self.numbers])))

    @property
    def compositions(self) -> list[str]:
        """``info[i]["composition"]`` per structure."""
        return [str(d.get("composition")) for d in self.info]


# --------------------------------------------------------------------------------------------
# Units


def _energy_factor(unit, what: str = "energy_unit") -> float:
    if isinstance(unit, (int, float)) and not isinstance(unit, bool):
        if not (math.isfinite(unit) and unit > 0):
            raise InputError(f"{what} must be a positive factor to eV, got {unit}")
        return float(unit)
    if unit not in ENERGY_UNITS:
        raise InputError(f"unknown {what} {unit!r}; known: {', '.join(ENERGY_UNITS)} (or a factor to eV)")
    return ENERGY_UNITS[unit]


def _forces_factor(forces_unit, energy_unit) -> float:
    """Factor to eV/Å. None: ``energy_unit`` per Å; "X/Å", "X/Bohr", ...; a plain energy unit X means X/Å."""
    if forces_unit is None:
        return _energy_factor(energy_unit)
    if isinstance(forces_unit, (int, float)) and not isinstance(forces_unit, bool):
        return _energy_factor(forces_unit, "forces_unit")
    if forces_unit in ENERGY_UNITS:
        return ENERGY_UNITS[forces_unit]
    if isinstance(forces_unit, str) and "/" in forces_unit:
        e, _, length = forces_unit.rpartition("/")
        if e in ENERGY_UNITS and length in LENGTH_UNITS:
            return ENERGY_UNITS[e] / LENGTH_UNITS[length]
    raise InputError(
        f"unknown forces_unit {forces_unit!r}; use ENERGY/LENGTH with ENERGY in {', '.join(ENERGY_UNITS)} and "
        f"LENGTH in {', '.join(LENGTH_UNITS)} (e.g. 'kcal/mol/Å', 'Hartree/Bohr'), or a factor to eV/Å"
    )


# --------------------------------------------------------------------------------------------
# Reading


def _plain(value):
    """numpy scalars/arrays in atoms.info -> plain Python (JSON-friendly)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def read_frames(path: Path, format: str | None = None, ignore_cell: bool = False) -> list:
    """Every frame (``ase.Atoms``) of the file ``path``, or of the bundled dataset of that name.

    Each frame is a free cluster (:func:`painnjax.validate.free_cluster`: a periodic frame is an
    error unless ``ignore_cell``). ``format`` is ASE's (None: from the file name). A missing,
    empty or unreadable file, a folder, or a file without frames is an :class:`InputError` that
    names the path. The frames are not checked further (:func:`read_dataset` checks energies and forces).
    """
    # Imported here, not at the head: ase.io would add 0.8 s to `import painnjax`, so to every
    # `painnjax` command and `--help` (2026-12-07: `import ase.io` timed after `import painnjax`).
    from ase.io import read

    if not path.exists():
        if str(path) not in bundled_datasets():
            raise InputError(f"{path}: file not found (nor a bundled dataset: {', '.join(bundled_datasets())})")
        path = bundled_dataset_path(str(path))
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a structure file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (no frames)")
    try:
        frames = _read_all(read, path, format)
    except Exception as err:
        hint = format_hint(path, format, takes_format=True)
        raise InputError(f"{path}: cannot be read: {type(err).__name__}: {err}{hint}") from None
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise InputError(f"{path}: no frames in file")
    return [free_cluster(atoms, f"{path}, frame {k}", ignore_cell=ignore_cell) for k, atoms in enumerate(frames)]


def _read_all(read, path: Path, format: str | None) -> list:
    """Every frame of ``path`` with ASE's ``read``; a gzipped (ext)xyz file is decompressed into memory
    first: ASE seeks back to each frame, and every backward seek in a gzip stream decompresses from the
    start again, so reading a 2,623-frame file took minutes instead of seconds (2026-12-07: 122 frames
    1.67 s from the .gz, 0.17 s from memory)."""
    if path.suffix == ".gz":
        from ase.io.formats import filetype

        kind = format or filetype(str(path), read=False)
        if kind in ("extxyz", "xyz"):
            with gzip.open(path, "rt") as fh:
                return read(io.StringIO(fh.read()), index=":", format=kind)
    return read(path, index=":", format=format)


def _calc_result(atoms, key: str):
    calc = atoms.calc
    results = getattr(calc, "results", None) if calc is not None else None
    if results and key in results:
        return results[key]
    return None


def _scalar(value, where: str, field_name: str) -> float:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {field_name} is not a number ({value!r})") from None
    if arr.size != 1:
        raise InputError(f"{where}: {field_name} must be one number, got shape {arr.shape}")
    x = float(arr.reshape(()))
    if not math.isfinite(x):
        raise InputError(f"{where}: {field_name} is not finite ({x})")
    return x


def _vectors(value, n: int, where: str, field_name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {field_name} are not numbers") from None
    if arr.shape != (n, 3):
        raise InputError(f"{where}: {field_name} must have shape ({n}, 3), got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError(f"{where}: {field_name} of atom {k} not finite ({arr[k].tolist()})")
    return arr


def _frame_energy(atoms, key: str | None, where: str) -> float:
    if key is None:
        value = _calc_result(atoms, "energy")
        if value is None:
            keys = ", ".join(sorted(atoms.info)) or "none"
            raise InputError(
                f"{where}: no energy (the frame has no calculator energy; if it is stored in atoms.info "
                f"under another name, pass energy_key; info keys: {keys})"
            )
        return _scalar(value, where, "energy")
    if key in atoms.info:
        return _scalar(atoms.info[key], where, f"energy {key!r}")
    value = _calc_result(atoms, key)  # ase moves "energy" & co. from the extxyz comment line to calc
    if value is None:
        keys = ", ".join(sorted(atoms.info)) or "none"
        raise InputError(f"{where}: no energy {key!r} in atoms.info (info keys: {keys})")
    return _scalar(value, where, f"energy {key!r}")


def _has_energy(atoms, key: str | None) -> bool:
    """Whether the frame has an energy where :func:`_frame_energy` looks for it."""
    if key is None:
        return _calc_result(atoms, "energy") is not None
    return key in atoms.info or _calc_result(atoms, key) is not None


def _frame_forces(atoms, key: str | None, where: str) -> np.ndarray | None:
    n = len(atoms)
    if key is None:
        value = _calc_result(atoms, "forces")
        return None if value is None else _vectors(value, n, where, "forces")
    if key in atoms.arrays:
        return _vectors(atoms.arrays[key], n, where, f"forces {key!r}")
    value = _calc_result(atoms, key)
    return None if value is None else _vectors(value, n, where, f"forces {key!r}")


def read_dataset(
    paths,
    *,
    energy_key: str | None = None,
    forces_key: str | None = None,
    energy_unit="eV",
    forces_unit=None,
    require_forces: bool = True,
    require_energy: bool = True,
    delta_low_key: str | None = None,
    format: str | None = None,
    ignore_cell: bool = False,
) -> Dataset:
    """Read structures, energies and forces from one or more ASE-readable files.

    ``paths``: one path or a list (extxyz, ASE .db, .traj, ... — anything ``ase.io.read`` reads;
    ``format`` is passed on to it). All frames of every file are read, in order.

    Energy: the calculator result (``atoms.get_potential_energy()``, which is where ASE puts
    ``energy=`` of an extxyz comment line) when ``energy_key`` is None, else ``atoms.info[energy_key]``.
    Forces: the calculator result when ``forces_key`` is None, else ``atoms.arrays[forces_key]``.
    ``energy_unit`` is a key of :data:`ENERGY_UNITS` (or a factor to eV); ``forces_unit`` defaults
    to ``energy_unit`` per Å and may be given as e.g. ``"kcal/mol/Å"`` or ``"Hartree/Bohr"``.
    Everything is converted to eV and eV/Å.

    Δ-learning (``delta_low_key``): the target is E(high) − E(low), with E(high) as above and
    E(low) = ``atoms.info[delta_low_key]`` in the same unit, or, when the info has no such key,
    the calculator's result of that name. The low-level forces must be the per-atom array
    ``atoms.arrays[delta_low_key + "_forces"]`` (e.g. ``E_xtb`` and ``E_xtb_forces``); without it
    a frame has no Δ forces (an error when ``require_forces``). ``delta_low_key="energy"`` takes
    the calculator's energy and forces as the low level: with ``energy_key="gfn2_energy"`` and
    ``forces_key="gfn2_forces"`` it reads E(GFN2) − E(GFN1) of the SA–W files, whose GFN1-xTB
    labels are the frames' own (benchmarks/data/saw/README.md).

    ``require_forces=False`` allows frames without forces; if any frame lacks them, the set has
    ``forces=None`` (with a warning when only some frames lack them).

    ``require_energy=False`` reads unlabeled frames too (positions only, e.g. a pool for query
    by committee): a frame without an energy gets NaN, and a set with any such frame has the
    reference ``{"kind": "unlabeled"}``: it is for predictions only (evaluation refuses it; do
    not train on it). A malformed energy is still an error.

    Composition: ``atoms.info["composition"]`` if present, else :func:`composition_of`, else
    the Hill formula.

    Periodic frames: the models are for free clusters, so a frame with any ``pbc`` True is an
    :class:`InputError` naming file and frame, unless ``ignore_cell=True``, which drops its cell
    and pbc and reads it as a free cluster (:func:`painnjax.validate.free_cluster`).

    Raises :class:`InputError`, naming file, frame and field, for a missing, empty or unreadable
    file, a frame without energy (or forces, when required), non-finite energy, forces or
    positions, wrong shapes and overlapping atoms (< 0.1 Å).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("read_dataset: no files given")
    reader = _FrameReader(
        energy_key,
        forces_key,
        require_forces,
        require_energy,
        delta_low_key,
        _energy_factor(energy_unit),
        _forces_factor(forces_unit, energy_unit),
    )
    frames = [
        reader.read(atoms, path, k)
        for path in paths
        for k, atoms in enumerate(read_frames(path, format, ignore_cell=ignore_cell))
    ]

    missing_forces = [f.where for f in frames if f.forces is None]
    if missing_forces and len(missing_forces) < len(frames):
        warnings.warn(
            f"{len(missing_forces)} of {len(frames)} structures have no forces (first: {missing_forces[0]}); "
            f"the dataset is read without forces",
            stacklevel=2,
        )
    return Dataset(
        numbers=[f.numbers for f in frames],
        positions=[f.positions for f in frames],
        energy=np.asarray([f.energy for f in frames], np.float64),
        forces=None if missing_forces else [f.forces for f in frames],
        info=[f.info for f in frames],
        reference=_read_reference(any(not f.labeled for f in frames), energy_key, delta_low_key),
    )


@dataclass
class _Frame:
    """One structure as :func:`read_dataset` read it: eV and eV/Å, ``where`` it came from."""

    numbers: np.ndarray
    positions: np.ndarray
    energy: float  # NaN when unlabeled
    forces: np.ndarray | None
    info: dict
    where: str
    labeled: bool


@dataclass(frozen=True)
class _FrameReader:
    """How :func:`read_dataset` reads a frame: where energy and forces are, what is required, unit factors."""

    energy_key: str | None
    forces_key: str | None
    require_forces: bool
    require_energy: bool
    delta_low_key: str | None
    e_factor: float
    f_factor: float

    def read(self, atoms, path: Path, k: int) -> _Frame:
        """Frame ``k`` of ``path``, checked, in eV and eV/Å (the Δ target for Δ-learning)."""
        where = f"{path}, frame {k}"
        Z, R = _frame_structure(atoms, where)
        E, labeled = self._energy(atoms, where)
        F = self._forces(atoms, where)
        if self.delta_low_key is not None:
            E, F = self._minus_low_level(atoms, E, F, where)
        info = _frame_info(atoms, Z, path, k)
        return _Frame(Z, R, E * self.e_factor, None if F is None else F * self.f_factor, info, where, labeled)

    def _energy(self, atoms, where: str) -> tuple[float, bool]:
        """The frame's energy and True, or NaN and False for a frame without one when that is allowed."""
        if self.require_energy or _has_energy(atoms, self.energy_key):
            return _frame_energy(atoms, self.energy_key, where), True
        return math.nan, False

    def _forces(self, atoms, where: str) -> np.ndarray | None:
        """The frame's forces (None when it has none); an error when they are required."""
        F = _frame_forces(atoms, self.forces_key, where)
        if F is None and self.require_forces:
            what = "calculator forces" if self.forces_key is None else f"forces array {self.forces_key!r}"
            arrays = ", ".join(k for k in atoms.arrays if k not in ("numbers", "positions")) or "none"
            raise InputError(
                f"{where}: no forces (no {what}; per-atom arrays: {arrays}). Pass forces_key if the "
                f"forces are stored under another name, or require_forces=False to train on energies only"
            )
        return F

    def _minus_low_level(self, atoms, E: float, F, where: str):
        """The Δ target: energy and forces less the low-level ones (forces None without low-level forces)."""
        delta_low_key = self.delta_low_key
        low_forces_key = f"{delta_low_key}_forces"
        if not _has_energy(atoms, delta_low_key):
            keys = ", ".join(sorted(atoms.info)) or "none"
            raise InputError(
                f"{where}: no low-level energy {delta_low_key!r} in atoms.info nor in the calculator's "
                f"results (info keys: {keys})"
            )
        E = E - _frame_energy(atoms, delta_low_key, where)
        if F is not None:
            low_forces = _low_level_forces(atoms, delta_low_key, where)
            if low_forces is not None:
                F = F - low_forces
            elif self.require_forces:
                raise InputError(
                    f"{where}: no low-level forces: Δ-learning with delta_low_key={delta_low_key!r} needs the "
                    f"per-atom array {low_forces_key!r} (or require_forces=False to train on Δ energies only)"
                )
            else:
                F = None
        return E, F


def _low_level_forces(atoms, delta_low_key: str, where: str) -> np.ndarray | None:
    """The low level's forces: ``atoms.arrays[delta_low_key + "_forces"]``; for a low-level energy
    that is the calculator's (``"energy"`` not in ``atoms.info``), the calculator's forces."""
    key = f"{delta_low_key}_forces"
    if key in atoms.arrays:
        return _vectors(atoms.arrays[key], len(atoms), where, f"low-level forces {key!r}")
    if delta_low_key == "energy" and "energy" not in atoms.info:
        return _frame_forces(atoms, None, where)
    return None


def _frame_structure(atoms, where: str):
    """The frame's atomic numbers and positions (Å), checked."""
    n = len(atoms)
    if n == 0:
        raise InputError(f"{where}: no atoms")
    Z = as_atomic_numbers(atoms.get_atomic_numbers(), source=where)
    R = check_positions(np.asarray(atoms.positions, np.float64), n, source=where, symbols=atoms.get_chemical_symbols())
    return Z, R


def _frame_info(atoms, Z, path: Path, k: int) -> dict:
    """The frame's ``info``: its own entries (``source``/``frame`` renamed) plus source, frame and composition."""
    own = {str(key): _plain(v) for key, v in atoms.info.items()}
    composition = own.get("composition")
    if composition is None:
        composition = composition_of(Z) or atoms.get_chemical_formula(mode="hill")
    info = {}
    for key, v in own.items():
        info[f"info_{key}" if key in ("source", "frame") else key] = v
    info.update({"source": str(path), "frame": k, "composition": str(composition)})
    return info


def _read_reference(unlabeled: bool, energy_key: str | None, delta_low_key: str | None) -> dict:
    """What the energies read mean: total or unlabeled, and the Δ pair for Δ-learning."""
    reference: dict = {"kind": "total"} if not unlabeled else {"kind": "unlabeled"}
    if delta_low_key is not None:
        reference["delta"] = {"high": energy_key if energy_key is not None else "energy", "low": delta_low_key}
    return reference


# --------------------------------------------------------------------------------------------
# Binding energies


def read_monomer_references(
    path,
    molecules: Mapping[str, str] = MOLECULES,
    *,
    energy_key: str | None = None,
    energy_unit="eV",
    ignore_cell: bool = False,
) -> dict[str, float]:
    """Energies (eV) of the monomers in ``path``, by name of ``molecules`` (e.g. ``{"SA": ..., "AM": ...}``).

    A frame is a monomer when its atoms are exactly one molecule's formula; other frames are
    ignored. When several frames have the same formula, the lowest energy is taken (the
    minimum). Energy as in :func:`read_dataset` (calculator result or ``atoms.info[energy_key]``);
    periodic frames as there (``ignore_cell``).
    """
    path = Path(path)
    frames = read_frames(path, ignore_cell=ignore_cell)
    factor = _energy_factor(energy_unit)
    table = molecule_table(molecules)
    found: dict[str, float] = {}
    for k, atoms in enumerate(frames):
        if len(atoms) == 0:
            continue
        zs, counts = np.unique(atoms.get_atomic_numbers(), return_counts=True)
        zc = {int(z): int(c) for z, c in zip(zs, counts)}
        for name, comp in table:
            if comp == zc:
                E = _frame_energy(atoms, energy_key, f"{path}, frame {k}") * factor
                found[name] = min(E, found.get(name, math.inf))
                break
    if not found:
        formulas = ", ".join(sorted({a.get_chemical_formula(mode="hill") for a in frames}))
        raise InputError(
            f"{path}: no monomer of {', '.join(f'{k} = {v}' for k, v in molecules.items())} found "
            f"(formulas in the file: {formulas})"
        )
    return {name: found[name] for name, _ in table if name in found}


def to_binding_energies(
    ds: Dataset,
    monomer_path,
    molecules: Mapping[str, str] = MOLECULES,
    *,
    energy_key: str | None = None,
    energy_unit="eV",
    ignore_cell: bool = False,
) -> Dataset:
    """Binding energies ΔE = E − Σ_m n_m·E(m) with monomer energies from ``monomer_path``.

    The energies in ``ds`` must be total energies at the same level as the monomer file (not a
    Δ-learning or offset-subtracted set). Forces are unchanged. Raises :class:`InputError`
    naming the monomer file and the structure (file, frame) when a structure holds a molecule
    type that the monomer file lacks, or cannot be split into whole molecules. Periodic
    monomer frames as in :func:`read_dataset` (``ignore_cell``).
    """
    if ds.reference.get("kind") != "total" or "delta" in ds.reference:
        raise InputError(
            f"binding energies need total energies; this set's energies are {ds.reference} "
            f"(make binding energies before subtracting anything else)"
        )
    monomer_path = Path(monomer_path)
    monomers = read_monomer_references(
        monomer_path, molecules, energy_key=energy_key, energy_unit=energy_unit, ignore_cell=ignore_cell
    )
    cache: dict[tuple, dict[str, int]] = {}
    energy = ds.energy.copy()
    used: set[str] = set()
    for i, Z in enumerate(ds.numbers):
        where = f"structure {i} ({ds.info[i].get('source')}, frame {ds.info[i].get('frame')})"
        key = tuple(np.bincount(np.asarray(Z, np.int64)).tolist())
        if key not in cache:
            cache[key] = molecule_counts(Z, molecules, source=where)
        counts = cache[key]
        for name, c in counts.items():
            if c == 0:
                continue
            if name not in monomers:
                raise InputError(
                    f"{monomer_path}: no monomer {name} ({molecules[name]}) for {where}, composition "
                    f"{ds.info[i].get('composition')}; the file has {', '.join(monomers) or 'none'}"
                )
            energy[i] -= c * monomers[name]
            used.add(name)
    reference = {
        "kind": "binding",
        "monomers": {name: float(monomers[name]) for name in monomers if name in used},
        "monomer_file": str(monomer_path),
    }
    return ds.with_energy(energy, reference)


# --------------------------------------------------------------------------------------------
# Per-element energy offsets


def element_counts(ds: Dataset, max_z: int = 100) -> np.ndarray:
    """(S, max_z) number of atoms of each element per structure."""
    C = np.zeros((len(ds), max_z), np.float64)
    for i, Z in enumerate(ds.numbers):
        Z = np.asarray(Z, np.int64)
        if Z.size and (Z.min() < 1 or Z.max() >= max_z):
            raise InputError(f"structure {i}: atomic numbers must lie in 1..{max_z - 1}, got {sorted(set(Z.tolist()))}")
        C[i] = np.bincount(Z, minlength=max_z)
    return C


def fit_element_offsets(ds: Dataset, max_z: int = 100) -> np.ndarray:
    """Per-element energies (max_z,) eV minimising ‖E − C·e‖² (C: element counts per structure).

    Elements absent from the set get 0. Solved with ``np.linalg.lstsq``, which gives the
    minimal-norm solution when the compositions are collinear, as in SA/AM clusters, whose
    element counts are fixed multiples of the molecule counts (H = 2·SA + 3·AM, O = 4·SA, ...):
    then the per-element values are not individually meaningful, but they are finite and their
    sums over each composition still fit the energies in the least-squares sense.
    """
    if len(ds) == 0:
        raise InputError("fit_element_offsets: the dataset is empty")
    C = element_counts(ds, max_z)
    present = np.nonzero(C.sum(axis=0))[0]
    sol, *_ = np.linalg.lstsq(C[:, present], ds.energy, rcond=None)
    out = np.zeros(max_z, np.float64)
    out[present] = sol
    return out


def subtract_element_offsets(ds: Dataset, atomref) -> Dataset:
    """E − Σ_i atomref[Z_i]; ``atomref`` is an array indexed by Z or a dict {Z: eV}.

    The result's reference is ``{"kind": "element_offsets", "atomref": {Z: eV}}`` over the
    elements present with a non-zero value (a Δ-learning set keeps its ``"delta"`` entry).
    """
    kind = ds.reference.get("kind")
    if kind != "total":
        raise InputError(f"element offsets are subtracted from total energies; this set's energies are {ds.reference}")
    if isinstance(atomref, Mapping):
        table = {int(z): float(v) for z, v in atomref.items()}
    else:
        arr = np.asarray(atomref, np.float64)
        if arr.ndim != 1:
            raise InputError(f"atomref must be a 1-D array indexed by Z or a dict, got shape {arr.shape}")
        table = {z: float(arr[z]) for z in range(len(arr))}
    for z, v in table.items():
        if not math.isfinite(v):
            raise InputError(f"atomref of Z={z} is not finite ({v})")
    missing = [z for z in ds.elements if z not in table]
    if missing:
        raise InputError(
            f"atomref has no value for element(s) {', '.join(f'{chemical_symbols[z]} (Z={z})' for z in missing)}"
        )
    energy = ds.energy.copy()
    for i, Z in enumerate(ds.numbers):
        energy[i] -= sum(table[int(z)] for z in np.asarray(Z).tolist())
    reference = {"kind": "element_offsets", "atomref": {z: table[z] for z in ds.elements if table[z] != 0.0}}
    if "delta" in ds.reference:
        reference["delta"] = dict(ds.reference["delta"])
    return ds.with_energy(energy, reference)


__all__ = [
    "Dataset",
    "element_counts",
    "fit_element_offsets",
    "molecule_counts",
    "read_dataset",
    "read_monomer_references",
    "subtract_element_offsets",
    "to_binding_energies",
]


def reference_atomref(reference: Mapping, max_z: int = 100, molecules: Mapping[str, str] = MOLECULES) -> np.ndarray:
    """Per-element energies (max_z,) eV whose sum over a structure's atoms is its reference energy.

    ``total`` -> zeros; ``element_offsets`` -> the offsets; ``binding`` -> the minimal-norm
    solution of ``sum_Z n_mZ e_Z = E(m)`` over the monomers m, which is exact for every structure
    made of whole molecules (the reference is linear in the molecule counts). Adding these to a
    model trained on reference-subtracted energies makes it predict total energies.
    """
    kind = reference.get("kind")
    atomref = np.zeros(max_z)
    if "delta" in reference:
        raise InputError("a Delta-learning model predicts a correction, not a total energy; its reference stays as is")
    if kind == "total":
        return atomref
    if kind == "element_offsets":
        for z, value in reference["atomref"].items():
            atomref[int(z)] = float(value)
        return atomref
    if kind == "binding":
        table = dict(molecule_table({m: molecules[m] for m in reference["monomers"]}))
        names = list(reference["monomers"])
        elements = sorted(set().union(*(table[m] for m in names)))
        A = np.array([[table[m].get(z, 0) for z in elements] for m in names], float)  # (M, n_el)
        b = np.array([float(reference["monomers"][m]) for m in names])
        e, *_ = np.linalg.lstsq(A, b, rcond=None)
        if not np.allclose(A @ e, b, rtol=0, atol=1e-9 * max(1.0, np.abs(b).max())):
            raise InputError(f"the monomers {names} cannot be written as per-element energies exactly")
        atomref[elements] = e
        return atomref
    raise InputError(f"unknown energy reference {reference!r}")
