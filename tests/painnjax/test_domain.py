"""A model's training domain (painnjax.data.domain): what the training frames covered, kept in the
model file, and the one warning per command where a model meets structures unlike them.

The structures are built from the registry's templates, so their molecule counts are known by
construction; the size limit is computed from the margin, not written down."""

from __future__ import annotations

import math
import warnings

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from conftest import perturbed_model, rattled_set

from painnjax import InputError, Model, PaiNNConfig, load_model, save_model
from painnjax.cli import main as cli_main
from painnjax.data.composition import composition_of
from painnjax.data.domain import (
    SIZE_MARGIN,
    Domain,
    DomainWarning,
    derived_domain,
    domain_from_frames,
    domain_of_dataset,
    model_domain,
    outside,
    reset_warnings,
    warn_outside,
)
from painnjax.data.molecules import MOLECULE_TYPES
from painnjax.data.splits import Split
from painnjax.io.modelfile import model_identity

TINY = PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4)


@pytest.fixture(autouse=True)
def _fresh_warnings():
    reset_warnings()  # each test sees its own first warning
    yield
    reset_warnings()


def cluster(*names: str, spacing: float = 3.5) -> Atoms:
    """Molecules of the registry's templates in a row, ``spacing`` Å apart (a free cluster)."""
    atoms = Atoms()
    for k, name in enumerate(names):
        m = MOLECULE_TYPES[name].atoms()
        m.positions += [spacing * k, 0.0, 0.0]
        atoms += m
    return atoms


SAAM = [cluster("SA", "AM"), cluster("SA", "AM", "SA", "AM"), cluster("AM"), cluster("SA")]


def saam_domain() -> Domain:
    return domain_from_frames(SAAM, level="GFN1-xTB", temperatures=[300.0, 450.0, None, float("nan")])


def test_domain_of_frames_counts_molecules_compositions_sizes_and_temperatures():
    d = saam_domain()
    assert d.elements == (1, 7, 8, 16)
    assert d.molecules == ("SA", "AM")
    assert dict(d.compositions) == {composition_of(a.numbers): 1 for a in SAAM}  # the data's names
    assert d.n_frames == 4 and d.n_atoms == (4, 22) and d.temperature == (300.0, 450.0)
    assert d.level == "GFN1-xTB" and d.derived is None
    assert Domain.from_json(d.to_json()) == d


def test_water_is_caught_though_its_element_is_known():
    """The shipped model's case: O is an element of SA, so only the molecule check sees water."""
    d = saam_domain()
    hydrated = cluster("SA", "AM", "W", "W")
    assert set(hydrated.numbers) <= set(d.elements)
    assert outside(d, hydrated) == ["molecule type W (water H2O) in SA1AM1W2"]
    assert outside(d, cluster("SA", "AM", "SA", "AM")) == []


def test_ions_elements_and_broken_molecules_are_named():
    d = saam_domain()
    # A lone bisulfate with ammonia: charged, no neutral split fits.
    assert outside(d, cluster("B", "AM")) == ["molecule type B (bisulfate HSO4-) in SA0B1AM1"]
    # An ion pair HSO4- + NH4+ has the atoms of SA + AM: the frames of an SA-AM MD hold it too.
    assert outside(d, cluster("B", "AH")) == []
    assert outside(d, Atoms("HCl", positions=[[0, 0, 0], [1.3, 0, 0]])) == ["element Cl"]
    broken = cluster("SA", "AM")[:-1]  # one atom short
    (line,) = outside(d, broken)
    assert line.startswith("atoms ") and "no sum of whole molecules" in line


def test_size_beyond_the_margin_is_outside_and_at_it_is_not():
    d = domain_from_frames([[1] * 20], level=None)  # 20 atoms, molecule types unknown (H atoms)
    assert d.molecules is None
    limit = math.floor(20 * (1 + SIZE_MARGIN))
    assert d.largest_allowed == limit
    assert outside(d, [1] * limit) == []
    (line,) = outside(d, [1] * (limit + 1))
    assert f"size {limit + 1} atoms > 20 trained" in line
    assert outside(d, [1] * 3) == []  # smaller than the smallest trained: not flagged


def test_temperature_is_checked_when_given():
    d = saam_domain()
    assert outside(d, SAAM[0], temperature=400.0) == []
    assert outside(d, SAAM[0], temperature=800.0) == ["temperature 800 K above the frames' 300-450 K"]


