"""The model value type: a PaiNN's ``config``, ``variables`` (weights and constants) and ``metadata``.

A :class:`Model` lives in memory; :mod:`painnjax.io.modelfile` reads and writes it, and
:func:`painnjax.potential.potential` turns it into the pure energy function.

Example:
    >>> from painnjax.nn.config import PaiNNConfig
    >>> model = Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4))
    >>> model.n_parameters
    1729
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from painnjax.nn.config import PaiNNConfig
from painnjax.nn.painn import PaiNN, count_parameters, init_variables


@dataclass
class Model:
    """A PaiNN model ready to use: ``config``, ``variables`` (params + constants), ``metadata``.

    ``metadata`` keys: ``elements`` (atomic numbers the model was trained on, or None for any
    Z < max_z), ``energy_reference`` (what the energy means, e.g. ``{"kind": "total"}``),
    ``source`` (where it came from) and free-form entries.
    """

    config: PaiNNConfig
    variables: dict
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def init(cls, config: PaiNNConfig | None = None, seed: int = 0, elements=None, **metadata) -> Model:
        config = config or PaiNNConfig()
        meta = {
            "elements": None if elements is None else sorted(int(z) for z in elements),
            "energy_reference": {"kind": "total"},
            **metadata,
        }
        return cls(config, init_variables(config, seed), meta)

    @property
    def module(self) -> PaiNN:
        return PaiNN(self.config)

    @property
    def params(self):
        return self.variables["params"]

    @property
    def elements(self) -> tuple[int, ...] | None:
        e = self.metadata.get("elements")
        return None if e is None else tuple(int(z) for z in e)

    @property
    def n_parameters(self) -> int:
        return count_parameters(self.params)
