"""The PaiNN model: symmetries of energy and forces, forces as -dE/dR, energy offsets, sizes."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SMALL, rel_err, rotation

from painnjax import PaiNNConfig, count_parameters, energy, energy_and_forces, potential
from painnjax.nn.neighbors import all_pairs
from painnjax.nn.painn import init_variables

TIGHT = 1e-10  # float64: invariances hold to rounding


@pytest.fixture(scope="module")
def f64_cluster(sa4am4, small_model):
    """(atoms, energy_fn, jitted (E, F)) in float64 for the 44-atom (SA)4(AM)4 cluster.

    44 atoms span more than the 5 Å cutoff, so the cutoff is exercised too.
    """
    with jax.enable_x64(True):
        energy_fn = potential(small_model, sa4am4, neighbor="all", dtype=jnp.float64)
    return sa4am4, energy_fn, energy_and_forces(energy_fn)


def _like_atom_permutation(Z: np.ndarray, seed: int) -> np.ndarray:
    """A permutation that only exchanges atoms of the same element (and moves many)."""
    rng = np.random.default_rng(seed)
    perm = np.arange(len(Z))
    for z in np.unique(Z):
        idx = np.flatnonzero(Z == z)
        perm[idx] = rng.permutation(idx)
    assert (Z[perm] == Z).all() and (perm != np.arange(len(Z))).sum() > len(Z) // 2
    return perm


def test_cluster_spans_the_cutoff(f64_cluster):
    atoms, energy_fn, _ = f64_cluster
    d = atoms.get_all_distances()
    assert d.max() > energy_fn.cutoff, "the symmetry tests should include pairs beyond the cutoff"


@pytest.mark.parametrize("k", [0, 1, 2])
def test_energy_invariant_under_rotation_and_translation(x64, f64_cluster, k):
    atoms, _, fn = f64_cluster
    R = jnp.asarray(atoms.positions, jnp.float64)
    Q = rotation(k)
    t = np.random.default_rng(k).normal(0.0, 5.0, 3)
    e0, _ = fn(R)
    e_rot, _ = fn(R @ Q.T)
    e_trans, _ = fn(R + t)
    e_both, _ = fn(R @ Q.T + t)
    for e in (e_rot, e_trans, e_both):
        assert abs(float(e) - float(e0)) <= TIGHT * abs(float(e0))


@pytest.mark.parametrize("k", [3, 4])
def test_forces_rotate_with_structure(x64, f64_cluster, k):
    atoms, _, fn = f64_cluster
    R = jnp.asarray(atoms.positions, jnp.float64)
    Q = rotation(k)
    t = np.array([1.5, -2.0, 0.7])
    _, F = fn(R)
    _, F_rot = fn(R @ Q.T + t)
    assert np.max(np.abs(F)) > 1e-2, "forces should not be trivially small"
    # F(R Q^T + t) = F(R) Q^T
    assert rel_err(F_rot, np.asarray(F) @ Q.T) < TIGHT


def test_forces_translation_invariant_and_sum_to_zero(x64, f64_cluster):
    atoms, _, fn = f64_cluster
    R = jnp.asarray(atoms.positions, jnp.float64)
    _, F = fn(R)
    _, F_t = fn(R + jnp.array([10.0, -3.0, 2.5]))
    assert rel_err(F_t, F) < TIGHT
    # Translation invariance of E implies no net force.
    assert np.max(np.abs(np.sum(np.asarray(F), axis=0))) < TIGHT * np.max(np.abs(F)) * len(F)


@pytest.mark.parametrize("seed", [0, 1])
def test_energy_invariant_under_permutation_of_like_atoms(x64, f64_cluster, seed):
    atoms, _, fn = f64_cluster
    Z = atoms.get_atomic_numbers()
    perm = _like_atom_permutation(Z, seed)
    R = np.asarray(atoms.positions, np.float64)
    e0, F0 = fn(jnp.asarray(R))
    e_p, F_p = fn(jnp.asarray(R[perm]))
    assert abs(float(e_p) - float(e0)) <= TIGHT * abs(float(e0))
    # Forces follow their atoms.
    assert rel_err(F_p, np.asarray(F0)[perm]) < TIGHT


def test_energy_invariant_under_reordering_species_and_positions_together(x64, sa2am2, small_model):
    """Any permutation of the atoms (species moved with positions) leaves E unchanged."""
    Z = sa2am2.get_atomic_numbers()
    R = np.asarray(sa2am2.positions, np.float64)
    perm = np.random.default_rng(3).permutation(len(Z))
    assert not (Z[perm] == Z).all()
    e0 = jax.jit(potential(small_model, Z, dtype=jnp.float64))(jnp.asarray(R))
    e1 = jax.jit(potential(small_model, Z[perm], dtype=jnp.float64))(jnp.asarray(R[perm]))
    assert abs(float(e1) - float(e0)) <= TIGHT * abs(float(e0))


def test_forces_equal_minus_gradient_by_central_differences(x64, f64_cluster):
    atoms, energy_fn, fn = f64_cluster
    R = np.asarray(atoms.positions, np.float64)
    e_jit = jax.jit(energy_fn)
    _, F = fn(jnp.asarray(R))
    F = np.asarray(F)
    scale = np.max(np.abs(F))
    assert scale > 1e-2
    h = 1e-4  # Å
    rng = np.random.default_rng(7)
    atoms_idx = rng.choice(len(R), size=8, replace=False)
    dims = rng.integers(0, 3, size=8)
    for a, d in zip(atoms_idx, dims):
        Rp, Rm = R.copy(), R.copy()
        Rp[a, d] += h
        Rm[a, d] -= h
        fd = -(float(e_jit(jnp.asarray(Rp))) - float(e_jit(jnp.asarray(Rm)))) / (2 * h)
        assert abs(fd - F[a, d]) < 1e-6 * scale, f"atom {a} component {d}: FD {fd} vs analytic {F[a, d]}"


def test_energy_offsets_enter_as_documented(x64, sa2am2, small_model):
    """E = scale * sum_i y_i + sum_i (shift + atomref[Z_i]) over real atoms."""
    Z = jnp.asarray(sa2am2.get_atomic_numbers())
    R = jnp.asarray(sa2am2.positions, jnp.float64)
    mask = jnp.ones(len(Z), bool)
    pairs = all_pairs(mask)
    module = small_model.module
    v = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), small_model.variables)

    def with_offsets(scale, shift, atomref):
        off = {
            **v["constants"],
            "scale": jnp.asarray(scale, jnp.float64),
            "shift": jnp.asarray(shift, jnp.float64),
            "atomref": jnp.asarray(atomref, jnp.float64),
        }
        return {"params": v["params"], "constants": off}

    e_of = jax.jit(lambda variables: energy(module, variables, Z, R, mask, pairs))
    zeros = np.zeros(SMALL.max_z)
    e_plain = float(e_of(with_offsets(1.0, 0.0, zeros)))
    e_scaled = float(e_of(with_offsets(2.5, 0.0, zeros)))
    assert e_scaled == pytest.approx(2.5 * e_plain, rel=1e-12)
    e_shift = float(e_of(with_offsets(1.0, 0.3, zeros)))
    assert e_shift == pytest.approx(e_plain + 0.3 * len(Z), rel=1e-12)
    ref = zeros.copy()
    ref[1], ref[16] = -0.5, 2.0
    e_ref = float(e_of(with_offsets(1.0, 0.0, ref)))
    n_h, n_s = int((np.asarray(Z) == 1).sum()), int((np.asarray(Z) == 16).sum())
    assert e_ref == pytest.approx(e_plain - 0.5 * n_h + 2.0 * n_s, rel=1e-12)
    # Per-atom energies sum to the total.
    e_i = module.apply(v, Z, R, pairs, mask, per_atom=True)
    assert e_i.shape == (len(Z),)
    assert float(jnp.sum(e_i)) == pytest.approx(float(module.apply(v, Z, R, pairs, mask)), rel=1e-12)


def _expected_parameter_count(c: PaiNNConfig) -> int:
    """PaiNN + pyramidal Atomwise head, counted from SchNetPack's architecture by hand."""
    F, T, K = c.n_atom_basis, c.n_interactions, c.n_rbf
    n_filters = 1 if c.shared_filters else T
    n_blocks = 1 if c.shared_interactions else T
    embedding = c.max_z * F
    filters = (K + 1) * n_filters * 3 * F
    interaction = (F * F + F) + (F * 3 * F + 3 * F)
    mixing = F * 2 * F + (2 * F * F + F) + (F * 3 * F + 3 * F)
    sizes = (F, *c.readout_sizes)
    readout = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return embedding + filters + n_blocks * (interaction + mixing) + readout


