"""Harmonic analysis (md.analysis.harmonic): analytic diatomic, ASE's finite differences, saddle points, CLI."""

from __future__ import annotations

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms, units

from md.analysis.harmonic import NotAMinimumWarning, harmonic_analysis, rigid_body_basis
from painnjax.errors import InputError

K_BOND = 10.0  # eV/Å²
R0_BOND = 1.13  # Å


def diatomic_energy(k=K_BOND, r0=R0_BOND):
    def energy(R, **unused_kwargs):
        return 0.5 * k * (jnp.linalg.norm(R[1] - R[0]) - r0) ** 2

    return energy


def analytic_wavenumber(k, m1, m2) -> float:
    """(1 / 2πc) sqrt(k / μ) in cm⁻¹ from SI constants."""
    mu = m1 * m2 / (m1 + m2) * units._amu
    return float(np.sqrt(k * units._e * 1e20 / mu) / (2 * np.pi * units._c * 100.0))


def co_atoms(r=R0_BOND):
    axis = np.array([0.3, -0.5, 0.8])
    axis /= np.linalg.norm(axis)
    return Atoms("CO", positions=[[0.1, 0.2, -0.3], [0.1, 0.2, -0.3] + r * axis])


def morse_network(numbers, D=1.0, a=1.6):
    """All-pairs Morse potential with rest lengths by element pair (frustrated: needs minimising)."""
    rest = {(1, 1): 1.55, (1, 8): 0.97, (1, 6): 1.09, (6, 8): 1.2, (8, 8): 1.4, (6, 6): 1.5}
    Z = np.asarray(numbers)
    i, j = np.triu_indices(len(Z), k=1)
    r0 = jnp.asarray([rest[tuple(sorted((int(Z[p]), int(Z[q]))))] for p, q in zip(i, j)])
    i, j = jnp.asarray(i), jnp.asarray(j)

    def energy(R, **unused_kwargs):
        d = jnp.linalg.norm(R[i] - R[j], axis=-1)
        return jnp.sum(D * (1.0 - jnp.exp(-a * (d - r0))) ** 2)

    return energy


def jax_calculator(energy_fn):
    from ase.calculators.calculator import Calculator, all_changes

    vg = jax.jit(jax.value_and_grad(energy_fn))

    class JaxCalc(Calculator):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            with jax.enable_x64(True):
                e, g = vg(jnp.asarray(self.atoms.positions, jnp.float64))
            self.results = {"energy": float(e), "forces": -np.asarray(g, np.float64)}

    return JaxCalc()


def test_diatomic_matches_analytic_frequency(x64):
    atoms = co_atoms()
    res = harmonic_analysis(diatomic_energy(), atoms)
    m = atoms.get_masses()
    expected = analytic_wavenumber(K_BOND, m[0], m[1])
    assert res.linear and res.n_removed == 5
    assert res.frequencies.shape == (1,)
    assert abs(res.frequencies[0] - expected) < 0.01, (res.frequencies, expected)
    # P H P: exactly five zeros (the removed rigid-body motions) besides the vibration
    zeros = np.abs(res.projected_frequencies) < 0.1
    assert zeros.sum() == 5 and res.projected_frequencies.shape == (6,)
    # the normal mode is the bond stretch
    bond = atoms.positions[1] - atoms.positions[0]
    mode = res.modes[0]
    assert (
        abs(abs(np.dot(mode[1] - mode[0], bond)) / (np.linalg.norm(mode[1] - mode[0]) * np.linalg.norm(bond)) - 1)
        < 1e-8
    )
    assert res.fmax < 1e-10
    json.dumps(res.to_dict())


def test_rigid_body_basis_counts():
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    assert rigid_body_basis(water.positions, water.get_masses()).shape == (9, 6)
    assert rigid_body_basis(co_atoms().positions, co_atoms().get_masses()).shape == (6, 5)


def test_matches_ase_finite_differences(tmp_path, x64):
    from ase.optimize import BFGS
    from ase.vibrations import Vibrations

    atoms = Atoms(
        "CH3OH",
        positions=[
            [0.0, 0.0, 0.0],
            [1.0, 0.2, 0.1],
            [-0.4, 1.0, 0.0],
            [-0.3, -0.5, 0.9],
            [-0.5, -0.6, -1.1],
            [-0.1, -0.2, -1.9],
        ],
    )
    energy = morse_network(atoms.numbers)
    atoms.calc = jax_calculator(energy)
    assert BFGS(atoms, logfile=None).run(fmax=1e-7, steps=1000)
    res = harmonic_analysis(energy, atoms)
    assert res.n_removed == 6 and res.frequencies.shape == (12,)
    assert np.all(np.diff(res.frequencies) >= 0)
    assert res.frequencies[0] > 50.0  # a minimum
    vib = Vibrations(atoms, name=str(tmp_path / "vib"), delta=0.005, nfree=4)
    vib.run()
    ase_f = vib.get_frequencies()
    ase_f = np.sort(np.real(ase_f[np.argsort(np.abs(ase_f))][6:]))
    np.testing.assert_allclose(res.frequencies, ase_f, atol=0.05)  # seen: 1e-5 cm-1


def test_saddle_point_warns(x64):
    # linear H-O-H relaxed along the line (symmetry keeps it linear): the H-H attraction of the
    # Morse network compresses the O-H bonds, and bending relieves them -- a stationary saddle point
    from ase.optimize import BFGS

    atoms = Atoms("HOH", positions=[[-0.97, 0, 0], [0, 0, 0], [0.97, 0, 0]])
    energy = morse_network(atoms.numbers)
    atoms.calc = jax_calculator(energy)
    assert BFGS(atoms, logfile=None).run(fmax=1e-7, steps=200)
    assert np.allclose(atoms.positions[:, 1:], 0.0)
    with pytest.warns(NotAMinimumWarning, match="imaginary"):
        res = harmonic_analysis(energy, atoms)
    assert res.n_removed == 5 and len(res.frequencies) == 4
    assert np.sum(res.frequencies < -10) == 2  # the degenerate bend
    assert res.imaginary.shape == (2,)
    # a minimum does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotAMinimumWarning)
        harmonic_analysis(diatomic_energy(), co_atoms())


def test_bad_input(x64):
    with pytest.raises(InputError, match="masses"):
        harmonic_analysis(diatomic_energy(), np.zeros((2, 3)))
    with pytest.raises(InputError, match="N >= 2"):
        harmonic_analysis(diatomic_energy(), np.zeros((1, 3)), masses=[1.0])


def _tiny_model_and_water(tmp_path):
    from vib_helpers import tiny_model_file, water

    water().write(tmp_path / "water.xyz")
    return tiny_model_file(tmp_path), tmp_path / "water.xyz"


def test_cli_harmonic(tmp_path, capsys):
    from painnjax.cli import main

    model, water = _tiny_model_and_water(tmp_path)
    out = tmp_path / "freq.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAMinimumWarning)  # random weights: not a minimum
        rc = main(["harmonic", str(model), str(water), "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    f = np.asarray(data["frequencies_cm-1"])
    assert f.shape == (3,) and np.all(np.diff(f) >= 0)
    assert "cm-1" in capsys.readouterr().out
    assert data["n_removed"] == 6 and not data["linear"]
    assert main(["harmonic", str(model), str(tmp_path / "missing.xyz")]) == 2
