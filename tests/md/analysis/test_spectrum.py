"""Power spectra (md.analysis.spectrum): analytic oscillator, the kinetic-energy sum rule, MD of a
diatomic, files, CLI."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms

from md.analysis.spectrum import power_spectrum, read_velocities, spectrum_from_files, vacf
from painnjax.errors import InputError
from painnjax.units import SPEED_OF_LIGHT_CM_PER_FS, TIME_UNIT_FS

NU0 = 1234.5  # cm⁻¹, deliberately off the frequency grid


def oscillator_velocities(nu_cm=NU0, amplitude=0.1, frames=1000, dt_fs=1.0, phase=0.0):
    """v(t) = -A ω sin(ω t + φ) of a 1D oscillator, in ASE units (Å per ASE time unit), shape (frames, 1, 3)."""
    omega = 2 * np.pi * nu_cm * SPEED_OF_LIGHT_CM_PER_FS * TIME_UNIT_FS  # rad per ASE time unit
    t = np.arange(frames) * dt_fs / TIME_UNIT_FS
    V = np.zeros((frames, 1, 3))
    V[:, 0, 0] = -amplitude * omega * np.sin(omega * t + phase)
    return V


@pytest.mark.parametrize("window", ["hann", "none"])
def test_oscillator_peak_within_one_bin(window):
    spec = power_spectrum(oscillator_velocities(), [15.999], 1.0, window=window)
    assert spec.intensity.max() == 1.0
    assert abs(spec.peak() - NU0) <= spec.resolution, (spec.peak(), spec.resolution)
    # the Nyquist frequency of 1 fs frames
    assert abs(spec.frequencies[-1] - 1 / (2 * SPEED_OF_LIGHT_CM_PER_FS)) < 1e-6


@pytest.mark.parametrize("window", ["hann", "none"])
def test_absolute_normalisation_is_the_kinetic_energy(window):
    rng = np.random.default_rng(0)
    m = np.array([1.008, 15.999, 32.06])
    # three atoms, two replicas: oscillators plus noise
    V = np.stack(
        [
            oscillator_velocities(900.0 + 300 * r, frames=400, phase=r)[:, [0, 0, 0]] * rng.normal(1, 0.3, (1, 3, 3))
            + 0.05 * rng.normal(size=(400, 3, 3))
            for r in range(2)
        ]
    )
    spec = power_spectrum(V, m, 0.5, window=window, normalisation="absolute")
    ekin = 0.5 * np.mean(np.sum(m[None, None, :, None] * V**2, axis=(2, 3)))
    assert spec.n_replicas == 2 and spec.n_frames == 400
    assert abs(spec.kinetic_energy - ekin) < 1e-12 * ekin
    assert abs(spec.integral() - ekin) < 1e-9 * ekin, (spec.integral(), ekin)
    # a finer grid (longer transform) keeps the integral
    fine = power_spectrum(V, m, 0.5, window=window, normalisation="absolute", n_fft=4096)
    assert abs(fine.integral() - ekin) < 1e-9 * ekin
    # per-atom selection: the sum rule of the selected atoms
    sel = power_spectrum(V, m, 0.5, window=window, normalisation="absolute", atoms=[0, 2])
    e_sel = 0.5 * np.mean(np.sum(m[None, None, [0, 2], None] * V[:, :, [0, 2]] ** 2, axis=(2, 3)))
    assert abs(sel.integral() - e_sel) < 1e-9 * e_sel


def test_vacf_matches_direct_sum():
    rng = np.random.default_rng(1)
    V = rng.normal(size=(50, 2, 3))
    m = np.array([2.0, 3.0])
    c = vacf(V, m)
    direct = [np.mean(np.sum(m[None, :, None] * V[: 50 - k] * V[k:], axis=(1, 2))) for k in range(50)]
    np.testing.assert_allclose(c, direct, rtol=1e-10, atol=1e-12)


def test_bad_input():
    V = oscillator_velocities(frames=10)
    with pytest.raises(InputError, match="window"):
        power_spectrum(V, [1.0], 1.0, window="blackman")
    with pytest.raises(InputError, match="normalisation"):
        power_spectrum(V, [1.0], 1.0, normalisation="area")
    with pytest.raises(InputError, match="dt_fs"):
        power_spectrum(V, [1.0], 0.0)
    with pytest.raises(InputError, match="masses"):
        power_spectrum(V, [1.0, 2.0], 1.0)
    with pytest.raises(InputError, match="shape"):
        power_spectrum(V[:, 0], [1.0], 1.0)


def _frames(n, dt=1.0, velocities=True, times=None):
    frames = []
    for k in range(n):
        a = Atoms("CO", positions=[[0, 0, 0], [0, 0, 1.13]])
        if velocities:
            a.set_velocities(np.full((2, 3), 0.01 * np.sin(0.3 * k)))
        a.info["time_fs"] = float(k * dt if times is None else times[k])
        frames.append(a)
    return frames


@pytest.mark.parametrize("fmt", ["traj", "extxyz"])
def test_files_and_their_errors(tmp_path, fmt):
    from ase.io import write

    good = tmp_path / f"good.{fmt}"
    write(good, _frames(20, dt=2.0))
    V, m, Z, dt = read_velocities([good, good])
    assert V.shape == (2, 20, 2, 3) and dt == 2.0 and list(Z) == [6, 8]
    spec = spectrum_from_files([good], elements=["O"])
    assert spec.atoms.tolist() == [1] and spec.dt_fs == 2.0
    no_v = tmp_path / f"nov.{fmt}"
    write(no_v, _frames(5, velocities=False))
    with pytest.raises(InputError, match="no velocities"):
        read_velocities([no_v])
    uneven = tmp_path / f"uneven.{fmt}"
    write(uneven, _frames(5, times=[0.0, 1.0, 2.0, 3.5, 4.5]))
    with pytest.raises(InputError, match="not equally spaced"):
        read_velocities([uneven])
    other = tmp_path / f"other.{fmt}"
    write(other, _frames(20, dt=1.0))
    with pytest.raises(InputError, match="frame spacings"):
        read_velocities([good, other])
    with pytest.raises(InputError, match="no such file"):
        read_velocities([tmp_path / "missing.traj"])
    with pytest.raises(InputError, match="none of the elements"):
        spectrum_from_files([good], elements=["H"])


def test_diatomic_md_peak_at_the_harmonic_frequency(tmp_path, x64):
    """NVE MD of a harmonic CO (float64, 50 K) written by run_md: the spectrum peaks at the
    frequency of the Hessian."""
    from md import MDConfig, run_md
    from md.analysis.harmonic import harmonic_analysis

    k, r0 = 10.0, 1.13

    def energy(R, **unused_kwargs):
        return 0.5 * k * (jnp.linalg.norm(R[1] - R[0]) - r0) ** 2

    atoms = Atoms("CO", positions=[[0, 0, 0], [0.0, 0.0, r0]])
    nu_h = harmonic_analysis(energy, atoms).frequencies[0]
    cfg = MDConfig(
        ensemble="nve",
        temperature=50.0,
        dt=0.5,
        steps=2400,
        log_every=2,
        traj_every=2,
        checkpoint_every=2400,
        fragment_distance=0.0,
    )
    res = run_md(energy, atoms, cfg, out=tmp_path / "run", progress=False)
    assert res.stop_reason == "completed"
    traj = tmp_path / "run" / "trajectory_r000.traj"
    spec = spectrum_from_files([traj])
    assert spec.n_frames == 1201 and spec.dt_fs == 1.0
    peak = spec.peak(50.0)
    assert abs(peak - nu_h) <= max(spec.resolution, 0.02 * nu_h), (peak, nu_h, spec.resolution)
    # a longer transform interpolates the spectrum: the peak of this exactly harmonic bond at low
    # temperature is the harmonic frequency up to the Verlet shift (~1e-4 relative); seen 0.02 cm-1
    V, m, _, dt = read_velocities([traj])
    fine = power_spectrum(V, m, dt, n_fft=24000)
    assert abs(fine.peak(50.0) - nu_h) < 1.0, (fine.peak(50.0), nu_h)
    # absolute: integrates to the mean kinetic energy of the run's frames
    ab = power_spectrum(V, m, dt, normalisation="absolute")
    assert abs(ab.integral() - ab.kinetic_energy) < 1e-9 * ab.kinetic_energy
    ekin = 0.5 * np.mean(np.sum(m[:, None] * V[0] ** 2, axis=(1, 2)))
    assert abs(ab.kinetic_energy - ekin) < 1e-12 * ekin


def test_cli_spectrum(tmp_path, capsys):
    from ase.io import write
    from vib_helpers import tiny_model_file

    from md.analysis.harmonic import NotAMinimumWarning
    from painnjax.cli import main

    traj = tmp_path / "t.traj"
    frames = []
    V = oscillator_velocities(frames=200, dt_fs=1.0)
    for k in range(200):
        a = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
        v = np.zeros((3, 3))
        v[1] = V[k, 0]
        v[2] = -V[k, 0]
        a.set_velocities(v)
        a.info["time_fs"] = float(k)
        frames.append(a)
    write(traj, frames)
    mpath = tiny_model_file(tmp_path)
    frames[0].write(tmp_path / "min.xyz")
    out = tmp_path / "spec"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAMinimumWarning)
        rc = main(
            ["spectrum", str(traj), str(traj), "--harmonic", str(mpath), str(tmp_path / "min.xyz"), "--out", str(out)]
        )
    assert rc == 0
    for name in ("spectrum.csv", "spectrum.png", "spectrum.pdf"):
        assert (out / name).stat().st_size > 0
    data = np.loadtxt(out / "spectrum.csv", delimiter=",", skiprows=1)
    assert (out / "spectrum.csv").read_text().splitlines()[0] == "frequency_cm-1,intensity"
    assert data.shape == (201, 2) and abs(data[:, 1].max() - 1.0) < 1e-12
    assert abs(data[np.argmax(data[:, 1]), 0] - NU0) <= data[1, 0]
    assert "highest peak" in capsys.readouterr().out
    # no velocities: a clear error, exit status 2
    bare = tmp_path / "bare.xyz"
    write(bare, [Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])] * 3)
    assert main(["spectrum", str(bare), "--dt", "1", "--out", str(out)]) == 2
    assert "no velocities" in capsys.readouterr().err
