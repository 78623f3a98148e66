"""Evaporation statistics of MD runs: how long a cluster keeps all its molecules at each temperature.

``painnjax md`` stops a replica whose cluster loses a group of atoms (a group farther than
``fragment_distance`` Å, default the model's cutoff, from the rest); ``summary.json`` records
when (``stop_time_fs``) and what left (``fragments``, Hill formulas such as ``H3N``). Every
replica is a *first-passage* experiment: the time until the first molecule is lost, or, for a
replica that reached the end of the run, a lower bound on it (right-censored).

- :func:`read_run`, :func:`read_runs` (:mod:`.runs`): the run folders as one :class:`FirstPassage` per replica.
  A fragment is an *evaporation* when every group that left is a whole molecule, an ion, or a
  cluster of them (:mod:`.formulas`; :data:`DEFAULT_MOLECULES`: SA, bisulfate, sulfate, AM,
  ammonium, W, hydronium; any sum of these, e.g. ``H5NO4S`` = SA + AM); otherwise a *broken molecule*, a failure of the
  model, counted apart and treated as censored at its time (a competing risk), with a
  :class:`BrokenMoleculeWarning`. Stops of other kinds (temperature, non-finite, ...) are
  censored at their time and counted apart too; a replica still running in an interrupted run
  is censored where the run got to.
- :func:`kaplan_meier` (:mod:`.statistics`, as the two below): the survival curve
  ``S(t) = Π (1 - d_j / n_j)`` with a pointwise band from Greenwood's variance on the
  log(-log S) scale.
- :func:`rate_interval`: the first-order rate ``k = d / T`` (``d`` events, ``T`` total time at
  risk; the maximum-likelihood estimate of an exponential lifetime under right censoring) and its
  chi-square interval ``[χ²(α/2; 2d) / 2T, χ²(1 - α/2; 2d + 2) / 2T]`` (lower bound 0 for d = 0).
- :func:`arrhenius_fit`: ``ln k = ln A - Ea / (R T)`` by least squares weighted with the Poisson
  uncertainty of each ``ln k`` (``1/sqrt(d)``).
- :func:`evaporation_study` (:mod:`.study`) reads the folders and computes all of it per
  temperature (rounded to 0.1 K, pooled across folders); :func:`format_evaporation` (:mod:`.report`)
  prints it and :func:`write_evaporation` writes ``evaporation.json``, ``survival.csv`` and ``survival.png``.

Units: times in ps, rates in 1/ns, ``Ea`` in kcal/mol (records keep the run's fs).

Example:
    >>> import numpy as np
    >>> k, lo, hi = rate_interval(4, 8000.0)  # 4 molecules lost in 8000 ps of replica time
    >>> round(k * 1000, 3), round(lo * 1000, 3), round(hi * 1000, 3)  # 1/ns
    (0.5, 0.136, 1.28)
    >>> km = kaplan_meier([1.0, 2.0, 2.0, 3.0], [True, True, False, False])
    >>> km.survival.round(3).tolist(), km.median()
    ([1.0, 0.75, 0.5, 0.5], 2.0)
    >>> molecule_name("H5NO4S"), molecule_name("HO")
    ('SA+AM', None)
"""

from __future__ import annotations

# The public face of the subpackage: its modules' public names, importable from here.
from md.analysis.evaporation.formulas import (
    DEFAULT_MOLECULES,
    check_molecules,
    decompose,
    fragments_from_message,
    molecule_name,
)
from md.analysis.evaporation.report import (
    CSV_COLUMNS,
    format_evaporation,
    format_lost,
    plot_survival,
    survival_csv,
    write_evaporation,
)
from md.analysis.evaporation.runs import (
    OUTCOMES,
    SUMMARY_FILE,
    BrokenMoleculeWarning,
    FirstPassage,
    read_run,
    read_runs,
)
from md.analysis.evaporation.statistics import (
    R_KCAL_PER_MOL_K,
    Arrhenius,
    KaplanMeier,
    TemperatureStats,
    arrhenius_fit,
    check_confidence,
    kaplan_meier,
    rate_interval,
    temperature_key,
    temperature_stats,
)
from md.analysis.evaporation.study import EvaporationStudy, evaporation_statistics, evaporation_study

__all__ = [
    "Arrhenius",
    "BrokenMoleculeWarning",
    "CSV_COLUMNS",
    "DEFAULT_MOLECULES",
    "EvaporationStudy",
    "FirstPassage",
    "KaplanMeier",
    "OUTCOMES",
    "R_KCAL_PER_MOL_K",
    "SUMMARY_FILE",
    "TemperatureStats",
    "arrhenius_fit",
    "check_confidence",
    "check_molecules",
    "decompose",
    "evaporation_statistics",
    "evaporation_study",
    "format_evaporation",
    "format_lost",
    "fragments_from_message",
    "kaplan_meier",
    "molecule_name",
    "plot_survival",
    "rate_interval",
    "read_run",
    "read_runs",
    "survival_csv",
    "temperature_key",
    "temperature_stats",
    "write_evaporation",
]
