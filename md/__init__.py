"""md: molecular-dynamics drivers for painnjax potentials, over jax-md.

Installed by the ``painnjax`` distribution. Not to be confused with the unrelated, abandoned
``md`` package on PyPI (a Maildir client): do not install both in one environment.

Public API (each a small module with one job):

- :class:`MDConfig` (:mod:`md.dynamics.config`): ensemble, temperature(s), time step, steps, replicas,
  thermostat, output intervals -- in fs, K, 1/fs.
- :func:`run_md` (:mod:`md.dynamics.simulate`): NVT Nosé-Hoover chain, NVE or NVT Langevin MD of one
  cluster, R replicas in one jitted call, trajectory/thermo output, checkpoints and exact
  restart, safety stops; optionally a committee's spreads in the loop, a spherical wall
  (:mod:`md.dynamics.wall`), replica exchange (:mod:`md.dynamics.exchange`) and replicas spread
  over local devices. :class:`MDResult` is what it returns.
- :func:`minimize` (:mod:`md.optimize.fire`): FIRE to an ASE-like ``fmax`` (eV/Å);
  :func:`minimize_batch` (:mod:`md.optimize.batch`): many structures at once with FIRE or L-BFGS,
  each to its own convergence.
- :func:`md.screening.screen.screen` (module :mod:`md.screening.screen`): configurational screening: candidates
  (:mod:`md.screening.candidates`: random rigid-molecule clusters of a composition, or a file) minimised
  in batches, duplicates removed (:mod:`md.screening.dedup`), ranked (``painnjax screen``).
- :mod:`md.clusters`: (SA)n(AM)m clusters from bundled or starting structures, or packed
  from molecule templates; :func:`md.clusters.molecules` splits a cluster into molecules.
- :func:`harmonic_analysis` (:mod:`md.analysis.harmonic`): Hessian by ``jax.hessian``, mass-weighted,
  rigid-body motion projected out: frequencies (cm⁻¹, imaginary negative) and normal modes.
- :func:`power_spectrum` (:mod:`md.analysis.spectrum`): FFT of the mass-weighted velocity
  autocorrelation (Wiener-Khinchin, zero-padded), cm⁻¹ axis, peak or sum-rule normalisation;
  :func:`spectrum_from_files` reads the trajectories ``run_md`` writes.
- :func:`vibrational_study` (:mod:`md.analysis.study`): minimum, harmonic frequencies, NVT MD and
  power spectrum of one cluster, end to end and resumable (``painnjax demo``).
- :func:`evaporation_study` (:mod:`md.analysis.evaporation`): survival curves, first-order
  evaporation rates with intervals and an Arrhenius fit from MD run folders (``painnjax evaporation``).
- :func:`run_md_file`, :func:`optimize_file` (:mod:`md.workflow`): the same from files, as
  ``painnjax md`` and ``painnjax optimize`` call them.
- Lower level: :mod:`md.dynamics.integrators` (jax-md integrators in the field's units),
  :mod:`md.dynamics.engine` (the jitted chunk loop with pair-list overflow handling),
  :mod:`md.forces`, :mod:`md.dynamics.velocities`, :mod:`md.dynamics.safety`, :mod:`md.dynamics.output`,
  :mod:`md.dynamics.checkpoint`, :mod:`painnjax.units` (the one place where fs/K meet jax-md's units).

Importing ``md`` imports nothing heavy; the names above load their module on first use.
"""

_EXPORTS = {
    "MDConfig": "md.dynamics.config",
    "ENSEMBLES": "md.dynamics.config",
    "run_md": "md.dynamics.simulate",
    "MDResult": "md.dynamics.simulate",
    "minimize": "md.optimize.fire",
    "MinimizeResult": "md.optimize.fire",
    "minimize_batch": "md.optimize.batch",
    "random_candidates": "md.screening.candidates",
    "harmonic_analysis": "md.analysis.harmonic",
    "HarmonicResult": "md.analysis.harmonic",
    "power_spectrum": "md.analysis.spectrum",
    "Spectrum": "md.analysis.spectrum",
    "spectrum_from_files": "md.analysis.spectrum",
    "vibrational_study": "md.analysis.study",
    "evaporation_study": "md.analysis.evaporation",
    "run_md_file": "md.workflow",
    "optimize_file": "md.workflow",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'md' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
