"""The one home of units: the field's units (ASE's: Å, eV, amu, fs, K) and their conversions.

- Energies and forces: eV and eV/Å inside; kcal/mol and kcal/mol/Å in reports, as the field
  reports errors (:data:`KCAL_PER_MOL`, :data:`EV_TO_KCAL_PER_MOL`); other units of input data
  through :data:`ENERGY_UNITS` and :data:`LENGTH_UNITS`.
- Time: jax-md's "metal" units use Å, eV and amu, so its time unit is Å * sqrt(amu / eV)
  ~= 10.18 fs, which is also ASE's internal time unit: a jax-md velocity ``momentum / mass``
  (Å per time unit) is what ``ase.Atoms.set_velocities`` expects, and a friction in 1/fs becomes
  1/time unit by multiplying with :data:`TIME_UNIT_FS`. Temperatures enter as k_B T in eV.
- Vibrations: wavenumbers in cm⁻¹ (:data:`INVCM_EV`, :data:`HBAR_OMEGA_EV`,
  :data:`SPEED_OF_LIGHT_CM_PER_FS`); SI constants for the ideal-gas partition functions of
  thermochemistry (:data:`PLANCK_J_S`, :data:`KB_J_PER_K`, :data:`SPEED_OF_LIGHT_M_PER_S`,
  :data:`AMU_KG`).

Example:
    >>> round(fs_to_internal(0.5), 6)           # a 0.5 fs step in jax-md time units
    0.049113
    >>> round(kelvin_to_kT(300.0), 6)           # k_B * 300 K in eV
    0.025852
    >>> round(1.0 * EV_TO_KCAL_PER_MOL, 3)     # 1 eV in kcal/mol
    23.061
"""

import math

from ase import units as _u

#: one kcal/mol in eV
KCAL_PER_MOL = _u.kcal / _u.mol
#: factor from eV to kcal/mol (and eV/Å to kcal/mol/Å)
EV_TO_KCAL_PER_MOL = 1.0 / KCAL_PER_MOL

#: one unit of energy in eV, for reading data in other units
ENERGY_UNITS: dict[str, float] = {
    "eV": 1.0,
    "meV": 1e-3,
    "kcal/mol": KCAL_PER_MOL,
    "kJ/mol": _u.kJ / _u.mol,
    "Hartree": _u.Hartree,
    "Ha": _u.Hartree,
    "Ry": _u.Rydberg,
}

#: one unit of length in Å (for force units such as "Hartree/Bohr")
LENGTH_UNITS: dict[str, float] = {
    "Å": 1.0,
    "Ang": 1.0,
    "A": 1.0,
    "Angstrom": 1.0,
    "Bohr": _u.Bohr,
    "nm": 10.0,
}

#: one jax-md time unit, Å * sqrt(amu / eV), in fs -- which is also ASE's internal time unit
TIME_UNIT_FS = 1.0 / _u.fs
#: Boltzmann constant in eV/K
KB_EV = _u.kB
#: one cm⁻¹ in eV (ASE's ``invcm``)
INVCM_EV = _u.invcm
#: ``ħ ω`` in eV for ``ω² = 1 eV/Å²/amu`` (the factor ASE's ``Vibrations`` uses)
HBAR_OMEGA_EV = _u._hbar * 1e10 / math.sqrt(_u._e * _u._amu)
#: speed of light in cm/fs
SPEED_OF_LIGHT_CM_PER_FS = _u._c * 100.0 * 1e-15

# SI values (ASE's CODATA set), for the ideal-gas partition functions of thermochemistry
#: Planck constant h, J s
PLANCK_J_S = _u._hplanck
#: Boltzmann constant, J/K
KB_J_PER_K = _u._k
#: speed of light, m/s
SPEED_OF_LIGHT_M_PER_S = _u._c
#: atomic mass unit, kg
AMU_KG = _u._amu


def fs_to_internal(dt_fs: float) -> float:
    """A time in fs as jax-md metal time units."""
    return dt_fs / TIME_UNIT_FS


def kelvin_to_kT(T: float) -> float:
    """A temperature in K as k_B T in eV."""
    return KB_EV * T


def kT_to_kelvin(kT: float) -> float:
    """k_B T in eV as a temperature in K."""
    return kT / KB_EV


def friction_to_internal(per_fs: float) -> float:
    """A friction (collision rate) in 1/fs as 1/(jax-md time unit)."""
    return per_fs * TIME_UNIT_FS


def ns_per_day(steps_per_second: float, dt_fs: float) -> float:
    """Simulated nanoseconds per day of wall time at ``steps_per_second`` with a ``dt_fs`` step."""
    return steps_per_second * dt_fs * 86400.0 * 1e-6
