"""Refinement of a screen's lowest minima: new candidates made from the best ones found, and when to stop.

Random candidates land in the nearest local minimum; with a few dozen of them the lowest is
often 1-2 kcal/mol above the global minimum of an (SA)n(AM)n cluster. A basin-hopping-like
stage (Wales & Doye 1997) closes that gap at a small cost: each round takes the ``top`` lowest
distinct converged minima so far (per composition) and makes ``moves`` new candidates from each;
child ``j`` of a minimum is made by the move ``kinds[j % len(kinds)]`` (so 4 children and the 4
default kinds give one of each). The new candidates are minimised like the others, join the pool, and the
next round starts from the pool's lowest minima. The moves (molecules are covalently bound atoms,
:func:`md.clusters.molecules`; every move keeps the atoms and their order, only positions change):

- ``perturb`` (:func:`perturbations`): one random molecule turned about its centre by a random
  rotation (rotation vector with normal components, root-mean-square angle ``angle`` degrees) and
  shifted by a random vector (root-mean-square length ``shift`` Å); a perturbation that brings it
  closer than ``min_distance`` Å to another molecule is drawn again (up to ``tries`` times).
- ``splice`` (:func:`spliced`): cut and splice (Deaven & Ho 1995) of whole molecules. A second
  minimum of the round (the ``partner``, drawn among those with the same molecules: the same
  formulas, so the same protonation state) is turned by a uniformly random rotation; a random
  plane through each one's centre (the same normal ``n``) cuts both; the child takes the half of
  the parent's molecules that lie furthest along ``n`` and, from the partner, in order of
  increasing projection on ``n``, the molecules whose formulas are still missing. The partner's
  molecules take the atom slots of the parent's molecules of the same formula (the atom list is
  the parent's, as the compiled potential needs); where the halves clash (closer than
  ``min_distance`` Å) the partner's half is moved along ``-n`` until they do not.
- ``surface`` (:func:`surfaced`): the weakest-bound molecule (:func:`weakest_molecule`: fewest
  atom pairs closer than ``contact`` = 2.5 Å to other molecules, ties: the one furthest from the
  centre) taken out, turned by a uniformly random rotation and brought in along a uniformly random
  direction towards the centre of the rest until one of its atoms comes within ``touch`` = 1.8 Å
  of theirs (steps of 0.05 Å), as a growth move places a molecule.
- ``proton`` (:func:`proton_hopped`): a proton hop inside the minimum: an H covalently bound to
  an N or O of one molecule, with an N or O of another molecule within ``reach`` = 2.2 Å, moves to
  that acceptor (0.97 Å from an O, 1.02 Å from an N, on the line from the acceptor to where the H
  was). Acid to base (H2SO4 + NH3 -> HSO4⁻ + NH4⁺) and back (NH4⁺ gives its proton to HSO4⁻) alike;
  of the hops possible, in a seeded random order, the first whose child is in a state screens are made
  of (:func:`md.screening.protonation.screenable`: SA, B, SO4²⁻, AM, AH, W; no H3SO4⁺, H3O⁺, OH⁻, ...).
  In base-rich clusters a bisulfate may give its second proton (HSO4⁻ + NH3 -> SO4²⁻ + NH4⁺).
- ``water`` (:func:`water_bridged`; not a default kind: ask for it with ``kinds``): a water (``W`` of
  :func:`md.screening.protonation.ion_units`) moved from where it is into the hydrogen-bond network of the
  rest, as a bridge in one of its hydrogen bonds. The water tried first is the weakest bound
  (:func:`weakest_molecule` among the waters: the surface move's proxy), then the others in seeded order.
  The bond, drawn in seeded order among the rest's intermolecular hydrogen bonds (:func:`hydrogen_bonds`:
  D-H ... A, an H bound to an N or O, an N or O of another molecule within ``reach`` = 2.2 Å of it), becomes
  D-H ... O(water)-H ... A: the water O goes on the D-H line, ``BRIDGE_HO`` = 1.8 Å beyond the H; the
  acceptor's molecule is moved (turned about A and shifted, rigidly) so that A lies ``BRIDGE_OA`` = 2.8 Å from
  the water O in a direction at the tetrahedral angle (109.5°) to the incoming H, facing where the H
  came from before; the water (rigid, its own geometry) points one H at A and its other H along a third
  corner of the tetrahedron (a lone pair takes the donor's H). Of the directions around the D-H axis (12,
  nearest the acceptor's side first) and the two corners for the second H, the first that leaves no
  atoms of the moved water and molecule closer than ``min_distance`` = 1.2 Å to the others' is made.
  Only the water's and the acceptor molecule's positions change.

A move that cannot be made (a cluster of one molecule, no partner with the same molecules, no
acid-base pair within reach, no water or no hydrogen bond to put it in) makes a perturbation instead;
``info["move"]`` says which was made.

Measured with perturbations alone (saam-gfn1, SA2AM2, seed 0): the lowest of 48 random candidates
lay 1.39 kcal/mol above the known minimum (``../shared/data/starts/wu_2sa2am.xyz`` minimised with
the same model); three rounds of 4 x 4 perturbations reached it to 0.01 kcal/mol.

Each new candidate's ``info``: ``composition``, ``state`` (a perturbation: the parent's final
state; the other moves: :func:`~md.screening.protonation.detect_state` of the new candidate),
``parent`` (the parent's candidate index), ``move`` (its kind), ``partner`` (a splice's second
parent), ``refine_round`` and ``candidate`` (its own index). Everything is drawn from
``numpy.random.default_rng([seed, round])``: a screen run twice makes the same refinement.

When to stop (:func:`stalled`): after each round, when the lowest minimum of no composition has
improved by more than the energy window (kcal/mol) over the last ``patience`` rounds. It reads
only the minima, so a resumed screen stops where the uninterrupted one did. How much to trust the
lowest minimum (:func:`found_counts`): how many converged minima are duplicates of it, and how
many of those were found independently (a given candidate, or a refinement candidate none of whose
ancestors is a duplicate of it).

Example:
    >>> new = refine_candidates(minima, energies, converged, round_=0, start=48)   # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.spatial.distance import cdist
from scipy.spatial.transform import Rotation

from md.clusters import molecules
from md.screening.config import DEFAULT_KINDS, move_kinds
from md.screening.dedup import fingerprint, unique_minima
from md.screening.protonation import OTHER, detect_state, ion_units, screenable
from painnjax.errors import InputError
from painnjax.units import KCAL_PER_MOL

#: an X-H bond a proton hop makes, Å
_BOND = {"N": 1.02, "O": 0.97}
#: the water move's bridge D-H ... O(water)-H ... A: the donor's H to the water O, the water O to the acceptor, Å
BRIDGE_HO, BRIDGE_OA = 1.8, 2.8
#: the tetrahedral angle, degrees: between the incoming H and the acceptor, seen from the water O
_TETRAHEDRAL = float(np.degrees(np.arccos(-1.0 / 3.0)))


def _rotation(rng, angle_deg: float) -> np.ndarray:
    return Rotation.from_rotvec(rng.normal(size=3) * np.deg2rad(angle_deg) / np.sqrt(3.0)).as_matrix()


def _unit(rng) -> np.ndarray:
    u = rng.normal(size=3)
    return u / np.linalg.norm(u)


def _child(atoms, positions):
    a = atoms.copy()
    a.calc = None
    a.positions = positions
    return a


def _formulas(atoms, mols) -> list[str]:
    """The chemical formula of each molecule ``mols`` of ``atoms``."""
    return [atoms[m].get_chemical_formula() for m in mols]


def perturbations(
    atoms, moves: int, rng, *, angle: float = 60.0, shift: float = 0.5, min_distance: float = 1.2, tries: int = 20
) -> list:
    """``moves`` copies of ``atoms``, each with one random molecule rotated and shifted; see the module doc."""
    mols = molecules(atoms)
    R0 = np.asarray(atoms.positions, np.float64)
    out = []
    for _ in range(int(moves)):
        for _attempt in range(int(tries)):
            idx = mols[int(rng.integers(len(mols)))]
            R = R0.copy()
            centre = R[idx].mean(axis=0)
            R[idx] = (R[idx] - centre) @ _rotation(rng, angle).T + centre + rng.normal(size=3) * shift / np.sqrt(3.0)
            rest = np.setdiff1d(np.arange(len(R)), idx)
            if not len(rest) or np.min(np.linalg.norm(R[idx][:, None] - R[rest][None], axis=-1)) >= min_distance:
                break
        out.append(_child(atoms, R))
    return out


def same_molecules(a, b) -> bool:
    """Whether ``a`` and ``b`` are made of the same molecules (the same multiset of molecule formulas)."""
    return Counter(_formulas(a, molecules(a))) == Counter(_formulas(b, molecules(b)))


def spliced(a, b, rng, *, min_distance: float = 1.2, step: float = 0.1):
    """Cut and splice of ``a`` (the parent: its atom list) and ``b``, whole molecules; see the module doc.

    None when they are not made of the same molecules or of fewer than two."""
    mols_a, mols_b = molecules(a), molecules(b)
    fa, fb = _formulas(a, mols_a), _formulas(b, mols_b)
    if len(mols_a) < 2 or Counter(fa) != Counter(fb):
        return None
    Ra = np.asarray(a.positions, np.float64)
    centre = Ra.mean(axis=0)
    Rb = np.asarray(b.positions, np.float64)
    Rb = (Rb - Rb.mean(axis=0)) @ Rotation.random(random_state=rng).as_matrix().T + centre  # on a's centre
    n = _unit(rng)
    m = len(mols_a)
    half = m // 2 + (int(rng.integers(2)) if m % 2 else 0)  # an odd count: a coin says which side has more
    pa = np.array([(Ra[idx].mean(axis=0) - centre) @ n for idx in mols_a])
    pb = np.array([(Rb[idx].mean(axis=0) - centre) @ n for idx in mols_b])
    from_a = [int(i) for i in np.argsort(-pa, kind="stable")[:half]]
    needed = Counter(fa) - Counter(fa[i] for i in from_a)
    from_b = []
    for i in np.argsort(pb, kind="stable"):
        if needed[fb[i]] > 0:
            from_b.append(int(i))
            needed[fb[i]] -= 1
    slots = {f: [i for i in range(m) if i not in from_a and fa[i] == f] for f in set(fa)}
    dst, src = [], []
    for i in from_b:  # partner's molecule i into the parent's next free molecule of its formula
        j = slots[fb[i]].pop(0)
        for z in np.unique(a.numbers[mols_a[j]]):
            dst += mols_a[j][a.numbers[mols_a[j]] == z].tolist()  # element by element: the same atoms
            src += mols_b[i][b.numbers[mols_b[i]] == z].tolist()
    R = Ra.copy()
    R[dst] = Rb[src]
    kept = np.concatenate([mols_a[i] for i in from_a])
    while cdist(R[dst], R[kept]).min() < min_distance:  # B's half lies below the plane: moving it down clears
        R[dst] -= step * n
    return _child(a, R)  # a's half where it was, to the bit


def weakest_molecule(atoms, mols=None, *, contact: float = 2.5) -> int:
    """The index (in ``mols``, default :func:`md.clusters.molecules`) of the molecule taken as the weakest
    bound: fewest atom pairs closer than ``contact`` Å to other molecules; ties, the one whose centre lies
    furthest from the cluster's; then the first."""
    mols = molecules(atoms) if mols is None else mols
    R = np.asarray(atoms.positions, np.float64)
    centre = R.mean(axis=0)
    keys = []
    for i, idx in enumerate(mols):
        rest = np.setdiff1d(np.arange(len(R)), idx)
        contacts = int((cdist(R[idx], R[rest]) < contact).sum()) if len(rest) else 0
        keys.append((contacts, -float(np.linalg.norm(R[idx].mean(axis=0) - centre)), i))
    return min(keys)[2]


