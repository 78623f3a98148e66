"""The refinement's water move and the growth move's water bridges (md.screening.refine.water_bridged, issue 29):
a water put into the hydrogen-bond network of the rest, not only onto its surface."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from scipy.spatial.distance import cdist, pdist
from scipy.spatial.transform import Rotation

from md.screening.candidates import random_candidates, template
from md.screening.config import DEFAULT_KINDS, MOVE_KINDS, RefineConfig, ScreenConfig
from md.screening.growth import grown_candidates
from md.screening.protonation import detect_state, ion_units
from md.screening.refine import hydrogen_bonds, refine_candidates, water_bridged, water_units
from painnjax.cli import build_parser, screening

ROOT = Path(__file__).resolve().parents[3]
MIN_DISTANCE = 1.2  # the move's default


def _heavy(name: str) -> int:
    return int(np.flatnonzero(np.array(template(name).get_chemical_symbols()) != "H")[-1])


def _acid_donating_to(name: str) -> tuple[Atoms, int, int]:
    """H2SO4 with its first H pointing at the N or O of ``name`` (AM or W), H ... N/O 1.75 Å, the acceptor's
    lone-pair side towards the H: ``(atoms, donor H, acceptor)``, the acid's atoms first."""
    sa, other = template("SA"), template(name)
    R = sa.positions
    h = 0
    o = 2 + int(np.argmin(np.linalg.norm(R[2:6] - R[h], axis=1)))
    d = (R[h] - R[o]) / np.linalg.norm(R[h] - R[o])
    a = _heavy(name)
    X = other.positions - other.positions[a]
    lone = -X[np.array(other.get_chemical_symbols()) == "H"].mean(axis=0)
    rot = Rotation.align_vectors([-d], [lone / np.linalg.norm(lone)])[0]
    X = rot.apply(X) + R[h] + 1.75 * d
    atoms = Atoms(sa.get_chemical_symbols() + other.get_chemical_symbols(), positions=np.concatenate([R, X]))
    return atoms, h, len(sa) + a


def _with_surface_water(atoms: Atoms, seed: int) -> Atoms:
    """``atoms`` and a water (last) at a random orientation, brought in from a random direction until 2.7-2.8 Å
    from the nearest atom: no contact under 2.5 Å, the weakest bound."""
    rng = np.random.default_rng(seed)
    w = template("W").positions @ Rotation.random(random_state=rng).as_matrix().T
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    r = 15.0
    while cdist(w + r * u, atoms.positions).min() > 2.8:
        r -= 0.05
    return atoms + Atoms("H2O", positions=w + r * u)


@pytest.fixture(params=["SA1AM0W2", "SA1AM1W1"])
def hydrated(request):
    """``(atoms, donor H, acceptor, surface water)``: an acid donating its H to a water (SA1W2) or an ammonia
    (SA1AM1W1), the only hydrogen bond, and a water at the surface."""
    atoms, h, a = _acid_donating_to("W" if request.param == "SA1AM0W2" else "AM")
    atoms = _with_surface_water(atoms, seed=3)
    water = np.arange(len(atoms) - 3, len(atoms))
    assert detect_state(atoms)[1] == request.param
    return atoms, h, a, water


def _unit_of(atoms, i) -> np.ndarray:
    return next(idx for _, idx in ion_units(atoms) if i in idx)


def _intermolecular_gap(atoms, units) -> float:
    label = np.empty(len(atoms), np.int64)
    for k, idx in enumerate(units):
        label[idx] = k
    d = cdist(atoms.positions, atoms.positions)
    return float(d[label[:, None] != label[None]].min())


