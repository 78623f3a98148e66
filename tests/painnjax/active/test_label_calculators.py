"""DFT and other labels through ``painnjax label --calculator``: PySCF and ASE calculators.

PySCF's labels must equal PySCF called directly (energy Hartree -> eV, gradient Hartree/Bohr ->
forces eV/Å with the sign), its forces central finite differences of its energies; a failed SCF
is a per-frame failure that a rerun retries; an ASE calculator's labels equal the calculator's.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from ase import units
from ase.build import molecule
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.io import read, write

from painnjax.active.calculators import ASELabeller, PySCFLabeller, parse_calculator
from painnjax.active.label import label_file
from painnjax.cli import main as cli_main
from painnjax.errors import InputError

SA1AM1 = Path(__file__).parents[3] / "painnjax" / "data" / "SA1AM1.xyz"

pyscf = pytest.importorskip("pyscf", reason="pyscf is not installed (painnjax[pyscf])")
pyscf.lib.num_threads(1)  # two busy cores: OpenMP threads only slow a water molecule down

from pyscf import dft, gto, scf  # noqa: E402


def _mol(atoms, basis, charge=0, spin=0):
    atom = [(s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)]
    return gto.M(atom=atom, basis=basis, unit="Angstrom", charge=charge, spin=spin, verbose=0)


def _direct_hf(atoms, basis="sto-3g"):
    """Energy (eV) and forces (eV/Å) of PySCF's RHF, called here without painnjax."""
    mf = scf.RHF(_mol(atoms, basis))
    mf.conv_tol = 1e-11
    e = mf.kernel()
    assert mf.converged
    return e * units.Hartree, -mf.nuc_grad_method().kernel() * units.Hartree / units.Bohr


def test_pyscf_water_equals_pyscf_and_forces_are_finite_differences(tmp_path):
    water = molecule("H2O")
    water.positions[1] += [0.0, 0.05, -0.03]  # off equilibrium: forces of some size
    inp, out = tmp_path / "water.extxyz", tmp_path / "labels.extxyz"
    write(inp, water)
    report = label_file(inp, out, calculator="pyscf:hf/sto-3g,conv_tol=1e-11", progress=False)
    assert report.complete and report.labelled == 1
    got = read(out)
    assert got.info["level"] == "hf/sto-3g (PySCF)"
    e_ref, f_ref = _direct_hf(water)
    assert got.get_potential_energy() == pytest.approx(e_ref, abs=1e-8)
    np.testing.assert_allclose(got.get_forces(), f_ref, atol=1e-7)
    assert np.abs(f_ref).max() > 0.3  # eV/Å: not a trivial comparison

    energy_only = PySCFLabeller("hf", "sto-3g", conv_tol=1e-11, forces=False)
    h = 1e-4  # Å
    for i, j in [(0, 2), (1, 1), (1, 2), (2, 1)]:
        plus, minus = water.copy(), water.copy()
        plus.positions[i, j] += h
        minus.positions[i, j] -= h
        fd = -(energy_only(plus, 0, 0)[0] - energy_only(minus, 0, 0)[0]) / (2 * h)
        assert got.get_forces()[i, j] == pytest.approx(fd, abs=2e-5), (i, j)


@pytest.mark.slow
def test_pyscf_dft_on_sa1am1_equals_pyscf(tmp_path):
    """B3LYP at a small basis, density fitting, on SA1AM1 (11 atoms): equal to PySCF called directly."""
    saam = read(SA1AM1)
    out = tmp_path / "saam.extxyz"
    spec = "pyscf:b3lyp/sto-3g,density_fit=true,grids=0"
    report = label_file(SA1AM1, out, calculator=spec, progress=False)
    assert report.complete
    mf = dft.RKS(_mol(saam, "sto-3g"), xc="b3lyp").density_fit()
    mf.grids.level = 0
    mf.verbose = 0
    e = mf.kernel()
    g = mf.nuc_grad_method().kernel()
    got = read(out)
    assert got.info["level"] == "b3lyp/sto-3g (PySCF, density fitting)"
    assert got.get_potential_energy() == pytest.approx(e * units.Hartree, abs=1e-6)
    np.testing.assert_allclose(got.get_forces(), -g * units.Hartree / units.Bohr, atol=1e-5)


