"""The ASE calculator given a committee: the mean of the members as energy and forces, their
spread in ``results`` -- checked against the single-model calculators and numpy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import perturbed_model

from painnjax import InputError, PaiNNCalculator, PaiNNConfig, save_model
from painnjax.interfaces.calculator import COMMITTEE_PROPERTIES

TINY = PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4)


@pytest.fixture(scope="module")
def members():
    return [perturbed_model(TINY, seed=1), perturbed_model(TINY, seed=2)]


def test_committee_mean_and_spread_equal_those_of_the_single_calculators(members, sa2am2, tmp_path):
    atoms = sa2am2.copy()
    atoms.rattle(0.02, seed=3)
    singles = []
    for m in members:
        a = atoms.copy()
        a.calc = PaiNNCalculator(m)
        singles.append((a.get_potential_energy(), a.get_forces()))
    E = np.array([e for e, _ in singles])  # (2,) eV
    F = np.stack([f for _, f in singles])  # (2, N, 3) eV/Å
    assert abs(E[0] - E[1]) > 1e-3  # the members differ: the spread means something

    files = [save_model(m, tmp_path / f"m{k}.painn") for k, m in enumerate(members)]  # files work as models do
    atoms.calc = PaiNNCalculator([members[0], files[1]])
    assert atoms.get_potential_energy() == pytest.approx(E.mean(), rel=1e-6)
    np.testing.assert_allclose(atoms.get_forces(), F.mean(axis=0), rtol=1e-5, atol=1e-6)
    r = atoms.calc.results
    assert set(COMMITTEE_PROPERTIES) <= set(r)
    assert r["energy_std"] == pytest.approx(np.std(E), rel=1e-4)
    assert r["energy_std"] == pytest.approx(abs(E[0] - E[1]) / 2, rel=1e-4)  # divisor K, two members
    np.testing.assert_allclose(r["forces_std"], np.std(F, axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r["committee_energies"], E, rtol=1e-6)
    np.testing.assert_allclose(r["committee_forces"], F, rtol=1e-5, atol=1e-6)
    assert r["forces_std"].shape == (len(atoms), 3)
    assert atoms.calc.get_property("energy_std", atoms) == r["energy_std"]  # an implemented property
    # Moved atoms: the same compiled function, new numbers.
    atoms.rattle(0.02, seed=4)
    e_moved = atoms.get_potential_energy()
    assert e_moved != pytest.approx(E.mean(), rel=1e-9) and len(atoms.calc._fns) == 1


def test_one_model_adds_no_spread(members, sa1am1):
    atoms = sa1am1.copy()
    atoms.calc = PaiNNCalculator(members[0])
    atoms.get_potential_energy()
    assert not set(COMMITTEE_PROPERTIES) & set(atoms.calc.results)
    with pytest.raises(InputError, match="at least one model"):
        PaiNNCalculator([])
