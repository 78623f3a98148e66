"""``benchmarks/acdb_delta_check.py`` reads ACDB's SA–W B97-3c files as ACDB means them: the binding
energies it computes from the totals of ``properties1SP.txt`` reproduce ``bindings1SP.txt``, a changed
binding stops the run naming the cluster, and the cross-validation folds split the clusters."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def check():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module("acdb_delta_check")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def folder(shared_data):
    path = shared_data / "acdb" / "kubecka24_SA-W_B97-3c"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def test_bindings_reproduce_acdb(check, folder):
    data = check.read_acdb(folder)
    names = data["names"]
    assert len(names) == 44 and {"1sa", "1w", "1sa15w", "4sa5w", "10w"} <= set(names)
    i = names.index("1sa2w")
    assert tuple(data["counts"][i]) == (1, 2) and len(data["atoms"][i]) == 13
    report = check.check_bindings(data, tolerance=1e-6)
    assert report["n_checked"] == 42 and report["max_abs_diff_kcal_mol"] < 1e-6
    # by hand, for two clusters: E(cluster) − n_SA E(1sa) − n_W E(1w) in kcal/mol, ACDB's sign (positive: unbound)
    e = dict(zip(names, data["energy_eh"]))
    for name, n_sa, n_w in (("1sa1w", 1, 1), ("10w", 0, 10)):
        ours = (e[name] - n_sa * e["1sa"] - n_w * e["1w"]) * check.KCAL_PER_EH_ACDB
        assert ours == pytest.approx(data["acdb_bindings_kcal"][name], abs=1e-6)
    assert data["acdb_bindings_kcal"]["1sa1w"] > 0 > data["acdb_bindings_kcal"]["10w"]


def test_a_changed_binding_stops_the_run(check, folder, tmp_path):
    for f in folder.iterdir():
        shutil.copy(f, tmp_path / f.name)
    path = tmp_path / "bindings1SP.txt"
    lines = path.read_text().splitlines()
    j = next(i for i, line in enumerate(lines) if line.split()[0] == "3sa2w")
    name, value = lines[j].split()
    lines[j] = f"{name} {float(value) + 1e-5!r}"
    path.write_text("\n".join(lines) + "\n")
    data = check.read_acdb(tmp_path)
    with pytest.raises(SystemExit, match="3sa2w"):
        check.check_bindings(data, tolerance=1e-6)
    assert check.check_bindings(data, tolerance=1e-4)["worst"] == "3sa2w"


def test_folds_split_the_clusters(check):
    a = check.folds(42, 5, seed=0)
    assert sorted(len(f) for f in a) == [8, 8, 8, 9, 9]
    assert np.array_equal(np.sort(np.concatenate(a)), np.arange(42))
    assert all(np.array_equal(x, y) for x, y in zip(a, check.folds(42, 5, seed=0)))
    assert not all(np.array_equal(x, y) for x, y in zip(a, check.folds(42, 5, seed=1)))
    assert [check.acdb_key(c) for c in ("SA1W3", "SA2W0", "SA0W10")] == ["1sa3w", "2sa", "10w"]
