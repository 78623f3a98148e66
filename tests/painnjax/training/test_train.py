"""Training: the loss against hand-computed values, padding/bucketing invariance, exact resume,
and clear errors. Small models and few epochs (CPU CI)."""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from painnjax import InputError, PaiNNConfig, load_model, potential
from painnjax.data.batching import make_buckets, pad_structures
from painnjax.data.dataset import Dataset
from painnjax.data.splits import Split
from painnjax.training.config import TrainConfig
from painnjax.training.fit import train
from painnjax.training.loss import loss_and_sums, metrics_from_sums
from painnjax.units import EV_TO_KCAL_PER_MOL
from tests.conftest import rattled_set

TINY = PaiNNConfig(n_atom_basis=16, n_interactions=2, n_rbf=8)
# Compiled once per shape (module, cutoff, capacity and config are static), not run op by op.
loss_and_sums_jit = jax.jit(loss_and_sums, static_argnums=(2, 4, 5, 6))


@pytest.fixture(scope="module")
def tiny_set(sa1am1, sa2am2):
    """Six structures of two sizes: rattled SA1AM1 and SA2AM2 with made-up smooth labels."""
    return rattled_set(sa1am1, sa2am2, seed=0)


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
    loss, sums = loss_and_sums_jit(
        v["params"],
        v["constants"],
        model.module,
        jax.tree_util.tree_map(jnp.asarray, batch),
        TINY.cutoff,
        buckets[0].pair_capacity,
        cfg,
    )
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
    loss_e, _ = loss_and_sums_jit(
        v["params"],
        v["constants"],
        model.module,
        jax.tree_util.tree_map(jnp.asarray, batch),
        TINY.cutoff,
        buckets[0].pair_capacity,
        TrainConfig(energy_weight=1.0),
    )
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


@pytest.mark.parametrize("groups", [1, 2])
def test_batch_as_one_graph_equals_the_potential_structure_by_structure(tiny_set, groups):
    """predict_batch evaluates a padded batch as one graph (or one per device group); every
    structure's energy and forces must equal the MD potential's, padding rows included."""
    from painnjax import Model, energy_and_forces
    from painnjax.training.loss import predict_batch

    with jax.enable_x64(True):
        model = Model.init(TINY, seed=3)
        v = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), model.variables)
        idx = [0, 1, 3]  # three real rows and a weight-0 filler row
        buckets = make_buckets(tiny_set, TINY.cutoff, max_buckets=1)
        batch = pad_structures(tiny_set, idx, max(tiny_set.n_atoms) + 3, 4)
        batch = jax.tree_util.tree_map(jnp.asarray, batch)
        predict = jax.jit(predict_batch, static_argnums=(0, 3, 4, 5, 6))
        E, F = predict(model.module, v, batch, TINY.cutoff, buckets[0].pair_capacity, True, groups)
        for row, k in enumerate(idx + [idx[0]]):
            n = int(tiny_set.n_atoms[k])
            pot = potential(Model(TINY, v, model.metadata), tiny_set.numbers[k], dtype=jnp.float64)
            e_ref, f_ref = energy_and_forces(pot)(jnp.asarray(tiny_set.positions[k]))
            assert float(E[row]) == pytest.approx(float(e_ref), rel=1e-12, abs=1e-12)
            np.testing.assert_allclose(np.asarray(F[row, :n]), np.asarray(f_ref), rtol=1e-10, atol=1e-12)
            assert not np.any(np.asarray(F[row, n:]))  # padded slots: exactly no force


def _rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lr_schedule": "plateau", "plateau_patience": 1, "ema_decay": 0.9},
        {"lr_schedule": "cosine", "warmup_epochs": 1, "lr_min": 1e-5},
        {"batch_layout": "packed"},
    ],
    ids=["paper", "plateau+ema", "cosine+warmup", "packed"],
)
def test_resume_continues_bit_for_bit_in_float64(tiny_set, tmp_path, options):
    cfg = TrainConfig(epochs=3, batch_size=2, lr=1e-3, dtype="float64", **options)
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
    assert [float(r["lr"]) for r in _rows(tmp_path / "a" / "metrics.csv")] == [
        cfg.schedule().lr_for(e) for e in range(3)
    ] or options.get("lr_schedule") == "plateau"
    best = load_model(tmp_path / "b" / "best.painn")
    assert best.metadata["energy_reference"] == {"kind": "total"}


