"""What an MD run leaves in its folder: trajectories, the thermo log, single frames, summary.json.

- ``trajectory_r000.traj`` (or ``.extxyz``): one file per replica, a frame every
  ``traj_every`` steps with positions, velocities, the potential energy and optionally
  forces; ``atoms.info`` holds ``step``, ``time_fs``, ``replica``, ``temperature_K``.
- ``thermo.csv``: ``step, time_fs, replica, temperature_K, e_pot_eV, e_kin_eV, e_total_eV,
  conserved_eV`` every ``log_every`` steps (conserved: the NVE total energy or the
  Nosé-Hoover chain's conserved quantity; empty for Langevin), then the columns of the run's
  features (:data:`EXTRA_COLUMNS`): ``e_wall_eV`` with a wall (``e_pot_eV`` is the model's
  energy; ``e_total_eV`` and ``conserved_eV`` include the wall), ``e_std_eV``,
  ``f_spread_eV_A`` and ``f_spread_max_eV_A`` with a committee, ``walker`` under replica
  exchange.
- ``uncertain.extxyz``: with a committee and ``collect_above``, the frames whose largest atomic
  force spread is above it (for labelling).
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


#: columns a run adds when it has the feature: the wall's energy, the committee's spreads
#: (:mod:`painnjax.training.committee`'s definitions), and under replica exchange the walker
#: (the replica the configuration at this temperature started as).
EXTRA_COLUMNS = {
    "e_wall": "e_wall_eV",
    "e_std": "e_std_eV",
    "f_spread": "f_spread_eV_A",
    "f_spread_max": "f_spread_max_eV_A",
    "walker": "walker",
}
INTEGER_COLUMNS = ("step", "replica", "walker")


def thermo_columns(extra=()) -> tuple[str, ...]:
    """The columns of a run's ``thermo.csv``: the base ones, then those of ``extra`` (keys of :data:`EXTRA_COLUMNS`)."""
    return THERMO_COLUMNS + tuple(EXTRA_COLUMNS[k] for k in EXTRA_COLUMNS if k in extra)


def _cell(value) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return "" if not math.isfinite(value) else f"{value:.10g}"


def thermo_rows(
    steps, times, replica: int, temperatures, e_pot, e_kin, conserved, e_total=None, extra=None
) -> list[str]:
    """CSV lines, one per record; ``extra`` maps :data:`EXTRA_COLUMNS` keys to per-record values
    (written in that order); ``e_total`` defaults to ``e_pot + e_kin``."""
    extra = extra or {}
    keys = [k for k in EXTRA_COLUMNS if k in extra]
    rows = []
    for j, (s, t, T, ep, ek, c) in enumerate(zip(steps, times, temperatures, e_pot, e_kin, conserved)):
        et = ep + ek if e_total is None else e_total[j]
        more = "".join("," + _cell(extra[k][j]) for k in keys)
        rows.append(f"{int(s)},{t:.6g},{replica},{T:.6g},{ep:.10g},{ek:.10g},{et:.10g},{_cell(c)}{more}\n")
    return rows


def append_thermo(out: Path, rows: list[str], columns=THERMO_COLUMNS) -> None:
    path = Path(out) / THERMO_FILE
    new = not path.exists()
    with open(path, "a") as f:
        if new:
            f.write(",".join(columns) + "\n")
        f.writelines(rows)
        f.flush()
        os.fsync(f.fileno())


def truncate_thermo(out: Path, step: int, columns=THERMO_COLUMNS) -> None:
    """Drop thermo rows after ``step`` (and a half-written last line)."""
    path = Path(out) / THERMO_FILE
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0] if lines and lines[0].startswith("step,") else ",".join(columns) + "\n"
    n_cols = len(header.rstrip("\n").split(","))
    keep = [header]
    for line in lines[1:]:
        parts = line.rstrip("\n").split(",")
        if line.endswith("\n") and len(parts) == n_cols and parts[0].isdigit() and int(parts[0]) <= step:
            keep.append(line)
    atomic_write(path, "".join(keep))


def read_thermo(out) -> dict[str, np.ndarray]:
    """The thermo log as columns, named as in its header (NaN where a cell is empty)."""
    path = Path(out) / THERMO_FILE
    lines = path.read_text().splitlines()
    names = lines[0].split(",") if lines and lines[0].startswith("step,") else list(THERMO_COLUMNS)
    cols = {c: [] for c in names}
    for line in lines[1:]:
        for c, v in zip(names, line.split(",")):
            cols[c].append(float(v) if v else math.nan)
    out = {c: np.asarray(v) for c, v in cols.items()}
    for c in INTEGER_COLUMNS:
        if c in out:
            out[c] = out[c].astype(np.int64)
    return out


def write_summary(out: Path, summary: dict) -> Path:
    return write_json(Path(out) / SUMMARY_FILE, summary)