def _count(config: PaiNNConfig) -> int:
    shapes = jax.eval_shape(lambda: init_variables(config))
    return count_parameters(shapes["params"])


def test_default_config_is_the_reference_study_size():
    c = PaiNNConfig()
    assert (c.n_atom_basis, c.n_interactions, c.n_rbf, c.cutoff) == (128, 5, 20, 5.0)
    assert _count(c) == 967681
    assert _expected_parameter_count(c) == 967681


@pytest.mark.parametrize(
    "config",
    [
        PaiNNConfig(),
        SMALL,
        PaiNNConfig(n_atom_basis=32, n_interactions=3, n_rbf=10),
        PaiNNConfig(n_atom_basis=32, n_interactions=3, n_rbf=10, shared_filters=True),
        PaiNNConfig(n_atom_basis=32, n_interactions=3, n_rbf=10, shared_interactions=True),
        PaiNNConfig(n_atom_basis=32, n_interactions=3, n_rbf=10, shared_interactions=True, shared_filters=True),
        PaiNNConfig(n_atom_basis=24, n_interactions=2, n_rbf=6, readout_hidden=(20, 10)),
    ],
    ids=["default", "small", "f32t3k10", "shared_filters", "shared_interactions", "shared_both", "readout"],
)
def test_parameter_count(config):
    assert _count(config) == _expected_parameter_count(config)


