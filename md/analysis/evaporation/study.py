"""A set of run folders -> their evaporation statistics: the records, the statistics per temperature, the fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from md.analysis.evaporation.formulas import DEFAULT_MOLECULES
from md.analysis.evaporation.runs import FirstPassage, read_runs
from md.analysis.evaporation.statistics import (
    Arrhenius,
    TemperatureStats,
    arrhenius_fit,
    check_confidence,
    temperature_stats,
)


@dataclass
class EvaporationStudy:
    """What :func:`evaporation_study` returns: the records, the statistics per temperature, the
    Arrhenius fit (None with fewer than two temperatures with events) and the settings."""

    records: list[FirstPassage]
    temperatures: list[TemperatureStats]
    arrhenius: Arrhenius | None
    confidence: float
    molecules: dict[str, str]
    runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        by_run: dict[str, dict] = {}
        for r in self.records:
            by_run.setdefault(
                r.run,
                {"folder": r.run, "cluster": r.cluster, "ensemble": r.ensemble, "resolution_ps": None},
            )
            if r.resolution_fs is not None:
                by_run[r.run]["resolution_ps"] = r.resolution_fs / 1000.0
        return {
            "what": "first molecule lost per replica: Kaplan-Meier survival and first-order rate per temperature",
            "confidence": self.confidence,
            "molecules": self.molecules,
            "runs": list(by_run.values()),
            "temperatures": [s.to_dict() for s in self.temperatures],
            "arrhenius": None if self.arrhenius is None else self.arrhenius.to_dict(),
            "replicas": [r.to_dict() for r in self.records],
        }


def evaporation_statistics(
    records: Sequence[FirstPassage], confidence: float = 0.95, molecules: Mapping[str, str] = DEFAULT_MOLECULES
) -> EvaporationStudy:
    """The statistics of first-passage ``records`` (from :func:`read_runs`, or made by hand)."""
    stats = temperature_stats(records, confidence)
    with_events = [s for s in stats if s.evaporated > 0 and np.isfinite(s.rate)]
    fit = None
    if len(with_events) >= 2:
        fit = arrhenius_fit(
            [s.temperature for s in with_events], [s.rate for s in with_events], [s.evaporated for s in with_events]
        )
    runs = list(dict.fromkeys(r.run for r in records))
    return EvaporationStudy(list(records), stats, fit, check_confidence(confidence), dict(molecules), runs)


def evaporation_study(
    folders: Sequence,
    confidence: float = 0.95,
    molecules: Mapping[str, str] = DEFAULT_MOLECULES,
    cluster: str | None = None,
) -> EvaporationStudy:
    """Read the ``painnjax md`` run folders and compute the evaporation statistics (see the module);
    ``cluster``: only the replicas of this formula (see :func:`read_runs`)."""
    confidence = check_confidence(confidence)
    return evaporation_statistics(read_runs(folders, molecules, cluster), confidence, molecules)
