"""ASE calculator on the pure potential: total energy (eV) and forces (eV/Å) of clusters.

One jitted energy+forces function is kept per composition (species in order), so evaluating
the same cluster again -- an optimisation, ASE MD -- never recompiles. For clusters above 32
atoms a sparse pair list sized to the structure is used; it grows (one recompile) only if
the cluster becomes denser than the margin allows.

Example:
    >>> from ase.io import read
    >>> atoms = read("SA7AM7.xyz")                              # doctest: +SKIP
    >>> atoms.calc = PaiNNCalculator("model.painn")             # doctest: +SKIP
    >>> atoms.get_potential_energy(), atoms.get_forces().shape  # doctest: +SKIP
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from painnjax.errors import InputError
from painnjax.io.modelfile import load_model
from painnjax.potential import energy_and_forces, potential
from painnjax.validate import check_free_cluster, check_positions


class PaiNNCalculator(Calculator):
    """ASE calculator for a painnjax model (a path, a bundled model name, or a ``Model``).

    Args:
        model: model file, bundled model name, or :class:`painnjax.Model`.
        dtype: ``"float32"`` (default) or ``"float64"`` (needs ``jax.enable_x64``).
        ignore_cell: treat periodic atoms as a free cluster (cell and pbc not used); without
            it periodic atoms are an :class:`InputError` (the models are for free clusters).
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model, dtype: str = "float32", ignore_cell: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.model = load_model(model)
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
        energy_fn = potential(self.model, numbers, neighbor="auto", reference_positions=R, dtype=self.dtype)
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
        e, f = fn(jnp.asarray(R, self.dtype))
        e = float(e)
        if not np.isfinite(e):
            raise InputError(f"the model gave a non-finite energy ({e}) for this structure")
        self.results = {"energy": e, "free_energy": e, "forces": np.asarray(f, dtype=np.float64)}
