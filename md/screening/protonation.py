"""Protonation states: the proton-transfer forms of an acid-base cluster, screened together.

In the known minima of sulfuric acid-ammonia clusters the ammonia molecules have taken a
proton from the acid: ion pairs of bisulfate HSO4⁻ (B) and ammonium NH4⁺ (AH). Where there are
more bases than acids, some acids have given both protons: the GFN1-xTB minima of SA6AM7 ...
SA9AM11 hold one or two sulfates SO4²⁻ (``SO4``). Candidates built from neutral H2SO4 and NH3
alone start far from those minima, so a screen of a neutral composition covers all its
proton-transfer states.

- :func:`protonation_states`: the states of a composition. ``SA_n AM_m W_w`` (no ions given)
  has one state per number ``k = 0 ... min(m, 2n)`` of protons moved to ammonia (``k`` =
  its ammonium count). The acids give their first protons first: for ``k <= n`` the state is
  ``SA_{n-k} B_k AM_{m-k} AH_k W_w``; beyond, every acid has given one and ``k - n`` of them a
  second, ``SA_0 B_{2n-k} SO4_{k-n} AM_{m-k} AH_k W_w`` (only where ``m > n``). Water stays
  neutral. A composition with B, SO4 or AH given is one state, as given.
- :func:`state_candidates`: ``n`` random candidates spread over the states in equal shares,
  round-robin, all in one atom order (that of the neutral composition), so a screen compiles
  once for all of them and compares their minima with each other.
- :func:`ion_units`, :func:`ion_counts`: the molecules and ions of a structure: SA, B, SO4, AM,
  AH, W, and H3O⁺ and OH⁻ too.
- :func:`detect_state`: the state of a structure (a minimum, a start), from which heavy atom
  each H sits nearest to: protons may move back during a minimisation. :func:`screenable`:
  whether a state is one of those a screen is made of (not H3O⁺, OH⁻ or ``"other"``).

Example:
    >>> [(k, composition_name(c)) for k, c in protonation_states("SA2AM2")]
    [(0, 'SA2AM2'), (1, 'SA1B1AM1AH1'), (2, 'SA0B2AM0AH2')]
    >>> [composition_name(c) for k, c in protonation_states("SA2AM4", transfers="3,4")]
    ['SA0B1SO41AM1AH3', 'SA0SO42AM0AH4']
    >>> cands = state_candidates("SA2AM2", 6, seed=0)
    >>> [a.info["state"] for a in cands[:3]], cands[4].info["transfers"]
    (['SA2AM2', 'SA1B1AM1AH1', 'SA0B2AM0AH2'], 1)
    >>> detect_state(cands[2])
    (2, 'SA0B2AM0AH2')
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from md.screening.candidates import (
    NAMES,
    as_composition,
    composition_name,
    parse_composition,
    random_candidates,
    template,
)
from painnjax.data.composition import composition_name as canonical_name
from painnjax.errors import InputError

#: an O is a sulfate oxygen when an S lies within this distance, Å (S-O bonds are 1.4-1.6 Å)
SO_BOND = 1.9
#: the name :func:`detect_state` gives a structure that is not made of the units of :data:`UNITS`
OTHER = "other"
#: the units :func:`ion_units` names, in the order of state names: those candidates are built of
#: (:data:`~md.screening.candidates.NAMES`: SA, B, SO4, AM, AH, W), then hydronium H3O⁺ and hydroxide OH⁻,
#: which it recognises but no screen enumerates
UNITS = (*NAMES, "H3O", "OH")


def _is_ionic(counts: dict[str, int]) -> bool:
    return any(counts.get(ion, 0) > 0 for ion in ("B", "SO4", "AH"))


def _transfer_list(transfers, top: int, where: str) -> list[int]:
    """``"all"``, an int, ``"1,2"`` or an iterable of ints -> sorted distinct ints in [0, top]."""
    allowed = f"0 ... {top}" if top > 0 else "0"
    if isinstance(transfers, str):
        text = transfers.strip().lower()
        if text == "all":
            return list(range(top + 1))
        parts = [p.strip() for p in text.split(",")]
        if not all(p.isdigit() for p in parts):
            raise InputError(
                f"{where}: transfers must be 'all' or whole numbers like '0' or '1,2' (allowed {allowed}), "
                f"got {transfers!r}"
            )
        values = [int(p) for p in parts]
    elif isinstance(transfers, (int, np.integer)) and not isinstance(transfers, bool):
        values = [int(transfers)]
    elif isinstance(transfers, Iterable):
        values = list(transfers)
    else:
        raise InputError(f"{where}: transfers must be 'all' or whole numbers (allowed {allowed}), got {transfers!r}")
    if not values:
        raise InputError(f"{where}: no transfers given; choose from {allowed} or 'all'")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= top:
            raise InputError(
                f"{where}: {v!r} proton transfers is not possible; allowed {allowed} (one per ammonia, at most "
                f"two per acid: min(AM, 2 SA) = {top})"
            )
    return sorted({int(v) for v in values})


def protonation_states(composition, transfers="all") -> list[tuple[int, dict[str, int]]]:
    """The proton-transfer states of a composition: ``[(k, counts), ...]`` ordered by ``k``.

    A composition of neutral molecules (SA, AM, W; a string or a dict of counts) has one state
    per ``k = 0 ... min(AM, 2 SA)``, the number of protons the ammonia molecules have taken
    (:func:`transfer_state`: acids give their first protons before any gives a second, so
    sulfate SO4²⁻ appears only when ``k`` > SA, in base-rich clusters; water stays neutral).
    ``transfers``: ``"all"``, or the ``k`` to keep (an int, an iterable of ints, or a string like
    ``"1,2"``). A composition with ions (B, SO4, AH) is one explicit state, returned as given
    with ``k`` = its ammonium count; ``transfers`` other than ``"all"`` is then an error.

    Raises :class:`InputError` for a bad composition (:func:`~md.screening.candidates.parse_composition`)
    or a ``k`` outside ``0 ... min(AM, 2 SA)`` (the message names the range).
    """
    counts = as_composition(composition)
    name = composition_name(counts)
    if _is_ionic(counts):
        if not (isinstance(transfers, str) and transfers.strip().lower() == "all"):
            raise InputError(
                f"{name} already gives its ions (B, SO4, AH): it is one protonation state; transfers={transfers!r} "
                f"applies to neutral compositions such as "
                f"{composition_name(neutral_composition(counts))}"
            )
        return [(counts.get("AH", 0), counts)]
    n, m = counts.get("SA", 0), counts.get("AM", 0)
    return [(k, transfer_state(counts, k)) for k in _transfer_list(transfers, min(m, 2 * n), name)]


def transfer_state(composition, k: int) -> dict[str, int]:
    """The state of a neutral ``SA_n AM_m W_w`` with ``k`` protons moved from acid to ammonia.

    ``k <= n``: ``k`` acids have given one proton each, ``SA_{n-k} B_k AM_{m-k} AH_k W_w``.
    ``n < k <= min(m, 2n)``: every acid has given one and ``k - n`` a second,
    ``B_{2n-k} SO4_{k-n} AM_{m-k} AH_k W_w``. No state holds H2SO4 beside SO4²⁻ (the acid would
    protonate the sulfate; the published minima hold none). Counts in canonical order, zeros
    dropped; InputError for a ``k`` outside ``0 ... min(m, 2n)`` or a composition with ions.
    """
    counts = as_composition(composition)
    if _is_ionic(counts):
        raise InputError(f"{composition_name(counts)} gives its ions: it has no other protonation states")
    n, m, w = counts.get("SA", 0), counts.get("AM", 0), counts.get("W", 0)
    (k,) = _transfer_list([k], min(m, 2 * n), composition_name(counts))
    sulfate = max(0, k - n)
    state = {"SA": n - min(k, n), "B": min(k, n) - sulfate, "SO4": sulfate, "AM": m - k, "AH": k, "W": w}
    return {key: c for key, c in state.items() if c > 0}


def neutral_composition(composition) -> dict[str, int]:
    """The neutral molecules a composition is made of: each B + AH back as SA + AM, each SO4 + 2 AH as SA + 2 AM."""
    counts = as_composition(composition)
    acids = counts.get("SA", 0) + counts.get("B", 0) + counts.get("SO4", 0)
    neutral = {"SA": acids, "AM": counts.get("AM", 0) + counts.get("AH", 0), "W": counts.get("W", 0)}
    return {key: c for key, c in neutral.items() if c > 0}


def _symbols(counts: dict[str, int]) -> list[str]:
    """The element sequence of a composition's candidates: molecules in canonical order, template order."""
    return [s for name, c in counts.items() for _ in range(c) for s in template(name).get_chemical_symbols()]


