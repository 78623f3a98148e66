"""Hyper-parameters of a PaiNN model, as data (a frozen dataclass, the ``[model]`` section of a run config),
kept apart from the modules; checked when built (:mod:`painnjax.config`)."""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

from painnjax.config import check, from_mapping, integer, is_real, positive

SECTION = "model"


@dataclass(frozen=True)
class PaiNNConfig:
    """Architecture of a PaiNN energy model.

    The defaults are the reference study's Table 2 (128 features, 5 interaction layers,
    20 Gaussian radial basis functions, 5 Å cosine cutoff), which gives 967,681 parameters,
    the same count as SchNetPack 2.1.1's PaiNN with an ``Atomwise`` energy head.

    Example:
        >>> PaiNNConfig(n_atom_basis=64, n_interactions=3, n_rbf=15).readout_sizes
        (32, 1)
    """

    n_atom_basis: int = 128
    n_interactions: int = 5
    n_rbf: int = 20
    cutoff: float = 5.0  # Å
    shared_interactions: bool = False
    shared_filters: bool = False
    epsilon: float = 1e-8  # inside the vector norm of the mixing block only
    max_z: int = 100  # rows of the nuclear embedding (SchNetPack: 100)
    # Hidden layer sizes of the atom-wise readout; None = SchNetPack's pyramid (F/2).
    readout_hidden: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name, low in (("n_atom_basis", 1), ("n_interactions", 1), ("n_rbf", 2), ("max_z", 1)):
            integer(SECTION, name, getattr(self, name), low)
        positive(SECTION, "cutoff", self.cutoff, "Å")
        for name in ("shared_interactions", "shared_filters"):
            check(
                getattr(self, name) in (True, False),
                SECTION,
                name,
                f"must be true or false, got {getattr(self, name)!r}",
            )
        check(
            is_real(self.epsilon) and self.epsilon >= 0,
            SECTION,
            "epsilon",
            f"must be a number >= 0, got {self.epsilon!r}",
        )
        hidden = self.readout_hidden
        if hidden is not None:
            check(
                isinstance(hidden, (list, tuple))
                and all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in hidden),
                SECTION,
                "readout_hidden",
                f"must be a list of layer sizes >= 1 (or none), got {hidden!r}",
            )
            object.__setattr__(self, "readout_hidden", tuple(int(h) for h in hidden))

    @property
    def readout_sizes(self) -> tuple[int, ...]:
        """Output sizes of the readout's dense layers, the last one being 1."""
        if self.readout_hidden is None:
            return (max(1, self.n_atom_basis // 2), 1)
        return (*self.readout_hidden, 1)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["readout_hidden"] is not None:
            d["readout_hidden"] = list(d["readout_hidden"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PaiNNConfig:
        """From :meth:`to_dict` (or a ``[model]`` table); unknown keys are refused."""
        return from_mapping(cls, SECTION, d)
