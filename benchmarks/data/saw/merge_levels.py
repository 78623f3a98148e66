"""Merge two labellings of the same frames into one extxyz: the first level as the frames' energy and forces,
the second under its own keys (``gfn2_energy`` in info, ``gfn2_forces`` per atom, by default).

The second file must be the first labelled again (``painnjax label FIRST SECOND``): its frames are matched
to the first's by ``label_index`` and checked (species and positions equal to 1e-10 Å); the second level's
energy and forces come from its calculator results. With ``--run RUN_DIR``, paths in the frames' info
that lie in the run folder are written as ``RUN/...``, so that no path of the machine that made them
goes into the repository.

Read the merged frames with ``painnjax.read_dataset(path)`` for the first level, or
``read_dataset(path, energy_key="gfn2_energy", forces_key="gfn2_forces")`` for the second.

    .venv/bin/python benchmarks/data/saw/merge_levels.py FIRST.extxyz SECOND.extxyz OUT.extxyz --key gfn2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase.io import read

from painnjax.io.files import write_extxyz_atomic


def relative_paths(info: dict, run: Path) -> None:
    """Info strings that are paths inside ``run`` written as ``RUN/...`` (in place)."""
    prefix = str(run.resolve()).rstrip("/") + "/"
    for k, v in info.items():
        if isinstance(v, str) and v.startswith(prefix):
            info[k] = "RUN/" + v[len(prefix) :]


def merge(first: Path, second: Path, key: str, run: Path | None = None) -> list:
    """The frames of ``first`` with the energy and forces of ``second`` under ``{key}_energy`` / ``{key}_forces``.

    ``painnjax label`` with several workers writes frames as they finish, and each output frame's
    ``label_index`` is its index in the labeller's input: ``second`` (labelled from ``first``) is
    matched by it, and the merged frames are put back in the order of ``first``'s own inputs (the
    trajectories, by ``first``'s ``label_index``).
    """
    a, b = read(first, index=":"), read(second, index=":")
    if len(a) != len(b):
        sys.exit(f"{first} has {len(a)} frames, {second} {len(b)}: not the same frames")
    by_index = {int(y.info["label_index"]): y for y in b}
    if sorted(by_index) != list(range(len(a))):
        sys.exit(f"{second}: its label_index values are not 0 ... {len(a) - 1}: not labelled from {first}")
    for i, x in enumerate(a):
        y = by_index[i]
        if x.get_chemical_symbols() != y.get_chemical_symbols() or not np.allclose(
            x.positions, y.positions, rtol=0, atol=1e-10
        ):
            sys.exit(f"frame {i}: {first} and {second} hold different structures")
        if y.calc is None or "energy" not in y.calc.results or "forces" not in y.calc.results:
            sys.exit(f"{second}: frame {i} has no energy and forces")
        x.info[f"{key}_energy"] = float(y.calc.results["energy"])
        x.arrays[f"{key}_forces"] = np.asarray(y.calc.results["forces"], np.float64)
        level = y.info.get("level")
        if level is not None:
            x.info[f"{key}_level"] = level
        if run is not None:
            relative_paths(x.info, run)
    return sorted(a, key=lambda x: int(x.info.get("label_index", 0)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path, help="frames labelled at the first level (energy and forces kept as they are)")
    ap.add_argument("second", type=Path, help="the same frames labelled at the second level")
    ap.add_argument("out", type=Path, help="merged extxyz")
    ap.add_argument("--key", default="gfn2", help="prefix of the second level's keys (default gfn2)")
    ap.add_argument("--run", type=Path, help="the run folder: info paths inside it are written as RUN/...")
    args = ap.parse_args()
    for p in (args.first, args.second):
        if not p.is_file():
            ap.error(f"{p}: no such file")
    frames = merge(args.first, args.second, args.key, args.run)
    write_extxyz_atomic(args.out, frames)
    print(f"wrote {len(frames)} frames to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
