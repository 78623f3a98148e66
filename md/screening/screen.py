"""Cluster screening: minimise many candidate structures at once, drop duplicates, rank by energy.

:func:`screen` takes candidates (from :func:`md.screening.candidates.random_candidates` or
:func:`md.screening.candidates.read_candidates`), groups them by atom list (one compile per group),
minimises each group with the batched L-BFGS (default) or FIRE of :func:`md.optimize.batch.minimize_batch`
(each structure to its own convergence), removes duplicate minima (:mod:`md.screening.dedup`: energy window plus a
rotation- and permutation-invariant fingerprint) and ranks the distinct converged minima by
energy. Structures that did not converge are reported, never ranked. With a committee of
further models, the spread of their energies and forces on the kept minima
(:mod:`md.screening.spread`) flags the ones the model is unsure about. Its settings are a
:class:`~md.screening.config.ScreenConfig`; they, the models and the candidates are checked
before any structure is minimised (:func:`md.screening.checks.check_screen`).

:func:`md.screening.folder.screen_to_folder` is what ``painnjax screen`` runs: the same with its
results in a folder, resumable; :mod:`md.screening.report` writes and prints them.

Every minimised structure carries its protonation state (:mod:`md.screening.protonation`):
``info["state"]`` that of its start (the candidate's ``"state"``, else detected), and
``info["final_state"]`` that of the minimum (protons may move back while it is minimised).

Example:
    >>> from md.screening.candidates import random_candidates
    >>> res = screen("saam-gfn1", random_candidates("SA4AM4", 256, seed=0))   # doctest: +SKIP
    >>> res.ranked[:5], res.relative_kcal_mol()[res.ranked[:5]]               # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from tqdm.auto import tqdm

from md.forces.build import build_potential, precision
from md.optimize.batch import Minimum, minimize_batch
from md.screening.checks import check_screen
from md.screening.config import ScreenConfig
from md.screening.dedup import fingerprint, unique_minima
from md.screening.protonation import detect_state
from md.screening.refine import found_counts, lowest_by_composition, refine_candidates, stalled
from md.screening.spread import committee_spread
from painnjax.io.resolved import ResolvedModel
from painnjax.units import KCAL_PER_MOL


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
        found: per composition, how many times its lowest minimum was found, and how many of those
            independently (:func:`md.screening.refine.found_counts`).
        search: the refinement's course (None without one): ``max_rounds``, ``patience``, ``rounds`` run,
            why it ``stopped`` (``"patience"``, ``"rounds"`` or ``"nothing to refine"``), and
            ``lowest_eV``: per composition the lowest energy after the candidates and after each round
            (None where none had converged).
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
    found: dict = field(default_factory=dict)
    search: dict | None = None

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


def screen(
    model,
    candidates,
    config: ScreenConfig | None = None,
    *,
    committee=(),
    done: dict | None = None,
    on_done: Callable | None = None,
    progress: bool = False,
    devices: int | None = None,
    **settings,
) -> ScreenResult:
    """Minimise ``candidates`` in batches, remove duplicates, rank; see the module doc.

    Args:
        model: a painnjax model (file, bundled name, ``Model`` or
            :class:`~painnjax.io.resolved.ResolvedModel`), or any ``energy_fn(R)`` in eV (then all
            candidates must have its atoms).
        candidates: a list of ``ase.Atoms``.
        config: the settings (:class:`~md.screening.config.ScreenConfig`: fmax, max_steps,
            optimizer, slots, keep, energy_window, tolerance, dtype, refine). Without one, every
            ranked minimum gets committee spreads (``keep=None``) and there is no refinement.
        settings: fields of ``config`` to change, e.g. ``fmax=0.05`` or ``refine=True``. The
            refinement (:mod:`md.screening.refine`) runs after the candidates; its candidates
            follow the given ones (indices from ``len(candidates)``) and are ranked with them.
        committee: further models; the spread of all models' energies and forces on the kept
            minima is reported (``energy_spread``, ``force_spread``).
        done: results already known, ``{index: (positions, energy, fmax, steps, converged[, force_calls])}``
            (a resumed screen): those candidates are not minimised again.
        on_done: called ``on_done(index, atoms)`` with each minimised structure as it finishes.
        devices: local devices to spread the slots over (None: all; :mod:`painnjax.devices`).
    """
    config = replace(config or ScreenConfig(keep=None), **settings)  # checks the settings
    candidates = list(candidates)
    model = check_screen(model, candidates, config, committee=committee)  # the rest, before any work
    run = _Minimisation(candidates, {k: Minimum(k, *v) for k, v in (done or {}).items()}, model, config)
    resumed, given = len(run.results), len(candidates)
    with precision(config.dtype):
        seconds, compile_s = run.stages(given, on_done, progress, devices)
    res = _ranked(run, model, config, given)
    return replace(res, seconds=seconds, compile_seconds=compile_s, resumed=resumed, given=given)


def _groups(candidates) -> list[list[int]]:
    """Candidate indices grouped by their atom list (one compile per group), in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for k, atoms in enumerate(candidates):
        groups.setdefault(tuple(int(z) for z in atoms.numbers), []).append(k)
    return list(groups.values())


