"""Formation of a cluster from its neutral monomers: ``ΔE``, ``ΔH``, ``ΔS``, ``ΔG`` from :class:`Thermo` records.

:func:`binding` subtracts the monomers' :class:`~md.analysis.thermo.equations.Thermo` (as
:func:`md.analysis.thermo.workflow.monomer_references` gives them) from a cluster's, ``n_i`` of
each (an ion pair HSO4⁻ + NH4⁺ has the atoms of SA + AM and counts as such);
:class:`ThermoSet` holds the structures, their bindings, the monomers and the settings of one
run together, as the writers (:mod:`md.analysis.thermo.writers`) take them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from md.analysis.thermo.equations import Thermo
from painnjax import units
from painnjax.errors import InputError

#: eV/K to cal/(mol K)
EV_PER_K_TO_CAL_PER_MOL_K = units.EV_TO_KCAL_PER_MOL * 1000.0


@dataclass
class Binding:
    """Formation of a cluster from its neutral monomers: ``ΔX = X(cluster) - Σ n_i X(monomer i)``.

    Attributes:
        counts: monomers in the cluster, e.g. ``{"SA": 2, "AM": 2, "W": 0}``.
        temperatures: K; dE: ΔE (potential energies, eV); dH, dS, dG: eV, eV/K, eV at each T.
        pressure: Pa (of cluster and monomers alike).
    """

    counts: dict[str, int]
    temperatures: np.ndarray
    pressure: float
    dE: float
    dH: np.ndarray
    dS: np.ndarray
    dG: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready; per temperature ΔH, ΔS, ΔG in eV and in kcal/mol, cal/(mol K), kcal/mol."""
        k = units.EV_TO_KCAL_PER_MOL
        return {
            "counts": {n: int(c) for n, c in self.counts.items()},
            "dE_eV": float(self.dE),
            "dE_kcal_mol": float(self.dE * k),
            "temperatures": [
                {
                    "T_K": float(T),
                    "dH_eV": float(self.dH[i]),
                    "dS_eV_per_K": float(self.dS[i]),
                    "dG_eV": float(self.dG[i]),
                    "dH_kcal_mol": float(self.dH[i] * k),
                    "dS_cal_mol_K": float(self.dS[i] * EV_PER_K_TO_CAL_PER_MOL_K),
                    "dG_kcal_mol": float(self.dG[i] * k),
                }
                for i, T in enumerate(self.temperatures)
            ],
        }


def binding(thermo: Thermo, counts: Mapping[str, int], monomers: Mapping[str, Thermo]) -> Binding:
    """``ΔE``, ``ΔH``, ``ΔS``, ``ΔG`` of forming ``thermo``'s cluster from ``counts`` monomers.

    ``counts`` as :func:`painnjax.data.composition.molecule_counts` gives them for the cluster's
    atoms; ``monomers`` as :func:`~md.analysis.thermo.workflow.monomer_references` gives them, at
    the same temperatures and pressure and with the same treatment of soft modes (else an
    :class:`InputError`).
    """
    where = f"{thermo.name}: " if thermo.name else ""
    dE = float(thermo.energy)
    dH = np.array(thermo.enthalpy, np.float64)
    dS = np.array(thermo.entropy, np.float64)
    used = {str(n): int(c) for n, c in counts.items()}
    for name, c in used.items():
        if c < 0:
            raise InputError(f"{where}a negative count of {name}: {c}")
        if c == 0:
            continue
        ref = monomers.get(name)
        if ref is None:
            raise InputError(f"{where}no monomer reference for {name} (have: {', '.join(monomers) or 'none'})")
        if ref.temperatures.shape != thermo.temperatures.shape or not np.allclose(
            ref.temperatures, thermo.temperatures, rtol=0, atol=1e-9
        ):
            raise InputError(f"{where}the monomer {name} was computed at other temperatures")
        if not math.isclose(ref.pressure, thermo.pressure, rel_tol=1e-12):
            raise InputError(f"{where}the monomer {name} was computed at {ref.pressure} Pa, not {thermo.pressure} Pa")
        if (ref.quasi_harmonic, ref.qh_cutoff, ref.qh_alpha) != (
            thermo.quasi_harmonic,
            thermo.qh_cutoff,
            thermo.qh_alpha,
        ):
            raise InputError(f"{where}the monomer {name} was computed with another treatment of soft modes")
        dE -= c * ref.energy
        dH -= c * ref.enthalpy
        dS -= c * ref.entropy
    T = thermo.temperatures
    return Binding(counts=used, temperatures=T.copy(), pressure=thermo.pressure, dE=dE, dH=dH, dS=dS, dG=dH - T * dS)


@dataclass
class ThermoSet:
    """What :func:`~md.analysis.thermo.workflow.thermo_of_file` returns: the structures' :class:`Thermo`,
    their :class:`Binding` (None without binding), the monomer references and the settings."""

    structures: list[Thermo]
    bindings: list[Binding] | None
    monomers: dict[str, Thermo]
    settings: dict
