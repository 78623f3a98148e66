"""Refinement of a screen's lowest minima by perturbation (md.screening.refine, ``screen(refine=...)``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lj_helpers import EPS, LJ7_MINIMA, lj, random_lj_starts
from scipy.spatial.distance import pdist

from md.clusters import molecules
from md.screening.candidates import random_candidates
from md.screening.folder import screen_to_folder
from md.screening.refine import perturbations, refine_candidates
from md.screening.screen import screen
from painnjax.errors import InputError

LJ7 = lj(7)


def test_a_perturbation_moves_one_molecule_rigidly():
    atoms = random_candidates("SA2AM1", 1, seed=3)[0]
    mols = molecules(atoms)
    assert len(mols) == 3
    out = perturbations(atoms, 6, np.random.default_rng(0))
    again = perturbations(atoms, 6, np.random.default_rng(0))
    for a, b in zip(out, again):  # seeded
        np.testing.assert_array_equal(a.positions, b.positions)
    for a in out:
        moved = [m for m in mols if not np.allclose(a.positions[m], atoms.positions[m])]
        assert len(moved) == 1  # one molecule, the others untouched
        m = moved[0]
        np.testing.assert_allclose(pdist(a.positions[m]), pdist(atoms.positions[m]), atol=1e-10)  # rigid
        rest = np.setdiff1d(np.arange(len(atoms)), m)
        assert np.linalg.norm(a.positions[m][:, None] - a.positions[rest][None], axis=-1).min() >= 1.2
        assert a.get_chemical_symbols() == atoms.get_chemical_symbols()


def test_refinement_starts_from_the_lowest_distinct_minima():
    minima = random_lj_starts(5)
    for k, a in enumerate(minima):
        a.info.update(composition="Ar7", final_state="other")
    energies = [-1.0, -3.0, -3.0, -2.0, -5.0]  # 2 duplicates 1 only if the structures match: they do not
    minima[2] = minima[1].copy()  # a true duplicate of candidate 1
    minima[2].info.update(composition="Ar7")
    converged = [True, True, True, True, False]  # the lowest did not converge: never a parent
    new = refine_candidates(minima, energies, converged, round_=0, start=5, top=2, moves=3)
    assert len(new) == 6 and [a.info["candidate"] for a in new] == list(range(5, 11))
    assert [a.info["parent"] for a in new] == [1, 1, 1, 3, 3, 3]
    assert all(a.info["refine_round"] == 0 and a.info["composition"] == "Ar7" for a in new)
    with pytest.raises(InputError, match="refine top must be a whole number >= 1"):
        refine_candidates(minima, energies, converged, round_=0, start=5, top=0)


def test_refinement_finds_the_lj7_global_minimum_the_candidates_missed(tmp_path):
    starts = random_lj_starts(1)  # one start: it ends in a higher minimum
    plain = screen(LJ7, starts, fmax=1e-3, max_steps=3000)
    assert abs(plain.energies[plain.ranked[0]] / EPS - LJ7_MINIMA[0]) > 0.1
    # perturbations alone, every round: the refinement before the other moves and the stop rule, which
    # makes the candidates it made then (the same draws) and records its settings as it did
    res_refine = {"rounds": 3, "top": 2, "moves": 6, "shift": 2.0, "kinds": ("perturb",), "patience": 0}
    res = screen_to_folder(
        LJ7,
        starts,
        tmp_path / "s",
        fmax=1e-3,
        max_steps=3000,
        refine=res_refine,
        log=None,
    )
    assert res.given == 1 and len(res.energies) > 1
    assert abs(res.energies[res.ranked[0]] / EPS - LJ7_MINIMA[0]) < 1e-3  # found by the refinement
    summary = json.loads((tmp_path / "s" / "screen.json").read_text())
    assert summary["lowest_from_refinement"] and summary["refinement_candidates"] == len(res.energies) - 1
    assert summary["settings"]["refine"] == {"rounds": 3, "top": 2, "moves": 6, "seed": 0, "angle": 60.0, "shift": 2.0}
    header, *rows = (tmp_path / "s" / "summary.csv").read_text().splitlines()
    cols = header.split(",")
    assert cols[-5:] == ["force_calls", "parent", "refine_round", "move", "partner"]
    assert rows[0].split(",")[-4:] == ["", "", "", ""] and rows[1].split(",")[-4:] == ["0", "0", "perturb", ""]
    assert all(int(r.split(",")[cols.index("force_calls")]) >= 1 for r in rows)
    # resumed: the refinement candidates are made again from the minima read back, none minimised again
    table = (tmp_path / "s" / "summary.csv").read_text()
    again = screen_to_folder(
        LJ7, starts, tmp_path / "s", fmax=1e-3, max_steps=3000, refine=res_refine, log=None, resume=True
    )
    assert again.resumed == len(res.energies) == len(again.energies)
    assert (tmp_path / "s" / "summary.csv").read_text() == table
