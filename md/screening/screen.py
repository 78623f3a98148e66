"""Cluster screening: minimise many candidate structures at once, drop duplicates, rank by energy.

:func:`screen` takes candidates (from :func:`md.screening.candidates.random_candidates` or
:func:`md.screening.candidates.read_candidates`), groups them by atom list (one compile per group),
minimises each group with the batched L-BFGS (default) or FIRE of :func:`md.optimize.batch.minimize_batch`
(each structure to its own convergence), removes duplicate minima (:mod:`md.screening.dedup`: energy window plus a
rotation- and permutation-invariant fingerprint) and ranks the distinct converged minima by
energy. Structures that did not converge are reported, never ranked. With a committee of
further models, the spread of their energies and forces on the kept minima flags the ones the
model is unsure about.

:func:`screen_to_folder` is what ``painnjax screen`` runs: results are appended to
``OUT/minimised.extxyz`` as each structure finishes, so an interrupted screen continues with
``resume=True``; at the end it writes ``best.extxyz`` (the lowest ``keep`` distinct minima,
lowest first, energies readable by ASE), ``summary.csv`` (every candidate), ``energies.png``
(histogram of final energies) and ``screen.json``.

Every minimised structure carries its protonation state (:mod:`md.screening.protonation`):
``info["state"]`` that of its start (the candidate's ``"state"``, else detected), and
``info["final_state"]`` that of the minimum (protons may move back while it is minimised).

Example:
    >>> from md.screening.candidates import random_candidates
    >>> res = screen("saam-gfn1", random_candidates("SA4AM4", 256, seed=0))   # doctest: +SKIP
    >>> res.ranked[:5], res.relative_kcal_mol()[res.ranked[:5]]               # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from md.screening.dedup import fingerprint, unique_minima
from painnjax.errors import InputError
from painnjax.units import KCAL_PER_MOL

SCREEN_FILE = "screen.json"
#: the refinement stage after the candidates (:mod:`md.screening.refine`): rounds of top x moves new candidates
REFINE_DEFAULTS = {"rounds": 3, "top": 4, "moves": 4, "seed": 0, "angle": 60.0, "shift": 0.5}
PARTIAL_FILE = "minimised.extxyz"
# Settings that define a screen: a resumed screen must use the same.
_FIXED = ("model", "candidates", "fmax_eV_per_A", "max_steps", "dtype", "optimizer", "refine")


@dataclass
class ScreenResult:
    """Every candidate after minimisation, in input order, and the ranking of the distinct minima.

    Attributes:
        structures: minimised structures (``ase.Atoms``; the energy in a single-point
            calculator) with ``info`` fmax, steps, converged, duplicate_of, composition, state
            (protonation state of the start) and final_state (of the minimum).
        energies (eV), fmax (eV/Å), steps, converged, force_calls: per candidate.
        same_as: index of the lower candidate each one duplicates (its own index if distinct).
        ranked: indices of the distinct converged minima, lowest energy first (per composition
            when the candidates have several: then by energy within each, compositions apart).
        energy_spread (eV), force_spread (eV/Å): committee spreads of the ranked ones kept
            (NaN elsewhere, or all NaN without a committee).
    """

    structures: list
    energies: np.ndarray
    fmax: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    same_as: np.ndarray
    ranked: np.ndarray
    energy_spread: np.ndarray
    force_spread: np.ndarray
    force_calls: np.ndarray | None = None
    seconds: float = 0.0
    compile_seconds: float = 0.0
    resumed: int = 0
    groups: list = field(default_factory=list)
    given: int = 0  # candidates given; those after them came from the refinement

    @property
    def compositions(self) -> list[str]:
        return [a.info.get("composition", a.get_chemical_formula()) for a in self.structures]

    @property
    def states(self) -> list[str]:
        """Protonation state of each start (:func:`md.screening.protonation.detect_state` names)."""
        return [str(a.info["state"]) for a in self.structures]

    @property
    def final_states(self) -> list[str]:
        """Protonation state of each minimised structure."""
        return [str(a.info["final_state"]) for a in self.structures]

    def relative_kcal_mol(self) -> np.ndarray:
        """Energies relative to the lowest converged minimum of the same composition, kcal/mol."""
        rel = np.full(len(self.energies), np.nan)
        comps = np.asarray(self.compositions)
        for c in set(comps):
            sel = comps == c
            ok = sel & self.converged & np.isfinite(self.energies)
            if ok.any():
                rel[sel] = (self.energies[sel] - self.energies[ok].min()) / KCAL_PER_MOL
        return rel

    @property
    def structures_per_second(self) -> float:
        done = len(self.energies) - self.resumed
        return done / self.seconds if self.seconds > 0 else float("nan")


def _groups(candidates) -> list[list[int]]:
    """Candidate indices grouped by their atom list (one compile per group), in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for k, atoms in enumerate(candidates):
        groups.setdefault(tuple(int(z) for z in atoms.numbers), []).append(k)
    return list(groups.values())


