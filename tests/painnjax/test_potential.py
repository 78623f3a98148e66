"""The pure potential: padding, batching with vmap, NaN-free gradients, dtypes, species forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import rel_err

from painnjax import InputError, energy, energy_and_forces, potential
from painnjax.nn.neighbors import all_pairs, count_pairs, pair_matrix, sparse_pairs

TOL = 1e-12  # float64
N_SLOTS = 28  # atom slots of the padded batches (real clusters have 11 and 22 atoms)
CUTOFF = 5.0

pytestmark = pytest.mark.usefixtures("x64")


def _v64(model):
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), model.variables)


def _pad(atoms, n_slots: int, pad_positions: str, seed: int = 0):
    """(Z, R, mask) of ``atoms`` in ``n_slots`` slots; padded slots get junk Z and positions."""
    n = len(atoms)
    R0 = np.asarray(atoms.positions, np.float64)
    rng = np.random.default_rng(seed)
    Z = np.concatenate([atoms.get_atomic_numbers(), rng.choice([1, 6, 8, 16], n_slots - n)]).astype(np.int32)
    if pad_positions == "random":  # inside the cluster, within the cutoff of real atoms
        pad = R0.mean(0) + rng.normal(0.0, 2.0, (n_slots - n, 3))
    elif pad_positions == "zeros":  # all padded atoms at one point (zero pair distances)
        pad = np.zeros((n_slots - n, 3))
    elif pad_positions == "on_real_atom":  # exactly on top of a real atom
        pad = np.repeat(R0[:1], n_slots - n, axis=0)
    else:
        raise ValueError(pad_positions)
    R = np.concatenate([R0, pad])
    mask = np.arange(n_slots) < n
    return jnp.asarray(Z), jnp.asarray(R), jnp.asarray(mask)


def _make_pairs(kind: str, R, mask, capacity: int):
    if kind == "all_pairs":
        return all_pairs(mask)
    if kind == "sparse":
        pairs, overflow = sparse_pairs(R, mask, CUTOFF, capacity)
        assert not bool(overflow)
        return pairs
    return pair_matrix(mask)


@pytest.fixture(scope="module")
def e_and_f():
    """(module, variables, Z, R, mask, nbrs) -> (E, F), one jit shared by the tests of this file."""

    def fn(variables, Z, R, mask, nbrs, module):
        e, g = jax.value_and_grad(lambda r: energy(module, variables, Z, r, mask, nbrs))(R)
        return e, -g

    return jax.jit(fn, static_argnums=5)


@pytest.fixture(scope="module")
def alone(sa1am1, sa2am2, small_model):
    """Unpadded reference energies and forces of the two clusters (float64, all pairs)."""
    out = {}
    with jax.enable_x64(True):
        for name, atoms in (("sa1am1", sa1am1), ("sa2am2", sa2am2)):
            ef = energy_and_forces(potential(small_model, atoms, neighbor="all", dtype=jnp.float64))
            e, F = ef(jnp.asarray(atoms.positions, jnp.float64))
            out[name] = (float(e), np.asarray(F))
    return out


@pytest.mark.parametrize("pad_positions", ["random", "zeros", "on_real_atom"])
@pytest.mark.parametrize("kind", ["all_pairs", "sparse", "pair_matrix"])
def test_padded_cluster_equals_cluster_alone(e_and_f, alone, sa2am2, small_model, pad_positions, kind):
    Z, R, mask = _pad(sa2am2, N_SLOTS, pad_positions)
    nbrs = _make_pairs(kind, R, mask, capacity=N_SLOTS * (N_SLOTS - 1) // 2)  # spare (padded) pair slots
    e, F = e_and_f(_v64(small_model), Z, R, mask, nbrs, small_model.module)
    e_ref, F_ref = alone["sa2am2"]
    n = len(sa2am2)
    assert np.isfinite(float(e)) and np.isfinite(np.asarray(F)).all()
    assert abs(float(e) - e_ref) <= TOL * abs(e_ref)
    assert rel_err(np.asarray(F)[:n], F_ref) < TOL
    np.testing.assert_array_equal(np.asarray(F)[n:], 0.0)


def test_padded_atoms_do_not_feel_or_give_anything(e_and_f, sa2am2, small_model):
    """Moving or re-typing padded atoms changes nothing."""
    Z, R, mask = _pad(sa2am2, N_SLOTS, "random", seed=1)
    Z2, R2, _ = _pad(sa2am2, N_SLOTS, "random", seed=2)
    v = _v64(small_model)
    e1, F1 = e_and_f(v, Z, R, mask, all_pairs(mask), small_model.module)
    e2, F2 = e_and_f(v, Z2, R2, mask, all_pairs(mask), small_model.module)
    assert not np.array_equal(np.asarray(R), np.asarray(R2))
    assert float(e1) == pytest.approx(float(e2), rel=TOL)
    assert rel_err(F1, F2) < TOL


@pytest.mark.parametrize("kind", ["all_pairs", "sparse"])
def test_vmap_over_two_padded_clusters(alone, sa1am1, sa2am2, small_model, kind):
    batch = [_pad(a, N_SLOTS, "random", seed=k) for k, a in enumerate((sa1am1, sa2am2))]
    Z, R, mask = (jnp.stack(x) for x in zip(*batch))
    v = _v64(small_model)
    module = small_model.module
    capacity = max(count_pairs(R[k], CUTOFF, mask[k]) for k in range(2)) + 30

    def one(Z, R, mask):
        if kind == "all_pairs":
            nbrs = all_pairs(mask)
        else:
            nbrs, overflow = sparse_pairs(R, mask, CUTOFF, capacity)
        e, g = jax.value_and_grad(lambda r: energy(module, v, Z, r, mask, nbrs))(R)
        return e, -g

    E, F = jax.jit(jax.vmap(one))(Z, R, mask)
    assert E.shape == (2,) and F.shape == (2, N_SLOTS, 3)
    for k, (name, atoms) in enumerate((("sa1am1", sa1am1), ("sa2am2", sa2am2))):
        e_ref, F_ref = alone[name]
        n = len(atoms)
        assert abs(float(E[k]) - e_ref) <= TOL * abs(e_ref)
        assert rel_err(F[k, :n], F_ref) < TOL
        np.testing.assert_array_equal(np.asarray(F[k, n:]), 0.0)


@pytest.mark.parametrize("kind", ["all_pairs", "sparse", "pair_matrix"])
def test_training_gradients_are_nan_free_with_padding_at_one_point(sa1am1, sa2am2, small_model, kind):
    """Energy + force loss: d/dparams of |F|^2 differentiates twice through the pair norms."""
    batch = [_pad(a, N_SLOTS, "zeros", seed=k) for k, a in enumerate((sa1am1, sa2am2))]
    Z, R, mask = (jnp.stack(x) for x in zip(*batch))
    # A real atom at the origin too, on top of the padded ones.
    R = R.at[:, 0, :].set(0.0)
    v = _v64(small_model)
    module = small_model.module

    def loss(params):
        variables = {"params": params, "constants": v["constants"]}

        def one(Z, R, mask):
            if kind == "all_pairs":
                nbrs = all_pairs(mask)
            elif kind == "sparse":
                nbrs = sparse_pairs(R, mask, CUTOFF, N_SLOTS * 8)[0]
            else:
                nbrs = pair_matrix(mask)
            e, g = jax.value_and_grad(lambda r: energy(module, variables, Z, r, mask, nbrs))(R)
            return e, g

        E, G = jax.vmap(one)(Z, R, mask)
        return jnp.sum(E**2) + jnp.sum(G**2), (E, G)

    (value, (E, G)), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(v["params"])
    assert np.isfinite(float(value))
    assert np.isfinite(np.asarray(G)).all()
    leaves = jax.tree_util.tree_leaves(grads)
    assert all(np.isfinite(np.asarray(x)).all() for x in leaves)
    assert sum(float(jnp.sum(jnp.abs(x))) for x in leaves) > 0
    np.testing.assert_array_equal(np.asarray(G[0, len(sa1am1) :]), 0.0)


def test_float32_and_float64_agree(sa2am2, small_model):
    R = np.asarray(sa2am2.positions)
    e64, F64 = energy_and_forces(potential(small_model, sa2am2, dtype=jnp.float64))(jnp.asarray(R, jnp.float64))
    e32, F32 = energy_and_forces(potential(small_model, sa2am2, dtype=jnp.float32))(jnp.asarray(R, jnp.float32))
    assert e32.dtype == jnp.float32 and e64.dtype == jnp.float64
    assert abs(float(e32) - float(e64)) < 1e-5 * abs(float(e64))
    assert rel_err(F32, F64) < 1e-4


def test_energy_and_forces_is_minus_grad(sa2am2, small_model):
    R = jnp.asarray(sa2am2.positions, jnp.float64)
    energy_fn = potential(small_model, sa2am2, dtype=jnp.float64)
    e, F = energy_and_forces(energy_fn)(R)
    np.testing.assert_allclose(np.asarray(F), -np.asarray(jax.jit(jax.grad(energy_fn))(R)), rtol=0, atol=1e-13)
    assert float(e) == pytest.approx(float(energy_fn(R)), rel=1e-12)


def test_species_as_symbols_numbers_or_atoms(sa1am1, small_model):
    R = jnp.asarray(sa1am1.positions, jnp.float64)
    ref = float(jax.jit(potential(small_model, sa1am1, dtype=jnp.float64))(R))
    for species in (sa1am1.get_chemical_symbols(), list(sa1am1.get_atomic_numbers())):
        fn = potential(small_model, species, dtype=jnp.float64)
        np.testing.assert_array_equal(fn.species, sa1am1.get_atomic_numbers())
        assert float(jax.jit(fn)(R)) == ref


def test_energy_depends_on_species(sa1am1, small_model):
    """Guard against a potential that ignores Z: swapping an O and an N changes the energy."""
    Z = sa1am1.get_atomic_numbers().copy()
    R = jnp.asarray(sa1am1.positions, jnp.float64)
    e1 = float(jax.jit(potential(small_model, Z, dtype=jnp.float64))(R))
    i_o, i_n = int(np.flatnonzero(Z == 8)[0]), int(np.flatnonzero(Z == 7)[0])
    Z[[i_o, i_n]] = Z[[i_n, i_o]]
    e2 = float(jax.jit(potential(small_model, Z, dtype=jnp.float64))(R))
    assert abs(e1 - e2) > 1e-6 * abs(e1)


def test_float64_without_x64_is_refused(small_model, sa1am1):
    with jax.enable_x64(False):
        with pytest.raises(InputError, match="x64"):
            potential(small_model, sa1am1, dtype=jnp.float64)


def test_vmap_of_the_potential_screens_many_structures(sa2am2, small_model):
    energy_fn = potential(small_model, sa2am2, dtype=jnp.float64)
    R0 = np.asarray(sa2am2.positions, np.float64)
    Rs = jnp.asarray(np.stack([R0 + np.random.default_rng(k).normal(0.0, 0.05, R0.shape) for k in range(3)]))
    E = jax.jit(jax.vmap(energy_fn))(Rs)
    single = jax.jit(energy_fn)
    assert E.shape == (3,) and len(set(np.asarray(E).tolist())) == 3
    for k in range(3):
        assert float(E[k]) == pytest.approx(float(single(Rs[k])), rel=1e-12)


def test_the_potential_is_a_typed_frozen_value(sa2am2, small_model):
    """The contract MD drivers read: attributes on a frozen value, not on a function."""
    import dataclasses

    from painnjax import Potential, mean_potential

    energy_fn = potential(
        small_model, sa2am2, reference_positions=sa2am2.positions, neighbor="sparse", dtype=jnp.float64
    )
    assert isinstance(energy_fn, Potential)
    assert energy_fn.n_atoms == len(sa2am2) and energy_fn.cutoff == small_model.config.cutoff
    np.testing.assert_array_equal(energy_fn.species, sa2am2.get_atomic_numbers())
    assert energy_fn.neighbor_mode == "sparse" and energy_fn.capacity >= count_pairs(sa2am2.positions, CUTOFF)
    assert energy_fn.fits(sa2am2.positions) and not energy_fn.fits(sa2am2.positions * 0.3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        energy_fn.capacity = 2
    # plus(): the same attributes, the energy shifted by the extra term
    R = jnp.asarray(sa2am2.positions)
    shifted = energy_fn.plus(lambda R: jnp.sum(R**2))
    assert shifted.capacity == energy_fn.capacity and shifted.species is energy_fn.species
    assert float(shifted(R)) == pytest.approx(float(energy_fn(R)) + float(jnp.sum(R**2)), rel=1e-12)
    # a committee mean is a Potential with its members, fitting where all members fit
    mean = mean_potential(
        [small_model, small_model], sa2am2, reference_positions=sa2am2.positions, neighbor="sparse", dtype=jnp.float64
    )
    assert isinstance(mean, Potential) and len(mean.members) == 2
    assert float(jax.jit(mean)(R)) == pytest.approx(float(energy_fn(R)), rel=1e-12)
    assert mean.fits(sa2am2.positions) and not mean.fits(sa2am2.positions * 0.3)


@pytest.mark.parametrize("n_atoms", [22, 44])
def test_the_matrix_layout_gives_the_same_energy_and_forces(small_model, n_atoms):
    """neighbor="matrix" (an (N, N) mask, no gathers or scatters) is a layout, not a model:
    equal to the sparse list and to all pairs in float64, and MD calls it as it is."""
    from md.forces.potential import MDPotential
    from painnjax.data import bundled_structure

    atoms = bundled_structure({22: "SA2AM2", 44: "SA4AM4"}[n_atoms])
    with jax.enable_x64(True):
        R = jnp.asarray(atoms.positions, jnp.float64)
        out = {}
        for mode in ("all", "sparse", "matrix"):
            pot = potential(small_model, atoms, neighbor=mode, reference_positions=atoms.positions, dtype=jnp.float64)
            out[mode] = energy_and_forces(pot)(R)
        assert pot.neighbor_mode == "matrix" and not MDPotential.wrap(pot, n_atoms).managed
    for mode in ("all", "sparse"):
        assert float(out["matrix"][0]) == pytest.approx(float(out[mode][0]), rel=1e-12)
        np.testing.assert_allclose(out["matrix"][1], out[mode][1], rtol=1e-9, atol=1e-11)


def test_an_unknown_neighbor_mode_is_named(small_model, sa1am1):
    with pytest.raises(InputError, match="neighbor must be one of auto, all, sparse, matrix"):
        potential(small_model, sa1am1, neighbor="dense")