def test_merge_for_fine_tuning_is_the_union():
    new = domain_from_frames([cluster("SA", "W")], level="B97-3c", temperatures=[100.0])
    merged = new.merge(saam_domain())
    assert merged.molecules == ("SA", "AM", "W")
    assert merged.elements == (1, 7, 8, 16)
    assert dict(merged.compositions) == {**dict(saam_domain().compositions), "SA1AM0W1": 1}
    assert merged.n_frames == 5 and merged.n_atoms == (4, 22) and merged.temperature == (100.0, 450.0)
    assert merged.level == "B97-3c (fine-tuned from a GFN1-xTB model)"


def test_bad_records_are_refused_naming_the_field():
    record = saam_domain().to_json()
    with pytest.raises(InputError, match=r"m: domain.n_atoms is not readable"):
        Domain.from_json({**record, "n_atoms": [30, 4]}, where="m")
    with pytest.raises(InputError, match="unknown type"):
        Domain.from_json({**record, "molecules": ["SA", "DMA"]}, where="m")
    with pytest.raises(InputError, match="unknown field"):
        Domain.from_json({**record, "colour": 1}, where="m")


def test_old_files_get_a_derived_domain_or_none():
    old = {
        "elements": [1, 7, 8, 16],
        "energy_reference": {"kind": "total", "trained_on": {"kind": "binding", "monomers": {"SA": -1, "AM": -2}}},
        "training": {"n_structures": {"train": 90, "valid": 10, "test": 7}},
    }
    d = derived_domain(old)
    assert d.molecules == ("SA", "AM") and d.n_atoms is None and d.compositions is None and d.n_frames == 100
    assert "derived" in d.derived
    assert outside(d, cluster("SA", "W")) == ["molecule type W (water H2O) in SA1AM0W1"]
    assert outside(d, [1, 1, 8] * 500) == ["molecule type W (water H2O) in SA0AM0W500"]  # sizes unknown: no size line
    assert derived_domain({"elements": [1, 8], "energy_reference": {"kind": "total"}}) is None


def test_warns_once_per_model_and_item_and_once_for_an_unknown_domain():
    model = Model(TINY, {}, {"name": "tiny", "domain": saam_domain().to_json()})  # only the metadata are read
    with pytest.warns(DomainWarning) as caught:
        said = warn_outside(model, [cluster("SA", "W"), cluster("SA", "AM", "W")])
        again = warn_outside(model, cluster("AM", "W"))
    assert len(said) == 1 and again == []
    assert [str(w.message) for w in caught] == [
        "model tiny was not trained on: molecule type W (water H2O) in SA1AM0W1: results may be far off"
    ]
    unknown = Model(TINY, {}, {"elements": [1, 7, 8, 16]})  # no training record, no domain
    with pytest.warns(DomainWarning, match="records no training domain") as caught:
        warn_outside(unknown, SAAM)
        warn_outside(unknown, SAAM)
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", DomainWarning)
        assert warn_outside(model, SAAM) == []  # inside: silent


def test_the_identity_leaves_the_domain_out(tmp_path):
    model = perturbed_model(TINY, seed=0)
    before = model_identity(model)
    model.metadata["domain"] = saam_domain().to_json()
    assert model_identity(model) == before
    path = save_model(model, tmp_path / "m.painn")
    assert model_domain(load_model(path)) == saam_domain()  # kept in the checksummed header


def test_the_shipped_model_knows_water_is_outside():
    model = load_model("saam-gfn1")
    d = model_domain(model)
    assert d.derived is None and d.level == "GFN1-xTB"
    assert d.elements == (1, 7, 8, 16) and d.molecules == ("SA", "AM")
    assert d.n_atoms[1] == 132 and d.n_frames == sum(n for _, n in d.compositions)
    assert not set(dict(d.compositions)) & set(model.metadata["training"]["test_compositions"])
    with pytest.warns(DomainWarning, match=r"saam-gfn1 was not trained on: molecule type W \(water H2O\) in SA2AM2W2"):
        warn_outside(model, cluster("SA", "AM", "SA", "AM", "W", "W"))


# ---------------------------------------------------------------- training records it


@pytest.mark.slow
def test_training_writes_the_domain_of_its_training_and_validation_frames(sa1am1, sa2am2, tmp_path):
    from painnjax.training.config import TrainConfig
    from painnjax.training.fit import train

    ds = rattled_set(sa1am1, sa2am2, seed=1)
    split = Split(train=np.arange(3), valid=np.arange(3, 5), test=np.array([5]), seed=0, rule="test")
    cfg = TrainConfig(epochs=1, batch_size=4, max_buckets=1)
    out = train(ds, split, tmp_path / "run", TINY, cfg, progress=False)
    expected = domain_of_dataset(ds, [0, 1, 2, 3, 4])  # not the test frame
    assert dict(expected.compositions) == {"SA1AM1": 3, "SA2AM2": 2}
    assert model_domain(out) == expected
    assert model_domain(load_model(tmp_path / "run" / "best.painn")) == expected


