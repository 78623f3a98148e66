"""md.screening.protonation: proton-transfer states, candidates over them, and detecting a structure's state."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import read

from md.screening.candidates import random_candidates, template
from md.screening.protonation import (
    OTHER,
    detect_state,
    ion_counts,
    ion_units,
    neutral_composition,
    protonation_states,
    state_candidates,
)
from painnjax.errors import InputError


def by_element(atoms) -> dict[str, np.ndarray]:
    """Positions of each element, in atom order: equal for two atom orders that keep each element's order."""
    sym = np.array(atoms.get_chemical_symbols())
    return {e: atoms.positions[sym == e] for e in sorted(set(sym))}


# --------------------------------------------------------------------------------------------
# States


@pytest.mark.parametrize(
    "composition, expected",
    [
        (
            "SA2AM2",
            [(0, {"SA": 2, "AM": 2}), (1, {"SA": 1, "B": 1, "AM": 1, "AH": 1}), (2, {"B": 2, "AH": 2})],
        ),
        ("SA3AM1W2", [(0, {"SA": 3, "AM": 1, "W": 2}), (1, {"SA": 2, "B": 1, "AH": 1, "W": 2})]),
        ("SA0AM1", [(0, {"AM": 1})]),
        ("W4", [(0, {"W": 4})]),
        ("B2AH2", [(2, {"B": 2, "AH": 2})]),  # explicit ions: one state, as given
        ("SA3B1AM2AH1", [(1, {"SA": 3, "B": 1, "AM": 2, "AH": 1})]),
        ({"sa": 1, "am": 2}, [(0, {"SA": 1, "AM": 2}), (1, {"B": 1, "AM": 1, "AH": 1})]),
    ],
)
def test_states_are_enumerated(composition, expected):
    got = protonation_states(composition)
    assert got == expected
    for _, counts in got:
        assert list(counts) == [k for k in ("SA", "B", "AM", "AH", "W") if k in counts]  # canonical order


def test_a_subset_of_transfers():
    assert [k for k, _ in protonation_states("SA2AM2", transfers=0)] == [0]
    assert [k for k, _ in protonation_states("SA2AM2", transfers="1,2")] == [1, 2]
    assert [k for k, _ in protonation_states("SA2AM2", transfers=[2, 1, 2])] == [1, 2]
    assert [k for k, _ in protonation_states("SA2AM2", transfers=" ALL ")] == [0, 1, 2]
    assert neutral_composition("SA1B1AM1AH1W2") == {"SA": 2, "AM": 2, "W": 2}


@pytest.mark.parametrize(
    "composition, transfers, match",
    [
        ("SA2AM2", 3, r"3 proton transfers is not possible; allowed 0 \.\.\. 2"),
        ("SA2AM2", [0, -1], r"-1 proton transfers is not possible; allowed 0 \.\.\. 2"),
        ("SA3AM1", "0,2", r"2 proton transfers is not possible; allowed 0 \.\.\. 1"),
        ("SA0AM1", 1, "allowed 0 "),
        ("SA2AM2", "one", "transfers must be 'all' or whole numbers"),
        ("SA2AM2", [], "no transfers given"),
        ("SA2AM2", [1.0], "not possible"),
        ("SA2AM2", True, "transfers must be"),
        ("B2AH2", 2, "already gives its ions.*SA2AM2"),
        ("SA2XY1", "all", "unknown molecule"),
    ],
)
def test_bad_transfers(composition, transfers, match):
    with pytest.raises(InputError, match=match):
        protonation_states(composition, transfers)


# --------------------------------------------------------------------------------------------
# Candidates


def test_candidates_go_round_robin_and_do_not_depend_on_n():
    cands = state_candidates("SA2AM2", 7, seed=3)
    names = ["SA2AM2", "SA1B1AM1AH1", "SA0B2AM0AH2"]
    assert [a.info["state"] for a in cands] == [names[k % 3] for k in range(7)]
    assert [a.info["transfers"] for a in cands] == [k % 3 for k in range(7)]
    assert all(a.info["composition"] == "SA2AM2" and a.info["seed"] == 3 for a in cands)
    assert [a.info["candidate"] for a in cands] == list(range(7))
    fewer = state_candidates("SA2AM2", 4, seed=3)
    for a, b in zip(fewer, cands):
        np.testing.assert_array_equal(a.positions, b.positions)
        assert a.info == b.info


def test_one_atom_list_for_all_states():
    cands = state_candidates("SA2AM2W1", 6, seed=0)
    neutral = random_candidates("SA2AM2W1", 1, seed=0)[0]
    for a in cands:
        np.testing.assert_array_equal(a.numbers, neutral.numbers)  # one compile group in a screen
    np.testing.assert_array_equal(cands[0].positions, neutral.positions)  # state 0 is the neutral candidate


def test_candidate_k_is_that_of_random_candidates_for_its_state():
    cands = state_candidates("SA2AM2", 5, seed=1)
    for k in (1, 4):  # SA1B1AM1AH1
        ref = random_candidates("SA1B1AM1AH1", k + 1, seed=1)[k]
        assert sorted(ref.get_chemical_symbols()) == sorted(cands[k].get_chemical_symbols())
        mine, theirs = by_element(cands[k]), by_element(ref)
        for element in theirs:  # same atoms, each element in its own order
            np.testing.assert_array_equal(mine[element], theirs[element])
    later = random_candidates("SA1AM1", 2, seed=1, first=3)
    for a, b in zip(later, random_candidates("SA1AM1", 5, seed=1)[3:]):
        np.testing.assert_array_equal(a.positions, b.positions)
        assert a.info == b.info


