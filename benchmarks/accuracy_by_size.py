#!/usr/bin/env python
"""Errors by composition and size of one or more models on a training run's held-out frames.

Reads the run's data files in the order the run read them, takes the validation and test frames
of its ``split.json``, and evaluates every model on both (``painnjax evaluate``'s metrics, on
total energies). Writes a JSON with each model's validation and test reports, a Markdown table
(composition, atoms, set, energy and force MAE per model) and a plot of each composition's MAE
against its atom count (``painnjax.training.evaluate.size_plot``): does the error grow with size?

Usage (the retraining of issue 14; the model shipped before it is in git):
    git show c036c24:painnjax/models/saam-gfn1.painn > /tmp/saam-gfn1-2026-11-21.painn
    python benchmarks/accuracy_by_size.py --split RUN/split.json \\
        --data ../shared/data/saam_gfn1/train_pool_300K.extxyz \\
               benchmarks/data/n7-9/train_gfn1_300K_450K.extxyz.gz benchmarks/data/n7-9/test_gfn1_300K.extxyz.gz \\
        --model before=/tmp/saam-gfn1-2026-11-21.painn --model retrained=saam-gfn1 \\
        --out benchmarks/results/saam-gfn1-retrain1/by_size
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from painnjax.data.dataset import read_dataset
from painnjax.data.splits import Split
from painnjax.io.modelfile import load_model
from painnjax.training.evaluate import error_report, size_plot, write_report


def table(results: dict) -> str:
    """Markdown: one row per (set, composition), energy and force MAE of every model."""
    names = list(results)
    head = "| set | composition | atoms | frames | " + " | ".join(f"{n}: ΔE MAE | {n}: F MAE" for n in names) + " |"
    rule = "|" + "---|" * (4 + 2 * len(names))
    lines = [head, rule]
    for part in ("valid", "test"):
        first = results[names[0]][part]["per_composition"]
        for comp, row in sorted(first.items(), key=lambda kv: kv[1]["n_atoms"]):
            cells = [part, comp, str(row["n_atoms"]), str(row["n_structures"])]
            for n in names:
                r = results[n][part]["per_composition"][comp]
                cells += [f"{r['energy_mae']:.2f}", f"{r['forces_mae']:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def labelled_models(parser: argparse.ArgumentParser, items) -> dict:
    """``--model LABEL=MODEL`` arguments -> ``{label: Model}`` (a bad one is the parser's error)."""
    models = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            parser.error(f"--model takes LABEL=MODEL, got {item!r}")
        models[label] = load_model(path)
    return models


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", type=Path, required=True, help="the run's split.json")
    p.add_argument("--data", nargs="+", required=True, help="the run's data files, in the run's order")
    p.add_argument("--model", action="append", required=True, help="LABEL=MODEL (file or bundled name)")
    p.add_argument("--out", type=Path, required=True, help="stem of the .json, .md and .png written")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)

    models = labelled_models(p, args.model)
    split = Split.from_dict(json.loads(args.split.read_text()))
    ds = read_dataset(args.data, require_forces=False)
    if len(ds) != split.n_structures:
        p.error(f"the data files hold {len(ds)} frames, the split {split.n_structures}: not the run's data")
    parts = {"valid": ds.subset(split.valid), "test": ds.subset(split.test)}

    results = {}
    for label, model in models.items():
        results[label] = {}
        for part, sub in parts.items():
            report = error_report(model, sub, batch_size=args.batch_size)
            results[label][part] = {k: v for k, v in report.items() if not k.startswith("_")}
            print(
                f"{label:>12s} {part:>5s}: {len(sub)} frames, ΔE MAE {report['energy_mae']:.3f} kcal/mol, "
                f"F MAE {report['forces_mae']:.3f} kcal/mol/Å",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(results, args.out.with_suffix(".json"))
    md = table(results)
    args.out.with_suffix(".md").write_text(md + "\n")
    print(md)
    series = {}
    for label in results:
        for part, name in (("valid", "validation frames of the run"), ("test", "test compositions")):
            series[f"{label}: {name}"] = results[label][part]
    size_plot(series, args.out.with_suffix(".png"), title="error per composition against cluster size")
    print(f"wrote {args.out.with_suffix('.json')}, .md, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
