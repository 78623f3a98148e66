"""Thermochemistry of structures handed over as minima (settled first) and the monomer cache."""

from __future__ import annotations

import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from test_settle import EPS, linear_saddle, lj

import md.analysis.thermo.workflow as wf
from md.analysis.harmonic import NotAMinimumWarning
from md.analysis.thermo import thermo_of_structures
from md.analysis.thermo.cache import MonomerCacheWarning
from md.clusters import molecule


@pytest.mark.slow
def test_thermo_steps_a_saddle_off_and_says_so(x64):
    atoms = linear_saddle()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (t,) = thermo_of_structures(lambda a: lj, [atoms], [298.15])
    assert t.settled["moved"] and t.settled["is_minimum"]
    assert not len(t.imaginary) and len(t.frequencies) == 3  # a triangle: 3N - 6 real modes
    np.testing.assert_allclose(t.energy, -3 * EPS, atol=1e-6)
    np.testing.assert_allclose(np.asarray(t.settled["positions_A"]).shape, (3, 3))
    assert any("minimised again" in str(w.message) for w in caught if issubclass(w.category, NotAMinimumWarning))
    assert "settled" in t.to_dict()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAMinimumWarning)
        (plain,) = thermo_of_structures(lambda a: lj, [atoms], [298.15], settle=False)
    assert plain.settled is None and len(plain.imaginary) == 2  # the old behaviour: bends left out


def template_potential(atoms):
    """Springs at the template's own distances: the template is the minimum (by construction)."""
    ref = molecule(atoms.info.get("template") or _name(atoms))
    i, j = np.triu_indices(len(ref), 1)
    r0 = jnp.asarray(np.linalg.norm(ref.positions[i] - ref.positions[j], axis=1))

    def energy(R, **unused_kwargs):
        return jnp.sum(0.5 * 5.0 * (jnp.linalg.norm(R[i] - R[j], axis=-1) - r0) ** 2)

    return energy


def _name(atoms):
    return {"H2O": "W", "H3N": "AM", "H2O4S": "SA"}[atoms.get_chemical_formula(mode="hill")]


@pytest.mark.slow
def test_monomers_minimised_once_then_read_back(tmp_path, monkeypatch, x64):
    folder = tmp_path / "cache"
    args = dict(names=("W", "AM"), temperatures=[250.0, 298.15], pressure=101325.0, quasi_harmonic=True)

    def refs():
        return wf._monomer_references(
            lambda: lambda frames: template_potential(frames[0]),
            args["names"],
            args["temperatures"],
            args["pressure"],
            args["quasi_harmonic"],
            "float64",
            qh_cutoff=100.0,
            qh_alpha=4,
            fmax=1e-3,
            max_steps=500,
            cache=folder,
            identity="sha256:" + "ab" * 32,
        )

    first = refs()
    (path,) = folder.glob("*.json")
    assert set(json.loads(path.read_text())["monomers"]) == {"W", "AM"}

    def no_minimisation(*a, **k):
        raise AssertionError("the cached monomers must not be minimised again")

    monkeypatch.setattr(wf, "_monomer_entry", no_minimisation)
    second = refs()
    for name in ("W", "AM"):
        assert second[name].energy == first[name].energy
        np.testing.assert_array_equal(second[name].frequencies, first[name].frequencies)
        np.testing.assert_array_equal(second[name].gibbs, first[name].gibbs)
    # other temperatures: the same cache serves (it holds no temperature-dependent numbers)
    args["temperatures"] = [300.0]
    assert refs()["W"].temperatures.tolist() == [300.0]

    # a damaged file: warned about, computed again, rewritten
    monkeypatch.undo()
    path.write_text('{"version": 1, "monomers": {"W": {"energy_eV": "x"}}}')
    with pytest.warns(MonomerCacheWarning, match="unreadable"):
        again = refs()
    assert again["W"].energy == pytest.approx(first["W"].energy, abs=1e-12)
    assert "positions_A" in json.loads(path.read_text())["monomers"]["W"]
