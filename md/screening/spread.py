"""The committee's spread on a screen's minima: how far the model and further models disagree on each.

:func:`committee_spread` evaluates the model and every committee member of a
:class:`~painnjax.io.resolved.ResolvedModel` on each structure (one potential per member and atom
list) and gives, per structure, the standard deviation of their energies and the mean per-atom
spread of their forces (:func:`painnjax.training.committee.committee_stats`). A large spread marks
a minimum the model is unsure about.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from md.forces.build import build_potential, precision
from painnjax.io.resolved import ResolvedModel
from painnjax.potential import energy_and_forces
from painnjax.training.committee import committee_stats


def committee_spread(model: ResolvedModel, structures, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Energy std (eV) and mean per-atom force spread (eV/Å) of ``model`` and its committee on ``structures``."""
    if not structures:
        return np.zeros(0), np.zeros(0)
    models = [model.model, *model.committee]
    energies = np.zeros((len(models), len(structures)))
    forces: list[list[np.ndarray]] = [[] for _ in models]
    with precision(dtype):
        for i, m in enumerate(models):
            fns: dict[tuple, Callable] = {}
            for j, atoms in enumerate(structures):
                key = tuple(atoms.numbers)
                if key not in fns:
                    fns[key] = energy_and_forces(build_potential(m, atoms, dtype))
                e, f = jax.device_get(fns[key](atoms.positions))
                energies[i, j] = float(e)
                forces[i].append(np.asarray(f, np.float64))
    stats = committee_stats(energies, forces)
    return stats.energy_std, stats.force_spread