def test_step_is_optax_adamw_at_the_epochs_rate_and_ema_averages_it(tiny_set):
    """The unit-rate AdamW scaled by ``lr`` in the step equals ``optax.adamw(lr)``, and the
    moving average is decay * old + (1 - decay) * new after every step."""
    import optax

    from painnjax import Model
    from painnjax.data.batching import iterate_batches
    from painnjax.training.trainer import Trainer

    model = Model.init(TINY, seed=5, elements=tiny_set.elements)
    cfg = TrainConfig(batch_size=2, lr=3e-3, weight_decay=0.05, ema_decay=0.8, dtype="float64")
    buckets = make_buckets(tiny_set, TINY.cutoff, max_buckets=1)
    ref_opt = optax.adamw(3e-3, weight_decay=0.05)
    with jax.enable_x64(True):
        trainer = Trainer(model, cfg, buckets)
        params, constants = trainer.params, trainer.constants
        ref_state = ref_opt.init(params)
        ema = params
        for b, _, batch in list(iterate_batches(tiny_set, np.arange(4), 2, buckets, rng=None)):
            trainer.step(b, batch, lr=3e-3)
            jb = jax.tree_util.tree_map(jnp.asarray, batch)
            grads = jax.grad(
                lambda p: loss_and_sums_jit(p, constants, model.module, jb, TINY.cutoff, buckets[b].pair_capacity, cfg)[
                    0
                ]
            )(params)
            updates, ref_state = ref_opt.update(grads, ref_state, params)
            params = optax.apply_updates(params, updates)
            ema = jax.tree_util.tree_map(lambda a, p: 0.8 * a + 0.2 * p, ema, params)
        # float64: only the order of sums differs between the two compiled graphs.
        for got, want in zip(jax.tree_util.tree_leaves(trainer.params), jax.tree_util.tree_leaves(params)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-13)
        for got, want in zip(jax.tree_util.tree_leaves(trainer.ema_params), jax.tree_util.tree_leaves(ema)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-13)
    # What is validated and saved is the average, not the raw weights.
    assert trainer.eval_params is trainer.ema_params
    with jax.enable_x64(True):
        saved = trainer.model(model).params
    np.testing.assert_array_equal(
        np.asarray(jax.tree_util.tree_leaves(saved)[0]), np.asarray(jax.tree_util.tree_leaves(trainer.ema_params)[0])
    )


def test_trainers_that_differ_only_in_schedule_share_one_compiled_step(tiny_set):
    """A resumed run, committee members and active-learning rounds compile their step once per
    process: the compile cache is keyed by what the step computes, not by epochs, seed or rate."""
    from painnjax import Model
    from painnjax.data.batching import iterate_batches
    from painnjax.training.trainer import Trainer, _train_step

    model = Model.init(TINY, seed=5, elements=tiny_set.elements)
    buckets = make_buckets(tiny_set, TINY.cutoff, max_buckets=1)
    b, _, batch = next(iter(iterate_batches(tiny_set, np.arange(2), 2, buckets, rng=None)))
    sizes = []
    for cfg in (
        TrainConfig(batch_size=2, lr=1e-3, epochs=3, seed=1),
        TrainConfig(batch_size=2, lr=5e-4, epochs=9, seed=2, lr_schedule="cosine"),
        TrainConfig(batch_size=2, lr=1e-3, energy_weight=0.5),
    ):
        Trainer(model, cfg, buckets).step(b, batch, cfg.lr)
        sizes.append(_train_step._cache_size())
    assert sizes[1] == sizes[0]  # same loss and optimiser: the compiled step is reused
    assert sizes[2] == sizes[1] + 1  # another loss weight is another program


