"""Active learning (painnjax.active.learn), sampling (painnjax.active.sample), the committee-mean
potential and warm starts.

The loop test runs on SA1AM1 (11 atoms) with tiny models: the initial data are a few
near-minimum geometries, the fixed test set is 60 GFN1-xTB frames of 300 K MD (bundled),
and one round of MD with the committee mean, picking by spread and xTB labelling must add
frames and lower the test error.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.io import read, write

from painnjax import Model, PaiNNConfig, potential
from painnjax.errors import InputError
from painnjax.potential import mean_potential

TINY = PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4)


def test_mean_potential_is_the_mean_of_the_members():
    from painnjax.data import bundled_structure

    atoms = bundled_structure("SA4AM4")  # 44 atoms: sparse pair lists
    models = [Model.init(TINY, seed=s, elements=[1, 7, 8, 16]) for s in (0, 1, 2)]
    R = jnp.asarray(atoms.positions, jnp.float32)
    mean = mean_potential(models, atoms, reference_positions=atoms.positions)
    singles = [potential(m, atoms, reference_positions=atoms.positions) for m in models]
    e = float(mean(R))
    np.testing.assert_allclose(e, np.mean([float(p(R)) for p in singles]), rtol=1e-6)
    g = jax.grad(mean)(R)
    np.testing.assert_allclose(g, np.mean([jax.grad(p)(R) for p in singles], axis=0), atol=1e-5)
    assert mean.neighbor_mode == "sparse" and mean.cutoff == 5.0 and mean.fits(R)
    other = Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4, cutoff=4.0), elements=[1, 7, 8, 16])
    with pytest.raises(InputError, match="different cutoffs"):
        mean_potential([models[0], other], atoms)


def test_sample_md_writes_bare_frames(tmp_path):
    from md import MDConfig
    from painnjax.active.sample import sample_md

    models = [Model.init(TINY, seed=s, elements=[1, 7, 8, 16]) for s in (0, 1)]
    cfg = MDConfig(ensemble="nvt-langevin", temperature=(200.0, 300.0), replicas=2, steps=40, dt=0.5)
    n = sample_md(models, "SA1AM1", tmp_path / "pool.extxyz", cfg, every=10, progress=False, workdir=tmp_path / "md")
    frames = read(tmp_path / "pool.extxyz", ":")
    assert n == len(frames) and 2 <= n <= 8  # 4 per replica unless a safety stop cut one short
    assert {a.info["replica"] for a in frames} <= {0, 1}
    assert all(a.info["step"] % 10 == 0 and a.info["step"] > 0 for a in frames)
    assert frames[0].calc is None  # positions only: ready for labelling
    assert frames[0].info["composition"] == "SA1AM1" and "mean of" in frames[0].info["sampled_by"]
    with pytest.raises(InputError, match="every"):
        sample_md(models, "SA1AM1", tmp_path / "p2.extxyz", cfg, every=0)


def test_warm_start_begins_from_the_given_weights(tmp_path):
    """Zero epochs of training from a warm start return the warm model's weights."""
    from painnjax.data import bundled_dataset_path
    from painnjax.training.workflow import train_from_files

    frames = [a for a in read(bundled_dataset_path("saam-gfn1-small"), ":") if a.info["composition"] == "SA1AM1"]
    data = tmp_path / "sa1am1.extxyz"
    write(data, frames[:16])
    warm = Model.init(TINY, seed=7, elements=[1, 7, 8, 16])
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[model]\nn_atom_basis = 8\nn_interactions = 1\nn_rbf = 4\n[train]\nepochs = 1\nlr = 1e-12\n"
        "batch_size = 8\n[split]\ntest_largest = 0\n"
    )
    model = train_from_files([data], cfg, tmp_path / "run", progress=False, warm_start=warm)
    a = jax.tree_util.tree_leaves(model.variables["params"])
    b = jax.tree_util.tree_leaves(warm.variables["params"])
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-7)  # lr 1e-12: nothing moved
    seeded = Model.init(TINY, seed=42, elements=[1, 7, 8, 16])  # TrainConfig.seed 42: the start without a warm start
    assert not all(np.allclose(x, y) for x, y in zip(jax.tree_util.tree_leaves(seeded.variables["params"]), b))
    bigger = Model.init(PaiNNConfig(n_atom_basis=16, n_interactions=1, n_rbf=4), elements=[1, 7, 8, 16])
    with pytest.raises(InputError, match="architecture"):
        train_from_files([data], cfg, tmp_path / "run3", progress=False, warm_start=bigger)


