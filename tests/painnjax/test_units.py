"""painnjax.units: the one conversion between fs/K and jax-md's metal units."""

import math

import pytest
from ase import units as ase_units

from painnjax import units


def test_time_unit_is_angstrom_sqrt_amu_per_ev():
    # Å * sqrt(amu / eV) from SI constants: 1e-10 m * sqrt(1.66053907e-27 kg / 1.60217663e-19 J)
    si = 1e-10 * math.sqrt(ase_units._amu / ase_units._e) * 1e15
    assert units.TIME_UNIT_FS == pytest.approx(si, rel=1e-12)
    assert units.TIME_UNIT_FS == pytest.approx(10.1805, abs=1e-4)


def test_conversions_round_trip():
    assert units.fs_to_internal(units.TIME_UNIT_FS) == pytest.approx(1.0)
    assert units.kelvin_to_kT(300.0) == pytest.approx(0.025852, rel=1e-4)  # k_B * 300 K in eV
