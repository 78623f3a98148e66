"""A screen's kept minima ranked by Gibbs free energy: what ``painnjax screen --rank-by G`` adds.

A screen (:mod:`md.screening.screen`) ranks its distinct minima by electronic energy and keeps
the lowest ``keep`` in ``OUT/best.extxyz``. Cluster-formation studies rank by the Gibbs free
energy at a temperature instead: soft, floppy clusters gain entropy. :func:`rank_screen_by_g`
takes those kept minima, computes their harmonic frequencies in float64 and their free
energies (:func:`md.analysis.thermo.thermo_of_file`: ideal gas, rigid rotor, harmonic or
quasi-harmonic oscillator) and their formation ΔH, ΔS, ΔG from the model's own monomers, and
writes:

- ``OUT/thermo.json``: :func:`md.analysis.thermo.write_thermo` of the kept minima;
- ``OUT/dH_dS.txt``: formation ΔH (kcal/mol), ΔS (cal/(mol K)), ΔG (kcal/mol) per minimum and
  temperature (:func:`md.analysis.thermo.write_dh_ds_table`), for cluster-kinetics codes;
- ``OUT/ranked_by_G.csv``: the minima ordered by G at the first temperature, with their
  energy rank, ΔE and ΔG relative to the lowest (kcal/mol) and imaginary modes;
- ``OUT/best_by_G.extxyz``: the same structures in that order (``info``: ``G_rank``,
  ``relative_G_kcal_mol``, ``energy_rank``).

:func:`check_rank_by_g` checks, before the screen, what the ranking will need of its minima
(``painnjax screen --rank-by G`` calls it on the candidates: their minima have their atoms), so
that a structure without thermochemistry is refused before hours of minimisation, not after.

Example:
    >>> rank_screen_by_g("saam-gfn1", "screen-SA2AM2", [298.15])     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.io import read

from md.analysis.harmonic import check_harmonic_input
from md.analysis.thermo import (
    ThermoSet,
    check_conditions,
    structure_name,
    thermo_of_file,
    write_dh_ds_table,
    write_thermo,
)
from painnjax.data.composition import composition_of, molecule_counts
from painnjax.errors import InputError
from painnjax.io.files import atomic_write, write_extxyz_atomic
from painnjax.units import EV_TO_KCAL_PER_MOL


@dataclass
class GRanking:
    """The kept minima in G order: ``order`` indexes ``thermo.structures`` (the frames of
    ``best.extxyz``, lowest energy first); ``G`` (eV) and ``relative_G_kcal_mol`` at the first
    temperature, in ``best.extxyz`` order."""

    thermo: ThermoSet
    order: np.ndarray
    G: np.ndarray
    relative_G_kcal_mol: np.ndarray
    relative_E_kcal_mol: np.ndarray
    files: list


def check_rank_by_g(
    structures,
    temperatures=(298.15,),
    *,
    pressure: float = 101325.0,
    qh_cutoff: float = 100.0,
    with_binding: bool | None = None,
) -> None:
    """Check what :func:`rank_screen_by_g` will need of minima with the atoms of ``structures``, before
    they are made: the checks thermochemistry applies, run without computing anything.

    - the conditions: :func:`md.analysis.thermo.check_conditions` (temperatures and pressure finite
      and > 0, the quasi-harmonic cutoff > 0);
    - each atom list: what the harmonic analysis needs (:func:`md.analysis.harmonic.check_harmonic_input`:
      a free cluster of at least 2 atoms; a single atom has no vibrations);
    - with ``with_binding`` True, that each splits into whole SA, AM and W molecules
      (:func:`painnjax.data.composition.molecule_counts`, as :func:`md.analysis.thermo.thermo_of_file`
      reads them). By default (None) the binding free energies are computed only where every
      minimum splits so: nothing to refuse.

    One structure of each atom list is checked (what is checked depends on the atoms, and the
    screen has checked every candidate's positions). Raises :class:`~painnjax.errors.InputError`
    naming the structure (:func:`md.analysis.thermo.structure_name`).
    """
    check_conditions(temperatures, pressure, qh_cutoff=qh_cutoff)
    structures = list(structures)
    first_of: dict[tuple[int, ...], int] = {}
    for k, atoms in enumerate(structures):
        first_of.setdefault(tuple(int(z) for z in atoms.numbers), k)
    for k in first_of.values():
        atoms = structures[k]
        name = structure_name(atoms, k)
        check_harmonic_input(atoms, where=name)
        if with_binding:
            molecule_counts(atoms.numbers, source=name)


def rank_screen_by_g(
    model,
    out,
    temperatures=(298.15,),
    *,
    pressure: float = 101325.0,
    quasi_harmonic: bool = True,
    qh_cutoff: float = 100.0,
    with_binding: bool | None = None,
    log=print,
) -> GRanking:
    """Rank the minima a finished screen kept in ``out/best.extxyz`` by G at ``temperatures[0]``; see the module doc.

    ``model``: what :func:`md.analysis.thermo.thermo_of_file` takes (a model file, bundled name,
    ``Model``, a :class:`~painnjax.io.resolved.ResolvedModel`, e.g. the one the screen ran with, so
    that it is not read again, or ``atoms -> energy_fn``). ``with_binding``: formation ΔH, ΔS, ΔG from the
    monomers (``dH_dS.txt``); by default when every minimum is made of SA, AM and W (ion pairs
    included)."""
    out = Path(out)
    best = out / "best.extxyz"
    if not best.exists() or best.stat().st_size == 0:
        raise InputError(f"{best}: no minima to rank by free energy (the screen kept none)")
    if with_binding is None:
        with_binding = all(composition_of(a.numbers) is not None for a in read(best, index=":"))
    res = thermo_of_file(
        model,
        best,
        temperatures,
        pressure=pressure,
        quasi_harmonic=quasi_harmonic,
        qh_cutoff=qh_cutoff,
        with_binding=with_binding,
    )
    thermos = res.structures
    G = np.array([t.gibbs[0] for t in thermos], np.float64)
    E = np.array([t.energy for t in thermos], np.float64)
    order = np.argsort(G, kind="stable")
    rel_G = (G - G.min()) * EV_TO_KCAL_PER_MOL
    rel_E = (E - E.min()) * EV_TO_KCAL_PER_MOL
    files = [out / "thermo.json", out / "ranked_by_G.csv", out / "best_by_G.extxyz"]
    write_thermo(files[0], thermos, bindings=res.bindings, monomers=res.monomers, settings=res.settings)
    if res.bindings is not None:
        files.append(write_dh_ds_table(out / "dH_dS.txt", thermos, res.bindings))
    frames = read(best, index=":")
    for a, t in zip(frames, thermos):  # a minimum stepped off a saddle (md.analysis.settle): its new positions
        if t.settled and t.settled.get("moved"):
            a.positions = t.settled["positions_A"]
    T0 = float(res.structures[0].temperatures[0]) if thermos else float(temperatures[0])
    lines = ["G_rank,energy_rank,candidate_index,state,relative_G_kcal_mol,relative_E_kcal_mol,G_eV,n_imaginary,T_K"]
    ranked_frames = []
    for r, k in enumerate(order):
        a = frames[k]
        a.info.update(G_rank=r, energy_rank=int(k), relative_G_kcal_mol=float(rel_G[k]), G_eV=float(G[k]), T_K=T0)
        ranked_frames.append(a)
        lines.append(
            f"{r},{k},{a.info.get('candidate_index', '')},{a.info.get('final_state', '')},{rel_G[k]:.4f},"
            f"{rel_E[k]:.4f},{G[k]:.6f},{len(thermos[k].imaginary)},{T0:.2f}"
        )
    atomic_write(files[1], "\n".join(lines) + "\n")
    write_extxyz_atomic(files[2], ranked_frames)
    if log:
        log(format_ranking(order, rel_G, rel_E, thermos, frames, T0))
    return GRanking(res, order, G, rel_G, rel_E, files)


def format_ranking(order, rel_G, rel_E, thermos, frames, T: float) -> str:
    """The G ranking as a table: G rank, energy rank, ΔG and ΔE (kcal/mol), imaginary modes, state."""
    rows = [
        f"ranked by G at {T:.2f} K:",
        f"{'G rank':>6s} {'E rank':>6s} {'ΔG (kcal/mol)':>14s} {'ΔE (kcal/mol)':>14s} {'imag.':>5s}  state",
    ]
    for r, k in enumerate(order):
        rows.append(
            f"{r:6d} {k:6d} {rel_G[k]:14.2f} {rel_E[k]:14.2f} {len(thermos[k].imaginary):5d}  "
            f"{frames[k].info.get('final_state', '')}"
        )
    return "\n".join(rows)
