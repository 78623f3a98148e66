"""Thermochemistry with a model: structures or a file of them, and the monomer references, to :class:`ThermoSet`.

:func:`thermo_of_structures` computes each structure's frequencies from the model's exact
Hessian (structures of the same atoms batched with ``jax.vmap``) and applies
:func:`~md.analysis.thermo.equations.thermochemistry`; :func:`monomer_references` minimises the
SA, AM and W templates (:mod:`md.clusters`) with the model and gives their thermochemistry with
their point-group symmetry numbers (H2SO4 C2: σ = 2, NH3 C3v: σ = 3, H2O C2v: σ = 2; a cluster
is taken as C1, σ = 1, unless told); :func:`thermo_of_file` does both for every frame of a file,
with each frame's :func:`~md.analysis.thermo.formation.binding`, as ``painnjax thermo`` runs it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from md.analysis.harmonic import NotAMinimumWarning, harmonic_analysis, harmonic_analysis_batch
from md.analysis.settle import IMAGINARY_CM1, settle_minimum
from md.analysis.thermo.cache import cache_path, read_cache, settings_key, write_cache
from md.analysis.thermo.equations import (
    ATMOSPHERE_PA,
    GRIMME_B_AV_KG_M2,
    Thermo,
    check_conditions,
    thermochemistry,
)
from md.analysis.thermo.formation import ThermoSet, binding
from md.clusters import molecule
from md.forces.build import build_potential, precision
from md.screening.candidates import read_candidates
from painnjax.data.composition import composition_of, molecule_counts
from painnjax.data.molecules import MONOMER_POINT_GROUPS, MONOMER_SYMMETRY
from painnjax.errors import InputError
from painnjax.io.resolved import ResolvedModel, is_model_reference, resolve_model
from painnjax.nn.neighbors import most_pairs
from painnjax.validate import free_cluster

#: a structure with a larger force than this (eV/Å) is warned about: not a stationary point of the model
STATIONARY_FMAX = 0.05
#: :func:`thermo_of_structures`' defaults: structures of one atom list whose Hessians one ``jax.vmap``
#: computes (``batch_size``), and Hessian columns per pass (``hessian_batch``)
BATCH_SIZE = 8
HESSIAN_BATCH = 8
#: :func:`monomer_references`' defaults: FIRE's convergence (eV/Å) and step limit for the monomer templates
MONOMER_FMAX = 1e-3
MONOMER_MAX_STEPS = 5000
#: a structure stepped off a saddle (:mod:`md.analysis.settle`) is minimised again to its own largest
#: force, but at least this far (eV/Å; the screen's default), and with at most this many FIRE steps
SETTLE_FMAX = 0.01
SETTLE_MAX_STEPS = 2000

# --------------------------------------------------------------------------------------------
# The model


def _potential_factory(model, dtype: str) -> tuple[Callable, str | None]:
    """``(potential_for, identity)``: ``potential_for(frames) -> energy_fn`` valid for every frame
    of one atom list, and the model's identity (None for a callable given instead of a model).

    ``model``: a painnjax ``Model``, a model file or bundled name (read here), a
    :class:`~painnjax.io.resolved.ResolvedModel` (read before), or a callable
    ``potential_for(atoms) -> energy_fn`` (an analytic potential, e.g. in tests).
    """
    if not is_model_reference(model):
        return (lambda frames: model(frames[0])), None
    resolved = resolve_model(model)
    if resolved.model is None:  # a plain function, resolved before
        return (lambda frames: resolved.function(frames[0])), None
    m = resolved.model
    cutoff = float(m.config.cutoff)

    def potential_for(frames):
        # sized to the frame with the most pairs, so that one potential serves the batch
        ref = frames[most_pairs([a.positions for a in frames], cutoff)[0]]
        return build_potential(m, ref, dtype)

    return potential_for, resolved.identity


# --------------------------------------------------------------------------------------------
# Structures with a model


def structure_name(atoms, k: int) -> str:
    """A label for frame ``k``: ``info["name"]``, else ``<file name>:<frame>`` (from ``source``
    and ``candidate``, as :func:`md.screening.candidates.read_candidates` sets them), else
    ``structure k``."""
    info = atoms.info
    if info.get("name"):
        return str(info["name"])
    if info.get("source") is not None:
        return f"{Path(str(info['source'])).name}:{info.get('candidate', k)}"
    return f"structure {k}"


def _composition(atoms) -> str:
    """``info["composition"]``, else the (SA)(AM)(W) name of the atoms, else their Hill formula."""
    c = atoms.info.get("composition")
    return str(c) if c else (composition_of(atoms.numbers) or atoms.get_chemical_formula(mode="hill"))


def thermo_of_structures(
    model,
    structures,
    temperatures,
    *,
    pressure: float = ATMOSPHERE_PA,
    quasi_harmonic: bool = True,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
    symmetry_number: int | Sequence[int] = 1,
    spin: float = 0,
    dtype: str = "float64",
    ignore_cell: bool = False,
    batch_size: int = BATCH_SIZE,
    hessian_batch: int = HESSIAN_BATCH,
    names: Sequence[str] | None = None,
    settle: bool = True,
    settle_threshold: float = IMAGINARY_CM1,
) -> list[Thermo]:
    """:func:`thermochemistry` of each structure, its frequencies from the model's exact Hessian.

    Structures with the same atomic numbers in the same order (frames of one composition) have
    their Hessians computed together (:func:`~md.analysis.harmonic.harmonic_analysis_batch`:
    ``jax.vmap`` over ``batch_size`` structures). The structures are handed over as minima: one
    with a frequency below ``-settle_threshold`` cm⁻¹ is stepped along that mode and minimised
    again (:func:`md.analysis.settle.settle_minimum`, to its own largest force but at least
    :data:`SETTLE_FMAX`), its thermochemistry then taken there; what was done is warned about
    (:class:`NotAMinimumWarning`) and kept in ``Thermo.settled`` (with the new positions).
    Without ``settle`` the structures are taken as they are. A structure whose largest force
    exceeds :data:`STATIONARY_FMAX` is warned about, not minimised; imaginary frequencies left
    are warned about and left out.

    Args:
        model: a painnjax ``Model``, model file or bundled name, or a
            :class:`~painnjax.io.resolved.ResolvedModel` (not read again); or a callable
            ``potential_for(atoms) -> energy_fn`` (any JAX energy, eV and Å).
        structures: ``ase.Atoms`` (free clusters; periodic ones only with ``ignore_cell``).
        temperatures: K; pressure: Pa; quasi_harmonic, qh_cutoff, qh_alpha, spin: as in
            :func:`thermochemistry`.
        symmetry_number: one for all, or one per structure.
        dtype: precision of the model (float64: the Hessian of float32 is good to a few cm⁻¹ only).
        names: labels (default :func:`structure_name`).
        settle, settle_threshold: step off saddles beyond this many cm⁻¹ (see above).

    Returns:
        one :class:`Thermo` per structure, in order, with ``name``, ``composition`` and ``fmax``.
    """
    return _thermo_of_structures(
        lambda: _potential_factory(model, dtype)[0],
        structures,
        temperatures,
        pressure=pressure,
        quasi_harmonic=quasi_harmonic,
        qh_cutoff=qh_cutoff,
        qh_alpha=qh_alpha,
        symmetry_number=symmetry_number,
        spin=spin,
        dtype=dtype,
        ignore_cell=ignore_cell,
        batch_size=batch_size,
        hessian_batch=hessian_batch,
        names=names,
        settle=settle,
        settle_threshold=settle_threshold,
    )


def _thermo_of_structures(
    potential: Callable[[], Callable],
    structures,
    temperatures,
    *,
    pressure: float,
    quasi_harmonic: bool,
    qh_cutoff: float,
    qh_alpha: float,
    symmetry_number: int | Sequence[int],
    spin: float,
    dtype: str,
    ignore_cell: bool,
    batch_size: int,
    hessian_batch: int,
    names: Sequence[str] | None,
    settle: bool = True,
    settle_threshold: float = IMAGINARY_CM1,
) -> list[Thermo]:
    """:func:`thermo_of_structures` with its model as ``potential() -> potential_for`` (of
    :func:`_potential_factory`), called once the structures are checked."""
    structures = list(structures)
    T = check_conditions(temperatures, pressure, spin=spin, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha)
    frames, names, sigmas = _checked_structures(structures, names, symmetry_number, T, pressure, ignore_cell)
    if not frames:
        return []
    results: list[Thermo | None] = [None] * len(frames)
    from tqdm.auto import tqdm  # a bar over the structures on a terminal (disable=None), none for one

    bar = tqdm(total=len(frames), unit="structure", desc="thermo", disable=None if len(frames) > 1 else True)
    with precision(dtype), bar:
        potential_for = potential()
        for idx in _same_atoms(frames):
            group = [frames[k] for k in idx]
            energy_fn = potential_for(group)
            harmonic = _harmonic_of_group(energy_fn, group, [names[k] for k in idx], batch_size, hessian_batch)
            for k, res in zip(idx, harmonic):
                settled = None
                if settle:
                    frames[k], res, settled = _settled(
                        energy_fn, potential_for, frames[k], res, names[k], settle_threshold, hessian_batch
                    )
                if res.fmax > STATIONARY_FMAX:
                    warnings.warn(
                        f"{names[k]}: the largest force is {res.fmax:.3g} eV/Å, above {STATIONARY_FMAX} eV/Å: "
                        "not a stationary point of this model (minimise it with the model first, e.g. "
                        "`painnjax optimize`); its harmonic free energy is not meaningful",
                        NotAMinimumWarning,
                        stacklevel=2,
                    )
                results[k] = thermochemistry(
                    res.energy,
                    res.frequencies,
                    frames[k],
                    T,
                    pressure,
                    symmetry_number=sigmas[k],
                    spin=spin,
                    quasi_harmonic=quasi_harmonic,
                    qh_cutoff=qh_cutoff,
                    qh_alpha=qh_alpha,
                    linear=res.linear,
                    name=names[k],
                    composition=_composition(structures[k]),
                    fmax=res.fmax,
                )
                results[k].settled = settled
            bar.update(len(idx))  # a group of the same atoms is one Hessian batch
    return results  # type: ignore[return-value]


def _settled(energy_fn, potential_for, atoms, res, name: str, threshold: float, hessian_batch: int):
    """``(atoms, harmonic, record)`` of a structure handed over as a minimum, after
    :func:`md.analysis.settle.settle_minimum` (the same when it has no imaginary mode beyond
    ``threshold``); a structure moved is warned about, saying what was done."""
    fmax = min(SETTLE_FMAX, max(float(res.fmax), MONOMER_FMAX))
    out = settle_minimum(
        energy_fn,
        atoms,
        fmax=fmax,
        max_steps=SETTLE_MAX_STEPS,
        threshold=threshold,
        harmonic=res,
        rebuild=lambda a: potential_for([a]),
        hessian_batch=hessian_batch,
        where=name,
    )
    record = {**out.to_dict(), "summary": out.summary()}
    if out.moved:
        record["fmax_eV_per_A"] = fmax
        record["positions_A"] = out.atoms.get_positions().tolist()
        warnings.warn(f"{name}: {out.summary()}", NotAMinimumWarning, stacklevel=3)
    return out.atoms, out.harmonic, record


def _checked_structures(structures: list, names, symmetry_number, T: np.ndarray, pressure: float, ignore_cell: bool):
    """``(frames, names, sigmas)``: copies of the structures checked as free clusters (``info["source"]``
    their name), their names and one symmetry number each, after checking that the counts match."""
    sigmas = (
        [symmetry_number] * len(structures) if isinstance(symmetry_number, (int, np.integer)) else list(symmetry_number)
    )
    if len(sigmas) != len(structures):
        raise InputError(f"{len(sigmas)} symmetry numbers for {len(structures)} structures")
    for s in sigmas:
        check_conditions(T, pressure, symmetry_number=s)
    names = [structure_name(a, k) for k, a in enumerate(structures)] if names is None else list(names)
    if len(names) != len(structures):
        raise InputError(f"{len(names)} names for {len(structures)} structures")
    frames = []
    for atoms, name in zip(structures, names):
        a = free_cluster(atoms.copy(), name, ignore_cell=ignore_cell)
        a.info["source"] = name
        frames.append(a)
    return frames, names, sigmas


def _same_atoms(frames) -> list[list[int]]:
    """Indices of the frames grouped by their atomic numbers in order (one Hessian batch each)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, a in enumerate(frames):
        groups.setdefault(tuple(int(z) for z in a.numbers), []).append(k)
    return list(groups.values())


