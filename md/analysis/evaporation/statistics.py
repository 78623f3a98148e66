"""The estimators of evaporation: Kaplan–Meier survival, first-order rates, per-temperature statistics, Arrhenius.

- :func:`kaplan_meier`: the survival curve ``S(t) = Π (1 - d_j / n_j)`` with a pointwise band
  from Greenwood's variance on the log(-log S) scale.
- :func:`rate_interval`: the first-order rate ``k = d / T`` and its chi-square interval.
- :func:`temperature_stats`: both, with the counts of each outcome, for the records at each
  temperature (rounded to 0.1 K).
- :func:`arrhenius_fit`: ``ln k = ln A - Ea / (R T)``, weighted with the Poisson uncertainty
  of each ``ln k``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from md.analysis.evaporation.runs import FirstPassage
from painnjax import units
from painnjax.errors import InputError

#: the gas constant, kcal/(mol K)
R_KCAL_PER_MOL_K = units.KB_EV * units.EV_TO_KCAL_PER_MOL


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
