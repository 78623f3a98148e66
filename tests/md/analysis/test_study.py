"""The vibrational study (md.analysis.study, ``painnjax demo``, examples/spectrum_sa7am7.py) with the shipped model.

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

from md.analysis.study import vibrational_study
from painnjax.cli import main as cli_main
from painnjax.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SHORT = dict(ps=0.16, equilibrate=0.04, fmax=0.01, progress=False, log=None)


def test_harmonic_frequencies_of_the_shipped_painn_match_ase_vibrations(tmp_path):
    """The Hessian by AD against ASE's central differences of PaiNNCalculator forces (float64), within 1 cm⁻¹."""
    import jax
    from ase.optimize import BFGS
    from ase.vibrations import Vibrations

    from md.analysis.harmonic import harmonic_analysis
    from md.forces.build import build_potential
    from md.structures import read_structure
    from painnjax.interfaces.calculator import PaiNNCalculator
    from painnjax.io.modelfile import load_model

    with jax.enable_x64(True):
        model = load_model("saam-gfn1")
        atoms = read_structure("SA1AM1")
        atoms.calc = PaiNNCalculator(model, dtype="float64")
        assert BFGS(atoms, logfile=None).run(fmax=1e-5, steps=2000)
        res = harmonic_analysis(build_potential(model, atoms, "float64"), atoms)
        vib = Vibrations(atoms, name=str(tmp_path / "vib"), delta=0.0025, nfree=4)
        vib.run()
        ase_f = vib.get_frequencies()
    assert res.frequencies.shape == (27,) and res.frequencies[0] > 0  # 3N - 6, a minimum
    ase_f = np.sort(np.real(ase_f[np.argsort(np.abs(ase_f))][6:]))
    assert 3000 < res.frequencies[-1] < 4000  # an O-H / N-H stretch
    np.testing.assert_allclose(res.frequencies, ase_f, atol=1.0)


def test_study_bad_input(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        vibrational_study("saam-gfn1", "SA99AM1", tmp_path / "a", **SHORT)
    with pytest.raises(InputError, match="equilibrate"):
        vibrational_study("saam-gfn1", "SA1AM1", tmp_path / "b", **{**SHORT, "equilibrate": 1.0})
    assert not (tmp_path / "a").exists()


def test_demo_end_to_end_then_continued_by_the_example(tmp_path, capsys):
    """``painnjax demo`` (README's main job) on SA1AM1 with a short MD, then examples/spectrum_sa7am7.py
    on the same folder with a longer MD: the minimum and Hessian are reused, the MD continues."""
    out = tmp_path / "demo"
    args = ["--structure", "SA1AM1", "--equilibrate", "0.04", "--out", str(out)]
    assert cli_main(["demo", *args, "--ps", "0.16", "--quiet"]) == 0
    assert "spectrum:" in capsys.readouterr().out
    rec = json.loads((out / "study.json").read_text())
    assert rec["minimum"]["converged"] and rec["minimum"]["fmax_eV_per_A"] < 0.005
    assert rec["harmonic"]["n_frequencies"] == 27 and rec["harmonic"]["n_imaginary"] == 0
    assert rec["md"]["steps_done"] == 320 and rec["md"]["stop_reason"] == "completed"
    assert rec["spectrum"]["frames"] == 160 - 40 + 1
    assert (out / "spectrum.png").read_bytes()[:4] == b"\x89PNG" and (out / "spectrum.pdf").stat().st_size > 0
    assert (out / "spectrum.csv").read_text().splitlines()[0] == "frequency_cm-1,intensity"
    table = np.loadtxt(out / "spectrum.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1].max(), 1.0)
    freqs = json.loads((out / "harmonic.json").read_text())["frequencies_cm-1"]
    # Almost all of the kinetic energy sits below the highest harmonic frequency plus a few bins.
    f, y = table[:, 0], np.clip(table[:, 1], 0, None)
    assert y[f < freqs[-1] + 5 * rec["spectrum"]["resolution_cm-1"]].sum() > 0.99 * y.sum()

    spec = importlib.util.spec_from_file_location("spectrum_sa7am7", EXAMPLES / "spectrum_sa7am7.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main([*args, "--ps", "0.2"]) == 0
    text = capsys.readouterr().out
    assert "minimum: reused" in text and "harmonic: reused" in text
    rec2 = json.loads((out / "study.json").read_text())
    assert rec2["md"]["restarted_from_step"] == 320 and rec2["md"]["steps_done"] == 400
    assert json.loads((out / "harmonic.json").read_text())["frequencies_cm-1"] == freqs
    assert example.main([*args, "--ps", "0.2", "--T", "250"]) == 2
    assert "other settings" in capsys.readouterr().err
    with pytest.raises(InputError, match="other settings.*temperature_K"):
        vibrational_study(
            "saam-gfn1",
            "SA1AM1",
            out,
            temperature=200.0,
            equilibrate=0.04,
            ps=0.2,
            fmax=0.005,
            progress=False,
            log=None,
        )
