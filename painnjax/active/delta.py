"""Δ-learning at run time: xTB (tblite) plus a PaiNN trained on the correction.

A model trained on E(high) − E(xTB) (e.g. DFT − GFN1-xTB; ``read_dataset(...,
delta_low_key=...)``) predicts only the correction. :class:`DeltaCalculator` adds it back to
the xTB energy and forces computed on the fly, giving the high-level estimate.

For evaluation and geometry optimisation; slow for MD: each step runs an xTB single point on
the CPU, which costs far more than the network (use a model trained on the high level
directly for dynamics).

Example:
    >>> from ase.optimize import BFGS
    >>> atoms.calc = DeltaCalculator("delta.painn", method="GFN1-xTB")  # doctest: +SKIP
    >>> BFGS(atoms).run(fmax=0.01)                                       # doctest: +SKIP
    >>> atoms.calc.results["energy_contributions"]                      # doctest: +SKIP
"""

from __future__ import annotations

import warnings

from ase.calculators.mixing import SumCalculator

from painnjax.active.label import check_method, tblite_calculator_class
from painnjax.interfaces.calculator import PaiNNCalculator


def _is_delta_model(model) -> bool:
    ref = model.metadata.get("energy_reference", {}) or {}
    return "delta" in ref or "delta" in (ref.get("trained_on") or {})


class DeltaCalculator(SumCalculator):
    """ASE calculator: energy and forces = xTB (tblite) + the network's correction.

    An ASE :class:`~ase.calculators.mixing.SumCalculator` of a ``tblite.ase.TBLite`` (``.xtb``)
    and a :class:`~painnjax.interfaces.calculator.PaiNNCalculator` (``.nn``): properties ``energy``
    (eV) and ``forces`` (eV/Å); both parts are cached per geometry, and after a calculation
    ``results["energy_contributions"]`` / ``results["forces_contributions"]`` hold
    ``[xtb, nn]``. For evaluation and geometry optimisation; slow for MD (xTB on the CPU
    dominates each step).

    Args:
        model: model file, bundled name or :class:`painnjax.Model` trained on the correction
            (a warning if its metadata does not say it was trained on a Δ target).
        method: ``"GFN1-xTB"`` (default), ``"GFN2-xTB"`` or ``"IPEA1-xTB"``: the low level
            the model was trained against.
        dtype: of the network, ``"float32"`` (default) or ``"float64"``.
        charge, multiplicity: of the system for xTB (default: from the atoms' initial charges
            and magnetic moments, i.e. neutral singlet for plain structures).
        **xtb_settings: further ``TBLite`` keywords (accuracy, electronic_temperature,
            max_iterations, ...).
    """

    def __init__(
        self, model, method: str = "GFN1-xTB", dtype: str = "float32", *, charge=None, multiplicity=None, **xtb_settings
    ):
        method = check_method(method)
        TBLite = tblite_calculator_class()
        self.method = method
        self.nn = PaiNNCalculator(model, dtype=dtype)
        if not _is_delta_model(self.nn.model):
            warnings.warn(
                "the model's metadata does not say it was trained on a Δ target (E(high) − E(xTB)); "
                "its energy is added to the xTB energy all the same",
                UserWarning,
                stacklevel=2,
            )
        self.xtb = TBLite(method=method, charge=charge, multiplicity=multiplicity, **{"verbosity": 0, **xtb_settings})
        super().__init__([self.xtb, self.nn])

    def __str__(self) -> str:
        return f"DeltaCalculator({self.method} + PaiNN)"


__all__ = ["DeltaCalculator"]
