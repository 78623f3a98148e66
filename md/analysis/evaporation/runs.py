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


#: marks a field that is not in the summary (None is a value some fields may hold)
_MISSING = object()


def _field(d: dict, key: str, where: str, path, required: bool = True):
    """``d[key]``; :data:`_MISSING` when absent and not ``required`` (else an InputError naming it)."""
    if key in d:
        return d[key]
    if required:
        raise InputError(f"{path}: {where}{key} is missing")
    return _MISSING


def _number(value, what: str, path, minimum: float | None = None, above: bool = False) -> float:
    """``value`` as a float: a finite JSON number (not a bool), ``>= minimum`` (``> minimum`` when ``above``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (minimum is not None and (value <= minimum if above else value < minimum)):
        bound = "" if minimum is None else f" {'>' if above else '>='} {minimum:g}"
        raise InputError(f"{path}: {what} must be a finite number{bound}, got {value!r}")
    return float(value)


def _whole(value, what: str, path, minimum: int = 0) -> int:
    """``value`` as an int: a JSON integer (not a bool, not 1.5) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{path}: {what} must be a whole number >= {minimum}, got {value!r}")
    return value


def _text(value, what: str, path) -> str | None:
    """``value`` when it is a string or None (a field md leaves empty), else an InputError."""
    if value is not None and not isinstance(value, str):
        raise InputError(f"{path}: {what} must be a text, got {value!r}")
    return value


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
    dt = _number(_field(s, "dt_fs", "", path), "dt_fs", path, minimum=0, above=True)
    steps_done = _whole(_field(s, "steps_done", "", path), "steps_done", path)
    config = _field(s, "config", "", path, required=False)
    if config is _MISSING:  # a summary without the run's settings: the defaults (a check, no exchange)
        config = {}
    if not isinstance(config, dict):
        raise InputError(f"{path}: config must be an object, got {config!r}")
    fd, wall = config.get("fragment_distance"), config.get("wall_radius")
    if fd is not None:
        _number(fd, "config.fragment_distance", path, minimum=0)
    if wall is not None:
        _number(wall, "config.wall_radius", path, minimum=0, above=True)
    exchange = config.get("exchange_every")
    if exchange is not None:
        _whole(exchange, "config.exchange_every", path)
    log_every = config.get("log_every")
    if log_every is not None:
        _whole(log_every, "config.log_every", path, minimum=1)
    if fd == 0 or (fd is None and wall is not None):  # a wall's default is no check
        raise InputError(
            f"{path}: the run was made without the fragmentation check (fragment_distance 0"
            f"{', a wall' if wall is not None else ''}): it has no evaporation times"
        )
    if exchange:
        raise InputError(
            f"{path}: a replica-exchange run: configurations move between the temperatures, so a replica's "
            "time to fragmentation is not that of one temperature"
        )
    resolution = None if log_every is None else log_every * dt
    return dt, steps_done, resolution


def _temperatures(path: Path, s: dict) -> list[float]:
    """The run's ``temperatures_K`` (one per replica; empty when the summary has none)."""
    temps = _field(s, "temperatures_K", "", path, required=False)
    if temps is _MISSING:
        return []
    if not isinstance(temps, list):
        raise InputError(f"{path}: temperatures_K must be a list of numbers, got {temps!r}")
    return [_number(T, f"temperatures_K[{r}]", path, minimum=0) for r, T in enumerate(temps)]


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
    is not a run's summary, a field it uses is missing or of the wrong kind (naming the field,
    e.g. ``replica_status[0].replica``), or the run had no fragmentation check
    (``fragment_distance`` 0). Warns (:class:`BrokenMoleculeWarning`) about each replica that
    lost a broken molecule.
    """
    folder = Path(folder)
    check_molecules(molecules)  # a bad table is an error even when nothing fragmented
    path, s = _read_summary(folder)
    dt, steps_done, resolution = _run_times(path, s)
    temps = _temperatures(path, s)
    formula = _text(s.get("formula"), "formula", path)
    ensemble = _text(s.get("ensemble"), "ensemble", path)
    records = []
    for r, st in enumerate(s["replica_status"]):
        where = f"replica_status[{r}]"
        if not isinstance(st, dict):
            raise InputError(f"{path}: {where} must be an object, got {st!r}")
        replica = _whole(st.get("replica", r), f"{where}.replica", path)
        T = st.get("temperature_K", temps[r] if r < len(temps) else _MISSING)
        if T is _MISSING:
            raise InputError(f"{path}: {where}.temperature_K is missing (and temperatures_K has no entry {r})")
        T = _number(T, f"{where}.temperature_K", path, minimum=0)
        status = _field(st, "status", f"{where}.", path)
        if status not in ("completed", "running", "stopped"):
            raise InputError(
                f"{path}: {where}.status {status!r} is an unknown status (replica {replica}; "
                "known: completed, running, stopped)"
            )
        cluster = _text(st.get("formula", formula), f"{where}.formula", path)  # a run of several clusters
        common = dict(
            run=str(folder),
            replica=replica,
            temperature=T,
            resolution_fs=resolution,
            cluster=cluster,
            ensemble=ensemble,
        )
        if status in ("completed", "running"):
            records.append(FirstPassage(time_fs=steps_done * dt, outcome=status, **common))
            continue
        kind = _field(st, "stop_reason", f"{where}.", path)
        if not isinstance(kind, str):
            raise InputError(f"{path}: {where}.stop_reason must be a text, got {kind!r}")
        if "stop_time_fs" in st:
            t = _number(st["stop_time_fs"], f"{where}.stop_time_fs", path, minimum=0)
        elif "stop_step" in st:
            t = _whole(st["stop_step"], f"{where}.stop_step", path) * dt
        else:
            raise InputError(f"{path}: {where} has neither stop_time_fs nor stop_step (replica {replica} stopped)")
        message = _text(st.get("message"), f"{where}.message", path)
        if kind != "fragmentation":
            records.append(FirstPassage(time_fs=t, outcome="stopped", stop_reason=kind, message=message, **common))
            continue
        frags = st.get("fragments")
        if frags is None:  # runs older than the "fragments" key
            frags = fragments_from_message(message or "")
        if not isinstance(frags, list) or not all(isinstance(f, str) for f in frags):
            raise InputError(f"{path}: {where}.fragments must be a list of formulas, got {frags!r}")
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
