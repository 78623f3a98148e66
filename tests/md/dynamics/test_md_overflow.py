"""Pair-list overflow during MD: the chunk is re-run with a larger list, and nothing changes but speed.

SA4AM4 (44 atoms) uses a managed sparse pair list. The run starts from the cluster expanded by
15 %; the elastic network of the test potential pulls it back together, so more pairs come within
the cutoff than the starting capacity holds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from md_helpers import bound_potential

from md import MDConfig, run_md
from md.dynamics.output import TrajectoryWriter
from md.forces.potential import MDPotential
from painnjax import potential
from painnjax.nn.neighbors import count_pairs


def test_overflow_reallocates_and_the_trajectory_is_unchanged(small_model, sa4am4, tmp_path, x64):
    n = len(sa4am4)
    energy_fn = bound_potential(small_model, sa4am4, reference_positions=sa4am4.positions, dtype=jnp.float64)
    assert MDPotential.wrap(energy_fn, n).managed
    cutoff = energy_fn.cutoff
    atoms = sa4am4.copy()
    com = atoms.get_center_of_mass()
    atoms.positions = com + 1.15 * (atoms.positions - com)
    start_pairs = count_pairs(atoms.positions, cutoff) // 2

    cfg = MDConfig(
        ensemble="nve",
        temperature=0.0,
        dt=0.5,
        steps=100,
        log_every=5,
        traj_every=10,
        checkpoint_every=100,
        fragment_distance=0.0,
        max_temperature=1e5,
    )
    tight = run_md(
        energy_fn, atoms, cfg, capacity=start_pairs, out=tmp_path / "tight", write_forces=True, progress=False
    )
    end_pairs = count_pairs(tight.positions[0], cutoff) // 2
    assert end_pairs > start_pairs * 1.05  # the list really had to grow
    assert tight.summary["pair_reallocations"] >= 1
    grown = tight.summary["pair_capacity"]
    assert grown >= end_pairs

    # The same trajectory as a run that had the larger list from the start: the overflowing
    # chunk was thrown away and run again from its saved start state. (Only the step-0 forces
    # were summed over lists of different lengths: float64 rounding, 1e-15 here.)
    big = run_md(energy_fn, atoms, cfg, capacity=grown, progress=False)
    assert big.summary["pair_reallocations"] == 0
    for a, b in zip(jax.tree_util.tree_leaves(tight.state), jax.tree_util.tree_leaves(big.state)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)

    # Every force written to the trajectory is the potential's own on all pairs (none was dropped).
    reference = jax.jit(jax.grad(bound_potential(small_model, sa4am4, neighbor="all", dtype=jnp.float64)))
    frames = TrajectoryWriter(tmp_path / "tight" / "trajectory_r000.traj").read()
    assert [a.info["step"] for a in frames] == list(range(0, 101, 10))
    for a in frames:
        np.testing.assert_allclose(a.get_forces(), -np.asarray(reference(jnp.asarray(a.positions))), rtol=0, atol=1e-9)


def test_initial_capacity_is_never_too_small(small_model, sa4am4):
    """A capacity that cannot hold the start structure is replaced by one that can (with a margin)."""
    energy_fn = potential(small_model, sa4am4, reference_positions=sa4am4.positions)
    pot = MDPotential.wrap(energy_fn, len(sa4am4))
    pairs = count_pairs(sa4am4.positions, energy_fn.cutoff) // 2
    assert pot.initial_capacity(sa4am4.positions[None], capacity=10) >= pairs * 1.1
    assert pot.initial_capacity(sa4am4.positions[None], capacity=pairs) == pairs
    assert pot.initial_capacity(sa4am4.positions[None]) == energy_fn.capacity // 2
    assert int(pot.count(jnp.asarray(sa4am4.positions))) == pairs
