"""Vibrational power spectrum of MD: the Fourier transform of the mass-weighted velocity autocorrelation.

Definitions (velocities in ASE units, Å per ASE time unit, as :mod:`md.dynamics.output` writes them;
masses in amu, so ``m v²`` is in eV):

- The mass-weighted velocity autocorrelation function of ``T`` frames spaced ``dt`` (fs),
  summed over the selected atoms and averaged over time origins (unbiased, ``T - τ`` origins
  at lag ``τ``) and over replicas::

      C(τ) = < Σ_i m_i v_i(t) · v_i(t + τ) >_t ,   τ = 0 .. T-1,   C(0) = 2 <E_kin>

  computed by Wiener-Khinchin with ``jnp.fft``: each coordinate series is zero-padded to
  ``2T``, so the product of transforms gives the linear (not the circular) correlation.
- A lag window ``w(τ)`` (``"hann"``: ``0.5 (1 + cos(π τ / T))``; ``"none"``: 1), with
  ``w(0) = 1``, damps the noisy long lags.
- The spectrum is the cosine transform of the even extension of ``w C`` on an ``n_fft``-point
  grid (default ``2T``; zeros beyond lag ``T-1``), at frequencies ``k / (n_fft dt)``, converted
  to wavenumbers in cm⁻¹ (``ν̃ = f / c``)::

      S(ν̃_k) = dt Σ_{τ=-(T-1)}^{T-1} w(|τ|) C(|τ|) cos(2π k τ / n_fft)

- Normalisation ``"max"``: divided by its largest value (the highest peak is 1).
  ``"absolute"``: ``I(ν̃) = c S`` in eV per cm⁻¹, so that the trapezoidal integral over the
  one-sided frequency grid (0 to the Nyquist frequency) equals the mean kinetic energy of the
  selected atoms, ``∫ I dν̃ = <Σ_i m_i v_i² / 2>`` (eV), averaged over frames and replicas. The
  equality is exact on the discrete grid (the inverse transform at lag 0).

Input: arrays ``(frames, N, 3)`` or ``(replicas, frames, N, 3)`` with masses, or trajectory
files (``.traj``, ``.extxyz``; one file per replica) whose frames carry velocities and
``info["time_fs"]``; frames must be equally spaced in time. Problems are
:class:`~painnjax.errors.InputError`.

Example:
    >>> from md.analysis.spectrum import power_spectrum, spectrum_from_files
    >>> spec = spectrum_from_files(["run1/trajectory_r000.traj"], normalisation="max")    # doctest: +SKIP
    >>> spec.frequencies[spec.intensity.argmax()]                                      # doctest: +SKIP
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from ase.io import read

from painnjax.errors import InputError
from painnjax.io.files import atomic_write, write_json
from painnjax.io.plots import pyplot
from painnjax.units import SPEED_OF_LIGHT_CM_PER_FS, TIME_UNIT_FS
from painnjax.validate import as_atomic_numbers

WINDOWS = ("hann", "none")
NORMALISATIONS = ("max", "absolute")
VELOCITY_UNITS = ("ase", "A/fs")


@dataclass
class Spectrum:
    """A power spectrum: ``intensity`` at ``frequencies`` (cm⁻¹, 0 to Nyquist, ascending).

    ``kinetic_energy`` is ``<Σ m v² / 2>`` of the selected atoms (eV, mean over frames and
    replicas); with ``normalisation == "absolute"`` the trapezoidal integral of ``intensity``
    over ``frequencies`` equals it.
    """

    frequencies: np.ndarray
    intensity: np.ndarray
    normalisation: str
    window: str
    dt_fs: float
    n_frames: int
    n_replicas: int
    kinetic_energy: float
    vacf: np.ndarray = field(repr=False, default=None)
    atoms: np.ndarray | None = field(repr=False, default=None)

    @property
    def resolution(self) -> float:
        """Spacing of the frequency grid (cm⁻¹)."""
        return float(self.frequencies[1] - self.frequencies[0])

    def peak(self, lo: float = 0.0, hi: float = np.inf) -> float:
        """Frequency (cm⁻¹) of the highest intensity between ``lo`` and ``hi``."""
        sel = (self.frequencies >= lo) & (self.frequencies <= hi)
        if not sel.any():
            raise InputError(f"no frequencies between {lo} and {hi} cm-1")
        return float(self.frequencies[sel][np.argmax(self.intensity[sel])])

    def integral(self) -> float:
        """Trapezoidal integral of the intensity over the frequency grid."""
        f, y = self.frequencies, self.intensity
        return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(f)))

    def write_csv(self, path) -> Path:
        """``frequency_cm-1,intensity`` rows (atomic write)."""
        lines = ["frequency_cm-1,intensity\n"]
        lines += [f"{f:.6f},{y:.10g}\n" for f, y in zip(self.frequencies, self.intensity)]
        return atomic_write(Path(path), "".join(lines))


def _as_replicas(velocities) -> np.ndarray:
    V = np.asarray(velocities, np.float64)
    if V.ndim == 3:
        V = V[None]
    if V.ndim != 4 or V.shape[-1] != 3:
        raise InputError(f"velocities must be (frames, N, 3) or (replicas, frames, N, 3), got shape {V.shape}")
    if V.shape[1] < 2:
        raise InputError(f"a spectrum needs at least 2 frames, got {V.shape[1]}")
    if not np.all(np.isfinite(V)):
        raise InputError("velocities hold non-finite values")
    return V


def vacf(velocities, masses) -> np.ndarray:
    """``C(τ) = <Σ_i m_i v_i(t)·v_i(t+τ)>_t`` (eV) for τ = 0..T-1, averaged over replicas.

    ``velocities`` (frames, N, 3) or (replicas, frames, N, 3); zero-padded FFT (linear
    correlation), unbiased (divided by the ``T - τ`` time origins).
    """
    V = _as_replicas(velocities)
    m = np.asarray(masses, np.float64)
    if m.shape != (V.shape[2],) or not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise InputError(f"masses must be {V.shape[2]} finite numbers > 0, got shape {m.shape}")
    n_rep, T = V.shape[:2]
    with jax.enable_x64(True):
        x = jnp.asarray(V * np.sqrt(m)[None, None, :, None]).reshape(n_rep, T, -1)
        F = jnp.fft.rfft(x, n=2 * T, axis=1)
        corr = jnp.fft.irfft(jnp.real(F * jnp.conj(F)), n=2 * T, axis=1)[:, :T]
        c = jnp.sum(corr, axis=2).mean(axis=0) / jnp.arange(T, 0, -1)
        return np.asarray(c, np.float64)


def lag_window(name: str, T: int) -> np.ndarray:
    """The lag window (T,) with ``w(0) = 1``: ``"hann"`` (``0.5 (1 + cos(π τ / T))``) or ``"none"``."""
    if name == "hann":
        return 0.5 * (1.0 + np.cos(np.pi * np.arange(T) / T))
    if name == "none":
        return np.ones(T)
    raise InputError(f"window must be one of {', '.join(WINDOWS)}, got {name!r}")


def power_spectrum(
    velocities,
    masses,
    dt_fs: float,
    *,
    window: str = "hann",
    normalisation: str = "max",
    n_fft: int | None = None,
    atoms=None,
    velocity_unit: str = "ase",
) -> Spectrum:
    """The power spectrum of ``velocities`` (frames, N, 3) or (replicas, frames, N, 3).

    Args:
        masses: (N,) amu.
        dt_fs: time between frames (fs).
        window: lag window, ``"hann"`` (default) or ``"none"``.
        normalisation: ``"max"`` (highest value 1) or ``"absolute"`` (eV per cm⁻¹; integrates
            to the mean kinetic energy of the selected atoms).
        n_fft: transform length (even, >= 2 T - 2; default 2 T); a longer one interpolates
            the spectrum on a finer grid.
        atoms: indices or a boolean mask of the atoms to include (default all).
        velocity_unit: ``"ase"`` (Å per ASE time unit, what md writes) or ``"A/fs"``.
    """
    if window not in WINDOWS:
        raise InputError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    if normalisation not in NORMALISATIONS:
        raise InputError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {normalisation!r}")
    if velocity_unit not in VELOCITY_UNITS:
        raise InputError(f"velocity_unit must be one of {', '.join(VELOCITY_UNITS)}, got {velocity_unit!r}")
    if not (isinstance(dt_fs, (int, float, np.floating)) and np.isfinite(dt_fs) and dt_fs > 0):
        raise InputError(f"dt_fs must be a finite number > 0, got {dt_fs!r}")
    V = _as_replicas(velocities)
    m = np.asarray(masses, np.float64)
    if velocity_unit == "A/fs":
        V = V * TIME_UNIT_FS
    idx = None
    if atoms is not None:
        sel = np.asarray(atoms)
        idx = np.flatnonzero(sel) if sel.dtype == bool else sel.astype(int).ravel()
        if idx.size == 0:
            raise InputError("no atoms selected")
        if idx.min() < 0 or idx.max() >= V.shape[2]:
            raise InputError(f"atom indices out of range 0..{V.shape[2] - 1}")
        if m.shape != (V.shape[2],):
            raise InputError(f"masses must be {V.shape[2]} numbers, got shape {m.shape}")
        V, m = V[:, :, idx], m[idx]
    T = V.shape[1]
    M = 2 * T if n_fft is None else int(n_fft)
    if M % 2 or M < 2 * T - 2:
        raise InputError(f"n_fft must be even and >= 2 * frames - 2 = {2 * T - 2}, got {n_fft}")
    c = vacf(V, m)
    cw = c * lag_window(window, T)
    s = np.zeros(M)
    s[:T] = cw
    s[M - T + 1 :] = cw[1:][::-1]
    with jax.enable_x64(True):
        S = float(dt_fs) * np.asarray(jnp.real(jnp.fft.rfft(jnp.asarray(s))), np.float64)
    cl = SPEED_OF_LIGHT_CM_PER_FS
    freqs = np.arange(M // 2 + 1) / (M * float(dt_fs)) / cl
    if normalisation == "max":
        top = S.max()
        if not top > 0:
            raise InputError("the spectrum has no positive value (all velocities zero?)")
        intensity = S / top
    else:
        intensity = S * cl
    return Spectrum(
        frequencies=freqs,
        intensity=intensity,
        normalisation=normalisation,
        window=window,
        dt_fs=float(dt_fs),
        n_frames=T,
        n_replicas=V.shape[0],
        kinetic_energy=0.5 * float(c[0]),
        vacf=c,
        atoms=idx,
    )


def read_velocities(paths, *, dt_fs: float | None = None, rtol: float = 1e-6):
    """Velocities of trajectory files (one per replica) as ``(V (R, T, N, 3), masses, numbers, dt_fs)``.

    Frames need velocities (momenta) and, unless ``dt_fs`` is given, ``info["time_fs"]``
    equally spaced (relative tolerance ``rtol``); every file must hold the same atoms and
    the same number of frames with the same spacing.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise InputError("no trajectory files given")
    Vs, masses, numbers, dts = [], None, None, []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        try:
            frames = read(p, index=":")
        except Exception as exc:  # noqa: BLE001 - ASE raises many kinds for a bad file
            raise InputError(f"{p}: cannot read a trajectory from this file ({type(exc).__name__}: {exc})") from None
        if not isinstance(frames, list):  # pragma: no cover
            frames = [frames]
        if len(frames) < 2:
            raise InputError(f"{p}: a spectrum needs at least 2 frames, the file holds {len(frames)}")
        z = frames[0].get_atomic_numbers()
        for k, a in enumerate(frames):
            if not np.array_equal(a.get_atomic_numbers(), z):
                raise InputError(f"{p}: frame {k} holds other atoms than frame 0")
            if not a.has("momenta"):
                raise InputError(f"{p}: frame {k} holds no velocities (momenta); write trajectories with velocities")
        if numbers is None:
            numbers, masses = z, frames[0].get_masses()
        elif not np.array_equal(numbers, z):
            raise InputError(f"{p}: holds other atoms than {paths[0]}")
        times = [a.info.get("time_fs") for a in frames]
        if all(t is not None for t in times):
            t = np.asarray(times, np.float64)
            d = np.diff(t)
            if not np.all(d > 0) or np.max(np.abs(d - d[0])) > rtol * d[0]:
                raise InputError(
                    f"{p}: the frames are not equally spaced in time (time_fs steps between "
                    f"{d.min():g} and {d.max():g} fs)"
                )
            if dt_fs is not None and abs(d[0] - dt_fs) > rtol * dt_fs:
                raise InputError(f"{p}: frames are {d[0]:g} fs apart, not dt_fs = {dt_fs:g}")
            dts.append(float(d.mean()))
        elif dt_fs is None:
            raise InputError(f"{p}: frames carry no time_fs; give the frame spacing (dt_fs / --dt)")
        else:
            dts.append(float(dt_fs))
        Vs.append(np.stack([a.get_velocities() for a in frames]))
    if len({v.shape for v in Vs}) > 1:
        raise InputError(
            "the trajectories differ in length: " + ", ".join(f"{p}: {len(v)} frames" for p, v in zip(paths, Vs))
        )
    if max(dts) - min(dts) > rtol * max(dts):
        raise InputError("the trajectories have different frame spacings: " + ", ".join(f"{d:g} fs" for d in dts))
    return np.stack(Vs), np.asarray(masses, np.float64), np.asarray(numbers), float(np.mean(dts))


