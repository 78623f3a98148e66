"""Run folders -> first-passage records: one :class:`FirstPassage` per replica of a ``painnjax md`` run.

``painnjax md`` stops a replica whose cluster loses a group of atoms and records when and what
(``summary.json``: ``stop_time_fs``, ``fragments``). :func:`read_run` turns each replica into
an *evaporation* (every group that left is whole molecules, :mod:`.formulas`), a *broken
molecule* (a model failure, with a :class:`BrokenMoleculeWarning`), another safety stop, or a
replica that completed or is still running (censored); :func:`read_runs` reads several folders
and refuses to pool different clusters.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from md.analysis.evaporation.formulas import (
    DEFAULT_MOLECULES,
    check_molecules,
    fragments_from_message,
    molecule_name,
)
from painnjax.errors import InputError

#: what a replica's record says happened (only ``"evaporated"`` is an event)
OUTCOMES = ("evaporated", "broken", "stopped", "completed", "running")
SUMMARY_FILE = "summary.json"


class BrokenMoleculeWarning(RuntimeWarning):
    """A replica lost a group of atoms that is not a whole molecule: the model broke a molecule."""


@dataclass
class FirstPassage:
    """One replica as a first-passage record.

    Attributes:
        run: the run folder; replica: its index there; temperature: K (the replica's target).
        time_fs: when the first molecule was lost (``outcome == "evaporated"``), else the time
            the replica was followed without losing one (censoring time).
        outcome: ``"evaporated"`` (the event), ``"broken"`` (lost a group that is not a whole
            molecule: model failure), ``"stopped"`` (another safety stop, see ``stop_reason``),
            ``"completed"`` or ``"running"`` (an interrupted run).
        stop_reason: the safety stop's kind (fragmentation, temperature, non-finite, ...) or None.
        fragments: the formulas of the groups that left; lost: their molecule names (None for a
            formula that is not a sum of molecules).
        resolution_fs: ``log_every * dt``, the spacing of the checks (None when not recorded).
        cluster, ensemble: the run's cluster formula and ensemble.
    """

    run: str
    replica: int
    temperature: float
    time_fs: float
    outcome: str
    stop_reason: str | None = None
    fragments: tuple[str, ...] = ()
    lost: tuple[str | None, ...] = ()
    resolution_fs: float | None = None
    cluster: str | None = None
    ensemble: str | None = None
    message: str | None = None

    @property
    def event(self) -> bool:
        """True when the replica lost a molecule (evaporation); every other outcome is censored."""
        return self.outcome == "evaporated"

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "replica": self.replica,
            "T_K": self.temperature,
            "time_ps": self.time_fs / 1000.0,
            "outcome": self.outcome,
            "stop_reason": self.stop_reason,
            "fragments": list(self.fragments),
            "lost": list(self.lost),
        }


def _number(value, what: str, path, minimum: float | None = None) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise InputError(f"{path}: {what} must be a finite number{bound}, got {value!r}")
    return float(value)


def _read_summary(folder: Path) -> tuple[Path, dict]:
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (give painnjax md run folders, each with {SUMMARY_FILE})")
    path = folder / SUMMARY_FILE
    if not path.is_file():
        raise InputError(
            f"{folder}: no {SUMMARY_FILE}: not a painnjax md run folder (or its run has not finished a session yet)"
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("replica_status"), list):
        raise InputError(f"{path}: not the summary of a painnjax md run (no replica_status list)")
    if not summary["replica_status"]:
        raise InputError(f"{path}: the run has no replicas")
    return path, summary


def _run_times(path: Path, s: dict) -> tuple[float, float, float | None]:
    """``(dt_fs, steps_done, resolution_fs)`` of a run's summary ``s``; InputError for a run
    without evaporation times of one temperature (no fragmentation check, replica exchange)."""
    dt = _number(s.get("dt_fs"), "dt_fs", path, minimum=0)
    steps_done = _number(s.get("steps_done"), "steps_done", path, minimum=0)
    config = s.get("config") if isinstance(s.get("config"), dict) else {}
    fd = config.get("fragment_distance")
    if fd == 0 or (fd is None and config.get("wall_radius") is not None):  # a wall's default is no check
        raise InputError(
            f"{path}: the run was made without the fragmentation check (fragment_distance 0"
            f"{', a wall' if config.get('wall_radius') is not None else ''}): it has no evaporation times"
        )
    if config.get("exchange_every"):
        raise InputError(
            f"{path}: a replica-exchange run: configurations move between the temperatures, so a replica's "
            "time to fragmentation is not that of one temperature"
        )
    log_every = config.get("log_every")
    resolution = log_every * dt if isinstance(log_every, int) and not isinstance(log_every, bool) else None
    return dt, steps_done, resolution


def _classify(fragments: Sequence[str], molecules: Mapping[str, str]) -> tuple[str, tuple[str | None, ...]]:
    names = []
    for f in fragments:
        try:
            names.append(molecule_name(f, molecules))
        except InputError:  # not a formula at all: certainly not a known molecule
            names.append(None)
    ok = bool(fragments) and all(n is not None for n in names)
    return ("evaporated" if ok else "broken"), tuple(names)


def read_run(folder, molecules: Mapping[str, str] = DEFAULT_MOLECULES) -> list[FirstPassage]:
    """One :class:`FirstPassage` per replica of the ``painnjax md`` run in ``folder``.

    Raises :class:`InputError` naming the folder or its ``summary.json`` when there is none, it
    is not a run's summary, or the run had no fragmentation check (``fragment_distance`` 0).
    Warns (:class:`BrokenMoleculeWarning`) about each replica that lost a broken molecule.
    """
    folder = Path(folder)
    check_molecules(molecules)  # a bad table is an error even when nothing fragmented
    path, s = _read_summary(folder)
    dt, steps_done, resolution = _run_times(path, s)
    temps = s.get("temperatures_K") if isinstance(s.get("temperatures_K"), list) else []
    records = []
    for r, st in enumerate(s["replica_status"]):
        if not isinstance(st, dict):
            raise InputError(f"{path}: replica_status[{r}] is not an object")
        replica = st.get("replica", r)
        T = st.get("temperature_K", temps[r] if r < len(temps) else None)
        T = _number(T, f"the temperature of replica {replica}", path, minimum=0)
        status = st.get("status")
        common = dict(
            run=str(folder),
            replica=int(replica),
            temperature=T,
            resolution_fs=resolution,
            cluster=st.get("formula", s.get("formula")),  # a run of several clusters: the replica's own
            ensemble=s.get("ensemble"),
        )
        if status in ("completed", "running"):
            records.append(FirstPassage(time_fs=steps_done * dt, outcome=status, **common))
            continue
        if status != "stopped":
            raise InputError(f"{path}: replica {replica} has an unknown status {status!r}")
        kind = st.get("stop_reason")
        if "stop_time_fs" in st:
            t = _number(st["stop_time_fs"], f"stop_time_fs of replica {replica}", path, minimum=0)
        else:
            t = _number(st.get("stop_step"), f"stop_step of replica {replica}", path, minimum=0) * dt
        message = st.get("message")
        if kind != "fragmentation":
            records.append(FirstPassage(time_fs=t, outcome="stopped", stop_reason=kind, message=message, **common))
            continue
        frags = st.get("fragments")
        if frags is None:  # runs older than the "fragments" key
            frags = fragments_from_message(message or "")
        if not isinstance(frags, list) or not all(isinstance(f, str) for f in frags):
            raise InputError(f"{path}: the fragments of replica {replica} are not a list of formulas: {frags!r}")
        outcome, lost = _classify(frags, molecules)
        rec = FirstPassage(
            time_fs=t,
            outcome=outcome,
            stop_reason=kind,
            fragments=tuple(frags),
            lost=lost,
            message=message,
            **common,
        )
        if outcome == "broken":
            what = ", ".join(frags) if frags else "a group of unknown formula"
            warnings.warn(
                f"{folder}: replica {replica} ({T:g} K) lost {what} at {t / 1000:g} ps: not a whole molecule of "
                f"{', '.join(molecules)} or a cluster of them. A broken molecule is a failure of the model, "
                "not an evaporation: counted apart, as censored at that time",
                BrokenMoleculeWarning,
                stacklevel=2,
            )
        records.append(rec)
    return records


def read_runs(
    folders: Sequence, molecules: Mapping[str, str] = DEFAULT_MOLECULES, cluster: str | None = None
) -> list[FirstPassage]:
    """:func:`read_run` of every folder, in order. A folder given twice, or runs of different
    clusters (which must not be pooled), are an :class:`InputError`; ``cluster`` (a formula,
    e.g. ``H20N4O16S4``) keeps the replicas of that cluster only (runs of several clusters)."""
    folders = [Path(f) for f in folders]
    if not folders:
        raise InputError("no run folders given")
    seen: dict[Path, Path] = {}
    for f in folders:
        key = f.resolve()
        if key in seen:
            raise InputError(f"{f}: the run folder is given twice (as {seen[key]} too)")
        seen[key] = f
    records = []
    for f in folders:
        records += read_run(f, molecules)
    if cluster is not None:
        found = sorted({r.cluster for r in records if r.cluster is not None})
        records = [r for r in records if r.cluster == cluster]
        if not records:
            held = ", ".join(found) or "none"
            raise InputError(f"no replica of the cluster {cluster} in the runs (they hold {held})")
    clusters = {r.cluster: r.run for r in records if r.cluster is not None}
    if len(clusters) > 1:
        shown = ", ".join(f"{c} in {run}" for c, run in clusters.items())
        raise InputError(
            f"the runs are of different clusters ({shown}): analyse each cluster on its own (--cluster FORMULA)"
        )
    return records
