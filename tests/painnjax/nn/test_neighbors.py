"""Pair lists: every source of pairs gives the same energy and forces; overflow is loud."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import rel_err

from painnjax import InputError, Pairs, energy, energy_and_forces, jax_md_neighbor_fn, potential
from painnjax.nn.neighbors import HalfPairs, PairMatrix, all_pairs, count_pairs, pair_matrix, sparse_pairs

CUTOFF = 5.0
TOL = 1e-12  # float64; only the order of the sums differs between pair lists

pytestmark = pytest.mark.usefixtures("x64")  # the cluster fixture is float64


def _pairs_within(R: np.ndarray, cutoff: float, mask=None) -> set[tuple[int, int]]:
    n = len(R)
    mask = np.ones(n, bool) if mask is None else np.asarray(mask)
    d = np.linalg.norm(R[:, None, :] - R[None, :, :], axis=-1)
    return {(i, j) for i in range(n) for j in range(n) if i != j and mask[i] and mask[j] and d[i, j] < cutoff}


def _masked_pairs(p: Pairs) -> set[tuple[int, int]]:
    i, j, m = (np.asarray(x) for x in p)
    return {(int(a), int(b)) for a, b, keep in zip(i, j, m) if keep}


@pytest.fixture(scope="module")
def cluster(sa4am4, small_model):
    """44-atom cluster (many pairs beyond the cutoff), float64 weights and the all-pairs reference."""
    with jax.enable_x64(True):
        Z = jnp.asarray(sa4am4.get_atomic_numbers())
        R = jnp.asarray(sa4am4.positions, jnp.float64)
        mask = jnp.ones(len(Z), bool)
        v = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), small_model.variables)
        module = small_model.module

        @jax.jit
        def e_and_f(R, nbrs):
            e, g = jax.value_and_grad(lambda r: energy(module, v, Z, r, mask, nbrs))(R)
            return e, -g

        ref = e_and_f(R, all_pairs(mask))
    return {"Z": Z, "R": R, "mask": mask, "fn": e_and_f, "ref": ref, "atoms": sa4am4}


def test_cluster_has_pairs_beyond_cutoff(cluster):
    n = len(cluster["Z"])
    assert count_pairs(cluster["R"], CUTOFF) < n * (n - 1) * 0.9


def test_all_pairs_layout():
    mask = jnp.array([True, True, False, True])
    p = all_pairs(mask)
    i, j, m = (np.asarray(x) for x in p)
    assert len(i) == 4 * 3 and not (i == j).any()
    assert _masked_pairs(p) == {(a, b) for a in (0, 1, 3) for b in (0, 1, 3) if a != b}
    assert not m[(i == 2) | (j == 2)].any()


def test_pair_matrix_layout():
    mask = jnp.array([True, False, True])
    pm = pair_matrix(mask)
    assert isinstance(pm, PairMatrix)
    np.testing.assert_array_equal(
        np.asarray(pm.mask), [[False, False, True], [False, False, False], [True, False, False]]
    )


def test_sparse_pairs_hold_exactly_the_pairs_within_cutoff(cluster):
    R = np.asarray(cluster["R"])
    n = len(R)
    want = _pairs_within(R, CUTOFF)
    pairs, overflow = sparse_pairs(cluster["R"], cluster["mask"], CUTOFF, capacity=len(want) + 17)
    assert not bool(overflow)
    assert _masked_pairs(pairs) == want
    assert int(pairs.mask.sum()) == len(want)
    # Padding slots point at a valid atom index and are masked.
    pad = ~np.asarray(pairs.mask)
    assert pad.sum() == 17
    assert ((np.asarray(pairs.idx_i) >= 0) & (np.asarray(pairs.idx_i) < n)).all()
    assert ((np.asarray(pairs.idx_j) >= 0) & (np.asarray(pairs.idx_j) < n)).all()


def test_sparse_pairs_skip_masked_atoms(cluster):
    R = np.asarray(cluster["R"])
    mask = np.ones(len(R), bool)
    mask[[0, 5, 40]] = False
    pairs, overflow = sparse_pairs(cluster["R"], jnp.asarray(mask), CUTOFF, capacity=len(R) ** 2)
    assert not bool(overflow)
    assert _masked_pairs(pairs) == _pairs_within(R, CUTOFF, mask)


def test_sparse_overflow_flag(cluster):
    n_within = len(_pairs_within(np.asarray(cluster["R"]), CUTOFF))
    _, ok = sparse_pairs(cluster["R"], cluster["mask"], CUTOFF, capacity=n_within)
    assert not bool(ok)
    _, over = sparse_pairs(cluster["R"], cluster["mask"], CUTOFF, capacity=n_within - 1)
    assert bool(over)
    _, over_jit = jax.jit(sparse_pairs, static_argnums=(2, 3))(cluster["R"], cluster["mask"], CUTOFF, n_within // 2)
    assert bool(over_jit)


def _low_level_lists(cluster):
    R, mask = cluster["R"], cluster["mask"]
    n_within = count_pairs(R, CUTOFF)
    return {
        "sparse_pairs": sparse_pairs(R, mask, CUTOFF, capacity=n_within + 40)[0],
        "pair_matrix": pair_matrix(mask),
    }


@pytest.mark.parametrize("kind", ["sparse_pairs", "pair_matrix"])
def test_low_level_pair_lists_agree_with_all_pairs(cluster, kind):
    nbrs = _low_level_lists(cluster)[kind]
    e, F = cluster["fn"](cluster["R"], nbrs)
    e_ref, F_ref = cluster["ref"]
    assert abs(float(e) - float(e_ref)) <= TOL * abs(float(e_ref))
    assert rel_err(F, F_ref) < TOL


@pytest.mark.parametrize("fmt", ["dense", "sparse", "ordered_sparse"])
def test_jax_md_neighbor_lists_agree_with_all_pairs(cluster, small_model, fmt):
    """A jax-md list (cutoff + skin) passed to the potential gives the all-pairs result."""
    R = cluster["R"]
    neighbor_fn = jax_md_neighbor_fn(CUTOFF, skin=0.5, fmt=fmt)
    nbrs = neighbor_fn.allocate(R)
    assert not bool(nbrs.did_buffer_overflow)
    energy_fn = potential(small_model, cluster["atoms"], dtype=jnp.float64)
    e, F = energy_and_forces(energy_fn)(R, nbrs)
    e_ref, F_ref = cluster["ref"]
    assert abs(float(e) - float(e_ref)) <= TOL * abs(float(e_ref))
    assert rel_err(F, F_ref) < TOL


def test_potential_accepts_pairs_and_sparse_mode(cluster, small_model):
    atoms = cluster["atoms"]
    R = cluster["R"]
    e_ref, F_ref = cluster["ref"]
    sparse_fn = potential(
        small_model, atoms, neighbor="sparse", capacity=count_pairs(R, CUTOFF) + 10, dtype=jnp.float64
    )
    assert sparse_fn.neighbor_mode == "sparse"
    e, F = energy_and_forces(sparse_fn)(R)
    assert abs(float(e) - float(e_ref)) <= TOL * abs(float(e_ref))
    assert rel_err(F, F_ref) < TOL
    # A Pairs list given at call time.
    all_fn = potential(small_model, atoms, neighbor="all", dtype=jnp.float64)
    e2 = jax.jit(all_fn)(R, neighbor=_low_level_lists(cluster)["sparse_pairs"])
    assert abs(float(e2) - float(e_ref)) <= TOL * abs(float(e_ref))


def test_auto_mode_sizes_a_sparse_list_from_reference_positions(cluster, small_model):
    atoms = cluster["atoms"]
    R = np.asarray(cluster["R"])
    fn = potential(small_model, atoms, reference_positions=R, dtype=jnp.float64)
    assert len(atoms) > 32 and fn.neighbor_mode == "sparse"
    assert count_pairs(R, CUTOFF) <= fn.capacity < len(R) * (len(R) - 1)
    assert fn.fits(R)
    e_ref, _ = cluster["ref"]
    assert abs(float(jax.jit(fn)(cluster["R"])) - float(e_ref)) <= TOL * abs(float(e_ref))
    # Small clusters and unsized potentials use all pairs.
    assert potential(small_model, atoms).neighbor_mode == "all"


def test_too_small_capacity_raises_eagerly(cluster, small_model):
    atoms = cluster["atoms"]
    R = np.asarray(atoms.positions, np.float32)
    n_within = count_pairs(R, CUTOFF)
    fn = potential(small_model, atoms, neighbor="sparse", capacity=n_within // 2)
    assert not fn.fits(R)
    with pytest.raises(InputError, match="capacity") as exc:
        fn(jnp.asarray(R))
    # Capacities are rounded up to an even number of slots (the list holds each pair once).
    assert n_within // 2 <= fn.capacity <= n_within // 2 + 1
    assert str(n_within) in str(exc.value) and str(fn.capacity) in str(exc.value)


def test_too_small_capacity_gives_nan_energy_under_jit(cluster, small_model):
    atoms = cluster["atoms"]
    R = jnp.asarray(atoms.positions, jnp.float32)
    fn = potential(small_model, atoms, neighbor="sparse", capacity=count_pairs(R, CUTOFF) // 2)
    assert np.isnan(float(jax.jit(fn)(R)))


def test_too_small_capacity_gives_nan_forces_under_jit(cluster, small_model):
    """The potential promises NaN, "never a silently wrong number", on overflow inside jit.

    MD integrators (jax-md) only look at the forces, so the forces must be NaN too.
    """
    atoms = cluster["atoms"]
    R = jnp.asarray(atoms.positions, jnp.float32)
    fn = potential(small_model, atoms, neighbor="sparse", capacity=count_pairs(R, CUTOFF) // 2)
    e, F = energy_and_forces(fn)(R)
    assert np.isnan(float(e))
    all_finite = bool(np.isfinite(np.asarray(F)).all())
    assert not all_finite, (
        f"overflowing pair list gave finite forces (max |F| = {float(jnp.max(jnp.abs(F)))}) instead of NaN"
    )


def test_bad_neighbor_mode(small_model, sa1am1):
    with pytest.raises(InputError, match="neighbor"):
        potential(small_model, sa1am1, neighbor="cells")


def test_bad_jax_md_format():
    with pytest.raises(ValueError, match="format"):
        jax_md_neighbor_fn(CUTOFF, fmt="csr")


def test_half_pairs_hold_each_pair_once_and_mirror_to_the_directed_list(cluster):
    R = np.asarray(cluster["R"])
    want = _pairs_within(R, CUTOFF)
    half, overflow = sparse_pairs(cluster["R"], cluster["mask"], CUTOFF, capacity=len(want) // 2 + 5, half=True)
    assert isinstance(half, HalfPairs) and not bool(overflow)
    once = _masked_pairs(half)
    assert all(i < j for i, j in once) and len(once) == len(want) // 2
    assert _masked_pairs(half.mirrored()) == want
    # One slot short overflows.
    _, overflow = sparse_pairs(cluster["R"], cluster["mask"], CUTOFF, capacity=len(want) // 2 - 1, half=True)
    assert bool(overflow)


@pytest.mark.parametrize("kind", ["all_half", "sparse_half"])
def test_half_pair_lists_agree_with_all_pairs(cluster, kind):
    mask = cluster["mask"]
    if kind == "all_half":
        nbrs = all_pairs(mask, half=True)
    else:
        nbrs, _ = sparse_pairs(cluster["R"], mask, CUTOFF, capacity=count_pairs(cluster["R"], CUTOFF) // 2, half=True)
    e, f = cluster["fn"](cluster["R"], nbrs)
    e_ref, f_ref = cluster["ref"]
    assert abs(float(e) - float(e_ref)) <= TOL * abs(float(e_ref))
    assert rel_err(f, f_ref) < TOL
