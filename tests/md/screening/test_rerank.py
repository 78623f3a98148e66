"""``painnjax screen --rerank-with MODEL`` (md.screening.rerank): the kept minima re-ranked by a kernel
or PaiNN model, the model checked before any structure is minimised.

The references are computed here independently: the kernel model's own prediction on the kept minima
plus a tblite GFN1-xTB single point less the model's low-level monomer energies (Δ), or the model's
prediction alone (direct).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from ase.io import read

from md.screening.rerank import load_reranker, rerank_energies
from painnjax.cli import main as cli_main
from painnjax.data.composition import MOLECULES, molecule_counts
from painnjax.kernels.config import KernelDataConfig, KernelModelConfig
from painnjax.kernels.files import save_kernel_model
from painnjax.kernels.targets import read_targets
from painnjax.kernels.workflow import fit_kernel_model, target_metadata
from painnjax.units import EV_TO_KCAL_PER_MOL

pytest.importorskip("qmllib")
tblite_ase = pytest.importorskip("tblite.ase")

DELTA = KernelDataConfig(
    energy_key="gfn2_energy", monomers="gfn2-monomers", delta_low_key="energy", low_monomers="gfn1-monomers"
)
DIRECT = KernelDataConfig(energy_key="gfn2_energy", monomers="gfn2-monomers")


def kernel_model(path, frames, data, **model):
    """A kernel model fitted on ``frames`` with the targets of ``data``, saved to ``path``."""
    meta = target_metadata(data)
    ds = read_targets([frames], data, meta["monomers"], meta["low_monomers"] or None)
    fitted, _ = fit_kernel_model(ds, KernelModelConfig(**model))
    fitted.metadata = {"target": meta}
    return save_kernel_model(fitted, path)


@pytest.fixture(scope="module")
def krr_delta(saw_small, tmp_path_factory):
    return kernel_model(tmp_path_factory.mktemp("krr") / "krr.painn", saw_small, DELTA, kind="krr")


def screen_args(out, *extra):
    return [
        "screen",
        "saam-gfn1",
        "--composition",
        "SA1W1",
        "--n",
        "2",
        "--keep",
        "2",
        "--refine-rounds",
        "0",
        "--fmax",
        "0.05",
        "--steps",
        "1500",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


@pytest.mark.slow
def test_reranked_energies_are_the_delta_models_on_the_kept_minima(tmp_path, krr_delta, capsys):
    out = tmp_path / "scr"
    assert cli_main(screen_args(out, "--rerank-with", str(krr_delta))) == 0
    assert "re-ranked with KRR on FCHL19" in capsys.readouterr().out
    best = read(out / "best.extxyz", ":")
    rows = list(csv.DictReader((out / "reranked.csv").open()))
    assert len(rows) == len(best) >= 1
    # the reference: the model's ΔΔE plus GFN1-xTB's binding energy, computed here
    model = load_reranker(krr_delta).model
    low_monomers = model.metadata["target"]["low_monomers"]
    correction, _ = model.predict([a.numbers for a in best], [a.positions for a in best])
    expected = {}
    for a, dd in zip(best, correction):
        a.calc = tblite_ase.TBLite(method="GFN1-xTB", verbosity=0)
        counts = molecule_counts(a.numbers, MOLECULES)
        low_binding = a.get_potential_energy() - sum(c * low_monomers[m] for m, c in counts.items() if c)
        expected[a.info["rank"]] = low_binding + dd
    got = {int(r["screen_rank"]): float(r["reranked_energy_eV"]) for r in rows}
    assert set(got) == set(expected)
    for rank, e in expected.items():
        assert got[rank] == pytest.approx(e, abs=2e-6)  # the CSV's 6 decimals
    # ordered by the new energy, relative to its lowest; the screen's ranking beside it
    new = [float(r["reranked_energy_eV"]) for r in rows]
    assert new == sorted(new) and float(rows[0]["reranked_relative_kcal_mol"]) == 0.0
    rel = (np.array(new) - new[0]) * EV_TO_KCAL_PER_MOL
    np.testing.assert_allclose([float(r["reranked_relative_kcal_mol"]) for r in rows], rel, atol=1e-3)
    assert all(r["spread_kcal_mol"] == "" for r in rows)  # KRR has no spread


def test_direct_knn_gives_its_prediction_and_spread(saw_small, tmp_path):
    frames = read(saw_small, ":")
    path = kernel_model(tmp_path / "knn.painn", saw_small, DIRECT, kind="knn", metric="euclidean", k=3)
    reranker = load_reranker(path)
    assert not reranker.delta and reranker.quantity == "binding energy"
    some = [frames[i] for i in (0, 7, 20)]
    res = rerank_energies(reranker, some)
    pred, spread = reranker.model.predict([a.numbers for a in some], [a.positions for a in some])
    np.testing.assert_array_equal(res.energy, pred)
    np.testing.assert_array_equal(res.spread, spread)
    assert (spread > 0).all() and np.isnan(res.low).all()


def test_a_bad_rerank_model_is_refused_before_any_minimisation(tmp_path, krr_delta, capsys):
    missing = tmp_path / "none.painn"
    assert cli_main(screen_args(tmp_path / "a", "--rerank-with", str(missing))) == 2
    assert str(missing) in capsys.readouterr().err and not (tmp_path / "a" / "best.extxyz").exists()
    damaged = tmp_path / "damaged.painn"
    damaged.write_bytes(krr_delta.read_bytes()[:-100])
    assert cli_main(screen_args(tmp_path / "b", "--rerank-with", str(damaged))) == 2
    assert "damaged" in capsys.readouterr().err and not (tmp_path / "b" / "best.extxyz").exists()
    # a model of SA–W clusters cannot rank SA–AM ones: ammonia is neither its element nor its monomer
    args = screen_args(tmp_path / "c", "--rerank-with", str(krr_delta))
    args[args.index("SA1W1")] = "SA1AM1"
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "--rerank-with" in err and "[7]" in err and not (tmp_path / "c" / "best.extxyz").exists()
    assert cli_main(screen_args(tmp_path / "d", "--rerank-low-method", "GFN2-xTB")) == 2
    assert "--rerank-with" in capsys.readouterr().err


@pytest.mark.slow
def test_painn_delta_model_adds_tblite_and_its_offsets(saw_small, tmp_path):
    """A PaiNN trained on E(GFN2) − E(GFN1) less element offsets: E = GFN1 + network + Σ offsets."""
    from conftest import perturbed_model

    from md.forces.build import build_potential, precision
    from painnjax.io.modelfile import save_model

    model = perturbed_model()
    offsets = {1: -0.01, 7: 0.0, 8: 0.02, 16: 0.05}
    model.metadata["energy_reference"] = {
        "kind": "element_offsets",
        "atomref": offsets,
        "delta": {"high": "gfn2_energy", "low": "energy"},
    }
    path = save_model(model, tmp_path / "delta.painn")
    reranker = load_reranker(path)
    assert reranker.delta and reranker.low_method == "GFN1-xTB"
    frames = [a for a in read(saw_small, ":") if a.info["composition"] == "SA1AM0W1"][:1]  # 10 atoms: one compile
    assert frames
    res = rerank_energies(reranker, frames)
    for a, e, low in zip(frames, res.energy, res.low):
        with precision("float64"):
            nn = float(build_potential(model, a, "float64")(a.positions))
        b = a.copy()
        b.calc = tblite_ase.TBLite(method="GFN1-xTB", verbosity=0)
        assert low == pytest.approx(b.get_potential_energy(), abs=1e-8)
        assert e == pytest.approx(low + nn + sum(offsets[int(z)] for z in a.numbers), abs=1e-8)
