"""Screening (md.screening.screen, md.screening.dedup, md.optimize.batch.minimize_batch, ``painnjax screen``).

The known-answer test is a Lennard-Jones cluster of 7 atoms (``lj_helpers``), whose minima are
textbook values.
"""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.io import read
from lj_helpers import EPS, LJ7_MINIMA, lj, random_lj_starts

from md.optimize.batch import minimize_batch
from md.optimize.fire import minimize
from md.screening.dedup import fingerprint, fingerprint_distance, unique_minima
from md.screening.folder import screen_to_folder
from md.screening.screen import screen
from painnjax.cli import main as cli_main
from painnjax.errors import InputError
from painnjax.units import KCAL_PER_MOL


def test_batched_fire_equals_one_at_a_time():
    starts = random_lj_starts(6)
    P = np.stack([a.positions for a in starts])
    batched = minimize_batch(lj(7), P, fmax=1e-3, max_steps=2000, slots=4)  # 4 slots, refilled twice
    looped = minimize_batch(lj(7), P, fmax=1e-3, max_steps=2000, slots=1)
    single = [minimize(lj(7), P[b], fmax=1e-3, max_steps=2000) for b in range(len(P))]
    assert batched.converged.all() and batched.slots == 4 and looped.slots == 1
    np.testing.assert_array_equal(batched.steps, [r.steps for r in single])
    np.testing.assert_array_equal(looped.steps, batched.steps)
    np.testing.assert_allclose(batched.energies, [r.energy for r in single], rtol=1e-5)
    np.testing.assert_allclose(batched.positions, np.stack([r.positions for r in single]), atol=1e-3)
    assert (batched.fmax < 1e-3).all()


def test_each_structure_stops_on_its_own():
    """A structure that cannot converge in max_steps is reported as such; the others are not held up."""
    starts = random_lj_starts(3)
    P = np.stack([a.positions for a in starts])
    free = minimize_batch(lj(7), P, fmax=1e-3, max_steps=2000, slots=3)
    cap = int(np.sort(free.steps)[1])  # the middle one's step count: the slowest cannot make it
    res = minimize_batch(lj(7), P, fmax=1e-3, max_steps=cap, slots=3)
    slow = int(np.argmax(free.steps))
    assert not res.converged[slow] and res.steps[slow] == cap and res.fmax[slow] >= 1e-3
    fast = [b for b in range(3) if free.steps[b] <= cap]
    assert res.converged[fast].all()
    np.testing.assert_array_equal(res.steps[fast], free.steps[fast])


def test_screen_finds_the_lj7_global_minimum_and_its_known_minima(tmp_path):
    res = screen_to_folder(
        lj(7), random_lj_starts(40), tmp_path / "s", keep=10, fmax=1e-3, max_steps=3000, slots=8, log=None
    )
    E = res.energies[res.ranked] / EPS
    assert abs(E[0] - LJ7_MINIMA[0]) < 1e-4  # the global minimum, found and ranked first
    for known in LJ7_MINIMA:  # every known minimum found ...
        assert np.min(np.abs(E - known)) < 1e-3
    # ... once each: distinct minima differ in energy or structure.
    for a in range(len(E)):
        for b in range(a):
            assert (
                abs(E[a] - E[b]) * EPS / KCAL_PER_MOL > 0.1
                or fingerprint_distance(
                    fingerprint(res.structures[res.ranked[a]]), fingerprint(res.structures[res.ranked[b]])
                )
                > 0.03
            )
    best = read(tmp_path / "s" / "best.extxyz", ":")
    assert len(best) == min(10, len(res.ranked))
    energies = [a.get_potential_energy() for a in best]
    assert energies == sorted(energies) and abs(energies[0] / EPS - LJ7_MINIMA[0]) < 1e-4
    assert best[0].info["rank"] == 0 and best[0].info["relative_energy_kcal_mol"] == 0.0
    summary = json.loads((tmp_path / "s" / "screen.json").read_text())
    assert summary["candidates"] == 40 and summary["converged"] + summary["not_converged"] == 40
    assert summary["duplicates"] + summary["distinct_minima"] == summary["converged"]
    table = (tmp_path / "s" / "summary.csv").read_text().splitlines()
    assert len(table) == 41 and table[0].startswith("candidate,composition,energy_eV,relative_kcal_mol,converged")
    assert (tmp_path / "s" / "energies.png").read_bytes()[:4] == b"\x89PNG"


