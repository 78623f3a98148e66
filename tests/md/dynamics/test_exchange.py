"""Replica exchange: the swap rule, and detailed balance in a run with a known distribution.

Atoms in independent harmonic wells (an Einstein solid) have a potential energy that is Gamma
distributed with shape 3N/2 and scale kT, so with replica exchange every temperature's record
must still show the mean (3N/2) kT and variance (3N/2) (kT)^2, and each pair's acceptance must
be the one the Metropolis rule gives for independent Gamma samples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms

from md import MDConfig, run_md
from md.dynamics.exchange import exchange_key, swap_neighbours
from md.dynamics.output import read_thermo
from painnjax import InputError
from painnjax.units import kelvin_to_kT


class _State:
    """A stand-in for a jax-md state: the fields the swap touches, and ``set``."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def set(self, **fields):
        return _State(**{**self.__dict__, **fields})


def _state(R):
    x = jnp.arange(R, dtype=jnp.float32)[:, None, None] * jnp.ones((R, 2, 3))
    return _State(position=x, momentum=x + 100.0, force=x - 100.0, chain=jnp.arange(R))


def test_swap_rule_by_hand():
    kT = jnp.array([0.02, 0.03, 0.04, 0.05])
    # pair (0, 1): the colder replica higher in energy -> always accepted; pair (2, 3) likewise
    e = jnp.array([5.0, 0.0, 5.0, 0.0])
    out = swap_neighbours(_state(4), e, kT, jnp.arange(4), exchange_key(0, 2), 0, jnp.ones(4, bool))
    assert out.attempted.tolist() == [True, False, True, False]
    assert out.accepted.tolist() == [True, False, True, False]
    assert out.walker.tolist() == [1, 0, 3, 2]
    assert out.e_pot.tolist() == [0.0, 5.0, 0.0, 5.0]
    np.testing.assert_allclose(out.state.position[:, 0, 0], [1, 0, 3, 2])
    np.testing.assert_allclose(out.state.force[:, 0, 0], [-99, -100, -97, -98])
    # momenta scaled to the new temperature: sqrt(T_new / T_old)
    expect = np.array([101 * np.sqrt(2 / 3), 100 * np.sqrt(3 / 2), 103 * np.sqrt(4 / 5), 102 * np.sqrt(5 / 4)])
    np.testing.assert_allclose(out.state.momentum[:, 0, 0], expect, rtol=1e-6)
    assert out.state.chain.tolist() == [0, 1, 2, 3]  # the thermostat stays with its temperature

    # odd parity: only the pair (1, 2); a stopped replica's pairs are never offered
    out = swap_neighbours(_state(4), e, kT, jnp.arange(4), exchange_key(0, 3), 1, jnp.ones(4, bool))
    assert out.attempted.tolist() == [False, True, False, False]
    active = jnp.array([True, True, False, True])
    out = swap_neighbours(_state(4), e, kT, jnp.arange(4), exchange_key(0, 2), 0, active)
    assert out.attempted.tolist() == [True, False, False, False]


def test_swap_probability_and_nan():
    """Over many keys the acceptance of one pair is exp((b0 - b1)(E0 - E1)); a NaN energy is never taken."""
    kT = jnp.array([0.025, 0.05])
    e = jnp.array([0.0, 0.02])  # (40 - 20) * (-0.02) = -0.4
    keys = jax.vmap(lambda x: exchange_key(7, x))(jnp.arange(20000))
    acc = jax.vmap(lambda k: swap_neighbours(_state(2), e, kT, jnp.arange(2), k, 0, jnp.ones(2, bool)).accepted[0])(
        keys
    )
    assert abs(float(acc.mean()) - np.exp(-0.4)) < 0.015
    bad = jnp.array([0.0, jnp.nan])
    acc = jax.vmap(lambda k: swap_neighbours(_state(2), bad, kT, jnp.arange(2), k, 0, jnp.ones(2, bool)).accepted)(
        keys[:200]
    )
    assert not bool(acc.any())


N_ATOMS = 4
TEMPS = (150.0, 200.0, 270.0, 360.0)


