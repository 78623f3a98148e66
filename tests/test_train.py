"""Training: the loss against hand-computed values, padding/bucketing invariance, exact resume,
and clear errors. Small models and few epochs (CPU CI)."""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from painnjax import InputError, PaiNNConfig, load_model, potential
from painnjax.batching import make_buckets, pad_structures
from painnjax.dataset import Dataset
from painnjax.splits import Split
from painnjax.train import EV_TO_KCAL_PER_MOL, TrainConfig, loss_and_sums, metrics_from_sums, train

TINY = PaiNNConfig(n_atom_basis=16, n_interactions=2, n_rbf=8)
# Compiled once per shape (module, cutoff, capacity and config are static), not run op by op.
loss_and_sums_jit = jax.jit(loss_and_sums, static_argnums=(2, 4, 5, 6))


@pytest.fixture(scope="module")
def tiny_set(sa1am1, sa2am2):
    """Six structures of two sizes: rattled SA1AM1 and SA2AM2 with made-up smooth labels."""
    rng = np.random.default_rng(0)
    numbers, positions, energy, forces, info = [], [], [], [], []
    for k in range(6):
        atoms = (sa1am1 if k % 2 == 0 else sa2am2).copy()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        numbers.append(atoms.numbers.astype(np.int32))
        positions.append(atoms.positions.copy())
        energy.append(-1.0 * len(atoms) + rng.normal(0.0, 0.1))
        forces.append(rng.normal(0.0, 0.3, atoms.positions.shape))
        info.append({"source": "synthetic", "frame": k, "composition": "SA1AM1" if k % 2 == 0 else "SA2AM2"})
    return Dataset(numbers, positions, np.asarray(energy), forces, info)


def _split(n_valid=2, n=6):
    idx = np.arange(n)
    return Split(train=idx[: n - n_valid], valid=idx[n - n_valid :], test=np.arange(0), seed=0, rule="test")


def test_loss_equals_hand_computed_value(tiny_set):
    """x * MAE(E) + (1 - x) * MAE(F) from the potential's own predictions, by hand."""
    from painnjax import Model

    model = Model.init(TINY, seed=3)
    cfg = TrainConfig(energy_weight=0.3)
    idx = [0, 1, 3]
    n_slots = max(tiny_set.n_atoms[idx]) + 3
    batch = pad_structures(tiny_set, idx, n_slots, batch_size=4)  # one weight-0 filler
    buckets = make_buckets(tiny_set, TINY.cutoff, max_buckets=1)
    v = model.variables
    loss, sums = loss_and_sums_jit(v["params"], v["constants"], model.module, jax.tree_util.tree_map(jnp.asarray, batch),
                               TINY.cutoff, buckets[0].pair_capacity, cfg)
    abs_e, abs_f, n_f = [], 0.0, 0
    for k in idx:
        fn = potential(model, tiny_set.numbers[k])
        R = jnp.asarray(tiny_set.positions[k], jnp.float32)
        e = float(fn(R))
        f = -np.asarray(jax.grad(fn)(R))
        abs_e.append(abs(e - tiny_set.energy[k]))
        abs_f += np.abs(f - tiny_set.forces[k]).sum()
        n_f += f.size
    want = 0.3 * np.mean(abs_e) + 0.7 * abs_f / n_f
    assert float(loss) == pytest.approx(want, rel=1e-5)
    m = metrics_from_sums(sums, with_forces=True)
    assert m["energy_mae"] == pytest.approx(np.mean(abs_e) * EV_TO_KCAL_PER_MOL, rel=1e-5)
    assert m["forces_mae"] == pytest.approx(abs_f / n_f * EV_TO_KCAL_PER_MOL, rel=1e-5)
    # Energies only: x = 1 gives the energy MAE alone.
    loss_e, _ = loss_and_sums_jit(v["params"], v["constants"], model.module, jax.tree_util.tree_map(jnp.asarray, batch),
                              TINY.cutoff, buckets[0].pair_capacity, TrainConfig(energy_weight=1.0))
    assert float(loss_e) == pytest.approx(np.mean(abs_e), rel=1e-5)


def test_padded_batch_sums_equal_one_structure_at_a_time(tiny_set):
    from painnjax import Model

    model = Model.init(TINY, seed=1)
    v = model.variables
    cfg = TrainConfig()
    big = max(tiny_set.n_atoms) + 5
    buckets = make_buckets(tiny_set, TINY.cutoff, max_buckets=1)
    cap = buckets[0].pair_capacity

    def sums_of(idx, n_slots, bsz):
        batch = jax.tree_util.tree_map(jnp.asarray, pad_structures(tiny_set, idx, n_slots, bsz))
        return loss_and_sums_jit(v["params"], v["constants"], model.module, batch, TINY.cutoff, cap, cfg)[1]

    together = sums_of([0, 1, 2, 5], big, 6)
    alone = [sums_of([k], int(tiny_set.n_atoms[k]), 1) for k in (0, 1, 2, 5)]
    for key in ("abs_e", "sq_e", "n_e", "abs_f", "sq_f", "n_f"):
        assert float(together[key]) == pytest.approx(sum(float(a[key]) for a in alone), rel=1e-5), key


