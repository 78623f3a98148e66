"""Bad input gives a clear InputError that names the atom, element or problem.

Through the pure potential (eager calls validate), the ASE calculator and the command line.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms

from painnjax import InputError, PaiNNCalculator, potential
from painnjax.cli import main as cli_main


@pytest.fixture(scope="module")
def water_fn(small_model):
    """A 5-atom potential (H2O + NH2 fragment positions) for validation tests; never compiled."""
    return potential(small_model, ["O", "H", "H", "N", "H"])


GOOD = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0], [3.0, 0.0, 0.0], [3.5, 0.9, 0.0]])


def _names_atoms(msg: str, *indices: int) -> bool:
    return all(re.search(rf"\b{k}\b", msg) for k in indices)


# ---------------------------------------------------------------- species


@pytest.mark.parametrize(
    "species, k, words",
    [
        (["O", "C", "H"], 1, ["C", "Z=6", "H, N, O, S"]),  # an element the model was not trained on
        ([8, 1, 1, 6], 3, ["C", "Z=6"]),
        (["O", "H", "Xx"], 2, ["'Xx'", "unknown element"]),
        ([8, 0, 1], 1, ["Z=0"]),
        ([8, 1, 250], 2, ["Z=250"]),
    ],
    ids=["carbon-symbol", "carbon-number", "Xx", "Z0", "Z250"],
)
def test_unknown_element_in_potential(small_model, species, k, words):
    with pytest.raises(InputError) as exc:
        potential(small_model, species)
    msg = str(exc.value)
    assert f"atom {k}" in msg, msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize(
    "species, word",
    [([], "non-empty"), (np.zeros((2, 2), int), "1-D"), ([1.5, 8.0], "atomic numbers")],
    ids=["empty", "2d", "fractional"],
)
def test_malformed_species(small_model, species, word):
    with pytest.raises(InputError, match=word):
        potential(small_model, species)


def test_empty_atoms_object(small_model):
    with pytest.raises(InputError, match="non-empty"):
        potential(small_model, Atoms())


# ---------------------------------------------------------------- positions through the potential


def test_good_positions_pass(water_fn):
    assert np.isfinite(float(water_fn(jnp.asarray(GOOD))))


def test_overlapping_atoms(water_fn):
    R = GOOD.copy()
    R[4] = R[1] + [0.05, 0.0, 0.0]
    with pytest.raises(InputError, match="overlap") as exc:
        water_fn(jnp.asarray(R))
    msg = str(exc.value)
    assert _names_atoms(msg, 1, 4) and "0.05" in msg, msg


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates(water_fn, bad):
    R = GOOD.copy()
    R[3, 1] = bad
    with pytest.raises(InputError, match="not finite") as exc:
        water_fn(R)
    assert "atom 3" in str(exc.value)


@pytest.mark.parametrize("shape", [(5, 2), (4, 3), (6, 3), (15,), (1, 5, 3)])
def test_wrong_position_shape(water_fn, shape):
    R = np.zeros(shape)
    with pytest.raises(InputError, match="shape") as exc:
        water_fn(R)
    assert "(5, 3)" in str(exc.value) and str(tuple(shape)) in str(exc.value)


def test_wrong_position_shape_under_jit(water_fn):
    with pytest.raises(InputError, match="shape"):
        jax.jit(water_fn)(jnp.zeros((4, 3)))


# ---------------------------------------------------------------- the ASE calculator


@pytest.fixture(scope="module")
def calc(small_model):
    return PaiNNCalculator(small_model)


def test_calculator_unknown_element(calc):
    atoms = Atoms(
        "CH4",
        positions=[[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]],
    )
    atoms.calc = calc
    with pytest.raises(InputError) as exc:
        atoms.get_potential_energy()
    msg = str(exc.value)
    assert "atom 0" in msg and "C" in msg and "Z=6" in msg, msg


def test_calculator_overlapping_atoms(calc):
    atoms = Atoms("OHHNH", positions=GOOD)
    atoms.positions[2] = atoms.positions[0] + [0.0, 0.0, 0.05]
    atoms.calc = calc
    with pytest.raises(InputError, match="overlap") as exc:
        atoms.get_forces()
    msg = str(exc.value)
    assert "0 (O)" in msg and "2 (H)" in msg, msg


def test_calculator_nan_coordinates(calc):
    atoms = Atoms("OHHNH", positions=GOOD)
    atoms.positions[4, 0] = np.nan
    atoms.calc = calc
    with pytest.raises(InputError, match="not finite") as exc:
        atoms.get_potential_energy()
    assert "atom 4" in str(exc.value)


def test_calculator_empty_atoms(calc):
    atoms = Atoms()
    atoms.calc = calc
    with pytest.raises(InputError, match="non-empty"):
        atoms.get_potential_energy()


# ---------------------------------------------------------------- the command line


def test_cli_unknown_element_in_elements_option(tmp_path, capsys):
    rc = cli_main(["convert-schnetpack", str(tmp_path / "in.pt"), str(tmp_path / "out.painn"), "--elements", "H,Xx,O"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error:" in err and "'Xx'" in err and "--elements" in err, err


def test_cli_missing_input(tmp_path, capsys):
    rc = cli_main(["convert-schnetpack", str(tmp_path / "in.pt"), str(tmp_path / "out.painn")])
    assert rc == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "out.painn").exists()


def test_cli_check_with_bad_model(tmp_path, capsys):
    bad = tmp_path / "bad.painn"
    bad.write_text("not a model")
    assert cli_main(["check", "--out", str(tmp_path / "check"), "--sizes", "1", "--model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "bad.painn" in err
