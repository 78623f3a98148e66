#!/usr/bin/env python
"""What a committee inside the MD loop costs: steps/s of Nosé-Hoover MD for K = 1, 2, 4 members.

The members are the shipped ``saam-gfn1`` and copies of it with every weight scaled by
``1 + 0.02 ε`` (ε standard normal, seeded), so that they disagree a little, as a trained
committee does. Each case is ``md.run_md`` of one replica of the bundled cluster (default
SA7AM7, 77 atoms) at 300 K, 0.5 fs, in float32, with the committee's mean as the potential and
its spreads recorded every ``log_every`` steps (thermo columns ``e_std_eV``, ``f_spread_eV_A``,
``f_spread_max_eV_A``). K = 1 is the plain model (no spreads). The rate is the run summary's
``steps_per_second`` (compilation excluded). Rounds alternate between the cases in a rotating
order and the median round is reported, so background load falls on every case alike; the CPU
time other processes used during the run is recorded.

The peer is K = 1 in the same process: the ratio ``cost_vs_K1`` is the time per step relative
to one model. The committee's mean force needs one backward pass per member, so the expected
cost is about K, plus K more force evaluations at each record (every ``log_every`` steps).

Usage:
    python benchmarks/bench_committee.py                        # K = 1 2 4, SA7AM7, ~5 min on 2 cores
    python benchmarks/bench_committee.py --members 1 2 --structure SA4AM4 --steps 200

Writes ``benchmarks/results/bench_committee_<device>.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_potential import CpuMonitor, write_result  # noqa: E402

from md import MDConfig, run_md  # noqa: E402
from painnjax import Model, load_model  # noqa: E402
from painnjax.data import bundled_structure  # noqa: E402
from painnjax.potential import mean_potential, potential  # noqa: E402


def scaled_copy(model: Model, seed: int, scale: float = 0.02) -> Model:
    """``model`` with every weight multiplied by ``1 + scale * N(0, 1)`` (seeded)."""
    leaves, tree = jax.tree_util.tree_flatten(model.variables["params"])
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    leaves = [x * (1 + scale * jax.random.normal(k, x.shape, x.dtype)) for x, k in zip(leaves, keys)]
    variables = {**model.variables, "params": jax.tree_util.tree_unflatten(tree, leaves)}
    return Model(model.config, variables, dict(model.metadata))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="saam-gfn1")
    p.add_argument("--structure", default="SA7AM7")
    p.add_argument("--members", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--steps", type=int, default=400, help="steps per timed round (default 400)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    base = load_model(args.model)
    atoms = bundled_structure(args.structure)
    models = [base] + [scaled_copy(base, seed) for seed in range(1, max(args.members))]
    pots = {}
    for K in args.members:
        kw = dict(reference_positions=atoms.positions, dtype=jnp.float32)
        pots[K] = potential(base, atoms, **kw) if K == 1 else mean_potential(models[:K], atoms, **kw)
    cfg = MDConfig(
        temperature=300.0, dt=0.5, steps=args.steps, log_every=args.log_every, traj_every=0, checkpoint_every=args.steps
    )
    for K, pot in pots.items():  # compile every case first (untimed)
        run_md(pot, atoms, MDConfig(**{**cfg.to_dict(), "steps": args.log_every}), progress=False)
    rates = {K: [] for K in pots}
    spreads = {}
    monitor = CpuMonitor()
    t0 = time.perf_counter()
    order = list(pots)
    for r in range(args.rounds):
        for K in order[r % len(order) :] + order[: r % len(order)]:
            res = run_md(pots[K], atoms, cfg, progress=False)
            rates[K].append(res.summary["steps_per_second"])
            if K > 1:
                spreads[K] = float(np.max(res.thermo["f_spread_max_eV_A"]))
    other = monitor.other_cores_busy()
    median = {K: float(np.median(v)) for K, v in rates.items()}
    one = median.get(1)
    rows = [
        {
            "members": K,
            "steps_per_second": median[K],
            "rounds": rates[K],
            "cost_vs_K1": None if one is None else one / median[K],
            "max_force_spread_eV_A": spreads.get(K),
        }
        for K in pots
    ]
    device = jax.devices()[0]
    print(f"committee MD cost: {args.structure} ({len(atoms)} atoms), {args.model}, {device.platform} ({device})")
    print(f"{'K':>3} {'steps/s':>9} {'cost vs K=1':>12} {'max spread eV/Å':>16}")
    for row in rows:
        cost = "?" if row["cost_vs_K1"] is None else f"{row['cost_vs_K1']:.2f}x"
        sp = "-" if row["max_force_spread_eV_A"] is None else f"{row['max_force_spread_eV_A']:.3f}"
        print(f"{row['members']:>3} {row['steps_per_second']:>9.2f} {cost:>12} {sp:>16}")
    print(f"other processes used {other if other is not None else '?'} cores during the timed rounds")
    result = {
        "benchmark": "bench_committee",
        "date": time.strftime("%Y-%m-%d"),
        "device": str(device),
        "platform": device.platform,
        "structure": args.structure,
        "n_atoms": len(atoms),
        "model": args.model,
        "steps_per_round": args.steps,
        "log_every": args.log_every,
        "rows": rows,
        "other_cores_busy": other,
        "seconds": time.perf_counter() - t0,
    }
    write_result(result, "bench_committee", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
