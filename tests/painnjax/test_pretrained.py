"""The shipped pretrained model ``saam-gfn1``: loadable by name, its file's training record
reproduces on the data it reports, and it binds (SA)n(AM)n clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from painnjax import bundled_models, load_model

NAME = "saam-gfn1"
# The held-out test compositions of its training (issue 14): GFN1-xTB MD frames, never trained on.
TEST_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "n7-9" / "test_gfn1_300K.extxyz.gz"
TEST_COMPOSITIONS = ["SA8AM10", "SA9AM10", "SA9AM11", "SA10AM10"]


@pytest.fixture(scope="module")
def pretrained():
    return load_model(NAME)


@pytest.fixture(scope="module")
def pool(shared_data):
    from painnjax.data.dataset import read_dataset

    return read_dataset([shared_data / "saam_gfn1" / "train_pool_300K.extxyz"])


def test_loadable_by_name_with_its_training_record(pretrained):
    assert NAME in bundled_models()
    assert pretrained.n_parameters == 967_681  # the reference study's size
    assert pretrained.elements == (1, 7, 8, 16)
    ref = pretrained.metadata["energy_reference"]
    assert ref["kind"] == "total" and ref["trained_on"]["kind"] == "binding"
    record = pretrained.metadata["training"]
    assert sorted(record["test_compositions"]) == sorted(TEST_COMPOSITIONS)
    assert record["n_structures"]["train"] > 4000
    for part in ("valid", "test"):
        assert record[part]["energy_mae"] > 0 and record[part]["forces_mae"] > 0


def test_its_record_names_no_path_of_the_machine_that_trained_it(pretrained):
    """Data files and monomer files in the metadata are relative to the repository."""
    import json

    def strings(value):
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    found = strings(json.loads(json.dumps(pretrained.metadata)))
    assert any("train_pool_300K.extxyz" in s for s in found)
    assert not [s for s in found if s.startswith("/")]


def test_reported_test_errors_reproduce_on_the_held_out_clusters(pretrained):
    """The test MAE written into the model file is what the model gives on the held-out
    compositions' frames (total energies: same differences as binding energies)."""
    from painnjax.data.dataset import read_dataset
    from painnjax.training.evaluate import error_report

    held_out = read_dataset([TEST_SET])
    assert sorted(set(held_out.compositions)) == sorted(TEST_COMPOSITIONS)
    report = error_report(pretrained, held_out, batch_size=8)
    record = pretrained.metadata["training"]["test"]
    assert report["n_structures"] == record["n_structures"]
    assert report["energy_mae"] == pytest.approx(record["energy_mae"], rel=1e-3, abs=1e-3)
    assert report["forces_mae"] == pytest.approx(record["forces_mae"], rel=1e-3, abs=1e-4)


def test_calculator_by_name_binds_the_clusters(shared_data, pool):
    """PaiNNCalculator("saam-gfn1") gives total energies in eV. At the bundled B97-3c minima of
    SA1AM1, SA2AM2 and SA4AM4 the binding energy E - n E(SA) - n E(AM) must lie below the mean
    of the GFN1-xTB pool's 300 K frames of that composition (a minimum is lower than thermal
    frames) and at most 30 kcal/mol below the pool's lowest frame."""
    from ase import units

    from painnjax import PaiNNCalculator
    from painnjax.data import bundled_structure
    from painnjax.data.dataset import read_monomer_references, to_binding_energies

    data = shared_data / "saam_gfn1"
    binding_pool = to_binding_energies(pool, data / "monomers_gfn1.extxyz")
    kcal = units.kcal / units.mol
    monomers = read_monomer_references(data / "monomers_gfn1.extxyz")
    calc = PaiNNCalculator(NAME)
    for n in (1, 2, 4):
        ref = binding_pool.energy[np.asarray(binding_pool.compositions) == f"SA{n}AM{n}"] / kcal
        atoms = bundled_structure(f"SA{n}AM{n}")
        atoms.calc = calc
        binding = (atoms.get_potential_energy() - n * (monomers["SA"] + monomers["AM"])) / kcal
        assert ref.min() - 30.0 < binding < ref.mean(), (n, binding, ref.min(), ref.mean())