def test_options_and_explicit_ions_pass_through():
    cands = state_candidates("SA1AM1", 2, seed=0, transfers="1", min_distance=1.8)
    assert [a.info["state"] for a in cands] == ["SA0B1AM0AH1"] * 2
    ref = random_candidates("B1AH1", 2, seed=0, min_distance=1.8)[1]
    for element, pos in by_element(ref).items():
        np.testing.assert_array_equal(by_element(cands[1])[element], pos)
    ions = state_candidates("SA1B1AM0AH1", 2, seed=0)  # explicit: random_candidates as they were
    plain = random_candidates("SA1B1AM0AH1", 2, seed=0)
    for a, b in zip(ions, plain):
        np.testing.assert_array_equal(a.numbers, b.numbers)
        np.testing.assert_array_equal(a.positions, b.positions)
        assert a.info["composition"] == a.info["state"] == "SA1B1AM0AH1" and a.info["transfers"] == 1
    with pytest.raises(InputError, match="n must be"):
        state_candidates("SA1AM1", -1)


# --------------------------------------------------------------------------------------------
# Detecting a state


@pytest.mark.parametrize(
    "name, expected",
    [
        ("SA", (0, "SA1AM0")),
        ("B", (0, "SA0B1AM0")),
        ("AM", (0, "SA0AM1")),
        ("AH", (1, "SA0AM0AH1")),
        ("W", (0, "SA0AM0W1")),
    ],
)
def test_detect_state_of_the_templates(name, expected):
    assert detect_state(template(name)) == expected


def test_detect_state_of_candidates_of_every_state():
    for a in state_candidates("SA3AM2W1", 6, seed=2):
        assert detect_state(a) == (a.info["transfers"], a.info["state"])


def test_detect_state_of_a_known_minimum(shared_data):
    """Wu et al.'s (SA)2(AM)2 minimum is two ion pairs: both NH3 have taken a proton."""
    atoms = read(shared_data / "starts" / "wu_2sa2am.xyz")
    assert atoms.get_chemical_formula() == "H10N2O8S2"
    assert detect_state(atoms) == (2, "SA0B2AM0AH2")


def test_what_is_not_one_of_the_molecules_is_other():
    b = template("B")
    sym = np.array(b.get_chemical_symbols())
    sulfate = b[sym != "H"]  # SO4 2-
    assert detect_state(sulfate) == (0, OTHER)
    hydronium = template("W") + Atoms("H", positions=[[0.0, 0.0, -0.97]])  # H3O+ (with AM far away)
    ammonia = template("AM")
    ammonia.positions += [8.0, 0.0, 0.0]
    assert detect_state(hydronium + ammonia) == (0, OTHER)
    ammonium = template("AH")
    ammonium.positions += [8.0, 0.0, 0.0]
    assert detect_state(template("W")[1:] + ammonium) == (1, OTHER)  # OH- and NH4+
    assert detect_state(Atoms("Ar2", positions=[[0, 0, 0], [3, 0, 0]])) == (0, OTHER)
    assert detect_state(Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]])) == (0, OTHER)


def test_ion_counts_names_sulfate_and_keeps_the_charge_balanced(shared_data):
    """A sulfate SO4 2- is counted (detect_state calls it other); the known 1:1 minimum has none."""
    b = template("B")
    sulfate = b[np.array(b.get_chemical_symbols()) != "H"]
    for cation in (0, 1):
        ammonium = template("AH")
        ammonium.positions += [8.0 * (cation + 1), 0.0, 0.0]
        sulfate = sulfate + ammonium
    c = ion_counts(sulfate)
    assert (c["SO4"], c["AH"], c["SA"], c["B"], c["AM"], c["other"]) == (1, 2, 0, 0, 0, 0)
    assert detect_state(sulfate) == (2, OTHER)
    c = ion_counts(read(shared_data / "starts" / "wu_2sa2am.xyz"))
    assert (c["B"], c["AH"], c["SO4"], c["other"]) == (2, 2, 0, 0)
    # SA6AM8's GFN1-xTB minimum: eight bases on six acids cannot all be ammonium from bisulfate;
    # whatever the split, every unit is named and the charges balance
    atoms = read(shared_data / "starts" / "k24_6sa8am.xyz")
    units = ion_units(atoms)
    assert sorted(np.concatenate([idx for _, idx in units]).tolist()) == list(range(len(atoms)))  # a partition
    sizes = {"SA": 7, "B": 6, "SO4": 5, "AM": 4, "AH": 5}
    assert all(len(idx) == sizes[kind] for kind, idx in units)
    c = ion_counts(atoms)
    assert c["other"] == 0 and c["SO4"] >= 1
    assert c["SA"] + c["B"] + c["SO4"] == 6 and c["AM"] + c["AH"] == 8
    assert c["AH"] == c["B"] + 2 * c["SO4"]


def test_ion_counts_counts_what_is_not_a_molecule_as_other():
    assert ion_counts(Atoms("Ar2", positions=[[0, 0, 0], [3, 0, 0]]))["other"] == 2
    hydronium = template("W") + Atoms("H", positions=[[0.0, 0.0, -0.97]])
    c = ion_counts(hydronium)
    assert (c["W"], c["other"]) == (0, 1)