def _to_order(atoms, symbols: list[str]):
    """``atoms`` permuted to the element sequence ``symbols``: the i-th atom of each element goes
    to the i-th slot of that element (a stable reordering)."""
    mine = np.array(atoms.get_chemical_symbols())
    target = np.array(symbols)
    if sorted(mine.tolist()) != sorted(target.tolist()):  # pragma: no cover - same atoms by construction
        raise RuntimeError("a protonation state does not have the atoms of its neutral composition")
    src = np.argsort(mine, kind="stable")
    dst = np.argsort(target, kind="stable")
    perm = np.empty(len(atoms), np.int64)
    perm[dst] = src  # slot dst[i] takes atom src[i]
    out = atoms[perm]
    out.info = dict(atoms.info)
    return out


def state_candidates(composition, n: int, seed: int = 0, transfers="all", **random_candidates_kwargs) -> list:
    """``n`` random candidates over the protonation states of ``composition``, in equal shares.

    The states are those of :func:`protonation_states` (``transfers`` chooses them); with
    ``S`` states, candidate ``k`` is of state ``k % S`` (round-robin), so candidate ``k`` does
    not depend on ``n`` and the first ``S * j`` candidates hold ``j`` of each state. Candidate
    ``k`` is candidate ``k`` of :func:`~md.screening.candidates.random_candidates` for its
    state (same ``seed`` and options, ``random_candidates_kwargs``), with its atoms permuted
    into the atom order of the neutral composition's candidates (the i-th H to the i-th H
    slot, and so on): every state has one atom list, so a screen compiles once for all states
    and compares their minima with each other.

    ``info``: ``"composition"`` (the neutral composition's canonical name, e.g. ``"SA2AM2"``),
    ``"state"`` (the state's canonical name, e.g. ``"SA1B1AM1AH1"``), ``"transfers"`` (its
    ``k``), ``"candidate"`` (index) and ``"seed"``. A composition that gives its ions (B, SO4, AH) is
    one state: its candidates are those of ``random_candidates``, in its own atom order and
    with its own name as composition.
    """
    states = protonation_states(composition, transfers)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"n must be a whole number >= 0, got {n!r}")
    counts = as_composition(composition)
    explicit = _is_ionic(counts)
    name = composition_name(counts)
    symbols = _symbols(counts)
    out = []
    for k in range(int(n)):
        t, state = states[k % len(states)]
        (atoms,) = random_candidates(state, 1, seed, first=k, **random_candidates_kwargs)
        if not explicit:
            atoms = _to_order(atoms, symbols)
        atoms.info.update(composition=name, state=composition_name(state), transfers=int(t))
        out.append(atoms)
    return out