def _harmonic_of_group(energy_fn, group, names, batch_size: int, hessian_batch: int):
    """:func:`~md.analysis.harmonic.harmonic_analysis_batch` of frames of the same atoms, quietly."""
    with warnings.catch_warnings():
        # thermochemistry() warns about every imaginary frequency, naming the structure
        warnings.simplefilter("ignore", NotAMinimumWarning)
        return harmonic_analysis_batch(
            energy_fn,
            group,
            names=names,
            batch_size=batch_size,
            hessian_batch=hessian_batch,
        )


def monomer_references(
    model,
    names: Sequence[str] = ("SA", "AM", "W"),
    temperatures=(298.15,),
    pressure: float = ATMOSPHERE_PA,
    quasi_harmonic: bool = True,
    dtype: str = "float64",
    *,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
    fmax: float = MONOMER_FMAX,
    max_steps: int = MONOMER_MAX_STEPS,
    cache: bool | str | Path = False,
) -> dict[str, Thermo]:
    """The monomers minimised with the model and their thermochemistry: the references of :func:`binding`.

    Each template of :data:`painnjax.data.molecules.TEMPLATES` (SA = H2SO4, AM = NH3, W = H2O) is minimised
    with FIRE to ``fmax`` (eV/Å) in ``dtype`` (float64 by default), its frequencies computed
    from the exact Hessian, and :func:`thermochemistry` applied with the symmetry number of its
    point group (:data:`painnjax.data.molecules.MONOMER_SYMMETRY`: H2SO4 C2 σ = 2, NH3 C3v σ = 3, H2O C2v σ = 2).
    A minimisation that stops at ``max_steps`` short of ``fmax`` is warned about
    (:class:`NotAMinimumWarning`); a minimum with an imaginary mode (a template's symmetry kept
    by FIRE) is stepped off it (:func:`md.analysis.settle.settle_minimum`).

    Args:
        model: as in :func:`thermo_of_structures`.
        names: the monomers wanted (keys of :data:`painnjax.data.molecules.MONOMER_SYMMETRY`).
        cache: keep the minimised monomers of a model (one with an identity: a model file,
            bundled name or ``Model``) and read them back next time (:mod:`md.analysis.thermo.cache`):
            True for the user's cache folder, or a folder; False: always minimise.
    """
    potential_for, identity = (None, None) if cache is False else _potential_factory(model, dtype)
    return _monomer_references(
        (lambda: potential_for) if potential_for is not None else (lambda: _potential_factory(model, dtype)[0]),
        names,
        temperatures,
        pressure,
        quasi_harmonic,
        dtype,
        qh_cutoff=qh_cutoff,
        qh_alpha=qh_alpha,
        fmax=fmax,
        max_steps=max_steps,
        cache=cache,
        identity=identity,
    )


