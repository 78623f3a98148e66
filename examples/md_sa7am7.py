#!/usr/bin/env python
"""SA7AM7 at 300 K and 450 K, as in the reference study: Nosé-Hoover MD, then E_pot and T plots.

The reference study ran 100 ps of (H2SO4)7(NH3)7 with a 0.1 fs step through ASE (~9 h on a
CPU per temperature). Here both temperatures are two replicas of one jitted jax-md run.

    python examples/md_sa7am7.py                          # 1 ps per temperature, minutes on a CPU
    python examples/md_sa7am7.py --ps 100 --dt 0.5        # the paper's length (a GPU job)
    python examples/md_sa7am7.py --model run1/best.painn  # your own model

Writes ``OUT/thermo.csv``, trajectories, ``summary.json`` (see md/README.md) and
``OUT/sa7am7_epot_T.png``. The run can be continued with ``--restart``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def plot(out: Path, temperatures) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase import units

    from md.dynamics.output import read_thermo

    th = read_thermo(out)
    kcal = 1.0 / (units.kcal / units.mol)
    fig, (ax_e, ax_t) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for r, T in enumerate(temperatures):
        sel = th["replica"] == r
        t_ps = th["time_fs"][sel] / 1000.0
        e = th["e_pot_eV"][sel]
        ax_e.plot(t_ps, (e - e[0]) * kcal, lw=0.8, label=f"{T:g} K")
        ax_t.plot(
            t_ps, th["temperature_K"][sel], lw=0.8, label=f"{T:g} K (mean {np.mean(th['temperature_K'][sel]):.0f} K)"
        )
        ax_t.axhline(T, color="k", lw=0.5, ls="--")
    ax_e.set_ylabel("E_pot − E_pot(0) (kcal/mol)")
    ax_t.set_ylabel("temperature (K)")
    ax_t.set_xlabel("time (ps)")
    ax_e.legend()
    ax_t.legend()
    ax_e.set_title("(H2SO4)7(NH3)7, Nosé–Hoover chain")
    fig.tight_layout()
    path = out / "sa7am7_epot_T.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="saam-gfn1", help="model file or bundled model name (default saam-gfn1)")
    p.add_argument("--T", type=float, nargs="+", default=[300.0, 450.0], help="temperatures, K (one replica each)")
    p.add_argument("--ps", type=float, default=1.0, help="simulated time per temperature, ps (default 1)")
    p.add_argument("--dt", type=float, default=0.5, help="time step, fs (default 0.5)")
    p.add_argument("--out", default="sa7am7-md", help="output folder")
    p.add_argument("--restart", action="store_true", help="continue the run in --out")
    args = p.parse_args(argv)

    from md import MDConfig, run_md_file
    from painnjax.errors import PainnjaxError

    steps = int(round(args.ps * 1000.0 / args.dt))
    try:
        cfg = MDConfig(
            ensemble="nvt-nh",
            temperature=tuple(args.T),
            replicas=len(args.T),
            dt=args.dt,
            steps=steps,
            tau=100.0,
            log_every=10,
            traj_every=200,
            checkpoint_every=2000,
        )
        result = run_md_file(args.model, "SA7AM7", cfg, args.out, restart=args.restart)
    except PainnjaxError as exc:
        print(f"md_sa7am7: error: {exc}", file=sys.stderr)
        return 2
    s = result.summary
    print(
        f"{s['steps_done']} steps of {len(args.T)} replicas: {s['steps_per_second']:.1f} steps/s "
        f"({s['ns_per_day']:.2f} ns/day), compile {s['compile_seconds']:.1f} s, stop: {s['stop_reason']}"
    )
    print(f"wrote {plot(Path(args.out), args.T)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
