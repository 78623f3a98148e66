"""A screen's kept minima re-ranked with a second, better model: ``painnjax screen --rerank-with MODEL``.

The screen minimises with a fast potential; its kept minima (``best.extxyz``) are then given a
better energy by one of three model kinds, and ranked again by it (per composition, as the screen):

- a **Δ kernel model** (KRR or k-NN trained on ΔΔE = ΔE_high − ΔE_low, :mod:`painnjax.kernels`):
  the low level is computed with tblite on the fly (the model's ``low_method``, e.g. GFN1-xTB),
  and the high-level binding energy is ΔE_low + ΔΔE, with ΔE_low = E_low − Σ_m n_m E_low(m)
  over the model's low-level monomer minima;
- a **direct kernel model**: its prediction, the binding energy (or total energy) at its level;
- a **PaiNN model**: trained on a Δ target (``energy_reference`` with ``"delta"``), E = E_low(tblite)
  + its correction (+ the element offsets it was trained less); otherwise its total energy.

A k-NN model also gives each structure's neighbour spread (the standard deviation of its k
neighbours' targets), a measure of how far the model is from what it knows.

:func:`load_reranker` reads the model and :func:`check_reranker` checks that it can be applied
to the candidates (elements, whole molecules of its monomers, tblite for a Δ model), both before
any structure is minimised (:func:`md.screening.checks.check_rerank`). :func:`rerank_screen`
writes ``reranked.csv`` (one row per kept minimum, by the new rank, with the screen's rank and
energies beside the new ones) and ``rerank.json`` into the screen's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from painnjax.errors import InputError
from painnjax.io.files import atomic_write, write_json
from painnjax.units import EV_TO_KCAL_PER_MOL

LOW_METHODS = ("GFN1-xTB", "GFN2-xTB", "IPEA1-xTB")
RERANK_FILE = "reranked.csv"
RERANK_COLUMNS = (
    "rerank,screen_rank,candidate,composition,state,screen_energy_eV,screen_relative_kcal_mol,low_energy_eV,"
    "correction_eV,reranked_energy_eV,reranked_relative_kcal_mol,spread_kcal_mol"
)


@dataclass
class Reranker:
    """A model to re-rank with: ``kind`` ("krr", "knn" or "painn"), the loaded ``model``, whether it is
    a Δ model (``low_method``: the tblite method of its low level, else None) and what its energies are
    (``quantity``: "binding energy" or "total energy")."""

    source: str
    kind: str
    model: object
    low_method: str | None
    quantity: str
    low_monomers: dict = field(default_factory=dict)

    @property
    def delta(self) -> bool:
        return self.low_method is not None

    def describe(self) -> str:
        if self.kind == "painn":
            what = f"PaiNN Δ over {self.low_method}" if self.delta else "PaiNN"
            return f"{what} ({self.source})"
        return f"{self.model.describe()} ({self.source})"


def _painn_delta(model) -> bool:
    ref = model.metadata.get("energy_reference", {}) or {}
    return "delta" in ref or "delta" in (ref.get("trained_on") or {})


def load_reranker(path, low_method: str | None = None) -> Reranker:
    """The model of ``--rerank-with`` read once: a kernel model file or a PaiNN model (file or bundled name).

    ``low_method``: the tblite method of a Δ model's low level, instead of the one its file records
    (kernel models) or GFN1-xTB (PaiNN Δ models). A missing or damaged file is a
    :class:`~painnjax.errors.ModelFileError` naming it."""
    from painnjax.io.modelfile import load_model
    from painnjax.kernels.files import is_kernel_model_file, load_kernel_model

    if low_method is not None and low_method not in LOW_METHODS:
        raise InputError(f"--rerank-low-method: must be one of {', '.join(LOW_METHODS)}, got {low_method!r}")
    source = str(path)
    if is_kernel_model_file(path):
        model = load_kernel_model(path)
        target = model.metadata.get("target", {})
        delta = bool(target.get("delta_low_key"))
        method = (low_method or target.get("low_method") or "GFN1-xTB") if delta else None
        if method is not None and method not in LOW_METHODS:
            raise InputError(f"{source}: the model's low level {method!r} is not a tblite method ({LOW_METHODS})")
        quantity = "binding energy" if target.get("monomers") else "total energy"
        return Reranker(source, model.kind, model, method, quantity, dict(target.get("low_monomers") or {}))
    model = load_model(path)
    method = (low_method or "GFN1-xTB") if _painn_delta(model) else None
    return Reranker(source, "painn", model, method, "total energy")


def check_reranker(reranker: Reranker, candidates) -> None:
    """Refuse a model that cannot give the candidates' minima an energy: an element it has no channel
    for, a molecule it has no monomer energy of (binding energies), tblite missing for a Δ model."""
    from painnjax.data.composition import MOLECULES, molecule_counts
    from painnjax.validate import check_species

    seen = set()
    for k, atoms in enumerate(candidates):
        key = tuple(int(z) for z in atoms.numbers)
        if key in seen:
            continue
        seen.add(key)
        where = f"--rerank-with {reranker.source}: candidate {k} ({atoms.get_chemical_formula()})"
        if reranker.kind == "painn":
            m = reranker.model
            check_species(np.array(key), m.elements, m.config.max_z, source=where)
            continue
        model = reranker.model
        other = sorted(set(key) - set(model.config.elements))
        if other:
            raise InputError(
                f"{where}: element(s) {other} not among the kernel model's elements {list(model.config.elements)}"
            )
        target = model.metadata.get("target", {})
        for label, monomers in (("", target.get("monomers")), ("low-level ", reranker.low_monomers)):
            if not monomers:
                continue
            counts = molecule_counts(np.array(key), MOLECULES, source=where)
            missing = [name for name, c in counts.items() if c and name not in monomers]
            if missing:
                raise InputError(
                    f"{where}: the model was trained on clusters of {', '.join(monomers)}; it has no {label}monomer "
                    f"energy of {', '.join(missing)}"
                )
    if reranker.delta:
        try:
            import tblite.ase  # noqa: F401
        except ImportError as exc:
            raise InputError(
                f"--rerank-with {reranker.source}: a Δ model needs tblite for its low level ({exc})"
            ) from None


@dataclass
class Reranked:
    """Energies of structures from a :class:`Reranker`, eV: ``energy`` (the high-level estimate),
    ``low`` (the low level, NaN for a direct model), ``correction`` (the model's Δ, NaN for a direct
    model) and ``spread`` (k-NN's neighbour spread, NaN for other kinds)."""

    energy: np.ndarray
    low: np.ndarray
    correction: np.ndarray
    spread: np.ndarray


def rerank_energies(reranker: Reranker, structures) -> Reranked:
    """The model's energies of ``structures`` (``ase.Atoms``), in eV; see :class:`Reranked`."""
    from painnjax.kernels.targets import low_level_energy

    n = len(structures)
    low = np.full(n, np.nan)
    if reranker.delta:
        for i, atoms in enumerate(structures):
            where = f"kept minimum {i} ({atoms.get_chemical_formula()})"
            low[i] = low_level_energy(atoms.numbers, atoms.positions, reranker.low_method, 0, where)
    spread = np.full(n, np.nan)
    if reranker.kind == "painn":
        pred = _painn_energies(reranker.model, structures)
        if reranker.delta:
            pred = pred + _element_offsets(reranker.model, structures)
    else:
        pred, knn_spread = reranker.model.predict([a.numbers for a in structures], [a.positions for a in structures])
        if knn_spread is not None:
            spread = np.asarray(knn_spread, np.float64)
    pred = np.asarray(pred, np.float64)
    if not reranker.delta:
        return Reranked(pred, low, np.full(n, np.nan), spread)
    base = low
    if reranker.kind != "painn" and reranker.quantity == "binding energy":  # ΔE_low, against the low monomers
        base = low - _monomer_sum(structures, reranker.low_monomers)
    return Reranked(base + pred, low, pred, spread)


def _monomer_sum(structures, monomers: dict) -> np.ndarray:
    from painnjax.data.composition import MOLECULES, molecule_counts

    out = np.zeros(len(structures))
    for i, atoms in enumerate(structures):
        counts = molecule_counts(atoms.numbers, MOLECULES, source=f"kept minimum {i}")
        out[i] = sum(c * monomers[m] for m, c in counts.items() if c)
    return out


def _painn_energies(model, structures) -> np.ndarray:
    """The PaiNN model's energies (eV, float64) of ``structures``, one potential per atom list."""
    from md.forces.build import build_potential, precision

    out = np.empty(len(structures))
    fns = {}
    with precision("float64"):
        for i, atoms in enumerate(structures):
            key = tuple(int(z) for z in atoms.numbers)
            if key not in fns:
                fns[key] = build_potential(model, atoms, "float64")
            out[i] = float(fns[key](np.asarray(atoms.positions, np.float64)))
    return out


def _element_offsets(model, structures) -> np.ndarray:
    """Σ of the per-element offsets a PaiNN Δ model was trained less (none for other references), eV."""
    ref = model.metadata.get("energy_reference", {}) or {}
    if ref.get("kind") != "element_offsets":
        return np.zeros(len(structures))
    table = {int(z): float(v) for z, v in (ref.get("atomref") or {}).items()}
    return np.array([sum(table.get(int(z), 0.0) for z in a.numbers) for a in structures])


def relative_by_composition(energies: np.ndarray, compositions) -> np.ndarray:
    """kcal/mol above the lowest finite energy of the same composition."""
    rel = np.full(len(energies), np.nan)
    comps = np.asarray(compositions)
    for c in dict.fromkeys(compositions):
        sel = comps == c
        ok = sel & np.isfinite(energies)
        if ok.any():
            rel[sel] = (energies[sel] - energies[ok].min()) * EV_TO_KCAL_PER_MOL
    return rel


def rerank_screen(reranker: Reranker, out, log=print) -> dict:
    """Re-rank the minima a finished screen kept in ``out/best.extxyz``; write ``out/reranked.csv`` and
    ``out/rerank.json``; the record (also in ``rerank.json``)."""
    from ase.io import read

    out = Path(out)
    best = out / "best.extxyz"
    if not best.exists() or best.stat().st_size == 0:
        raise InputError(f"{best}: no minima to re-rank (the screen kept none)")
    frames = read(best, index=":")
    comps = [a.info.get("composition", a.get_chemical_formula()) for a in frames]
    screen_E = np.array([a.get_potential_energy() for a in frames], np.float64)
    res = rerank_energies(reranker, frames)
    rel = relative_by_composition(res.energy, comps)
    first = {c: i for i, c in enumerate(dict.fromkeys(comps))}
    order = sorted(range(len(frames)), key=lambda i: (first[comps[i]], res.energy[i]))
    lines = [RERANK_COLUMNS]
    for r, i in enumerate(order):
        a = frames[i]
        lines.append(
            ",".join(
                [
                    str(r),
                    str(a.info.get("rank", i)),
                    str(a.info.get("candidate_index", "")),
                    comps[i],
                    str(a.info.get("final_state", "")),
                    f"{screen_E[i]:.6f}",
                    f"{float(a.info.get('relative_energy_kcal_mol', np.nan)):.4f}",
                    _fmt(res.low[i], 6),
                    _fmt(res.correction[i], 6),
                    f"{res.energy[i]:.6f}",
                    f"{rel[i]:.4f}",
                    _fmt(res.spread[i] * EV_TO_KCAL_PER_MOL, 4),
                ]
            )
        )
    atomic_write(out / RERANK_FILE, "\n".join(lines) + "\n")
    record = {
        "model": reranker.describe(),
        "source": reranker.source,
        "kind": reranker.kind,
        "quantity": reranker.quantity,
        "low_method": reranker.low_method,
        "minima": len(frames),
        "order": [int(i) for i in order],
        "lowest_changed": _lowest_changed(order, screen_E, comps),
    }
    write_json(out / "rerank.json", record)
    if log:
        log(format_rerank(frames, order, rel, res, reranker, comps))
        log(f"wrote {out / RERANK_FILE}")
    return record


def _lowest_changed(order, screen_E: np.ndarray, comps) -> dict[str, bool]:
    """Per composition: whether the re-ranked lowest minimum is another than the screen's lowest."""
    out = {}
    for i in order:  # the first of each composition in the new order is its new lowest
        if comps[i] not in out:
            mine = [j for j in range(len(comps)) if comps[j] == comps[i]]
            out[comps[i]] = int(i) != int(mine[int(np.argmin(screen_E[mine]))])
    return out


def format_rerank(frames, order, rel, res: Reranked, reranker: Reranker, comps) -> str:
    """The re-ranked minima as a table: new rank, screen rank, candidate, composition, ΔE new (and spread)."""
    spread = np.isfinite(res.spread).any()
    rows = [
        f"re-ranked with {reranker.describe()}: {reranker.quantity}",
        f"{'rank':>4s} {'screen':>6s} {'cand.':>6s} {'composition':>12s} {'ΔE (kcal/mol)':>14s} "
        f"{'screen ΔE':>10s}" + ("  k-NN spread (kcal/mol)" if spread else ""),
    ]
    for r, i in enumerate(order):
        a = frames[i]
        row = (
            f"{r:4d} {a.info.get('rank', i):>6} {a.info.get('candidate_index', ''):>6} {comps[i]:>12s} "
            f"{rel[i]:14.2f} {float(a.info.get('relative_energy_kcal_mol', np.nan)):10.2f}"
        )
        if spread:
            row += f"  {res.spread[i] * EV_TO_KCAL_PER_MOL:23.2f}"
        rows.append(row)
    return "\n".join(rows)


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}" if np.isfinite(x) else ""
