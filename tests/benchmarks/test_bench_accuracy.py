"""The equal-budget comparison (``benchmarks/bench_accuracy.py``) compares like with like: in
float64, from the same carried weights, painnjax's training loop and the benchmark's SchNetPack
loop (torch AdamW, SchNetPack's model and forces) follow the same trajectory, epoch by epoch.
What remains between the two codes at the benchmark's float32 is then rounding, amplified by
training, not a difference in loss, gradient, optimiser or batches."""

from __future__ import annotations

import importlib
import sys
from argparse import Namespace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.schnetpack


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        module = importlib.import_module("bench_accuracy")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    torch, spk = module.import_schnetpack()
    if torch is None:
        pytest.skip(f"SchNetPack is not installed ({spk})")
    return module, torch, spk


def test_two_epochs_equal_schnetpacks_in_float64(bench, shared_data, tmp_path, x64):
    import numpy as np

    import painnjax

    module, torch, spk = bench
    data = shared_data / "saam_gfn1"
    pool = painnjax.to_binding_energies(
        painnjax.read_dataset(data / "train_pool_300K.extxyz"), data / "monomers_gfn1.extxyz"
    )
    pool = pool.subset(np.isin(np.asarray(pool.compositions), ["SA1AM1", "SA2AM2"]))
    ds, split = module.make_split(pool, 10, "SA2AM2", 2, 0.2, seed=3)
    assert len(split.train) == 8 and len(split.valid) == 2 and len(split.test) == 2
    nnp = module.build_schnetpack(torch, spk, 16, 2, 8, 5.0, seed=3).double()
    model = painnjax.from_schnetpack(nnp, energy_unit="eV")
    args = Namespace(lr=1e-3, batch_size=2, epochs=2)

    pj = module.painnjax_run(model, ds, split, args, 3, tmp_path / "pj", dtype="float64")
    sp = module.SpkTraining(torch, spk, nnp, ds, split, 2, 1e-3, 3, 5.0, dtype=torch.float64).run(2)

    for a, b in zip(pj["curve"], sp["curve"], strict=True):
        for key in ("energy_mae", "forces_mae"):
            assert a[key] == pytest.approx(b[key], rel=1e-7), key
    # training moved the model: the two epochs' errors differ
    assert pj["curve"][0]["forces_mae"] != pytest.approx(pj["curve"][1]["forces_mae"], rel=1e-3)
    # The final reports: painnjax evaluates its saved best model in float32 (the test report of
    # every run), so these agree to float32's resolution of ~1e3 kcal/mol totals, not to 1e-7.
    assert pj["best_epoch"] == sp["best_epoch"]
    for part in ("valid", "test"):
        for key in ("energy_mae", "forces_mae"):
            assert pj[part][key] == pytest.approx(sp[part][key], rel=1e-4), (part, key)
