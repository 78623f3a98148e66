"""ASE calculator on the pure potential, its compiled-function cache, and the command line."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import rel_err

from painnjax import InputError, PaiNNCalculator, energy_and_forces, potential, save_model
from painnjax.cli import main as cli_main
from painnjax.nn.neighbors import count_pairs


def _key(atoms):
    return tuple(int(z) for z in atoms.numbers)


def test_calculator_equals_pure_potential(small_model, sa2am2):
    atoms = sa2am2.copy()
    atoms.calc = PaiNNCalculator(small_model)
    e = atoms.get_potential_energy()
    F = atoms.get_forces()
    e_ref, F_ref = energy_and_forces(potential(small_model, sa2am2))(jnp.asarray(sa2am2.positions, jnp.float32))
    assert isinstance(e, float) and F.shape == (len(atoms), 3) and F.dtype == np.float64
    assert e == pytest.approx(float(e_ref), rel=1e-6)
    assert rel_err(F, F_ref) < 1e-6
    assert atoms.calc.get_property("free_energy", atoms) == e


def test_calculator_float64_equals_pure_potential(x64, small_model, sa2am2):
    atoms = sa2am2.copy()
    atoms.calc = PaiNNCalculator(small_model, dtype="float64")
    e_ref, F_ref = energy_and_forces(potential(small_model, sa2am2, dtype=jnp.float64))(
        jnp.asarray(sa2am2.positions, jnp.float64)
    )
    assert atoms.get_potential_energy() == pytest.approx(float(e_ref), rel=1e-12)
    assert rel_err(atoms.get_forces(), F_ref) < 1e-12


def test_calculator_reuses_its_compiled_function(small_model, sa2am2):
    calc = PaiNNCalculator(small_model)
    atoms = sa2am2.copy()
    atoms.calc = calc
    e0 = atoms.get_potential_energy()
    assert list(calc._fns) == [_key(atoms)]
    energy_fn, fn = calc._fns[_key(atoms)]
    size = fn._cache_size()
    assert size == 1
    # Same cluster again (a fresh calculation), moved atoms, and another Atoms of the same composition.
    calc.reset()
    assert atoms.get_potential_energy() == e0
    atoms.rattle(0.02, seed=1)
    e1 = atoms.get_potential_energy()
    assert e1 != e0
    other = sa2am2.copy()
    other.calc = calc
    other.get_forces()
    assert len(calc._fns) == 1
    assert calc._fns[_key(atoms)][1] is fn
    assert fn._cache_size() == size
    # A new composition adds exactly one function.
    smaller = sa2am2[[i for i in range(len(sa2am2)) if i != 0]]
    smaller.calc = calc
    smaller.get_potential_energy()
    assert len(calc._fns) == 2


def test_calculator_sparse_list_for_large_clusters(small_model, sa4am4):
    """Above 32 atoms a sparse list sized to the structure is used; it grows when needed."""
    calc = PaiNNCalculator(small_model)
    atoms = sa4am4.copy()
    atoms.calc = calc
    e = atoms.get_potential_energy()
    energy_fn, fn = calc._fns[_key(atoms)]
    assert energy_fn.neighbor_mode == "sparse" and energy_fn.capacity < len(atoms) * (len(atoms) - 1)
    ref = energy_and_forces(potential(small_model, sa4am4, neighbor="all"))
    e_ref, F_ref = ref(jnp.asarray(sa4am4.positions, jnp.float32))
    assert e == pytest.approx(float(e_ref), rel=1e-5)
    assert rel_err(atoms.get_forces(), F_ref) < 1e-5
    atoms.rattle(0.01, seed=2)
    atoms.get_potential_energy()
    assert calc._fns[_key(atoms)][1] is fn and fn._cache_size() == 1
    # Compressed: more pairs than the capacity -> a larger list, still the right energy.
    dense = sa4am4.copy()
    dense.positions = dense.positions * 0.8
    assert count_pairs(dense.positions, energy_fn.cutoff) > energy_fn.capacity
    dense.calc = calc
    e_dense = dense.get_potential_energy()
    e_dense_ref, _ = ref(jnp.asarray(dense.positions, jnp.float32))
    assert np.isfinite(e_dense)
    assert e_dense == pytest.approx(float(e_dense_ref), rel=1e-5)
    assert len(calc._fns) == 1 and calc._fns[_key(atoms)][0].capacity >= count_pairs(dense.positions, 5.0)


def test_calculator_from_model_file(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "m.painn")
    calc = PaiNNCalculator(str(path))
    assert calc.model.config == small_model.config and calc.model.elements == small_model.elements
    for a, b in zip(jax.tree_util.tree_leaves(calc.model.variables), jax.tree_util.tree_leaves(small_model.variables)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_calculator_refuses_periodic_atoms(small_model, sa1am1):
    atoms = sa1am1.copy()
    atoms.cell = [20.0, 20.0, 20.0]
    atoms.pbc = True
    atoms.calc = PaiNNCalculator(small_model)
    with pytest.raises(InputError, match="periodic"):
        atoms.get_potential_energy()
    atoms.pbc = [False, False, True]
    with pytest.raises(InputError, match="periodic"):
        atoms.get_forces()


# ---------------------------------------------------------------- command line


def test_cli_info(tmp_path, small_model, capsys):
    path = save_model(small_model, tmp_path / "m.painn")
    assert cli_main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_parameters"] == small_model.n_parameters
    assert info["config"] == small_model.config.to_dict()
    assert info["metadata"]["elements"] == [1, 7, 8, 16]


def test_cli_info_missing_model(tmp_path, capsys):
    missing = tmp_path / "missing.painn"
    assert cli_main(["info", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "missing.painn" in err


def test_cli_info_corrupt_model(tmp_path, capsys):
    bad = tmp_path / "bad.painn"
    bad.write_text("hello")
    assert cli_main(["info", str(bad)]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_check_writes_summary(tmp_path, capsys):
    out = tmp_path / "check"
    assert cli_main(["check", "--out", str(out), "--sizes", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_parameters"] == 967681  # the default-size seeded model
    (row,) = summary["clusters"]
    assert row["cluster"] == "SA1AM1" and row["atoms"] == 11 and row["neighbor_mode"] == "all"
    e = row["energy_eV"]
    assert np.isfinite(e)
    assert row["rotation_energy_diff_eV"] <= 1e-5 * max(1.0, abs(e))
    assert row["rotation_force_diff_eV_per_A"] <= 1e-4
    assert row["ase_energy_diff_eV"] <= 1e-5 * max(1.0, abs(e))
    assert "summary.json" in capsys.readouterr().out
