#!/usr/bin/env python
"""Do painnjax's xTB labels equal the shared pool's? Ten pool frames labelled again, and the
labelling rate in one process against worker processes.

Ten frames spread evenly over ``../shared/data/saam_gfn1/train_pool_300K.extxyz`` (so that
they cover its compositions) are labelled with ``painnjax.active.label.label_file`` at the
pool's level (GFN1-xTB, tblite's default settings, which ``painnjax label`` uses), once in
this process (one xTB thread) and once with ``workers=N`` (one xTB thread each). Energies and
forces are compared with the pool's stored labels; the two runs must agree bit for bit. The
ratio is the labelling rate with N workers against one process, on the same frames.

Usage:
    python benchmarks/label_check.py                   # 10 frames, 2 workers, ~1 min on 2 cores
    python benchmarks/label_check.py --frames 20 --workers 2

Writes ``benchmarks/results/label_check.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one xTB thread, set before tblite loads

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_potential import CpuMonitor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POOL = ROOT.parent / "shared" / "data" / "saam_gfn1" / "train_pool_300K.extxyz"


def pool_frames(path: Path, n: int) -> list:
    """``n`` frames at evenly spaced indices of the pool file."""
    from ase.io import read

    frames = read(path, index=":")
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    for k in idx:
        frames[k].info["pool_index"] = int(k)
    return [frames[k] for k in idx]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pool", type=Path, default=POOL)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "label_check.json")
    args = p.parse_args(argv)

    from ase.io import read, write

    from painnjax.active.label import label_file

    if not args.pool.is_file():
        print(f"label_check: {args.pool} is absent (the shared data sit beside the repository)", file=sys.stderr)
        return 2
    ref = pool_frames(args.pool, args.frames)
    rows, runs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inp = tmp / "frames.extxyz"
        write(inp, ref)
        for name, workers in (("one_process", 1), (f"{args.workers}_workers", args.workers)):
            out = tmp / f"{name}.extxyz"
            monitor = CpuMonitor()
            t0 = time.perf_counter()
            report = label_file(inp, out, method="GFN1-xTB", progress=False, workers=workers)
            wall = time.perf_counter() - t0
            if not report.complete:
                print(f"label_check: {report.summary()}", file=sys.stderr)
                return 1
            got = {int(a.info["label_index"]): a for a in read(out, index=":")}
            runs[name] = {
                "workers": workers,
                "wall_s": wall,
                "frames_per_s": len(ref) / wall,
                "other_processes_cores_busy": monitor.other_cores_busy(),  # the workers count here
                "labels": got,
            }
        one, many = runs["one_process"]["labels"], runs[f"{args.workers}_workers"]["labels"]
        for k, r in enumerate(ref):
            a = one[k]
            de = a.get_potential_energy() - r.get_potential_energy()
            df = np.abs(a.get_forces() - r.get_forces()).max()
            same = a.get_potential_energy() == many[k].get_potential_energy() and np.array_equal(
                a.get_forces(), many[k].get_forces()
            )
            rows.append(
                {
                    "pool_index": r.info["pool_index"],
                    "composition": r.info.get("composition", ""),
                    "n_atoms": len(r),
                    "energy_eV": r.get_potential_energy(),
                    "delta_energy_eV": float(de),
                    "max_delta_force_eV_A": float(df),
                    "workers_equal_one_process": bool(same),
                }
            )
    head = f"{'pool frame':>10} {'composition':>12} {'atoms':>5} {'ΔE / eV':>10} {'max |ΔF| / eV/Å':>16}"
    print(head + "  workers = 1 process")
    for r in rows:
        print(
            f"{r['pool_index']:>10} {r['composition']:>12} {r['n_atoms']:>5} {r['delta_energy_eV']:>10.2e} "
            f"{r['max_delta_force_eV_A']:>16.2e}  {r['workers_equal_one_process']}"
        )
    worst_e = max(abs(r["delta_energy_eV"]) for r in rows)
    worst_f = max(r["max_delta_force_eV_A"] for r in rows)
    rate1, rateN = runs["one_process"]["frames_per_s"], runs[f"{args.workers}_workers"]["frames_per_s"]
    print(f"largest |ΔE| {worst_e:.2e} eV (goal < 1e-5), largest |ΔF| {worst_f:.2e} eV/Å")
    print(
        f"rate: {rate1:.2f} frames/s in one process, {rateN:.2f} with {args.workers} workers: "
        f"{rateN / rate1:.2f}x ({os.cpu_count()} cores)"
    )
    result = {
        "benchmark": "label_check",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "pool": str(args.pool.relative_to(ROOT.parent)) if args.pool.is_relative_to(ROOT.parent) else str(args.pool),
        "cpu_count": os.cpu_count(),
        "frames": rows,
        "max_abs_delta_energy_eV": worst_e,
        "max_abs_delta_force_eV_A": worst_f,
        "runs": {k: {kk: vv for kk, vv in v.items() if kk != "labels"} for k, v in runs.items()},
        "workers_speedup": rateN / rate1,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if worst_e < 1e-5 and all(r["workers_equal_one_process"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