def _monomer_references(
    potential: Callable[[], Callable],
    names: Sequence[str],
    temperatures,
    pressure: float,
    quasi_harmonic: bool,
    dtype: str,
    *,
    qh_cutoff: float,
    qh_alpha: float,
    fmax: float,
    max_steps: int,
    cache: bool | str | Path = False,
    identity: str | None = None,
) -> dict[str, Thermo]:
    """:func:`monomer_references` with its model as ``potential() -> potential_for`` (of
    :func:`_potential_factory`), called once the names are checked and only for monomers not
    in the cache (``cache`` and the model's ``identity``: :mod:`md.analysis.thermo.cache`)."""
    T = check_conditions(temperatures, pressure, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha)
    unknown = [n for n in names if n not in MONOMER_SYMMETRY]
    if unknown:
        raise InputError(
            f"no monomer template for {', '.join(map(str, unknown))}; known: {', '.join(MONOMER_SYMMETRY)}"
        )
    path = None
    if cache is not False and identity is not None:
        templates = {n: molecule(n) for n in names}
        key = settings_key(
            {"dtype": dtype, "fmax": float(fmax), "max_steps": int(max_steps), "settle_cm-1": IMAGINARY_CM1},
            templates,
        )
        path = cache_path(identity, key, None if cache is True else Path(cache))
    entries = read_cache(path) if path is not None else {}
    missing = [n for n in names if n not in entries]
    if missing:
        with precision(dtype):
            potential_for = potential()
            for name in missing:
                entries[name] = _monomer_entry(potential_for, name, fmax, max_steps)
        if path is not None:
            write_cache(path, entries, {"model_id": identity, "dtype": dtype, "fmax_eV_per_A": float(fmax)})
    out: dict[str, Thermo] = {}
    for name in names:
        e = entries[name]
        atoms = molecule(name)
        atoms.positions = np.asarray(e["positions_A"], np.float64)
        t = thermochemistry(
            float(e["energy_eV"]),
            np.asarray(e["frequencies_cm-1"], np.float64),
            atoms,
            T,
            pressure,
            symmetry_number=MONOMER_SYMMETRY[name],
            spin=0,
            quasi_harmonic=quasi_harmonic,
            qh_cutoff=qh_cutoff,
            qh_alpha=qh_alpha,
            linear=bool(e["linear"]),
            name=name,
            composition=name,
            fmax=float(e["fmax_eV_per_A"]),
        )
        t.settled = e.get("settled")
        out[name] = t
    return out


