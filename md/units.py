"""The single conversion between the field's units and jax-md's "metal" units.

Positions Å, energies eV, masses amu in both. jax-md's time unit is then
Å * sqrt(amu / eV) ~= 10.18 fs; temperatures enter as k_B T in eV.
"""

from ase import units as _u

#: one jax-md time unit, Å * sqrt(amu / eV), in fs -- which is also ASE's internal time unit
TIME_UNIT_FS = 1.0 / _u.fs
#: Boltzmann constant in eV/K
KB_EV = _u.kB


def fs_to_internal(dt_fs: float) -> float:
    """A time in fs as jax-md metal time units."""
    return dt_fs / TIME_UNIT_FS


def kelvin_to_kT(T: float) -> float:
    """A temperature in K as k_B T in eV."""
    return KB_EV * T
