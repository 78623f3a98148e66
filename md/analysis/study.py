"""The vibrational study of one cluster, end to end: minimum → harmonic frequencies → NVT MD → power spectrum.

What the reference study did with three tools (ASE, its MD and TRAVIS; its Fig. 10), from one
potential: FIRE from the start structure to ``fmax`` (``OUT/minimum.xyz``); the Hessian by
automatic differentiation in float64 and its frequencies (``OUT/harmonic.json``); Nosé–Hoover
MD at ``temperature`` from the minimum, a frame every fs (``OUT/md/``); the power spectrum of
the frames after ``equilibrate`` ps (``OUT/spectrum.csv``) and its plot with the harmonic
frequencies as sticks (``OUT/spectrum.png``, ``.pdf``). ``OUT/study.json`` records the settings
and the results.

Nothing is lost on interruption: run it again with the same folder and the finished stages
are reused and the MD continues from its last checkpoint. A longer ``ps`` on the same folder
extends the MD; changing anything else needs a new folder.

Example:
    >>> from md.analysis.study import vibrational_study
    >>> res = vibrational_study("saam-gfn1", "SA7AM7", "sa7am7-300K", ps=2.0)     # doctest: +SKIP
    >>> res.spectrum.frequencies, res.harmonic.frequencies                        # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from md.analysis.harmonic import harmonic_file, write_frequencies
from md.analysis.settle import settle_model_minimum
from md.analysis.spectrum import plot_spectrum, power_spectrum, read_velocities
from md.dynamics.checkpoint import CHECKPOINT_FILE
from md.dynamics.config import MDConfig
from md.dynamics.output import trajectory_path
from md.structures import read_structure
from md.workflow import optimize_file, run_md_file
from painnjax.errors import InputError
from painnjax.io.files import lock_run_folder, read_json, write_json
from painnjax.io.modelfile import check_same_model, model_identity

STUDY_FILE = "study.json"
# Settings that define a study; `ps` may grow between calls (the MD is continued).
_FIXED = ("model", "structure", "temperature_K", "dt_fs", "fmax_eV_per_A", "seed", "replicas")


@dataclass
class StudyResult:
    """What :func:`vibrational_study` computed, and where it wrote it."""

    out: Path
    minimum: object  # md.optimize.fire.MinimizeResult, or None when reused
    harmonic: object  # md.analysis.harmonic.HarmonicResult, or None when reused
    frequencies: np.ndarray  # the harmonic frequencies, cm-1 (imaginary negative)
    md_summary: dict
    spectrum: object  # md.analysis.spectrum.Spectrum
    plots: list = field(default_factory=list)
    record: dict = field(default_factory=dict)


def _frames_per_fs(dt: float) -> int:
    """MD steps between frames: a frame every fs when the step divides 1 fs, else every step."""
    k = 1.0 / dt
    return int(round(k)) if k >= 1 and abs(k - round(k)) < 1e-9 else 1


def vibrational_study(
    model,
    structure,
    out,
    *,
    temperature: float = 300.0,
    ps: float = 2.0,
    equilibrate: float = 0.5,
    dt: float = 0.5,
    fmax: float = 0.005,
    max_fire_steps: int = 5000,
    replicas: int = 1,
    seed: int = 0,
    max_frequency: float | None = 4000.0,
    progress: bool = True,
    log=print,
) -> StudyResult:
    """Minimum, harmonic frequencies, MD and power spectrum of ``structure`` with ``model``; see the module doc.

    Args:
        model: a model file or bundled model name (``"saam-gfn1"``).
        structure: a structure file (its last frame) or bundled name (``"SA7AM7"``).
        out: output folder (created; reused stage by stage when it holds this study).
        temperature: K. ps: MD length in ps (the spectrum uses what follows ``equilibrate`` ps).
        dt: MD time step, fs. fmax: FIRE convergence, eV/Å. replicas: independent MD runs
            (different velocities) averaged in the spectrum.
        log: where one-line progress reports go (``None``: nowhere).

    ``out`` is locked for the call (a second study into it at the same time is refused), and
    ``study.json`` records the model's identity: continuing with another model is refused.
    """
    say = log or (lambda *a, **k: None)
    _check_numbers(temperature, ps, dt, fmax, equilibrate)
    start = read_structure(structure)  # a bad name or file fails here, before anything is written
    model_id = model_identity(model)  # and a bad model here

    out = Path(out)
    with lock_run_folder(out, "a vibrational study"):  # the MD locks out/md as well
        out.mkdir(parents=True, exist_ok=True)
        settings = {
            "model": str(model),
            "structure": str(structure),
            "temperature_K": float(temperature),
            "dt_fs": float(dt),
            "fmax_eV_per_A": float(fmax),
            "seed": int(seed),
            "replicas": int(replicas),
            "model_id": model_id,
        }
        rec = _Record(out / STUDY_FILE, _read_record(out, settings))
        rec.data["settings"] = {**settings, "ps": float(ps), "equilibrate_ps": float(equilibrate)}
        rec.save()

        minimum_path = out / "minimum.xyz"
        res = _minimum_stage(model, structure, minimum_path, fmax, max_fire_steps, rec, say)
        harm, freqs = _harmonic_stage(model, minimum_path, out / "harmonic.json", rec, say)
        cfg = _md_config(temperature, ps, dt, replicas, seed)
        md_out = out / "md"
        s = _md_stage(model, minimum_path, md_out, cfg, progress, rec, say)
        spec, plots = _spectrum_stage(
            out, md_out, structure, start, temperature, equilibrate, replicas, freqs, max_frequency, rec, say
        )
        return StudyResult(
            out=out,
            minimum=res,
            harmonic=harm,
            frequencies=freqs,
            md_summary=s,
            spectrum=spec,
            plots=plots,
            record=rec.data,
        )


@dataclass
class _Record:
    """The study record (``study.json``): its contents and the file they are saved to."""

    path: Path
    data: dict

    def save(self) -> None:
        """Write the record to its file."""
        write_json(self.path, self.data)


def _check_numbers(temperature, ps, dt, fmax, equilibrate) -> None:
    """Refuse a non-positive temperature, length, step or fmax, and an equilibration not shorter than the MD."""
    for name, value in (("temperature", temperature), ("ps", ps), ("dt", dt), ("fmax", fmax)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    if not (isinstance(equilibrate, (int, float)) and 0 <= equilibrate < ps):
        raise InputError(f"equilibrate must be >= 0 and shorter than the MD ({ps} ps), got {equilibrate!r}")


def _read_record(out: Path, settings: dict) -> dict:
    """The record ``out`` holds (empty when none); refuses one of a study with other fixed settings."""
    record_path = out / STUDY_FILE
    record = {}
    if record_path.exists():
        record = read_json(record_path, "study record", fix="choose another folder")
        old = record.get("settings", {})
        if not isinstance(old, dict):
            raise InputError(f"{record_path}: settings must be an object, got {repr(old)[:80]}: a damaged study record")
        check_same_model(old.get("model_id"), old.get("model"), settings["model_id"], settings["model"], record_path)
        fixed = [k for k in _FIXED if k != "model" or "model_id" not in old]  # the identity decides, not the name
        changed = [k for k in fixed if old.get(k) != settings[k]]
        if changed:
            shown = ", ".join(f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in changed)
            raise InputError(f"{out} holds a study with other settings ({shown}); choose another folder")
    return record


def _minimum_stage(model, structure, minimum_path: Path, fmax, max_fire_steps, rec: _Record, say):
    """1. FIRE to the minimum (``minimum.xyz``), unless the folder holds it; the result (None when reused)."""
    if "minimum" in rec.data and minimum_path.exists():
        say(f"minimum: reused {minimum_path}")
        return None
    res = optimize_file(
        model, structure, minimum_path, fmax=fmax, max_steps=max_fire_steps, settle=settle_model_minimum
    )
    if res.settled and res.settled["moved"]:
        say(f"minimum: {res.settled['summary']}")
    rec.data["minimum"] = {
        "energy_eV": res.energy,
        "fmax_eV_per_A": res.fmax,
        "steps": res.steps,
        "converged": res.converged,
        "seconds": res.seconds + res.compile_seconds,
    }
    rec.save()
    say(
        f"minimum: E = {res.energy:.5f} eV, fmax {res.fmax:.4f} eV/Å after {res.steps} FIRE steps"
        + ("" if res.converged else f" (NOT converged to {fmax} eV/Å: the harmonic frequencies may be imaginary)")
    )
    return res


def _read_frequencies(path: Path) -> np.ndarray:
    """The harmonic frequencies (cm-1) that ``harmonic.json`` at ``path`` holds; InputError when damaged."""
    value = read_json(path, "harmonic record").get("frequencies_cm-1")
    ok = isinstance(value, list) and all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in value)
    if not ok:
        shown = "nothing" if value is None else repr(value)[:80]
        raise InputError(f"{path}: frequencies_cm-1 must be a list of numbers, got {shown}: a damaged harmonic record")
    return np.asarray(value, np.float64)


def _harmonic_stage(model, minimum_path: Path, harmonic_path: Path, rec: _Record, say):
    """2. Harmonic frequencies of the minimum (``harmonic.json``), unless the folder holds them.

    Returns (result or None, frequencies in cm-1)."""
    if "harmonic" in rec.data and harmonic_path.exists():
        freqs = _read_frequencies(harmonic_path)
        say(f"harmonic: reused {harmonic_path}")
        return None, freqs
    harm = harmonic_file(model, minimum_path)
    write_frequencies(harm, harmonic_path)
    f = harm.frequencies
    rec.data["harmonic"] = {
        "n_frequencies": len(f),
        "lowest_cm-1": float(f[0]),
        "highest_cm-1": float(f[-1]),
        "n_imaginary": int((f < 0).sum()),
    }
    rec.save()
    say(f"harmonic: {len(f)} frequencies, {f[0]:.1f} ... {f[-1]:.1f} cm-1, {int((f < 0).sum())} imaginary")
    return harm, f


def _md_config(temperature, ps, dt, replicas, seed):
    """The study's Nosé–Hoover MD, ``ps`` long with a frame every fs; its checkpoint interval never changes."""
    every = _frames_per_fs(dt)
    steps = max(every, int(round(ps * 1000.0 / dt / every)) * every)
    return MDConfig(
        ensemble="nvt-nh",
        temperature=float(temperature),
        dt=float(dt),
        steps=steps,
        log_every=every,
        traj_every=every,
        replicas=int(replicas),
        seed=int(seed),
        checkpoint_every=max(every, 500 // every * every),
    )  # fixed: a restart may not change it


def _md_stage(model, minimum_path: Path, md_out: Path, cfg, progress, rec: _Record, say) -> dict:
    """3. NVT MD from the minimum, continued from its checkpoint when ``md_out`` holds one; its summary."""
    restart = (md_out / CHECKPOINT_FILE).exists()
    md = run_md_file(model, minimum_path, cfg, md_out, restart=restart, progress=progress)
    s = md.summary
    rec.data["md"] = {
        k: s.get(k)
        for k in (
            "steps_done",
            "steps_per_second",
            "mean_temperature_K",
            "stop_reason",
            "compile_seconds",
            "restarted_from_step",
        )
    }
    rec.save()
    if s.get("steps_per_second") is None:  # nothing left to run: the folder holds the whole MD
        say(f"MD: reused {s['steps_done']} steps of {cfg.dt:g} fs in {md_out}")
    else:
        say(
            f"MD: {s['steps_done']} steps of {cfg.dt:g} fs, {s['steps_per_second']:.1f} steps/s, "
            f"mean T {s['mean_temperature_K']:.0f} K, stop: {s['stop_reason']}"
        )
    return s


def _md_power_spectrum(md_out: Path, replicas, equilibrate):
    """The power spectrum of the MD frames after ``equilibrate`` ps; also the frames used and fs between frames."""
    paths = [trajectory_path(md_out, r, "traj") for r in range(replicas)]
    V, masses, _, dt_fs = read_velocities(paths)
    skip = int(round(equilibrate * 1000.0 / dt_fs))
    used = V.shape[1] - skip
    if used < 100:
        raise InputError(f"only {used} MD frames after {equilibrate} ps of equilibration: run longer (ps)")
    return power_spectrum(V[:, skip:], masses, dt_fs, window="hann", normalisation="max"), used, dt_fs


def _spectrum_stage(
    out: Path,
    md_out: Path,
    structure,
    start,
    temperature,
    equilibrate,
    replicas,
    freqs,
    max_frequency,
    rec: _Record,
    say,
):
    """4. The power spectrum after equilibration (``spectrum.csv``) and its plots with the harmonic sticks."""
    spec, used, dt_fs = _md_power_spectrum(md_out, replicas, equilibrate)
    spec.write_csv(out / "spectrum.csv")
    name = start.get_chemical_formula() if not _is_bundled(structure) else str(structure)
    title = f"{name}, {temperature:g} K, {used * dt_fs / 1000:.1f} ps: MD power spectrum and harmonic frequencies"
    plots = plot_spectrum(
        spec, [out / "spectrum.png", out / "spectrum.pdf"], harmonic=freqs, max_frequency=max_frequency, title=title
    )
    top = spec.frequencies[int(np.argmax(spec.intensity))]
    rec.data["spectrum"] = {
        "frames": int(used),
        "ps": used * dt_fs / 1000.0,
        "resolution_cm-1": spec.resolution,
        "highest_peak_cm-1": float(top),
    }
    rec.save()
    say(
        f"spectrum: {used} frames ({used * dt_fs / 1000:.2f} ps), resolution {spec.resolution:.1f} cm-1; "
        f"wrote {', '.join(str(p) for p in plots)}"
    )
    return spec, plots


def _is_bundled(structure) -> bool:
    return not Path(str(structure)).exists()