def _monomer_entry(potential_for: Callable, name: str, fmax: float, max_steps: int) -> dict:
    """Monomer ``name`` minimised, settled and its harmonic analysis: the entry the cache keeps."""
    atoms = _minimised_monomer(potential_for, name, fmax, max_steps)
    energy_fn = potential_for([atoms])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAMinimumWarning)  # thermochemistry() warns
        harmonic = harmonic_analysis(energy_fn, atoms)
    settled = settle_minimum(
        energy_fn, atoms, fmax=fmax, max_steps=max_steps, harmonic=harmonic, where=atoms.info["source"]
    )
    if settled.moved:
        warnings.warn(f"{atoms.info['source']}: {settled.summary()}", NotAMinimumWarning, stacklevel=3)
    h = settled.harmonic
    return {
        "numbers": [int(z) for z in atoms.numbers],
        "positions_A": settled.atoms.get_positions().tolist(),
        "energy_eV": float(h.energy),
        "frequencies_cm-1": [float(x) for x in h.frequencies],
        "linear": bool(h.linear),
        "fmax_eV_per_A": float(h.fmax),
        "settled": settled.to_dict(),
    }


def _minimised_monomer(potential_for: Callable, name: str, fmax: float, max_steps: int):
    """The template of monomer ``name`` minimised with FIRE; warns (for the caller of
    :func:`monomer_references`) when it stops short of ``fmax``."""
    # jax-md, which FIRE needs, takes seconds to import (`python -c "import jax_md"` 10.1 s against
    # 2.3 s for `import md.analysis.harmonic`, 2-core dev machine, 2026-12-07): imported only when
    # monomers are minimised, not for `painnjax thermo --no-binding` or a rejected command line
    from md.optimize.fire import minimize

    atoms = molecule(name)
    where = f"monomer {name} ({atoms.get_chemical_formula(mode='hill')})"
    atoms.info["source"] = where
    res = minimize(potential_for([atoms]), atoms, fmax=fmax, max_steps=max_steps)
    if not res.converged:
        warnings.warn(
            f"{where}: FIRE stopped after {res.steps} steps at max force {res.fmax:.3g} eV/Å, "
            f"above fmax {fmax:g}: its reference free energy is of a structure not quite at the minimum",
            NotAMinimumWarning,
            stacklevel=3,
        )
    atoms.positions = res.positions
    return atoms


