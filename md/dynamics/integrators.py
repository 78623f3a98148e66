"""jax-md integrators for one cluster, set up from an :class:`~md.dynamics.config.MDConfig` in the field's units.

Each :class:`Integrator` holds pure functions of one replica (``jax.vmap`` them for many):

- ``init(key, R, mass, kT, momenta=None, atom_mask=None, n_dof=None) -> state``: Maxwell-Boltzmann
  momenta without drift or rotation, scaled to exactly ``kT``
  (:func:`md.dynamics.velocities.maxwell_boltzmann`), or the given ``momenta`` (amu Å / time
  unit), then jax-md's init -- with the force left at zero, so that initialising never compiles
  the model: call ``with_force`` before the first step.
- ``with_force(state, **aux) -> (state, e_pot)``: the state with its force evaluated (and the energy).
- ``step(state, kT, **aux) -> state``: one time step of jax-md's ``nve``, ``nvt_nose_hoover`` or
  ``nvt_langevin`` (BAOAB). ``kT`` may differ between replicas.
- ``conserved(state, e_pot, kT)``: the total energy (NVE), the Nosé-Hoover chain's conserved
  quantity (NVT-NH), or NaN (Langevin has none).
- ``dof``: kinetic degrees of freedom used for temperatures and the chain (see
  :mod:`md.dynamics.velocities`).

``aux`` goes to the energy as keyword arguments: ``species`` and ``atom_mask`` (N,) when the
state holds a cluster padded to N atoms (:mod:`md.dynamics.systems`). Padded atoms are kept at
rest where they are after every step (Langevin's noise would move them), ``init`` gives them no
momentum, and ``n_dof`` there is that of the real atoms. The Nosé-Hoover chain couples to jax-md's
static count, so padding is refused for it (:func:`md.dynamics.systems.check_mixed`).

Two departures from jax-md's defaults, both deliberate: the Nosé-Hoover chain is coupled to
``3N - 6`` degrees of freedom, not ``3N`` (a free cluster with zero momentum and angular
momentum has no more), and a chain of length 1 is refused (:meth:`MDConfig.check`), since
jax-md's update then indexes past the end of the chain.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from md.dynamics.config import MDConfig
    >>> energy = lambda R, **kw: 0.5 * jnp.sum((jnp.linalg.norm(R[0] - R[1:], axis=-1) - 1.0) ** 2)
    >>> integ = make_integrator(energy, 3, MDConfig(ensemble="nve", dt=0.5))
    >>> R = jnp.array([[0.0, 0, 0], [1.1, 0, 0], [0, 0.9, 0]])
    >>> st = integ.init(jax.random.PRNGKey(0), R, jnp.array([16.0, 1.0, 1.0]), 0.025)
    >>> st, e_pot = integ.with_force(st)
    >>> st = integ.step(st, 0.025)
    >>> st.position.shape
    (3, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax_md import simulate, space

from md.dynamics.config import MDConfig
from md.dynamics.velocities import cluster_dof, kinetic_energy, maxwell_boltzmann
from painnjax.units import friction_to_internal, fs_to_internal


@dataclass(frozen=True)
class Integrator:
    """Pure functions of one replica; see the module docstring."""

    name: str
    init: Callable
    with_force: Callable
    step: Callable
    conserved: Callable
    dof: int


def make_integrator(energy: Callable, n_atoms: int, cfg: MDConfig) -> Integrator:
    """The integrator of ``cfg.ensemble`` for ``energy(R, **kwargs) -> E`` (eV, Å)."""
    cfg.check()
    _, shift = space.free()
    dt = fs_to_internal(cfg.dt)
    dof = cluster_dof(n_atoms)
    value_and_grad = jax.value_and_grad(energy)

    def zero(R, **unused_kwargs):  # what jax-md's init evaluates (the force comes later)
        return jnp.zeros((), R.dtype) * jnp.sum(R)

    def with_force(state, **aux):
        e, g = value_and_grad(state.position, **aux)
        return state.set(force=-g), e

    def draw(key, R, mass, kT, given=None, atom_mask=None, n_dof=None):
        n_dof = dof if n_dof is None else n_dof
        return maxwell_boltzmann(key, R, mass, kT, n_dof, atom_mask) if given is None else given

    def stepper(apply_fn):
        """``step(state, kT, **aux)``: one step of ``apply_fn``; padded atoms (``aux["atom_mask"]``) stay at rest."""

        def step(state, kT, **aux):
            new = apply_fn(state, kT=kT, **aux)
            if aux.get("atom_mask") is None:
                return new
            real = aux["atom_mask"][:, None]
            return new.set(
                position=jnp.where(real, new.position, state.position),
                momentum=jnp.where(real, new.momentum, 0.0),
            )

        return step

    if cfg.ensemble == "nve":
        init_fn, _ = simulate.nve(zero, shift, dt)
        _, apply_fn = simulate.nve(energy, shift, dt)

        def init(key, R, mass, kT, momenta=None, atom_mask=None, n_dof=None):
            k1, k2 = jax.random.split(key)
            return init_fn(k2, R, kT, mass=mass, momenta=draw(k1, R, mass, kT, momenta, atom_mask, n_dof))

        step = stepper(lambda state, kT, **aux: apply_fn(state, **aux))

        def conserved(state, e_pot, kT):
            return e_pot + kinetic_energy(state.momentum, state.mass)

        return Integrator("nve", init, with_force, step, conserved, dof)

    if cfg.ensemble == "nvt-nh":
        tau = fs_to_internal(cfg.tau)
        nh = dict(kT=0.0, chain_length=cfg.chain_length, chain_steps=cfg.chain_steps, sy_steps=cfg.sy_steps, tau=tau)
        init_fn, _ = simulate.nvt_nose_hoover(zero, shift, dt, **nh)
        _, apply_fn = simulate.nvt_nose_hoover(energy, shift, dt, **nh)

        def init(key, R, mass, kT, momenta=None, atom_mask=None, n_dof=None):
            k1, k2 = jax.random.split(key)
            state = init_fn(k2, R, mass=mass, momenta=draw(k1, R, mass, kT, momenta, atom_mask, n_dof), kT=kT)
            # jax-md couples the chain to 3N degrees of freedom (static); a free cluster has dof.
            Q = kT * jnp.asarray(tau, state.chain.mass.dtype) ** 2 * jnp.ones_like(state.chain.mass)
            chain = state.chain.set(degrees_of_freedom=dof, mass=Q.at[0].multiply(dof))
            return state.set(chain=chain)

        step = stepper(apply_fn)

        def conserved(state, e_pot, kT):
            c = state.chain
            e = e_pot + kinetic_energy(state.momentum, state.mass)
            e = e + c.momentum[0] ** 2 / (2 * c.mass[0]) + c.degrees_of_freedom * kT * c.position[0]
            return e + jnp.sum(c.momentum[1:] ** 2 / (2 * c.mass[1:]) + kT * c.position[1:])

        return Integrator("nvt-nh", init, with_force, step, conserved, dof)

    gamma = friction_to_internal(cfg.friction)
    init_fn, _ = simulate.nvt_langevin(zero, shift, dt, kT=0.0, gamma=gamma)
    _, apply_fn = simulate.nvt_langevin(energy, shift, dt, kT=0.0, gamma=gamma)

    def init(key, R, mass, kT, momenta=None, atom_mask=None, n_dof=None):
        k1, k2 = jax.random.split(key)
        return init_fn(k2, R, mass=mass, momenta=draw(k1, R, mass, kT, momenta, atom_mask, n_dof), kT=kT)

    step = stepper(apply_fn)

    def conserved(state, e_pot, kT):
        return jnp.full((), jnp.nan, e_pot.dtype)

    # The noise moves and turns the cluster: all 3N coordinates are thermal.
    return Integrator("nvt-langevin", init, with_force, step, conserved, 3 * n_atoms)
