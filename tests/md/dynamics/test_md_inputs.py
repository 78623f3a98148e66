"""Bad MD input is refused before anything is compiled, with a message that says what is wrong."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
from md_helpers import elastic_network

from md import MDConfig, run_md
from painnjax import InputError


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(dt=0.0), "[md] dt: must be a finite number > 0 fs, got 0.0"),
        (dict(dt=float("nan")), "[md] dt: must be a finite number > 0 fs"),
        (dict(temperature=-1.0), "[md] temperature: must be a finite number >= 0 K, got -1.0"),
        (dict(temperature=0.0), "[md] temperature: nvt-nh needs a temperature > 0 K"),
        (dict(ensemble="nvt-langevin", friction=0.0), "[md] friction: must be a finite number > 0 1/fs"),
        (dict(tau=-5.0), "[md] tau: must be a finite number > 0 fs"),
        (dict(sy_steps=2), "[md] sy_steps: must be one of (1, 3, 5, 7)"),
        (dict(steps=15, log_every=10), "[md] steps: 15 is not a multiple of log_every (10)"),
        (dict(traj_every=25, log_every=10), "[md] traj_every: 25 is not a multiple of log_every (10)"),
        (
            dict(temperature=(300.0, 400.0), replicas=3),
            "[md] temperature: give one temperature or one per replica (3), got 2",
        ),
        (dict(replicas=0), "[md] replicas: must be an integer >= 1"),
        (
            dict(chunk_steps=30, checkpoint_every=100),
            "[md] chunk_steps: 30 must be a multiple of log_every (10) and divide",
        ),
        (dict(fragment_distance=-1.0), "[md] fragment_distance: must be >= 0"),
    ],
)
def test_config_errors(options, message):
    with pytest.raises(InputError) as err:
        MDConfig(**options)  # refused when built
    assert message in str(err.value)


def test_nve_may_start_at_rest():
    MDConfig(ensemble="nve", temperature=0.0).check()
    assert MDConfig(temperature=(300.0, 400.0), replicas=2).temperatures() == (300.0, 400.0)
    assert MDConfig(temperature=300.0, replicas=3).temperatures() == (300.0,) * 3


def test_run_md_checks_the_structure(sa1am1, sa2am2):
    energy = elastic_network(sa1am1.positions)
    cfg = MDConfig(steps=10)
    with pytest.raises(InputError, match="masses must be 11 positive numbers"):
        run_md(energy, sa1am1, cfg, masses=np.zeros(11), progress=False)
    atoms = sa1am1.copy()
    atoms.positions[3] = atoms.positions[4]
    atoms.info["source"] = "bad.xyz"
    with pytest.raises(InputError, match=r"bad.xyz: atoms 3 \(.\) and 4 \(.\) overlap"):
        run_md(energy, atoms, cfg, progress=False)
    periodic = sa1am1.copy()
    periodic.pbc = True
    periodic.cell = [20, 20, 20]
    with pytest.raises(InputError, match="periodic boundary conditions are not supported"):
        run_md(energy, periodic, cfg, progress=False)
    with pytest.raises(InputError, match="must be an ase.Atoms"):
        run_md(energy, sa1am1.positions, cfg, progress=False)


def test_run_md_refuses_a_potential_built_for_another_cluster(small_model, sa1am1, sa2am2):
    from painnjax import potential

    energy_fn = potential(small_model, sa2am2)
    with pytest.raises(InputError, match="species differ from those the potential was built for"):
        run_md(energy_fn, sa1am1, MDConfig(steps=10), progress=False)


@pytest.mark.parametrize(
    "module",
    [
        "md.dynamics.config",
        "painnjax.units",
        "md.dynamics.velocities",
        "md.dynamics.safety",
        "md.clusters",
        "md.dynamics.integrators",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
