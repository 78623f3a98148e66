#!/usr/bin/env python
"""Errors of one or more models by composition and ion state: how many SO4²⁻ and neutral NH3.

Clusters with more bases than acids need a sulfate SO4²⁻ (an acid that gave both protons), and
with two bases beyond the acids one NH3 often stays neutral beside it. The shared pool (up to
SA6AM5) holds neither. This script counts each frame's units (:func:`md.screening.protonation.
ion_counts`: H to its nearest N, O or S) and reports every model's energy and force MAE per
composition and state, so a gap in the training data shows as a state, not as a size.

Usage (issue 14):
    python benchmarks/errors_by_state.py benchmarks/data/n7-9/*.extxyz.gz \\
        --model shipped=saam-gfn1 --out benchmarks/results/saam-gfn1/by_state
Writes OUT.json and OUT.md (one row per composition and state) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from accuracy_by_size import labelled_models
from ase import Atoms

from md.screening.protonation import ion_counts
from painnjax.data.dataset import read_dataset
from painnjax.training.evaluate import energy_stats, force_stats, predict  # painnjax evaluate's own metrics
from painnjax.units import EV_TO_KCAL_PER_MOL


def state_name(counts: dict) -> str:
    """``"1 SO4, 1 NH3"``-like label of the ions that set a state apart (``"-"`` for neither)."""
    parts = [
        f"{counts[k]} {name}"
        for k, name in (("SO4", "SO4²⁻"), ("AM", "NH3"), ("SA", "H2SO4"), ("H3O", "H3O⁺"), ("OH", "OH⁻"))
        if counts[k]
    ]
    if counts["other"]:
        parts.append(f"{counts['other']} other")
    return ", ".join(parts) or "-"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="+", help="labelled frames (extxyz, total energies and forces)")
    p.add_argument("--model", action="append", required=True, help="LABEL=MODEL (file or bundled name)")
    p.add_argument("--out", type=Path, required=True, help="stem of the .json and .md written")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)

    models = labelled_models(p, args.model)
    ds = read_dataset(args.data, require_forces=True)
    groups = defaultdict(list)
    for k in range(len(ds)):
        state = state_name(ion_counts(Atoms(numbers=ds.numbers[k], positions=ds.positions[k])))
        groups[(ds.compositions[k], state)].append(k)

    rows = {}
    for label, model in models.items():
        E, F = predict(model, ds, batch_size=args.batch_size)
        de = (E - ds.energy) * EV_TO_KCAL_PER_MOL
        for (comp, state), idx in groups.items():
            row = rows.setdefault(
                f"{comp} | {state}",
                {"composition": comp, "state": state, "n_atoms": int(ds.n_atoms[idx[0]]), "frames": len(idx)},
            )
            row[label] = {
                "energy_mean_error": float(de[idx].mean()),
                **energy_stats(de[idx]),
                **force_stats([F[k] for k in idx], [ds.forces[k] for k in idx]),
            }
    ordered = sorted(rows.values(), key=lambda r: (r["n_atoms"], r["composition"], r["state"]))
    head = "| composition | atoms | state | frames | " + " | ".join(
        f"{n}: mean ΔE | {n}: ΔE MAE | {n}: F MAE" for n in models
    )
    lines = [head + " |", "|" + "---|" * (4 + 3 * len(models))]
    for r in ordered:
        cells = [r["composition"], str(r["n_atoms"]), r["state"], str(r["frames"])]
        for n in models:
            cells += [f"{r[n]['energy_mean_error']:+.2f}", f"{r[n]['energy_mae']:.2f}", f"{r[n]['forces_mae']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    md = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"data": [Path(d).name for d in args.data], "models": list(models), "rows": ordered}, indent=1)
    )
    args.out.with_suffix(".md").write_text(md + "\n")
    print(md)
    print(f"wrote {args.out.with_suffix('.json')} and .md (energies kcal/mol, forces kcal/mol/Å)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