def _energy_for(model: ResolvedModel, dtype: str) -> Callable:
    """``atoms -> energy_fn``: the potential of a painnjax model for those atoms, or the plain function given."""
    if model.model is None:
        return lambda atoms: model.function
    return lambda atoms: build_potential(model.model, atoms, dtype)


def _minimised(candidate, m: Minimum):
    """The candidate at its minimum ``m`` (a :class:`md.optimize.batch.Minimum`), with what the screen records."""
    atoms = candidate.copy()
    atoms.positions = np.asarray(m.positions, np.float64)
    atoms.info.update(fmax=float(m.fmax), steps=int(m.steps), converged=bool(m.converged))
    if m.force_calls is not None:
        atoms.info["force_calls"] = int(m.force_calls)
    atoms.info["state"] = str(candidate.info["state"]) if "state" in candidate.info else detect_state(candidate)[1]
    atoms.info["final_state"] = detect_state(atoms)[1]
    atoms.calc = SinglePointCalculator(atoms, energy=float(m.energy))  # what ASE reads back as the energy
    return atoms


class _Minimisation:
    """The minimisation stage of one screen: the candidates (the refinement adds to them), the
    minima found so far, and one compiled potential per atom list, shared by every stage."""

    def __init__(self, candidates: list, results: dict[int, Minimum], model: ResolvedModel, config: ScreenConfig):
        self.candidates = candidates
        self.results = results
        self.config = config
        self.energy_for = _energy_for(model, config.dtype)
        self.energy_fns: dict[tuple, Callable] = {}
        self.search: dict | None = None  # the refinement's course, once run

    def stages(self, given: int, on_done, progress: bool, devices) -> tuple[float, float]:
        """The given candidates, then each round of the refinement: ``(seconds, compile seconds)``."""
        t0 = time.perf_counter()
        compile_s = 0.0
        bar = None
        if progress:
            bar = tqdm(
                total=len(self.candidates),
                initial=len(self.results),
                unit="structure",
                desc="screen",
                dynamic_ncols=True,
            )
        try:
            compile_s += self.minimise(list(range(given)), on_done, bar, devices)
            if self.config.refine is not None:
                compile_s += self.refinement(on_done, bar, devices)
        finally:
            if bar is not None:
                bar.close()
        return time.perf_counter() - t0 - compile_s, compile_s

    def refinement(self, on_done, bar, devices) -> float:
        """The rounds of the refinement, until :func:`md.screening.refine.stalled` says stop or the last;
        records their course in ``self.search``. The compile seconds."""
        refine, compile_s = self.config.refine, 0.0
        lowest = [self.lowest()]
        stopped = "rounds"
        for round_ in range(refine.rounds):
            new = self.refined(round_)
            if not new:  # no converged minimum: no later round can make a candidate either
                stopped = "nothing to refine"
                break
            self.candidates.extend(new)
            if bar is not None:
                bar.total += len(new)
                bar.refresh()
            n = len(self.candidates)
            compile_s += self.minimise(list(range(n - len(new), n)), on_done, bar, devices)
            lowest.append(self.lowest())
            # decided from the minima alone: a resumed screen stops where the uninterrupted one did
            if stalled(lowest, refine.patience, self.config.energy_window):
                stopped = "patience"
                break
        self.search = {
            "max_rounds": refine.rounds,
            "patience": refine.patience,
            "energy_window_kcal_mol": float(self.config.energy_window),
            "rounds": len(lowest) - 1,
            "stopped": stopped,
            "lowest_eV": {c: [float(e) if np.isfinite(e) else None for e in (s[c] for s in lowest)] for c in lowest[0]},
        }
        return compile_s

    def minimise(self, indices: list[int], on_done, bar, devices) -> float:
        """Minimise the candidates ``indices`` not yet done, group by group; the compile seconds."""
        spent = 0.0
        for group in _groups([self.candidates[k] for k in indices]):
            todo = [indices[i] for i in group if indices[i] not in self.results]
            if not todo:
                continue
            key = tuple(int(z) for z in self.candidates[todo[0]].numbers)
            if key not in self.energy_fns:
                self.energy_fns[key] = self.energy_for(self.candidates[todo[0]])

            def finished(m, todo=todo):
                k = todo[m.index]
                self.results[k] = replace(m, index=k)
                if on_done is not None:
                    on_done(k, _minimised(self.candidates[k], self.results[k]))
                if bar is not None:
                    bar.update(1)

            res = minimize_batch(
                self.energy_fns[key],
                np.stack([self.candidates[k].positions for k in todo]),
                fmax=self.config.fmax,
                max_steps=self.config.max_steps,
                slots=self.config.slots,
                on_done=finished,
                method=self.config.optimizer,
                devices=devices,
            )
            spent += res.compile_seconds
        return spent

    def refined(self, round_: int) -> list:
        """Round ``round_`` of the refinement: new candidates made from the lowest minima so far."""
        n = len(self.candidates)
        refine, cfg = self.config.refine, self.config
        return refine_candidates(
            self.minima(),
            [self.results[k].energy for k in range(n)],
            [bool(self.results[k].converged) for k in range(n)],
            round_=round_,
            start=n,
            top=refine.top,
            moves=refine.moves,
            kinds=refine.kinds,
            seed=refine.seed,
            angle=refine.angle,
            shift=refine.shift,
            energy_window=cfg.energy_window,
            tolerance=cfg.tolerance,
        )

    def lowest(self) -> dict[str, float]:
        """The lowest converged energy of each composition so far (eV; inf for none)."""
        n = len(self.candidates)
        return lowest_by_composition(
            [self.results[k].energy for k in range(n)],
            [bool(self.results[k].converged) for k in range(n)],
            [a.info.get("composition", a.get_chemical_formula()) for a in self.candidates],
        )

    def minima(self) -> list:
        """Every candidate at its minimum, in order."""
        return [_minimised(c, self.results[k]) for k, c in enumerate(self.candidates)]


