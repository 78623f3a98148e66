"""md.screening.candidates: compositions, ion templates, random screening candidates, reading candidates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist, pdist

from md.clusters import molecule, rmsd
from md.screening.candidates import (
    composition_name,
    parse_composition,
    random_candidates,
    read_candidates,
    sphere_radius,
    template,
)
from painnjax.data.composition import composition_of
from painnjax.data.molecules import ION_TEMPLATES, TEMPLATES
from painnjax.errors import InputError

SIZES = {"SA": 7, "B": 6, "SO4": 5, "AM": 4, "AH": 5, "W": 3}


def blocks(atoms, comp: dict[str, int]) -> list[tuple[str, np.ndarray]]:
    """(name, positions) of each molecule, cut from the atom order the module promises."""
    out, start = [], 0
    for name, c in comp.items():
        for _ in range(c):
            out.append((name, atoms.positions[start : start + SIZES[name]]))
            start += SIZES[name]
    assert start == len(atoms)
    return out


def n_components(parts, contact: float) -> int:
    """Connected components of the molecule graph (edge: nearest atoms within ``contact`` Å)."""
    n = len(parts)
    adj = np.array([[i != j and cdist(parts[i], parts[j]).min() <= contact for j in range(n)] for i in range(n)])
    return connected_components(adj, directed=False)[0]


def min_intermolecular(parts) -> float:
    return min(cdist(a, b).min() for i, a in enumerate(parts) for b in parts[i + 1 :])


# --------------------------------------------------------------------------------------------
# Compositions


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SA4AM4", {"SA": 4, "AM": 4}),
        ("sa4am4", {"SA": 4, "AM": 4}),
        ("SA4-AM4", {"SA": 4, "AM": 4}),
        ("SA4 AM4", {"SA": 4, "AM": 4}),
        ("SA4_AM4", {"SA": 4, "AM": 4}),
        ("  Sa2, am1 , w3 ", {"SA": 2, "AM": 1, "W": 3}),
        ("SA2AM1W3", {"SA": 2, "AM": 1, "W": 3}),
        ("SA1AM", {"SA": 1, "AM": 1}),
        ("SAAM", {"SA": 1, "AM": 1}),
        ("SA12AM10", {"SA": 12, "AM": 10}),
        ("SA3B1AM2AH1", {"SA": 3, "B": 1, "AM": 2, "AH": 1}),
        ("AH1AM2B1SA3", {"SA": 3, "B": 1, "AM": 2, "AH": 1}),
        ("B2AH2", {"B": 2, "AH": 2}),
        ("W5", {"W": 5}),
        ("SA0AM1W2", {"AM": 1, "W": 2}),
        ("SA0B1SO41AM0AH3", {"B": 1, "SO4": 1, "AH": 3}),  # the digit of SO4 is part of its name
        ("SO42AH4", {"SO4": 2, "AH": 4}),
        ("so4 1, ah 2", {"SO4": 1, "AH": 2}),
        ("AH3SO4B", {"B": 1, "SO4": 1, "AH": 3}),
        ("SASO4AMAH2", {"SA": 1, "SO4": 1, "AM": 1, "AH": 2}),
        ("SA2B1SO41AM1AH3W2", {"SA": 2, "B": 1, "SO4": 1, "AM": 1, "AH": 3, "W": 2}),
        ("SO412AH24", {"SO4": 12, "AH": 24}),
    ],
)
def test_parse_valid(text, expected):
    got = parse_composition(text)
    assert got == expected
    assert list(got) == [k for k in ("SA", "B", "SO4", "AM", "AH", "W") if k in expected]  # canonical order


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty composition"),
        ("   ", "empty composition"),
        ("SA4DMA2", r"unknown molecule 'DMA'.*SA .*B .*AM .*AH .*W "),
        ("water3", "unknown molecule 'water'"),
        ("SA0AM0", "no molecules"),
        ("W0", "no molecules"),
        ("SA-1AM4", "negative count -1 for SA"),
        ("SA4.5AM4", r"unexpected '\.'"),
        ("SA4+AM4", r"unexpected '\+'"),
        ("4SA", "count 4 has no molecule name"),
        ("SA4 4", "count 4 has no molecule name"),
        ("SA2AM2SA1", "SA is given twice"),
        ("SO2AH", "unknown molecule 'SO'"),
        ("SO4AH2SO41", "SO4 is given twice"),
        (None, "must be a string"),
        (44, "must be a string"),
    ],
)
def test_parse_errors(text, match):
    with pytest.raises(InputError, match=match):
        parse_composition(text)


@pytest.mark.parametrize(
    "text, charge",
    [
        ("B1", "-1"),
        ("SA2B1AM1", "-1"),
        ("AH2", r"\+2"),
        ("B1AH3", r"\+2"),
        ("SA1B3AH1", "-2"),
        ("SO41AH1", "-1"),
        ("B1SO41AH2", "-1"),
        ("SO41AH3", r"\+1"),
    ],
)
def test_charge_must_balance(text, charge):
    with pytest.raises(InputError, match=rf"net charge {charge} e.*B .*balanced by .*AH.*neutral"):
        parse_composition(text)


def test_charge_balanced_ions_and_dicts():
    assert parse_composition("SA1B2AM1AH2") == {"SA": 1, "B": 2, "AM": 1, "AH": 2}
    with pytest.raises(InputError, match="net charge"):
        random_candidates({"B": 1, "AM": 1}, 1)
    with pytest.raises(InputError, match="whole number"):
        random_candidates({"SA": 1.5}, 1)
    with pytest.raises(InputError, match="unknown molecule 'DMA'"):
        random_candidates({"SA": 1, "DMA": 1}, 1)


def test_composition_name():
    assert composition_name({"AM": 4, "SA": 4}) == "SA4AM4"
    assert composition_name("am1 sa2 w3") == "SA2AM1W3"
    assert composition_name({"SA": 3, "AH": 1, "AM": 2, "B": 1}) == "SA3B1AM2AH1"
    assert composition_name({"W": 2, "AM": 1}) == "SA0AM1W2"  # as painnjax.data.dataset names it
    assert composition_name("ah3 b1 so4 1") == "SA0B1SO41AM0AH3"
    for text in ("SA3B1AM2AH1", "w4", "SA1AM", "B2AH2", "SO41AH2", "SA0B5SO41AM1AH7", "SO410AH20W1"):
        assert parse_composition(composition_name(text)) == parse_composition(text)


def test_names_are_prefix_free():
    """No name begins another or the run of letters of another: a word of names splits one way only, and the
    count after SO4 is its count (SO41 = one SO4; no name SO could take a count 41)."""
    from md.screening.candidates import NAMES

    assert list(NAMES) == ["SA", "B", "SO4", "AM", "AH", "W"]
    for a in NAMES:
        for b in NAMES:
            letters = b.rstrip("0123456789")
            assert a == b or not (b.startswith(a) or letters.startswith(a)), (a, b)


def test_sphere_radius_grows_with_volume():
    r1, r8, r27 = (sphere_radius(f"SA{n}") for n in (1, 8, 27))
    assert r8 == pytest.approx(2 * r1) and r27 == pytest.approx(3 * r1)  # cube root of the volume
    assert sphere_radius("W4") < sphere_radius("AM4") < sphere_radius("SA4")
    assert sphere_radius("SA4AM4", density=3.0) < sphere_radius("SA4AM4")
    assert 3.5 < sphere_radius("SA4AM4") < 6.0  # a few Å: a molecular cluster, not a gas


# --------------------------------------------------------------------------------------------
# Templates


def bonds(atoms, a: str, b: str) -> np.ndarray:
    """Shortest a-b distance of each ``a`` atom."""
    sym = np.array(atoms.get_chemical_symbols())
    return cdist(atoms.positions[sym == a], atoms.positions[sym == b]).min(axis=1)


def test_bisulfate_template():
    b = template("B")
    assert b.get_chemical_formula(mode="hill") == ION_TEMPLATES["B"][0] == "HO4S"
    s_o = np.sort(cdist(b.positions[b.numbers == 16], b.positions[b.numbers == 8])[0])
    assert len(s_o) == 4 and np.all((1.35 < s_o) & (s_o < 1.7))
    assert s_o[3] - s_o[2] > 0.1  # one long S-OH, three short S-O
    assert np.all(np.abs(s_o[:3] - 1.41) < 0.06)
    oh = bonds(b, "H", "O")
    assert oh.shape == (1,) and 0.9 < oh[0] < 1.05
    # SA minus one proton: the rest of the molecule as in the SA template
    # H, two S=O oxygens, the other OH and S untouched; the deprotonated O moved in
    sa = molecule("SA")
    assert rmsd(b.positions[[0, 1, 2, 4, 5]], sa.positions[[1, 2, 3, 5, 6]]) < 1e-9
    assert rmsd(b.positions[1:], sa.positions[2:]) > 0.02
    assert np.linalg.norm(b.get_center_of_mass()) < 1e-9
    assert min(pdist(b.positions)) > 0.9


def test_ammonium_template():
    ah = template("ah")
    assert ah.get_chemical_formula(mode="hill") == ION_TEMPLATES["AH"][0] == "H4N"
    n = ah.positions[ah.numbers == 7][0]
    h = ah.positions[ah.numbers == 1]
    np.testing.assert_allclose(np.linalg.norm(h - n, axis=1), 1.03, atol=1e-12)
    u = (h - n) / np.linalg.norm(h - n, axis=1, keepdims=True)
    angles = np.degrees(np.arccos(np.clip((u @ u.T)[np.triu_indices(4, 1)], -1, 1)))
    np.testing.assert_allclose(angles, math.degrees(math.acos(-1 / 3)), atol=1e-9)  # tetrahedral
    assert np.linalg.norm(ah.get_center_of_mass()) < 1e-9


def test_sulfate_template():
    so4 = template("so4")
    assert so4.get_chemical_symbols() == ["O", "O", "O", "O", "S"]
    assert so4.get_chemical_formula(mode="hill") == ION_TEMPLATES["SO4"][0] == "O4S"
    s = so4.positions[4]
    np.testing.assert_allclose(np.linalg.norm(so4.positions[:4] - s, axis=1), 1.49, atol=1e-12)
    u = (so4.positions[:4] - s) / 1.49
    angles = np.degrees(np.arccos(np.clip((u @ u.T)[np.triu_indices(4, 1)], -1, 1)))
    np.testing.assert_allclose(angles, math.degrees(math.acos(-1 / 3)), atol=1e-9)  # tetrahedral
    assert np.linalg.norm(so4.get_center_of_mass()) < 1e-9


def test_template_neutral_ones_come_from_clusters():
    for name in TEMPLATES:
        np.testing.assert_array_equal(template(name.lower()).positions, molecule(name).positions)
        assert template(name).get_chemical_symbols() == molecule(name).get_chemical_symbols()
    assert [len(template(m)) for m in SIZES] == list(SIZES.values())
    with pytest.raises(InputError, match="unknown molecule 'DMA'.*AH"):
        template("DMA")


# --------------------------------------------------------------------------------------------
# Random candidates


@pytest.mark.parametrize("text", ["SA2AM1W3", "SA1B1AM1AH1", "SA0B1SO41AM1AH3"])
def test_candidates_formula_order_and_info(text):
    comp = parse_composition(text)
    cands = random_candidates(text, 3, seed=5)
    assert len(cands) == 3
    expected = [s for name, c in comp.items() for _ in range(c) for s in template(name).get_chemical_symbols()]
    for k, atoms in enumerate(cands):
        assert isinstance(atoms, Atoms)
        assert atoms.get_chemical_symbols() == expected
        assert atoms.info == {"composition": composition_name(comp), "candidate": k, "seed": 5}
        assert not atoms.pbc.any()
        assert np.linalg.norm(atoms.get_center_of_mass()) < 1e-9
        # each block is a rigid copy of its template: the atom order is molecule by molecule
        for name, pos in blocks(atoms, comp):
            assert rmsd(pos, template(name).positions) < 1e-9
        assert len(cands[0]) == sum(SIZES[m] * c for m, c in comp.items())


def test_candidate_names_match_the_dataset():
    for text in ("SA4AM4", "SA2AM1W3"):
        atoms = random_candidates(text, 1)[0]
        assert atoms.info["composition"] == composition_of(atoms.numbers) == text


@pytest.mark.parametrize("min_distance, contact", [(1.6, 2.6), (2.0, 3.0)])
def test_min_distance_and_connectivity(min_distance, contact):
    comp = parse_composition("SA4AM4")
    closest = []
    for atoms in random_candidates(comp, 6, seed=1, min_distance=min_distance, contact=contact):
        parts = [p for _, p in blocks(atoms, comp)]
        closest.append(min_intermolecular(parts))
        assert closest[-1] >= min_distance
        assert n_components(parts, contact) == 1
    assert min(closest) < contact  # in contact, not merely apart


def test_larger_cluster_and_water():
    comp = parse_composition("SA6AM6W2")
    for atoms in random_candidates(comp, 2, seed=3):
        parts = [p for _, p in blocks(atoms, comp)]
        assert min_intermolecular(parts) >= 1.6
        assert n_components(parts, 2.6) == 1
        r = atoms.positions - atoms.positions.mean(axis=0)
        assert np.sqrt(np.mean(np.sum(r**2, axis=1))) < 6.0  # compact, not spread out


def test_reproducible_and_prefix_independent():
    a = random_candidates("SA2AM2", 3, seed=7)
    b = random_candidates("sa2-am2", 6, seed=7)
    for x, y in zip(a, b[:3]):
        np.testing.assert_array_equal(x.positions, y.positions)
        assert x.info == y.info
    c = random_candidates("SA2AM2", 3, seed=8)
    for x, y in zip(a, c):
        assert not np.allclose(x.positions, y.positions)
    # candidates of one call differ from each other
    for i in range(len(b)):
        for j in range(i):
            assert not np.allclose(b[i].positions, b[j].positions)


def test_orientations_are_random():
    """A single molecule's rotations: the mean of uniform SO(3) matrices is 0 (identity: 3)."""
    sa = template("SA").positions
    mats = []
    for atoms in random_candidates("SA1", 150, seed=2):
        X, Y = sa, atoms.positions
        U, _, Vt = np.linalg.svd(Y.T @ X)
        R = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt
        np.testing.assert_allclose(X @ R.T, Y, atol=1e-9)
        mats.append(R)
    assert np.linalg.norm(np.mean(mats, axis=0)) < 0.35


