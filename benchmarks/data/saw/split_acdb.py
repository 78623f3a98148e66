"""Split ACDB's SA–W structures (one concatenated .xyzs file) into one xyz start per cluster, named by composition.

The comment line of each frame in ``structures1SP.xyzs`` holds ACDB's name (``1sa3w``, ``0sa10w-04_05``);
ase's xyz reader drops it, so the frames are read here line by line. Each start is written as
``OUT/SA{n}W{k}.xyz`` (painnjax's composition names; SA0W1 is the water monomer) with the ACDB name in
its comment line. The composition written is checked against the atoms (painnjax.data.composition).

    .venv/bin/python benchmarks/data/saw/split_acdb.py \
        ../shared/data/acdb/kubecka24_SA-W_B97-3c/structures1SP.xyzs --out RUN/starts
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write

from painnjax.data.composition import molecule_counts

_NAME = re.compile(r"^(?:(\d+)sa)?(?:(\d+)w)?")


def read_named_frames(path: Path) -> list[tuple[str, Atoms]]:
    """``(acdb_name, atoms)`` of every frame of a concatenated xyz file."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            n = int(lines[i].split()[0])
        except ValueError:
            sys.exit(f"{path}:{i + 1}: expected an atom count, got {lines[i]!r}")
        name = lines[i + 1].strip()
        rows = [ln.split() for ln in lines[i + 2 : i + 2 + n]]
        if len(rows) != n or any(len(r) < 4 for r in rows):
            sys.exit(f"{path}:{i + 1}: frame {name!r} is cut short")
        symbols = [r[0] for r in rows]
        positions = np.array([[float(x) for x in r[1:4]] for r in rows])
        out.append((name, Atoms(symbols, positions=positions)))
        i += 2 + n
    return out


def composition(name: str, atoms: Atoms) -> str:
    """``SA{n}W{k}`` from the atoms, checked against ACDB's name."""
    counts = molecule_counts(atoms.numbers, source=name)
    m = _NAME.match(name)
    want = (int(m.group(1) or 0), int(m.group(2) or 0))
    if (counts["SA"], counts["W"]) != want or counts["AM"]:
        sys.exit(f"{name}: the atoms are {counts}, the name says SA{want[0]} W{want[1]}")
    return f"SA{counts['SA']}W{counts['W']}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("xyzs", type=Path, help="ACDB's structures1SP.xyzs")
    ap.add_argument("--out", type=Path, required=True, help="folder for the xyz starts")
    args = ap.parse_args()
    if not args.xyzs.is_file():
        ap.error(f"{args.xyzs}: no such file")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, atoms in read_named_frames(args.xyzs):
        comp = composition(name, atoms)
        path = args.out / f"{comp}.xyz"
        tmp = path.with_name(f"unfinished_{path.name}")
        write(tmp, atoms, format="xyz", comment=f"{comp} from ACDB {name}")
        tmp.replace(path)
        print(f"{comp:8s} {len(atoms):3d} atoms  (ACDB {name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
