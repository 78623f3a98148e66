"""Protonation states: the proton-transfer forms of an acid-base cluster, screened together.

In the known minima of sulfuric acid-ammonia clusters the ammonia molecules have taken a
proton from the acid: ion pairs of bisulfate HSO4⁻ (B) and ammonium NH4⁺ (AH). Candidates
built from neutral H2SO4 and NH3 alone start far from those minima, so a screen of a neutral
composition covers all its proton-transfer states.

- :func:`protonation_states`: the states of a composition. ``SA_n AM_m W_w`` (no B or AH
  given) has ``k = 0 ... min(n, m)`` transfers; state ``k`` is ``SA_{n-k} B_k AM_{m-k} AH_k
  W_w`` (water stays neutral). A composition with B or AH given is one state, as given.
- :func:`state_candidates`: ``n`` random candidates spread over the states in equal shares,
  round-robin, all in one atom order (that of the neutral composition), so a screen compiles
  once for all of them and compares their minima with each other.
- :func:`ion_units`, :func:`ion_counts`: the molecules and ions of a structure, SO4²⁻ included.
- :func:`detect_state`: the state of a structure (a minimum, a start), from which heavy atom
  each H sits nearest to: protons may move back during a minimisation.

Example:
    >>> [(k, composition_name(c)) for k, c in protonation_states("SA2AM2")]
    [(0, 'SA2AM2'), (1, 'SA1B1AM1AH1'), (2, 'SA0B2AM0AH2')]
    >>> cands = state_candidates("SA2AM2", 6, seed=0)
    >>> [a.info["state"] for a in cands[:3]], cands[4].info["transfers"]
    (['SA2AM2', 'SA1B1AM1AH1', 'SA0B2AM0AH2'], 1)
    >>> detect_state(cands[2])
    (2, 'SA0B2AM0AH2')
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from md.screening.candidates import NAMES, as_composition, composition_name, random_candidates, template
from painnjax.data.composition import composition_name as canonical_name
from painnjax.errors import InputError

#: an O is a sulfate oxygen when an S lies within this distance, Å (S-O bonds are 1.4-1.6 Å)
SO_BOND = 1.9
#: the name :func:`detect_state` gives a structure that is not made of SA, B, AM, AH and W
OTHER = "other"


def _is_ionic(counts: dict[str, int]) -> bool:
    return counts.get("B", 0) > 0 or counts.get("AH", 0) > 0


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
                f"{where}: {v!r} proton transfers is not possible; allowed {allowed} (at most one per acid-base "
                f"pair: min(SA, AM) = {top})"
            )
    return sorted({int(v) for v in values})


def protonation_states(composition, transfers="all") -> list[tuple[int, dict[str, int]]]:
    """The proton-transfer states of a composition: ``[(k, counts), ...]`` ordered by ``k``.

    A composition of neutral molecules (SA, AM, W; a string or a dict of counts) has the
    states ``k = 0 ... min(SA, AM)``: ``k`` acids have given a proton to ``k`` ammonia
    molecules, ``SA_{n-k} B_k AM_{m-k} AH_k W_w`` (water stays neutral). ``transfers``: ``"all"``,
    or the ``k`` to keep (an int, an iterable of ints, or a string like ``"1,2"``). A
    composition with bisulfate (B) or ammonium (AH) is one explicit state, returned as given
    with ``k`` = its ammonium count; ``transfers`` other than ``"all"`` is then an error.

    Raises :class:`InputError` for a bad composition (:func:`~md.screening.candidates.parse_composition`)
    or a ``k`` outside ``0 ... min(SA, AM)`` (the message names the range).
    """
    counts = as_composition(composition)
    name = composition_name(counts)
    if _is_ionic(counts):
        if not (isinstance(transfers, str) and transfers.strip().lower() == "all"):
            raise InputError(
                f"{name} already gives its ions (B, AH): it is one protonation state; transfers={transfers!r} "
                f"applies to neutral compositions such as "
                f"{composition_name(neutral_composition(counts))}"
            )
        return [(counts.get("AH", 0), counts)]
    n, m = counts.get("SA", 0), counts.get("AM", 0)
    out = []
    for k in _transfer_list(transfers, min(n, m), name):
        state = {"SA": n - k, "B": k, "AM": m - k, "AH": k, "W": counts.get("W", 0)}
        out.append((k, {key: c for key, c in state.items() if c > 0}))
    return out


def neutral_composition(composition) -> dict[str, int]:
    """The neutral molecules a composition is made of: each B + AH pair back as SA + AM."""
    counts = as_composition(composition)
    b, ah = counts.get("B", 0), counts.get("AH", 0)
    neutral = {"SA": counts.get("SA", 0) + b, "AM": counts.get("AM", 0) + ah, "W": counts.get("W", 0)}
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
    ``k``), ``"candidate"`` (index) and ``"seed"``. A composition that gives its ions (B, AH) is
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
    water O with 2 H is a water (``W``). Every other unit (H3O⁺, OH⁻, an H on S, an S without
    four O, an atom of another element, an H with no heavy atom) is ``other``. Clusters with
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
        units.append(({4: "AH", 3: "AM"}.get(len(hydrogens[i]), "other"), np.r_[i, hydrogens[i]]))
    for i in s:
        mine = o[owner[o] == i]
        mine_h = np.concatenate([hydrogens[j] for j in mine]) if len(mine) else np.zeros(0, np.int64)
        kind = {2: "SA", 1: "B", 0: "SO4"}.get(len(mine_h)) if len(mine) == 4 and not len(hydrogens[i]) else None
        units.append((kind or "other", np.r_[i, mine, mine_h, hydrogens[i]]))
    for i in o[owner[o] < 0]:
        units.append(("W" if len(hydrogens[i]) == 2 else "other", np.r_[i, hydrogens[i]]))
    placed = np.zeros(len(atoms), bool)
    for _, idx in units:
        placed[idx] = True
    units += [("other", np.array([i])) for i in np.flatnonzero(~placed)]
    return units


def ion_counts(atoms) -> dict[str, int]:
    """How many of each unit of :func:`ion_units`: SA, B, ``SO4``, AM, AH, W and ``other``.

    Example:
        >>> from md.screening.candidates import random_candidates
        >>> c = ion_counts(random_candidates({"SA": 1, "AH": 1, "B": 1, "AM": 0}, 1, seed=0)[0])
        >>> c["SA"], c["B"], c["AH"], c["SO4"], c["other"]
        (1, 1, 1, 0, 0)
    """
    counts = dict.fromkeys((*NAMES, "SO4", "other"), 0)
    for kind, _ in ion_units(atoms):
        counts[kind] += 1
    return counts


def detect_state(atoms) -> tuple[int, str]:
    """The protonation state of a structure: ``(k, name)``, ``k`` the number of ammonium ions.

    The units are those of :func:`ion_units`. The name is the canonical composition name of
    the SA, B, AM, AH and W counts (e.g. ``"SA0B2AM0AH2"``; charge is not checked, so a lone
    bisulfate is ``"SA0B1AM0"``). A structure with anything else (SO4²⁻, H3O⁺, OH⁻, an H on
    S, an element other than H, N, O, S, ...) is named ``"other"``, with ``k`` still the
    ammonium count.
    """
    counts = ion_counts(atoms)
    other, sulfate = counts.pop("other"), counts.pop("SO4")
    return counts["AH"], (OTHER if other or sulfate else canonical_name(counts))
