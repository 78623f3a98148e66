#!/usr/bin/env python
"""How many more epochs would a run need? A power law fitted to its validation curve.

Fits ``log MAE = a + b log(epoch)`` by least squares to the validation energy and force MAE of
the last ``--last`` epochs of one or more ``metrics.csv`` files read as one curve (a run and
its continuation, epochs counted on), and solves for the epoch where each reaches its target.
A rough guide, not a promise: learning-rate schedules bend real curves (a cosine decay
flattens the end of a run, a restart lifts it), and a power law cannot see a floor that the
data or the model size set.

    python benchmarks/extrapolate_curve.py RUN/metrics.csv [--targets 0.3 0.2] [--last 8]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np


def read_curve(paths) -> dict[str, np.ndarray]:
    """Epochs (counted on across files) and validation energy/force MAE."""
    epochs, energy, forces = [], [], []
    needed = ("epoch", "valid_energy_mae", "valid_forces_mae")
    for path in paths:
        try:
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                missing = [c for c in needed if c not in (reader.fieldnames or [])]
                if missing:
                    raise SystemExit(f"{path}: not a training run's metrics.csv (no column {', '.join(missing)})")
                rows = list(reader)
        except OSError as exc:
            raise SystemExit(f"{path}: cannot read it ({exc.strerror})") from None
        offset = epochs[-1] if epochs else 0
        for line, r in enumerate(rows, start=2):
            try:
                epochs.append(offset + int(r["epoch"]))
                energy.append(float(r["valid_energy_mae"]))
                forces.append(float(r["valid_forces_mae"]))
            except (TypeError, ValueError):
                raise SystemExit(f"{path}, line {line}: epoch and validation errors must be numbers") from None
    return {"epoch": np.array(epochs, float), "energy_mae": np.array(energy), "forces_mae": np.array(forces)}


def fit(epoch, mae, target: float) -> dict:
    """Power-law fit; the epoch where it reaches ``target`` (inf when the curve does not fall)."""
    b, a = np.polyfit(np.log(epoch), np.log(mae), 1)
    now = float(math.exp(a + b * math.log(epoch[-1])))
    reach = float(math.exp((math.log(target) - a) / b)) if b < 0 else math.inf
    return {"exponent": float(b), "fitted_now": now, "target": target, "epoch_at_target": reach}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("metrics", nargs="+", type=Path, help="metrics.csv files of one run, in order")
    p.add_argument("--targets", nargs=2, type=float, default=(0.3, 0.2), help="energy and force MAE goals")
    p.add_argument("--last", type=int, default=8, help="fit the last this many epochs")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    curve = read_curve(args.metrics)
    if len(curve["epoch"]) < 3:
        p.error("need at least three epochs to fit")
    sel = slice(-min(args.last, len(curve["epoch"])), None)
    out = {"epochs_done": int(curve["epoch"][-1]), "fitted_epochs": int(len(curve["epoch"][sel]))}
    for key, target, unit in zip(("energy_mae", "forces_mae"), args.targets, ("kcal/mol", "kcal/mol/Å")):
        r = fit(curve["epoch"][sel], curve[key][sel], target)
        out[key] = r
        more = r["epoch_at_target"] - out["epochs_done"]
        print(
            f"{key}: now {curve[key][-1]:.3f} {unit} (fit {r['fitted_now']:.3f}), MAE ~ epoch^{r['exponent']:.2f}; "
            f"target {target} at epoch ~{r['epoch_at_target']:.0f} ({max(more, 0):.0f} more)"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