def test_fine_tuning_merges_the_start_models_domain(sa1am1, sa2am2, tmp_path):
    from painnjax.training.outputs import training_domain

    ds = rattled_set(sa1am1, sa2am2, seed=1)
    split = Split(train=np.arange(3), valid=np.arange(3, 5), test=np.array([5]), seed=0, rule="test")
    start = perturbed_model(TINY, seed=2)
    start.metadata["domain"] = domain_from_frames([cluster("SA", "W")], level="GFN1-xTB").to_json()
    d = Domain.from_json(training_domain(ds, split, save_model(start, tmp_path / "start.painn")))
    assert d == domain_of_dataset(ds, range(5)).merge(model_domain(start))
    assert d.molecules == ("SA", "AM", "W") and d.n_frames == 6 and dict(d.compositions)["SA1AM0W1"] == 1
    unknown = perturbed_model(TINY, seed=3)  # a start model without a domain: said so
    d = Domain.from_json(training_domain(ds, split, unknown))
    assert d.molecules == ("SA", "AM") and "domain is unknown" in d.derived


# ---------------------------------------------------------------- commands


@pytest.fixture
def tiny_file(tmp_path):
    """A small model file whose domain is SA-AM clusters of up to 22 atoms."""
    model = perturbed_model(TINY, seed=0)
    model.metadata.update(name="tiny-saam", domain=saam_domain().to_json())
    return save_model(model, tmp_path / "tiny.painn")


def test_info_prints_the_domain(tiny_file, capsys):
    assert cli_main(["info", str(tiny_file)]) == 0
    out = capsys.readouterr().out
    assert "molecule types: SA (sulfuric acid H2SO4), AM (ammonia NH3)" in out
    assert f"sizes: 4-22 atoms (warned above {math.floor(22 * (1 + SIZE_MARGIN))}" in out
    assert "level of theory: GFN1-xTB" in out


@pytest.mark.slow
def test_optimize_warns_about_water_and_goes_on(tiny_file, tmp_path):
    hydrated = tmp_path / "hydrated.xyz"
    ase.io.write(hydrated, cluster("SA", "AM", "W"))
    with pytest.warns(DomainWarning, match=r"tiny-saam was not trained on: molecule type W"):
        rc = cli_main(["optimize", str(tiny_file), str(hydrated), "--fmax", "100", "--out", str(tmp_path / "o.xyz")])
    assert rc == 0 and (tmp_path / "o.xyz").is_file()  # gone on


def test_evaluate_warns_once_per_item_over_many_frames(tiny_file, tmp_path):
    rng = np.random.default_rng(0)
    frames = [cluster("SA", "AM", "W"), cluster("SA", "W", "W"), *[cluster(*["SA", "AM"] * 3)] * 2]
    for a in frames:
        a.calc = SinglePointCalculator(a, energy=-float(len(a)), forces=rng.normal(0, 0.1, (len(a), 3)))
    data = tmp_path / "data.extxyz"
    ase.io.write(data, frames)
    with pytest.warns(DomainWarning) as caught:
        assert cli_main(["evaluate", str(tiny_file), str(data)]) == 0
    lines = sorted(str(w.message) for w in caught if issubclass(w.category, DomainWarning))
    assert len(lines) == 2  # water once (two compositions hold it), the 33-atom size once
    assert "molecule type W (water H2O) in SA1AM1W1" in lines[0]
    assert "size 33 atoms > 22 trained" in lines[1]


def test_a_fine_tuning_on_old_and_new_frames_does_not_count_the_old_twice():
    """Fine-tuned on its start model's frames plus new ones, a model has seen each old frame once: the
    merged domain counts the larger of the two per composition; on new frames only, their sum."""
    from painnjax.data.domain import Domain

    start = Domain(elements=(1, 7, 8, 16), compositions=(("SA1AM1", 600),), n_frames=600, level="GFN1-xTB")
    new = Domain(elements=(1, 8, 16), compositions=(("SA1AM1", 600), ("SA1AM0W1", 244)), n_frames=844, level="GFN1-xTB")
    both = new.merge(start, includes_start=True)
    assert dict(both.compositions) == {"SA1AM1": 600, "SA1AM0W1": 244} and both.n_frames == 844
    apart = new.merge(start)
    assert dict(apart.compositions) == {"SA1AM1": 1200, "SA1AM0W1": 244} and apart.n_frames == 1444
    assert both.elements == (1, 7, 8, 16)