def _ranked(run: _Minimisation, model: ResolvedModel, config: ScreenConfig, given: int) -> ScreenResult:
    """The minima of ``run`` (the first ``given`` of them the candidates given) with duplicates found,
    ranked, how often the lowest was found, and with committee spreads on the ones kept."""
    structures = run.minima()
    n = len(structures)
    minima = [run.results[k] for k in range(n)]
    E = np.array([m.energy for m in minima], np.float64)
    conv = np.array([bool(m.converged) for m in minima]) & np.isfinite(E)
    same_as, ranked = _rank(structures, E, conv, config)
    e_spread = np.full(n, np.nan)
    f_spread = np.full(n, np.nan)
    if model.committee:
        chosen = ranked if config.keep is None else ranked[: config.keep]
        es, fs = committee_spread(model, [structures[k] for k in chosen], config.dtype)
        e_spread[chosen], f_spread[chosen] = es, fs
    for k, atoms in enumerate(structures):
        atoms.info["duplicate_of"] = int(same_as[k]) if same_as[k] != k else -1
    found = found_counts(
        same_as,
        conv,
        E,
        [a.info.get("composition", a.get_chemical_formula()) for a in structures],
        ranked,
        given,
        [a.info.get("parent") for a in structures],
        [a.info.get("partner") for a in structures],
    )
    return ScreenResult(
        structures,
        E,
        np.array([m.fmax for m in minima], np.float64),
        np.array([m.steps for m in minima], np.int64),
        conv,
        same_as,
        ranked,
        e_spread,
        f_spread,
        force_calls=np.array([-1 if m.force_calls is None else m.force_calls for m in minima], np.int64),
        groups=_groups(run.candidates),
        found=found,
        search=run.search,
    )


def _rank(structures, E: np.ndarray, conv: np.ndarray, config: ScreenConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(same_as, ranked)``: the duplicate each minimum is of (its own index if distinct), and the
    distinct converged ones, lowest first per composition (compositions in order of first appearance)."""
    n = len(structures)
    comps = [a.info.get("composition", a.get_chemical_formula()) for a in structures]
    prints = [fingerprint(a) for a in structures]
    # Unconverged structures take part in no comparison: they are reported, never ranked.
    same_as = unique_minima(
        np.where(conv, E, np.nan),
        prints,
        energy_window=config.energy_window,
        tolerance=config.tolerance,
        composition=comps,
    )
    distinct = [k for k in range(n) if conv[k] and same_as[k] == k]
    first_seen = {c: i for i, c in enumerate(dict.fromkeys(comps))}
    ranked = np.array(sorted(distinct, key=lambda k: (first_seen[comps[k]], E[k])), np.int64)
    return same_as, ranked
