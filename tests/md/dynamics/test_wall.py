"""The flat-bottom spherical wall: no effect inside, a restoring force outside, energy reported, conserved."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from md_helpers import ammonia_sent_away, elastic_network

from md import MDConfig, run_md
from md.dynamics.output import read_thermo
from md.dynamics.wall import SphericalWall
from painnjax import InputError


def test_wall_energy_and_force_by_hand():
    wall = SphericalWall(radius=2.0, k=3.0)
    masses = jnp.array([1.0, 1.0])
    R = jnp.array([[-3.0, 0, 0], [3.0, 0, 0]])  # both 3 Å from the centre: 1 Å outside
    assert float(wall.energy(R, masses)) == pytest.approx(3.0)  # 2 * 3/2 * 1^2
    F = -jax.grad(wall.energy)(R, masses)
    np.testing.assert_allclose(F, [[3.0, 0, 0], [-3.0, 0, 0]], atol=1e-6)  # back towards the centre


def test_wall_is_flat_inside_and_exact_outside():
    rng = np.random.default_rng(1)
    R = rng.normal(size=(12, 3))
    masses = jnp.asarray(rng.uniform(1, 32, 12))
    wall = SphericalWall(radius=10.0, k=1.0)
    assert float(wall.energy(jnp.asarray(R), masses)) == 0.0
    assert not np.any(np.asarray(jax.grad(wall.energy)(jnp.asarray(R), masses)))
    R[0] += [6.0, 4.0, 9.0]  # one atom far out
    wall = SphericalWall(radius=3.0, k=2.0)
    with jax.enable_x64(True):
        x = jnp.asarray(R, jnp.float64)
        m = jnp.asarray(masses, jnp.float64)
        g = np.asarray(jax.grad(wall.energy)(x, m))
        # forces = -grad E by central differences
        h = 1e-5
        for i, a in [(0, 0), (0, 2), (3, 1)]:
            d = np.zeros_like(R)
            d[i, a] = h
            fd = (wall.energy(x + d, m) - wall.energy(x - d, m)) / (2 * h)
            assert float(fd) == pytest.approx(g[i, a], rel=1e-6, abs=1e-9)
        # no net force and no net torque about the centre of mass: momentum and rotation stay zero
        np.testing.assert_allclose(g.sum(0), 0, atol=1e-10)
        com = np.asarray(m) @ R / float(m.sum())
        np.testing.assert_allclose(np.cross(R - com, -g).sum(0), 0, atol=1e-10)


def test_wall_keeps_a_leaving_molecule(sa1am1, tmp_path):
    """Ammonia sent away (no bond holds it) stays within the wall; NVE conserves E including the wall."""
    energy, momenta = ammonia_sent_away(sa1am1)
    cfg = MDConfig(
        ensemble="nve",
        temperature=0.0,
        dt=0.25,
        steps=4000,
        log_every=10,
        traj_every=0,
        checkpoint_every=2000,
        wall_radius=5.0,
        wall_k=2.0,
    )
    res = run_md(energy, sa1am1, cfg, out=tmp_path, momenta=momenta, progress=False)
    assert res.stop_reason == "completed"  # with a wall a fragment is no stop
    th = read_thermo(tmp_path)
    assert "e_wall_eV" in th and th["e_wall_eV"].max() > 0.01  # it hit the wall
    assert th["e_wall_eV"][0] == 0.0
    # e_total includes the wall and is what NVE conserves
    np.testing.assert_allclose(th["e_total_eV"], th["e_pot_eV"] + th["e_kin_eV"] + th["e_wall_eV"], rtol=1e-6)
    drift = np.ptp(th["conserved_eV"])
    assert drift < 0.01 * th["e_wall_eV"].max() + 2e-4, drift
    R = res.positions[0]
    com = sa1am1.get_masses() @ R / sa1am1.get_masses().sum()
    assert np.linalg.norm(R - com, axis=1).max() < 5.0 + 1.0
    assert res.summary["wall"] == {"radius_A": 5.0, "k_eV_A2": 2.0}


def test_wall_far_away_changes_nothing(sa1am1):
    energy = elastic_network(sa1am1.positions, k=5.0)
    kw = dict(ensemble="nvt-nh", temperature=300.0, dt=0.5, steps=200, log_every=10, traj_every=0)
    plain = run_md(energy, sa1am1, MDConfig(**kw), progress=False)
    walled = run_md(energy, sa1am1, MDConfig(wall_radius=50.0, fragment_distance=5.0, **kw), progress=False)
    np.testing.assert_allclose(plain.positions, walled.positions, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(walled.thermo["e_wall_eV"], 0.0)


def test_wall_inside_the_start_is_refused(sa1am1):
    energy = elastic_network(sa1am1.positions)
    with pytest.raises(InputError, match="farthest atom"):
        run_md(energy, sa1am1, MDConfig(steps=10, wall_radius=1.0), progress=False)
    with pytest.raises(InputError, match="wall_radius"):
        MDConfig(wall_radius=-2.0)
