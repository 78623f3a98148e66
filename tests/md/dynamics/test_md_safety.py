"""Safety stops: non-finite energies, a temperature running away, a molecule leaving the cluster.

Cheap jax-md style energies (springs) make each case happen on purpose; the driver must stop the
replica with a message naming step and time, save its last good frame, and let other replicas go on.
"""

from __future__ import annotations

import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from ase.io import read
from md_helpers import ammonia_sent_away, elastic_network

from md import MDConfig, run_md
from md.clusters import molecules
from md.dynamics.output import read_thermo
from md.dynamics.safety import fragments
from md.dynamics.simulate import SafetyStopWarning
from md.workflow import format_md_summary
from painnjax import InputError


def _run(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SafetyStopWarning)
        res = run_md(*args, progress=False, **kwargs)
    return res, [str(w.message) for w in caught if issubclass(w.category, SafetyStopWarning)]


def test_a_molecule_leaving_stops_the_run(sa1am1, tmp_path):
    energy, momenta = ammonia_sent_away(sa1am1)
    cfg = MDConfig(
        ensemble="nve", temperature=0.0, dt=0.5, steps=1000, log_every=10, traj_every=50, checkpoint_every=500
    )
    res, warned = _run(energy, sa1am1, cfg, out=tmp_path, momenta=momenta)

    assert res.stop_reason == "safety: fragmentation"
    status = res.summary["replica_status"][0]
    assert status["status"] == "stopped" and status["stop_reason"] == "fragmentation"
    assert status["fragments"] == ["H3N"]  # what left, for evaporation statistics
    step = status["stop_step"]
    assert 50 < step < 1000 and res.steps_done < 1000
    assert status["stop_time_fs"] == step * 0.5
    assert len(warned) == 1 and f"stopped at step {step} (t = {step * 0.5:g} fs)" in warned[0]
    assert "H3N" in warned[0] and "5 Å" in warned[0]
    # the last good frame is saved, is one cluster, and is the last row of the log
    last = read(tmp_path / "last_good_r000.extxyz")
    assert last.info["step"] == status["last_good_step"] == step - 10
    assert len(fragments(last.positions, 5.0)) == 1
    assert len(fragments(res.positions[0], 5.0)) == 1
    assert read_thermo(tmp_path)["step"].max() == step - 10


def test_non_finite_energy_stops_the_run(sa1am1, tmp_path):
    springs = elastic_network(sa1am1.positions, k=1.0)
    x_max = sa1am1.positions[0, 0] + 0.05

    def energy(R, **unused_kwargs):  # undefined (NaN) once atom 0 passes x_max
        return springs(R) + 0.0 * jnp.log(x_max - R[0, 0])

    momenta = np.zeros((len(sa1am1), 3))
    momenta[0, 0] = sa1am1.get_masses()[0] * 0.2
    cfg = MDConfig(ensemble="nve", temperature=0.0, dt=0.5, steps=200, log_every=2, traj_every=0, checkpoint_every=200)
    res, warned = _run(energy, sa1am1, cfg, out=tmp_path, momenta=momenta)
    assert res.stop_reason == "safety: non-finite"
    assert "non-finite" in warned[0]
    assert np.isfinite(res.positions).all()  # the last good frame
    assert res.positions[0, 0, 0] <= x_max


def test_runaway_temperature_stops_one_replica_and_the_other_goes_on(sa1am1, tmp_path):
    energy = elastic_network(sa1am1.positions, k=1.0)
    cfg = MDConfig(
        ensemble="nvt-langevin",
        temperature=(2000.0, 100.0),
        replicas=2,
        dt=0.5,
        steps=400,
        friction=0.05,
        log_every=10,
        traj_every=100,
        checkpoint_every=200,
        max_temperature=500.0,
    )
    res, warned = _run(energy, sa1am1, cfg, out=tmp_path, momenta=np.zeros((len(sa1am1), 3)))
    hot, cold = res.summary["replica_status"]
    assert hot["status"] == "stopped" and hot["stop_reason"] == "temperature"
    assert cold["status"] == "completed"
    assert res.stop_reason == "completed" and res.steps_done == 400
    assert len(warned) == 1 and warned[0].startswith("replica 0 stopped at step")
    th = read_thermo(tmp_path)
    assert th["step"][th["replica"] == 0].max() < hot["stop_step"]
    assert th["step"][th["replica"] == 1].max() == 400
    assert (tmp_path / "last_good_r000.extxyz").exists() and not (tmp_path / "last_good_r001.extxyz").exists()
    assert th["temperature_K"][th["replica"] == 0].max() <= 500.0


def test_a_fragmented_start_is_refused(sa1am1):
    atoms = sa1am1.copy()
    am = next(m for m in molecules(atoms) if len(m) == 4)
    away = atoms.positions[am].mean(0) - atoms.get_center_of_mass()
    atoms.positions[am] += 10.0 * away / np.linalg.norm(away)
    atoms.info["source"] = "apart.xyz"
    energy = elastic_network(atoms.positions)
    with pytest.raises(InputError, match=r"apart.xyz: the start structure is not one cluster: H3N \(4 atoms\)"):
        run_md(energy, atoms, MDConfig(steps=10), progress=False)


def test_a_stop_mid_chunk_reports_the_last_good_step_not_the_chunk_end(sa1am1, tmp_path):
    # one chunk of 400 steps; the energy turns NaN a few steps in: steps_done is the last good record
    springs = elastic_network(sa1am1.positions, k=1.0)
    x_max = sa1am1.positions[0, 0] + 0.05

    def energy(R, **unused_kwargs):
        return springs(R) + 0.0 * jnp.log(x_max - R[0, 0])

    momenta = np.zeros((len(sa1am1), 3))
    momenta[0, 0] = sa1am1.get_masses()[0] * 0.2
    cfg = MDConfig(ensemble="nve", temperature=0.0, dt=0.5, steps=400, log_every=2, traj_every=0, checkpoint_every=400)
    assert cfg.records_per_chunk() * cfg.log_every == 400
    res, _ = _run(energy, sa1am1, cfg, out=tmp_path, momenta=momenta)
    status = res.summary["replica_status"][0]
    last = status["last_good_step"]
    assert res.stop_reason == "safety: non-finite" and last == status["stop_step"] - 2 < 398
    assert res.steps_done == res.summary["steps_done"] == last
    assert res.summary["time_ps"] == pytest.approx(last * 0.5 / 1000)
    assert json.loads((tmp_path / "summary.json").read_text())["steps_done"] == last
    assert f"step {last} of 400 ({last * 0.5 / 1000:g} ps)" in format_md_summary(res.summary)
