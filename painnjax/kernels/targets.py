"""What a kernel model learns: binding energies, direct or Δ (high − low level), in eV.

Direct: ΔE = E − Σ_m n_m E(m). Δ: ΔΔE = ΔE_high − ΔE_low = (E_high − E_low) − Σ_m n_m
(E_high(m) − E_low(m)), each level with its own monomer minima. The low level comes from the
frames (``[data] delta_low_key``; ``"energy"`` is the calculator's energy, as in the SA–W
files) or, for frames without it, from tblite single points (:func:`low_level_energies`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from painnjax.data.composition import MOLECULES, molecule_counts
from painnjax.data.dataset import Dataset, read_dataset, read_monomer_references
from painnjax.errors import InputError


def monomer_sum(ds: Dataset, monomers: Mapping[str, float]) -> np.ndarray:
    """(S,) Σ_m n_m E(m) eV of every structure; an InputError naming the structure when it is not whole molecules
    of ``monomers``."""
    out = np.zeros(len(ds))
    cache: dict[tuple, dict[str, int]] = {}
    for i, Z in enumerate(ds.numbers):
        key = tuple(np.bincount(np.asarray(Z, np.int64)).tolist())
        if key not in cache:
            where = f"structure {i} ({ds.info[i].get('source')}, frame {ds.info[i].get('frame')})"
            cache[key] = molecule_counts(Z, MOLECULES, source=where)
            missing = [m for m, c in cache[key].items() if c and m not in monomers]
            if missing:
                have = ", ".join(monomers) or "none"
                raise InputError(f"{where}: no monomer energy of {', '.join(missing)} (the model has {have})")
        out[i] = sum(c * monomers[m] for m, c in cache[key].items() if c)
    return out


def monomer_energies(path: str) -> dict[str, float]:
    """Monomer minima (eV) of a monomer file or bundled set, by molecule name."""
    return read_monomer_references(path)


def read_targets(paths, data, monomers: Mapping[str, float], low_monomers: Mapping[str, float] | None, low="labels"):
    """The dataset of ``paths`` with the model's target as its energies (eV).

    ``data``: a :class:`~painnjax.kernels.config.KernelDataConfig` (or an object with its keys).
    ``ds.energy`` is ΔE (direct; total energies when ``monomers`` is empty) or ΔΔE (Δ). The low
    level of a Δ target (``low``): ``"labels"``, the frames' own (``[data] delta_low_key``);
    ``"tblite"``, single points with ``data.low_method``; ``"auto"``, the labels where the
    files have them, else tblite. The errors of ΔΔE are those of ΔE_high = ΔE_low + ΔΔE.
    """
    options = dict(energy_key=data.energy_key or None, energy_unit=data.energy_unit, require_forces=False)
    options["ignore_cell"] = data.ignore_cell
    if not data.delta_low_key:
        ds = read_dataset(paths, **options)
        target = ds.energy - monomer_sum(ds, monomers) if monomers else ds.energy
        return ds.with_energy(target, {"kind": "binding" if monomers else "total", "monomers": dict(monomers)})
    if low not in ("labels", "tblite", "auto"):
        raise InputError(f"low level from {low!r}: use 'labels', 'tblite' or 'auto'")
    ds = None
    if low in ("labels", "auto"):
        try:
            ds = read_dataset(paths, delta_low_key=data.delta_low_key, **options)
        except InputError:
            if low == "labels":
                raise
    if ds is None:  # the low level from tblite
        ds = read_dataset(paths, **options)
        ds = ds.with_energy(ds.energy - low_level_energies(ds, data.low_method), ds.reference)
    target = ds.energy
    if monomers:
        target = target - monomer_sum(ds, monomers) + monomer_sum(ds, low_monomers or {})
    delta = {"high": data.energy_key or "energy", "low": data.delta_low_key}
    reference = {"kind": "binding" if monomers else "total", "monomers": dict(monomers), "delta": delta}
    return ds.with_energy(target, reference)


def low_level_energies(ds: Dataset, method: str) -> np.ndarray:
    """(S,) total energies (eV) of every structure from tblite single points with ``method`` (e.g. GFN1-xTB);
    neutral closed-shell unless a frame's info gives ``charge``."""
    out = np.empty(len(ds))
    for i, (Z, R) in enumerate(zip(ds.numbers, ds.positions)):
        where = f"{ds.info[i].get('source')}, frame {ds.info[i].get('frame')}"
        out[i] = low_level_energy(Z, R, method, ds.info[i].get("charge", 0), where)
    return out


def low_level_energy(numbers, positions, method: str, charge: int = 0, where: str = "structure") -> float:
    """The total energy (eV) of one structure (atomic numbers, positions in Å) from a tblite single point
    with ``method``; an InputError naming ``where`` when tblite is missing or the calculation fails."""
    try:  # imported here: tblite is an optional extra (painnjax[xtb])
        from tblite.ase import TBLite
    except ImportError as exc:
        raise InputError(f"the low level of a Δ model needs tblite, which is not installed ({exc})") from None
    from ase import Atoms

    atoms = Atoms(numbers=numbers, positions=positions)
    atoms.calc = TBLite(method=method, charge=charge, verbosity=0)
    try:
        return float(atoms.get_potential_energy())
    except Exception as exc:
        raise InputError(f"{where}: {method} single point failed ({exc})") from None
