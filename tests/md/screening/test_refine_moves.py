"""The refinement's moves and stop rule (md.screening.refine, issue 29): cut-and-splice, the weakest-bound
molecule to the surface, proton hops, the stop when the lowest minimum no longer improves, and how often
the lowest minimum was found."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from lj_helpers import EPS, LJ7_MINIMA, lj, random_lj_starts
from scipy.spatial.distance import cdist, pdist
from scipy.spatial.transform import Rotation

from md.clusters import molecules
from md.screening.candidates import random_candidates, template
from md.screening.config import DEFAULT_KINDS, RefineConfig, ScreenConfig
from md.screening.folder import screen_to_folder
from md.screening.protonation import detect_state
from md.screening.refine import (
    found_counts,
    perturbations,
    proton_hopped,
    proton_hops,
    refine_candidates,
    same_molecules,
    spliced,
    stalled,
    surfaced,
    weakest_molecule,
)
from md.screening.screen import screen
from painnjax.cli import build_parser, screening
from painnjax.errors import InputError
from painnjax.units import KCAL_PER_MOL


def _cluster(names, seed, *, radius=3.6, noise=0.0):
    """Rigid templates ``names`` at random orientations, centres on a sphere of ``radius`` Å, no two atoms of
    different molecules within 2.3 Å (so :func:`md.clusters.molecules` finds each one); ``noise`` Å of
    random displacement on every atom (other internal geometries than the templates')."""
    rng = np.random.default_rng(seed)
    while True:
        parts = []
        for name in names:
            t = template(name)
            u = rng.normal(size=3)
            turned = t.positions @ Rotation.random(random_state=rng).as_matrix().T
            parts.append((t, turned + radius * u / np.linalg.norm(u)))
        R = np.concatenate([p for _, p in parts])
        label = np.concatenate([[i] * len(t) for i, (t, _) in enumerate(parts)])
        d = cdist(R, R)
        if d[label[:, None] != label[None]].min() > 2.3:
            break
    atoms = Atoms([s for t, _ in parts for s in t.get_chemical_symbols()], positions=R)
    atoms.positions += noise * rng.normal(size=R.shape)
    assert len(molecules(atoms)) == len(names)
    return atoms


def _sa1am1_pair():
    """Neutral H2SO4 + NH3 with one O-H pointing at the N (H...N 1.7 Å): the start of a proton hop."""
    sa, am = template("SA"), template("AM")
    R = sa.positions
    h = 0  # the first H, bound to its nearest O
    o = 2 + int(np.argmin(np.linalg.norm(R[2:6] - R[h], axis=1)))
    d = (R[h] - R[o]) / np.linalg.norm(R[h] - R[o])
    X = am.positions - am.positions[3]
    lone = -(X[:3].mean(axis=0))  # the lone pair, from the N away from its H
    rot, _ = Rotation.align_vectors([-d], [lone / np.linalg.norm(lone)])
    X = rot.apply(X) + R[h] + 1.7 * d
    atoms = Atoms(sa.get_chemical_symbols() + am.get_chemical_symbols(), positions=np.concatenate([R, X]))
    assert detect_state(atoms)[1] == "SA1AM1" and len(molecules(atoms)) == 2
    return atoms


def _as_minimum(atoms, composition):
    atoms.info.update(composition=composition, final_state=detect_state(atoms)[1])
    return atoms


# ----------------------------------------------------------------------------------------- the moves


def test_every_move_keeps_the_atoms_and_their_order():
    a = _as_minimum(_cluster(["SA", "SA", "AM", "AM"], 0), "SA2AM2")
    b = _as_minimum(_cluster(["SA", "SA", "AM", "AM"], 1), "SA2AM2")
    rng = np.random.default_rng(0)
    children = [perturbations(a, 1, rng)[0], spliced(a, b, rng), surfaced(a, rng), proton_hopped(_sa1am1_pair(), rng)]
    parents = [a, a, a, _sa1am1_pair()]
    for child, parent in zip(children, parents, strict=True):
        assert child is not None
        np.testing.assert_array_equal(child.numbers, parent.numbers)
        assert child.calc is None and not np.array_equal(child.positions, parent.positions)


def test_splice_keeps_the_molecules_and_takes_them_from_both_parents():
    a = _cluster(["SA", "SA", "AM", "AM"], 0)
    # the partner: other positions, internal geometries and atom order (ammonia first)
    b = _cluster(["AM", "SA", "AM", "SA"], 1, noise=0.03)
    assert same_molecules(a, b)
    for seed in range(6):
        child = spliced(a, b, np.random.default_rng(seed))
        np.testing.assert_array_equal(child.numbers, a.numbers)  # the parent's atom list, whatever b's order
        mols = molecules(a)  # the child's molecules are in the parent's atom slots (molecules(child) may join
        # two that the splice left 1.2-2 Å apart)
        for m in mols:  # each slot holds a whole molecule: its bonds are those of a molecule of a or b
            assert len(molecules(child[m])) == 1
        from_a = [m for m in mols if np.array_equal(child.positions[m], a.positions[m])]
        rest = [m for m in mols if not np.array_equal(child.positions[m], a.positions[m])]
        assert len(from_a) == 2 and len(rest) == 2  # half of four from each
        for m in rest:  # a rigid copy of one of b's molecules (b's internal distances, not a's)
            f = child[m].get_chemical_formula()
            ds = np.sort(pdist(child.positions[m]))
            assert any(
                b[mb].get_chemical_formula() == f and np.allclose(np.sort(pdist(b.positions[mb])), ds, atol=1e-9)
                for mb in molecules(b)
            )
        kept = np.concatenate(from_a)
        moved = np.concatenate(rest)
        assert cdist(child.positions[kept], child.positions[moved]).min() >= 1.2  # the halves do not clash


def test_splice_needs_the_same_molecules():
    neutral = _cluster(["SA", "AM"], 0)
    ions = _cluster(["B", "AH"], 0)
    assert not same_molecules(neutral, ions)
    assert spliced(neutral, ions, np.random.default_rng(0)) is None
    w = Atoms("H2O", positions=template("W").positions)
    assert spliced(w, w.copy(), np.random.default_rng(0)) is None  # one molecule


def test_surface_moves_the_weakest_bound_molecule_outside_the_rest():
    atoms = _cluster(["SA", "AM", "W"], 3, radius=2.6)
    far = atoms.copy()
    mols = molecules(far)
    w = next(i for i, m in enumerate(mols) if far[m].get_chemical_formula() == "H2O")
    far.positions[mols[w]] += [9.0, 0.0, 0.0]  # the water, out of contact: the weakest bound
    assert weakest_molecule(far) == w
    i = weakest_molecule(atoms)
    idx = mols[i]
    rest = np.setdiff1d(np.arange(len(atoms)), idx)
    for seed in range(5):
        child = surfaced(atoms, np.random.default_rng(seed))
        np.testing.assert_array_equal(child.positions[rest], atoms.positions[rest])  # the rest stays
        np.testing.assert_allclose(pdist(child.positions[idx]), pdist(atoms.positions[idx]), atol=1e-9)  # rigid
        gap = cdist(child.positions[idx], child.positions[rest]).min()
        assert 1.75 < gap <= 1.8  # brought in until it touches: on the surface, not inside
        centre = child.positions[rest].mean(axis=0)
        radius = np.sqrt(np.mean(np.sum((child.positions[rest] - centre) ** 2, axis=1)))
        assert np.linalg.norm(child.positions[idx].mean(axis=0) - centre) > radius


def test_a_proton_hop_changes_the_protonation_state_both_ways():
    pair = _sa1am1_pair()
    assert len(proton_hops(pair)) == 1  # the one O-H pointing at the N
    ions = proton_hopped(pair, np.random.default_rng(0))
    assert detect_state(ions)[1] == "SA0B1AM0AH1"
    moved = np.flatnonzero(np.any(ions.positions != pair.positions, axis=1))
    assert moved.tolist() == [0]  # the proton alone
    n = len(pair) - 1
    assert abs(np.linalg.norm(ions.positions[0] - ions.positions[n]) - 1.02) < 1e-9
    back = proton_hopped(ions, np.random.default_rng(0))  # NH4+ gives it back: to an O of the bisulfate
    assert back is not None and detect_state(back)[1] == "SA1AM1"
    assert proton_hopped(_cluster(["SA", "AM"], 0, radius=6.0), np.random.default_rng(0)) is None  # none in reach


def test_refine_candidates_make_one_child_of_each_kind_and_record_it():
    minima = [
        _as_minimum(_sa1am1_pair(), "SA1AM1"),
        _as_minimum(_cluster(["SA", "AM"], 5, radius=2.5), "SA1AM1"),
        _as_minimum(_cluster(["SA", "AM"], 6, radius=2.5), "SA1AM1"),
    ]
    energies, converged = [-3.0, -2.0, -1.0], [True, True, True]
    kw = dict(round_=2, start=3, top=3, moves=4, seed=7)
    new = refine_candidates(minima, energies, converged, **kw)
    assert [a.info["move"] for a in new[:4]] == list(DEFAULT_KINDS)  # child j: kinds[j % 4]
    assert [a.info["parent"] for a in new] == [0] * 4 + [1] * 4 + [2] * 4
    assert [a.info["candidate"] for a in new] == list(range(3, 15))
    assert all(a.info["partner"] in (1, 2) for a in new[:4] if a.info["move"] == "splice")
    hop = new[3]
    assert hop.info["state"] == detect_state(hop)[1] == "SA0B1AM0AH1" != minima[0].info["final_state"]
    for a in new:
        np.testing.assert_array_equal(a.numbers, minima[0].numbers)
        assert a.info["composition"] == "SA1AM1" and a.info["refine_round"] == 2
    again = refine_candidates(minima, energies, converged, **kw)  # seeded: the same
    for x, y in zip(new, again, strict=True):
        np.testing.assert_array_equal(x.positions, y.positions)
        assert x.info == y.info
    other = refine_candidates(minima, energies, converged, **{**kw, "seed": 8})
    assert not all(np.array_equal(x.positions, y.positions) for x, y in zip(new, other))


def test_perturbations_alone_make_the_candidates_they_made_before():
    """kinds=("perturb",) draws what the refinement drew before the other moves: the same candidates."""
    minima = random_lj_starts(3)
    for a in minima:
        a.info.update(composition="Ar7", final_state="other")
    new = refine_candidates(minima, [-3.0, -2.0, -1.0], [True] * 3, round_=1, start=3, top=2, moves=3,
                            kinds=("perturb",), seed=4)  # fmt: skip
    rng = np.random.default_rng([4, 1])
    before = perturbations(minima[0], 3, rng) + perturbations(minima[1], 3, rng)
    for x, y in zip(new, before, strict=True):
        np.testing.assert_array_equal(x.positions, y.positions)
    assert {a.info["move"] for a in new} == {"perturb"} and "partner" not in new[0].info


def test_a_move_that_cannot_be_made_is_a_perturbation():
    """One parent (no partner to splice with), a cluster of atoms (no proton): perturbations instead."""
    minima = random_lj_starts(1)
    minima[0].info.update(composition="Ar7", final_state="other")
    new = refine_candidates(minima, [-1.0], [True], round_=0, start=1, top=4, moves=4)
    assert [a.info["move"] for a in new] == ["perturb", "perturb", "surface", "perturb"]


def test_the_default_moves_find_the_lj7_global_minimum_more_often_than_perturbations():
    """Twelve screens of one random LJ7 start and three rounds: the default moves reach the global minimum
    in more of them than perturbations alone (measured when written: 10 and 5 of 12)."""
    hits = {}
    for kinds in (("perturb",), DEFAULT_KINDS):
        hits[kinds] = 0
        for seed in range(12):
            refine = {"rounds": 3, "top": 2, "moves": 6, "kinds": kinds, "seed": seed, "patience": 0}
            res = screen(lj(7), random_lj_starts(1, seed=seed), fmax=1e-3, max_steps=3000, refine=refine)
            hits[kinds] += abs(res.energies[res.ranked[0]] / EPS - LJ7_MINIMA[0]) < 1e-3
    assert hits[DEFAULT_KINDS] > hits[("perturb",)], hits


# ----------------------------------------------------------------------------------- the stop rule


def test_the_stop_rule_on_a_constructed_sequence():
    w = 0.1 * KCAL_PER_MOL  # the energy window, eV
    flat = [{"X": -1.0}, {"X": -2.0}, {"X": -2.0}, {"X": -2.0 - 0.5 * w}, {"X": -2.0 - 0.9 * w}]
    stops = [stalled(flat[: i + 1], 3, 0.1) for i in range(len(flat))]
    assert stops == [False, False, False, False, True]  # rounds 2-4 gained less than the window together
    creeping = [{"X": -1.0 - 0.4 * w * i} for i in range(6)]  # each round under the window, three over it
    assert not any(stalled(creeping[: i + 1], 3, 0.1) for i in range(6))
    assert stalled(creeping, 3, 0.2)  # a wider window: it stops
    two = [{"X": -1.0, "Y": -5.0 - i} for i in range(5)]  # X stuck, Y improving: go on
    assert not any(stalled(two[: i + 1], 2, 0.1) for i in range(5))
    assert not any(stalled(flat[: i + 1], 0, 0.1) for i in range(len(flat)))  # patience 0: never
    none = [{"X": np.inf}, {"X": np.inf}, {"X": -1.0}, {"X": -1.0}]  # none converged, then one
    assert [stalled(none[: i + 1], 1, 0.1) for i in range(4)] == [False, True, False, True]


def test_screen_stops_when_the_lowest_minimum_no_longer_improves(tmp_path):
    lines = []
    refine = {"rounds": 8, "top": 2, "moves": 2, "patience": 1}
    kw = dict(fmax=1e-3, max_steps=3000, slots=2, keep=3, plot=False, refine=refine)
    res = screen_to_folder(lj(7), random_lj_starts(4), tmp_path / "s", log=lines.append, **kw)
    search = res.search
    assert search["stopped"] == "patience" and search["rounds"] < 8
    assert len(res.energies) == 4 + search["rounds"] * 2 * 2  # no round after the stop
    low = search["lowest_eV"]["Ar7"]
    assert len(low) == search["rounds"] + 1 and low[-2] - low[-1] <= 0.1 * KCAL_PER_MOL
    assert all(low[i] - low[i + 1] > 0.1 * KCAL_PER_MOL for i in range(len(low) - 2))  # each earlier one improved
    record = json.loads((tmp_path / "s" / "screen.json").read_text())
    assert record["search"] == search and record["settings"]["refine"]["patience"] == 1
    assert record["found"]["Ar7"]["found"] == res.found["Ar7"]["found"]
    r = search["rounds"]
    assert f"search stopped after round {r} of 8: no improvement > 0.1 kcal/mol in 1 round" in "\n".join(lines)


# ------------------------------------------------------------------------------------ found counts


def test_found_counts_follow_the_ancestry():
    """Candidates 0-2 given; 3 a child of 0, 4 of 3, 5 of 2, 6 a splice of 0 with 2, 7 a child of 3 that did
    not converge, 8 a child of 5 in another minimum, 9 a child of 8. The lowest is 2; 1, 4, 5, 6 and 9 are
    duplicates of it. Independently: 1 and 2 (given) and 4 (none of its ancestors is one of them)."""
    same_as = np.array([0, 2, 2, 3, 2, 2, 2, 7, 8, 2])
    converged = np.array([True] * 7 + [False] + [True] * 2)
    energies = np.array([-1.0, -2.0, -2.0, -1.5, -2.0, -2.0, -2.0, np.nan, -1.2, -2.0])
    parents = [None, None, None, 0, 3, 2, 0, 3, 5, 8]
    partners = [None] * 6 + [2] + [None] * 3
    found = found_counts(same_as, converged, energies, ["X"] * 10, np.array([2, 3, 8, 0]), 3, parents, partners)
    assert found == {"X": {"candidate": 2, "energy_eV": -2.0, "found": 6, "independently": 3}}
    # the given candidates' own "parent" (e.g. grown ones: a minimum of another screen) is not followed
    found = found_counts(same_as, converged, energies, ["X"] * 10, np.array([2]), 3, [5, 5, 5, *parents[3:]], partners)
    assert found["X"]["independently"] == 3


def test_screen_reports_how_often_its_lowest_minimum_was_found(tmp_path):
    lines = []
    kw = dict(fmax=1e-3, max_steps=3000, slots=2, keep=3, plot=False)
    res = screen_to_folder(lj(7), random_lj_starts(6), tmp_path / "s", log=lines.append, **kw)  # no refinement
    best = int(res.ranked[0])
    hits = int(sum(res.converged[k] and res.same_as[k] == best for k in range(6)))
    assert res.found == {
        "Ar7": {"candidate": best, "energy_eV": float(res.energies[best]), "found": hits, "independently": hits}
    }
    assert res.search is None
    text = "\n".join(lines)
    assert f"Ar7: lowest minimum {res.energies[best]:.5f} eV (candidate {best}) found {hits} time" in text
    assert f"({hits} independently); no refinement" in text


# ------------------------------------------------------------------------------- config and options


def test_refine_config_checks_the_kinds():
    assert RefineConfig().kinds == DEFAULT_KINDS and RefineConfig().patience == 3 and RefineConfig().rounds == 10
    assert RefineConfig(kinds=["splice", "perturb"]).kinds == ("splice", "perturb")  # a TOML list
    assert RefineConfig(kinds="surface, proton").kinds == ("surface", "proton")
    for bad, message in [
        ("swap", r"unknown move 'swap'; known: perturb, splice, surface, proton, water$"),
        ([], "must be one or more of"),
        (("perturb", "perturb"), "perturb given more than once"),
        (3, "must be one or more of"),
    ]:
        with pytest.raises(InputError, match=rf"^\[refine\] kinds: {message}"):
            RefineConfig(kinds=bad)
    with pytest.raises(InputError, match=r"^\[refine\] patience: "):
        RefineConfig(patience=-1)


def test_the_record_of_perturbations_alone_is_the_one_before_the_moves():
    """A refinement of perturbations run every round records what it recorded before the moves and the stop
    rule (a screen begun then resumes); any other records its kinds, patience, window and tolerance."""
    old = ScreenConfig(refine={"rounds": 3, "kinds": ("perturb",), "patience": 0}).record()["refine"]
    assert old == {"rounds": 3, "top": 4, "moves": 4, "seed": 0, "angle": 60.0, "shift": 0.5}
    new = ScreenConfig(energy_window=0.2, refine=True).record()["refine"]
    assert new["kinds"] == list(DEFAULT_KINDS) and new["patience"] == 3
    assert (new["energy_window_kcal_mol"], new["tolerance_A"]) == (0.2, 0.03)


def test_cli_options_of_the_moves_and_the_stop_rule():
    def config(*argv):
        args = build_parser().parse_args(["screen", "M", "--composition", "SA1AM1", "--out", "o", *argv])
        return screening._config(args)

    cfg = config("--refine-kinds", "splice,proton", "--refine-patience", "0")
    assert cfg.refine.kinds == ("splice", "proton") and cfg.refine.patience == 0
    assert config().refine == RefineConfig()
    with pytest.raises(InputError, match=r"^--refine-kinds: unknown move 'cut'"):
        config("--refine-kinds", "perturb,cut")
    with pytest.raises(InputError, match=r"^--refine-patience: must be an integer >= 0"):
        config("--refine-patience", "-2")


def test_unnamed_minima_are_no_parents_while_named_ones_exist_and_are_warned_about():
    """A minimum in no named state (SO3 + O2- and the like, where a model has left its data) is not
    refined while the composition has minima in named states, and a screen whose lowest minimum is
    one says so with how far below the lowest named minimum it lies."""
    from types import SimpleNamespace

    from md.screening.report import unnamed_lowest

    base = random_candidates({"SA": 1, "AM": 1}, 2, seed=0)
    minima = []
    for k, (a, state) in enumerate(zip(base, ["other", "SA0B1AM0AH1"])):
        a = a.copy()
        a.info.update(composition="SA1AM1", final_state=state)
        minima.append(a)
    new = refine_candidates(minima, [-10.0, -9.0], [True, True], round_=0, start=2, top=1, moves=2, seed=0)
    assert {c.info["parent"] for c in new} == {1}
    # with every minimum unnamed (clusters of other molecules), the lowest is refined as before
    for a in minima:
        a.info["final_state"] = "other"
    new = refine_candidates(minima, [-10.0, -9.0], [True, True], round_=0, start=2, top=1, moves=2, seed=0)
    assert {c.info["parent"] for c in new} == {0}

    res = SimpleNamespace(ranked=[0, 1, 2], compositions=["SA1AM1"] * 3, final_states=["other", "other", "SA1AM1"])
    (msg,) = unnamed_lowest(res, np.array([0.0, 3.0, 25.5]))
    assert "candidate 0" in msg and "25.50 kcal/mol below" in msg and "candidate 2, SA1AM1" in msg
    res.final_states = ["SA1AM1", "other", "other"]
    assert unnamed_lowest(res, np.array([0.0, 3.0, 25.5])) == []
