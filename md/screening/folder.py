"""A screen as a job with a folder: what ``painnjax screen`` runs, resumable after an interruption.

:func:`screen_to_folder` locks ``OUT``, checks that a screen already there may be continued
(same candidates, settings and model; ``resume=True``), reads back the minima it had appended to
``OUT/minimised.extxyz`` (:data:`PARTIAL_FILE`), runs :func:`md.screening.screen.screen` on the
rest, appending each structure there as it finishes, and ends with the files of
:func:`md.screening.report.write_outputs`: ``best.extxyz`` (the lowest ``keep`` distinct minima,
lowest first, energies readable by ASE), ``summary.csv`` (every candidate), ``energies.png``
(histogram of final energies) and ``screen.json``.

A resume goes on exactly where the screen stopped: each structure in ``minimised.extxyz`` keeps
its positions to the last bit (ASE writes 8 decimals; the refinement candidates made from them
would differ) and its energy, so the outputs are those of an uninterrupted screen to the bit.
Each also records the model's identity and a hash of the settings (``model_id``,
``screen_id``), checked also when ``screen.json`` is gone; a structure that the screen cannot
have made (a ``candidate_index`` out of range, not an integer, twice, of other atoms; a
refinement candidate without the candidates it comes after) and a damaged ``screen.json`` are
refused (:class:`~painnjax.errors.InputError`, naming the file, frame and field).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from ase.io import read

from md.screening.checks import check_screen
from md.screening.config import ScreenConfig
from md.screening.report import SCREEN_FILE, write_outputs
from md.screening.screen import ScreenResult, screen
from painnjax.errors import InputError
from painnjax.io.files import (
    ExtxyzAppender,
    complete_extxyz_end,
    extxyz_text,
    lock_run_folder,
    read_json,
    write_json,
)
from painnjax.io.modelfile import check_same_model
from painnjax.io.resolved import ResolvedModel

PARTIAL_FILE = "minimised.extxyz"
# Settings that define a screen: a resumed screen must use the same.
_FIXED = ("model", "candidates", "fmax_eV_per_A", "max_steps", "dtype", "optimizer", "refine")
# What a structure appended to PARTIAL_FILE keeps of its info (besides its candidate_index)
_KEPT_INFO = (
    "fmax",
    "steps",
    "converged",
    "composition",
    "state",
    "final_state",
    "parent",
    "refine_round",
    "move",
    "partner",
    "force_calls",
)


def screen_to_folder(
    model,
    candidates,
    out,
    config: ScreenConfig | None = None,
    *,
    committee=(),
    resume: bool = False,
    description: str = "",
    plot: bool = True,
    log=print,
    progress: bool = False,
    devices: int | None = None,
    **settings,
) -> ScreenResult:
    """:func:`~md.screening.screen.screen` with its results in ``out``; see the module doc.

    ``config`` (:class:`~md.screening.config.ScreenConfig`, default its defaults: keep 20) with
    ``settings`` fields of it changed, e.g. ``keep=5``. ``description`` names the candidates (e.g.
    ``"SA4AM4 n=1000 seed=0"``): a resumed screen must have the same one, and the same model (its
    identity is kept in ``screen.json`` and in each structure of ``minimised.extxyz``). ``out`` is
    locked for the call: a second screen into it at the same time is refused."""
    config = replace(config or ScreenConfig(), **settings)
    candidates = list(candidates)
    say = log or (lambda *a, **k: None)
    if not (isinstance(config.keep, int) and config.keep >= 1):
        raise InputError(f"keep must be an integer >= 1, got {config.keep!r}")
    out = Path(out)
    model = check_screen(model, candidates, config, committee=committee)  # every input, before the folder is touched
    record = _settings(model, description or f"{len(candidates)} structures", config)
    stamp = _stamp(record)
    with lock_run_folder(out, "a screen"):  # one process at a time in the folder
        done, found, frames = _resumed(out, record, stamp, resume, candidates, config, say)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / SCREEN_FILE, {"settings": record, "finished": False})
        partial = ExtxyzAppender(out / PARTIAL_FILE, "a screen to it")
        try:
            res = screen(
                model,
                candidates,
                config,
                done=done,
                on_done=lambda k, atoms: partial.append(_partial_frame(k, atoms, stamp, out / PARTIAL_FILE)),
                progress=progress,
                devices=devices,
            )
        finally:
            partial.close()
        _check_refined(out / PARTIAL_FILE, found, frames, res)
        write_outputs(res, out, record, config.keep, plot, say)
    return res


def _settings(model: ResolvedModel, description: str, config: ScreenConfig) -> dict:
    """The ``settings`` of ``screen.json``: model, candidates, the config's record and the model's identity."""
    settings = {"model": model.label, "candidates": description, **config.record()}
    if model.identity is not None:
        settings["model_id"] = model.identity
    return settings


def _stamp(settings: dict) -> dict:
    """What each structure appended to :data:`PARTIAL_FILE` records of its screen: the model's identity
    (``model_id``, when it has one) and ``screen_id``, a hash of the other settings that define the screen
    (:data:`_FIXED`). A resume checks them against its own also when ``screen.json`` is gone."""
    fixed = json.dumps({k: settings[k] for k in _FIXED if k != "model"}, sort_keys=True, default=str)
    stamp = {"screen_id": "sha256:" + hashlib.sha256(fixed.encode()).hexdigest()[:16]}
    if "model_id" in settings:
        stamp["model_id"] = settings["model_id"]
    return stamp


def _resumed(
    out: Path, settings: dict, stamp: dict, resume: bool, candidates, config: ScreenConfig, say
) -> tuple[dict[int, tuple], dict[int, int], list]:
    """The results of the screen already in ``out`` (none when there is none), after checking that it may be
    continued with ``settings``: ``(done, frame of each done candidate, the frames of PARTIAL_FILE)``."""
    partial = out / PARTIAL_FILE
    if not ((out / SCREEN_FILE).exists() or partial.exists()):
        return {}, {}, []
    if not resume:
        raise InputError(f"{out} already holds a screen; continue it with resume (--resume) or choose another folder")
    old = _recorded_settings(out / SCREEN_FILE) if (out / SCREEN_FILE).exists() else {}
    _check_same_screen(out, old, settings)
    frames = _read_partial(partial) if partial.exists() else []
    _check_same_stamp(partial, frames, stamp, recorded=bool(old))
    found = _candidate_frames(partial, frames, candidates, config)
    done = {k: _result(partial, i, frames[i]) for k, i in found.items()}
    refined = sum(k >= len(candidates) for k in done)
    say(
        f"resuming: {len(done) - refined} of {len(candidates)} candidates already minimised"
        + (f", and {refined} of the refinement" if refined else "")
    )
    return done, found, frames


def _recorded_settings(path: Path) -> dict:
    """The ``settings`` that ``screen.json`` at ``path`` records; refused when it is damaged."""
    fix = (
        f"restore it, or delete it to resume from {PARTIAL_FILE} alone (its structures record their model and "
        "settings), or start a new screen in another folder"
    )
    record = read_json(path, "screen record", fix=fix)
    if not isinstance(record.get("settings"), dict):
        raise InputError(f"{path}: not a screen record (no settings object): damaged; {fix}")
    return record["settings"]


def _check_same_screen(out: Path, old: dict, settings: dict) -> None:
    """Refuse to continue the screen recorded with ``old`` settings with other ``settings`` or another model."""
    fixed = _FIXED
    if old and "model_id" in settings:  # the model's identity decides, not how it was named
        check_same_model(
            old.get("model_id"), old.get("model"), settings["model_id"], settings["model"], out / SCREEN_FILE
        )
        if "model_id" in old:
            fixed = tuple(k for k in _FIXED if k != "model")
    if old:
        old.setdefault("optimizer", "fire")  # screens before L-BFGS came were FIRE screens
    changed = [k for k in fixed if k in old and old[k] != settings[k]]
    if changed:
        shown = ", ".join(_difference(k, old[k], settings[k]) for k in changed)
        raise InputError(f"{out} holds a screen with other settings ({shown}); choose another folder")


def _difference(key: str, old, new) -> str:
    """``key old -> new``; for two tables (the refinement's record), only the entries that differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
        return ", ".join(f"{key}.{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys)
    return f"{key} {old!r} -> {new!r}"


def _check_same_stamp(path: Path, frames: list, stamp: dict, recorded: bool) -> None:
    """Refuse frames of ``path`` made with another model or other settings than ``stamp`` (:func:`_stamp`),
    and, when ``screen.json`` is gone (not ``recorded``), frames that do not say (older painnjax): then
    nothing could tell that the screen goes on with the model and settings it began with."""
    for i, atoms in enumerate(frames):
        model_id, screen_id = atoms.info.get("model_id"), atoms.info.get("screen_id")
        if "model_id" in stamp and model_id is not None and model_id != stamp["model_id"]:
            raise InputError(
                f"{path}: frame {i} was minimised with another model ({str(model_id)[:19]}) than this call's "
                f"({stamp['model_id'][:19]}): continuing would mix two potentials; use the same model or another folder"
            )
        if screen_id is not None and screen_id != stamp["screen_id"]:
            raise InputError(
                f"{path}: frame {i} was minimised with other screen settings (candidates, fmax, steps, optimizer, "
                "dtype or refinement) than this call's; use the same ones or another folder"
            )
    if recorded or not frames:
        return
    if "model_id" in stamp and not any("model_id" in a.info for a in frames):
        what = "their model"
    elif not any("screen_id" in a.info for a in frames):
        what = "their settings"
    else:
        return
    raise InputError(
        f"{path}: its structures do not record {what} (written by an older painnjax) and {SCREEN_FILE}, which "
        f"does, is missing: cannot check that the screen goes on as it began; restore {SCREEN_FILE} or start a new "
        "screen in another folder"
    )


def _read_partial(path: Path) -> list:
    """The structures a screen appended before it stopped; a last frame cut short by a kill is cut off."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the minimised structures of the screen to resume ({exc})") from None
    end = complete_extxyz_end(data, path)
    if end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(end)
    if end == 0:
        return []
    try:
        return read(path, index=":", format="extxyz")
    except Exception as exc:  # noqa: BLE001 - a damaged file and friends
        raise InputError(f"{path}: cannot read the minimised structures of the screen to resume ({exc})") from None


def _candidate_frames(path: Path, frames: list, candidates, config: ScreenConfig) -> dict[int, int]:
    """``{candidate index: frame}`` of the structures in ``frames`` (of ``path``), after checking that each is
    one the screen can have made: an integer index of a given candidate with its atoms, or of a refinement
    candidate (beyond the given ones, at most ``top * moves`` per composition and round) made after every given
    candidate, from a parent in the file; each index once. Anything else is a file edited or mixed: refused."""
    n = len(candidates)
    refine = config.refine
    rounds = refine.rounds if refine is not None else 0
    compositions = {a.info.get("composition", a.get_chemical_formula()) for a in candidates}
    most = n + (rounds * refine.top * refine.moves * len(compositions) if rounds else 0)
    advice = "the file was edited or mixed with another; start a new screen in another folder"
    found: dict[int, int] = {}
    for i, atoms in enumerate(frames):
        where = f"{path}: frame {i}"
        if "candidate_index" not in atoms.info:
            raise InputError(f"{where}: no candidate_index; {advice}")
        k = atoms.info["candidate_index"]
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise InputError(f"{where}: candidate_index {_shown(k)} is not an integer; {advice}")
        k = int(k)
        if not 0 <= k < most:
            given = f"{n} candidates" + (f" (0-{n - 1})" if n else "")
            made = f" and its refinement at most {most - n} more ({n}-{most - 1})" if rounds else " and no refinement"
            raise InputError(f"{where}: candidate_index {k} is out of range: the screen has {given}{made}; {advice}")
        if k in found:
            raise InputError(f"{path}: frames {found[k]} and {i} both hold candidate {k}; {advice}")
        if k < n and not np.array_equal(atoms.numbers, candidates[k].numbers):
            raise InputError(
                f"{where}: candidate_index {k} holds {atoms.get_chemical_formula()}, candidate {k} is "
                f"{candidates[k].get_chemical_formula()}; {advice}"
            )
        found[k] = i
    for k in sorted(k for k in found if k >= n):
        where = f"{path}: frame {found[k]}: candidate_index {k}"
        missing = next((j for j in range(n) if j not in found), None)
        if missing is not None:
            raise InputError(
                f"{where} is a refinement candidate, but candidate {missing} is not in the file: the refinement "
                f"starts after every candidate is minimised; {advice}"
            )
        info = frames[found[k]].info
        parent, round_ = info.get("parent"), info.get("refine_round")
        if not (_is_int(round_) and 0 <= round_ < rounds and _is_int(parent) and 0 <= parent < k):
            raise InputError(
                f"{where} is a refinement candidate, but its refine_round {_shown(round_)} or parent "
                f"{_shown(parent)} is not one of a round 0-{rounds - 1} and an earlier candidate; {advice}"
            )
        if parent not in found or not np.array_equal(frames[found[k]].numbers, frames[found[parent]].numbers):
            raise InputError(f"{where}: its parent {parent} is not in the file, or holds other atoms; {advice}")
    return found


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _shown(x) -> str:
    """A value read from the file as its message shows it (numpy scalars as plain Python ones)."""
    return repr(x.item() if isinstance(x, np.generic) else x)


def _result(path: Path, i: int, atoms) -> tuple:
    """``(positions, energy, fmax, steps, converged, force_calls)`` of frame ``i`` of ``path``, what
    :func:`~md.screening.screen.screen` takes as ``done``."""
    where = f"{path}: frame {i}"
    try:
        energy = float(atoms.get_potential_energy())
    except Exception:  # noqa: BLE001 - no energy, or not a number: ASE's errors vary
        raise InputError(f"{where}: no energy; the file was edited or damaged; start a new screen") from None
    calls = atoms.info.get("force_calls", -1)
    return (
        atoms.positions.copy(),
        energy,
        _field(where, atoms, "fmax", float),
        _field(where, atoms, "steps", int),
        _field(where, atoms, "converged", bool),
        int(calls) if _is_int(calls) else -1,
    )


def _field(where: str, atoms, name: str, kind: type):
    """``atoms.info[name]`` as a ``kind`` (float, int or bool); refused when missing or of another type."""
    value = atoms.info.get(name)
    if kind is bool:
        ok = isinstance(value, (bool, np.bool_))
    else:
        ok = _is_int(value) or (kind is float and isinstance(value, (float, np.floating)))
    if not ok:
        raise InputError(f"{where}: {name} {_shown(value)} is not a {kind.__name__}; the file was edited or damaged")
    return kind(value)


def _check_refined(path: Path, found: dict[int, int], frames: list, res: ScreenResult) -> None:
    """Refuse refinement candidates read from ``path`` that the refinement did not make again (the same index,
    parent, round, move and partner): their minima stood in for other structures. Candidates of a resumed screen's
    refinement are made again from the same minima to the bit, so this only fails for an edited file."""
    for k, i in found.items():
        if k < res.given:
            continue
        info = frames[i].info
        made = k < len(res.structures) and all(  # move and partner: frames written before them have none
            res.structures[k].info.get(key) == info.get(key)
            for key in ("parent", "refine_round", "move", "partner")
            if key in info or key in ("parent", "refine_round")
        )
        if not made:
            raise InputError(
                f"{path}: frame {i}: candidate_index {k} is not a candidate this screen made (its refinement made "
                f"{res.given}-{len(res.structures) - 1}, from other parents); the file was edited or mixed with "
                "another; start a new screen in another folder"
            )


def _partial_frame(k: int, atoms, stamp: dict, path: Path) -> str:
    """The extxyz text appended to ``path`` for candidate ``k`` at its minimum ``atoms``: its species and
    positions, energy, what :data:`_KEPT_INFO` keeps, ``candidate_index`` and ``stamp`` (:func:`_stamp`).

    The positions are written to the last bit, not with ASE's 8 decimals: a resumed screen makes its
    refinement candidates from them, and its outputs are then those of an uninterrupted screen to the bit."""
    a = atoms.copy()
    a.calc = atoms.calc
    a.set_constraint()
    for name in set(a.arrays) - {"numbers", "positions"}:  # species and positions only: see _exact_positions
        del a.arrays[name]
    a.info = {key: a.info[key] for key in _KEPT_INFO if key in a.info}
    a.info["candidate_index"] = k
    a.info.update(stamp)
    return _exact_positions(extxyz_text(a, f"{path}, candidate {k}"), a.positions)


def _exact_positions(text: str, positions) -> str:
    """``text``, one extxyz frame of species and positions as ASE writes it (8 decimals), with the positions
    written as the shortest decimals that read back as the same float64 (``repr``)."""
    count, comment, *rows = text.splitlines(keepends=True)
    if "Properties=species:S:1:pos:R:3 " not in comment or len(rows) != len(positions):
        raise RuntimeError(f"an extxyz frame of other columns than species and positions: {comment!r}")
    exact = [
        f"{row.split()[0]:<2s} " + " ".join(f"{float(x)!r:>24}" for x in xyz) + "\n"
        for row, xyz in zip(rows, positions)
    ]
    return count + comment + "".join(exact)