def test_failed_scf_is_a_per_frame_failure_and_a_rerun_retries_it(tmp_path):
    water, ammonia = molecule("H2O"), molecule("NH3")
    radical = molecule("H2O")
    radical.info["uhf"] = 1  # 10 electrons cannot have one unpaired: PySCF raises
    inp, out = tmp_path / "in.extxyz", tmp_path / "labels.extxyz"
    write(inp, [water, radical, ammonia])
    report = label_file(inp, out, calculator="pyscf:hf/sto-3g,max_cycle=1", progress=False)
    assert (report.labelled, report.failed) == (0, 3)
    failed = read(report.failed_path, ":")
    reasons = {a.info["label_index"]: a.info["label_error"] for a in failed}
    assert "SCF not converged in 1 cycles" in reasons[0] and "SCF not converged" in reasons[2]
    assert "spin" in reasons[1].lower()
    assert not out.exists()

    again = label_file(inp, out, calculator="pyscf:hf/sto-3g,max_cycle=1", progress=False)
    assert (again.failed_before, again.labelled, again.failed) == (3, 0, 0)  # not retried without asking

    retried = label_file(inp, out, calculator="pyscf:hf/sto-3g", retry_failed=True, progress=False)
    assert (retried.labelled, retried.failed, retried.n_failed) == (2, 1, 1)
    labelled = read(out, ":")
    assert sorted(a.info["label_index"] for a in labelled) == [0, 2]
    assert [a.info["label_index"] for a in read(report.failed_path, ":")] == [1]
    e_ref, _ = _direct_hf(water)
    assert labelled[0].get_potential_energy() == pytest.approx(e_ref, abs=1e-6)


def test_energies_only_and_resume_refuses_another_level(tmp_path):
    inp, out = tmp_path / "in.extxyz", tmp_path / "labels.extxyz"
    write(inp, [molecule("H2O"), molecule("NH3")])
    report = label_file(inp, out, calculator="pyscf:hf/sto-3g,forces=false", progress=False)
    assert report.complete
    frames = read(out, ":")
    assert all("forces" not in a.calc.results for a in frames)
    assert label_file(inp, out, calculator="pyscf:hf/sto-3g,forces=false", progress=False).done_before == 2
    with pytest.raises(InputError, match=r"labels of level 'hf/sto-3g \(PySCF\)', this run computes hf/3-21g"):
        label_file(inp, out, calculator="pyscf:hf/3-21g,forces=false", progress=False)
    with pytest.raises(InputError, match="not both"):
        label_file(inp, out, method="GFN1-xTB", calculator="pyscf:hf/sto-3g", progress=False)


def test_pyscf_specs():
    lab = parse_calculator("pyscf:b3lyp/6-31++g(d,p),density_fit=true,max_cycle=80,level='B3LYP/6-31++G(d,p)'")
    assert (lab.method, lab.basis, lab.density_fit, lab.max_cycle) == ("b3lyp", "6-31++g(d,p)", True, 80)
    assert lab.level == "B3LYP/6-31++G(d,p)"
    assert parse_calculator("pyscf:method=b3lyp,basis=def2-svp").basis == "def2-svp"
    assert pickle.loads(pickle.dumps(lab)) == lab  # travels to worker processes and Dask
    with pytest.raises(InputError, match="PySCF cannot run 'wb97x-d'.*ORCA or Gaussian"):
        parse_calculator("pyscf:wb97x-d/6-31++g(d,p)")
    with pytest.raises(InputError, match="does not know the functional 'nonsense'"):
        parse_calculator("pyscf:nonsense/sto-3g")
    with pytest.raises(InputError, match="unknown key.*maxcycle"):
        parse_calculator("pyscf:hf/sto-3g,maxcycle=3")
    with pytest.raises(InputError, match="max_cycle must be a whole number"):
        parse_calculator("pyscf:hf/sto-3g,max_cycle=0")
    with pytest.raises(InputError, match="start it with pyscf:, ase: or tblite:"):
        parse_calculator("orca:b3lyp")
    frame = SimpleNamespace(atoms=molecule("H2O"), charge=0, uhf=0, where="w.xyz, frame 0")
    with pytest.raises(InputError, match="w.xyz, frame 0: the basis 'nonexistent-basis' has no functions for"):
        parse_calculator("pyscf:hf/nonexistent-basis").check_frames([frame])
    frame.charge = 0.5
    with pytest.raises(InputError, match="charge 0.5 is not a whole number"):
        parse_calculator("pyscf:hf/sto-3g").check_frames([frame])


