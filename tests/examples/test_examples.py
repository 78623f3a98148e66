"""The examples run: the README's training config, the SA7AM7 MD script and the three hand-written
examples (training step, jax-md driver, vmap screening), all on tiny settings."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from painnjax import Model, PaiNNConfig, save_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_small_config_trains_on_the_bundled_set(tmp_path):
    """examples/train_small.toml as the README runs it, for one epoch (in one size bucket: a
    quarter of the compiles; the layouts themselves are tested in tests/painnjax/training)."""
    from painnjax.training.workflow import train_from_files

    train_from_files(
        ["saam-gfn1-small"],
        EXAMPLES / "train_small.toml",
        tmp_path / "run",
        overrides={"train": {"epochs": 1, "max_buckets": 1}},
        progress=False,
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_done"] == 1
    assert summary["best_model_test"]["n_structures"] == 60  # SA4AM4 held out
    assert set(summary["best_model_test"]["per_composition"]) == {"SA4AM4"}
    assert summary["best_model_test"]["per_composition"]["SA4AM4"]["n_atoms"] == 44
    assert (tmp_path / "run" / "by_size.png").stat().st_size > 10_000  # error per composition vs atoms


def test_md_example_runs_and_plots(tmp_path):
    model = Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), seed=0, elements=[1, 7, 8, 16])
    path = save_model(model, tmp_path / "tiny.painn")
    out = tmp_path / "md"
    code = _load("md_sa7am7").main(["--model", str(path), "--ps", "0.01", "--dt", "0.5", "--out", str(out)])
    assert code == 0
    assert (out / "sa7am7_epot_T.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps_done"] == 20 or summary["stop_reason"].startswith("safety")


# The three hand-written examples, run in this process on tiny sizes (a small model for training
# and MD, four candidates for screening), each well under 30 s of CPU on a 2-core machine.


def test_train_by_hand_lowers_the_loss_and_saves_a_total_energy_model(tmp_path):
    from painnjax import load_model, potential, read_dataset

    out = tmp_path / "by-hand.painn"
    result = _load("train_by_hand").main(
        ["--tiny", "--epochs", "6", "--n-structures", "32", "--buckets", "1", "--out", str(out)]
    )
    history = result["history"]
    assert len(history) == 6
    losses = [h["train"]["loss"] for h in history]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses
    assert all(np.isfinite(h["valid"]["energy_mae"]) and h["valid"]["forces_mae"] > 0 for h in history)
    # The saved model predicts total energies (the binding reference folded into atomref):
    # without the folding it would be off by the monomers' energies, ~770 eV per SA1AM1.
    model = load_model(out)
    ds = read_dataset("saam-gfn1-small")
    i = ds.compositions.index("SA2AM2")
    e = float(jax.jit(potential(model, ds.numbers[i]))(ds.positions[i]))  # jit: one compile, not op by op
    assert abs(e - ds.energy[i]) < 5.0, (e, ds.energy[i])


def test_jaxmd_driver_keeps_temperature_finite_and_conserves_the_nose_hoover_energy():
    # skin 0 and a list sized exactly to the start: the list overflows within the first
    # chunk, so the reallocate-and-repeat path runs too.
    result = _load("jaxmd_driver").main(
        ["--tiny", "--steps", "200", "--chunk", "50", "--skin", "0", "--capacity-multiplier", "1.0"]
    )
    rows = result["rows"]
    assert [r["step"] for r in rows] == [0, 50, 100, 150, 200]
    T = np.array([r["T"] for r in rows])
    assert np.all(np.isfinite(T)) and np.all(T > 0) and np.all(T < 3000), T
    assert result["reallocations"] >= 1
    conserved = np.array([r["conserved"] for r in rows])
    assert np.all(np.isfinite(conserved))
    # Nosé-Hoover's conserved quantity drifts by ~1e-4 eV here; a wrong force or time unit by far more.
    assert np.max(np.abs(conserved - conserved[0])) < 0.02, conserved - conserved[0]
    assert np.all(np.isfinite(result["positions"]))


def test_vmap_screening_ranks_minimised_candidates(tmp_path):
    """With the shipped model (a random tiny model has no minima to find): 100 FIRE steps of
    four SA2AM2 candidates lower every energy and the forces, and the minima come out ranked."""
    from ase.io import read

    out = tmp_path / "minima.extxyz"
    result = _load("vmap_screening").main(["--n", "4", "--steps", "100", "--out", str(out)])
    E, E0 = result["energy"], result["energy_start"]
    assert len(E) == 4 and np.all(np.isfinite(E))
    assert np.all(np.diff(E) >= 0)  # ranked, lowest first
    assert np.all(E < E0)  # every candidate went downhill
    assert np.mean(result["fmax"]) < 0.5 * np.mean(result["fmax_start"])
    frames = read(out, index=":")
    assert len(frames) == 4
    assert [f.info["energy_eV"] for f in frames] == pytest.approx(list(E), abs=1e-4)
