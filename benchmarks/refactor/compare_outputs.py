"""Compare two output folders of run_outputs.sh file by file (before and after a refactor).

JSON is compared as data with timing and host fields left out (their names match ``VOLATILE``;
the run prints which it left out); extxyz/xyz/traj frames by their arrays and info; CSV and
text line by line with columns or lines of timings left out; PNG files (matplotlib output is
not a behaviour) and run-folder locks (a process id) by presence only. Every other number must
be equal to the bit. Prints one line per file and exits 1 when anything differs.

    .venv/bin/python benchmarks/refactor/compare_outputs.py before after
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
from ase.io import read

# Keys whose values are timings, dates, hosts or versions: they change from run to run.
VOLATILE = re.compile(
    r"(seconds|per_second|_per_s$|ns_per_day|speed|elapsed|^date$|_date$|host|_versions?$|"
    r"^pid$|created|timestamp|throughput|^eta$|_s$)",
    re.IGNORECASE,
)
# Text lines that carry timings (progress, speeds)
VOLATILE_LINE = re.compile(r"(steps/s|ns/day|compile|structures/s|seconds|\bs\b per|elapsed)", re.IGNORECASE)


DROPPED: set[str] = set()


def _strip(obj):
    if isinstance(obj, dict):
        DROPPED.update(str(k) for k in obj if VOLATILE.search(str(k)))
        return {k: _strip(v) for k, v in obj.items() if not VOLATILE.search(str(k))}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _equal(a, b, where: str, out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'after' if k not in a else 'before'}")
            else:
                _equal(a[k], b[k], f"{where}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f"{where}[{i}]", out)
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")


def _frames(path: Path):
    return read(path, index=":")


def compare_frames(a: Path, b: Path) -> list[str]:
    fa, fb = _frames(a), _frames(b)
    out = []
    if len(fa) != len(fb):
        return [f"{len(fa)} frames != {len(fb)}"]
    for i, (x, y) in enumerate(zip(fa, fb)):
        if x.get_chemical_symbols() != y.get_chemical_symbols():
            out.append(f"frame {i}: symbols differ")
        for name in sorted(set(x.arrays) | set(y.arrays)):
            if name not in x.arrays or name not in y.arrays or not np.array_equal(x.arrays[name], y.arrays[name]):
                out.append(f"frame {i}: array {name} differs")
        _equal(_strip(_plain(x.info)), _strip(_plain(y.info)), f"frame {i} info", out)
        if x.calc is not None or y.calc is not None:
            ra = getattr(x.calc, "results", {}) if x.calc else {}
            rb = getattr(y.calc, "results", {}) if y.calc else {}
            for k in sorted(set(ra) | set(rb)):
                if k not in ra or k not in rb or not np.array_equal(np.asarray(ra[k]), np.asarray(rb[k])):
                    out.append(f"frame {i}: result {k} differs")
    return out


def _plain(info: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in info.items()}


def compare_text(a: Path, b: Path) -> list[str]:
    la, lb = a.read_text().splitlines(), b.read_text().splitlines()
    if a.suffix == ".csv" and la and lb:
        head = la[0].split(",")
        keep = [i for i, c in enumerate(head) if not VOLATILE.search(c)]
        la = [",".join(r.split(",")[i] for i in keep if i < len(r.split(","))) for r in la]
        lb = [",".join(r.split(",")[i] for i in keep if i < len(r.split(","))) for r in lb]
    la = [x for x in la if not VOLATILE_LINE.search(x)]
    lb = [x for x in lb if not VOLATILE_LINE.search(x)]
    if len(la) != len(lb):
        return [f"{len(la)} lines != {len(lb)}"]
    return [f"line {i + 1}: {x!r} != {y!r}" for i, (x, y) in enumerate(zip(la, lb)) if x != y][:5]


def compare(a: Path, b: Path) -> list[str]:
    suffix = "".join(a.suffixes[-1:])
    if a.name == ".painnjax.lock":  # the folder lock holds the writer's process id
        return []
    if a.stat().st_size == 0 or b.stat().st_size == 0:
        return [] if a.read_bytes() == b.read_bytes() else ["one file is empty"]
    if suffix == ".json":
        out: list[str] = []
        _equal(_strip(json.loads(a.read_text())), _strip(json.loads(b.read_text())), a.name, out)
        return out[:8]
    if suffix in (".extxyz", ".xyz", ".traj"):
        return compare_frames(a, b)[:8]
    if suffix in (".csv", ".txt", ".toml", ".log"):
        return compare_text(a, b)
    if suffix == ".png":
        return []
    return [] if a.read_bytes() == b.read_bytes() else ["bytes differ"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args()
    files_a = {p.relative_to(args.before) for p in args.before.rglob("*") if p.is_file()}
    files_b = {p.relative_to(args.after) for p in args.after.rglob("*") if p.is_file()}
    bad = 0
    for rel in sorted(files_a | files_b):
        if rel not in files_a or rel not in files_b:
            print(f"ONLY IN {'after' if rel not in files_a else 'before'}: {rel}")
            bad += 1
            continue
        diffs = compare(args.before / rel, args.after / rel)
        print(f"{'same' if not diffs else 'DIFFERS'}  {rel}{' (presence only)' if rel.suffix == '.png' else ''}")
        for d in diffs:
            print(f"    {d}")
        bad += bool(diffs)
    print(f"left out as timings, dates or versions: {', '.join(sorted(DROPPED))}")
    print(f"{len(files_a | files_b)} files, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
