"""What an MD run leaves in its folder: trajectories, the thermo log, single frames, summary.json.

- ``trajectory_r000.traj`` (or ``.extxyz``): one file per replica, a frame every
  ``traj_every`` steps with positions, velocities, the potential energy and optionally
  forces; ``atoms.info`` holds ``step``, ``time_fs``, ``replica``, ``temperature_K``.
- ``thermo.csv``: ``step, time_fs, replica, temperature_K, e_pot_eV, e_kin_eV, e_total_eV,
  conserved_eV`` every ``log_every`` steps (conserved: the NVE total energy or the
  Nosé-Hoover chain's conserved quantity; empty for Langevin).
- ``last_good_r000.extxyz``: the last frame that passed the safety checks of a stopped replica;
  ``final_r000.extxyz``: the last frame of each replica.
- ``summary.json``: speed, compile time, temperatures, steps done, stop reason.

A restart first cuts the thermo log and trajectories back to the checkpoint's step
(:func:`truncate_thermo`, :meth:`TrajectoryWriter.truncate_after`), so nothing is doubled.

Example:
    >>> atoms = frame_atoms([8, 1, 1], R, V, e_pot=-1.0, step=10, time_fs=5.0,
    ...                     replica=0, temperature=300.0)                        # doctest: +SKIP
    >>> TrajectoryWriter("out/trajectory_r000.traj").write([atoms])                # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from painnjax.io.files import atomic_write, write_json

THERMO_FILE = "thermo.csv"
SUMMARY_FILE = "summary.json"
THERMO_COLUMNS = ("step", "time_fs", "replica", "temperature_K", "e_pot_eV", "e_kin_eV", "e_total_eV", "conserved_eV")
TRAJ_FORMATS = ("traj", "extxyz")


def trajectory_path(out: Path, replica: int, fmt: str) -> Path:
    return Path(out) / f"trajectory_r{replica:03d}.{fmt}"


def frame_atoms(
    numbers,
    positions,
    velocities,
    e_pot: float,
    step: int,
    time_fs: float,
    replica: int,
    temperature: float,
    forces=None,
):
    """An ``ase.Atoms`` frame: velocities in ASE units (Å per ASE time unit, jax-md's too)."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms(numbers=np.asarray(numbers), positions=np.asarray(positions, np.float64))
    atoms.set_velocities(np.asarray(velocities, np.float64))
    results = {"energy": float(e_pot)}
    if forces is not None:
        results["forces"] = np.asarray(forces, np.float64)
    atoms.calc = SinglePointCalculator(atoms, **results)
    atoms.info.update(step=int(step), time_fs=float(time_fs), replica=int(replica), temperature_K=float(temperature))
    return atoms


def write_frame(path, atoms) -> Path:
    """One frame as extxyz, written atomically."""
    import io

    from ase.io import write

    buf = io.StringIO()
    write(buf, atoms, format="extxyz")
    return atomic_write(path, buf.getvalue())


class TrajectoryWriter:
    """Appends frames to one trajectory file (ASE ``.traj`` or ``.extxyz``)."""

    def __init__(self, path, fmt: str | None = None):
        self.path = Path(path)
        self.fmt = fmt or self.path.suffix.lstrip(".")
        if self.fmt not in TRAJ_FORMATS:
            raise ValueError(f"trajectory format must be one of {TRAJ_FORMATS}, got {self.fmt!r}")

    def write(self, frames) -> None:
        if not frames:
            return
        if self.fmt == "traj":
            from ase.io.trajectory import Trajectory

            with Trajectory(str(self.path), "a") as traj:
                for atoms in frames:
                    traj.write(atoms)
        else:
            from ase.io import write

            with open(self.path, "a") as f:
                write(f, list(frames), format="extxyz")
                f.flush()
                os.fsync(f.fileno())

    def read(self) -> list:
        """All readable frames (a frame cut off by a kill at the end is dropped)."""
        if not self.path.exists():
            return []
        frames = []
        if self.fmt == "traj":
            from ase.io.trajectory import Trajectory

            try:
                traj = Trajectory(str(self.path), "r")
            except Exception:  # noqa: BLE001 - an unreadable file has no good frames
                return []
            with traj:
                for k in range(len(traj)):
                    try:
                        frames.append(traj[k])
                    except Exception:  # noqa: BLE001
                        break
        else:
            from ase.io import iread

            try:
                for atoms in iread(str(self.path), index=":", format="extxyz"):
                    frames.append(atoms)
            except Exception:  # noqa: BLE001 - a half-written last frame
                pass
        return frames

    def truncate_after(self, step: int) -> int:
        """Keep the frames up to ``step``; returns how many remain."""
        if not self.path.exists():
            return 0
        frames = [a for a in self.read() if int(a.info.get("step", -1)) <= step]
        tmp = self.path.with_name(f".{self.path.name}.truncate")
        if tmp.exists():
            tmp.unlink()
        TrajectoryWriter(tmp, self.fmt).write(frames)
        if frames:
            os.replace(tmp, self.path)
        else:
            self.path.unlink()
        return len(frames)


def thermo_rows(steps, times, replica: int, temperatures, e_pot, e_kin, conserved) -> list[str]:
    rows = []
    for s, t, T, ep, ek, c in zip(steps, times, temperatures, e_pot, e_kin, conserved):
        cons = "" if not math.isfinite(c) else f"{c:.10g}"
        rows.append(f"{int(s)},{t:.6g},{replica},{T:.6g},{ep:.10g},{ek:.10g},{ep + ek:.10g},{cons}\n")
    return rows


def append_thermo(out: Path, rows: list[str]) -> None:
    path = Path(out) / THERMO_FILE
    new = not path.exists()
    with open(path, "a") as f:
        if new:
            f.write(",".join(THERMO_COLUMNS) + "\n")
        f.writelines(rows)
        f.flush()
        os.fsync(f.fileno())


def truncate_thermo(out: Path, step: int) -> None:
    """Drop thermo rows after ``step`` (and a half-written last line)."""
    path = Path(out) / THERMO_FILE
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    keep = [lines[0]] if lines and lines[0].startswith("step,") else [",".join(THERMO_COLUMNS) + "\n"]
    for line in lines[1:]:
        parts = line.rstrip("\n").split(",")
        if line.endswith("\n") and len(parts) == len(THERMO_COLUMNS) and parts[0].isdigit() and int(parts[0]) <= step:
            keep.append(line)
    atomic_write(path, "".join(keep))


def read_thermo(out) -> dict[str, np.ndarray]:
    """The thermo log as columns (``conserved_eV`` NaN where empty)."""
    path = Path(out) / THERMO_FILE
    lines = path.read_text().splitlines()[1:]
    cols = {c: [] for c in THERMO_COLUMNS}
    for line in lines:
        for c, v in zip(THERMO_COLUMNS, line.split(",")):
            cols[c].append(float(v) if v else math.nan)
    out = {c: np.asarray(v) for c, v in cols.items()}
    for c in ("step", "replica"):
        out[c] = out[c].astype(np.int64)
    return out


def write_summary(out: Path, summary: dict) -> Path:
    return write_json(Path(out) / SUMMARY_FILE, summary)