def _energy_for(model, dtype: str) -> Callable:
    """``atoms -> energy_fn`` for a painnjax model (file, bundled name or Model) or a plain function of R."""
    from painnjax.model import Model

    if callable(model) and not isinstance(model, (str, Path, Model)):
        return lambda atoms: model
    from md.structures import build_potential
    from painnjax.io.modelfile import load_model
    from painnjax.model import Model

    m = load_model(model)
    return lambda atoms: build_potential(m, atoms, dtype)


def screen(
    model,
    candidates,
    *,
    fmax: float = 0.01,
    max_steps: int = 2000,
    slots: int | None = None,
    keep: int | None = None,
    energy_window: float = 0.1,
    tolerance: float = 0.03,
    committee=(),
    dtype: str = "float32",
    optimizer: str = "lbfgs",
    refine: dict | bool | None = None,
    done: dict | None = None,
    on_done: Callable | None = None,
    progress: bool = False,
    devices: int | None = None,
) -> ScreenResult:
    """Minimise ``candidates`` in batches, remove duplicates, rank; see the module doc.

    Args:
        model: a painnjax model (file, bundled name or ``Model``), or any ``energy_fn(R)`` in eV
            (then all candidates must have its atoms).
        candidates: a list of ``ase.Atoms``.
        fmax: convergence, eV/Å (largest atomic force). max_steps: FIRE steps or L-BFGS iterations per
            structure; beyond it, not converged.
        optimizer: ``"lbfgs"`` (default; several times fewer force calls) or ``"fire"``
            (:func:`md.optimize.batch.minimize_batch`).
        slots: structures minimised at once per group (default 1 on a CPU, 256 on a GPU:
            :func:`md.optimize.batch.minimize_batch`).
        keep: how many of the ranked minima get committee spreads (default all).
        energy_window (kcal/mol), tolerance (Å): duplicates (:func:`md.screening.dedup.unique_minima`).
        committee: further models; the spread of all models' energies and forces on the kept
            minima is reported (``energy_spread``, ``force_spread``).
        refine: the refinement of the lowest minima by perturbation (:mod:`md.screening.refine`),
            after the candidates: True for :data:`REFINE_DEFAULTS` (3 rounds of 4 x 4; what
            ``painnjax screen`` runs), a dict of ``"rounds"``, ``"top"``, ``"moves"``, ``"seed"``
            over those (and ``"angle"`` (degrees), ``"shift"`` (Å), the perturbation's size), or
            None/False (default) for none. Its candidates follow the given ones
            (indices from ``len(candidates)``) and are ranked with them.
        done: results already known, ``{index: (positions, energy, fmax, steps, converged[, force_calls])}``
            (a resumed screen): those candidates are not minimised again.
        on_done: called ``on_done(index, atoms)`` with each minimised structure as it finishes.
        devices: local devices to spread the slots over (None: all; :mod:`painnjax.devices`).
    """
    from md.optimize.batch import Minimum, minimize_batch
    from md.structures import precision

    candidates = list(candidates)
    if not candidates:
        raise InputError("no candidates to screen")
    done = dict(done or {})
    n_random = len(candidates)
    refine = _refine_settings(refine)
    if refine is not None and not (isinstance(refine["rounds"], int) and refine["rounds"] >= 0):
        raise InputError(f"refine rounds must be a whole number >= 0, got {refine['rounds']!r}")
    with precision(dtype):
        energy_for = _energy_for(model, dtype)
        results: dict[int, Minimum] = {k: Minimum(k, *v) for k, v in done.items()}
        energy_fns: dict[tuple, Callable] = {}  # one per atom list: compiled once for every stage
        t0 = time.perf_counter()
        compile_s = 0.0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(candidates), initial=len(done), unit="structure", desc="screen", dynamic_ncols=True)

        def minimise(indices) -> float:
            """Minimise the candidates ``indices`` not yet done, group by group; the compile seconds."""
            spent = 0.0
            for group in _groups([candidates[k] for k in indices]):
                todo = [indices[i] for i in group if indices[i] not in results]
                if not todo:
                    continue
                key = tuple(int(z) for z in candidates[todo[0]].numbers)
                if key not in energy_fns:
                    energy_fns[key] = energy_for(candidates[todo[0]])

                def finished(m, todo=todo):
                    k = todo[m.index]
                    results[k] = replace(m, index=k)
                    if on_done is not None:
                        on_done(k, _minimised(candidates[k], results[k]))
                    if bar is not None:
                        bar.update(1)

                res = minimize_batch(
                    energy_fns[key],
                    np.stack([candidates[k].positions for k in todo]),
                    fmax=fmax,
                    max_steps=max_steps,
                    slots=slots,
                    on_done=finished,
                    method=optimizer,
                    devices=devices,
                )
                spent += res.compile_seconds
            return spent

        try:
            compile_s += minimise(list(range(n_random)))
            for round_ in range(refine["rounds"] if refine is not None else 0):
                from md.screening.refine import refine_candidates

                so_far = [_minimised(candidates[k], results[k]) for k in range(len(candidates))]
                new = refine_candidates(
                    so_far,
                    [results[k].energy for k in range(len(candidates))],
                    [bool(results[k].converged) for k in range(len(candidates))],
                    round_=round_,
                    start=len(candidates),
                    top=refine["top"],
                    moves=refine["moves"],
                    seed=refine["seed"],
                    angle=refine["angle"],
                    shift=refine["shift"],
                    energy_window=energy_window,
                    tolerance=tolerance,
                )
                candidates.extend(new)
                if bar is not None:
                    bar.total += len(new)
                    bar.refresh()
                compile_s += minimise(list(range(len(candidates) - len(new), len(candidates))))
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - t0 - compile_s
    n = len(candidates)

    structures = [_minimised(candidates[k], results[k]) for k in range(n)]
    E = np.array([results[k].energy for k in range(n)], np.float64)
    F = np.array([results[k].fmax for k in range(n)], np.float64)
    steps = np.array([results[k].steps for k in range(n)], np.int64)
    conv = np.array([bool(results[k].converged) for k in range(n)]) & np.isfinite(E)
    comps = [a.info.get("composition", a.get_chemical_formula()) for a in structures]
    prints = [fingerprint(a) for a in structures]
    # Unconverged structures take part in no comparison: they are reported, never ranked.
    same_as = unique_minima(
        np.where(conv, E, np.nan), prints, energy_window=energy_window, tolerance=tolerance, composition=comps
    )
    distinct = [k for k in range(n) if conv[k] and same_as[k] == k]
    first_seen = {c: i for i, c in enumerate(dict.fromkeys(comps))}
    ranked = np.array(sorted(distinct, key=lambda k: (first_seen[comps[k]], E[k])), np.int64)
    e_spread = np.full(n, np.nan)
    f_spread = np.full(n, np.nan)
    if committee:
        chosen = ranked if keep is None else ranked[:keep]
        es, fs = _committee_spread(model, list(committee), [structures[k] for k in chosen], dtype)
        e_spread[chosen], f_spread[chosen] = es, fs
    for k, atoms in enumerate(structures):
        atoms.info["duplicate_of"] = int(same_as[k]) if same_as[k] != k else -1
    return ScreenResult(
        structures,
        E,
        F,
        steps,
        conv,
        same_as,
        ranked,
        e_spread,
        f_spread,
        force_calls=np.array(
            [-1 if results[k].force_calls is None else results[k].force_calls for k in range(n)], np.int64
        ),
        seconds=seconds,
        compile_seconds=compile_s,
        resumed=len(done),
        groups=_groups(candidates),
        given=n_random,
    )


