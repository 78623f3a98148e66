"""Several different clusters as the replicas of one run, padded to one size (md.dynamics.systems).

The reference is each cluster run alone: padding must change nothing about a replica's
trajectory, energies or temperature, and padded atoms must never move or show up in output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.io import read

from md import MDConfig, run_md
from md.dynamics.systems import Systems
from painnjax import InputError, load_model, potential


def _rattled(atoms, seed, amount=0.05):
    a = atoms.copy()
    a.positions += np.random.default_rng(seed).normal(scale=amount, size=a.positions.shape)
    return a


@pytest.fixture(scope="module")
def pair(sa1am1, sa2am2):
    """SA1AM1 (11 atoms) and SA2AM2 (22), rattled so that they move from rest."""
    return _rattled(sa1am1, 1), _rattled(sa2am2, 2)


@pytest.fixture(scope="module")
def trained():
    """The shipped model: it holds the clusters together (a random one heats them to 2000 K in 15 fs)."""
    return load_model("saam-gfn1")


def _cfg(**kw):
    base = dict(
        ensemble="nve",
        temperature=0.0,
        dt=0.5,
        steps=60,
        log_every=10,
        traj_every=30,
        chunk_steps=30,
        checkpoint_every=30,
    )
    return MDConfig(**{**base, **kw})


def test_each_replica_follows_its_cluster_run_alone(trained, pair, tmp_path):
    """NVE from rest (no random numbers): replica r of the mixed run is the run of cluster r mod 2 alone."""
    small, large = pair
    mixed = run_md(potential(trained, large), [small, large], _cfg(replicas=3), out=tmp_path / "mixed", progress=False)
    assert mixed.stop_reason == "completed"
    alone_runs = {len(a): run_md(potential(trained, a), a, _cfg(replicas=1), progress=False) for a in pair}
    for r, atoms in enumerate([small, large, small]):
        alone = alone_runs[len(atoms)]
        rows = mixed.thermo["replica"] == r
        np.testing.assert_allclose(mixed.thermo["e_pot_eV"][rows], alone.thermo["e_pot_eV"], rtol=1e-6)
        np.testing.assert_allclose(mixed.thermo["e_kin_eV"][rows], alone.thermo["e_kin_eV"], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(mixed.positions[r], alone.positions[0], atol=1e-4)
        assert mixed.positions[r].shape == (len(atoms), 3)
        # the files hold the real atoms only, with their species
        frames = read(tmp_path / "mixed" / f"trajectory_r{r:03d}.traj", ":")
        assert [len(f) for f in frames] == [len(atoms)] * 3
        assert frames[-1].get_chemical_symbols() == atoms.get_chemical_symbols()
    # the padded atoms of the small replicas never moved
    state = mixed.state
    pads = Systems.of([small, large], 3).positions()[0, len(small) :]
    np.testing.assert_array_equal(np.asarray(state.position)[0, len(small) :], pads.astype(np.float32))
    assert not np.asarray(state.momentum)[0, len(small) :].any()
    summary = json.loads((tmp_path / "mixed" / "summary.json").read_text())
    assert summary["clusters"] == [
        {"formula": "H5NO4S", "n_atoms": 11, "replicas": [0, 2]},
        {"formula": "H10N2O8S2", "n_atoms": 22, "replicas": [1]},
    ]
    assert [s["formula"] for s in summary["replica_status"]] == ["H5NO4S", "H10N2O8S2", "H5NO4S"]
    assert summary["temperature_dof"] == [27, 60, 27]


def test_langevin_temperatures_count_each_clusters_own_degrees_of_freedom(trained, pair):
    """Start momenta are drawn for the real atoms only and scaled to exactly T over 3 N_r - 6;
    under Langevin every later temperature counts 3 N_r, and the padding stays at rest."""
    small, large = pair
    for ensemble, n_dof in (("nve", lambda n: 3 * n - 6), ("nvt-langevin", lambda n: 3 * n)):
        cfg = _cfg(ensemble=ensemble, temperature=300.0, replicas=2, steps=30, seed=3)
        res = run_md(potential(trained, large), [small, large], cfg, progress=False)
        first = res.thermo["step"] == 0
        T0 = res.thermo["temperature_K"][first]
        # the draw gives 3N - 6 degrees of freedom kT; Langevin counts over 3N
        expect = [300.0 * (3 * n - 6) / n_dof(n) for n in (11, 22)]
        np.testing.assert_allclose(T0, expect, rtol=1e-4)
        assert res.summary["temperature_dof"] == [n_dof(11), n_dof(22)]
        assert not np.asarray(res.state.momentum)[0, 11:].any()


def test_isomers_share_a_nose_hoover_run(trained, sa2am2):
    """Clusters of one size need no padding: the Nosé-Hoover chain is allowed."""
    other = _rattled(sa2am2, 5, 0.1)
    cfg = _cfg(ensemble="nvt-nh", temperature=300.0, replicas=2, steps=20)
    res = run_md(potential(trained, sa2am2), [sa2am2, other], cfg, progress=False)
    assert res.stop_reason == "completed" and res.positions.shape == (2, 22, 3)
    assert res.summary["temperature_dof"] == [60, 60]


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(ensemble="nvt-nh", temperature=300.0), "Nosé-Hoover"),
        (dict(ensemble="nvt-langevin", temperature=(280.0, 300.0), exchange_every=10), "replica exchange"),
        (dict(ensemble="nvt-langevin", temperature=300.0, wall_radius=8.0), "wall"),
        (dict(replicas=1), "at least as many replicas"),
    ],
)
def test_what_several_clusters_cannot_do_is_refused(small_model, pair, change, message):
    small, large = pair
    with pytest.raises(InputError, match=message):
        run_md(potential(small_model, large), [small, large], _cfg(**{"replicas": 2, **change}), progress=False)


def test_potential_for_a_smaller_cluster_is_refused(small_model, pair):
    small, large = pair
    with pytest.raises(InputError, match="built for 11 atoms"):
        run_md(potential(small_model, small), [small, large], _cfg(replicas=2), progress=False)


def test_restart_of_a_mixed_run_continues_it_exactly(trained, pair, tmp_path):
    small, large = pair
    pot = potential(trained, large)
    cfg = _cfg(ensemble="nvt-langevin", temperature=300.0, replicas=2, steps=60, seed=4)
    straight = run_md(pot, [small, large], cfg, progress=False)
    run_md(pot, [small, large], _cfg(**{**cfg.to_dict(), "steps": 30}), out=tmp_path, progress=False)
    resumed = run_md(pot, [small, large], cfg, out=tmp_path, restart=True, progress=False)
    assert straight.stop_reason == resumed.stop_reason == "completed"
    for r in range(2):
        np.testing.assert_array_equal(resumed.positions[r], straight.positions[r])
    with pytest.raises(InputError, match="another cluster"):
        run_md(pot, [large, small], cfg, out=tmp_path, restart=True, progress=False)


def test_cli_runs_several_start_structures(tmp_path, capsys):
    from painnjax.cli import main

    out = tmp_path / "run"
    args = ["md", "saam-gfn1", "SA1AM1", "SA2AM2", "--ensemble", "nvt-langevin", "--steps", "20", "--quiet"]
    assert main([*args, "--log-every", "10", "--checkpoint-every", "20", "--out", str(out)]) == 0
    assert "2 clusters (H5NO4S, H10N2O8S2; up to 22 atoms)" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["start"] == ["SA1AM1", "SA2AM2"]
    assert main([*args[:4], "--steps", "20", "--out", str(tmp_path / "nh")]) == 2  # Nosé-Hoover refused
    assert "Nosé-Hoover" in capsys.readouterr().err
