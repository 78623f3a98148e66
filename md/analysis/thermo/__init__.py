"""Free energies of clusters: ideal gas, rigid rotor, harmonic oscillator (RRHO), quasi-harmonic.

The package in four modules, one concern each:

- :mod:`.equations`: the numbers. :func:`thermochemistry` turns an energy (eV), vibrational
  frequencies (cm⁻¹, imaginary ones negative, as :mod:`md.analysis.harmonic` gives them) and
  the structure's masses and moments of inertia into ``H``, ``S`` and ``G = H - T S`` of the
  ideal gas at each temperature and pressure (the :class:`Thermo` record), with Grimme's and
  Head-Gordon's treatment of soft modes by default; the formulas are written there. No model,
  no files.
- :mod:`.formation`: :func:`binding`: ``ΔE``, ``ΔH``, ``ΔS``, ``ΔG`` of forming a cluster from the
  neutral monomers (:class:`Binding`); :class:`ThermoSet`, the results of one run together.
- :mod:`.workflow`: with a model. :func:`thermo_of_structures` (frequencies from the model's
  exact Hessian, structures of the same atoms batched with ``jax.vmap``),
  :func:`monomer_references` (the SA, AM and W templates minimised with the model, with their
  point-group symmetry numbers) and :func:`thermo_of_file` (every frame of a file, with its
  binding: what ``painnjax thermo`` runs).
- :mod:`.writers`: :func:`write_thermo` (JSON), :func:`write_dh_ds_table` (the ΔH/ΔS table that
  cluster-kinetics codes such as ACDC read) and :func:`format_thermo` (the printed summary).

The names below are importable from ``md.analysis.thermo`` itself.

Example:
    >>> from md.analysis.thermo import thermo_of_file, write_thermo
    >>> res = thermo_of_file("saam-gfn1", "sa2am2.xyz", [250.0, 298.15])      # doctest: +SKIP
    >>> write_thermo("thermo.json", res.structures, bindings=res.bindings,   # doctest: +SKIP
    ...              monomers=res.monomers, settings=res.settings)
"""

from md.analysis.thermo.equations import (
    ATMOSPHERE_PA,
    GRIMME_B_AV_KG_M2,
    ZERO_MODE_CM1,
    Thermo,
    check_conditions,
    free_rotor_entropy,
    harmonic_energy,
    harmonic_entropy,
    qh_weight,
    thermochemistry,
)
from md.analysis.thermo.formation import EV_PER_K_TO_CAL_PER_MOL_K, Binding, ThermoSet, binding
from md.analysis.thermo.workflow import (
    STATIONARY_FMAX,
    monomer_references,
    settings_dict,
    structure_name,
    thermo_of_file,
    thermo_of_structures,
)
from md.analysis.thermo.writers import format_thermo, write_dh_ds_table, write_thermo

__all__ = [
    "ATMOSPHERE_PA",
    "EV_PER_K_TO_CAL_PER_MOL_K",
    "GRIMME_B_AV_KG_M2",
    "STATIONARY_FMAX",
    "ZERO_MODE_CM1",
    "Binding",
    "Thermo",
    "ThermoSet",
    "binding",
    "check_conditions",
    "format_thermo",
    "free_rotor_entropy",
    "harmonic_energy",
    "harmonic_entropy",
    "monomer_references",
    "qh_weight",
    "settings_dict",
    "structure_name",
    "thermo_of_file",
    "thermo_of_structures",
    "thermochemistry",
    "write_dh_ds_table",
    "write_thermo",
]
