"""Evaporation statistics of MD runs: how long a cluster keeps all its molecules at each temperature.

``painnjax md`` stops a replica whose cluster loses a group of atoms (a group farther than
``fragment_distance`` Å, default the model's cutoff, from the rest); ``summary.json`` records
when (``stop_time_fs``) and what left (``fragments``, Hill formulas such as ``H3N``). Every
replica is a *first-passage* experiment: the time until the first molecule is lost, or, for a
replica that reached the end of the run, a lower bound on it (right-censored).

- :func:`read_run`, :func:`read_runs`: the run folders as one :class:`FirstPassage` per replica.
  A fragment is an *evaporation* when every group that left is a whole molecule, an ion, or a
  cluster of them (:data:`DEFAULT_MOLECULES`: SA, bisulfate, sulfate, AM, ammonium, W, hydronium;
  any sum of these, e.g. ``H5NO4S`` = SA + AM); otherwise a *broken molecule*, a failure of the
  model, counted apart and treated as censored at its time (a competing risk), with a
  :class:`BrokenMoleculeWarning`. Stops of other kinds (temperature, non-finite, ...) are
  censored at their time and counted apart too; a replica still running in an interrupted run
  is censored where the run got to.
- :func:`kaplan_meier`: the survival curve ``S(t) = Π (1 - d_j / n_j)`` with a pointwise band
  from Greenwood's variance on the log(-log S) scale.
- :func:`rate_interval`: the first-order rate ``k = d / T`` (``d`` events, ``T`` total time at
  risk; the maximum-likelihood estimate of an exponential lifetime under right censoring) and its
  chi-square interval ``[χ²(α/2; 2d) / 2T, χ²(1 - α/2; 2d + 2) / 2T]`` (lower bound 0 for d = 0).
- :func:`arrhenius_fit`: ``ln k = ln A - Ea / (R T)`` by least squares weighted with the Poisson
  uncertainty of each ``ln k`` (``1/sqrt(d)``).
- :func:`evaporation_study` reads the folders and computes all of it per temperature (rounded to
  0.1 K, pooled across folders); :func:`format_evaporation` prints it and
  :func:`write_evaporation` writes ``evaporation.json``, ``survival.csv`` and ``survival.png``.

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

import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from painnjax import units
from painnjax.errors import InputError

#: molecules and ions of the field, name -> Hill formula (as ``summary.json`` writes fragments);
#: a fragment is a lost molecule when its formula is a sum of these
DEFAULT_MOLECULES: dict[str, str] = {
    "SA": "H2O4S",  # sulfuric acid
    "B": "HO4S",  # bisulfate HSO4-
    "SO4": "O4S",  # sulfate SO4 2-
    "AM": "H3N",  # ammonia
    "AH": "H4N",  # ammonium NH4+
    "W": "H2O",  # water
    "H3O": "H3O",  # hydronium H3O+
}
#: the gas constant, kcal/(mol K)
R_KCAL_PER_MOL_K = units.KB_EV * units.EV_TO_KCAL_PER_MOL
#: what a replica's record says happened (only ``"evaporated"`` is an event)
OUTCOMES = ("evaporated", "broken", "stopped", "completed", "running")
SUMMARY_FILE = "summary.json"


class BrokenMoleculeWarning(RuntimeWarning):
    """A replica lost a group of atoms that is not a whole molecule: the model broke a molecule."""


# --------------------------------------------------------------------------------------------
# Formulas


_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*)")
_FORMULA = re.compile(r"(?:[A-Z][a-z]?\d*)+")
# "a fragment H3N (atoms 12, 13, 14, 15); HO (atoms 22, 23) is more than 5 Å from ..."
_FRAGMENT_IN_MESSAGE = re.compile(r"([A-Z][A-Za-z0-9]*) \(atoms? ")


def parse_formula(formula: str) -> dict[str, int]:
    """Element counts of a formula such as ``"H2O4S"``; InputError for anything else."""
    text = str(formula).strip()
    if not _FORMULA.fullmatch(text):
        raise InputError(f"cannot read {formula!r} as a chemical formula")
    counts: Counter = Counter()
    for element, n in _ELEMENT.findall(text):
        if n and int(n) == 0:
            raise InputError(f"cannot read {formula!r} as a chemical formula (a count of 0)")
        counts[element] += int(n) if n else 1
    return dict(counts)


def _molecule_table(molecules: Mapping[str, str]) -> list[tuple[str, dict[str, int]]]:
    table = []
    for name, formula in molecules.items():
        try:
            table.append((str(name), parse_formula(formula)))
        except InputError as err:
            raise InputError(f"molecule {name!r}: {err}") from None
    if not table:
        raise InputError("no molecules given to tell an evaporation from a broken molecule")
    return table


def decompose(formula: str, molecules: Mapping[str, str] = DEFAULT_MOLECULES) -> dict[str, int] | None:
    """Counts of ``molecules`` whose atoms add up to ``formula`` exactly, or None.

    Depth-first in table order, each count tried from its largest value down: with ambiguous
    tables (SA + AM has the atoms of bisulfate + ammonium) the molecules listed first win.
    """
    target = parse_formula(formula)
    table = _molecule_table(molecules)
    elements = sorted(set(target).union(*(m for _, m in table)))
    if set(target) - set().union(*(m for _, m in table)):
        return None
    counts = [0] * len(table)

    def search(i: int, rest: dict[str, int]) -> bool:
        if not any(rest.values()):
            counts[i:] = [0] * (len(table) - i)
            return True
        if i == len(table):
            return False
        comp = table[i][1]
        top = min(rest.get(el, 0) // n for el, n in comp.items())
        for c in range(top, -1, -1):
            counts[i] = c
            if search(i + 1, {el: rest[el] - c * comp.get(el, 0) for el in elements}):
                return True
        counts[i] = 0
        return False

    if not search(0, {el: target.get(el, 0) for el in elements}):
        return None
    return {name: c for (name, _), c in zip(table, counts) if c}


def molecule_name(formula: str, molecules: Mapping[str, str] = DEFAULT_MOLECULES) -> str | None:
    """``"AM"`` for ``"H3N"``, ``"SA+AM"`` for ``"H5NO4S"``, ``"2W"`` for ``"H4O2"``; None when
    the formula is not a sum of whole ``molecules`` (a broken molecule)."""
    counts = decompose(formula, molecules)
    if not counts:
        return None
    return "+".join(f"{c if c > 1 else ''}{name}" for name, c in counts.items())


def fragments_from_message(message: str) -> list[str]:
    """The formulas in a fragmentation message of ``painnjax md`` (runs older than the
    ``fragments`` key): ``"a fragment H3N (atom 12) is more than 5 Å ..."`` -> ``["H3N"]``."""
    return _FRAGMENT_IN_MESSAGE.findall(str(message))


# --------------------------------------------------------------------------------------------
# Run folders


@dataclass
class FirstPassage:
    """One replica as a first-passage record.

    Attributes:
        run: the run folder; replica: its index there; temperature: K (the replica's target).
        time_fs: when the first molecule was lost (``outcome == "evaporated"``), else the time
            the replica was followed without losing one (censoring time).
        outcome: ``"evaporated"`` (the event), ``"broken"`` (lost a group that is not a whole
            molecule: model failure), ``"stopped"`` (another safety stop, see ``stop_reason``),
            ``"completed"`` or ``"running"`` (an interrupted run).
        stop_reason: the safety stop's kind (fragmentation, temperature, non-finite, ...) or None.
        fragments: the formulas of the groups that left; lost: their molecule names (None for a
            formula that is not a sum of molecules).
        resolution_fs: ``log_every * dt``, the spacing of the checks (None when not recorded).
        cluster, ensemble: the run's cluster formula and ensemble.
    """

    run: str
    replica: int
    temperature: float
    time_fs: float
    outcome: str
    stop_reason: str | None = None
    fragments: tuple[str, ...] = ()
    lost: tuple[str | None, ...] = ()
    resolution_fs: float | None = None
    cluster: str | None = None
    ensemble: str | None = None
    message: str | None = None

    @property
    def event(self) -> bool:
        """True when the replica lost a molecule (evaporation); every other outcome is censored."""
        return self.outcome == "evaporated"

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "replica": self.replica,
            "T_K": self.temperature,
            "time_ps": self.time_fs / 1000.0,
            "outcome": self.outcome,
            "stop_reason": self.stop_reason,
            "fragments": list(self.fragments),
            "lost": list(self.lost),
        }


def _number(value, what: str, path, minimum: float | None = None) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise InputError(f"{path}: {what} must be a finite number{bound}, got {value!r}")
    return float(value)


def _read_summary(folder: Path) -> tuple[Path, dict]:
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (give painnjax md run folders, each with {SUMMARY_FILE})")
    path = folder / SUMMARY_FILE
    if not path.is_file():
        raise InputError(
            f"{folder}: no {SUMMARY_FILE}: not a painnjax md run folder (or its run has not finished a session yet)"
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("replica_status"), list):
        raise InputError(f"{path}: not the summary of a painnjax md run (no replica_status list)")
    if not summary["replica_status"]:
        raise InputError(f"{path}: the run has no replicas")
    return path, summary


def _classify(fragments: Sequence[str], molecules: Mapping[str, str]) -> tuple[str, tuple[str | None, ...]]:
    names = []
    for f in fragments:
        try:
            names.append(molecule_name(f, molecules))
        except InputError:  # not a formula at all: certainly not a known molecule
            names.append(None)
    ok = bool(fragments) and all(n is not None for n in names)
    return ("evaporated" if ok else "broken"), tuple(names)


def read_run(folder, molecules: Mapping[str, str] = DEFAULT_MOLECULES) -> list[FirstPassage]:
    """One :class:`FirstPassage` per replica of the ``painnjax md`` run in ``folder``.

    Raises :class:`InputError` naming the folder or its ``summary.json`` when there is none, it
    is not a run's summary, or the run had no fragmentation check (``fragment_distance`` 0).
    Warns (:class:`BrokenMoleculeWarning`) about each replica that lost a broken molecule.
    """
    folder = Path(folder)
    _molecule_table(molecules)  # a bad table is an error even when nothing fragmented
    path, s = _read_summary(folder)
    dt = _number(s.get("dt_fs"), "dt_fs", path, minimum=0)
    steps_done = _number(s.get("steps_done"), "steps_done", path, minimum=0)
    config = s.get("config") if isinstance(s.get("config"), dict) else {}
    fd = config.get("fragment_distance")
    if fd == 0 or (fd is None and config.get("wall_radius") is not None):  # a wall's default is no check
        raise InputError(
            f"{path}: the run was made without the fragmentation check (fragment_distance 0"
            f"{', a wall' if config.get('wall_radius') is not None else ''}): it has no evaporation times"
        )
    if config.get("exchange_every"):
        raise InputError(
            f"{path}: a replica-exchange run: configurations move between the temperatures, so a replica's "
            "time to fragmentation is not that of one temperature"
        )
    log_every = config.get("log_every")
    resolution = log_every * dt if isinstance(log_every, int) and not isinstance(log_every, bool) else None
    temps = s.get("temperatures_K") if isinstance(s.get("temperatures_K"), list) else []
    records = []
    for r, st in enumerate(s["replica_status"]):
        if not isinstance(st, dict):
            raise InputError(f"{path}: replica_status[{r}] is not an object")
        replica = st.get("replica", r)
        T = st.get("temperature_K", temps[r] if r < len(temps) else None)
        T = _number(T, f"the temperature of replica {replica}", path, minimum=0)
        status = st.get("status")
        common = dict(
            run=str(folder),
            replica=int(replica),
            temperature=T,
            resolution_fs=resolution,
            cluster=st.get("formula", s.get("formula")),  # a run of several clusters: the replica's own
            ensemble=s.get("ensemble"),
        )
        if status in ("completed", "running"):
            records.append(FirstPassage(time_fs=steps_done * dt, outcome=status, **common))
            continue
        if status != "stopped":
            raise InputError(f"{path}: replica {replica} has an unknown status {status!r}")
        kind = st.get("stop_reason")
        if "stop_time_fs" in st:
            t = _number(st["stop_time_fs"], f"stop_time_fs of replica {replica}", path, minimum=0)
        else:
            t = _number(st.get("stop_step"), f"stop_step of replica {replica}", path, minimum=0) * dt
        message = st.get("message")
        if kind != "fragmentation":
            records.append(FirstPassage(time_fs=t, outcome="stopped", stop_reason=kind, message=message, **common))
            continue
        frags = st.get("fragments")
        if frags is None:  # runs older than the "fragments" key
            frags = fragments_from_message(message or "")
        if not isinstance(frags, list) or not all(isinstance(f, str) for f in frags):
            raise InputError(f"{path}: the fragments of replica {replica} are not a list of formulas: {frags!r}")
        outcome, lost = _classify(frags, molecules)
        rec = FirstPassage(
            time_fs=t,
            outcome=outcome,
            stop_reason=kind,
            fragments=tuple(frags),
            lost=lost,
            message=message,
            **common,
        )
        if outcome == "broken":
            what = ", ".join(frags) if frags else "a group of unknown formula"
            warnings.warn(
                f"{folder}: replica {replica} ({T:g} K) lost {what} at {t / 1000:g} ps: not a whole molecule of "
                f"{', '.join(molecules)} or a cluster of them. A broken molecule is a failure of the model, "
                "not an evaporation: counted apart, as censored at that time",
                BrokenMoleculeWarning,
                stacklevel=2,
            )
        records.append(rec)
    return records


def read_runs(
    folders: Sequence, molecules: Mapping[str, str] = DEFAULT_MOLECULES, cluster: str | None = None
) -> list[FirstPassage]:
    """:func:`read_run` of every folder, in order. A folder given twice, or runs of different
    clusters (which must not be pooled), are an :class:`InputError`; ``cluster`` (a formula,
    e.g. ``H20N4O16S4``) keeps the replicas of that cluster only (runs of several clusters)."""
    folders = [Path(f) for f in folders]
    if not folders:
        raise InputError("no run folders given")
    seen: dict[Path, Path] = {}
    for f in folders:
        key = f.resolve()
        if key in seen:
            raise InputError(f"{f}: the run folder is given twice (as {seen[key]} too)")
        seen[key] = f
    records = []
    for f in folders:
        records += read_run(f, molecules)
    if cluster is not None:
        found = sorted({r.cluster for r in records if r.cluster is not None})
        records = [r for r in records if r.cluster == cluster]
        if not records:
            held = ", ".join(found) or "none"
            raise InputError(f"no replica of the cluster {cluster} in the runs (they hold {held})")
    clusters = {r.cluster: r.run for r in records if r.cluster is not None}
    if len(clusters) > 1:
        shown = ", ".join(f"{c} in {run}" for c, run in clusters.items())
        raise InputError(
            f"the runs are of different clusters ({shown}): analyse each cluster on its own (--cluster FORMULA)"
        )
    return records


# --------------------------------------------------------------------------------------------
# Estimators


def check_confidence(confidence) -> float:
    """The confidence level as a float in (0, 1); InputError otherwise."""
    ok = isinstance(confidence, (int, float, np.floating)) and not isinstance(confidence, bool)
    if not (ok and 0 < float(confidence) < 1):
        raise InputError(f"the confidence level must be a number between 0 and 1 (e.g. 0.95), got {confidence!r}")
    return float(confidence)


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


@dataclass
class KaplanMeier:
    """A Kaplan–Meier curve, one row per distinct observed time (and one at 0 before them).

    ``survival[i]`` holds from ``time[i]`` up to the next time (a right-continuous step);
    ``at_risk[i]`` replicas were still followed at ``time[i]`` (censored ones at ``time[i]``
    included), ``events[i]`` were lost and ``censored[i]`` left the study there. ``lower`` and
    ``upper``: the pointwise band at ``confidence`` from Greenwood's variance on the log(-log)
    scale, ``S^exp(±z σ)``, ``σ² = Σ d/(n(n-d)) / ln² S`` (the band is [1, 1] before the first
    event and [0, 0] once S reaches 0).
    """

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    greenwood: np.ndarray
    confidence: float

    def median(self) -> float | None:
        """The first time at which the survival is 0.5 or less; None when it is not reached."""
        below = np.flatnonzero(self.survival <= 0.5)
        return float(self.time[below[0]]) if below.size else None

    def at(self, t) -> np.ndarray:
        """The survival at the times ``t`` (1 before the first observed time)."""
        i = np.searchsorted(self.time, np.asarray(t, np.float64), side="right") - 1
        return np.where(i >= 0, self.survival[np.maximum(i, 0)], 1.0)


def kaplan_meier(times, events, confidence: float = 0.95) -> KaplanMeier:
    """The Kaplan–Meier estimate of the survival from event or censoring ``times`` (any unit,
    >= 0) and ``events`` (True: the event happened at that time; False: censored there)."""
    confidence = check_confidence(confidence)
    t = np.asarray(times, np.float64).ravel()
    e = np.asarray(events, bool).ravel()
    if t.shape != e.shape:
        raise InputError(f"{t.size} times but {e.size} event flags")
    if t.size == 0:
        raise InputError("no times for a survival curve")
    if not (np.isfinite(t).all() and (t >= 0).all()):
        raise InputError("survival times must be finite and >= 0")
    grid, idx = np.unique(t, return_inverse=True)
    d = np.bincount(idx, weights=e, minlength=grid.size).astype(np.int64)
    total = np.bincount(idx, minlength=grid.size).astype(np.int64)
    n = t.size - np.concatenate([[0], np.cumsum(total)[:-1]])
    S = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))
        z = _z(confidence)
        sigma = np.sqrt(gw) / np.abs(np.log(S))
        lower = np.where((S > 0) & (S < 1), S ** np.exp(z * sigma), S)
        upper = np.where((S > 0) & (S < 1), S ** np.exp(-z * sigma), S)
    rows = (grid, n, d, total - d, S, lower, upper, gw)
    if grid[0] > 0:  # the start: everyone at risk, nothing happened yet
        rows = tuple(np.concatenate([[v0], v]) for v0, v in zip((0.0, t.size, 0, 0, 1.0, 1.0, 1.0, 0.0), rows))
    return KaplanMeier(*rows, confidence=confidence)


def rate_interval(events, time_at_risk, confidence: float = 0.95):
    """The first-order rate ``k = d / T`` and its two-sided ``confidence`` interval.

    ``d`` events in a total time at risk ``T`` (the sum of every replica's event or censoring
    time): the maximum-likelihood rate of an exponential lifetime with right censoring. The
    interval is the chi-square (Poisson-count) one, ``χ²(α/2; 2d) / 2T`` to
    ``χ²(1 - α/2; 2d + 2) / 2T`` with ``α = 1 - confidence``; with ``d = 0`` the lower bound is
    0 and the upper one is still finite. Broadcasts over arrays; rates in 1 / (the unit of T).
    Returns ``(k, lower, upper)``.
    """
    from scipy.stats import chi2

    confidence = check_confidence(confidence)
    d = np.asarray(events, np.float64)
    T = np.asarray(time_at_risk, np.float64)
    if (d < 0).any() or (d != np.round(d)).any():
        raise InputError(f"event counts must be whole numbers >= 0, got {events!r}")
    if not (np.isfinite(T).all() and (T > 0).all()):
        raise InputError(f"the time at risk must be finite and > 0, got {time_at_risk!r}")
    alpha = 1.0 - confidence
    k = d / T
    lower = np.where(d > 0, chi2.ppf(alpha / 2, 2 * np.maximum(d, 1)) / (2 * T), 0.0)
    upper = chi2.ppf(1 - alpha / 2, 2 * d + 2) / (2 * T)
    if k.ndim == 0:
        return float(k), float(lower), float(upper)
    return k, lower, upper


@dataclass
class TemperatureStats:
    """The replicas at one temperature: counts, Kaplan–Meier curve and first-order rate.

    Attributes:
        temperature: K; replicas: how many; evaporated: events; broken: censored at a broken
            molecule; other_stops: censored at another safety stop (by kind in ``stop_kinds``);
            completed, running: censored at the end of their run.
        time_at_risk_ps: the total time the replicas were followed (event or censoring times).
        rate, rate_lower, rate_upper: ``k`` and its interval, 1/ns.
        lifetime_ps: ``1/k`` (inf without events), lifetime_lower_ps/upper_ps: ``1/upper``, ``1/lower``.
        median_ps: the Kaplan–Meier median, None when the survival stays above 0.5.
        lost: how often each formula left in an evaporation; broken_fragments: the same for
            broken molecules. km: the curve (times in ps).
    """

    temperature: float
    replicas: int
    evaporated: int
    broken: int
    other_stops: int
    completed: int
    running: int
    time_at_risk_ps: float
    rate: float
    rate_lower: float
    rate_upper: float
    median_ps: float | None
    lost: dict[str, int]
    broken_fragments: dict[str, int]
    stop_kinds: dict[str, int]
    km: KaplanMeier
    confidence: float

    @property
    def lifetime_ps(self) -> float:
        return 1000.0 / self.rate if self.rate > 0 else math.inf

    @property
    def lifetime_lower_ps(self) -> float:
        return 1000.0 / self.rate_upper

    @property
    def lifetime_upper_ps(self) -> float:
        return 1000.0 / self.rate_lower if self.rate_lower > 0 else math.inf

    def to_dict(self) -> dict:
        def finite(x):
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "T_K": self.temperature,
            "replicas": self.replicas,
            "evaporated": self.evaporated,
            "broken": self.broken,
            "other_stops": self.other_stops,
            "other_stop_kinds": self.stop_kinds,
            "completed": self.completed,
            "running": self.running,
            "time_at_risk_ps": self.time_at_risk_ps,
            "k_per_ns": self.rate,
            "k_lower_per_ns": self.rate_lower,
            "k_upper_per_ns": self.rate_upper,
            "lifetime_ps": finite(self.lifetime_ps),
            "lifetime_lower_ps": finite(self.lifetime_lower_ps),
            "lifetime_upper_ps": finite(self.lifetime_upper_ps),
            "km_median_ps": finite(self.median_ps),
            "lost": self.lost,
            "broken_fragments": self.broken_fragments,
        }


def temperature_key(temperature: float) -> float:
    """The temperature replicas are grouped by: rounded to 0.1 K."""
    return round(float(temperature), 1)


def temperature_stats(records: Sequence[FirstPassage], confidence: float = 0.95) -> list[TemperatureStats]:
    """:class:`TemperatureStats` of the records at each temperature (rounded to 0.1 K), ascending."""
    confidence = check_confidence(confidence)
    groups: dict[float, list[FirstPassage]] = {}
    for r in records:
        groups.setdefault(temperature_key(r.temperature), []).append(r)
    out = []
    for T in sorted(groups):
        g = groups[T]
        times_ps = np.array([r.time_fs / 1000.0 for r in g])
        events = np.array([r.event for r in g])
        total = float(times_ps.sum())
        if total > 0:
            k, lo, hi = rate_interval(int(events.sum()), total * 1e-3, confidence)  # time in ns: k in 1/ns
        else:  # every replica stopped at t = 0: nothing was observed
            k = lo = hi = math.nan
        km = kaplan_meier(times_ps, events, confidence)
        count = Counter(r.outcome for r in g)
        out.append(
            TemperatureStats(
                temperature=T,
                replicas=len(g),
                evaporated=count["evaporated"],
                broken=count["broken"],
                other_stops=count["stopped"],
                completed=count["completed"],
                running=count["running"],
                time_at_risk_ps=total,
                rate=k,
                rate_lower=lo,
                rate_upper=hi,
                median_ps=km.median(),
                lost=dict(Counter(f for r in g if r.event for f in r.fragments).most_common()),
                broken_fragments=dict(
                    Counter(f for r in g if r.outcome == "broken" for f in r.fragments).most_common()
                ),
                stop_kinds=dict(Counter(str(r.stop_reason) for r in g if r.outcome == "stopped").most_common()),
                km=km,
                confidence=confidence,
            )
        )
    return out


@dataclass
class Arrhenius:
    """The fit ``ln k = ln A - Ea / (R T)`` (k, A in 1/ns; Ea in kcal/mol).

    Standard errors from the Poisson uncertainty of each ``ln k`` (``1/sqrt(d)``), scaled by
    ``sqrt(reduced_chi2)`` when that exceeds 1 (three or more points: the points scatter more
    than their counts explain). ``note`` says when the fit rests on two points.
    """

    temperatures: np.ndarray
    rates: np.ndarray
    events: np.ndarray
    ea: float
    ea_se: float
    ln_a: float
    ln_a_se: float
    reduced_chi2: float | None
    note: str

    @property
    def n_points(self) -> int:
        return len(self.temperatures)

    def rate(self, temperature) -> np.ndarray:
        """The fitted rate (1/ns) at ``temperature`` (K)."""
        return np.exp(self.ln_a - self.ea / (R_KCAL_PER_MOL_K * np.asarray(temperature, np.float64)))

    def to_dict(self) -> dict:
        return {
            "points": [
                {"T_K": float(T), "k_per_ns": float(k), "events": int(d)}
                for T, k, d in zip(self.temperatures, self.rates, self.events)
            ],
            "Ea_kcal_per_mol": self.ea,
            "Ea_se_kcal_per_mol": self.ea_se,
            "ln_A_per_ns": self.ln_a,
            "ln_A_se": self.ln_a_se,
            "A_per_ns": math.exp(self.ln_a),
            "reduced_chi2": self.reduced_chi2,
            "note": self.note,
        }


def arrhenius_fit(temperatures, rates, events) -> Arrhenius:
    """Weighted least-squares Arrhenius fit of ``rates`` (1/ns, > 0) at ``temperatures`` (K),
    each weighted with its event count ``events`` (the inverse variance of ``ln k``).

    Needs two or more distinct temperatures; InputError otherwise.
    """
    T = np.asarray(temperatures, np.float64).ravel()
    k = np.asarray(rates, np.float64).ravel()
    d = np.asarray(events, np.float64).ravel()
    if not (T.size == k.size == d.size):
        raise InputError(f"{T.size} temperatures, {k.size} rates and {d.size} event counts")
    if not (np.isfinite(T).all() and (T > 0).all() and np.isfinite(k).all() and (k > 0).all() and (d > 0).all()):
        raise InputError("an Arrhenius fit needs temperatures > 0, rates > 0 and event counts > 0")
    if np.unique(T).size < 2:
        raise InputError("an Arrhenius fit needs rates at two or more temperatures")
    x, y, w = 1.0 / T, np.log(k), d
    xm = float(np.sum(w * x) / np.sum(w))
    sxx = float(np.sum(w * (x - xm) ** 2))
    slope = float(np.sum(w * (x - xm) * y) / sxx)
    mean_y = float(np.sum(w * y) / np.sum(w))
    resid = y - mean_y - slope * (x - xm)
    dof = T.size - 2
    chi2 = float(np.sum(w * resid**2))
    reduced = chi2 / dof if dof > 0 else None
    scale = math.sqrt(max(1.0, reduced)) if reduced is not None else 1.0
    var_slope = 1.0 / sxx
    var_ln_a = 1.0 / float(np.sum(w)) + xm**2 * var_slope
    if dof == 0:
        note = (
            "only two temperatures: the line passes through both points; its error comes from their event "
            "counts alone, with no test of the Arrhenius form"
        )
    else:
        note = f"{T.size} temperatures; reduced chi-square {reduced:.2g}" + (
            " (errors scaled by its square root)" if reduced > 1 else ""
        )
    return Arrhenius(
        temperatures=T,
        rates=k,
        events=d.astype(np.int64),
        ea=-slope * R_KCAL_PER_MOL_K,
        ea_se=math.sqrt(var_slope) * R_KCAL_PER_MOL_K * scale,
        ln_a=mean_y - slope * xm,
        ln_a_se=math.sqrt(var_ln_a) * scale,
        reduced_chi2=reduced,
        note=note,
    )


# --------------------------------------------------------------------------------------------
# The study of a set of run folders


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


def _g(x: float | None, fmt: str = ".3g") -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return "inf" if x > 0 else "nan"
    return format(x, fmt)


def format_lost(counts: Mapping[str, int], molecules: Mapping[str, str] = DEFAULT_MOLECULES) -> str:
    """``"H3N (AM) x3, H2O (W) x1"``; ``"-"`` when nothing left."""
    parts = []
    for f, n in counts.items():
        try:
            name = molecule_name(f, molecules)
        except InputError:
            name = None
        parts.append(f"{f}{f' ({name})' if name and name != f else ''} x{n}")
    return ", ".join(parts) or "-"


def format_evaporation(study: EvaporationStudy) -> str:
    """A table per temperature, the Arrhenius fit and notes, as ``painnjax evaporation`` prints it."""
    pct = f"{study.confidence * 100:g}%"
    head = [
        "T/K",
        "replicas",
        "evaporated",
        "broken",
        "other",
        "at risk/ps",
        f"k/ns^-1 [{pct}]",
        "lifetime/ps",
        "KM median/ps",
        "lost",
    ]
    rows = []
    for s in study.temperatures:
        lifetime = _g(s.lifetime_ps) if s.evaporated else f">{_g(s.lifetime_lower_ps)}"
        rows.append(
            [
                f"{s.temperature:g}",
                str(s.replicas),
                str(s.evaporated),
                str(s.broken),
                str(s.other_stops),
                f"{s.time_at_risk_ps:.4g}",
                f"{_g(s.rate)} [{_g(s.rate_lower)}, {_g(s.rate_upper)}]",
                lifetime,
                _g(s.median_ps),
                format_lost(s.lost, study.molecules),
            ]
        )
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    last = len(head) - 1
    lines = [
        "  ".join(x.ljust(w) if c == last else x.rjust(w) for c, (x, w) in enumerate(zip(r, widths))).rstrip()
        for r in [head, *rows]
    ]
    n = len(study.records)
    lines.append(
        f"{n} replica(s) from {len(study.runs)} run(s); event: the first molecule lost; "
        "lifetime = 1/k (first order); 'other': safety stops of other kinds (censored)"
    )
    broken = Counter()
    for s in study.temperatures:
        broken.update(s.broken_fragments)
    if broken:
        shown = ", ".join(f"{f} x{c}" for f, c in broken.most_common())
        lines.append(f"broken molecules (model failures, censored, not evaporations): {shown}")
    stops = Counter()
    for s in study.temperatures:
        stops.update(s.stop_kinds)
    if stops:
        lines.append("other safety stops (censored): " + ", ".join(f"{k} x{c}" for k, c in stops.most_common()))
    res = {r.resolution_fs for r in study.records if r.resolution_fs is not None}
    if res:
        lines.append(
            "times are those of the first check that saw the fragment apart (every "
            + ", ".join(f"{x / 1000:g}" for x in sorted(res))
            + " ps)"
        )
    fit = study.arrhenius
    if fit is not None:
        lines.append(
            f"Arrhenius over {fit.n_points} temperatures: Ea = {fit.ea:.3g} ± {fit.ea_se:.2g} kcal/mol, "
            f"A = {math.exp(fit.ln_a):.3g} ns^-1 (ln A = {fit.ln_a:.3g} ± {fit.ln_a_se:.2g}); {fit.note}"
        )
    elif len(study.temperatures) > 1:
        lines.append("no Arrhenius fit: fewer than two temperatures with evaporations")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Files


CSV_COLUMNS = ("T_K", "time_ps", "at_risk", "events", "censored", "survival", "lower", "upper")


def survival_csv(study: EvaporationStudy) -> str:
    """The Kaplan–Meier curves as CSV text, one row per temperature and observed time (ps)."""
    lines = [",".join(CSV_COLUMNS)]
    for s in study.temperatures:
        km = s.km
        for i in range(km.time.size):
            lines.append(
                f"{s.temperature:g},{km.time[i]:.6g},{km.at_risk[i]},{km.events[i]},{km.censored[i]},"
                f"{km.survival[i]:.6g},{km.lower[i]:.6g},{km.upper[i]:.6g}"
            )
    return "\n".join(lines) + "\n"


def plot_survival(study: EvaporationStudy, path) -> Path:
    """Survival curves (Kaplan–Meier steps with their band, and the fitted ``exp(-k t)``) per
    temperature against time in ps; with an Arrhenius fit, a second panel of ``k`` against 1000/T."""
    from painnjax.io.plots import pyplot, save_figure

    plt = pyplot()
    panels = 2 if study.arrhenius is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.4 * panels, 4.2), squeeze=False)
    ax = axes[0, 0]
    cmap = plt.get_cmap("coolwarm")
    n = len(study.temperatures)
    colors = [cmap(0.5 if n == 1 else i / (n - 1)) for i in range(n)]
    for s, color in zip(study.temperatures, colors):
        km = s.km
        ax.step(
            km.time, km.survival, where="post", color=color, label=f"{s.temperature:g} K ({s.evaporated}/{s.replicas})"
        )
        ax.fill_between(km.time, km.lower, km.upper, step="post", color=color, alpha=0.18, linewidth=0)
        if np.isfinite(s.rate):
            t = np.linspace(0.0, float(km.time[-1]), 200)
            ax.plot(t, np.exp(-s.rate * 1e-3 * t), "--", color=color, linewidth=1)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("replicas that lost no molecule")
    ax.set_ylim(0, 1.04)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(title="evaporated / replicas", fontsize="small")
    fit = study.arrhenius
    if fit is not None:
        ax = axes[0, 1]
        for s, color in zip(study.temperatures, colors):
            x = 1000.0 / s.temperature
            if s.evaporated:
                err = [[s.rate - s.rate_lower], [s.rate_upper - s.rate]]
                ax.errorbar([x], [s.rate], yerr=err, fmt="o", color=color, capsize=3)
            elif np.isfinite(s.rate_upper):  # no event: an upper bound only
                ax.plot([x], [s.rate_upper], "v", color=color)
        T = np.linspace(min(fit.temperatures), max(fit.temperatures), 100)
        ax.plot(1000.0 / T, fit.rate(T), "k-", linewidth=1, label=f"Ea = {fit.ea:.3g} ± {fit.ea_se:.2g} kcal/mol")
        ax.set_yscale("log")
        ax.set_xlabel("1000 / T (1/K)")
        ax.set_ylabel("k (1/ns)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    clusters = sorted({r.cluster for r in study.records if r.cluster})
    title = f"{', '.join(clusters)}: first molecule lost" if clusters else "first molecule lost"
    return save_figure(fig, path, title=title)


def write_evaporation(study: EvaporationStudy, out) -> dict[str, Path]:
    """``out/evaporation.json`` (settings, per-temperature results, Arrhenius fit, every replica),
    ``out/survival.csv`` (the Kaplan–Meier curves) and ``out/survival.png``; returns their paths."""
    from painnjax.io.files import atomic_write, write_json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(out / "evaporation.json", study.to_dict()),
        "csv": atomic_write(out / "survival.csv", survival_csv(study)),
        "png": plot_survival(study, out / "survival.png"),
    }