# --------------------------------------------------------------------------------------------
# A file of structures, as the command line runs it


def settings_dict(
    temperatures,
    pressure: float,
    quasi_harmonic: bool,
    qh_cutoff: float,
    qh_alpha: float,
    **extra,
) -> dict:
    """The ``settings`` block of :func:`write_thermo`: conditions, method and references."""
    return {
        "temperatures_K": [float(t) for t in np.atleast_1d(temperatures)],
        "pressure_Pa": float(pressure),
        "method": "quasi-RRHO" if quasi_harmonic else "RRHO",
        "quasi_harmonic": bool(quasi_harmonic),
        "qh_cutoff_cm-1": float(qh_cutoff),
        "qh_alpha": float(qh_alpha),
        "free_rotor_B_av_kg_m2": GRIMME_B_AV_KG_M2,
        "references": [
            "ideal gas, rigid rotor, harmonic oscillator (as ase.thermochemistry.IdealGasThermo)",
            "entropy of soft modes: S. Grimme, Chem. Eur. J. 2012, 18, 9955-9964",
            "enthalpy of soft modes: Y.-P. Li, J. Gomes, S. M. Sharada, A. T. Bell, M. Head-Gordon, "
            "J. Phys. Chem. C 2015, 119, 1840-1850",
        ],
        "monomer_symmetry_numbers": {
            n: {"point_group": MONOMER_POINT_GROUPS[n], "sigma": s} for n, s in MONOMER_SYMMETRY.items()
        },
        **extra,
    }


