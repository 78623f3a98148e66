"""The vibrational study (md.study, ``painnjax demo``, examples/spectrum_sa7am7.py) with the shipped model.

SA1AM1 (11 atoms) keeps these at seconds: the shipped default-size ``saam-gfn1`` holds the
cluster together, which a tiny random model does not. The harmonic frequencies of the real
PaiNN are checked against ASE's finite-difference ``Vibrations`` through the ASE calculator.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from md.study import vibrational_study
from painnjax.cli import main as cli_main
from painnjax.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHORT = dict(ps=0.16, equilibrate=0.04, fmax=0.01, progress=False, log=None)


def test_harmonic_frequencies_of_the_shipped_painn_match_ase_vibrations(tmp_path):
    """The Hessian by AD against ASE's central differences of PaiNNCalculator forces (float64), within 1 cm⁻¹."""
    import jax
    from ase.optimize import BFGS
    from ase.vibrations import Vibrations

    from md.harmonic import harmonic_analysis
    from md.workflow import build_potential, read_structure
    from painnjax.calculator import PaiNNCalculator
    from painnjax.modelfile import load_model

    with jax.enable_x64(True):
        model = load_model("saam-gfn1")
        atoms = read_structure("SA1AM1")
        atoms.calc = PaiNNCalculator(model, dtype="float64")
        assert BFGS(atoms, logfile=None).run(fmax=1e-5, steps=2000)
        res = harmonic_analysis(build_potential(model, atoms, "float64"), atoms)
        vib = Vibrations(atoms, name=str(tmp_path / "vib"), delta=0.005, nfree=4)
        vib.run()
        ase_f = vib.get_frequencies()
    assert res.frequencies.shape == (27,) and res.frequencies[0] > 0  # 3N - 6, a minimum
    ase_f = np.sort(np.real(ase_f[np.argsort(np.abs(ase_f))][6:]))
    assert 3000 < res.frequencies[-1] < 4000  # an O-H / N-H stretch
    np.testing.assert_allclose(res.frequencies, ase_f, atol=1.0)


def test_study_end_to_end_and_continued(tmp_path):
    out = tmp_path / "study"
    res = vibrational_study("saam-gfn1", "SA1AM1", out, **SHORT)
    rec = json.loads((out / "study.json").read_text())
    assert rec["minimum"]["converged"] and rec["minimum"]["fmax_eV_per_A"] < 0.01
    assert rec["harmonic"]["n_frequencies"] == 27 and rec["harmonic"]["n_imaginary"] == 0
    assert rec["md"]["steps_done"] == 320 and rec["md"]["stop_reason"] == "completed"
    assert rec["spectrum"]["frames"] == 160 - 40 + 1
    assert (out / "spectrum.png").read_bytes()[:4] == b"\x89PNG" and (out / "spectrum.pdf").stat().st_size > 0
    table = np.loadtxt(out / "spectrum.csv", delimiter=",", skiprows=1)
    assert (out / "spectrum.csv").read_text().splitlines()[0] == "frequency_cm-1,intensity"
    np.testing.assert_allclose(table[:, 1].max(), 1.0)
    # Almost all of the kinetic energy sits below the highest harmonic frequency plus a few bins.
    f, y = table[:, 0], np.clip(table[:, 1], 0, None)
    assert y[f < res.frequencies[-1] + 5 * res.spectrum.resolution].sum() > 0.99 * y.sum()

    # Again with a longer MD: the minimum and Hessian are reused, the MD continues.
    res2 = vibrational_study("saam-gfn1", "SA1AM1", out, **{**SHORT, "ps": 0.2})
    assert res2.minimum is None and res2.harmonic is None
    np.testing.assert_array_equal(res2.frequencies, res.frequencies)
    assert res2.md_summary["restarted_from_step"] == 320 and res2.md_summary["steps_done"] == 400

    with pytest.raises(InputError, match="other settings.*temperature_K"):
        vibrational_study("saam-gfn1", "SA1AM1", out, temperature=200.0, **SHORT)


def test_study_bad_input(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        vibrational_study("saam-gfn1", "SA99AM1", tmp_path / "a", **SHORT)
    with pytest.raises(InputError, match="equilibrate"):
        vibrational_study("saam-gfn1", "SA1AM1", tmp_path / "b", **{**SHORT, "equilibrate": 1.0})
    assert not (tmp_path / "a").exists()


def test_demo_command_and_the_example(tmp_path, capsys):
    """``painnjax demo`` (the README's main job) and examples/spectrum_sa7am7.py, on SA1AM1 and a short MD."""
    args = ["--structure", "SA1AM1", "--ps", "0.12", "--equilibrate", "0.02"]
    assert cli_main(["demo", *args, "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    assert "spectrum:" in capsys.readouterr().out
    assert (tmp_path / "demo" / "spectrum.png").exists()

    spec = importlib.util.spec_from_file_location("spectrum_sa7am7", EXAMPLES / "spectrum_sa7am7.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    # The same study on the demo's folder: every stage is reused, the spectrum rewritten.
    assert example.main([*args, "--out", str(tmp_path / "demo")]) == 0
    assert "minimum: reused" in capsys.readouterr().out
    assert example.main([*args, "--T", "250", "--out", str(tmp_path / "demo")]) == 2
    assert "other settings" in capsys.readouterr().err