def surfaced(atoms, rng, *, contact: float = 2.5, touch: float = 1.8, step: float = 0.05):
    """The weakest-bound molecule moved onto the surface of the rest; see the module doc. None for one molecule."""
    mols = molecules(atoms)
    if len(mols) < 2:
        return None
    idx = mols[weakest_molecule(atoms, mols, contact=contact)]
    R = np.asarray(atoms.positions, np.float64).copy()
    rest = R[np.setdiff1d(np.arange(len(R)), idx)]
    X = (R[idx] - R[idx].mean(axis=0)) @ Rotation.random(random_state=rng).as_matrix().T
    u = _unit(rng)
    centre = rest.mean(axis=0)
    r = np.linalg.norm(rest - centre, axis=1).max() + np.linalg.norm(X, axis=1).max() + touch + 1.0
    while r > 0 and cdist(X + centre + r * u, rest).min() > touch:
        r -= step
    R[idx] = X + centre + r * u
    return _child(atoms, R)


def proton_hops(atoms, *, reach: float = 2.2) -> list[tuple[int, int]]:
    """Every ``(H, acceptor)`` of a proton hop: an H bound to an N or O (its nearest N, O or S, in the same
    molecule) and an N or O of another molecule within ``reach`` Å of it."""
    sym = np.array(atoms.get_chemical_symbols())
    R = np.asarray(atoms.positions, np.float64)
    label = np.empty(len(atoms), np.int64)
    for i, idx in enumerate(molecules(atoms)):
        label[idx] = i
    heavy = np.flatnonzero(np.isin(sym, ["N", "O", "S"]))
    hs = np.flatnonzero(sym == "H")
    if not len(heavy) or not len(hs):
        return []
    d = cdist(R[hs], R[heavy])
    out = []
    for row, h in enumerate(hs):
        donor = heavy[np.argmin(d[row])]
        if sym[donor] not in _BOND or label[donor] != label[h]:
            continue
        for col in np.argsort(d[row], kind="stable"):
            acc = heavy[col]
            if d[row, col] > reach:
                break
            if sym[acc] in _BOND and label[acc] != label[h]:
                out.append((int(h), int(acc)))
    return out


