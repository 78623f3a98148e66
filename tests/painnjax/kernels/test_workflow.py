"""Targets (direct and Δ binding energies), files (round trip, damaged files refused) and the CLI end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("qmllib")
pytest.importorskip("sklearn")


from painnjax.cli import main as cli_main  # noqa: E402
from painnjax.data.dataset import read_monomer_references  # noqa: E402
from painnjax.errors import ModelFileError  # noqa: E402
from painnjax.kernels.config import KernelDataConfig, KernelModelConfig  # noqa: E402
from painnjax.kernels.files import load_kernel_model, save_kernel_model  # noqa: E402
from painnjax.kernels.targets import read_targets  # noqa: E402
from painnjax.kernels.workflow import fit_kernel_model, target_metadata  # noqa: E402

DELTA = KernelDataConfig(
    energy_key="gfn2_energy",
    monomers="gfn2-monomers",
    delta_low_key="energy",
    low_monomers="gfn1-monomers",
)


def _by_hand(path, key_high: str | None, monomers: dict) -> np.ndarray:
    """Binding energies read with ASE alone: E − n_SA E(SA) − n_W E(W) (eV)."""
    from ase.io import read

    out = []
    for atoms in read(path, ":"):
        E = atoms.info[key_high] if key_high else atoms.get_potential_energy()
        n_sa = int((atoms.numbers == 16).sum())
        n_w = (int((atoms.numbers == 8).sum()) - 4 * n_sa) // 1
        out.append(E - n_sa * monomers["SA"] - n_w * monomers["W"])
    return np.array(out)


def test_delta_targets_are_gfn2_minus_gfn1_binding_energies(saw_small):
    m2, m1 = read_monomer_references("gfn2-monomers"), read_monomer_references("gfn1-monomers")
    ds = read_targets(saw_small, DELTA, m2, m1)
    high, low = _by_hand(saw_small, "gfn2_energy", m2), _by_hand(saw_small, None, m1)
    np.testing.assert_allclose(ds.energy, high - low, rtol=0, atol=1e-9)
    assert ds.reference["delta"] == {"high": "gfn2_energy", "low": "energy"}
    direct = read_targets(saw_small, KernelDataConfig(monomers="gfn1-monomers"), m1, None)
    np.testing.assert_allclose(direct.energy, low, rtol=0, atol=1e-9)
    # tblite gives the same low level as the frames' GFN1-xTB labels (2 structures: a few seconds)
    pytest.importorskip("tblite")
    few = saw_small.parent / "few.extxyz"
    from ase.io import read, write

    write(few, read(saw_small, "0:2"), format="extxyz")
    np.testing.assert_allclose(read_targets(few, DELTA, m2, m1, low="tblite").energy, ds.energy[:2], atol=1e-6)


@pytest.mark.parametrize("kind, metric", [("krr", ""), ("knn", "mlkr"), ("knn", "kernel")])
def test_save_load_gives_the_same_predictions(saw_dataset, tmp_path, kind, metric):
    knn = {"metric": metric, "mlkr_components": 4, "mlkr_max_iter": 5} if metric else {}
    config = KernelModelConfig(kind=kind, **knn)
    train, test = saw_dataset.subset(np.arange(0, 30)), saw_dataset.subset(np.arange(30, 43))
    model, _ = fit_kernel_model(train.with_energy(train.energy - train.energy.mean(), train.reference), config)
    model.metadata = {"target": target_metadata(DELTA)}
    path = save_kernel_model(model, tmp_path / "m.painn")
    back = load_kernel_model(path)
    assert back.config == model.config and back.metadata == model.metadata
    a, b = model.predict(test.numbers, test.positions), back.predict(test.numbers, test.positions)
    np.testing.assert_array_equal(a[0], b[0])


def test_damaged_kernel_file_is_refused(saw_dataset, tmp_path, saw_small, capsys):
    model, _ = fit_kernel_model(saw_dataset.subset(np.arange(10)), KernelModelConfig(kind="krr"))
    path = save_kernel_model(model, tmp_path / "m.painn")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit of the arrays
    bad = tmp_path / "bad.painn"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="altered or damaged"):
        load_kernel_model(bad)
    assert cli_main(["evaluate", str(bad), str(saw_small)]) == 2
    err = capsys.readouterr().err
    assert "bad.painn: altered or damaged: checksum mismatch" in err and len(err.strip().splitlines()) == 1
    short = tmp_path / "short.painn"
    short.write_bytes(bytes(raw[: len(raw) // 3]))
    with pytest.raises(ModelFileError, match="short.painn: altered or damaged"):
        load_kernel_model(short)


@pytest.mark.slow
def test_train_config_krr_end_to_end(saw_small, tmp_path, capsys):
    config = tmp_path / "krr.toml"
    config.write_text(
        '[model]\nkind = "krr"\nsigma = 2.0\n'
        '[data]\nenergy_key = "gfn2_energy"\nmonomers = "gfn2-monomers"\ndelta_low_key = "energy"\n'
        'low_monomers = "gfn1-monomers"\n'
        '[split]\ntest_compositions = ["SA4AM0W5"]\nvalid_fraction = 0.1\n'
    )
    out = tmp_path / "run"
    assert cli_main(["train", "--config", str(config), "--data", str(saw_small), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["n"] == 2 and summary["n_train"] + summary["valid"]["n"] == 41
    capsys.readouterr()
    report = tmp_path / "eval.json"
    assert cli_main(["evaluate", str(out / "model.painn"), str(saw_small), "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "kcal/mol" in printed and "KRR on FCHL19" in printed
    # the training structures come back almost exactly (λ = 1e-8); the errors are kcal/mol
    result = json.loads(report.read_text())
    assert result["n"] == 43 and result["per_composition_mae_kcal_mol"]["SA4AM0W5"] == pytest.approx(
        summary["test"]["mae_kcal_mol"], rel=1e-9
    )
    args = ["train", "--config", str(config), "--data", str(saw_small), "--out", str(out)]
    assert cli_main([*args, "--epochs", "3"]) == 2
    assert "--epochs" in capsys.readouterr().err


def test_read_dataset_delta_against_the_calculators_labels(saw_small):
    from ase.io import read

    from painnjax.data.dataset import read_dataset

    ds = read_dataset(saw_small, energy_key="gfn2_energy", forces_key="gfn2_forces", delta_low_key="energy")
    frames = read(saw_small, ":")
    np.testing.assert_allclose(ds.energy, [a.info["gfn2_energy"] - a.get_potential_energy() for a in frames])
    np.testing.assert_allclose(ds.forces[3], frames[3].arrays["gfn2_forces"] - frames[3].get_forces())
