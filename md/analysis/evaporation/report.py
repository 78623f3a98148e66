"""Evaporation statistics for people and files: the printed table, evaporation.json, survival.csv and survival.png."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from md.analysis.evaporation.formulas import DEFAULT_MOLECULES, molecule_name
from md.analysis.evaporation.study import EvaporationStudy
from painnjax.errors import InputError


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