def proton_hopped(atoms, rng, *, reach: float = 2.2):
    """A proton hop between two molecules of ``atoms``; see the module doc. None when there is none that
    leaves a protonation state screens are made of."""
    hops = proton_hops(atoms, reach=reach)
    sym = atoms.get_chemical_symbols()
    for i in rng.permutation(len(hops)):
        h, acc = hops[int(i)]
        R = np.asarray(atoms.positions, np.float64).copy()
        v = R[h] - R[acc]
        R[h] = R[acc] + _BOND[sym[acc]] * v / np.linalg.norm(v)
        child = _child(atoms, R)
        if screenable(detect_state(child)[1]):
            return child
    return None


def hydrogen_bonds(atoms, *, reach: float = 2.2) -> list[tuple[int, int, int]]:
    """Every intermolecular hydrogen bond ``(donor, H, acceptor)`` of ``atoms``: the pairs of :func:`proton_hops`
    (an H bound to an N or O, an N or O of another molecule within ``reach`` Å), with the H's donor atom."""
    sym = np.array(atoms.get_chemical_symbols())
    R = np.asarray(atoms.positions, np.float64)
    heavy = np.flatnonzero(np.isin(sym, ["N", "O", "S"]))
    out = []
    for h, acc in proton_hops(atoms, reach=reach):
        donor = heavy[np.argmin(np.linalg.norm(R[heavy] - R[h], axis=1))]  # as proton_hops finds it
        out.append((int(donor), h, acc))
    return out


