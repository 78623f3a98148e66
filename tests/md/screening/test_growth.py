"""Growth moves (md.screening.growth, ``painnjax screen --grow-from FILE --add MOLECULE``)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import write
from scipy.spatial.distance import cdist, pdist

from md.screening.candidates import template
from md.screening.growth import grown_candidates
from md.screening.protonation import state_candidates
from painnjax.cli import main as cli_main
from painnjax.errors import InputError


@pytest.fixture(scope="module")
def parents():
    """Three SA1AM1 structures: two ion pairs and one neutral pair, in one atom order."""
    return state_candidates("SA1AM1", 3, seed=4)


def test_a_molecule_is_added_rigidly_next_to_each_parent_in_turn(parents):
    grown = grown_candidates(parents, "am", 6, seed=1)
    assert [a.info["parent"] for a in grown] == [0, 1, 2, 0, 1, 2]  # equal shares, round-robin
    assert {a.info["composition"] for a in grown} == {"SA1AM2"}
    n = len(parents[0])
    am = template("AM")
    for a in grown:
        p = parents[a.info["parent"]]
        assert a.get_chemical_symbols() == p.get_chemical_symbols() + am.get_chemical_symbols()
        np.testing.assert_allclose(pdist(a.positions[:n]), pdist(p.positions), atol=1e-9)  # parent untouched
        np.testing.assert_allclose(pdist(a.positions[n:]), pdist(am.positions), atol=1e-9)  # rigid molecule
        d = cdist(a.positions[n:], a.positions[:n]).min()
        assert 1.5 <= d <= 1.8 + 1e-9  # brought in until it touches the parent
    states = [a.info["state"] for a in grown[:3]]
    parent_states = [p.info["state"] for p in parents]
    assert states == [s.replace("AM1", "AM2") if "AH" not in s else s.replace("AM0", "AM1") for s in parent_states]
    again = grown_candidates(parents, "AM", 2, seed=1)
    np.testing.assert_array_equal(again[1].positions, grown[1].positions)  # candidate k does not depend on n


def test_growth_refuses_bad_requests(parents, tmp_path, capsys):
    with pytest.raises(InputError, match="adds a neutral molecule"):
        grown_candidates(parents, "AH", 2)
    with pytest.raises(InputError, match="same atoms in the same order"):
        grown_candidates([parents[0], parents[0][::-1]], "SA", 2)
    write(tmp_path / "p.extxyz", parents)
    out = str(tmp_path / "o")
    assert cli_main(["screen", "M", "--grow-from", str(tmp_path / "p.extxyz"), "--out", out]) == 2
    assert "--grow-from needs --add" in capsys.readouterr().err
    assert cli_main(["screen", "M", "--add", "SA", "--composition", "SA1AM1", "--out", out]) == 2
    assert "--add needs --grow-from" in capsys.readouterr().err
