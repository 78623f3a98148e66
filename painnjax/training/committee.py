"""Committees of models: their mean prediction, their spread, and query by committee.

K models trained on the same data from different seeds agree where the data taught them and
disagree elsewhere; the spread of their predictions is a cheap uncertainty. Query by committee
picks, from a pool of unlabeled structures, those with the largest spread for labelling next.

Spreads are standard deviations over the K models with divisor K (``np.std``'s default, the
spread of the members around their mean; for two models the energy spread is |E1 − E2|/2):

- ``energy_std`` (S,) eV: the standard deviation of the total energies;
- ``atom_force_spread`` (n_i,) eV/Å per structure: for each atom, the norm of the vector of
  per-component standard deviations, ‖σ(F_i)‖ = sqrt(mean_k ‖F_ki − F̄_i‖²), the
  root-mean-square distance of the members' force vectors from their mean;
- ``force_spread`` (S,) eV/Å: the mean of ``atom_force_spread`` over a structure's atoms, and
  ``force_spread_max`` (S,) its maximum (the most uncertain atom).

Example:
    >>> models = [load_model(f"run{k}/best.painn") for k in range(4)]  # doctest: +SKIP
    >>> pool = read_pool("pool.extxyz")                                  # doctest: +SKIP
    >>> sel = select_by_spread(models, pool, 20)                         # doctest: +SKIP
    >>> write_selection("to_label.extxyz", pool, sel)                    # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from painnjax.data.dataset import read_dataset
from painnjax.errors import InputError
from painnjax.io.files import write_extxyz_atomic
from painnjax.io.modelfile import load_model
from painnjax.model import Model
from painnjax.training.evaluate import error_report, predict, prediction_errors, training_reference
from painnjax.units import EV_TO_KCAL_PER_MOL
from painnjax.validate import check_species

CRITERIA = ("forces", "forces_max", "energy")


# --------------------------------------------------------------------------------------------
# Predictions


def load_committee(models, names=None):
    """``(models, names)``: K ≥ 2 members loaded (Model objects pass through) with names for
    messages (file names by default); an :class:`InputError` for fewer than two."""

    models = list(models)
    if names is None:
        names = [str(m) if isinstance(m, (str, os.PathLike)) else f"model {k}" for k, m in enumerate(models)]
    names = [str(n) for n in names]
    if len(names) != len(models):
        raise InputError(f"{len(names)} names for {len(models)} models")
    if len(models) < 2:
        raise InputError(
            f"a committee needs at least 2 models, got {len(models)}" + (f" ({names[0]})" if models else "")
        )
    return [m if isinstance(m, Model) else load_model(m) for m in models], names


def _where(ds, k: int) -> str:
    return f"{ds.info[k].get('source')}, frame {ds.info[k].get('frame')}"


def check_committee(models, ds, names: Sequence[str]) -> None:
    """The members must predict the same kind of energy and know every element of ``ds``.

    Members may differ in anything else (size, cutoff, element sets). Raises
    :class:`InputError` naming the member, and the structure (file, frame) and atom it cannot
    handle.
    """

    if len(ds) == 0:
        raise InputError("the committee has no structures to predict (empty dataset)")
    refs = [
        {k: v for k, v in m.metadata.get("energy_reference", {"kind": "total"}).items() if k != "trained_on"}
        for m in models
    ]
    for name, ref in zip(names[1:], refs[1:]):
        if ref != refs[0]:
            raise InputError(
                f"committee members predict different energies: {names[0]} predicts {refs[0]}, {name} predicts {ref}"
            )
    present = [set(np.unique(Z).tolist()) for Z in ds.numbers]
    for model, name in zip(models, names):
        known = None if model.elements is None else set(model.elements)
        for k, zs in enumerate(present):
            if min(zs) >= 1 and max(zs) < model.config.max_z and (known is None or zs <= known):
                continue  # quick test on the set of elements; the full check names the atom
            try:
                check_species(ds.numbers[k], model.elements, model.config.max_z, source=_where(ds, k))
            except InputError as exc:
                raise InputError(f"committee member {name} lacks an element of a structure: {exc}") from None


def committee_predict(models, ds, batch_size: int = 8, dtype: str = "float32", names=None):
    """Energies (K, S) eV and forces (K lists of S arrays (n_i, 3) eV/Å) of K ≥ 2 models.

    ``models``: :class:`~painnjax.io.modelfile.Model` objects or model files. Each member is run
    with :func:`painnjax.training.evaluate.predict`; members with the same config share compiled code.
    """

    models, names = load_committee(models, names)
    check_committee(models, ds, names)
    energies, forces = [], []
    for model in models:
        E, F = predict(model, ds, batch_size=batch_size, dtype=dtype)
        energies.append(E)
        forces.append(F)
    return np.stack(energies), forces


# --------------------------------------------------------------------------------------------
# Spreads


@dataclass(frozen=True)
class CommitteeStats:
    """Committee mean and spreads per structure (definitions in the module docstring)."""

    n_models: int
    mean_energy: np.ndarray  # (S,) eV
    energy_std: np.ndarray  # (S,) eV
    mean_forces: list  # S arrays (n_i, 3) eV/Å
    atom_force_spread: list  # S arrays (n_i,) eV/Å
    force_spread: np.ndarray  # (S,) eV/Å, mean over atoms
    force_spread_max: np.ndarray  # (S,) eV/Å, max over atoms

    @property
    def energy_std_kcal_mol(self) -> np.ndarray:
        return self.energy_std * EV_TO_KCAL_PER_MOL

    @property
    def force_spread_kcal_mol_A(self) -> np.ndarray:
        return self.force_spread * EV_TO_KCAL_PER_MOL

    @property
    def force_spread_max_kcal_mol_A(self) -> np.ndarray:
        return self.force_spread_max * EV_TO_KCAL_PER_MOL

    def spread(self, criterion: str = "forces") -> np.ndarray:
        """(S,) the spread a selection ranks by: ``"forces"`` (force_spread, eV/Å),
        ``"forces_max"`` (force_spread_max, eV/Å) or ``"energy"`` (energy_std, eV)."""
        if criterion == "forces":
            return self.force_spread
        if criterion == "forces_max":
            return self.force_spread_max
        if criterion == "energy":
            return self.energy_std
        raise InputError(f"unknown criterion {criterion!r}; use one of {', '.join(CRITERIA)}")


def committee_stats(energies, forces) -> CommitteeStats:
    """Mean and spreads from per-model predictions as :func:`committee_predict` gives them:
    ``energies`` (K, S) eV and ``forces`` K lists of S arrays (n_i, 3) eV/Å."""
    E = np.asarray(energies, np.float64)
    if E.ndim != 2 or E.shape[0] < 1:
        raise InputError(f"energies must have shape (K, S), got {E.shape}")
    K, S = E.shape
    if len(forces) != K or any(len(f) != S for f in forces):
        raise InputError(f"forces must be {K} lists of {S} arrays, one list per model")
    mean_forces, atom_spread = [], []
    for s in range(S):
        Fs = np.stack([np.asarray(forces[k][s], np.float64) for k in range(K)])  # (K, n, 3)
        mean_forces.append(Fs.mean(axis=0))
        atom_spread.append(np.linalg.norm(Fs.std(axis=0), axis=-1))  # (n,)
    return CommitteeStats(
        n_models=K,
        mean_energy=E.mean(axis=0),
        energy_std=E.std(axis=0),
        mean_forces=mean_forces,
        atom_force_spread=atom_spread,
        force_spread=np.array([a.mean() for a in atom_spread]),
        force_spread_max=np.array([a.max() for a in atom_spread]),
    )


# --------------------------------------------------------------------------------------------
# Query by committee


class Selection(NamedTuple):
    """The structures a committee picked: ``indices`` into the pool, largest spread first,
    their ``spreads`` by ``criterion``, and the ``stats`` of the whole pool."""

    indices: np.ndarray
    spreads: np.ndarray
    criterion: str
    stats: CommitteeStats
    n_random: int = 0  # the last n_random indices were drawn at random from the rest of the pool

    def picked_by(self, rank: int) -> str:
        """``"spread"`` or ``"random"``: how the structure at ``rank`` was picked."""
        return "random" if rank >= len(self.indices) - self.n_random else "spread"


def rank_by_spread(spread, n: int) -> np.ndarray:
    """Indices of the ``n`` largest values of ``spread``, largest first; ties in index order."""
    spread = np.asarray(spread, np.float64)
    if np.isnan(spread).any():
        raise InputError(f"spread of structure {int(np.argmax(np.isnan(spread)))} is NaN")
    return np.lexsort((np.arange(len(spread)), -spread))[:n]


def read_pool(paths, format: str | None = None, ignore_cell: bool = False):
    """Structures to select from: every frame of ``paths``, with or without energies/forces.

    :func:`painnjax.data.dataset.read_dataset` with ``require_energy=False, require_forces=False``:
    frames are checked as there (errors name file and frame), ``info[k]`` keeps ``source``
    and ``frame``, and labels are kept where every frame has them; a periodic frame is an
    error unless ``ignore_cell`` (then read as a free cluster).
    """
    with warnings.catch_warnings():  # a pool missing some forces is normal, not worth a warning
        warnings.filterwarnings("ignore", message=".*structures have no forces")
        return read_dataset(paths, require_energy=False, require_forces=False, format=format, ignore_cell=ignore_cell)


def _files(ds) -> str:
    files = list(dict.fromkeys(str(d.get("source")) for d in ds.info))
    return ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def select_by_spread(
    models,
    ds,
    n: int,
    criterion: str = "forces",
    batch_size: int = 8,
    dtype: str = "float32",
    names=None,
    random_share: float = 0.0,
    seed: int = 0,
) -> Selection:
    """The ``n`` structures of ``ds`` on which the K ≥ 2 ``models`` disagree most.

    ``criterion``: ``"forces"`` (mean over atoms of the per-atom force spread; the default),
    ``"forces_max"`` (its maximum over atoms) or ``"energy"`` (standard deviation of the
    energy). Ordered by spread, largest first; equal spreads in pool order.

    ``random_share``: this fraction of the ``n`` (rounded) is drawn uniformly (``seed``) from
    the structures the spread did not pick, and comes last. Spread alone picks the committee's
    most uncertain, often most distorted, frames and never those where the members agree and
    are wrong alike; a random share keeps the typical thermal configurations that MD visits.
    """
    if not (isinstance(random_share, (int, float)) and not isinstance(random_share, bool) and 0 <= random_share <= 1):
        raise InputError(f"the random share must be a fraction in [0, 1], got {random_share!r}")
    if criterion not in CRITERIA:
        raise InputError(f"unknown criterion {criterion!r}; use one of {', '.join(CRITERIA)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"the number of structures to select must be a positive integer, got {n!r}")
    if len(ds) == 0:
        raise InputError("the pool is empty: no structures to select from")
    if n > len(ds):
        raise InputError(f"cannot select {n} structures from a pool of {len(ds)} ({_files(ds)})")
    energies, forces = committee_predict(models, ds, batch_size=batch_size, dtype=dtype, names=names)
    stats = committee_stats(energies, forces)
    spread = stats.spread(criterion)
    n_random = int(round(random_share * int(n)))
    idx = rank_by_spread(spread, int(n) - n_random)
    if n_random:
        rest = np.setdiff1d(np.arange(len(ds)), idx)
        drawn = np.sort(np.random.default_rng(seed).choice(rest, n_random, replace=False))
        idx = np.concatenate([idx, drawn])
    return Selection(idx, spread[idx], criterion, stats, n_random)


def _restored_info(info: dict) -> dict:
    """A frame's own ``atoms.info`` from a dataset's ``info`` (provenance taken out)."""
    own = {k: v for k, v in info.items() if k not in ("source", "frame")}
    for key in ("source", "frame"):
        if f"info_{key}" in own:
            own[key] = own.pop(f"info_{key}")
    return own


def write_selection(path, ds, selection: Selection):
    """Write the selected structures of ``ds`` to ``path`` (extxyz), atomically.

    Each frame has the original atoms, its energy (eV) and forces (eV/Å) where ``ds`` has them,
    its own info entries, and ``pool_file``, ``pool_frame`` (where it came from),
    ``committee_rank`` (0: largest spread), ``committee_energy_std_eV``,
    ``committee_force_spread_eV_A`` and ``committee_force_spread_max_eV_A``.
    """
    stats = selection.stats
    frames = []
    for rank, k in enumerate(np.asarray(selection.indices).tolist()):
        atoms = Atoms(numbers=ds.numbers[k], positions=ds.positions[k])
        atoms.info.update(_restored_info(ds.info[k]))
        atoms.info.update(
            {
                "pool_file": str(ds.info[k].get("source")),
                "pool_frame": int(ds.info[k].get("frame", k)),
                "committee_rank": rank,
                "selected_by": selection.picked_by(rank),
                "committee_energy_std_eV": float(stats.energy_std[k]),
                "committee_force_spread_eV_A": float(stats.force_spread[k]),
                "committee_force_spread_max_eV_A": float(stats.force_spread_max[k]),
            }
        )
        results = {}
        if np.isfinite(ds.energy[k]):
            results["energy"] = float(ds.energy[k])
        if ds.forces is not None:
            results["forces"] = np.asarray(ds.forces[k], np.float64)
        if results:
            atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return write_extxyz_atomic(path, frames)


def format_selection(ds, selection: Selection, n_models: int) -> str:
    """The selection as text: what was picked and a table of the picks, largest spread first."""
    s = selection.stats
    n_spread = len(selection.indices) - selection.n_random
    lines = [
        f"{n_spread} of {len(ds)} structures with the largest {selection.criterion} spread "
        f"of {n_models} models (E: std of the energy, kcal/mol; F: per-atom force spread, kcal/mol/Å)"
        + (f", then {selection.n_random} drawn at random from the rest (by: random)" if selection.n_random else ""),
        f"{'rank':>4s} {'source':>30s} {'frame':>6s} {'composition':>12s} {'E std':>9s} {'F mean':>9s} "
        f"{'F max':>9s} by",
    ]
    for rank, k in enumerate(np.asarray(selection.indices).tolist()):
        info = ds.info[k]
        lines.append(
            f"{rank:4d} {str(info.get('source'))[-30:]:>30s} {info.get('frame')!s:>6s} "
            f"{info.get('composition')!s:>12s} {s.energy_std_kcal_mol[k]:9.3f} "
            f"{s.force_spread_kcal_mol_A[k]:9.3f} {s.force_spread_max_kcal_mol_A[k]:9.3f} {selection.picked_by(rank)}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Errors of a committee on labelled data


def committee_report(models, ds, batch_size: int = 8, dtype: str = "float32", names=None) -> dict:
    """Errors of the committee mean against ``ds`` (the keys of
    :func:`painnjax.training.evaluate.error_report`), plus ``committee``:

    - ``n_models``, ``models`` (names);
    - ``mean_energy_std_kcal_mol`` / ``max_energy_std_kcal_mol``: ``energy_std`` averaged
      over / largest among the structures;
    - ``mean_force_spread_kcal_mol_A``: ``force_spread`` averaged over the structures;
      ``max_force_spread_kcal_mol_A``: the largest per-atom spread of any structure;
    - ``energy_std_error_r`` (and ``force_spread_error_r`` with reference forces): Pearson r
      over the structures between the spread and the committee mean's absolute error (energy;
      mean absolute force-component error), NaN when undefined;
    - ``per_model``: every member's metrics (as ``error_report``, without the per-composition
      table).

    ``_stats`` holds the :class:`CommitteeStats` (not written to JSON).
    """

    if ds.reference.get("kind") != "total":
        raise InputError("evaluate expects total energies (read the data without a reference)")
    models, names = load_committee(models, names)
    energies, forces = committee_predict(models, ds, batch_size=batch_size, dtype=dtype, names=names)
    stats = committee_stats(energies, forces)
    members = []
    for k, (model, name) in enumerate(zip(models, names)):
        r = error_report(model, ds, predictions=(energies[k], forces[k]))
        members.append(
            {"model": name, **{key: v for key, v in r.items() if key != "per_composition" and not key.startswith("_")}}
        )
    refs = [training_reference(m, ds) for m in models]
    ref = refs[0] if all(np.array_equal(r, refs[0]) for r in refs) else None
    out = prediction_errors(stats.mean_energy, stats.mean_forces, ds, ref)
    e_err = np.abs(stats.mean_energy - ds.energy)
    info = {
        "n_models": len(models),
        "models": names,
        "mean_energy_std_kcal_mol": float(stats.energy_std_kcal_mol.mean()),
        "max_energy_std_kcal_mol": float(stats.energy_std_kcal_mol.max()),
        "mean_force_spread_kcal_mol_A": float(stats.force_spread_kcal_mol_A.mean()),
        "max_force_spread_kcal_mol_A": float(stats.force_spread_max_kcal_mol_A.max()),
        "energy_std_error_r": _pearson(stats.energy_std, e_err),
    }
    if ds.forces is not None:
        f_err = np.array([np.abs(f - r).mean() for f, r in zip(stats.mean_forces, ds.forces)])
        info["force_spread_error_r"] = _pearson(stats.force_spread, f_err)
    info["per_model"] = members
    out["committee"] = info
    out["_stats"] = stats
    return out


def format_committee(report: dict) -> str:
    """A :func:`committee_report` as text: every member's errors, the committee's spread, and the
    heading of the committee mean's errors (:func:`painnjax.training.evaluate.format_report`)."""
    c = report["committee"]
    lines = [f"{'model':>30s} {'E MAE':>9s} {'E RMSE':>9s} {'F MAE':>9s} {'F RMSE':>9s}"]
    for row in c["per_model"]:
        lines.append(
            f"{row['model'][-30:]:>30s} {row['energy_mae']:9.3f} {row['energy_rmse']:9.3f} "
            f"{row.get('forces_mae', float('nan')):9.3f} {row.get('forces_rmse', float('nan')):9.3f}"
        )
    lines.append(
        f"committee of {c['n_models']} models: spread (std over models) of the energy "
        f"{c['mean_energy_std_kcal_mol']:.3f} kcal/mol on average (max {c['max_energy_std_kcal_mol']:.3f}), "
        f"of the forces {c['mean_force_spread_kcal_mol_A']:.3f} kcal/mol/Å "
        f"(max {c['max_force_spread_kcal_mol_A']:.3f})"
    )
    lines.append("errors of the committee mean:")
    return "\n".join(lines)


def _pearson(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


__all__ = [
    "CRITERIA",
    "CommitteeStats",
    "Selection",
    "check_committee",
    "committee_predict",
    "committee_report",
    "format_committee",
    "format_selection",
    "load_committee",
    "committee_stats",
    "rank_by_spread",
    "read_pool",
    "select_by_spread",
    "write_selection",
]