def water_units(atoms) -> list[np.ndarray]:
    """The atom indices (O, H, H) of each water of ``atoms``, as :func:`md.screening.protonation.ion_units`
    finds them: an O with no S within 1.9 Å and two H nearest to it."""
    return [idx for kind, idx in ion_units(atoms) if kind == "W"]


def _turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (a matrix) that takes the direction ``a`` to ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:  # parallel or opposite: any axis normal to a
        if c > 0:
            return np.eye(3)
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        s = np.linalg.norm(axis)
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c)).as_matrix()


def _frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows: the orthonormal frame of ``a`` (first axis) and ``b`` (in the plane of the first two)."""
    e1 = a / np.linalg.norm(a)
    e2 = b - (b @ e1) * e1
    e2 /= np.linalg.norm(e2)
    return np.array([e1, e2, np.cross(e1, e2)])


def _bridge(atoms, water: np.ndarray, rng, *, reach: float, min_distance: float, turns: int):
    """``atoms`` with ``water`` put into one of the other molecules' hydrogen bonds (see the module doc), or None."""
    sym = np.array(atoms.get_chemical_symbols())
    R = np.asarray(atoms.positions, np.float64)
    rest = np.setdiff1d(np.arange(len(atoms)), water)
    if not len(rest):
        return None
    sub = atoms[rest]
    bonds = hydrogen_bonds(sub, reach=reach)
    if not bonds:
        return None
    label = np.empty(len(sub), np.int64)
    for i, idx in enumerate(molecules(sub)):
        label[idx] = i
    o = int(water[sym[water] == "O"][0])
    hs = water[sym[water] == "H"]
    first = int(rng.integers(2))  # the water H that points at the acceptor
    bonds_w = R[hs[[first, 1 - first]]] - R[o]
    side = 1.0 if rng.integers(2) else -1.0  # which free corner of the tetrahedron its other H takes first
    theta = np.deg2rad(180.0 - _TETRAHEDRAL)  # from the D-H direction to the acceptor's, at the water O
    steps = np.arange(turns // 2 + 1)
    phis = 2 * np.pi / turns * np.unique(np.concatenate([steps, -steps[1:]]))  # 0, then both ways around
    phis = phis[np.argsort(np.abs(phis), kind="stable")][:turns]
    for b in rng.permutation(len(bonds)):
        d, h, a = (int(rest[i]) for i in bonds[int(b)])
        mol = rest[label == label[bonds[int(b)][2]]]
        u = (R[h] - R[d]) / np.linalg.norm(R[h] - R[d])
        at = R[h] + BRIDGE_HO * u  # the water O, on the D-H line
        off = R[a] - R[h]
        perp = off - (off @ u) * u
        if np.linalg.norm(perp) < 1e-6:  # the acceptor on the D-H line: any side
            perp = np.cross(u, _unit(rng))
        e1 = perp / np.linalg.norm(perp)
        e2 = np.cross(u, e1)
        towards_h = R[h] - R[a]  # where the acceptor's hydrogen bond came from
        for phi in phis:
            t1 = np.cos(theta) * u + np.sin(theta) * (np.cos(phi) * e1 + np.sin(phi) * e2)  # water O -> acceptor
            target = at + BRIDGE_OA * t1  # the acceptor
            X = (R[mol] - R[a]) @ _turn(towards_h, -t1).T + target  # the acceptor's molecule, now facing the water H
            t3 = -u  # the water's lone pair that takes the donor's H
            m = -(t1 + t3) / np.linalg.norm(t1 + t3)
            n = np.cross(t1, t3) / np.linalg.norm(np.cross(t1, t3))
            for s in (side, -side):
                t2 = m / np.sqrt(3.0) + s * np.sqrt(2.0 / 3.0) * n  # the water's other H
                M = _frame(t1, t2).T @ _frame(*bonds_w)
                P = R.copy()
                P[water] = at + (R[water] - R[o]) @ M.T
                P[mol] = X
                moved = np.concatenate([water, mol])
                still = np.setdiff1d(np.arange(len(P)), moved)
                gap = min(cdist(P[moved], P[still]).min() if len(still) else np.inf, cdist(P[water], P[mol]).min())
                if gap >= min_distance:
                    child = _child(atoms, P)
                    child.info["bridge"] = (o, d, h, a)
                    return child
    return None


def water_bridged(
    atoms, rng, *, water=None, reach: float = 2.2, min_distance: float = 1.2, contact: float = 2.5, turns: int = 12
):
    """A water of ``atoms`` moved into the hydrogen-bond network of the rest, as a bridge; see the module doc.

    ``water``: the atom indices of the water to move (default: the weakest-bound water first, then the
    others). ``info["bridge"]`` of the result: ``(water O, donor, donor H, acceptor)``, indices. None when
    ``atoms`` hold no water, the rest no hydrogen bond, or no bridge keeps ``min_distance``."""
    if water is None:
        waters = water_units(atoms)
        if not waters:
            return None
        weakest = weakest_molecule(atoms, waters, contact=contact)
        order = [waters[weakest]] + [waters[int(i)] for i in rng.permutation(len(waters)) if i != weakest]
    else:
        order = [np.asarray(water, np.int64)]
    for w in order:
        child = _bridge(atoms, w, rng, reach=reach, min_distance=min_distance, turns=int(turns))
        if child is not None:
            return child
    return None


def refine_candidates(
    minima,
    energies,
    converged,
    *,
    round_: int,
    start: int,
    top: int = 4,
    moves: int = 4,
    kinds=DEFAULT_KINDS,
    seed: int = 0,
    energy_window: float = 0.1,
    tolerance: float = 0.03,
    angle: float = 60.0,
    shift: float = 0.5,
) -> list:
    """New candidates from the ``top`` lowest distinct converged ``minima`` of each composition.

    ``minima``: minimised ``ase.Atoms`` (``info["composition"]``, ``info["final_state"]``);
    ``energies`` (eV), ``converged``: theirs. Candidates are numbered from ``start``. Child ``j`` of
    a minimum is made by the move ``kinds[j % len(kinds)]`` (see the module doc). Duplicates are those
    of :func:`md.screening.dedup.unique_minima` (``energy_window`` kcal/mol, ``tolerance`` Å).
    """
    for name, v in (("top", top), ("moves", moves)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"refine {name} must be a whole number >= 1, got {v!r}")
    kinds = move_kinds(kinds)
    E = np.where(np.asarray(converged, bool), np.asarray(energies, np.float64), np.nan)
    comps = [a.info.get("composition", a.get_chemical_formula()) for a in minima]
    same_as = unique_minima(
        E, [fingerprint(a) for a in minima], energy_window=energy_window, tolerance=tolerance, composition=comps
    )
    rng = np.random.default_rng([int(seed), int(round_)])
    out = []
    for comp in dict.fromkeys(comps):
        distinct = [k for k in range(len(minima)) if comps[k] == comp and np.isfinite(E[k]) and same_as[k] == k]
        # A minimum in no named state (a molecule broken apart, e.g. SO3 + O2- held by NH4+) is where a
        # model has left its data more often than a real minimum: while the composition has minima in
        # named states, the search builds on those only (clusters of other molecules are all "other").
        named = [k for k in distinct if minima[k].info.get("final_state", "") != OTHER]
        parents = sorted(named or distinct, key=lambda k: E[k])[: int(top)]
        made = {}
        if "splice" in kinds:  # the molecules of each parent, once
            made = {k: Counter(_formulas(minima[k], molecules(minima[k]))) for k in parents}
        for k in parents:
            parent = minima[k]
            for j in range(int(moves)):
                kind, info = kinds[j % len(kinds)], {}
                child = None
                if kind == "splice":
                    partners = [p for p in parents if p != k and made[p] == made[k]]
                    if partners:
                        p = partners[int(rng.integers(len(partners)))]
                        child = spliced(parent, minima[p], rng)
                        info["partner"] = int(p)
                elif kind == "surface":
                    child = surfaced(parent, rng)
                elif kind == "proton":
                    child = proton_hopped(parent, rng)
                elif kind == "water":
                    child = water_bridged(parent, rng)
                if child is None:  # a perturbation, or a move that cannot be made here
                    kind, info = "perturb", {}
                    (child,) = perturbations(parent, 1, rng, angle=angle, shift=shift)
                    state = parent.info.get("final_state", parent.info.get("state", ""))
                else:
                    state = detect_state(child)[1]
                child.info = {
                    "composition": comp,
                    "state": state,
                    "parent": int(k),
                    "move": kind,
                    **info,
                    "refine_round": int(round_),
                    "candidate": start + len(out),
                }
                out.append(child)
    return out


def lowest_by_composition(energies, converged, compositions) -> dict[str, float]:
    """The lowest converged energy (eV) of each composition, in order of first appearance; inf for none."""
    out = dict.fromkeys(compositions, np.inf)
    for e, ok, c in zip(energies, converged, compositions):
        if ok and np.isfinite(e) and e < out[c]:
            out[c] = float(e)
    return out


def stalled(lowest: list[dict], patience: int, energy_window: float) -> bool:
    """Whether the refinement stops: ``lowest[i]`` is :func:`lowest_by_composition` after stage ``i`` (0: the
    given candidates, ``i`` >= 1: round ``i - 1``), and no composition's lowest energy has fallen by more than
    ``energy_window`` kcal/mol over the last ``patience`` rounds. Never with ``patience`` 0."""
    if patience < 1 or len(lowest) <= patience:
        return False
    before, now = lowest[-1 - patience], lowest[-1]
    window = energy_window * KCAL_PER_MOL
    return not any(e < before.get(c, np.inf) - window for c, e in now.items())


def found_counts(same_as, converged, energies, compositions, ranked, given: int, parents, partners) -> dict:
    """For the lowest distinct minimum of each composition: how many converged minima are it or its
    duplicates (``found``), and how many of those came independently of it (``independently``): a given
    candidate (index < ``given``), or a refinement candidate none of whose ancestors (``parents[k]`` and
    ``partners[k]``, None where none, followed back) is one of them.

    ``{composition: {"candidate", "energy_eV", "found", "independently"}}``, compositions as ``ranked``
    orders them (the lowest of each first)."""
    n = len(same_as)
    out = {}
    for b in ranked:
        comp = compositions[b]
        if comp in out:
            continue
        hits = np.array([bool(converged[k]) and int(same_as[k]) == int(b) for k in range(n)])
        tainted = hits.copy()  # the best, its duplicates and everything made from them
        independent = 0
        for k in range(n):
            ancestry = [p for p in (parents[k], partners[k]) if p is not None] if k >= given else []
            inherited = any(tainted[int(p)] for p in ancestry)
            tainted[k] |= inherited
            independent += int(hits[k] and not inherited)
        out[comp] = {
            "candidate": int(b),
            "energy_eV": float(energies[b]),
            "found": int(hits.sum()),
            "independently": independent,
        }
    return out