@pytest.fixture
def sa1am1_sets(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tblite's threads only slow small clusters down
    pytest.importorskip("tblite")
    from painnjax.active.label import label_file
    from painnjax.data import bundled_dataset_path, bundled_structure

    pool = read(bundled_dataset_path("saam-gfn1-small"), ":")
    test = [a for a in pool if a.info.get("composition") == "SA1AM1"]
    write(tmp_path / "test.extxyz", test)
    base = bundled_structure("SA1AM1")
    rng = np.random.default_rng(0)
    near = []
    for _ in range(8):
        a = base.copy()
        a.positions += 0.08 * rng.standard_normal(a.positions.shape)
        near.append(a)
    write(tmp_path / "near.extxyz", near)
    label_file(tmp_path / "near.extxyz", tmp_path / "initial.extxyz", method="GFN1-xTB", progress=False)
    return tmp_path / "initial.extxyz", tmp_path / "test.extxyz"


def test_one_round_adds_frames_and_lowers_the_test_error(tmp_path, sa1am1_sets):
    from painnjax.active.learn import LearnConfig, learn

    initial, test = sa1am1_sets
    cfg_file = tmp_path / "small.toml"
    cfg_file.write_text(
        "[model]\nn_atom_basis = 16\nn_interactions = 2\nn_rbf = 8\n"
        "[train]\nepochs = 200\nbatch_size = 4\nlr = 3e-3\nenergy_weight = 0.01\n"
        "[split]\nvalid_fraction = 0.25\n"
    )
    cfg = LearnConfig(
        rounds=1,
        committee=2,
        starts=["SA1AM1"],
        temperatures=[300.0, 300.0],
        md_steps=400,
        every=10,
        threshold=0.0,
        max_spread=2.0,
        max_add=16,
    )
    rows = learn([initial], [test], tmp_path / "al", cfg, train_config=cfg_file, progress=False, log=None)
    assert [r["round"] for r in rows] == [0, 1]
    assert rows[0]["train_frames"] == 8 and rows[1]["added"] == 16 and rows[1]["train_frames"] == 24
    assert rows[1]["pool_frames"] >= 16
    assert rows[1]["test_forces_mae_kcal_mol_A"] < 0.8 * rows[0]["test_forces_mae_kcal_mol_A"]
    labelled = read(tmp_path / "al" / "round-1" / "labelled.extxyz", ":")
    assert all(np.isfinite(a.get_potential_energy()) for a in labelled)
    report = json.loads((tmp_path / "al" / "learn.json").read_text())
    assert len(report["rounds"]) == 2
    assert (tmp_path / "al" / "learn.csv").read_text().startswith("round,train_frames,added")
    assert (tmp_path / "al" / "learning.png").exists()
    # Run again: finished rounds are not redone.
    again = learn([initial], [test], tmp_path / "al", cfg, train_config=cfg_file, progress=False, log=None)
    assert again == rows


def test_sample_xtb_and_the_sample_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pytest.importorskip("tblite")
    from painnjax.active.sample import sample_xtb
    from painnjax.cli import main as cli_main
    from painnjax.io.modelfile import save_model

    n = sample_xtb(
        "SA1AM1", tmp_path / "x.extxyz", method="GFN1-xTB", temperature=300.0, steps=10, every=5, progress=False
    )
    frames = read(tmp_path / "x.extxyz", ":")
    assert n == 2 and [a.info["step"] for a in frames] == [5, 10] and frames[0].info["sampled_by"] == "GFN1-xTB"
    assert np.abs(frames[1].positions - frames[0].positions).max() > 1e-3  # the atoms moved
    model = save_model(Model.init(TINY, elements=[1, 7, 8, 16]), tmp_path / "tiny.painn")
    assert (
        cli_main(
            [
                "sample",
                str(model),
                "SA1AM1",
                "--T",
                "250",
                "--replicas",
                "2",
                "--steps",
                "20",
                "--every",
                "10",
                "--out",
                str(tmp_path / "p.extxyz"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "frames" in capsys.readouterr().out and len(read(tmp_path / "p.extxyz", ":")) >= 2
    assert cli_main(["sample", "SA1AM1", "--xtb", "GFN9-xTB", "--out", str(tmp_path / "q.extxyz")]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "learn",
                "--data",
                str(tmp_path / "x.extxyz"),
                "--test",
                str(tmp_path / "x.extxyz"),
                "--committee",
                "1",
                "--out",
                str(tmp_path / "al"),
            ]
        )
        == 2
    )
    assert "at least 2 models" in capsys.readouterr().err
