"""A committee inside the MD loop: the run follows the mean, records spreads, stops or collects above a limit."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.io import read
from conftest import perturbed_model
from md_helpers import elastic_network

from md import MDConfig, run_md
from md.dynamics.output import read_thermo
from md.dynamics.simulate import UNCERTAIN_FILE, SafetyStopWarning
from painnjax import InputError
from painnjax.potential import mean_potential
from painnjax.training.committee import committee_stats

KW = dict(ensemble="nvt-nh", temperature=300.0, dt=0.5, log_every=10, traj_every=10, checkpoint_every=100)


def _committee(atoms, n=2):
    models = [perturbed_model(seed=s) for s in range(n)]
    enm = elastic_network(atoms.positions, k=2.0)  # binds the random-weight models' cluster
    return mean_potential(models, atoms).plus(enm), models


def _run(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SafetyStopWarning)
        return run_md(*args, progress=False, **kwargs)


@pytest.fixture(scope="module")
def committee_run(sa1am1, tmp_path_factory):
    pot, models = _committee(sa1am1)
    out = tmp_path_factory.mktemp("committee")
    res = _run(pot, sa1am1, MDConfig(steps=200, **KW), out=out, traj_format="extxyz")
    return res, out, pot


def test_spreads_are_the_committee_stats_of_the_frames(committee_run):
    res, out, pot = committee_run
    th = read_thermo(out)
    for c in ("e_std_eV", "f_spread_eV_A", "f_spread_max_eV_A"):
        assert c in th and np.all(np.isfinite(th[c]))
    frames = read(out / "trajectory_r000.extxyz", index=":")
    assert len(frames) == len(th["step"])
    # an independent computation: each member's energy and forces, then painnjax.training.committee
    E = np.array([[float(m(jnp.asarray(a.positions, jnp.float32))) for a in frames] for m in pot.members])
    F = np.array(
        [[-np.asarray(jax.grad(m)(jnp.asarray(a.positions, jnp.float32))) for a in frames] for m in pot.members]
    )
    stats = committee_stats(E, [list(F[k]) for k in range(len(F))])
    assert stats.energy_std.max() > 1e-3  # the members do disagree
    np.testing.assert_allclose(th["e_std_eV"], stats.energy_std, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(th["f_spread_eV_A"], stats.force_spread, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(th["f_spread_max_eV_A"], stats.force_spread_max, rtol=1e-3, atol=1e-5)
    # the trajectory's energy is the committee mean (plus the same elastic network)
    e_mean = np.array([float(pot(jnp.asarray(a.positions, jnp.float32))) for a in frames])
    np.testing.assert_allclose(th["e_pot_eV"], e_mean, rtol=1e-5, atol=1e-4)
    assert res.summary["committee"]["members"] == 2


def test_max_spread_stops_and_collect_above_collects(sa1am1, committee_run, tmp_path):
    res0, out0, pot = committee_run
    spread = read_thermo(out0)["f_spread_max_eV_A"]
    limit = float(np.quantile(spread[1:], 0.5))  # crossed within the 200 steps of the same run
    collect = float(np.quantile(spread[1:], 0.2))
    cfg = MDConfig(steps=200, max_spread=limit, collect_above=collect, **KW)
    res = _run(pot, sa1am1, cfg, out=tmp_path)
    status = res.summary["replica_status"][0]
    assert status["stop_reason"] == "uncertainty" and res.stop_reason == "safety: uncertainty"
    step = status["stop_step"]
    th = read_thermo(tmp_path)
    assert th["step"].max() == step - 10  # the log ends at the last trusted record
    assert (th["f_spread_max_eV_A"] <= limit).all()
    # the same trajectory as without limits, up to the stop
    th0 = read_thermo(out0)
    assert spread[th0["step"] == step][0] > limit
    assert (spread[(th0["step"] < step) & (th0["step"] > 0)] <= limit).all()
    # the frames above `collect` up to and including the stop are in uncertain.extxyz
    upto = th0["step"] <= step
    expect = th0["step"][upto & (spread > collect)]
    got = read(tmp_path / UNCERTAIN_FILE, index=":")
    assert [a.info["step"] for a in got] == expect.tolist()
    assert all(a.info["f_spread_max_eV_A"] > collect for a in got)
    assert res.summary["committee"]["collected_frames"] == len(got)
    last = read(tmp_path / "last_good_r000.extxyz")
    assert last.info["step"] == step - 10


def test_spread_options_need_a_committee(sa1am1):
    energy = elastic_network(sa1am1.positions)
    with pytest.raises(InputError, match="committee"):
        run_md(energy, sa1am1, MDConfig(steps=10, max_spread=0.5), progress=False)
