"""A screen as a job with a folder: what ``painnjax screen`` runs, resumable after an interruption.

:func:`screen_to_folder` locks ``OUT``, checks that a screen already there may be continued
(same candidates, settings and model; ``resume=True``), reads back the minima it had appended to
``OUT/minimised.extxyz`` (:data:`PARTIAL_FILE`), runs :func:`md.screening.screen.screen` on the
rest, appending each structure there as it finishes, and ends with the files of
:func:`md.screening.report.write_outputs`: ``best.extxyz`` (the lowest ``keep`` distinct minima,
lowest first, energies readable by ASE), ``summary.csv`` (every candidate), ``energies.png``
(histogram of final energies) and ``screen.json``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ase.io import read

from md.screening.config import ScreenConfig
from md.screening.report import SCREEN_FILE, write_outputs
from md.screening.screen import ScreenResult, screen
from painnjax.errors import InputError
from painnjax.io.files import ExtxyzAppender, complete_extxyz_end, extxyz_text, lock_run_folder, write_json
from painnjax.io.modelfile import check_same_model
from painnjax.io.resolved import ResolvedModel, resolve_model

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
    identity is kept in ``screen.json``). ``out`` is locked for the call: a second screen into it at
    the same time is refused."""
    config = replace(config or ScreenConfig(), **settings)
    say = log or (lambda *a, **k: None)
    if not (isinstance(config.keep, int) and config.keep >= 1):
        raise InputError(f"keep must be an integer >= 1, got {config.keep!r}")
    out = Path(out)
    model = resolve_model(model, committee)
    record = _settings(model, description or f"{len(candidates)} structures", config)
    with lock_run_folder(out, "a screen"):  # one process at a time in the folder
        done = _resumed(out, record, resume, len(candidates), say)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / SCREEN_FILE, {"settings": record, "finished": False})
        partial = ExtxyzAppender(out / PARTIAL_FILE, "a screen to it")
        try:
            res = screen(
                model,
                candidates,
                config,
                done=done,
                on_done=lambda k, atoms: partial.append(_partial_frame(k, atoms, out / PARTIAL_FILE)),
                progress=progress,
                devices=devices,
            )
        finally:
            partial.close()
        write_outputs(res, out, record, config.keep, plot, say)
    return res


def _settings(model: ResolvedModel, description: str, config: ScreenConfig) -> dict:
    """The ``settings`` of ``screen.json``: model, candidates, the config's record and the model's identity."""
    settings = {"model": model.label, "candidates": description, **config.record()}
    if model.identity is not None:
        settings["model_id"] = model.identity
    return settings


def _resumed(out: Path, settings: dict, resume: bool, n: int, say) -> dict[int, tuple]:
    """The results of the screen already in ``out`` (none when there is none), after checking that it may be
    continued with ``settings``."""
    partial = out / PARTIAL_FILE
    if not ((out / SCREEN_FILE).exists() or partial.exists()):
        return {}
    if not resume:
        raise InputError(f"{out} already holds a screen; continue it with resume (--resume) or choose another folder")
    old = {}
    if (out / SCREEN_FILE).exists():
        old = json.loads((out / SCREEN_FILE).read_text()).get("settings", {})
    _check_same_screen(out, old, settings)
    done = _read_partial(partial) if partial.exists() else {}
    say(f"resuming: {len(done)} of {n} structures already minimised")
    return done


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
        shown = ", ".join(f"{k} {old[k]!r} -> {settings[k]!r}" for k in changed)
        raise InputError(f"{out} holds a screen with other settings ({shown}); choose another folder")


def _read_partial(path: Path) -> dict[int, tuple]:
    """The results a screen appended before it stopped; a last frame cut short by a kill is cut off."""
    data = path.read_bytes()
    end = complete_extxyz_end(data, path)
    if end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(end)
    if end == 0:
        return {}
    try:
        frames = read(path, index=":", format="extxyz")
    except Exception as exc:  # noqa: BLE001 - a damaged file and friends
        raise InputError(f"{path}: cannot read the minimised structures of the screen to resume ({exc})") from None
    done = {}
    for atoms in frames:
        k = int(atoms.info.get("candidate_index", -1))
        if not 0 <= k:
            raise InputError(f"{path}: a structure without a valid candidate_index; start a new screen")
        done[k] = (
            atoms.positions.copy(),
            float(atoms.get_potential_energy()),
            float(atoms.info["fmax"]),
            int(atoms.info["steps"]),
            bool(atoms.info["converged"]),
            int(atoms.info.get("force_calls", -1)),
        )
    return done


def _partial_frame(k: int, atoms, path: Path) -> str:
    """The extxyz text appended to ``path`` for candidate ``k`` at its minimum ``atoms``."""
    a = atoms.copy()
    a.calc = atoms.calc
    a.info = {key: a.info[key] for key in _KEPT_INFO if key in a.info}
    a.info["candidate_index"] = k
    return extxyz_text(a, f"{path}, candidate {k}")
