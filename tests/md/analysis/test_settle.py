"""A minimum is a minimum (md.analysis.settle): a Lennard-Jones trimer left by FIRE on its linear saddle is
stepped off it to the equilateral triangle; a true minimum is left alone without any minimisation."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms

from md.analysis.harmonic import NotAMinimumWarning, harmonic_analysis
from md.analysis.settle import IMAGINARY_CM1, settle_minimum
from painnjax.errors import InputError
from painnjax.units import EV_TO_KCAL_PER_MOL

EPS = 0.5  # eV (deep enough that the linear saddle bends at -13 cm-1 with argon masses)
SIGMA = 2.0  # Å
R_MIN = 2 ** (1 / 6) * SIGMA  # the pair's minimum


def lj(R, **unused_kwargs):
    i, j = jnp.triu_indices(R.shape[0], k=1)
    d2 = jnp.sum((R[i] - R[j]) ** 2, axis=-1)
    s6 = (SIGMA**2 / d2) ** 3
    return jnp.sum(4 * EPS * (s6 * s6 - s6))


def linear_saddle():
    """LJ3 in a line minimised with FIRE: the forces stay on the axis, so FIRE stops at the linear
    stationary point, a saddle (bending brings the end atoms together: two imaginary bends)."""
    from md.optimize.fire import minimize

    atoms = Atoms("Ar3", positions=[[0, 0, 0], [R_MIN, 0, 0], [2 * R_MIN, 0, 0]])
    res = minimize(lj, atoms, fmax=1e-4, max_steps=2000)
    assert res.converged
    atoms.positions = res.positions
    return atoms


def triangle():
    h = R_MIN * np.sqrt(3) / 2
    return Atoms("Ar3", positions=[[0, 0, 0], [R_MIN, 0, 0], [R_MIN / 2, h, 0]])


def test_a_saddle_is_stepped_off_to_the_minimum(x64):
    atoms = linear_saddle()
    before = harmonic_analysis(lj, atoms, imaginary_threshold=1e9)
    assert (before.frequencies < -IMAGINARY_CM1).sum() == 2  # the two bends of a linear trimer

    res = settle_minimum(lj, atoms, fmax=1e-4, max_steps=2000)
    assert res.moved and res.is_minimum
    assert np.all(res.harmonic.frequencies > 0) and res.harmonic.n_removed == 6  # no longer linear
    d = res.atoms.get_all_distances()[np.triu_indices(3, k=1)]
    np.testing.assert_allclose(d, R_MIN, atol=2e-3)  # the equilateral triangle, each pair at its minimum
    np.testing.assert_allclose(res.harmonic.energy, -3 * EPS, atol=1e-6)
    # three pairs at -ε against two at -ε (and one at 2 r_min): the change the record gives
    expected = (-3 * EPS - before.energy) * EV_TO_KCAL_PER_MOL
    np.testing.assert_allclose(res.energy_change_kcal_mol, expected, rtol=1e-4)
    record = res.to_dict()
    assert record["rounds"][0]["mode_cm-1"] == pytest.approx(before.frequencies[0])
    assert record["rounds"][0]["energy_stepped_eV"] < before.energy  # downhill along the mode
    assert "minimised again" in res.summary() and "now a minimum" in res.summary()
    np.testing.assert_allclose(atoms.positions, linear_saddle().positions)  # the input is not changed


def test_a_minimum_is_left_alone_without_minimising(x64, monkeypatch):
    import md.optimize.fire

    def no_fire(*args, **kwargs):
        raise AssertionError("a minimum must not be minimised again")

    monkeypatch.setattr(md.optimize.fire, "minimize", no_fire)
    atoms = triangle()
    res = settle_minimum(lj, atoms, fmax=1e-4)
    assert not res.moved and res.is_minimum and res.summary() == ""
    assert res.energy_change_kcal_mol == 0.0
    np.testing.assert_array_equal(res.atoms.positions, atoms.positions)


def test_a_saddle_left_after_the_rounds_is_warned_about(x64):
    atoms = linear_saddle()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # steps too small for FIRE (fmax loose) to leave the saddle's neighbourhood: one round, still a saddle
        res = settle_minimum(lj, atoms, fmax=1.0, step=1e-6, max_rounds=1)
    assert res.moved and not res.is_minimum
    assert any(issubclass(w.category, NotAMinimumWarning) and "left after 1 step" in str(w.message) for w in caught)
    assert "imaginary modes left" in res.summary()


def test_bad_settings(x64):
    for kwargs in ({"threshold": -1.0}, {"step": 0.0}, {"max_rounds": 0}):
        with pytest.raises(InputError, match="settle"):
            settle_minimum(lj, triangle(), **kwargs)