def test_the_water_move_puts_the_surface_water_into_the_hydrogen_bond(hydrated):
    atoms, h, a, water = hydrated
    acceptor = _unit_of(atoms, a)
    ((d, hh, aa),) = hydrogen_bonds(atoms)  # the one bond: the acid's O-H ... the acceptor
    assert (
        (hh, aa) == (h, a) and atoms[d].symbol == "O" and np.linalg.norm(atoms.positions[d] - atoms.positions[h]) < 1.1
    )
    units = [idx for _, idx in ion_units(atoms)]
    for seed in range(4):
        child = water_bridged(atoms, np.random.default_rng(seed))
        np.testing.assert_array_equal(child.numbers, atoms.numbers)  # composition and order
        assert detect_state(child) == detect_state(atoms)
        o = int(water[2])
        assert child.info["bridge"][0] == o and child.info["bridge"][2:] == (h, a)
        moved = np.flatnonzero(np.any(child.positions != atoms.positions, axis=1))
        assert set(moved) <= set(water) | set(acceptor)  # the water and the acceptor's molecule only
        assert set(water) <= set(moved)
        for idx in (water, acceptor):  # both rigid
            np.testing.assert_allclose(pdist(child.positions[idx]), pdist(atoms.positions[idx]), atol=1e-9)
        assert np.linalg.norm(child.positions[o] - child.positions[h]) <= 2.0  # the donor's H on the water O
        assert cdist(child.positions[water[:2]], child.positions[[a]]).min() <= 2.2  # a water H on the acceptor
        assert _intermolecular_gap(child, units) >= MIN_DISTANCE
        assert hydrogen_bonds(child[np.setdiff1d(np.arange(len(atoms)), water)]) == []  # the bond is bridged
    again = [water_bridged(atoms, np.random.default_rng(s)).positions for s in (0, 0, 1, 2, 3)]
    np.testing.assert_array_equal(again[0], again[1])  # seeded
    assert len({p.tobytes() for p in again[1:]}) > 1  # and the seed matters


def test_the_weakest_bound_water_is_the_one_moved():
    """SA1W2, the acid donating to one water and the other at the surface: the surface water moves. The other,
    asked for, has no hydrogen bond of the rest to go into (the surface water is out of reach): none."""
    atoms, _, _, water = _as_sa1w2()
    assert water_bridged(atoms, np.random.default_rng(0)).info["bridge"][0] == water[2]
    bound = next(idx for idx in water_units(atoms) if idx[0] != water[2])
    assert water_bridged(atoms, np.random.default_rng(0), water=bound) is None


def _as_sa1w2():
    atoms, h, a = _acid_donating_to("W")
    atoms = _with_surface_water(atoms, seed=3)
    return atoms, h, a, np.arange(len(atoms) - 3, len(atoms))


def test_no_water_or_no_hydrogen_bond_falls_back_to_a_perturbation():
    pair, _, _ = _acid_donating_to("AM")  # SA1AM1: no water
    assert water_bridged(pair, np.random.default_rng(0)) is None
    apart = Atoms("H2O", positions=template("W").positions)  # SA1W1 with no bond in reach
    apart += Atoms(template("SA").get_chemical_symbols(), positions=template("SA").positions + [6.0, 0.0, 0.0])
    assert water_bridged(apart, np.random.default_rng(0)) is None
    one = Atoms("H2O", positions=template("W").positions)
    assert water_bridged(one, np.random.default_rng(0)) is None  # nothing else
    atoms, _, _, _ = _as_sa1w2()
    minima = []
    for a, comp in ((pair, "SA1AM1"), (apart, "SA1W1"), (atoms, "SA1W2")):
        a.info.update(composition=comp, final_state=detect_state(a)[1])
        minima.append(a)
    new = refine_candidates(minima, [-1.0, -1.0, -1.0], [True] * 3, round_=0, start=3, moves=2, kinds=("water",))
    assert [c.info["move"] for c in new] == ["perturb", "perturb", "perturb", "perturb", "water", "water"]
    for c, parent in zip(new, [pair, pair, apart, apart, atoms, atoms]):
        np.testing.assert_array_equal(c.numbers, parent.numbers)
    assert new[4].info["state"] == "SA1AM0W2" and new[4].info["parent"] == 2
    assert not np.array_equal(new[4].positions, new[5].positions)  # two children, other draws


def test_water_is_a_move_to_ask_for_and_the_default_record_is_unchanged():
    assert MOVE_KINDS[-1] == "water" and "water" not in DEFAULT_KINDS
    assert RefineConfig().kinds == ("perturb", "splice", "surface", "proton")
    record = ScreenConfig(refine=True).record()["refine"]
    assert record["kinds"] == ["perturb", "splice", "surface", "proton"]  # the record screens made before
    assert RefineConfig(kinds="perturb,water").kinds == ("perturb", "water")