def test_unconverged_structures_are_reported_not_ranked(tmp_path):
    starts = random_lj_starts(6)
    res = screen_to_folder(lj(7), starts, tmp_path / "s", keep=5, fmax=1e-3, max_steps=60, slots=3, log=None)
    assert (~res.converged).any()
    assert not set(np.flatnonzero(~res.converged)) & set(res.ranked.tolist())
    bad = read(tmp_path / "s" / "unconverged.extxyz", ":")
    assert len(bad) == int((~res.converged).sum()) and not any(a.info["converged"] for a in bad)
    rows = [r.split(",") for r in (tmp_path / "s" / "summary.csv").read_text().splitlines()[1:]]
    assert all(r[8] == "" for r in rows if r[4] == "False")  # no rank for an unconverged structure


def test_dedup_removes_copies_and_keeps_distinct_minima():
    base = Atoms("H2O", positions=[[0.76, 0.59, 0], [-0.76, 0.59, 0], [0, 0, 0]])
    other = Atoms("H2O", positions=[[0.90, 0.40, 0], [-0.90, 0.40, 0], [0, 0, 0]])  # another geometry
    copy = base.copy()
    copy.rotate(70, "x")
    copy.translate([2, -1, 5])
    copy = copy[[1, 0, 2]]  # the two H swapped
    copy.positions += 0.002 * np.random.default_rng(0).standard_normal((3, 3))
    structs = [other, base, copy, base.copy()]
    E = np.array([-1.0, -1.0 - 0.02 * KCAL_PER_MOL, -1.0 - 0.01 * KCAL_PER_MOL, -1.0 + 5.0 * KCAL_PER_MOL])
    same = unique_minima(E, [fingerprint(a) for a in structs], energy_window=0.1, tolerance=0.03)
    # base is lowest; its rotated, permuted copy duplicates it; `other` is a distinct minimum at
    # nearly the same energy; the unrotated copy 5 kcal/mol higher lies outside the window.
    np.testing.assert_array_equal(same, [0, 1, 1, 3])
    assert fingerprint_distance(fingerprint(base), fingerprint(Atoms("HO", positions=[[0, 0, 0], [1, 0, 0]]))) == np.inf


