"""Training plots: the learning curve of a run folder (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

import csv
from pathlib import Path

from painnjax.fileio import atomic_write


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
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write(Path(png), buf.getvalue())
    return Path(png)