def test_early_stopping_ends_the_run_where_the_metrics_say(tiny_set, tmp_path, monkeypatch):
    """Validation losses scripted 3, 2, 2.5, 1.9, 2.0, 2.1, 1.0, ...: with patience 2 the run
    stops after epoch 6 (best epoch 4), keeps the best model, says why, draws its plots, and a
    resumed run does no more epochs."""
    import importlib
    import json

    train_module = importlib.import_module("painnjax.training.fit")

    scripted = iter([3.0, 2.0, 2.5, 1.9, 2.0, 2.1, 1.0, 0.5, 0.4, 0.3])
    real_evaluate = train_module.evaluate

    def evaluate(*args, **kwargs):
        m = real_evaluate(*args, **kwargs)
        return {**m, "loss": next(scripted)}

    monkeypatch.setattr(train_module, "evaluate", evaluate)
    cfg = TrainConfig(epochs=10, batch_size=2, lr=1e-3, early_stopping=2)
    train(tiny_set, _split(), tmp_path, TINY, cfg, progress=False)
    rows = _rows(tmp_path / "metrics.csv")
    assert [float(r["valid_loss"]) for r in rows] == [3.0, 2.0, 2.5, 1.9, 2.0, 2.1]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stop_reason"] == "early_stopping"
    assert (summary["epochs_done"], summary["best_epoch"], summary["best_valid_loss"]) == (6, 4, 1.9)
    for name in ("learning_curve.png", "parity_valid.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    # The model file carries its training record: recipe, split sizes and the errors above.
    record = load_model(tmp_path / "best.painn").metadata["training"]
    assert record["best_epoch"] == 4 and record["train_config"]["early_stopping"] == 2
    assert record["n_structures"] == {"train": 4, "valid": 2, "test": 0}
    assert record["valid"]["energy_mae"] == summary["best_model_valid"]["energy_mae"]
    # Resuming a run that stopped early does nothing more.
    train(tiny_set, _split(), tmp_path, TINY, cfg, resume=True, progress=False)
    assert len(_rows(tmp_path / "metrics.csv")) == 6
    assert json.loads((tmp_path / "summary.json").read_text())["stop_reason"] == "early_stopping"


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


def test_metrics_row_is_written_before_the_checkpoint_and_every_line_ends_in_lf(tiny_set, tmp_path, monkeypatch):
    """A kill between an epoch's row and its checkpoint loses nothing (the row is trimmed and
    computed again on resume), and metrics.csv has one line ending before and after a resume."""
    import importlib

    train_module = importlib.import_module("painnjax.training.fit")
    cfg = TrainConfig(epochs=2, batch_size=2)
    train(tiny_set, _split(), tmp_path, TINY, cfg, stop_after=1, progress=False)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies while saving epoch 2's checkpoint

    with monkeypatch.context() as m:
        m.setattr(train_module, "save_checkpoint", killed)
        with pytest.raises(KeyboardInterrupt):
            train(tiny_set, _split(), tmp_path, TINY, cfg, resume=True, progress=False)
    assert [r["epoch"] for r in _rows(tmp_path / "metrics.csv")] == ["1", "2"]  # the row came first
    train(tiny_set, _split(), tmp_path, TINY, cfg, resume=True, progress=False)
    data = (tmp_path / "metrics.csv").read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")
    assert [r["epoch"] for r in _rows(tmp_path / "metrics.csv")] == ["1", "2"]  # epoch 2 trimmed and redone once


def test_forces_required_when_training_on_forces(tiny_set, tmp_path):
    no_forces = Dataset(tiny_set.numbers, tiny_set.positions, tiny_set.energy, None, tiny_set.info)
    with pytest.raises(InputError, match="needs a dataset with forces"):
        train(no_forces, _split(), tmp_path, TINY, TrainConfig(epochs=1), progress=False)


def test_unlabeled_or_nan_energies_are_refused_naming_the_frame(tiny_set, tmp_path):
    energy = tiny_set.energy.copy()
    energy[3] = np.nan
    nan_set = Dataset(tiny_set.numbers, tiny_set.positions, energy, tiny_set.forces, tiny_set.info)
    with pytest.raises(InputError, match="synthetic, frame 3: no finite energy"):
        train(nan_set, _split(), tmp_path, TINY, TrainConfig(epochs=1), progress=False)
    assert not any(tmp_path.iterdir())  # nothing written


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
        "[train]\nepochs = 2\nbatch_size = 4\nlr = 1e-3\nmax_buckets = 1\n"  # one compile: keeps the test fast
        "[split]\nvalid_fraction = 0.2\nseed = 7\n"
    )
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(data),
        "--config",
        str(config),
        "--out",
        str(out),
        "--monomers",
        str(shared_data / "saam_gfn1" / "monomers_gfn1.extxyz"),
        "--quiet",
    ]
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
    bare = Model(
        model.config,
        {**model.variables, "constants": {**model.variables["constants"], "atomref": np.zeros(model.config.max_z)}},
        model.metadata,
    )
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
    # --stop-after: at most N more epochs in this call; the run says why it stopped.
    assert main(args + ["--resume", "--epochs", "5", "--stop-after", "1"]) == 0
    assert [r["epoch"] for r in _rows(out / "metrics.csv")] == ["1", "2", "3", "4"]
    import json

    assert json.loads((out / "summary.json").read_text())["stop_reason"] == "stop_after"