def thermo_of_file(
    model,
    path,
    temperatures=(298.15,),
    *,
    pressure: float = ATMOSPHERE_PA,
    quasi_harmonic: bool = True,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
    symmetry_number: int = 1,
    with_binding: bool = True,
    dtype: str = "float64",
    ignore_cell: bool = False,
    settle: bool = True,
    monomer_cache: bool | str | Path = True,
) -> ThermoSet:
    """Every frame of a structure file: :func:`thermo_of_structures`, and with ``with_binding``
    the monomers that its clusters are made of (:func:`monomer_references`) and each frame's
    :func:`binding`. Frames are read by :func:`md.screening.candidates.read_candidates`.

    ``model``: as in :func:`thermo_of_structures`; read once for the structures and the monomers.
    ``settle``: structures with imaginary modes stepped off them and minimised again
    (:func:`thermo_of_structures`). ``monomer_cache``: the monomers of a model kept and read
    back (:func:`monomer_references`' ``cache``; True: the user's cache folder).
    """
    T = check_conditions(
        temperatures, pressure, symmetry_number=symmetry_number, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha
    )
    frames, names, counts = _read_frames(path, ignore_cell, with_binding)
    potential_for, identity = _potential_factory(model, dtype)
    thermos = _thermo_of_structures(
        lambda: potential_for,
        frames,
        T,
        pressure=pressure,
        quasi_harmonic=quasi_harmonic,
        qh_cutoff=qh_cutoff,
        qh_alpha=qh_alpha,
        symmetry_number=symmetry_number,
        spin=0,  # closed-shell clusters, thermo_of_structures' default
        dtype=dtype,
        ignore_cell=ignore_cell,
        batch_size=BATCH_SIZE,
        hessian_batch=HESSIAN_BATCH,
        names=names,
        settle=settle,
    )
    monomers: dict[str, Thermo] = {}
    bindings = None
    if counts is not None:
        needed = [n for n in MONOMER_SYMMETRY if any(c.get(n, 0) for c in counts)]
        monomers = _monomer_references(
            lambda: potential_for,
            needed,
            T,
            pressure,
            quasi_harmonic,
            dtype,
            qh_cutoff=qh_cutoff,
            qh_alpha=qh_alpha,
            fmax=MONOMER_FMAX,
            max_steps=MONOMER_MAX_STEPS,
            cache=monomer_cache,
            identity=identity,
        )
        bindings = [binding(t, c, monomers) for t, c in zip(thermos, counts)]
    settings = settings_dict(
        T,
        pressure,
        quasi_harmonic,
        qh_cutoff,
        qh_alpha,
        model=_source(model),
        model_id=identity,
        structures=str(path),
        dtype=dtype,
        symmetry_number=int(symmetry_number),
        binding=bool(with_binding),
        settle={"enabled": bool(settle), "threshold_cm-1": IMAGINARY_CM1, "min_fmax_eV_per_A": SETTLE_FMAX},
    )
    return ThermoSet(thermos, bindings, monomers, settings)


def _source(model) -> str | None:
    """The model file or bundled name ``model`` was read from, as given; None for a model in memory or a function."""
    if isinstance(model, ResolvedModel):
        return model.source
    return str(model) if isinstance(model, (str, Path)) else None


def _read_frames(path, ignore_cell: bool, with_binding: bool):
    """``(frames, names, counts)`` of a structure file: its frames, their names (:func:`structure_name`)
    and, with ``with_binding``, the monomers each is made of (else None)."""
    frames = read_candidates(path, ignore_cell=ignore_cell)
    names = [structure_name(a, k) for k, a in enumerate(frames)]
    counts = None
    if with_binding:
        counts = [
            molecule_counts(a.numbers, source=f"{n} (use --no-binding for other molecules)")
            for a, n in zip(frames, names)
        ]
    return frames, names, counts