def test_model_n_parameters_counts_params_only(small_model):
    assert small_model.n_parameters == _expected_parameter_count(SMALL)
    n_constants = sum(np.size(x) for x in jax.tree_util.tree_leaves(small_model.variables["constants"]))
    # scale, shift, atomref and the radial-basis centres and widths: not trained parameters
    assert n_constants == 2 + SMALL.max_z + 2 * SMALL.n_rbf


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"n_rbf": 1}, "n_rbf"),
        ({"n_atom_basis": 0}, "n_atom_basis"),
        ({"cutoff": -1.0}, "cutoff"),
        ({"n_interactions": 2.5}, "n_interactions"),
    ],
)
def test_config_rejects_bad_hyperparameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        PaiNNConfig(**kwargs)


def test_config_dict_round_trip():
    c = dataclasses.replace(SMALL, readout_hidden=(12, 6), shared_filters=True)
    assert PaiNNConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="n_featurez"):
        PaiNNConfig.from_dict({**c.to_dict(), "n_featurez": 3})


def test_fused_filters_are_the_same_function(small_model, sa4am4):
    """Training's one-GEMM filters (fused_filters=True) change speed, not numbers: energy and
    forces equal the default module's with the same weights, in float64."""
    from painnjax.nn.neighbors import sparse_pairs

    with jax.enable_x64(True):
        v = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), small_model.variables)
        Z = jnp.asarray(sa4am4.numbers)
        R = jnp.asarray(sa4am4.positions, jnp.float64)
        mask = jnp.ones(len(Z), bool)
        pairs, _ = sparse_pairs(R, mask, small_model.config.cutoff, 44 * 43 // 2, half=True)
        out = {}
        for fused in (False, True):
            module = small_model.module.clone(fused_filters=fused)
            out[fused] = jax.value_and_grad(lambda x, m=module: m.apply(v, Z, x, pairs, mask))(R)
    assert float(out[True][0]) == pytest.approx(float(out[False][0]), rel=1e-13)
    np.testing.assert_allclose(np.asarray(out[True][1]), np.asarray(out[False][1]), rtol=1e-10, atol=1e-12)