def test_screen_resumes_without_repeating(tmp_path, monkeypatch):
    starts = random_lj_starts(8)
    kw = dict(fmax=1e-3, max_steps=3000, slots=2, log=None)
    seen = []

    class Stop(Exception):
        pass

    from md.screening import folder as screen_module

    real = screen_module.screen

    def interrupted(*args, on_done=None, **kwargs):
        def count(k, atoms):
            on_done(k, atoms)
            seen.append(k)
            if len(seen) == 3:
                raise Stop

        return real(*args, on_done=count, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(screen_module, "screen", interrupted)
        with pytest.raises(Stop):
            screen_to_folder(lj(7), starts, tmp_path / "s", keep=5, **kw)
    with pytest.raises(InputError, match="already holds a screen"):
        screen_to_folder(lj(7), starts, tmp_path / "s", keep=5, **kw)
    with open(tmp_path / "s" / "minimised.extxyz", "a") as fh:  # a frame cut short by a kill
        fh.write("7\nProperties=species:S:1:pos:R:3 candidate_index=5\nAr 0.0 0.0")
    res = screen_to_folder(lj(7), starts, tmp_path / "s", keep=5, resume=True, **kw)
    assert res.resumed == 3
    done = [a.info["candidate_index"] for a in read(tmp_path / "s" / "minimised.extxyz", ":")]
    assert sorted(done) == list(range(8))  # every candidate once: none repeated, none lost
    full = screen(lj(7), starts, fmax=1e-3, max_steps=3000, slots=2)
    np.testing.assert_allclose(res.energies, full.energies, rtol=1e-6)
    with pytest.raises(InputError, match="other settings"):
        screen_to_folder(lj(7), starts, tmp_path / "s", keep=5, resume=True, **{**kw, "fmax": 1e-2})


def test_cli_screen_with_the_shipped_model(tmp_path, capsys):
    """Random SA1AM1 candidates with saam-gfn1; a committee of the model with itself has zero spread."""
    out = tmp_path / "scr"
    code = cli_main(
        [
            "screen",
            "saam-gfn1",
            "--composition",
            "SA1AM1",
            "--n",
            "4",
            "--keep",
            "2",
            "--fmax",
            "0.05",
            "--steps",
            "1500",
            "--committee",
            "saam-gfn1",
            "--refine-rounds",
            "1",
            "--refine-top",
            "1",
            "--refine-moves",
            "2",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "6 candidates (4 given + 2 from refinement)" in text and "distinct minima" in text
    assert "transfers=all" in text and "protonation states: SA1AM1 2, SA0B1AM0AH1 2" in text
    assert "lowest minimum: state " in text
    best = read(out / "best.extxyz", ":")
    assert 1 <= len(best) <= 2 and best[0].get_chemical_formula() == "H5NO4S"
    assert best[0].info["energy_spread_kcal_mol"] < 1e-3 and best[0].info["force_spread_eV_per_A"] < 1e-5
    # --rank-by G checks its conditions before any structure is minimised
    bad = [
        "screen",
        "saam-gfn1",
        "--composition",
        "SA1AM1",
        "--rank-by",
        "G",
        "--T",
        "-5",
        "--out",
        str(tmp_path / "g"),
    ]
    assert cli_main(bad) == 2 and not (tmp_path / "g").exists()
    assert "temperature" in capsys.readouterr().err


def test_bad_input(tmp_path, capsys):
    assert cli_main(["screen", "saam-gfn1", "--composition", "SA2XY1", "--out", str(tmp_path / "a")]) == 2
    assert "unknown molecule" in capsys.readouterr().err
    assert cli_main(["screen", "saam-gfn1", "--composition", "SA1B1", "--out", str(tmp_path / "b")]) == 2
    assert "charge" in capsys.readouterr().err
    assert cli_main(["screen", "saam-gfn1", "--out", str(tmp_path / "c")]) == 2
    assert "--composition" in capsys.readouterr().err
    assert (
        cli_main(["screen", "saam-gfn1", "--candidates", str(tmp_path / "none.xyz"), "--out", str(tmp_path / "d")]) == 2
    )
    assert "no such file" in capsys.readouterr().err
    bad_transfers = [
        (["--composition", "SA2AM2", "--transfers", "3"], r"allowed 0 ... 2"),
        (["--composition", "B2AH2", "--transfers", "1"], "already gives its ions"),
        (["--candidates", str(tmp_path / "none.xyz"), "--transfers", "0"], "--transfers goes with --composition"),
    ]
    for i, (flags, message) in enumerate(bad_transfers):
        assert cli_main(["screen", "saam-gfn1", *flags, "--out", str(tmp_path / f"t{i}")]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(InputError, match="no candidates"):
        screen(lj(7), [])
    with pytest.raises(InputError, match="slots"):
        minimize_batch(lj(7), np.stack([a.positions for a in random_lj_starts(2)]), slots=0)
    with pytest.raises(InputError, match="shape"):
        minimize_batch(lj(7), np.zeros((7, 3)))


def test_mixed_compositions_are_screened_and_ranked_apart():
    """Candidates from a file may mix compositions: one group (compile) each, energies relative per composition."""
    from md.screening.candidates import template

    rng = np.random.default_rng(1)
    cands = []
    for name in ("SA", "AM", "SA", "AM"):
        a = template(name)
        a.positions += 0.05 * rng.standard_normal(a.positions.shape)
        a.info["composition"] = {"SA": "SA1AM0", "AM": "SA0AM1"}[name]
        cands.append(a)
    res = screen("saam-gfn1", cands, fmax=0.05, max_steps=500)
    assert sorted(len(g) for g in res.groups) == [2, 2] and res.converged.all()
    comps = np.asarray(res.compositions)
    first = [c for c in dict.fromkeys(comps[res.ranked])]
    assert first == ["SA1AM0", "SA0AM1"]  # grouped in order of first appearance, lowest first within
    rel = res.relative_kcal_mol()
    for c in ("SA1AM0", "SA0AM1"):
        assert np.nanmin(rel[comps == c]) == 0.0
    assert res.energies[comps == "SA1AM0"].max() < res.energies[comps == "SA0AM1"].min()  # H2SO4 far below NH3


def test_protonation_states_are_reported(tmp_path):
    """Both states of SA1AM1 in one group; an energy whose one minimum is the ion pair: the neutral start
    ends there (state -> final_state), duplicates are found across states, and a resume reports the same."""
    from md.screening.protonation import state_candidates

    starts = state_candidates("SA1AM1", 2, seed=0)  # neutral, ion pair
    target = jnp.asarray(starts[1].positions)

    def bowl(R, **unused_kwargs):
        return 0.5 * jnp.sum((R - target) ** 2)

    lines = []
    # FIRE: which of the two equal minima is lower by round-off (the one kept) is FIRE's, as below
    kw = dict(keep=5, fmax=1e-3, max_steps=2000, slots=2, plot=False, log=lines.append, optimizer="fire")
    res = screen_to_folder(bowl, starts, tmp_path / "s", **kw)
    assert len(res.groups) == 1 and res.converged.all()
    assert res.states == ["SA1AM1", "SA0B1AM0AH1"] and res.final_states == ["SA0B1AM0AH1"] * 2
    assert res.same_as.tolist() == [1, 1] and res.ranked.tolist() == [1]  # one minimum, reached from both states
    assert "  SA0B1AM0AH1" in lines[0] and lines[-1].startswith("lowest minimum: state SA0B1AM0AH1 (1 proton transfer;")
    table = (tmp_path / "s" / "summary.csv").read_text()
    rows = [r.split(",") for r in table.splitlines()]
    i = rows[0].index("state")
    assert rows[0][i : i + 2] == ["state", "final_state"] and rows[0][8] == "rank"
    assert [r[i : i + 2] for r in rows[1:]] == [["SA1AM1", "SA0B1AM0AH1"], ["SA0B1AM0AH1", "SA0B1AM0AH1"]]
    summary = json.loads((tmp_path / "s" / "screen.json").read_text())
    assert summary["lowest_state"] == "SA0B1AM0AH1"
    neutral = summary["states"]["SA1AM1"]
    assert neutral["candidates"] == neutral["converged"] == 1 and abs(neutral["lowest_relative_kcal_mol"]) < 1e-3
    assert summary["states"]["SA0B1AM0AH1"] == {"candidates": 1, "converged": 1, "lowest_relative_kcal_mol": 0.0}
    (best,) = read(tmp_path / "s" / "best.extxyz", ":")
    assert best.info["state"] == best.info["final_state"] == "SA0B1AM0AH1"
    partial = read(tmp_path / "s" / "minimised.extxyz", ":")
    assert sorted((a.info["state"], a.info["final_state"]) for a in partial) == sorted(
        zip(res.states, res.final_states)
    )
    again = screen_to_folder(bowl, starts, tmp_path / "s", resume=True, **kw)  # all from minimised.extxyz
    assert again.resumed == 2 and again.states == res.states and again.final_states == res.final_states
    assert (tmp_path / "s" / "summary.csv").read_text() == table
