"""ASE calculator on the pure potential: total energy (eV) and forces (eV/Å) of clusters, and a committee's spread.

One jitted energy+forces function is kept per composition (species in order), so evaluating
the same cluster again -- an optimisation, ASE MD -- never recompiles. For clusters above 32
atoms a sparse pair list sized to the structure is used; it grows (one recompile) only if
the cluster becomes denser than the margin allows.

Given a committee (a list of models), the calculator returns the committee mean as
``energy`` and ``forces`` and puts the spread in ``results``, as committee calculators of
other codes do (standard deviations with divisor K, ``np.std``'s, as
:mod:`painnjax.training.committee` takes them):

- ``energy_std`` (eV): the standard deviation of the members' energies;
- ``forces_std`` (N, 3) eV/Å: the standard deviation of each force component;
- ``committee_energies`` (K,) eV and ``committee_forces`` (K, N, 3) eV/Å: each member's.

A cluster unlike those a model was trained on (an element, a molecule type or a size outside
its domain, :mod:`painnjax.data.domain`) is warned about once, when the calculator first meets
that composition.

Example:
    >>> from ase.io import read
    >>> atoms = read("SA7AM7.xyz")                              # doctest: +SKIP
    >>> atoms.calc = PaiNNCalculator("model.painn")             # doctest: +SKIP
    >>> atoms.get_potential_energy(), atoms.get_forces().shape  # doctest: +SKIP
    >>> atoms.calc = PaiNNCalculator(["m1.painn", "m2.painn"])  # doctest: +SKIP
    >>> atoms.get_potential_energy(), atoms.calc.results["energy_std"]  # doctest: +SKIP
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from painnjax.data.domain import warn_outside
from painnjax.errors import InputError
from painnjax.io.modelfile import load_model
from painnjax.potential import energy_and_forces, mean_potential, potential
from painnjax.validate import check_free_cluster, check_positions

#: what a committee adds to ``results`` (see the module doc)
COMMITTEE_PROPERTIES = ("energy_std", "forces_std", "committee_energies", "committee_forces")


class PaiNNCalculator(Calculator):
    """ASE calculator for a painnjax model (a path, a bundled model name, or a ``Model``), or
    for a committee of them (a list: their mean, with the spread in ``results``).

    Args:
        model: model file, bundled model name, or :class:`painnjax.Model`; or a list or tuple
            of them (a committee of at least two, sharing one cutoff).
        dtype: ``"float32"`` (default) or ``"float64"`` (needs ``jax.enable_x64``).
        ignore_cell: treat periodic atoms as a free cluster (cell and pbc not used); without
            it periodic atoms are an :class:`InputError` (the models are for free clusters).

    Attributes:
        model: the model (for a committee, its first member); ``models``: all of them.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model, dtype: str = "float32", ignore_cell: bool = False, **kwargs):
        super().__init__(**kwargs)
        given = list(model) if isinstance(model, (list, tuple)) else [model]
        if not given:
            raise InputError("PaiNNCalculator: a committee needs at least one model, got none")
        self.models = tuple(load_model(m) for m in given)
        self.model = self.models[0]
        self.committee = isinstance(model, (list, tuple)) and len(given) > 1
        if self.committee:
            self.implemented_properties = [*PaiNNCalculator.implemented_properties, *COMMITTEE_PROPERTIES]
        # How the domain warnings name each model: the file or bundled name as given.
        self._labels = [str(m) if isinstance(m, (str, os.PathLike)) else None for m in given]
        self.ignore_cell = bool(ignore_cell)
        self.dtype = jnp.dtype(dtype)
        self._fns: dict[tuple[int, ...], tuple] = {}

    def _function(self, numbers: np.ndarray, R: np.ndarray):
        key = tuple(int(z) for z in numbers)
        cached = self._fns.get(key)
        if cached is not None:
            energy_fn, fn = cached
            if energy_fn.fits(R):
                return fn
        else:  # a composition met for the first time
            for m, label in zip(self.models, self._labels):
                warn_outside(m, numbers, label=label, stacklevel=4)
        kwargs = dict(neighbor="auto", reference_positions=R, dtype=self.dtype)
        if self.committee:
            energy_fn = mean_potential(self.models, numbers, **kwargs)
            fn = _members_energy_and_forces(energy_fn.members)
        else:
            energy_fn = potential(self.model, numbers, **kwargs)
            fn = energy_and_forces(energy_fn)
        self._fns[key] = (energy_fn, fn)
        return fn

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        check_free_cluster(atoms, "PaiNNCalculator", ignore_cell=self.ignore_cell)
        numbers = atoms.get_atomic_numbers()
        R = check_positions(atoms.positions, len(numbers), symbols=atoms.get_chemical_symbols())
        fn = self._function(numbers, R)
        e, f = jax.device_get(fn(jnp.asarray(R, self.dtype)))
        E = np.asarray(e, np.float64).reshape(-1)  # (K,) eV: one per member (K = 1 for one model)
        F = np.asarray(f, np.float64).reshape(len(E), len(numbers), 3)  # (K, N, 3) eV/Å
        if not np.isfinite(E).all():
            raise InputError(f"the model gave a non-finite energy ({E.tolist()}) for this structure")
        energy = float(E.mean())
        self.results = {"energy": energy, "free_energy": energy, "forces": F.mean(axis=0)}
        if self.committee:
            self.results.update(
                energy_std=float(E.std()),
                forces_std=F.std(axis=0),
                committee_energies=E,
                committee_forces=F,
            )


def _members_energy_and_forces(members):
    """One jitted call ``R -> (E (K,), F (K, N, 3))`` of a committee's member potentials."""
    value_and_grads = [jax.value_and_grad(m) for m in members]

    @jax.jit
    def fn(R):
        out = [vg(R) for vg in value_and_grads]
        return jnp.stack([e for e, _ in out]), -jnp.stack([g for _, g in out])

    return fn
