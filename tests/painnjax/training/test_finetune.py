"""Fine-tuning (painnjax.training.finetune): a run started from a trained model predicts that
model's energies before its first step, frozen parts do not move at all, and bad requests are
refused before any work."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from painnjax import InputError, PaiNNConfig, load_model, potential, save_model
from painnjax.data.splits import Split
from painnjax.training.config import TrainConfig
from painnjax.training.finetune import trainable_mask
from painnjax.training.fit import train
from tests.conftest import perturbed_model, rattled_set

TINY = PaiNNConfig(n_atom_basis=16, n_interactions=2, n_rbf=8)


@pytest.fixture(scope="module")
def tiny_set(sa1am1, sa2am2):
    """Six rattled SA1AM1 / SA2AM2 structures with made-up smooth labels (total energies)."""
    return rattled_set(sa1am1, sa2am2, seed=1)


def _split():
    return Split(train=np.arange(4), valid=np.arange(4, 6), test=np.arange(0), seed=0, rule="test")


@pytest.fixture(scope="module")
def start_model(tmp_path_factory):
    """A trained-looking tiny model file (weights perturbed away from their initial values)."""
    model = perturbed_model(TINY, seed=3)
    model.variables["constants"]["shift"] = np.asarray(-0.7, np.float32)
    model.variables["constants"]["scale"] = np.asarray(1.3, np.float32)
    model.metadata["name"] = "tiny-start"
    path = tmp_path_factory.mktemp("start") / "start.painn"
    save_model(model, path)
    return path


def _leaves(params):
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(params)[0]}


def test_frozen_parts_do_not_move_and_the_rest_trains(tiny_set, start_model, tmp_path):
    # Both batch layouts' steps hand the mask to the same update (trainer._update); this runs
    # the size buckets, the layout of batch 2.
    cfg = TrainConfig(
        epochs=2,
        batch_size=2,
        lr=1e-2,
        max_buckets=1,
        ema_decay=0.5,  # the saved weights are the moving average: it must keep frozen weights too
        init_from=str(start_model),
        freeze_embedding=True,
        freeze_interactions=1,
    )
    out = train(tiny_set, _split(), tmp_path / "run", TINY, cfg, progress=False)
    before = _leaves(load_model(start_model).variables["params"])
    after = _leaves(out.variables["params"])
    F3 = 3 * TINY.n_atom_basis
    frozen = moved = 0
    for key, w0 in before.items():
        w1 = after[key]
        if "'embedding'" in key or "interactions_0" in key or "mixing_0" in key:
            np.testing.assert_array_equal(w1, w0, err_msg=key)  # bit for bit
            frozen += 1
        elif "filter_net" in key:
            np.testing.assert_array_equal(w1[..., :F3], w0[..., :F3], err_msg=key)  # block 0's filters
            assert np.abs(w1[..., F3:] - w0[..., F3:]).max() > 0, key
        else:
            assert np.abs(w1 - w0).max() > 0, f"{key} did not train"
            moved += 1
    assert frozen >= 5 and moved >= 5
    # the start's constants are carried over, not recomputed from the data
    assert float(out.variables["constants"]["shift"]) == pytest.approx(-0.7)
    assert float(out.variables["constants"]["scale"]) == pytest.approx(1.3)
    assert out.metadata["init_from"]["name"] == "tiny-start"
    record = load_model(tmp_path / "run" / "best.painn").metadata
    assert record["training"]["train_config"]["freeze_interactions"] == 1
    assert record["init_from"]["name"] == "tiny-start"


def test_mask_marks_exactly_the_frozen_weights():
    params = perturbed_model(TINY).variables["params"]
    assert trainable_mask(params, TINY, False, 0) is None
    mask = _leaves(trainable_mask(params, TINY, True, 2))
    for key, m in mask.items():
        if "representation" in key:
            assert (m == 0).all(), key  # everything of the representation: embedding, 2 of 2 blocks, filters
        else:
            assert (m == 1).all(), key  # the readout trains
    with pytest.raises(InputError, match="freeze_interactions = 3, but the model has 2"):
        trainable_mask(params, TINY, False, 3)
    shared = dataclasses.replace(TINY, shared_filters=True)
    with pytest.raises(InputError, match="shares"):
        trainable_mask(perturbed_model(shared).variables["params"], shared, False, 1)


def test_bad_fine_tuning_requests_are_refused(tiny_set, start_model, tmp_path):
    with pytest.raises(InputError, match="give the model to start from"):
        train(tiny_set, _split(), tmp_path / "a", TINY, TrainConfig(epochs=1, freeze_embedding=True), progress=False)
    other = PaiNNConfig(n_atom_basis=8, n_interactions=2, n_rbf=8)
    with pytest.raises(InputError, match="architecture"):
        cfg = TrainConfig(epochs=1, init_from=str(start_model))
        train(tiny_set, _split(), tmp_path / "b", other, cfg, progress=False)
    with pytest.raises(InputError, match="not both"):
        cfg = TrainConfig(epochs=1, init_from=str(start_model))
        train(tiny_set, _split(), tmp_path / "c", TINY, cfg, progress=False, warm_start=start_model)
    with pytest.raises(InputError, match="freeze_embedding"):
        TrainConfig(freeze_embedding=1)
    with pytest.raises(InputError, match="freeze_interactions"):
        TrainConfig(freeze_interactions=-1)
    assert not (tmp_path / "a" / "checkpoints").exists() and not (tmp_path / "b" / "checkpoints").exists()


def test_init_from_the_shipped_model_starts_at_its_energies(shared_data, tmp_path):
    """`painnjax train --init-from saam-gfn1` on pool frames with the pool's monomers: before the
    first step the run's model is saam-gfn1 (architecture from the model, energies equal)."""
    import ase.io

    from painnjax.training.workflow import train_from_files

    frames = ase.io.read(shared_data / "saam_gfn1" / "train_pool_300K.extxyz", index="100:1600:300")
    data = tmp_path / "frames.extxyz"
    ase.io.write(data, frames)
    overrides = {
        "train": {"init_from": "saam-gfn1", "epochs": 1},
        "data": {"monomers": str(shared_data / "saam_gfn1" / "monomers_gfn1.extxyz")},
        "split": {"valid_fraction": 0.4},
    }
    run = train_from_files([data], None, tmp_path / "run", overrides=overrides, progress=False, stop_after=0)
    shipped = load_model("saam-gfn1")
    assert run.config == shipped.config
    with jax.enable_x64(True):
        for atoms in frames[-1:]:  # the largest cluster of the sample
            R = jnp.asarray(atoms.positions, jnp.float64)
            e_run = float(potential(run, atoms, dtype=jnp.float64)(R))
            e_shipped = float(potential(shipped, atoms, dtype=jnp.float64)(R))
            assert abs(e_run - e_shipped) < 1e-6 * abs(e_shipped), (e_run, e_shipped)
