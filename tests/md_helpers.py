"""Helpers of the MD tests: a bound test cluster for random-weight models.

A PaiNN with random weights does not bind a cluster: atoms drift apart or collapse within a
few hundred femtoseconds. The MD tests add an elastic network (harmonic springs between all
atom pairs closer than 4 Å in the start structure) to the small random PaiNN. The sum is a
translation- and rotation-invariant, anharmonic and bound potential -- a stand-in for a
trained model with the same calling convention, so drift, temperature, minimisation and
restart are tested on a system that stays a cluster.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import serialization
from scipy.spatial.distance import pdist

from painnjax import potential


def elastic_network(R0, k: float = 1.0, cutoff: float = 4.0, dtype=jnp.float32, molecules=None):
    """``energy(R) = k/2 * sum (|r_ij| - d0_ij)^2`` over pairs with d0 < cutoff (eV, Å).

    With ``molecules`` (lists of atom indices), only pairs inside one molecule are springs.
    """
    R0 = np.asarray(R0, np.float64)
    i, j = np.triu_indices(len(R0), k=1)
    d0 = pdist(R0)
    keep = d0 < cutoff
    if molecules is not None:
        label = np.empty(len(R0), int)
        for m, atoms in enumerate(molecules):
            label[np.asarray(atoms)] = m
        keep &= label[i] == label[j]
    i, j, d0 = jnp.asarray(i[keep]), jnp.asarray(j[keep]), jnp.asarray(d0[keep], dtype)

    def energy(R, **unused_kwargs):
        d = jnp.linalg.norm(R[i] - R[j], axis=-1)
        return 0.5 * k * jnp.sum((d - d0) ** 2)

    return energy


def ammonia_sent_away(sa1am1, speed: float = 0.5):
    """SA1AM1 with springs inside each molecule only (nothing holds NH3 to H2SO4) and momenta that
    send the ammonia away from the acid at ``speed`` Å per 10 fs: ``(energy, momenta)``."""
    from md.clusters import molecules

    mols = molecules(sa1am1)
    energy = elastic_network(sa1am1.positions, k=5.0, molecules=mols)
    am = next(m for m in mols if len(m) == 4)
    sa = np.setdiff1d(np.arange(len(sa1am1)), am)
    away = sa1am1.positions[am].mean(0) - sa1am1.positions[sa].mean(0)
    momenta = np.zeros((len(sa1am1), 3))
    momenta[am] = sa1am1.get_masses()[am, None] * speed * away / np.linalg.norm(away)
    return energy, momenta


def bound_potential(model, atoms, k: float = 1.0, dtype=jnp.float32, **kwargs):
    """The painnjax potential of ``atoms`` plus :func:`elastic_network`, with the potential's attributes."""
    efn = potential(model, atoms, dtype=dtype, **kwargs)
    enm = elastic_network(atoms.positions, k, dtype=dtype)

    return efn.plus(lambda R: enm(jnp.asarray(R, dtype)))


class ElasticNetworkCalculator:
    """The elastic network as an ASE calculator (energy, forces), to add to a PaiNNCalculator."""

    def __new__(cls, R0, k: float = 1.0, cutoff: float = 4.0):
        import jax
        from ase.calculators.calculator import Calculator, all_changes

        value_and_grad = jax.jit(jax.value_and_grad(elastic_network(R0, k, cutoff, dtype=jnp.float64)))

        class _Calc(Calculator):
            implemented_properties = ["energy", "forces"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                e, g = value_and_grad(jnp.asarray(self.atoms.positions, jnp.float64))
                self.results = {"energy": float(e), "forces": -np.asarray(g, np.float64)}

        return _Calc()


def checkpoint_meta(path) -> dict:
    """The metadata of an MD checkpoint file (``md.dynamics.checkpoint``), read without a state template."""
    return serialization.msgpack_restore(Path(path).read_bytes())["meta"]
