"""Plots as files: the learning curve of a run folder, and :func:`save_figure` for every PNG/PDF
the package writes (matplotlib's Agg backend, written atomically)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

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
