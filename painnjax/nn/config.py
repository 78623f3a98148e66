"""Hyper-parameters of a PaiNN model, as data (a frozen dataclass), kept apart from the modules."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


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
        for name in ("n_atom_basis", "n_interactions", "n_rbf", "max_z"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PaiNNConfig.{name} must be a positive integer, got {value!r}")
        if self.n_rbf < 2:
            raise ValueError(f"PaiNNConfig.n_rbf must be at least 2, got {self.n_rbf}")
        if not self.cutoff > 0:
            raise ValueError(f"PaiNNConfig.cutoff must be positive (Å), got {self.cutoff!r}")
        if self.readout_hidden is not None:
            object.__setattr__(self, "readout_hidden", tuple(int(h) for h in self.readout_hidden))

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
    def from_dict(cls, d: dict[str, Any]) -> "PaiNNConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown PaiNN hyper-parameter(s): {', '.join(unknown)}")
        return cls(**d)
