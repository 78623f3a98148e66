"""Packed batches: a batch's structures end to end in one graph. Same energies, forces, loss and
sums as the potential and the padded layout; every batch fits a budget; little padding."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from painnjax import Model, PaiNNConfig, energy_and_forces, potential
from painnjax.data.batching import epoch_rng, make_buckets, pad_structures
from painnjax.data.dataset import Dataset
from painnjax.data.packing import fitting_budget, iterate_packed, make_budgets, pack, structure_pairs
from painnjax.training.config import TrainConfig
from painnjax.training.loss import loss_and_sums, packed_loss_and_sums, predict_packed

TINY = PaiNNConfig(n_atom_basis=16, n_interactions=2, n_rbf=8)


def fill_fraction(ds, pairs, indices, batch_size: int, budgets: list, groups: int, rng) -> float:
    """Real atoms / atom slots over one epoch of ``iterate_packed`` (host arithmetic only)."""
    order = np.asarray(indices) if rng is None else rng.permutation(np.asarray(indices))
    slots = 0
    for s in range(0, len(order), batch_size):
        k = fitting_budget(ds, pairs, order[s : s + batch_size], budgets, batch_size, groups)
        slots += groups * budgets[k].atoms
    return float(np.asarray(ds.n_atoms)[order].sum() / max(slots, 1))


@pytest.fixture(scope="module")
def mixed_set(sa1am1, sa2am2, sa4am4):
    """Nine rattled structures of three sizes (11, 22, 44 atoms) with made-up labels."""
    rng = np.random.default_rng(1)
    numbers, positions, energy, forces = [], [], [], []
    for k in range(9):
        atoms = (sa1am1, sa2am2, sa4am4)[k % 3].copy()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        numbers.append(atoms.numbers.astype(np.int32))
        positions.append(atoms.positions.copy())
        energy.append(-1.0 * len(atoms) + rng.normal(0.0, 0.1))
        forces.append(rng.normal(0.0, 0.3, atoms.positions.shape))
    return Dataset(numbers, positions, np.asarray(energy), forces, [{"frame": k} for k in range(9)])


def test_structure_pairs_are_the_pairs_within_the_cutoff(mixed_set):
    pairs = structure_pairs(mixed_set, 5.0)
    for k in range(len(mixed_set.energy)):
        R = mixed_set.positions[k]
        d = np.linalg.norm(R[:, None] - R[None], axis=-1)
        want = {(i, j) for i in range(len(R)) for j in range(i + 1, len(R)) if d[i, j] < 5.0}
        assert {tuple(p) for p in pairs[k].tolist()} == want


@pytest.mark.parametrize("groups", [1, 2])
def test_packed_batch_equals_the_potential_structure_by_structure(mixed_set, groups):
    pairs = structure_pairs(mixed_set, TINY.cutoff)
    members = [4, 0, 8, 1, 3]  # five structures of a batch of six: one empty slot
    with jax.enable_x64(True):
        model = Model.init(TINY, seed=3)
        v = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), model.variables)
        budgets = make_budgets(mixed_set, pairs, np.arange(9), 6, groups)
        packed = pack(mixed_set, pairs, members, budgets[-1], 6, groups)
        assert packed.Z.shape[0] == groups
        E, F = jax.jit(predict_packed, static_argnums=(0, 3))(
            model.module, v, jax.tree_util.tree_map(jnp.asarray, packed), True
        )
        per_group = 6 // groups
        for pos, k in enumerate(members):
            g, s = divmod(pos, per_group)
            atoms = np.asarray(packed.owner[g]) == s
            atoms &= np.asarray(packed.atom_mask[g])
            pot = potential(Model(TINY, v, model.metadata), mixed_set.numbers[k], dtype=jnp.float64)
            e_ref, f_ref = energy_and_forces(pot)(jnp.asarray(mixed_set.positions[k]))
            assert float(E[g, s]) == pytest.approx(float(e_ref), rel=1e-12)
            np.testing.assert_allclose(np.asarray(F[g])[atoms], np.asarray(f_ref), rtol=1e-10, atol=1e-12)
        assert not np.any(np.asarray(F)[~np.asarray(packed.atom_mask)])  # padding feels nothing


def test_packed_loss_and_sums_equal_the_padded_layout(mixed_set):
    pairs = structure_pairs(mixed_set, TINY.cutoff)
    members = [2, 5, 0, 7]
    cfg = TrainConfig()
    with jax.enable_x64(True):
        model = Model.init(TINY, seed=4)
        v = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), model.variables)
        budgets = make_budgets(mixed_set, pairs, np.arange(9), 4, 1)
        packed = jax.tree_util.tree_map(jnp.asarray, pack(mixed_set, pairs, members, budgets[-1], 4, 1))
        padded = jax.tree_util.tree_map(jnp.asarray, pad_structures(mixed_set, members, 44, 4))
        cap = make_buckets(mixed_set, TINY.cutoff, max_buckets=1)[0].pair_capacity
        l_packed, s_packed = packed_loss_and_sums(v["params"], v["constants"], model.module, packed, cfg)
        l_padded, s_padded = loss_and_sums(v["params"], v["constants"], model.module, padded, TINY.cutoff, cap, cfg)
    assert float(l_packed) == pytest.approx(float(l_padded), rel=1e-10)
    for key in s_padded:
        assert float(s_packed[key]) == pytest.approx(float(s_padded[key]), rel=1e-10), key


def test_every_batch_fits_a_budget_and_packing_pads_less_than_buckets(mixed_set):
    pairs = structure_pairs(mixed_set, TINY.cutoff)
    idx = np.arange(9)
    budgets = make_budgets(mixed_set, pairs, idx, 4, 1)
    largest = budgets[-1]
    assert largest.atoms >= 44 + 44 + 44 + 22  # the four largest structures together
    seen = []
    for epoch in range(5):
        for k, members, packed in iterate_packed(mixed_set, pairs, idx, 4, budgets, 1, epoch_rng(0, epoch)):
            assert packed.Z.shape == (1, budgets[k].atoms) and packed.idx_i.shape == (1, budgets[k].pairs)
            assert int(packed.atom_mask.sum()) == int(mixed_set.n_atoms[members].sum())
            seen.extend(members.tolist())
    assert sorted(seen) == sorted(list(idx) * 5)  # every structure once per epoch
    packed_fill = fill_fraction(mixed_set, pairs, idx, 4, budgets, 1, epoch_rng(0, 0))
    bucket_slots = 3 * 4 * 44  # one bucket of 44 slots: 3 batches of 4 rows
    assert packed_fill > int(mixed_set.n_atoms.sum()) / bucket_slots


def test_a_batch_that_fits_no_budget_is_refused(mixed_set):
    pairs = structure_pairs(mixed_set, TINY.cutoff)
    budgets = make_budgets(mixed_set, pairs, [0, 3], 2, 1)  # the two smallest only
    with pytest.raises(ValueError, match="fits no budget"):
        list(iterate_packed(mixed_set, pairs, [2, 5], 2, budgets, 1))


def test_auto_layout_packs_large_batches_only():
    from painnjax.training.config import PACKED_MIN_BATCH

    assert TrainConfig(batch_size=PACKED_MIN_BATCH).resolved_layout == "packed"
    assert TrainConfig(batch_size=PACKED_MIN_BATCH - 1).resolved_layout == "buckets"
    assert TrainConfig(batch_size=2, batch_layout="packed").resolved_layout == "packed"
    assert TrainConfig(batch_size=64, batch_layout="buckets").resolved_layout == "buckets"


def test_training_with_packed_batches_lowers_the_loss_and_records_the_layout(mixed_set, tmp_path):
    import json

    from painnjax.data.splits import Split
    from painnjax.training.fit import train

    split = Split(train=np.arange(7), valid=np.arange(7, 9), test=np.arange(0), seed=0, rule="test")
    cfg = TrainConfig(epochs=4, batch_size=8, lr=5e-3)
    train(mixed_set, split, tmp_path / "run", TINY, cfg, progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["batch_layout"] == "packed" and config["budgets"]
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[2]) for r in rows]
    assert losses[-1] < losses[0]