def test_no_candidates_and_bad_arguments():
    assert random_candidates("SA1AM1", 0) == []
    for kwargs, match in [
        ({"n": -1}, "n must be"),
        ({"n": 2.5}, "n must be"),
        ({"seed": -1}, "seed must be"),
        ({"density": 0.0}, "density must be a positive"),
        ({"min_distance": float("nan")}, "min_distance must be a positive"),
        ({"contact": -1.0}, "contact must be a positive"),
        ({"min_distance": 3.0, "contact": 2.5}, "contact=2.5 Å must exceed min_distance=3.0"),
    ]:
        args = {"composition": "SA1AM1", "n": 1, **kwargs}
        with pytest.raises(InputError, match=match):
            random_candidates(**args)
    # one molecule needs no contact: min_distance > contact is fine there
    assert len(random_candidates("SA1", 1, min_distance=3.0, contact=2.5)) == 1


def test_impossible_request_raises():
    # atoms of the two molecules >= 100 Å apart but <= 101 Å: the sphere never grows that far
    msg = r"SA1AM1: no candidate 0 .*200 attempts: 200 found no room .*\(at best 1 of 2 placed\).*min_distance=100"
    with pytest.raises(InputError, match=msg):
        random_candidates("SA1AM1", 1, min_distance=100.0, contact=101.0, max_attempts=200)
    # molecules spread over a huge sphere are never connected
    msg = r"no candidate 0 .* 0 found no room.*30 were not connected within contact=2\.6"
    with pytest.raises(InputError, match=msg):
        random_candidates("SA3AM3", 1, density=1e-4, max_attempts=30)


