"""FIRE minimisation: reaches fmax and lands where ASE's BFGS does on the same potential."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.calculators.mixing import SumCalculator
from ase.optimize import BFGS
from md_helpers import ElasticNetworkCalculator, bound_potential

from md import minimize
from md.clusters import rmsd
from painnjax import InputError, PaiNNCalculator

K = 3.0  # eV/Å^2: springs stiff enough that fmax = 0.01 eV/Å pins the minimum to < 0.01 Å


@pytest.fixture(scope="module")
def energy_f64(small_model, sa1am1):
    with jax.enable_x64(True):
        return bound_potential(small_model, sa1am1, k=K, dtype=jnp.float64)


def test_fire_reaches_fmax_on_the_bfgs_minimum(energy_f64, small_model, sa1am1, x64):
    res = minimize(energy_f64, sa1am1, fmax=0.01, max_steps=2000)
    assert res.converged and res.fmax < 0.01 and res.steps > 10
    # the reported forces are the potential's at the reported positions
    F = -np.asarray(jax.grad(energy_f64)(jnp.asarray(res.positions)))
    np.testing.assert_allclose(res.forces, F, rtol=0, atol=1e-10)
    assert np.sqrt((F**2).sum(axis=1)).max() == pytest.approx(res.fmax, rel=1e-9)
    assert res.energy == pytest.approx(float(energy_f64(jnp.asarray(res.positions))), abs=1e-10)

    # ASE's BFGS on the same potential (PaiNNCalculator + the same springs), converged tightly
    atoms = sa1am1.copy()
    atoms.calc = SumCalculator(
        [PaiNNCalculator(small_model, dtype="float64"), ElasticNetworkCalculator(sa1am1.positions, K)]
    )
    assert BFGS(atoms, logfile=None).run(fmax=1e-4, steps=2000)
    assert rmsd(res.positions, atoms.positions) < 0.01
    assert res.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-3)
    assert res.energy < float(energy_f64(jnp.asarray(sa1am1.positions)))


def test_fire_step_limit_and_bad_options(energy_f64, sa1am1, x64):
    res = minimize(energy_f64, sa1am1, fmax=1e-6, max_steps=7)
    assert not res.converged and res.steps == 7 and res.fmax > 1e-6
    with pytest.raises(InputError, match="fmax must be"):
        minimize(energy_f64, sa1am1, fmax=0.0)
    with pytest.raises(InputError, match="max_steps"):
        minimize(energy_f64, sa1am1, max_steps=-1)