def spectrum_from_files(
    paths,
    *,
    elements=None,
    window: str = "hann",
    normalisation: str = "max",
    dt_fs: float | None = None,
    n_fft: int | None = None,
) -> Spectrum:
    """:func:`power_spectrum` of trajectory files (one per replica); ``elements`` (symbols or numbers) selects atoms."""
    V, m, Z, dt = read_velocities(paths, dt_fs=dt_fs)
    sel = None
    if elements:
        want = as_atomic_numbers(list(elements), source="elements")
        sel = np.isin(Z, want)
        if not sel.any():
            raise InputError(f"none of the elements {list(elements)} is in the trajectory")
    return power_spectrum(V, m, dt, window=window, normalisation=normalisation, n_fft=n_fft, atoms=sel)


def plot_spectrum(
    spectrum: Spectrum, paths, *, harmonic=None, max_frequency: float | None = None, title: str | None = None
) -> list[Path]:
    """The spectrum as a line with the harmonic frequencies (cm⁻¹) as sticks; one file per path (PNG, PDF).

    Only real (positive) harmonic frequencies are drawn; the x axis ends at ``max_frequency``
    (default: 1.1 times where 99.9 % of the intensity lies, or past the highest stick).
    """
    plt = pyplot()
    f, y = spectrum.frequencies, spectrum.intensity
    if max_frequency is None:
        top = f[-1]
        cum = np.cumsum(np.clip(y, 0, None))
        if cum[-1] > 0:
            top = f[min(np.searchsorted(cum, 0.999 * cum[-1]), len(f) - 1)] * 1.1
        if harmonic is not None and len(harmonic):
            top = max(top, float(np.max(harmonic)) * 1.1)
        max_frequency = min(max(top, 100.0), f[-1])
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    ax.plot(f, y, lw=1.0, color="C0", label="MD power spectrum")
    if harmonic is not None and len(harmonic):
        h = np.asarray(harmonic, np.float64)
        h = h[h > 0]
        top_y = float(np.max(y[f <= max_frequency])) if np.any(f <= max_frequency) else 1.0
        # Sticks hang below the axis, as in the reference study's figure: they never hide the
        # MD spectrum, however many modes a cluster has.
        ax.vlines(h, -0.18 * top_y, -0.02 * top_y, colors="C3", lw=0.7, alpha=0.8, label="harmonic frequencies")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_ylim(-0.2 * top_y, 1.05 * top_y)
    else:
        ax.set_ylim(bottom=0.0)
    ax.set_xlim(0.0, max_frequency)
    ax.set_xlabel("wavenumber (cm$^{-1}$)")
    ax.set_ylabel("intensity" + (" (eV / cm$^{-1}$)" if spectrum.normalisation == "absolute" else " (max = 1)"))
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    written = []
    try:
        for p in paths if isinstance(paths, (list, tuple)) else [paths]:
            p = Path(p)
            buf = io.BytesIO()
            fig.savefig(buf, format=p.suffix.lstrip(".") or "png", dpi=150)
            written.append(atomic_write(p, buf.getvalue()))
    finally:
        plt.close(fig)
    return written


def write_spectrum_folder(spectrum: Spectrum, out, *, harmonic=None, max_frequency: float | None = None) -> Path:
    """``out/spectrum.csv`` and its plot ``out/spectrum.png``, ``.pdf`` (:func:`plot_spectrum`); with
    ``harmonic`` frequencies (cm⁻¹) also ``out/harmonic.json`` (key ``frequencies_cm-1``). Returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spectrum.write_csv(out / "spectrum.csv")
    plot_spectrum(
        spectrum, [out / "spectrum.png", out / "spectrum.pdf"], harmonic=harmonic, max_frequency=max_frequency
    )
    if harmonic is not None:
        write_json(out / "harmonic.json", {"frequencies_cm-1": [float(f) for f in harmonic]})
    return out
