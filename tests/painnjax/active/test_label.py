"""xTB labelling with tblite (painnjax.active.label, ``painnjax label``) and Δ-learning at run time
(painnjax.active.delta). Skipped as a whole when tblite is not installed."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# tblite's OpenMP threads fight for the 2 shared cores of a CI runner: these clusters are small,
# one thread is 3-100x faster there. libgomp reads the variable once, when tblite loads it.
_omp = os.environ.get("OMP_NUM_THREADS")
os.environ["OMP_NUM_THREADS"] = "1"
try:
    pytest.importorskip("tblite.ase", reason="tblite is not installed (pip install 'painnjax[xtb]')")
finally:
    if _omp is None:
        del os.environ["OMP_NUM_THREADS"]
    else:
        os.environ["OMP_NUM_THREADS"] = _omp

from ase.build import molecule  # noqa: E402
from ase.io import read, write  # noqa: E402
from tblite.ase import TBLite  # noqa: E402

from painnjax.active.label import METHODS, failed_path_for, label_file  # noqa: E402
from painnjax.cli import main as cli_main  # noqa: E402
from painnjax.data import bundled_structure  # noqa: E402
from painnjax.errors import InputError  # noqa: E402
from tests.conftest import POOL_FILE  # noqa: E402


class Stop(Exception):
    """Raised from on_frame: a run killed after some frames."""


def direct(atoms, method="GFN1-xTB", **kwargs):
    """Energy and forces of tblite called directly on a fresh calculator."""
    calc = TBLite(method=method, verbosity=0, **kwargs)
    a = atoms.copy()
    a.calc = None
    calc.calculate(a, ["energy", "forces"])
    return float(calc.results["energy"]), np.array(calc.results["forces"])


def small_frames():
    """SA1AM1, a perturbed copy, NH3 and NH4+ (charge 1): 4 small frames with some info."""
    sa1am1 = bundled_structure("SA1AM1")
    sa1am1.info = {"name": "sa1am1", "composition": "SA1AM1"}
    shaken = sa1am1.copy()
    shaken.positions += np.random.default_rng(3).normal(0.0, 0.05, shaken.positions.shape)
    shaken.info = {"name": "shaken", "T": 300}
    am = molecule("NH3")
    am.info = {"name": "am"}
    ah = molecule("CH4")
    ah.numbers[0] = 7
    ah.info = {"name": "ah", "charge": 1}
    return [sa1am1, shaken, am, ah]


@pytest.fixture
def inp(tmp_path):
    path = tmp_path / "in.extxyz"
    write(path, small_frames())
    return path


def labels(path):
    """{label_index: (energy, forces)} of a label file; asserts each index is there once."""
    frames = read(path, index=":")
    idx = [int(a.info["label_index"]) for a in frames]
    assert len(idx) == len(set(idx)), f"repeated label_index in {path}: {idx}"
    return {int(a.info["label_index"]): (a.get_potential_energy(), a.get_forces()) for a in frames}


def assert_same_labels(a: dict, b: dict, e_tol=1e-8, f_tol=1e-6):
    assert sorted(a) == sorted(b)
    for k in a:
        assert abs(a[k][0] - b[k][0]) < e_tol, (k, a[k][0], b[k][0])
        np.testing.assert_allclose(a[k][1], b[k][1], rtol=0, atol=f_tol)


# --------------------------------------------------------------------------------------------
# Labels


def test_labels_reproduce_tblite(inp, tmp_path):
    out = tmp_path / "labels.extxyz"
    seen = []
    report = label_file(inp, out, progress=False, on_frame=lambda k, atoms: seen.append(k))
    assert (report.n_frames, report.labelled, report.failed, report.done_before) == (4, 4, 0, 0)
    assert report.complete and report.seconds > 0 and report.seconds_per_frame > 0
    assert seen == [0, 1, 2, 3] and not failed_path_for(out).exists()
    assert "4 of 4" in report.summary()
    frames = read(out, index=":")
    originals = read(inp, index=":")  # the positions as written (8 decimals)
    assert len(frames) == 4
    for k, (atoms, orig) in enumerate(zip(frames, originals)):
        assert atoms.info["label_index"] == k and atoms.info["level"] == "GFN1-xTB"
        assert atoms.info["label_source"] == str(inp) and atoms.info["label_frame"] == k
        assert atoms.info["name"] == orig.info["name"]  # the input's info is kept
        np.testing.assert_array_equal(atoms.numbers, orig.numbers)
        np.testing.assert_allclose(atoms.positions, orig.positions, atol=1e-8)
        e, f = direct(orig, charge=orig.info.get("charge", 0), multiplicity=1)
        assert abs(atoms.get_potential_energy() - e) < 1e-8
        np.testing.assert_allclose(atoms.get_forces(), f, rtol=0, atol=1e-6)
    # the charge of NH4+ was used: neutral NH4 is a different energy
    assert abs(frames[3].get_potential_energy() - direct(originals[3], charge=0, multiplicity=2)[0]) > 1.0
    # what training reads
    from painnjax.data.dataset import read_dataset

    ds = read_dataset(out)
    np.testing.assert_allclose(ds.energy, [a.get_potential_energy() for a in frames], rtol=0, atol=1e-9)


def _pool_head_and_tail(tmp_path, first=3):
    """The first ``first`` frames and the last frame of the shared pool, without parsing all of it."""
    lines = POOL_FILE.read_text().split("\n")
    starts, i = [], 0
    while i < len(lines) and lines[i].strip():
        starts.append(i)
        i += int(lines[i]) + 2
    chosen = starts[:first] + starts[-1:]
    text = "".join("\n".join(lines[s : s + int(lines[s]) + 2]) + "\n" for s in chosen)
    path = tmp_path / "pool_subset.extxyz"
    path.write_text(text)
    return path


def test_reproduces_shared_pool_labels(tmp_path):
    if not POOL_FILE.is_file():
        pytest.skip(f"{POOL_FILE} is absent")
    subset = _pool_head_and_tail(tmp_path)
    ref = read(subset, index=":")
    assert ref[-1].info["composition"] != ref[0].info["composition"]  # a cluster, not only monomers
    out = tmp_path / "relabelled.extxyz"
    report = label_file(subset, out, method="GFN1-xTB", progress=False)
    assert report.complete
    got = read(out, index=":")
    for atoms, r in zip(got, ref):
        assert atoms.info["name"] == r.info["name"] and atoms.info["level"] == r.info["level"] == "GFN1-xTB"
        # The stored labels agree with a fresh tblite single point to ~1e-7 eV and ~1e-4 eV/Å
        # (SCF-convergence level; frame 0 to 5e-11 eV): far below any model error.
        assert abs(atoms.get_potential_energy() - r.get_potential_energy()) < 5e-7
        np.testing.assert_allclose(atoms.get_forces(), r.get_forces(), rtol=0, atol=2e-4)
    assert abs(got[0].get_potential_energy() - ref[0].get_potential_energy()) < 1e-9


def test_methods_are_passed_through(inp, tmp_path):
    frame = read(inp, index=0)
    energies = {}
    for method in ("GFN2-xTB", "IPEA1-xTB"):
        out = tmp_path / f"{method}.extxyz"
        label_file(inp, out, method=method.lower(), progress=False)  # case does not matter
        got = read(out, index=0)
        assert got.info["level"] == method
        energies[method] = got.get_potential_energy()
        assert abs(energies[method] - direct(frame, method)[0]) < 1e-8
    label_file(inp, tmp_path / "gfn1.extxyz", progress=False)
    energies["GFN1-xTB"] = read(tmp_path / "gfn1.extxyz", index=0).get_potential_energy()
    assert abs(energies["GFN2-xTB"] - energies["GFN1-xTB"]) > 1.0
    assert abs(energies["IPEA1-xTB"] - energies["GFN1-xTB"]) > 1.0
    # resuming a GFN1 file with GFN2 is refused
    with pytest.raises(InputError, match=r"gfn1.extxyz, frame 0: labels of level 'GFN1-xTB'.*GFN2-xTB"):
        label_file(inp, tmp_path / "gfn1.extxyz", method="GFN2-xTB", progress=False)


def test_unknown_method_and_missing_tblite(inp, tmp_path, monkeypatch):
    out = tmp_path / "labels.extxyz"
    with pytest.raises(InputError, match="unknown method 'DFTB'.*" + ", ".join(METHODS)):
        label_file(inp, out, method="DFTB", progress=False)
    monkeypatch.setitem(sys.modules, "tblite.ase", None)  # import fails as if not installed
    with pytest.raises(InputError, match=r"pip install 'painnjax\[xtb\]'"):
        label_file(inp, out, progress=False)
    from painnjax.active.delta import DeltaCalculator

    with pytest.raises(InputError, match=r"pip install 'painnjax\[xtb\]'"):
        DeltaCalculator("saam-gfn1")
    assert not out.exists()


def test_bad_input_names_file_and_frame(tmp_path):
    out = tmp_path / "labels.extxyz"
    with pytest.raises(InputError, match="nothere.xyz: file not found"):
        label_file(tmp_path / "nothere.xyz", out, progress=False)
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.xyz: empty file"):
        label_file(empty, out, progress=False)
    frames = small_frames()
    frames[2].positions[1, 0] = np.nan
    write(tmp_path / "nan.extxyz", frames)
    with pytest.raises(InputError, match=r"nan.extxyz, frame 2: atom 1: position is not finite"):
        label_file(tmp_path / "nan.extxyz", out, progress=False)
    frames = small_frames()
    frames[1].info["uhf"] = -1
    write(tmp_path / "uhf.extxyz", frames)
    with pytest.raises(InputError, match=r"uhf.extxyz, frame 1: info uhf must be a non-negative integer"):
        label_file(tmp_path / "uhf.extxyz", out, progress=False)
    good = tmp_path / "good.extxyz"
    write(good, small_frames())
    with pytest.raises(InputError, match="also an input file"):
        label_file(good, good, progress=False)
    with pytest.raises(InputError, match=r"\*.extxyz or \*.xyz"):
        label_file(good, tmp_path / "labels.traj", progress=False)
    with pytest.raises(InputError, match=r"failed.db: .*\*.extxyz or \*.xyz"):
        label_file(good, out, failed=tmp_path / "failed.db", progress=False)
    assert not out.exists()


def test_periodic_frame_refused_before_any_single_point_or_labelled_as_free_cluster(tmp_path, monkeypatch, capsys):
    """The rule of every command: a frame with pbc is an error (xTB would give a periodic energy
    that a model of free clusters must not learn), unless --ignore-cell: then xTB gets no cell."""
    import painnjax.active.label as label_module

    boxed = molecule("NH3")
    boxed.cell, boxed.pbc = [6.0, 6.0, 6.0], True
    inp = tmp_path / "boxed.extxyz"
    write(inp, [molecule("NH3"), boxed])
    out = tmp_path / "labels.extxyz"
    calls = []
    real = label_module._single_point
    monkeypatch.setattr(label_module, "_single_point", lambda *a: calls.append(a) or real(*a))
    with pytest.raises(InputError, match=rf"{inp}, frame 1: periodic boundary conditions are not supported"):
        label_file(inp, out, progress=False)
    assert cli_main(["label", str(inp), str(out), "--quiet"]) == 2
    assert "--ignore-cell" in capsys.readouterr().err
    assert calls == [] and not out.exists()
    assert cli_main(["label", str(inp), str(out), "--ignore-cell", "--quiet"]) == 0
    e_free, f_free = direct(read(inp, index=0))
    assert direct(read(inp, index=1))[0] != pytest.approx(e_free, abs=1e-6)  # periodic xTB differs
    for atoms in read(out, index=":"):
        assert not atoms.pbc.any() and atoms.cell.volume == 0
        assert atoms.get_potential_energy() == pytest.approx(e_free, abs=1e-10)
        np.testing.assert_allclose(atoms.get_forces(), f_free, atol=1e-8)


# --------------------------------------------------------------------------------------------
# Resume


def test_resume_after_interrupt_equals_one_run(inp, tmp_path):
    whole = tmp_path / "whole.extxyz"
    label_file(inp, whole, progress=False)
    out = tmp_path / "labels.extxyz"

    def stop_after_two(k, atoms):
        if k == 1:
            raise Stop

    with pytest.raises(Stop):
        label_file(inp, out, progress=False, on_frame=stop_after_two)
    assert sorted(labels(out)) == [0, 1]
    seen = []
    report = label_file(inp, out, progress=True, on_frame=lambda k, a: seen.append(k))  # with a progress bar
    assert seen == [2, 3] and (report.done_before, report.labelled, report.n_labelled) == (2, 2, 4)
    assert_same_labels(labels(out), labels(whole), e_tol=1e-10, f_tol=1e-10)
    before = out.read_bytes()
    report = label_file(inp, out, progress=False, on_frame=lambda k, a: seen.append(k))
    assert report.labelled == 0 and report.done_before == 4 and seen == [2, 3]
    assert out.read_bytes() == before  # nothing repeated, nothing lost


@pytest.mark.parametrize("cut", ["atom line", "comment line", "count line"])
def test_incomplete_last_frame_is_cut_off_and_redone(inp, tmp_path, cut):
    out = tmp_path / "labels.extxyz"
    label_file(inp, out, progress=False)
    whole = labels(out)
    data = out.read_bytes()
    last = data.rstrip(b"\n").split(b"\n")
    n_last = len(read(out, index=-1))
    start = len(b"\n".join(last[: -(n_last + 2)])) + 1  # offset of the last frame's count line
    offset = {
        "atom line": len(data) - 20,  # in the middle of the last atom line
        "comment line": data.index(b"\n", start) + 30,
        "count line": start + 1,
    }[cut]  # "5" of "5\n"
    out.write_bytes(data[:offset])
    seen = []
    report = label_file(inp, out, progress=False, on_frame=lambda k, a: seen.append(k))
    assert seen == [3] and report.labelled == 1 and report.done_before == 3
    assert report.truncated_bytes == offset - start and "cut off" in report.summary()
    assert_same_labels(labels(out), whole, e_tol=1e-10, f_tol=1e-10)


def test_unreadable_tail_is_an_error_not_truncated(inp, tmp_path):
    out = tmp_path / "labels.extxyz"
    label_file(inp, out, progress=False)
    damaged = out.read_bytes() + b"this is not a frame\n"
    out.write_bytes(damaged)
    with pytest.raises(InputError, match=r"labels.extxyz: line \d+ \(after 4 complete frames\) is not the atom count"):
        label_file(inp, out, progress=False)
    assert out.read_bytes() == damaged


def test_output_of_other_input_is_refused(inp, tmp_path):
    out = tmp_path / "labels.extxyz"
    label_file(inp, out, progress=False)
    before = out.read_bytes()
    frames = small_frames()
    other = tmp_path / "other.extxyz"
    write(other, [frames[1], frames[0], *frames[2:]])  # same atoms in frames 0 and 1, other positions
    with pytest.raises(
        InputError,
        match=r"labels.extxyz, frame 0: label_index 0 has other positions than input "
        r"frame 0 \(.*other.extxyz, frame 0",
    ):
        label_file(other, out, progress=False)
    write(other, [frames[2], *frames[:2], frames[3]])
    with pytest.raises(InputError, match=r"labels.extxyz, frame 0: label_index 0 holds .* but input frame 0"):
        label_file(other, out, progress=False)
    write(other, frames[:2])
    with pytest.raises(InputError, match=r"labels.extxyz, frame 2: label_index 2 is beyond the 2 input frames"):
        label_file(other, out, progress=False)
    plain = tmp_path / "plain.xyz"
    write(plain, frames[:1])
    with pytest.raises(InputError, match=r"plain.xyz, frame 0: no label_index"):
        label_file(inp, plain, progress=False)
    assert out.read_bytes() == before


def test_second_writer_is_refused(inp, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "labels.extxyz"
    with pytest.raises(Stop):
        label_file(inp, out, progress=False, on_frame=_raise(Stop, at=0))
    with open(out, "a") as other:  # another process appending to it
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another process is writing labels"):
            label_file(inp, out, progress=False)
    assert label_file(inp, out, progress=False).labelled == 3


def _raise(exc, at):
    def on_frame(k, atoms):
        if k == at:
            raise exc

    return on_frame


# --------------------------------------------------------------------------------------------
# Failures


def test_scf_failure_is_kept_aside_with_its_reason(tmp_path):
    frames = small_frames()
    frames[1].info["uhf"] = 1  # SA1AM1 has 60 electrons: one unpaired electron is impossible
    inp = tmp_path / "in.extxyz"
    write(inp, frames)
    out = tmp_path / "labels.extxyz"
    report = label_file(inp, out, progress=False)
    assert (report.labelled, report.failed, report.n_failed, report.complete) == (3, 1, 1, False)
    assert sorted(labels(out)) == [0, 2, 3]
    failed = read(tmp_path / "labels.failed.extxyz", index=":")
    assert len(failed) == 1 and failed[0].info["label_index"] == 1 and failed[0].info["name"] == "shaken"
    assert "unpaired" in failed[0].info["label_error"] and "1 failed" in report.summary()
    assert failed[0].calc is None  # no labels on a failed frame
    # resumed: failed frames are not retried ...
    report = label_file(inp, out, progress=False)
    assert (report.labelled, report.failed, report.failed_before, report.done_before) == (0, 0, 1, 3)
    # ... unless asked; failing again, it is in the failure file once
    report = label_file(inp, out, progress=False, retry_failed=True)
    assert (report.failed, report.failed_before) == (1, 0)
    assert [a.info["label_index"] for a in read(tmp_path / "labels.failed.extxyz", index=":")] == [1]


def test_unconverged_scf_fails_then_retry_labels(inp, tmp_path):
    out = tmp_path / "labels.extxyz"
    failed = tmp_path / "bad.extxyz"
    report = label_file(inp, out, failed=failed, max_iterations=1, progress=False)
    assert (report.labelled, report.failed) == (0, 4) and not out.exists()
    errors = [a.info["label_error"] for a in read(failed, index=":")]
    assert len(errors) == 4 and all("SCF not converged in 1 cycles" in e for e in errors)
    report = label_file(inp, out, failed=failed, retry_failed=True, progress=False)
    assert (report.labelled, report.failed, report.complete) == (4, 0, True)
    assert not failed.exists()  # nothing left without labels
    assert sorted(labels(out)) == [0, 1, 2, 3]


def test_non_finite_results_are_failures(inp, tmp_path, monkeypatch):
    original = TBLite.calculate

    def nan_forces_for_nh3(self, atoms=None, properties=None, system_changes=None):
        original(self, atoms, properties, system_changes or ["positions", "numbers"])
        if len(self.atoms) == 4 and self.atoms.get_chemical_formula() == "H3N":
            self.results["forces"] = self.results["forces"].copy()
            self.results["forces"][2, 1] = np.nan

    monkeypatch.setattr(TBLite, "calculate", nan_forces_for_nh3)
    out = tmp_path / "labels.extxyz"
    report = label_file(inp, out, progress=False)
    assert (report.labelled, report.failed) == (3, 1)
    (bad,) = read(failed_path_for(out), index=":")
    assert bad.info["label_index"] == 2 and "non-finite forces (atom 2" in bad.info["label_error"]


# --------------------------------------------------------------------------------------------
# Δ-learning calculator


@pytest.fixture(scope="module")
def tiny_model():
    from painnjax import Model, PaiNNConfig

    return Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1, 7, 8, 16])


def test_delta_calculator_is_xtb_plus_network(tiny_model):
    from ase.optimize import BFGS

    from painnjax.active.delta import DeltaCalculator
    from painnjax.interfaces.calculator import PaiNNCalculator
    from painnjax.model import Model

    atoms = bundled_structure("SA1AM1")
    atoms.positions += np.random.default_rng(1).normal(0.0, 0.03, atoms.positions.shape)
    with pytest.warns(UserWarning, match="not say it was trained on a Δ target"):
        DeltaCalculator(tiny_model)
    delta_model = Model(
        tiny_model.config,
        tiny_model.variables,
        {**tiny_model.metadata, "energy_reference": {"kind": "total", "delta": {"high": "E_dft", "low": "E_xtb"}}},
    )
    calc = DeltaCalculator(delta_model, method="GFN2-xTB")
    e_xtb, f_xtb = direct(atoms, "GFN2-xTB")
    nn = PaiNNCalculator(delta_model)
    e_nn, f_nn = nn.get_potential_energy(atoms), nn.get_forces(atoms)
    assert abs(e_nn) > 1e-6 and np.abs(f_nn).max() > 1e-6  # the network contributes

    calls = []
    inner = calc.xtb.calculate
    calc.xtb.calculate = lambda *a, **k: (calls.append(1), inner(*a, **k))[1]
    atoms.calc = calc
    e = atoms.get_potential_energy()
    f = atoms.get_forces()
    assert len(calls) == 1  # forces came with the energy: one xTB single point per geometry
    assert abs(e - (e_xtb + e_nn)) < 1e-6
    np.testing.assert_allclose(f, f_xtb + f_nn, rtol=0, atol=1e-6)
    np.testing.assert_allclose(calc.results["energy_contributions"], [e_xtb, e_nn], rtol=0, atol=1e-6)

    opt = BFGS(atoms, logfile=None)
    opt.run(fmax=1e-4, steps=4)
    assert opt.nsteps == 4 and len(calls) >= 4
    assert atoms.get_potential_energy() < e
    e_end = atoms.get_potential_energy()
    assert abs(e_end - (direct(atoms, "GFN2-xTB")[0] + nn.get_potential_energy(atoms))) < 1e-6


# --------------------------------------------------------------------------------------------
# Command line


def test_cli_label(inp, tmp_path, capsys):
    out = tmp_path / "labels.extxyz"
    assert cli_main(["label", str(inp), str(out), "--quiet"]) == 0
    assert "4 of 4" in capsys.readouterr().out
    assert sorted(labels(out)) == [0, 1, 2, 3]
    assert cli_main(["label", str(inp), str(out), "--quiet"]) == 0  # resumed: nothing to do
    assert "0 frames labelled now; 4 before" in capsys.readouterr().out

    frames = small_frames()
    frames[0].info["uhf"] = 1
    bad = tmp_path / "bad.xyz"
    write(bad, frames[:1], format="extxyz")
    out2 = tmp_path / "two.extxyz"
    failed = tmp_path / "f.extxyz"
    assert (
        cli_main(["label", str(inp), str(bad), str(out2), "--failed", str(failed), "--method", "GFN2-xTB", "--quiet"])
        == 1
    )
    cap = capsys.readouterr()
    assert "1 of 5 frames failed" in cap.err and str(failed) in cap.err
    assert sorted(labels(out2)) == [0, 1, 2, 3] and read(out2, index=0).info["level"] == "GFN2-xTB"
    assert read(failed, index=0).info["label_source"] == str(bad)

    assert cli_main(["label", str(tmp_path / "missing.xyz"), str(out2), "--quiet"]) == 2
    assert "painnjax label: error:" in capsys.readouterr().err
    assert cli_main(["label", str(inp), str(tmp_path / "x.extxyz"), "--method", "DFT", "--quiet"]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert cli_main(["label", str(tmp_path / "x.extxyz")]) == 2
    assert "IN [IN ...] OUT" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# In parallel: worker processes and a Dask cluster


def test_workers_equal_one_process_and_resume(inp, tmp_path):
    whole = tmp_path / "whole.extxyz"
    label_file(inp, whole, progress=False)
    out = tmp_path / "labels.extxyz"

    def stop_after_first(k, atoms):
        raise Stop

    with pytest.raises(Stop):  # killed after its first frame is written: the pool is shut down
        label_file(inp, out, progress=False, workers=2, on_frame=stop_after_first)
    first = list(labels(out))
    assert len(first) == 1
    seen = []
    report = label_file(inp, out, progress=False, workers=2, on_frame=lambda k, a: seen.append(k))
    assert report.done_before == 1 and report.labelled == 3 and report.complete
    assert sorted(seen + first) == [0, 1, 2, 3]  # each frame once, in the order they finished
    # one xTB thread in a fresh process gives the same numbers as in this process
    assert_same_labels(labels(out), labels(whole), e_tol=1e-10, f_tol=1e-10)


def test_dask_scheduler_labels_equal_and_bad_addresses(inp, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed", reason="distributed is not installed (painnjax[dask])")
    import painnjax.active.label as label_mod

    whole = tmp_path / "whole.extxyz"
    label_file(inp, whole, progress=False)
    in_process = {"n_workers": 1, "threads_per_worker": 1, "processes": False, "dashboard_address": None}
    with distributed.LocalCluster(**in_process) as cluster:
        out = tmp_path / "dask.extxyz"
        report = label_file(inp, out, progress=False, scheduler=cluster.scheduler_address)
        assert report.complete and report.labelled == 4
    assert_same_labels(labels(out), labels(whole), e_tol=1e-10, f_tol=1e-10)
    monkeypatch.setattr(label_mod, "SCHEDULER_TIMEOUT", "1s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        label_file(inp, tmp_path / "x.extxyz", progress=False, scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "x.extxyz").exists()
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="workers must be a whole number"):
            label_file(inp, tmp_path / "x.extxyz", progress=False, workers=bad)