def test_ase_calculator_labels_equal_the_calculator(tmp_path):
    cluster = molecule("CH4")
    cluster.positions *= 1.05
    inp = tmp_path / "in.extxyz"
    write(inp, [cluster, molecule("H2O")])
    out = tmp_path / "emt.extxyz"
    assert label_file(inp, out, calculator="ase:ase.calculators.emt.EMT", progress=False).complete
    for got, ref in zip(read(out, ":"), read(inp, ":"), strict=True):
        ref.calc = EMT()
        assert got.info["level"] == "EMT()"
        assert got.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-10)
        np.testing.assert_allclose(got.get_forces(), ref.get_forces(), atol=1e-10)

    spec = tmp_path / "lj.toml"
    spec.write_text(
        'program = "ase"\nclass = "ase.calculators.lj.LennardJones"\n[kwargs]\nsigma = 1.2\nepsilon = 0.05\n'
    )
    out = tmp_path / "lj.extxyz"
    assert cli_main(["label", str(inp), str(out), "--calculator", str(spec), "--quiet"]) == 0
    ref = read(inp)
    ref.calc = LennardJones(sigma=1.2, epsilon=0.05)
    got = read(out)
    assert got.info["level"] == "LennardJones(epsilon=0.05, sigma=1.2)"
    assert got.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-10)
    inline = parse_calculator("ase:ase.calculators.lj.LennardJones,sigma=1.2,epsilon=0.05")
    assert inline == parse_calculator(str(spec))


def test_ase_specs_are_restricted_and_charges_need_a_mapping(tmp_path, capsys):
    with pytest.raises(InputError, match="'os.system' is not in ase.calculators.*--trust-calculator"):
        parse_calculator("ase:os.system,command=ls")
    with pytest.raises(InputError, match="'builtins.dict' is not an ASE calculator class"):
        parse_calculator("ase:builtins.dict", trust=True)
    with pytest.raises(InputError, match="runs no external program"):
        parse_calculator("ase:ase.calculators.emt.EMT,command=emt")
    orca = parse_calculator("ase:ase.calculators.orca.ORCA,orcasimpleinput='B3LYP def2-SVP EnGrad',command=orca")
    assert isinstance(orca, ASELabeller) and orca.level == "ORCA: B3LYP def2-SVP EnGrad"
    calc = orca.calculator(str(tmp_path), charge=-1, uhf=1)
    assert calc.parameters["charge"] == -1 and calc.parameters["mult"] == 2
    assert calc.profile.command == "orca" and type(calc.profile).__name__ == "OrcaProfile"

    ion = molecule("H2O")
    ion.info["charge"] = 1
    inp = tmp_path / "ion.extxyz"
    write(inp, ion)
    with pytest.raises(InputError, match="frame 0: charge 1.*set charge_key= and mult_key="):
        label_file(inp, tmp_path / "o.extxyz", calculator="ase:ase.calculators.emt.EMT", progress=False)
    args = ["label", str(inp), str(tmp_path / "o.extxyz"), "--quiet"]
    assert cli_main([*args, "--method", "GFN1-xTB", "--calculator", "pyscf:hf/sto-3g"]) == 2
    assert "not both" in capsys.readouterr().err