def ion_units(atoms) -> list[tuple[str, np.ndarray]]:
    """The molecules and ions of a structure: ``[(kind, atom indices), ...]``, by H count.

    Every H belongs to its nearest N, O or S atom; every O to its nearest S if one lies within
    :data:`SO_BOND` (1.9 Å), else it is a water oxygen. An N with 4 H is an ammonium NH4⁺
    (``AH``), with 3 H an ammonia NH3 (``AM``); an S with four O that carry 2 H is a sulfuric
    acid (``SA``), with 1 H a bisulfate HSO4⁻ (``B``), with none a sulfate SO4²⁻ (``SO4``); a
    water O with 2 H is a water (``W``), with 3 H a hydronium H3O⁺ (``H3O``), with 1 H a
    hydroxide OH⁻ (``OH``). Every other unit (an H on S, an N with 2 H, an S without four O, a
    bare O, an atom of another element, an H with no heavy atom) is ``other``. Clusters with
    more bases than acids hold SO4²⁻ (and, two bases beyond the acids, often one neutral NH3
    beside it). Units are in the order N, S, water O, then the rest.
    """
    from scipy.spatial.distance import cdist

    sym = np.array(atoms.get_chemical_symbols())
    R = np.asarray(atoms.positions, np.float64)
    units: list[tuple[str, np.ndarray]] = []
    h = np.flatnonzero(sym == "H")
    heavy = np.flatnonzero(np.isin(sym, ["N", "O", "S"]))
    owner = np.full(len(atoms), -1)  # the heavy atom each H belongs to, each O's S
    if len(h) and len(heavy):
        owner[h] = heavy[np.argmin(cdist(R[h], R[heavy]), axis=1)]
    o, s = np.flatnonzero(sym == "O"), np.flatnonzero(sym == "S")
    if len(o) and len(s):
        d = cdist(R[o], R[s])
        near = d.min(axis=1) <= SO_BOND
        owner[o[near]] = s[np.argmin(d[near], axis=1)]
    hydrogens = {i: h[owner[h] == i] for i in heavy}
    for i in np.flatnonzero(sym == "N"):
        units.append(({4: "AH", 3: "AM"}.get(len(hydrogens[i]), OTHER), np.r_[i, hydrogens[i]]))
    for i in s:
        mine = o[owner[o] == i]
        mine_h = np.concatenate([hydrogens[j] for j in mine]) if len(mine) else np.zeros(0, np.int64)
        kind = {2: "SA", 1: "B", 0: "SO4"}.get(len(mine_h)) if len(mine) == 4 and not len(hydrogens[i]) else None
        units.append((kind or OTHER, np.r_[i, mine, mine_h, hydrogens[i]]))
    for i in o[owner[o] < 0]:
        units.append(({3: "H3O", 2: "W", 1: "OH"}.get(len(hydrogens[i]), OTHER), np.r_[i, hydrogens[i]]))
    placed = np.zeros(len(atoms), bool)
    for _, idx in units:
        placed[idx] = True
    units += [(OTHER, np.array([i])) for i in np.flatnonzero(~placed)]
    return units