def _rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def test_resume_continues_bit_for_bit_in_float64(tiny_set, tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=2, lr=1e-3, dtype="float64")
    with jax.enable_x64(True):
        straight = train(tiny_set, _split(), tmp_path / "a", TINY, cfg, progress=False)
        train(tiny_set, _split(), tmp_path / "b", TINY, cfg, stop_after=1, progress=False)
        # A row of an epoch whose checkpoint was never written (killed in between) is dropped.
        with open(tmp_path / "b" / "metrics.csv", "a") as f:
            f.write("2,0.1,9,9,9,9,9,9,9,9,0.001\n")
        resumed = train(tiny_set, _split(), tmp_path / "b", TINY, cfg, resume=True, progress=False)
    for a, b in zip(jax.tree_util.tree_leaves(straight.variables), jax.tree_util.tree_leaves(resumed.variables)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert _rows(tmp_path / "a" / "metrics.csv") == _rows(tmp_path / "b" / "metrics.csv")
    assert len(_rows(tmp_path / "a" / "metrics.csv")) == 3
    best = load_model(tmp_path / "b" / "best.painn")
    assert best.metadata["energy_reference"] == {"kind": "total"}


def test_training_lowers_the_validation_error(tiny_set, tmp_path):
    cfg = TrainConfig(epochs=8, batch_size=2, lr=5e-3, energy_weight=1.0)
    train(tiny_set, _split(), tmp_path, TINY, cfg, progress=False)
    rows = _rows(tmp_path / "metrics.csv")
    first, last = float(rows[0]["train_loss"]), float(rows[-1]["train_loss"])
    assert last < first


def test_run_folder_errors(tiny_set, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=2)
    with pytest.raises(InputError, match="no checkpoint to resume"):
        train(tiny_set, _split(), tmp_path / "none", TINY, cfg, resume=True, progress=False)
    train(tiny_set, _split(), tmp_path / "run", TINY, cfg, progress=False)
    with pytest.raises(InputError, match="already holds a run"):
        train(tiny_set, _split(), tmp_path / "run", TINY, cfg, progress=False)
    (tmp_path / "run" / "checkpoints" / "latest.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="latest.ckpt: cannot resume"):
        train(tiny_set, _split(), tmp_path / "run", TINY, cfg, resume=True, progress=False)


def test_forces_required_when_training_on_forces(tiny_set, tmp_path):
    no_forces = Dataset(tiny_set.numbers, tiny_set.positions, tiny_set.energy, None, tiny_set.info)
    with pytest.raises(InputError, match="needs a dataset with forces"):
        train(no_forces, _split(), tmp_path, TINY, TrainConfig(epochs=1), progress=False)


def test_train_config_checks():
    with pytest.raises(InputError, match="energy_weight"):
        TrainConfig(energy_weight=1.5)
    with pytest.raises(InputError, match="loss"):
        TrainConfig(loss="huber")


def test_train_command_on_real_frames_with_binding_energies(shared_data, tmp_path):
    """`painnjax train` end to end: files -> binding energies -> split -> AdamW -> run folder."""
    import ase.io

    from painnjax.cli import main

    frames = ase.io.read(shared_data / "saam_gfn1" / "train_pool_300K.extxyz", index="60:1560:50")
    data = tmp_path / "frames.extxyz"
    ase.io.write(data, frames)
    config = tmp_path / "run.toml"
    config.write_text(
        "[model]\nn_atom_basis = 16\nn_interactions = 2\nn_rbf = 8\n"
        "[train]\nepochs = 2\nbatch_size = 4\nlr = 1e-3\n"
        "[split]\nvalid_fraction = 0.2\nseed = 7\n"
    )
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--config", str(config), "--out", str(out),
            "--monomers", str(shared_data / "saam_gfn1" / "monomers_gfn1.extxyz"), "--quiet"]
    assert main(args) == 0
    for name in ("config.json", "split.json", "metrics.csv", "best.painn", "checkpoints/latest.ckpt"):
        assert (out / name).is_file(), name
    rows = _rows(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    model = load_model(out / "best.painn")
    assert model.elements == (1, 7, 8, 16)
    # Trained on binding energies, saved to predict total energies: the monomer energies are
    # folded into per-element references, so E_model - E_model(atomref = 0) = sum of monomers.
    ref = model.metadata["energy_reference"]
    assert ref["kind"] == "total" and ref["trained_on"]["kind"] == "binding"
    from painnjax import Model, molecule_counts, read_monomer_references

    monomers = read_monomer_references(shared_data / "saam_gfn1" / "monomers_gfn1.extxyz")
    bare = Model(model.config, {**model.variables, "constants": {**model.variables["constants"],
                                                                   "atomref": np.zeros(model.config.max_z)}},
                 model.metadata)
    atoms = frames[-1]
    counts = molecule_counts(atoms.numbers)
    with jax.enable_x64(True):
        R = jnp.asarray(atoms.positions, jnp.float64)
        e_total = float(potential(model, atoms, dtype=jnp.float64)(R))
        e_bare = float(potential(bare, atoms, dtype=jnp.float64)(R))
    want = sum(n * monomers[m] for m, n in counts.items() if n)
    assert e_total - e_bare == pytest.approx(want, abs=1e-6)
    # A second start into the same folder is refused; --resume with more epochs continues.
    assert main(args) == 2
    assert main(args + ["--resume", "--epochs", "3"]) == 0
    assert [r["epoch"] for r in _rows(out / "metrics.csv")] == ["1", "2", "3"]


def test_train_config_file_errors(tmp_path):
    from painnjax.workflow import read_run_config

    bad = tmp_path / "bad.toml"
    bad.write_text("[trian]\nepochs = 1\n")
    with pytest.raises(InputError, match="unknown section"):
        read_run_config(bad)
    bad.write_text("[train]\nepoch = 1\n")
    with pytest.raises(InputError, match=r"\[train\] has unknown key"):
        read_run_config(bad)
    with pytest.raises(InputError, match="no such config file"):
        read_run_config(tmp_path / "missing.toml")


def test_evaluate_matches_the_potential_and_hand_computed_errors(shared_data, tmp_path):
    """`painnjax evaluate`: batched predictions equal the potential's; metrics as defined."""
    import json

    import ase.io

    from painnjax import Model, read_dataset
    from painnjax.cli import main
    from painnjax.evaluate import error_report

    frames = ase.io.read(shared_data / "saam_gfn1" / "train_pool_300K.extxyz", index="100:1500:70")
    data = tmp_path / "frames.extxyz"
    ase.io.write(data, frames)
    model = Model.init(TINY, seed=5, elements=[1, 7, 8, 16])
    from painnjax import save_model

    save_model(model, tmp_path / "m.painn")
    ds = read_dataset(data)
    report = error_report(model, ds)
    de, df, angles = [], [], []
    for atoms in frames:
        fn = potential(model, atoms)
        R = jnp.asarray(atoms.positions, jnp.float32)
        de.append(float(fn(R)) - atoms.get_potential_energy())
        f = -np.asarray(jax.grad(fn)(R), np.float64)
        df.append(f - atoms.get_forces())
        ref = atoms.get_forces()
        cos = np.sum(f * ref, 1) / (np.linalg.norm(f, axis=1) * np.linalg.norm(ref, axis=1))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    de = np.asarray(de) * EV_TO_KCAL_PER_MOL
    df = np.concatenate([d.ravel() for d in df]) * EV_TO_KCAL_PER_MOL
    # Total energies of ~-1000s eV in float32: the batched and the single-structure paths agree
    # to float32 resolution of the totals (~1e-3 kcal/mol), far below the errors measured.
    assert report["energy_mae"] == pytest.approx(np.mean(np.abs(de)), rel=1e-4)
    assert report["energy_rmse"] == pytest.approx(np.sqrt(np.mean(de**2)), rel=1e-4)
    assert report["forces_mae"] == pytest.approx(np.mean(np.abs(df)), rel=1e-4)
    assert report["forces_angle_deg"] == pytest.approx(np.mean(np.concatenate(angles)), rel=1e-3)
    assert sum(r["n_structures"] for r in report["per_composition"].values()) == len(frames)

    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tmp_path / "m.painn"), str(data), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    for key in ("energy_mae", "energy_rmse", "forces_mae", "forces_rmse"):
        assert saved[key] == pytest.approx(report[key], rel=1e-6)
    assert (tmp_path / "eval.png").stat().st_size > 10_000


def test_evaluate_refuses_an_element_the_model_does_not_know(tiny_set):
    from painnjax import Model
    from painnjax.evaluate import error_report

    numbers = [z.copy() for z in tiny_set.numbers]
    numbers[3][2] = 6  # a carbon atom in structure 3
    ds = Dataset(numbers, tiny_set.positions, tiny_set.energy, tiny_set.forces, tiny_set.info)
    model = Model.init(TINY, elements=[1, 7, 8, 16])
    with pytest.raises(InputError, match=r"synthetic, frame 3: atom 2: element C \(Z=6\) is not known"):
        error_report(model, ds)