def test_train_config_file_errors(tmp_path):
    from painnjax.training.workflow import read_run_config

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
    from painnjax.training.evaluate import error_report

    # 10 frames of several sizes (each size compiles its own single-structure reference)
    frames = ase.io.read(shared_data / "saam_gfn1" / "train_pool_300K.extxyz", index="100:1500:140")
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
        e, g = jax.jit(jax.value_and_grad(fn))(R)  # one structure at a time, apart from the batched path
        de.append(float(e) - atoms.get_potential_energy())
        f = -np.asarray(g, np.float64)
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
    comps = np.asarray(read_dataset(data).compositions)
    assert len(report["per_composition"]) > 1
    for comp, row in report["per_composition"].items():
        mine = np.nonzero(comps == comp)[0]
        assert row["n_atoms"] == len(frames[mine[0]])
        assert row["energy_mae"] == pytest.approx(np.mean(np.abs(de[mine])), rel=1e-4)

    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tmp_path / "m.painn"), str(data), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    for key in ("energy_mae", "energy_rmse", "forces_mae", "forces_rmse"):
        assert saved[key] == pytest.approx(report[key], rel=1e-6)
    assert (tmp_path / "eval.png").stat().st_size > 10_000
    assert (tmp_path / "eval_by_size.png").stat().st_size > 10_000  # error per composition vs atoms


def test_evaluate_refuses_an_element_the_model_does_not_know(tiny_set):
    from painnjax import Model
    from painnjax.training.evaluate import error_report

    numbers = [z.copy() for z in tiny_set.numbers]
    numbers[3][2] = 6  # a carbon atom in structure 3
    ds = Dataset(numbers, tiny_set.positions, tiny_set.energy, tiny_set.forces, tiny_set.info)
    model = Model.init(TINY, elements=[1, 7, 8, 16])
    with pytest.raises(InputError, match=r"synthetic, frame 3: atom 2: element C \(Z=6\) is not known"):
        error_report(model, ds)