def test_the_water_move_keeps_molecules_apart_in_crowded_random_candidates():
    """Random SA2W3 candidates (compact: molecules 1.5 Å apart) hold hydrogen bonds to bridge, and molecules
    where the bridge's first geometry would put the moved ones closer than 1.2 Å (3 of these 12 when written):
    the move takes another, or none."""
    made = 0
    for atoms in random_candidates("SA2W3", 12, seed=0, min_distance=1.5):
        units_of = [idx for _, idx in ion_units(atoms)]
        child = water_bridged(atoms, np.random.default_rng(0))
        if child is None:
            continue
        made += 1
        o, _, h, a = child.info["bridge"]
        np.testing.assert_array_equal(child.numbers, atoms.numbers)
        assert np.linalg.norm(child.positions[o] - child.positions[h]) <= 2.0
        assert cdist(child.positions[_unit_of(atoms, o)[1:]], child.positions[[a]]).min() <= 2.2
        assert _intermolecular_gap(child, units_of) >= MIN_DISTANCE
    assert made >= 10


def _acdb_module():
    spec = importlib.util.spec_from_file_location("split_acdb", ROOT / "benchmarks" / "data" / "saw" / "split_acdb.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_water_move_on_the_published_sa_w_minima(shared_data):
    """ACDB's SA1W2 ... SA3W3 minima (B97-3c, Kubečka et al. 2024): each holds a hydrogen bond of the rest to
    bridge; the move makes one that keeps every molecule apart."""
    path = shared_data / "acdb" / "kubecka24_SA-W_B97-3c" / "structures1SP.xyzs"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    acdb = _acdb_module()
    frames = []
    for name, a in acdb.read_named_frames(path):  # SA1W2 ... SA3W3: at least an acid and two waters, small
        n_sa, n_w = (int(x) for x in re.match(r"SA(\d+)W(\d+)", acdb.composition(name, a)).groups())
        if n_sa >= 1 and n_w >= 2 and len(a) <= 31:
            frames.append(a)
    assert len(frames) >= 8
    for atoms in frames:
        units = [idx for _, idx in ion_units(atoms)]
        child = water_bridged(atoms, np.random.default_rng(0))
        assert child is not None
        o, _, h, a = child.info["bridge"]
        np.testing.assert_array_equal(child.numbers, atoms.numbers)
        assert detect_state(child) == detect_state(atoms)
        assert abs(np.linalg.norm(child.positions[o] - child.positions[h]) - 1.8) < 1e-9
        water = _unit_of(atoms, o)
        assert cdist(child.positions[water[1:]], child.positions[[a]]).min() <= 2.2
        assert _intermolecular_gap(child, units) >= MIN_DISTANCE


def test_growth_puts_about_half_the_added_waters_into_the_network():
    parent, h, a = _acid_donating_to("W")  # SA1W1 with its one hydrogen bond
    grown = grown_candidates([parent], "W", 12, seed=0)
    before = grown_candidates([parent], "W", 12, seed=0, bridge=False)  # every water at the surface: as before
    placed = [c.info["placed"] for c in grown]
    assert 3 <= placed.count("bridge") <= 9 and {c.info["placed"] for c in before} == {"surface"}
    n = len(parent)
    for c, old in zip(grown, before, strict=True):
        np.testing.assert_array_equal(c.numbers, old.numbers)
        assert c.info["composition"] == "SA1AM0W2"
        if c.info["placed"] == "surface":  # the coin's other side: the candidate made before, to the bit
            np.testing.assert_array_equal(c.positions, old.positions)
            continue
        R = c.positions
        np.testing.assert_allclose(pdist(R[:7]), pdist(parent.positions[:7]), atol=1e-9)  # the acid: rigid
        assert np.linalg.norm(R[n + 2] - R[h]) <= 2.0  # the new water's O on the acid's H
        assert cdist(R[n : n + 2], R[[a]]).min() <= 2.2  # one of its H on the old acceptor
        assert _intermolecular_gap(c, [np.arange(7), np.arange(7, n), np.arange(n, n + 3)]) >= 1.5


def test_a_water_growth_screen_names_its_bridges(tmp_path):
    """``--add W`` makes other candidates than before: its description (part of the screen's record) says so, and
    a screen begun before is not resumed with them; ``--add AM`` keeps its description."""
    parent, _, _ = _acid_donating_to("W")
    write(tmp_path / "p.extxyz", [parent])
    for add, bridges in (("W", True), ("AM", False)):
        argv = ["screen", "M", "--grow-from", str(tmp_path / "p.extxyz"), "--add", add, "--n", "4", "--out", "o"]
        args = build_parser().parse_args(argv)
        candidates, description = screening._candidates(args, screening._config(args))()
        assert len(candidates) == 4 and description.endswith("seed=0 water-bridges") == bridges
