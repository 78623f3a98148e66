"""Checkpoints and restart: a restarted run equals an uninterrupted one, bit for bit in float64.

Kills are simulated by an exception from inside the run loop after some chunks: the files then
hold more thermo rows and frames than the last checkpoint, as after a real kill, and the
restart must cut them back and continue exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from md_helpers import bound_potential, checkpoint_meta

import md.dynamics.engine
from md import MDConfig, run_md
from md.dynamics.output import TrajectoryWriter, read_thermo
from painnjax import InputError


@pytest.fixture(scope="module")
def energy_f64(small_model, sa1am1):
    with jax.enable_x64(True):
        return bound_potential(small_model, sa1am1, dtype=jnp.float64)


def _cfg(ensemble="nvt-nh", steps=400, **kw):
    base = dict(
        ensemble=ensemble,
        temperature=350.0,
        dt=0.5,
        steps=steps,
        log_every=10,
        traj_every=50,
        checkpoint_every=100,
        chunk_steps=50,
        replicas=2,
        seed=7,
    )
    base.update(kw)
    return MDConfig(**base)


def _kill_after(monkeypatch, n_calls, exc):
    """Make the n-th call of Engine.run (and later ones) raise ``exc``."""
    real = md.dynamics.engine.Engine.run
    calls = {"n": 0}

    def run(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= n_calls:
            raise exc
        return real(self, *args, **kwargs)

    monkeypatch.setattr(md.dynamics.engine.Engine, "run", run)


def _same_state(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _frames(path):
    return TrajectoryWriter(path).read()


def test_killed_run_restarts_exactly(energy_f64, sa1am1, tmp_path, monkeypatch, x64):
    cfg = _cfg()
    ref = run_md(energy_f64, sa1am1, cfg, out=tmp_path / "ref", progress=False)
    assert ref.stop_reason == "completed"

    # killed during the 6th chunk (call 1 evaluates the start): steps 0..250 logged, the last
    # checkpoint is at step 200
    _kill_after(monkeypatch, 7, RuntimeError("killed"))
    with pytest.raises(RuntimeError, match="killed"):
        run_md(energy_f64, sa1am1, cfg, out=tmp_path / "run", progress=False)
    monkeypatch.undo()
    assert checkpoint_meta(tmp_path / "run" / "checkpoint.msgpack")["step"] == 200
    assert read_thermo(tmp_path / "run")["step"].max() == 250  # rows beyond the checkpoint, as after a kill

    res = run_md(energy_f64, sa1am1, cfg, out=tmp_path / "run", restart=True, progress=False)
    assert res.summary["restarted_from_step"] == 200  # lost 50 steps, at most checkpoint_every
    assert res.summary["steps_this_session"] == 200
    _same_state(res.state, ref.state)
    # the log and the trajectories are those of the uninterrupted run, with nothing doubled
    assert (tmp_path / "run" / "thermo.csv").read_text() == (tmp_path / "ref" / "thermo.csv").read_text()
    for r in range(cfg.replicas):
        a = _frames(tmp_path / "ref" / f"trajectory_r{r:03d}.traj")
        b = _frames(tmp_path / "run" / f"trajectory_r{r:03d}.traj")
        assert [x.info["step"] for x in a] == [x.info["step"] for x in b] == list(range(0, 401, 50))
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.positions, y.positions)
            np.testing.assert_array_equal(x.get_velocities(), y.get_velocities())
            assert x.get_potential_energy() == y.get_potential_energy()
    assert res.summary["mean_temperature_K"] == ref.summary["mean_temperature_K"]


def test_interrupt_saves_a_checkpoint_and_extends(energy_f64, sa1am1, tmp_path, monkeypatch, x64):
    """Ctrl-C checkpoints the last finished chunk (step 150); a restart may raise --steps."""
    ref = run_md(energy_f64, sa1am1, _cfg(steps=300), out=tmp_path / "ref", progress=False)
    _kill_after(monkeypatch, 5, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_md(energy_f64, sa1am1, _cfg(steps=200), out=tmp_path / "run", progress=False)
    monkeypatch.undo()
    assert checkpoint_meta(tmp_path / "run" / "checkpoint.msgpack")["step"] == 150
    res = run_md(energy_f64, sa1am1, _cfg(steps=300), out=tmp_path / "run", restart=True, progress=False)
    assert res.summary["restarted_from_step"] == 150 and res.steps_done == 300
    _same_state(res.state, ref.state)
    assert (tmp_path / "run" / "thermo.csv").read_text() == (tmp_path / "ref" / "thermo.csv").read_text()


def test_langevin_restart_continues_the_random_stream(small_model, sa1am1, tmp_path, x64):
    energy_fn = bound_potential(small_model, sa1am1, dtype=jnp.float64)
    cfg = _cfg("nvt-langevin", steps=200, traj_every=0)
    ref = run_md(energy_fn, sa1am1, cfg, out=tmp_path / "ref", progress=False)
    run_md(energy_fn, sa1am1, _cfg("nvt-langevin", steps=100, traj_every=0), out=tmp_path / "run", progress=False)
    res = run_md(energy_fn, sa1am1, cfg, out=tmp_path / "run", restart=True, progress=False)
    _same_state(res.state, ref.state)
    # the two replicas have their own noise
    assert not np.array_equal(res.positions[0], res.positions[1])


def test_restart_refuses_changed_options_and_fresh_runs_refuse_old_folders(energy_f64, sa1am1, tmp_path, x64):
    out = tmp_path / "run"
    run_md(energy_f64, sa1am1, _cfg(steps=100), out=out, progress=False)
    with pytest.raises(InputError, match="already holds an MD run"):
        run_md(energy_f64, sa1am1, _cfg(steps=100), out=out, progress=False)
    with pytest.raises(InputError, match="dt: 0.5 -> 0.25"):
        run_md(energy_f64, sa1am1, _cfg(steps=200, dt=0.25), out=out, restart=True, progress=False)
    with pytest.raises(InputError, match="no checkpoint"):
        run_md(energy_f64, sa1am1, _cfg(steps=200), out=tmp_path / "empty", restart=True, progress=False)
    # a finished run restarted with the same steps does nothing and says so
    res = run_md(energy_f64, sa1am1, _cfg(steps=100), out=out, restart=True, progress=False)
    assert res.summary["steps_this_session"] == 0 and res.steps_done == 100