TWO_DEVICE_SCRIPT = r"""
import json, sys
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from painnjax import Model, PaiNNConfig
from painnjax.data.batching import epoch_rng, iterate_batches, make_buckets
from painnjax.data import bundled_structure
from painnjax.data.dataset import Dataset
from painnjax.data.packing import iterate_packed, make_budgets, structure_pairs
from painnjax.training.config import TrainConfig
from painnjax.training.trainer import Trainer

rng = np.random.default_rng(1)
numbers, positions, energy, forces = [], [], [], []
for k in range(8):
    atoms = bundled_structure("SA1AM1" if k % 2 else "SA2AM2")
    numbers.append(atoms.numbers.astype(np.int32))
    positions.append(atoms.positions + rng.normal(0, 0.05, atoms.positions.shape))
    energy.append(-len(atoms) + rng.normal(0, 0.1))
    forces.append(rng.normal(0, 0.3, atoms.positions.shape))
ds = Dataset(numbers, positions, np.asarray(energy), forces, [{"frame": k} for k in range(8)])
tiny = PaiNNConfig(n_atom_basis=16, n_interactions=2, n_rbf=8)
model = Model.init(tiny, seed=2, elements=ds.elements)
buckets = make_buckets(ds, tiny.cutoff, max_buckets=1)  # one compile per layout and device count
out = {"n_local": len(jax.local_devices())}
params = {}
for n in (1, 2):
    cfg = TrainConfig(batch_size=4, lr=1e-3, dtype="float64", n_devices=n, ema_decay=0.5)
    trainer = Trainer(model, cfg, buckets)
    sums = []
    for epoch in range(2):
        for b, _, batch in iterate_batches(ds, np.arange(8), 4, buckets, epoch_rng(0, epoch)):
            sums.append(float(trainer.step(b, batch, 1e-3)["abs_f"]))
    leaves = jax.tree_util.tree_leaves(trainer.params) + jax.tree_util.tree_leaves(trainer.ema_params)
    params[n] = [np.asarray(x) for x in leaves]
    out[f"devices_{n}"] = len(trainer.devices)
    out[f"param_devices_{n}"] = len(jax.tree_util.tree_leaves(trainer.params)[0].sharding.device_set)
    out[f"sums_{n}"] = sums
out["max_rel_diff"] = max(float(np.max(np.abs(a - b) / (np.abs(b) + 1e-12))) for a, b in zip(params[1], params[2]))
pairs = structure_pairs(ds, tiny.cutoff)
for n in (1, 2):  # packed batches: one graph per device
    cfg = TrainConfig(batch_size=4, lr=1e-3, dtype="float64", n_devices=n)
    trainer = Trainer(model, cfg, buckets)
    budgets = make_budgets(ds, pairs, np.arange(8), 4, n)
    sums = []
    for epoch in range(2):
        for _, _, packed in iterate_packed(ds, pairs, np.arange(8), 4, budgets, n, epoch_rng(0, epoch)):
            sums.append(float(trainer.step_packed(packed, 1e-3)["abs_f"]))
    params[f"packed_{n}"] = [np.asarray(x) for x in jax.tree_util.tree_leaves(trainer.params)]
    out[f"packed_sums_{n}"] = sums
out["packed_max_rel_diff"] = max(
    float(np.max(np.abs(a - b) / (np.abs(b) + 1e-12))) for a, b in zip(params["packed_1"], params["packed_2"])
)
print(json.dumps(out))
"""


def test_two_device_data_parallel_step_equals_one_device(tmp_path):
    """--xla_force_host_platform_device_count=2: the batch is split over two CPU devices and
    the weights after several steps equal the one-device run to float64 rounding."""
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "two_devices.py"
    script.write_text(TWO_DEVICE_SCRIPT)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["n_local"] == 2
    assert (out["devices_1"], out["devices_2"]) == (1, 2)
    assert (out["param_devices_1"], out["param_devices_2"]) == (1, 2)
    np.testing.assert_allclose(out["sums_2"], out["sums_1"], rtol=1e-12)
    assert out["max_rel_diff"] < 1e-9
    np.testing.assert_allclose(out["packed_sums_2"], out["packed_sums_1"], rtol=1e-12)
    assert out["packed_max_rel_diff"] < 1e-9


def test_train_committee_then_evaluate_it(shared_data, tmp_path):
    """`painnjax train --committee 2`: two members, seeds 7 and 8, one split; `evaluate` on both
    reports their spread, which is not zero since the members differ."""
    import json

    import ase.io

    from painnjax.cli import main

    frames = ase.io.read(shared_data / "saam_gfn1" / "train_pool_300K.extxyz", index="100:1600:100")
    data = tmp_path / "frames.extxyz"
    ase.io.write(data, frames)
    config = tmp_path / "run.toml"
    config.write_text(
        "[model]\nn_atom_basis = 16\nn_interactions = 2\nn_rbf = 8\n"
        "[train]\nepochs = 1\nbatch_size = 4\nlr = 1e-3\nseed = 7\nmax_buckets = 1\n[split]\nvalid_fraction = 0.25\n"
    )
    out = tmp_path / "committee"
    assert (
        main(["train", "--data", str(data), "--config", str(config), "--out", str(out), "--committee", "2", "--quiet"])
        == 0
    )
    seeds = [json.loads((out / f"member-{k}" / "config.json").read_text())["train"]["seed"] for k in (1, 2)]
    assert seeds == [7, 8]
    assert (out / "member-1" / "split.json").read_text() == (out / "member-2" / "split.json").read_text()
    report = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                str(out / "member-1" / "best.painn"),
                str(out / "member-2" / "best.painn"),
                str(data),
                "--json",
                str(report),
            ]
        )
        == 0
    )
    c = json.loads(report.read_text())["committee"]
    assert c["n_models"] == 2 and c["mean_force_spread_kcal_mol_A"] > 0
