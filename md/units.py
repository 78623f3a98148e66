"""The single conversion between the field's units and jax-md's "metal" units.

Positions Å, energies eV, masses amu in both. jax-md's time unit is then
Å * sqrt(amu / eV) ~= 10.18 fs; temperatures enter as k_B T in eV. This is also ASE's
internal time unit, so a jax-md velocity ``momentum / mass`` (Å per time unit) is exactly
what ``ase.Atoms.set_velocities`` expects, and a friction in 1/fs becomes 1/time unit by
multiplying with :data:`TIME_UNIT_FS`.

Example:
    >>> round(fs_to_internal(0.5), 6)           # a 0.5 fs step in jax-md time units
    0.049113
    >>> round(kelvin_to_kT(300.0), 6)           # k_B * 300 K in eV
    0.025852
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


def kT_to_kelvin(kT: float) -> float:
    """k_B T in eV as a temperature in K."""
    return kT / KB_EV


def friction_to_internal(per_fs: float) -> float:
    """A friction (collision rate) in 1/fs as 1/(jax-md time unit)."""
    return per_fs * TIME_UNIT_FS


def ns_per_day(steps_per_second: float, dt_fs: float) -> float:
    """Simulated nanoseconds per day of wall time at ``steps_per_second`` with a ``dt_fs`` step."""
    return steps_per_second * dt_fs * 86400.0 * 1e-6
