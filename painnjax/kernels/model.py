"""A trained kernel model: its ``[model]`` config, its arrays and what its predictions mean.

:class:`KernelModel` is what :mod:`.files` stores and :mod:`.workflow` makes: ``config`` (a
:class:`~painnjax.kernels.config.KernelModelConfig`), ``arrays`` (name -> numpy array: the
training representations or vectors, α or the targets) and ``metadata`` (``"target"``: the
energy key, the Δ low level, the monomer energies of both levels in eV; provenance and
timings). Predictions are the target in eV: ΔE, or the correction ΔΔE of a Δ model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from painnjax.kernels.config import KernelModelConfig
from painnjax.kernels.knn import predict_knn
from painnjax.kernels.krr import predict_krr
from painnjax.kernels.representation import Representations, fchl19


@dataclass
class KernelModel:
    config: KernelModelConfig
    arrays: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def n_train(self) -> int:
        return len(self.arrays["alpha"] if self.kind == "krr" else self.arrays["y"])

    def represent(self, numbers, positions) -> Representations:
        """FCHL19 of structures with the model's parameters and elements."""
        return fchl19(numbers, positions, self.config.fchl19, self.config.elements)

    def predict(self, numbers, positions) -> tuple[np.ndarray, np.ndarray | None]:
        """(S,) predicted targets (eV) and, for k-NN, (S,) the neighbours' spread (eV); KRR: None."""
        reps = self.represent(numbers, positions)
        if self.kind == "krr":
            return predict_krr(self.arrays, reps, self.config.sigma), None
        return predict_knn(self.arrays, reps, self.config)

    def describe(self) -> str:
        """One line: kind, hyperparameters, training size, target."""
        c = self.config
        target = self.metadata.get("target", {})
        low = target.get("low_method") or target.get("delta_low_key")
        what = f"Δ over {low}" if target.get("delta_low_key") else "direct"
        if self.kind == "krr":
            hyper = f"sigma {c.sigma:g}, lambda {c.regularization:g}"
        else:
            hyper = f"k {c.k}, {c.weights} weights, metric {c.metric}"
        return f"{self.kind.upper()} on FCHL19 ({hyper}), {self.n_train} training structures, {what}"
