"""Plots as files: the learning curve of a training run folder, the energies and temperature of
an MD run folder, and :func:`save_figure` for every PNG/PDF the package writes (matplotlib's
Agg backend, written atomically)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from painnjax.io.files import atomic_write


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    # Imported on first use, not at the head: the Agg backend must be chosen before pyplot is
    # imported, a global side effect that `import painnjax` must not have; and pyplot would add
    # 0.5 s to `import painnjax`, so to `painnjax --help` (2026-12-07: timed after `import painnjax`).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 110, title: str = "") -> Path:
    """Lay out ``fig`` (with a ``title``), write it to ``path`` (format from the suffix)
    atomically, and close it."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    pyplot().close(fig)
    return atomic_write(path, buf.getvalue())


def _column(rows, name):
    out = []
    for r in rows:
        try:
            out.append(float(r[name]))
        except (KeyError, TypeError, ValueError):
            out.append(float("nan"))
    return out


def learning_curve(metrics_csv: str | Path, png: str | Path, title: str = "") -> Path | None:
    """Train/validation MAE of energies (kcal/mol) and forces (kcal/mol/Å) per epoch, and the
    learning rate, from a run's ``metrics.csv``; None when there are no rows yet."""
    plt = pyplot()
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    epoch = _column(rows, "epoch")
    with_forces = any(r.get("valid_forces_mae") not in ("", None) for r in rows)
    panels = [("energy", "kcal/mol")] + ([("forces", "kcal/mol/Å")] if with_forces else [])
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.6 * (len(panels) + 1), 3.8), squeeze=False)
    for ax, (what, unit) in zip(axes[0], panels):
        ax.plot(epoch, _column(rows, f"train_{what}_mae"), label="train")
        ax.plot(epoch, _column(rows, f"valid_{what}_mae"), label="validation")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{what} MAE ({unit})")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    ax = axes[0, -1]
    ax.plot(epoch, _column(rows, "lr"), color="k")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3, which="both")
    return save_figure(fig, png, title=title)


MAX_REPLICA_LINES = 8  # above this many replicas a panel shows their mean and min-max band
MAX_POINTS = 20_000  # records drawn per replica (evenly thinned above)


def md_energies(thermo: dict, png: str | Path, title: str = "") -> Path | None:
    """Potential, kinetic and conserved energy (eV) and temperature (K) against time (ps) of an
    MD run, from its thermo log as columns (:func:`md.dynamics.output.read_thermo`: ``time_fs``,
    ``replica``, ``temperature_K``, ``e_pot_eV``, ``e_kin_eV``, ``e_total_eV``, ``conserved_eV``).

    Energies are drawn as changes from each replica's first record (their drift is what
    matters). A long log is thinned to :data:`MAX_POINTS` records per replica. The conserved quantity is
    ``conserved_eV``, or the total energy where the ensemble has none (Langevin). One line per
    replica up to :data:`MAX_REPLICA_LINES` replicas, else their mean with a min-max band.
    None when the log has no records.
    """
    time_ps = np.asarray(thermo.get("time_fs", []), np.float64) / 1000.0
    if len(time_ps) == 0:
        return None
    replica = np.asarray(thermo.get("replica", np.zeros(len(time_ps))), np.int64)
    conserved = np.asarray(thermo["conserved_eV"], np.float64)
    if not np.isfinite(conserved).any():
        conserved, conserved_name = np.asarray(thermo["e_total_eV"], np.float64), "total energy"
    else:
        conserved_name = "conserved energy"
    panels = [
        ("e_pot_eV", "potential energy", np.asarray(thermo["e_pot_eV"], np.float64), True),
        ("e_kin_eV", "kinetic energy", np.asarray(thermo["e_kin_eV"], np.float64), False),
        ("conserved", conserved_name, conserved, True),
        ("temperature_K", "temperature", np.asarray(thermo["temperature_K"], np.float64), False),
    ]
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    replicas = np.unique(replica)
    for ax, (_, name, values, relative) in zip(axes.flat, panels):
        series = []
        for r in replicas:
            sel = replica == r
            order = np.argsort(time_ps[sel], kind="stable")
            order = order[:: max(1, len(order) // MAX_POINTS)]
            t, v = time_ps[sel][order], values[sel][order]
            if relative and len(v):
                v = v - v[0]
            series.append((r, t, v))
        if len(replicas) <= MAX_REPLICA_LINES:
            for r, t, v in series:
                ax.plot(t, v, lw=0.8, label=f"replica {r}" if len(replicas) > 1 else None)
        else:
            _mean_band(ax, series)
        unit = "K" if name == "temperature" else "eV"
        ax.set_ylabel(f"{'Δ ' if relative else ''}{name} ({unit})")
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("time (ps)")
    if 1 < len(replicas) <= MAX_REPLICA_LINES:
        axes[0, 0].legend(fontsize="small")
    return save_figure(fig, png, title=title)


def _mean_band(ax, series) -> None:
    """The mean over replicas of ``series`` ((replica, t, v) each) with a min-max band, on the
    times all replicas share."""
    common = series[0][1]
    for _, t, _ in series[1:]:
        common = np.intersect1d(common, t)
    if len(common) == 0:
        return
    stack = np.stack([v[np.searchsorted(t, common)] for _, t, v in series])
    ax.fill_between(common, np.nanmin(stack, axis=0), np.nanmax(stack, axis=0), alpha=0.3, label="min-max")
    ax.plot(common, np.nanmean(stack, axis=0), lw=0.9, label=f"mean of {len(series)} replicas")
    ax.legend(fontsize="small")