# --------------------------------------------------------------------------------------------
# Reading candidates


def test_read_candidates_round_trip(tmp_path):
    cands = random_candidates("SA2AM2", 3, seed=4)
    mixed = [cands[2], random_candidates("SA1AM1W2", 1)[0], cands[0]]
    for suffix in ("extxyz", "traj"):
        path = tmp_path / f"c.{suffix}"
        write(path, mixed)
        got = read_candidates(path)
        assert len(got) == 3
        for k, (a, b) in enumerate(zip(got, mixed)):
            assert a.get_chemical_symbols() == b.get_chemical_symbols()
            np.testing.assert_allclose(a.positions, b.positions, atol=1e-6)
            assert a.info["candidate"] == k  # the frame index, not the index it was made with
            assert a.info["source"] == str(path)
            assert a.info["composition"] == b.info["composition"]
    # plain xyz: composition from the atoms
    path = tmp_path / "c.xyz"
    write(path, [Atoms(m.get_chemical_symbols(), positions=m.positions) for m in mixed], format="xyz")
    assert [a.info["composition"] for a in read_candidates(path)] == ["SA2AM2", "SA1AM1W2", "SA2AM2"]


def test_read_candidates_errors(tmp_path):
    missing = tmp_path / "none.extxyz"
    with pytest.raises(InputError, match=f"{missing}: no such file"):
        read_candidates(missing)
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    with pytest.raises(InputError, match=f"{empty}: empty file"):
        read_candidates(empty)
    with pytest.raises(InputError, match="is a directory"):
        read_candidates(tmp_path)
    garbage = tmp_path / "garbage.xyz"
    garbage.write_text("three\nnot an xyz file\nH 0 0\n")
    with pytest.raises(InputError, match=f"{garbage}: cannot read"):
        read_candidates(garbage)

    cands = random_candidates("SA1AM1", 3, seed=6)
    nan = [c.copy() for c in cands]
    nan[1].positions[2] = np.nan
    path = tmp_path / "nan.extxyz"
    write(path, nan)
    with pytest.raises(InputError, match=rf"{path}, frame 1: atom 2 \(O\): position is not finite"):
        read_candidates(path)

    close = [c.copy() for c in cands]
    close[2].positions[8] = close[2].positions[3] + [0.3, 0.0, 0.0]
    path = tmp_path / "close.extxyz"
    write(path, close)
    with pytest.raises(InputError, match=rf"{path}, frame 2: atoms 3 \(O\) and 8 \(H\) overlap: distance 0\.3 Å"):
        read_candidates(path)