def ion_counts(atoms) -> dict[str, int]:
    """How many of each unit of :func:`ion_units`: SA, B, SO4, AM, AH, W, H3O, OH and ``other``.

    Example:
        >>> from md.screening.candidates import random_candidates
        >>> c = ion_counts(random_candidates({"SA": 1, "AH": 1, "B": 1, "AM": 0}, 1, seed=0)[0])
        >>> c["SA"], c["B"], c["AH"], c["SO4"], c["other"]
        (1, 1, 1, 0, 0)
    """
    counts = dict.fromkeys((*UNITS, OTHER), 0)
    for kind, _ in ion_units(atoms):
        counts[kind] += 1
    return counts


def detect_state(atoms) -> tuple[int, str]:
    """The protonation state of a structure: ``(k, name)``, ``k`` the number of ammonium ions.

    The units are those of :func:`ion_units`. The name is the canonical composition name of
    their counts in the order of :data:`UNITS` (SA and AM always written, the others where
    present: ``"SA0B2AM0AH2"``, ``"SA0B5SO41AM1AH7"``, ``"SA1B1AM0W1H3O1"``; charge is not
    checked, so a lone bisulfate is ``"SA0B1AM0"``). A structure with anything else (an H on
    S, an element other than H, N, O, S, ...) is named ``"other"``, with ``k`` still the
    ammonium count. H3O⁺ and OH⁻ are named but are not states a screen is made of
    (:func:`screenable`). So is a structure with a bond these molecules never have
    (:func:`foreign_bonds`: H-H, O-O, ...), whatever its H count says: atoms a model has pulled
    together where it has no data.
    """
    counts = ion_counts(atoms)
    other = counts.pop(OTHER)
    return counts["AH"], (OTHER if other or foreign_bonds(atoms) else canonical_name(counts))


#: covalent radii (Å, Cordero et al. 2008) of the elements of SA, AM and W
_COVALENT = {"H": 0.31, "N": 0.71, "O": 0.66, "S": 1.05}
#: the bonds SA, B, SO4, AM, AH, W, H3O and OH hold (element pairs, sorted)
_BONDS = {("H", "O"), ("H", "N"), ("O", "S")}
#: two atoms closer than this times the sum of their covalent radii are bonded
BOND_SCALE = 1.1


def foreign_bonds(atoms) -> list[tuple[int, int]]:
    """Pairs of atoms bonded (closer than :data:`BOND_SCALE` times their covalent radii) whose elements
    never bond in sulfuric acid, ammonia, water and their ions: H-H (0.68 Å), O-O (1.45 Å), N-O, S-S, ...
    A minimum holding one (H2 formed, a peroxide O-O) is not a cluster of these molecules but a hole of
    the model that found it: its energy can lie hundreds of kcal/mol above what the model says."""
    sym = atoms.get_chemical_symbols()
    if not set(sym) <= set(_COVALENT):
        return []  # other elements: ion_units already names the structure "other"
    R = np.asarray(atoms.positions, np.float64)
    r = np.array([_COVALENT[s] for s in sym])
    i, j = np.triu_indices(len(sym), 1)
    close = np.linalg.norm(R[i] - R[j], axis=1) < BOND_SCALE * (r[i] + r[j])
    return [(int(a), int(b)) for a, b in zip(i[close], j[close]) if tuple(sorted((sym[a], sym[b]))) not in _BONDS]


def screenable(state: str) -> bool:
    """Whether a state name (:func:`detect_state`) is a neutral cluster of the units screens are built of
    (SA, B, SO4, AM, AH, W: :func:`~md.screening.candidates.parse_composition` reads it): not ``"other"``,
    not a state with H3O⁺ or OH⁻ (the shipped models were trained on none), not a charged one."""
    try:
        parse_composition(state)
    except InputError:
        return False
    return True