def _einstein(k=1.0):
    R0 = np.array([[0.0, 0, 0], [2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])

    def energy(R, **unused):
        return 0.5 * k * jnp.sum((R - jnp.asarray(R0, R.dtype)) ** 2)

    return energy, Atoms("H4", positions=R0)


@pytest.fixture(scope="module")
def exchange_run(tmp_path_factory):
    energy, atoms = _einstein()
    cfg = MDConfig(
        ensemble="nvt-langevin",
        temperature=TEMPS,
        replicas=len(TEMPS),
        dt=2.0,
        friction=0.05,
        steps=40000,
        log_every=5,
        traj_every=0,
        checkpoint_every=20000,
        exchange_every=10,
        fragment_distance=0,
        seed=3,
    )
    out = tmp_path_factory.mktemp("rex")
    res = run_md(energy, atoms, cfg, out=out, progress=False)
    return res, out


def test_exchange_keeps_each_temperature_canonical(exchange_run):
    res, out = exchange_run
    th = read_thermo(out)
    shape = 1.5 * N_ATOMS  # Gamma shape of the potential energy of 3N harmonic coordinates
    for r, T in enumerate(TEMPS):
        kT = kelvin_to_kT(T)
        e = th["e_pot_eV"][(th["replica"] == r) & (th["step"] >= 1000)]
        assert abs(e.mean() / (shape * kT) - 1) < 0.04, (T, e.mean() / (shape * kT))
        assert abs(e.var() / (shape * kT**2) - 1) < 0.2, (T, e.var() / (shape * kT**2))


def test_exchange_acceptance_matches_metropolis(exchange_run):
    res, out = exchange_run
    acc = res.summary["exchange_acceptance"]
    attempts = res.summary["exchange_attempts"]
    assert len(acc) == len(TEMPS) - 1
    # 4000 exchanges, pairs alternate: each pair is offered half of them
    assert attempts == [2000, 2000, 2000]
    rng = np.random.default_rng(0)
    shape = 1.5 * N_ATOMS
    for i in range(len(TEMPS) - 1):
        k0, k1 = kelvin_to_kT(TEMPS[i]), kelvin_to_kT(TEMPS[i + 1])
        e0, e1 = rng.gamma(shape, k0, 400000), rng.gamma(shape, k1, 400000)
        expect = np.minimum(1.0, np.exp((1 / k0 - 1 / k1) * (e0 - e1))).mean()
        assert abs(acc[i] - expect) < 0.05, (i, acc[i], expect)
        assert 0.05 < acc[i] < 1


def test_exchange_walkers_travel(exchange_run):
    res, out = exchange_run
    th = read_thermo(out)
    assert "walker" in th
    steps = np.unique(th["step"])
    w = th["walker"].reshape(len(steps), len(TEMPS))  # rows sorted by step, then replica
    assert (np.sort(w, axis=1) == np.arange(len(TEMPS))).all()  # a permutation at every record
    # the coldest temperature sees every configuration in 40,000 steps
    assert set(w[:, 0].tolist()) == set(range(len(TEMPS)))
    assert sorted(res.summary["walker_at_temperature"]) == list(range(len(TEMPS)))


def test_exchange_restart_is_exact(tmp_path):
    energy, atoms = _einstein()
    kw = dict(
        ensemble="nvt-nh",
        temperature=(200.0, 300.0),
        replicas=2,
        dt=2.0,
        log_every=5,
        traj_every=0,
        checkpoint_every=200,
        exchange_every=10,
        fragment_distance=0,
    )
    whole = run_md(energy, atoms, MDConfig(steps=600, **kw), out=tmp_path / "a", progress=False)
    run_md(energy, atoms, MDConfig(steps=200, **kw), out=tmp_path / "b", progress=False)
    again = run_md(energy, atoms, MDConfig(steps=600, **kw), out=tmp_path / "b", restart=True, progress=False)
    np.testing.assert_array_equal(whole.positions, again.positions)
    assert whole.summary["exchange_attempts"] == again.summary["exchange_attempts"]
    assert whole.summary["exchange_acceptance"] == again.summary["exchange_acceptance"]
    a, b = read_thermo(tmp_path / "a"), read_thermo(tmp_path / "b")
    np.testing.assert_array_equal(a["walker"], b["walker"])
    np.testing.assert_array_equal(a["e_pot_eV"], b["e_pot_eV"])


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(ensemble="nve", temperature=(200.0, 300.0), replicas=2), "thermostat"),
        (dict(temperature=(300.0, 200.0), replicas=2), "increasing"),
        (dict(temperature=300.0, replicas=1), "two or more"),
        (dict(temperature=(200.0, 300.0), replicas=2, exchange_every=15), "multiple of log_every"),
    ],
)
def test_exchange_options_are_checked(kw, words):
    kw = {"exchange_every": 20, **kw}
    with pytest.raises(InputError, match=words):
        MDConfig(**kw)