def _minimised(candidate, m):
    """The candidate at its minimum ``m`` (a :class:`md.optimize.batch.Minimum`), with what the screen records."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from md.screening.protonation import detect_state

    atoms = candidate.copy()
    atoms.positions = np.asarray(m.positions, np.float64)
    atoms.info.update(fmax=float(m.fmax), steps=int(m.steps), converged=bool(m.converged))
    if m.force_calls is not None:
        atoms.info["force_calls"] = int(m.force_calls)
    atoms.info["state"] = str(candidate.info["state"]) if "state" in candidate.info else detect_state(candidate)[1]
    atoms.info["final_state"] = detect_state(atoms)[1]
    atoms.calc = SinglePointCalculator(atoms, energy=float(m.energy))  # what ASE reads back as the energy
    return atoms


def _committee_spread(model, committee, structures, dtype: str):
    """Energy std (eV) and mean per-atom force spread (eV/Å) of model + committee on ``structures``."""
    import jax

    from md.structures import build_potential, precision
    from painnjax.io.modelfile import load_model
    from painnjax.model import Model
    from painnjax.potential import energy_and_forces
    from painnjax.training.committee import committee_stats

    if not isinstance(model, (str, Path, Model)):
        raise InputError("a committee needs painnjax models, not a plain energy function")
    if not structures:
        return np.zeros(0), np.zeros(0)
    models = [load_model(m) for m in [model, *committee]]
    energies = np.zeros((len(models), len(structures)))
    forces: list[list[np.ndarray]] = [[] for _ in models]
    with precision(dtype):
        for i, m in enumerate(models):
            fns: dict[tuple, Callable] = {}
            for j, atoms in enumerate(structures):
                key = tuple(atoms.numbers)
                if key not in fns:
                    fns[key] = energy_and_forces(build_potential(m, atoms, dtype))
                e, f = jax.device_get(fns[key](atoms.positions))
                energies[i, j] = float(e)
                forces[i].append(np.asarray(f, np.float64))
    stats = committee_stats(energies, forces)
    return stats.energy_std, stats.force_spread


# --------------------------------------------------------------------------------------------
# The screen as a job with a folder: what ``painnjax screen`` runs.


def _read_partial(path: Path, n: int) -> dict[int, tuple]:
    """The results a screen appended before it stopped; a last frame cut short by a kill is cut off."""
    from ase.io import read

    from painnjax.io.files import complete_extxyz_end

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


def screen_to_folder(
    model,
    candidates,
    out,
    *,
    keep: int = 20,
    resume: bool = False,
    description: str = "",
    plot: bool = True,
    log=print,
    **kwargs,
) -> ScreenResult:
    """:func:`screen` with its results in ``out``; see the module doc. ``description`` names the
    candidates (e.g. ``"SA4AM4 n=1000 seed=0"``): a resumed screen must have the same one, and
    the same model (its identity is kept in ``screen.json``). ``out`` is locked for the call: a
    second screen into it at the same time is refused."""
    from painnjax.io.files import lock_run_folder

    say = log or (lambda *a, **k: None)
    if not (isinstance(keep, int) and keep >= 1):
        raise InputError(f"keep must be an integer >= 1, got {keep!r}")
    out = Path(out)
    settings = {
        "model": _model_label(model),
        "candidates": description or f"{len(candidates)} structures",
        "fmax_eV_per_A": float(kwargs.get("fmax", 0.01)),
        "max_steps": int(kwargs.get("max_steps", 2000)),
        "dtype": kwargs.get("dtype", "float32"),
        "optimizer": kwargs.get("optimizer", "lbfgs"),
        "refine": _refine_settings(kwargs.get("refine")),
    }
    model_id = _model_id(model)
    if model_id is not None:
        settings["model_id"] = model_id
    with lock_run_folder(out, "a screen"):  # one process at a time in the folder
        return _screen_to_folder(model, candidates, out, settings, keep, resume, plot, say, kwargs)


def _model_id(model) -> str | None:
    """The identity of a painnjax model (file, bundled name or ``Model``); None for an energy function."""
    from painnjax.io.modelfile import model_identity
    from painnjax.model import Model

    return model_identity(model) if isinstance(model, (str, Path, Model)) else None


def _screen_to_folder(model, candidates, out: Path, settings: dict, keep, resume, plot, say, kwargs) -> ScreenResult:
    """:func:`screen_to_folder` once its folder is locked."""
    from painnjax.io.files import ExtxyzAppender, atomic_write, extxyz_text, write_extxyz_atomic, write_json
    from painnjax.io.modelfile import check_same_model

    partial = out / PARTIAL_FILE
    done = {}
    if (out / SCREEN_FILE).exists() or partial.exists():
        if not resume:
            raise InputError(
                f"{out} already holds a screen; continue it with resume (--resume) or choose another folder"
            )
        old = {}
        if (out / SCREEN_FILE).exists():
            old = json.loads((out / SCREEN_FILE).read_text()).get("settings", {})
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
        if partial.exists():
            done = _read_partial(partial, len(candidates))
        say(f"resuming: {len(done)} of {len(candidates)} structures already minimised")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / SCREEN_FILE, {"settings": settings, "finished": False})

    log_file = ExtxyzAppender(partial, "a screen to it")

    def append(k, atoms):
        a = atoms.copy()
        a.calc = atoms.calc
        kept = (
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
        a.info = {key: a.info[key] for key in kept if key in a.info}
        a.info["candidate_index"] = k
        log_file.append(extxyz_text(a, f"{partial}, candidate {k}"))

    try:
        res = screen(model, candidates, keep=keep, done=done, on_done=append, **kwargs)
    finally:
        log_file.close()

    rel = res.relative_kcal_mol()
    best = []
    for rank, k in enumerate(res.ranked[:keep]):
        a = res.structures[k].copy()
        a.calc = res.structures[k].calc
        a.info.update(rank=rank, candidate_index=int(k), relative_energy_kcal_mol=float(rel[k]))
        if np.isfinite(res.energy_spread[k]):
            a.info.update(
                energy_spread_kcal_mol=float(res.energy_spread[k] / KCAL_PER_MOL),
                force_spread_eV_per_A=float(res.force_spread[k]),
            )
        best.append(a)
    write_extxyz_atomic(out / "best.extxyz", best)
    bad = [res.structures[k] for k in range(len(res.energies)) if not res.converged[k]]
    write_extxyz_atomic(out / "unconverged.extxyz", bad)
    rank_of = {int(k): r for r, k in enumerate(res.ranked)}
    lines = [
        "candidate,composition,energy_eV,relative_kcal_mol,converged,steps,fmax_eV_per_A,duplicate_of,rank,"
        "energy_spread_kcal_mol,force_spread_eV_per_A,state,final_state,force_calls,parent,refine_round"
    ]
    for k in range(len(res.energies)):
        lines.append(
            ",".join(
                [
                    str(k),
                    res.compositions[k],
                    f"{res.energies[k]:.6f}",
                    f"{rel[k]:.4f}",
                    str(bool(res.converged[k])),
                    str(int(res.steps[k])),
                    f"{res.fmax[k]:.5f}",
                    str(int(res.same_as[k]) if res.same_as[k] != k else ""),
                    str(rank_of.get(k, "")),
                    _fmt(res.energy_spread[k] / KCAL_PER_MOL),
                    _fmt(res.force_spread[k]),
                    res.states[k],
                    res.final_states[k],
                    str(res.force_calls[k]) if res.force_calls[k] >= 0 else "",
                    str(res.structures[k].info.get("parent", "")),
                    str(res.structures[k].info.get("refine_round", "")),
                ]
            )
        )
    atomic_write(out / "summary.csv", "\n".join(lines) + "\n")
    n_dup = int(sum(1 for k in range(len(res.energies)) if res.converged[k] and res.same_as[k] != k))
    summary = {
        "settings": settings,
        "finished": True,
        "candidates": len(res.energies),
        "given_candidates": res.given,
        "refinement_candidates": len(res.energies) - res.given,
        "lowest_from_refinement": bool(len(res.ranked) and res.ranked[0] >= res.given),
        "converged": int(res.converged.sum()),
        "not_converged": int((~res.converged).sum()),
        "duplicates": n_dup,
        "distinct_minima": len(res.ranked),
        "kept": len(best),
        "lowest_energy_eV": float(res.energies[res.ranked[0]]) if len(res.ranked) else None,
        "resumed_from": res.resumed,
        "seconds": res.seconds,
        "compile_seconds": res.compile_seconds,
        "structures_per_second": res.structures_per_second,
        "mean_steps": float(res.steps.mean()),
        "mean_force_calls": _mean_known(res.force_calls),
        "states": _state_counts(res, rel),
        "lowest_state": res.final_states[res.ranked[0]] if len(res.ranked) else None,
    }
    write_json(out / SCREEN_FILE, summary)
    if plot:
        plot_energies(res, out / "energies.png")
    say(_table(res, rel, keep))
    made = (
        f" ({res.given} given + {len(res.energies) - res.given} from refinement)"
        if res.given < len(res.energies)
        else ""
    )
    say(
        f"{summary['candidates']} candidates{made}: {summary['converged']} converged, {summary['not_converged']} not "
        f"(in unconverged.extxyz, not ranked), {n_dup} duplicates, {summary['distinct_minima']} distinct minima; "
        f"{res.structures_per_second:.2f} structures/s (+{res.compile_seconds:.1f} s compile); wrote {out}/best.extxyz"
    )
    for line in _lowest_states(res):
        say(line)
    return res


def _refine_settings(refine) -> dict | None:
    """The refinement a screen runs (None: no refinement), as recorded in ``screen.json``."""
    if refine is None or refine is False:
        return None
    if refine is True:
        return dict(REFINE_DEFAULTS)
    if not isinstance(refine, dict) or set(refine) - set(REFINE_DEFAULTS):
        raise InputError(f"refine must be True, False, None or a dict of {', '.join(REFINE_DEFAULTS)}; got {refine!r}")
    return dict(REFINE_DEFAULTS, **refine)


def _mean_known(calls) -> float | None:
    """Mean force calls per structure where known (-1: not recorded), or None."""
    known = calls[calls >= 0]
    return float(known.mean()) if known.size else None


def _state_counts(res: ScreenResult, rel) -> dict:
    """Per start state: candidates, converged, and the lowest relative energy (kcal/mol) of its minima."""
    out = {}
    states = np.asarray(res.states)
    for state in dict.fromkeys(res.states):
        sel = states == state
        ok = sel & res.converged & np.isfinite(rel)
        out[state] = {
            "candidates": int(sel.sum()),
            "converged": int((sel & res.converged).sum()),
            "lowest_relative_kcal_mol": float(rel[ok].min()) if ok.any() else None,
        }
    return out


def _lowest_states(res: ScreenResult) -> list[str]:
    """``"lowest minimum: state SA0B2AM0AH2 (2 proton transfers; candidate 5, started as ...)"``, one line
    per composition."""
    from md.screening.protonation import OTHER, detect_state

    comps = res.compositions
    lowest = {}
    for k in res.ranked:
        lowest.setdefault(comps[k], int(k))
    lines = []
    for comp, k in lowest.items():
        n_ah, state = detect_state(res.structures[k])
        what = "not SA, B, AM, AH and W" if state == OTHER else f"{n_ah} proton transfer{'s' if n_ah != 1 else ''}"
        of = f" of {comp}" if len(lowest) > 1 else ""
        lines.append(f"lowest minimum{of}: state {state} ({what}; candidate {k}, started as {res.states[k]})")
    return lines


def _model_label(model) -> str:
    from painnjax.model import Model

    if isinstance(model, Model):
        return str(model.metadata.get("name") or "(model in memory)")
    if callable(model) and not isinstance(model, (str, Path)):
        return f"energy function {getattr(model, '__qualname__', type(model).__name__)}"
    return str(model)


def _fmt(x) -> str:
    return f"{x:.4f}" if np.isfinite(x) else ""


def _table(res: ScreenResult, rel, keep: int) -> str:
    rows = [
        f"{'rank':>4s} {'cand.':>6s} {'composition':>12s} {'E (eV)':>14s} {'ΔE (kcal/mol)':>14s} {'steps':>6s}"
        + ("  E spread (kcal/mol)" if np.isfinite(res.energy_spread).any() else "")
        + "  state (start -> minimum, if it moved)"
    ]
    for r, k in enumerate(res.ranked[:keep]):
        spread = f"  {res.energy_spread[k] / KCAL_PER_MOL:19.2f}" if np.isfinite(res.energy_spread[k]) else ""
        start, final = res.states[k], res.final_states[k]
        state = final if start == final else f"{start} -> {final}"
        rows.append(
            f"{r:4d} {k:6d} {res.compositions[k]:>12s} {res.energies[k]:14.5f} {rel[k]:14.2f} {res.steps[k]:6d}{spread}"
            f"  {state}"
        )
    return "\n".join(rows)


def plot_energies(res: ScreenResult, path) -> Path:
    """Histogram of the final energies (kcal/mol above the lowest) of converged and distinct minima."""
    from painnjax.io.plots import pyplot, save_figure

    plt = pyplot()
    rel = res.relative_kcal_mol()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ok = res.converged & np.isfinite(rel)
    if ok.any():
        bins = np.histogram_bin_edges(rel[ok], bins=min(40, max(5, int(ok.sum() // 5))))
        ax.hist(rel[ok], bins=bins, color="C0", alpha=0.5, label=f"all converged ({int(ok.sum())})")
        ax.hist(rel[res.ranked], bins=bins, color="C1", alpha=0.8, label=f"distinct minima ({len(res.ranked)})")
        ax.legend(frameon=False)
    ax.set_xlabel("energy above the lowest minimum (kcal/mol)")
    ax.set_ylabel("structures")
    ax.set_title(f"{len(res.energies)} candidates, {int((~res.converged).sum())} not converged")
    fig.tight_layout()
    return save_figure(fig, path)
