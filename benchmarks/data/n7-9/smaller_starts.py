#!/usr/bin/env python
"""Smaller clusters with two more bases than acids, cut from a larger GFN1-xTB minimum.

The shared starts have one such cluster below the test compositions (SA6AM8, ``k24_6sa8am``)
and SA7AM9; the reference study trained on m = n + 2 from n = 1. This script cuts SA(n-k)AM(m-k)
out of a start by taking away k bisulfate-ammonium ion pairs (HSO4⁻ with the NH4⁺ nearest to
it), each time the bisulfate farthest from the centre of mass, so the SO4²⁻ and the neutral
NH3 of the start stay; then relaxes each cut cluster with GFN1-xTB (ASE's BFGS, tblite, fmax
0.05 eV/Å, at most 300 steps). These are starts for GFN1-xTB MD, not claimed minima.

    python benchmarks/data/n7-9/smaller_starts.py ../shared/data/starts/k24_6sa8am.xyz \\
        --remove 1 2 3 --out RUN/starts
writes RUN/starts/cut_SA5AM7.xyz, cut_SA4AM6.xyz, cut_SA3AM5.xyz (an existing file is kept).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import ase.io
import numpy as np
from ase.optimize import BFGS

from md.screening.protonation import ion_counts, ion_units
from painnjax.data.composition import composition_of


def cut_pairs(atoms, k: int):
    """``atoms`` without ``k`` HSO4⁻/NH4⁺ pairs, the outermost bisulfate first."""
    atoms = atoms.copy()
    for step in range(k):
        units = ion_units(atoms)
        bisulfates = [idx for kind, idx in units if kind == "B"]
        ammonium = [idx for kind, idx in units if kind == "AH"]
        if not bisulfates or not ammonium:
            raise SystemExit(f"pair {step + 1} of {k}: no bisulfate-ammonium pair left ({ion_counts(atoms)})")
        com = atoms.get_center_of_mass()
        b = max(bisulfates, key=lambda idx: np.linalg.norm(atoms.positions[idx[0]] - com))
        a = min(ammonium, key=lambda idx: np.linalg.norm(atoms.positions[idx[0]] - atoms.positions[b[0]]))
        keep = np.setdiff1d(np.arange(len(atoms)), np.r_[b, a])
        atoms = atoms[keep]
    return atoms


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("start", type=Path)
    p.add_argument("--remove", type=int, nargs="+", required=True, help="ion pairs to take away, one cluster each")
    p.add_argument("--out", type=Path, required=True, help="folder of the cut clusters")
    p.add_argument("--fmax", type=float, default=0.05, help="eV/Å")
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args(argv)
    if not args.start.is_file():
        p.error(f"no start structure {args.start}")
    from tblite.ase import TBLite

    start = ase.io.read(args.start)
    args.out.mkdir(parents=True, exist_ok=True)
    for k in args.remove:
        atoms = cut_pairs(start, k)
        out = args.out / f"cut_{composition_of(atoms.numbers)}.xyz"
        if out.exists():
            print(f"{out} exists: kept")
            continue
        atoms.calc = TBLite(method="GFN1-xTB", verbosity=0)
        converged = BFGS(atoms, logfile=None).run(fmax=args.fmax, steps=args.steps)
        c = ion_counts(atoms)
        atoms.info.update(
            source=str(args.start.name), ion_pairs_removed=k, relaxed="GFN1-xTB BFGS", converged=bool(converged)
        )
        e = atoms.get_potential_energy()
        atoms.calc = None
        part = out.with_name(f"unfinished_{out.name}")  # a kill mid-write leaves no file that looks done
        ase.io.write(part, atoms, format="extxyz")
        part.replace(out)
        print(
            f"{out}: {len(atoms)} atoms, GFN1-xTB {e:.4f} eV, converged {converged}, "
            f"SO4 {c['SO4']} NH3 {c['AM']} NH4 {c['AH']} HSO4 {c['B']} H2SO4 {c['SA']} other {c['other']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
