"""md: molecular-dynamics drivers for painnjax potentials, over jax-md.

Installed by the ``painnjax`` distribution. Not to be confused with the unrelated, abandoned
``md`` package on PyPI (a Maildir client): do not install both in one environment.

Today it holds the one place where ASE units meet jax-md's "metal" units
(:mod:`md.units`); the integrators (Nosé-Hoover chain, NVE, Langevin, FIRE), replicas, restart
files and spectra arrive with the MD issue.
"""
