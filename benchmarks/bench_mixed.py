#!/usr/bin/env python
"""Several clusters in one compiled MD run against one run per cluster: compile time and throughput.

Case ``separate`` is what a user does without padding: one ``md.run_md`` per cluster, each with
its own potential and so its own compilation (as separate ``painnjax md`` commands would).
Case ``mixed`` is one ``md.run_md`` of all the clusters as replicas, padded to the largest
(:mod:`md.dynamics.systems`): one compilation. Both run Langevin MD (300 K, 0.5 fs, float32)
of the same clusters with the same number of replicas each (``--replicas-each``), for the same
number of steps, with the shipped model. Reported: compile seconds, run seconds (compilation
excluded), replica-steps per second, and the wall time of compile + run, whose ratio
(separate / mixed) is the gain of one compile. Padding costs work: every replica is evaluated
at the largest cluster's atom count, which on a CPU (work proportional to atoms) slows the
steps of the small clusters; on a GPU one launch for all replicas is the point.

Usage:
    python benchmarks/bench_mixed.py                                 # SA1AM1 SA2AM2 SA4AM4, ~3 min on 2 cores
    python benchmarks/bench_mixed.py --clusters SA2AM2 SA4AM4 SA7AM7 --replicas-each 4 --steps 1000

Writes ``benchmarks/results/bench_mixed_<device>.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_potential import CpuMonitor, write_result  # noqa: E402

from md import MDConfig, run_md  # noqa: E402
from md.structures import read_structure  # noqa: E402
from painnjax import load_model  # noqa: E402
from painnjax.potential import potential  # noqa: E402


def _case(pot, atoms, cfg) -> dict:
    t0 = time.perf_counter()
    res = run_md(pot, atoms, cfg, progress=False)
    wall = time.perf_counter() - t0
    s = res.summary
    if s["stop_reason"] != "completed":
        raise SystemExit(f"a run did not complete: {s['stop_reason']}")
    return {
        "replicas": cfg.replicas,
        "compile_seconds": s["compile_seconds"],
        "run_seconds": s["run_seconds"],
        "wall_seconds": wall,
        "replica_steps_per_second": s["replica_steps_per_second"],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="saam-gfn1")
    p.add_argument("--clusters", nargs="+", default=["SA1AM1", "SA2AM2", "SA4AM4"])
    p.add_argument("--replicas-each", type=int, default=1)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        print("note: JAX_COMPILATION_CACHE_DIR is set: compile times may come from the cache", file=sys.stderr)

    model = load_model(args.model)
    clusters = [read_structure(c) for c in args.clusters]
    base = dict(ensemble="nvt-langevin", temperature=300.0, dt=0.5, steps=args.steps, log_every=10, traj_every=0)
    cfg_each = MDConfig(**base, replicas=args.replicas_each, checkpoint_every=args.steps)
    monitor = CpuMonitor()
    separate = []
    for name, atoms in zip(args.clusters, clusters):
        pot = potential(model, atoms, reference_positions=atoms.positions, dtype=jnp.float32)
        separate.append({"cluster": name, "n_atoms": len(atoms), **_case(pot, atoms, cfg_each)})
    largest = max(clusters, key=len)
    pot = potential(model, largest, reference_positions=largest.positions, dtype=jnp.float32)
    # replica r runs cluster r mod K: K * replicas_each replicas give each cluster replicas_each
    cfg_mixed = MDConfig(**base, replicas=len(clusters) * args.replicas_each, checkpoint_every=args.steps)
    mixed = _case(pot, clusters, cfg_mixed)
    other = monitor.other_cores_busy()

    sep_wall = sum(r["wall_seconds"] for r in separate)
    sep_compile = sum(r["compile_seconds"] for r in separate)
    sep_run = sum(r["run_seconds"] for r in separate)
    total_replica_steps = len(clusters) * args.replicas_each * args.steps
    summary = {
        "separate": {
            "compile_seconds": sep_compile,
            "run_seconds": sep_run,
            "wall_seconds": sep_wall,
            "replica_steps_per_second": total_replica_steps / sep_run,
        },
        "mixed": mixed,
        "wall_ratio_separate_over_mixed": sep_wall / mixed["wall_seconds"],
        "compile_ratio_separate_over_mixed": sep_compile / mixed["compile_seconds"],
        "throughput_ratio_mixed_over_separate": mixed["replica_steps_per_second"] / (total_replica_steps / sep_run),
    }
    device = jax.devices()[0]
    print(f"several clusters in one run: {', '.join(args.clusters)}, {args.model}, {device.platform} ({device})")
    print(f"{'case':>9} {'compile s':>10} {'run s':>8} {'wall s':>8} {'replica-steps/s':>16}")
    for name, row in (("separate", summary["separate"]), ("mixed", mixed)):
        print(
            f"{name:>9} {row['compile_seconds']:>10.1f} {row['run_seconds']:>8.1f} {row['wall_seconds']:>8.1f} "
            f"{row['replica_steps_per_second']:>16.1f}"
        )
    print(
        f"wall separate/mixed {summary['wall_ratio_separate_over_mixed']:.2f}x, compile "
        f"{summary['compile_ratio_separate_over_mixed']:.2f}x, throughput mixed/separate "
        f"{summary['throughput_ratio_mixed_over_separate']:.2f}x"
    )
    print(f"other processes used {other if other is not None else '?'} cores")
    result = {
        "benchmark": "bench_mixed",
        "date": time.strftime("%Y-%m-%d"),
        "device": str(device),
        "platform": device.platform,
        "model": args.model,
        "clusters": [{"name": n, "n_atoms": len(a)} for n, a in zip(args.clusters, clusters)],
        "replicas_each": args.replicas_each,
        "steps": args.steps,
        "separate_runs": separate,
        **summary,
        "other_cores_busy": other,
        "command": "python benchmarks/bench_mixed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    write_result(result, "bench_mixed", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
