"""JKQC databases in: JKQC-shaped DataFrames (built here with pandas) as extxyz in eV and eV/Å,
read with an unpickler that refuses anything but the classes such a DataFrame needs."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
from ase import units
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms
from ase.io import read

from painnjax.cli import main as cli_main
from painnjax.errors import InputError
from painnjax.interfaces.jkqc import convert_jkqc, load_jkqc

pd = pytest.importorskip("pandas", reason="pandas is not installed (painnjax[jkqc])")

HARTREE_PER_ANGSTROM = units.Hartree  # JKQC's forces: Hartree/Å


def _database(tmp_path, forces=True, name="db.pkl"):
    """Three rows as JKQC writes them: water, ammonia (a constraint and a calculator on its
    Atoms, as ase.io.read can leave them) and a failed calculation (no energy, no forces)."""
    water, ammonia, failed = molecule("H2O"), molecule("NH3"), molecule("CH4")
    ammonia.set_constraint(FixAtoms([0]))
    ammonia.calc = SinglePointCalculator(ammonia, energy=-1.0)
    rng = np.random.default_rng(0)
    f_water, f_ammonia = rng.normal(size=(3, 3)) * 0.01, rng.normal(size=(4, 3)) * 0.01
    data = {
        ("info", "folder_path"): ["/calc/", "/calc/", "/calc/"],
        ("info", "file_basename"): ["1w", "1am", "1m"],
        ("xyz", "structure"): [water, ammonia, failed],
        ("log", "program"): ["G16_C.01"] * 3,
        ("log", "method"): ["#_wb97xd/6-31++g(d,p)_opt_freq"] * 3,
        ("log", "charge"): [0, 0, float("nan")],
        ("log", "multiplicity"): [1, 1, float("nan")],
        ("log", "electronic_energy"): [-76.40, -56.55, float("nan")],
    }
    if forces:
        data[("extra", "forces")] = [list(f_water), list(f_ammonia), float("nan")]
    df = pd.DataFrame(data, index=range(3))
    path = tmp_path / name
    df.to_pickle(path)
    return path, df, (f_water, f_ammonia)


def test_energies_and_forces_in_ev(tmp_path):
    path, df, (f_water, f_ammonia) = _database(tmp_path)
    out = tmp_path / "out.extxyz"
    report = convert_jkqc(path, out)
    assert (report.n_rows, report.written, report.with_forces) == (3, 2, 2)
    assert report.skipped == [(2, "1m", "no energy")] and "1m (no energy)" in report.summary()
    water, ammonia = read(out, ":")  # (forces to 1e-7 below: extxyz keeps 8 decimals)
    assert water.get_potential_energy() == pytest.approx(-76.40 * units.Hartree, rel=1e-12)
    np.testing.assert_allclose(water.get_forces(), f_water * HARTREE_PER_ANGSTROM, atol=1e-7)
    np.testing.assert_allclose(
        ammonia.get_forces(), f_ammonia * HARTREE_PER_ANGSTROM, atol=1e-7
    )  # extxyz keeps 8 decimals
    np.testing.assert_allclose(ammonia.positions, molecule("NH3").positions, atol=1e-8)
    assert water.info["name"] == "1w" and ammonia.info["name"] == "1am"
    assert water.info["level"] == "#_wb97xd/6-31++g(d,p)_opt_freq" and water.info["program"] == "G16_C.01"
    assert (water.info["charge"], water.info["multiplicity"], ammonia.info["jkqc_row"]) == (0, 1, 1)
    assert "folder_path" not in water.info  # a path of the machine that made it

    bohr = convert_jkqc(path, tmp_path / "b.extxyz", forces_unit="Hartree/Bohr", level="ωB97X-D/6-31++G(d,p)")
    assert bohr.written == 2
    got = read(tmp_path / "b.extxyz", index=0)
    np.testing.assert_allclose(
        got.get_forces(), f_water * units.Hartree / units.Bohr, atol=1e-7
    )  # extxyz keeps 8 decimals
    assert got.info["level"] == "ωB97X-D/6-31++G(d,p)"


def test_energies_only_compressed_and_trusted(tmp_path):
    path, df, _ = _database(tmp_path, forces=False)
    packed = tmp_path / "db.pkl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    for i, (p, trust) in enumerate(((path, False), (packed, False), (path, True))):
        out = tmp_path / f"e{i}.extxyz"
        report = convert_jkqc(p, out, trust_pickle=trust)
        assert (report.written, report.with_forces) == (2, 0) and "energies only" in report.summary()
        frames = read(out, ":")
        assert [a.get_potential_energy() for a in frames] == pytest.approx(np.array([-76.40, -56.55]) * units.Hartree)
        assert all("forces" not in a.calc.results for a in frames)
    pd.testing.assert_frame_equal(load_jkqc(path), df)


def test_bad_rows_and_columns_are_named(tmp_path):
    path, df, _ = _database(tmp_path)
    forces = list(df[("extra", "forces")])
    forces[1] = [np.zeros(3)] * 3  # 3 vectors for 4 atoms
    df[("extra", "forces")] = pd.Series(forces, index=df.index, dtype=object)
    df.to_pickle(path)
    with pytest.raises(InputError, match=r"db.pkl, row 1 \(1am\): forces of shape \(3, 3\), the structure has 4"):
        convert_jkqc(path, tmp_path / "o.extxyz")
    with pytest.raises(InputError, match="no column out:electronic_energy"):
        convert_jkqc(path, tmp_path / "o.extxyz", energy_column="out:electronic_energy")
    with pytest.raises(InputError, match="unknown forces_unit 'Hartree/furlong'"):
        convert_jkqc(path, tmp_path / "o.extxyz", forces_unit="Hartree/furlong")
    empty = df.copy()
    empty[("log", "electronic_energy")] = float("nan")
    empty.to_pickle(path)
    with pytest.raises(InputError, match="none of its 3 rows has a structure and an energy"):
        convert_jkqc(path, tmp_path / "o.extxyz")
    assert not (tmp_path / "o.extxyz").exists()


class _Payload:
    """What a crafted pickle does: call os.system when it is read."""

    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_crafted_pickle_is_refused_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path, df, _ = _database(tmp_path)
    df[("info", "note")] = [_Payload(), "x", "y"]
    crafted = tmp_path / "crafted.pkl"
    crafted.write_bytes(pickle.dumps(df))
    posix_system = f"{os.system.__module__}.system"  # posix.system on Linux
    with pytest.raises(InputError, match=rf"crafted.pkl: not loaded: the file names {posix_system}, .*--trust-pickle"):
        load_jkqc(crafted)
    out = tmp_path / "o.extxyz"
    assert cli_main(["convert-jkqc", str(crafted), str(out)]) == 2
    assert f"the file names {posix_system}" in capsys.readouterr().err
    assert not (tmp_path / "pwned.txt").exists() and not out.exists()

    class Getter:  # getattr of a method other than ASE's bound one is refused too
        def __reduce__(self):
            return (getattr, (molecule("H2O"), "write"))

    crafted.write_bytes(pickle.dumps({"a": Getter()}))
    with pytest.raises(InputError, match=r"builtins.getattr\(Atoms, 'write'\)"):
        load_jkqc(crafted)
    crafted.write_bytes(b"not a pickle at all")
    with pytest.raises(InputError, match="cannot be read as a JKQC database"):
        load_jkqc(crafted)


def test_cli(tmp_path, capsys):
    path, _, _ = _database(tmp_path)
    out = tmp_path / "cli.extxyz"
    assert cli_main(["convert-jkqc", str(path), str(out), "--level", "wB97X-D/6-31++G(d,p)"]) == 0
    assert "2 of 3 rows written" in capsys.readouterr().out
    assert {a.info["level"] for a in read(out, ":")} == {"wB97X-D/6-31++G(d,p)"}
    assert cli_main(["convert-jkqc", str(path), str(tmp_path / "x.traj")]) == 2
