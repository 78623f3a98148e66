"""Writers of thermochemistry: JSON records, the ΔH/ΔS table of cluster-kinetics codes, and a text summary.

:func:`write_thermo` writes the JSON file of a run (settings, monomers, structures with their
bindings merged in); :func:`write_dh_ds_table` the plain-text formation ΔH, ΔS, ΔG table that
codes such as ACDC read; :func:`format_thermo` the short table ``painnjax thermo`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from md.analysis.thermo.equations import Thermo
from md.analysis.thermo.formation import EV_PER_K_TO_CAL_PER_MOL_K, Binding, ThermoSet
from painnjax import units
from painnjax.errors import InputError
from painnjax.io.files import atomic_write, write_json


def _record(thermo: Thermo, b: Binding | None) -> dict:
    """One structure of :func:`write_thermo`: its :meth:`Thermo.to_dict` with its binding merged in."""
    d = thermo.to_dict()
    if b is not None:
        bd = b.to_dict()
        d["counts"] = bd["counts"]
        d["dE_eV"] = bd["dE_eV"]
        d["dE_kcal_mol"] = bd["dE_kcal_mol"]
        for entry, extra in zip(d["temperatures"], bd["temperatures"]):
            entry.update({k: v for k, v in extra.items() if k != "T_K"})
    return d


def write_thermo(
    path,
    thermos: Sequence[Thermo],
    *,
    bindings: Sequence[Binding] | None = None,
    monomers: Mapping[str, Thermo] | None = None,
    settings: Mapping | None = None,
) -> Path:
    """JSON ``{"settings": ..., "monomers": {name: ...}, "structures": [...]}``, written atomically.

    Each structure is its :meth:`Thermo.to_dict` (``energy_eV``, ``zpe_eV``,
    ``frequencies_cm-1``, ``imaginary_cm-1``, ...; ``temperatures``: ``T_K``, ``H_eV``,
    ``S_eV_per_K``, ``G_eV``, ...), with its binding merged in when given: ``counts``,
    ``dE_kcal_mol`` and per temperature ``dH_kcal_mol``, ``dS_cal_mol_K``, ``dG_kcal_mol`` (and
    the same in eV).
    """
    if bindings is not None and len(bindings) != len(thermos):
        raise InputError(f"{len(bindings)} bindings for {len(thermos)} structures")
    bs = list(bindings) if bindings is not None else [None] * len(thermos)
    data = {
        "settings": dict(settings or {}),
        "monomers": {name: t.to_dict() for name, t in (monomers or {}).items()},
        "structures": [_record(t, b) for t, b in zip(thermos, bs)],
    }
    return write_json(path, data)


def write_dh_ds_table(path, thermos: Sequence[Thermo], bindings: Sequence[Binding]) -> Path:
    """A plain-text table of formation ΔH, ΔS, ΔG, one row per structure and temperature.

    Columns: name, composition, ``T_K``, ``dH_kcal_mol``, ``dS_cal_mol_K``, ``dG_kcal_mol``
    (whitespace-separated; spaces in names become ``_``); lines starting with ``#`` say the
    pressure and method and name the columns. The name, ΔH and ΔS columns are what
    cluster-kinetics codes such as ACDC take as input.
    """
    if len(bindings) != len(thermos):
        raise InputError(f"{len(bindings)} bindings for {len(thermos)} structures")
    k = units.EV_TO_KCAL_PER_MOL
    first = thermos[0] if thermos else None
    method = (
        f"quasi-RRHO (Grimme S, Head-Gordon H, cutoff {first.qh_cutoff:g} cm-1)"
        if first is not None and first.quasi_harmonic
        else "RRHO"
    )
    pressure = f"{first.pressure:g} Pa" if first is not None else "-"
    lines = [
        f"# formation from the monomers (SA, AM, W) at {pressure}; {method}",
        "# name composition T_K dH_kcal_mol dS_cal_mol_K dG_kcal_mol",
    ]
    for t, b in zip(thermos, bindings):
        name = "_".join(str(t.name or "-").split())
        comp = "_".join(str(t.composition or "-").split())
        for i, T in enumerate(b.temperatures):
            lines.append(
                f"{name} {comp} {T:.2f} {b.dH[i] * k:.4f} {b.dS[i] * EV_PER_K_TO_CAL_PER_MOL_K:.4f} {b.dG[i] * k:.4f}"
            )
    return atomic_write(path, "\n".join(lines) + "\n")


def format_thermo(result: ThermoSet) -> str:
    """A short table: structure, composition, E, ZPE (eV), G at each T (eV), ΔG (kcal/mol), the largest
    force (eV/Å) and the number of imaginary modes; then a line for each structure that was stepped
    off a saddle and minimised again (``Thermo.settled``)."""
    rows = []
    temps = result.structures[0].temperatures if result.structures else np.array([])
    head = ["structure", "composition", "E/eV", "ZPE/eV"]
    head += [f"G({T:g}K)/eV" for T in temps]
    if result.bindings is not None:
        head += [f"dG({T:g}K)/kcal/mol" for T in temps]
    head += ["fmax/eV/A", "n_imag"]
    for i, t in enumerate(result.structures):
        row = [str(t.name), str(t.composition), f"{t.energy:.4f}", f"{t.zpe:.4f}"]
        row += [f"{g:.4f}" for g in t.gibbs]
        if result.bindings is not None:
            row += [f"{g * units.EV_TO_KCAL_PER_MOL:.2f}" for g in result.bindings[i].dG]
        row += ["-" if t.fmax is None else f"{t.fmax:.2g}", str(len(t.imaginary))]
        rows.append(row)
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    lines = [
        "  ".join(x.ljust(w) if c < 2 else x.rjust(w) for c, (x, w) in enumerate(zip(r, widths))) for r in [head, *rows]
    ]
    for t in result.structures:  # what settle_minimum did, said where the numbers are
        if t.settled and t.settled.get("moved"):
            lines.append(f"{t.name}: {t.settled.get('summary', 'stepped off a saddle and minimised again')}")
    method = result.settings.get("method", "")
    lines.append(f"{len(result.structures)} structure(s); {method} at {result.settings.get('pressure_Pa', 0):g} Pa")
    return "\n".join(lines)
