"""The ``[data]`` and ``[split]`` sections of a training run config, as frozen dataclasses.

:class:`DataConfig` says how :func:`painnjax.data.dataset.read_dataset` reads the labels and
which reference energies are taken off; :class:`SplitConfig` holds the options of
:func:`painnjax.data.splits.make_split`. Both are checked when built (:mod:`painnjax.config`).

Example:
    >>> SplitConfig(valid_fraction=0.2, test_compositions="SA4AM4").test_compositions
    ('SA4AM4',)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from painnjax.config import check, is_int, is_real
from painnjax.units import ENERGY_UNITS


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: where the labels are and what they are relative to.

    Attributes:
        energy_key: ``atoms.info`` key of the energy; ``""``: the calculator's energy.
        forces_key: ``atoms.arrays`` key of the forces; ``""``: the calculator's forces.
        energy_unit: a key of :data:`painnjax.units.ENERGY_UNITS`, or a factor to eV.
        monomers: a monomer file (or bundled set): train on binding energies against it;
            ``""``: per-element energy offsets fitted to the data.
        delta_low_key: Δ-learning against ``atoms.info[delta_low_key]``; ``""``: off.
        ignore_cell: read periodic frames as free clusters (cell and pbc dropped); False: a
            periodic frame is an error (the models are for free clusters).
    """

    energy_key: str = ""
    forces_key: str = ""
    energy_unit: str = "eV"
    monomers: str = ""
    delta_low_key: str = ""
    ignore_cell: bool = False

    def __post_init__(self):
        ignore = self.ignore_cell
        check(isinstance(ignore, bool), "data", "ignore_cell", f"must be true or false, got {ignore!r}")
        for key in ("energy_key", "forces_key", "delta_low_key"):
            value = getattr(self, key)
            check(value is None or isinstance(value, str), "data", key, f"must be a string, got {value!r}")
        check(
            self.monomers is None or isinstance(self.monomers, (str, os.PathLike)),
            "data",
            "monomers",
            f"must be a file or bundled set name, got {self.monomers!r}",
        )
        unit = self.energy_unit
        check(
            unit in ENERGY_UNITS if isinstance(unit, str) else is_real(unit) and unit > 0,
            "data",
            "energy_unit",
            f"unknown unit {unit!r}; known: {', '.join(ENERGY_UNITS)} (or a positive factor to eV)",
        )


@dataclass(frozen=True)
class SplitConfig:
    """``[split]``: the options of :func:`painnjax.data.splits.make_split` (see there)."""

    valid_fraction: float = 0.1
    seed: int = 42
    by: str = "frame"  # or "trajectory"
    test_largest: int = 0
    test_compositions: tuple[str, ...] = ()
    extend: str = ""  # an earlier run's split.json: kept for its structures, the added ones split anew

    def __post_init__(self):
        f = self.valid_fraction
        check(is_real(f) and 0.0 <= f < 1.0, "split", "valid_fraction", f"must be in [0, 1), got {f!r}")
        check(is_int(self.seed), "split", "seed", f"must be an integer, got {self.seed!r}")
        check(self.by in ("frame", "trajectory"), "split", "by", f"must be 'frame' or 'trajectory', got {self.by!r}")
        check(
            is_int(self.test_largest) and self.test_largest >= 0,
            "split",
            "test_largest",
            f"must be an integer >= 0, got {self.test_largest!r}",
        )
        comps = self.test_compositions
        comps = [] if comps is None else [comps] if isinstance(comps, str) else comps
        check(
            isinstance(comps, (list, tuple)) and all(isinstance(c, str) for c in comps),
            "split",
            "test_compositions",
            f"must be a list of compositions such as 'SA4AM4', got {self.test_compositions!r}",
        )
        object.__setattr__(self, "test_compositions", tuple(comps))
        check(isinstance(self.extend, str), "split", "extend", f"must be the path of a split.json, got {self.extend!r}")
