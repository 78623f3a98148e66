"""Random starting structures ("candidates") for configurational screening of clusters.

A screening run minimises many random arrangements of a cluster's molecules and keeps the
lowest minima. This module makes the starting structures; minimising them is another's job.

- :func:`parse_composition`: ``"SA4AM4"``, ``"sa2 am1 w3"``, ``"SA3B1AM2AH1"``, ``"SA1AM"`` ->
  ``{"SA": 4, "AM": 4}`` (canonical order SA, B, SO4, AM, AH, W). Molecules: SA (H2SO4), AM (NH3),
  W (H2O) and the ionised forms B (bisulfate HSO4⁻), SO4 (sulfate SO4²⁻) and AH (ammonium NH4⁺);
  the cluster must be neutral (AH = B + 2 SO4). The digit of SO4 is part of its name: the count
  follows it (``"SO41"`` is one sulfate, ``"SA0B1SO41AM0AH3"``). :func:`composition_name` writes
  the canonical name back.
- :func:`template`: a rigid molecule (the templates of
  :data:`painnjax.data.molecules.MOLECULE_TYPES`) as an ``ase.Atoms`` centred at its centre of mass.
- :func:`random_candidates`: ``n`` seeded candidates: rigid molecules at uniformly random
  orientations (``e3nn_jax.rand_matrix``), centres uniform in a sphere sized from liquid-like
  molecular volumes, no two atoms of different molecules closer than ``min_distance`` Å, and
  every candidate connected (molecules within ``contact`` Å of each other). Candidate ``k``
  depends only on (composition, seed, k, options), not on ``n``.
- :func:`read_candidates`: every frame of a structure file (any ASE format) as candidates.

Atom order of a candidate: molecules in composition order (all SA, then B, SO4, AM, AH, W), each
molecule's atoms in template order. ``atoms.info`` holds ``"composition"`` (canonical name),
``"candidate"`` (index k) and ``"seed"``.

Example:
    >>> cands = random_candidates("SA2AM2", 3, seed=0)
    >>> len(cands), cands[0].get_chemical_formula(), cands[2].info["candidate"]
    (3, 'H10N2O8S2', 2)
    >>> parse_composition("sa3-b1-am2-ah1"), composition_name({"AM": 1, "W": 2})
    ({'SA': 3, 'B': 1, 'AM': 2, 'AH': 1}, 'SA0AM1W2')
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from painnjax.compiler import jit
from painnjax.data.composition import MOLECULES, composition_of, decompose
from painnjax.data.composition import composition_name as canonical_name
from painnjax.data.molecules import MOLECULE_TYPES, formula_numbers
from painnjax.errors import InputError
from painnjax.validate import format_hint, free_cluster

#: molecule names in canonical order (SA, B, SO4, AM, AH, W), with their chemistry (for messages and
#: docs): the molecules and ions of the registry that have a template
NAMES: dict[str, str] = {name: m.description for name, m in MOLECULE_TYPES.items() if m.has_template}

# Liquid-like volume per molecule (Å³): molar mass / (density N_A). SA: 98.08 g/mol at
# 1.83 g/cm³; AM: 17.03 g/mol at 0.682 g/cm³ (liquid at its boiling point); W: 18.02 g/mol at
# 0.997 g/cm³. The ions take the volume of their neutral forms (a start, not a density model).
_A3_PER_CM3_MOL = 1e24 / 6.02214076e23
MOLECULAR_VOLUME: dict[str, float] = {
    "SA": 98.079 / 1.83 * _A3_PER_CM3_MOL,  # 89.0 Å³
    "AM": 17.031 / 0.682 * _A3_PER_CM3_MOL,  # 41.5 Å³
    "W": 18.015 / 0.997 * _A3_PER_CM3_MOL,  # 30.0 Å³
}
MOLECULAR_VOLUME["B"] = MOLECULAR_VOLUME["SO4"] = MOLECULAR_VOLUME["SA"]
MOLECULAR_VOLUME["AH"] = MOLECULAR_VOLUME["AM"]

MIN_READ_DISTANCE = 0.5  # Å; read_candidates rejects frames with atoms closer than this


def template(name: str):
    """A rigid molecule (``"SA"``, ``"B"``, ``"SO4"``, ``"AM"``, ``"AH"``, ``"W"``, any case) as an
    ``ase.Atoms`` centred at its centre of mass."""
    key = name.upper() if isinstance(name, str) else name
    if key in NAMES:
        return MOLECULE_TYPES[key].atoms()
    raise InputError(f"unknown molecule {name!r}; known: {_known()}")


def _known() -> str:
    return ", ".join(f"{k} ({v})" for k, v in NAMES.items())


# --------------------------------------------------------------------------------------------
# Compositions

# A word is letters and the names that hold digits (SO4), so "SO41" is the word SO4 and the count 1;
# the names are prefix-free (no name begins another or the letters of another), so a word splits into
# names one way only (tests/md/screening/test_candidates.py checks both).
_DIGIT_NAMES = [n for n in NAMES if not n.isalpha()]
_WORD = "".join(f"(?i:{re.escape(n)})|" for n in sorted(_DIGIT_NAMES, key=len, reverse=True)) + "[A-Za-z]"
_TOKENS = re.compile(rf"(?:{_WORD})+|[0-9]+|[\s_,\-]+|.")
_NAME_RE = re.compile("|".join(sorted(NAMES, key=len, reverse=True)))


def _split_names(word: str) -> list[str] | None:
    """``"SAAM"`` -> ``["SA", "AM"]``; None unless the whole word is a run of known names."""
    out, pos, up = [], 0, word.upper()
    while pos < len(up):
        m = _NAME_RE.match(up, pos)
        if m is None:
            return None
        out.append(m.group())
        pos = m.end()
    return out


def _formula_counts(text: str) -> dict[str, int] | None:
    """The neutral molecules (SA, AM, W) of a chemical formula of their elements (``"H10N2O8S2"``: SA2AM2), or
    None when ``text`` is not such a formula (no composition name is: each has an A, B, M or W)."""
    try:
        elements = formula_numbers(text)
    except InputError:
        return None
    if not set(elements) <= set().union(*(formula_numbers(f) for f in MOLECULES.values())):
        return None
    counts = decompose(elements)
    if counts is None:
        hint = ""
        if text.strip().upper().startswith("SO4"):  # a sulfate written alone reads as a formula
            hint = "; a sulfate SO4 (SO4 2-) needs two ammonium AH (NH4+) beside it, e.g. SO41AH2"
        raise InputError(
            f"formula {text!r} is not whole molecules of {', '.join(f'{k} ({v})' for k, v in MOLECULES.items())}" + hint
        )
    return counts


def parse_composition(text) -> dict[str, int]:
    """A composition string -> ``{name: count}`` in canonical order (SA, B, SO4, AM, AH, W).

    Names are case-insensitive; separators (space, ``-``, ``_``, ``,``) are optional; a name
    without a count counts 1 (``"SA1AM"`` = SA1AM1). Only names with a non-zero count are kept.
    A chemical formula of the neutral molecules' elements, in any order (Hill's ``"H10N2O8S2"``),
    is read as those molecules (SA2AM2).
    Raises :class:`InputError` for an empty string, an unknown name, a name given twice, a
    negative or malformed count, no molecules at all, or a net charge (AH must equal B + 2 SO4).
    """
    if not isinstance(text, str):
        raise InputError(f"composition must be a string like 'SA4AM4', got {type(text).__name__} {text!r}")
    s = text.strip()
    if not s:
        raise InputError(f"empty composition; expected molecule names with counts like 'SA4AM4' (known: {_known()})")
    hint = "expected molecule names with whole counts like 'SA4AM4' or 'SA2-AM1-W3'"
    formula = _formula_counts(s)
    if formula is not None:
        return _checked(formula, f"composition {text!r}")
    tokens = _TOKENS.findall(s)
    counts: dict[str, int] = {}
    last: str | None = None  # the name a following count belongs to (None once it has one)
    pos = 0
    for i, tok in enumerate(tokens):
        where = f"composition {text!r} at position {pos}"
        if tok[0].isalpha():
            names = _split_names(tok)
            if names is None:
                raise InputError(f"{where}: unknown molecule {tok!r}; known: {_known()}")
            for name in names:
                if name in counts:
                    raise InputError(f"composition {text!r}: {name} is given twice")
                counts[name] = 1
            last = names[-1]
        elif tok[0].isdigit():
            if last is None:
                raise InputError(f"{where}: count {tok} has no molecule name before it; {hint}")
            counts[last] = int(tok)
            last = None
        elif tok[0] in " \t\n_,-" or tok.isspace():
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if "-" in tok and last is not None and nxt[:1].isdigit():
                raise InputError(f"composition {text!r}: negative count -{nxt} for {last}")
            if not tok.isspace():  # a count may follow its name after spaces only
                last = None
        else:
            raise InputError(f"{where}: unexpected {tok!r}; {hint}")
        pos += len(tok)
    return _checked(counts, f"composition {text!r}")


def _checked(counts: Mapping, where: str) -> dict[str, int]:
    """Known names, whole counts >= 0, at least one molecule, neutral; canonical order, zeros dropped."""
    for name, c in counts.items():
        if name not in NAMES:
            raise InputError(f"{where}: unknown molecule {name!r}; known: {_known()}")
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
            raise InputError(f"{where}: the count of {name} must be a whole number >= 0, got {c!r}")
    out = {name: int(counts[name]) for name in NAMES if counts.get(name, 0) > 0}
    if not out:
        raise InputError(f"{where}: no molecules (every count is 0)")
    charge = sum(MOLECULE_TYPES[name].charge * c for name, c in out.items())
    if charge != 0:
        raise InputError(
            f"{where}: net charge {charge:+d} e (B {out.get('B', 0)}, SO4 {out.get('SO4', 0)}, AH {out.get('AH', 0)}): "
            f"each bisulfate B (HSO4-) must be balanced by an ammonium AH (NH4+) and each sulfate SO4 (SO4 2-) by "
            f"two, AH = B + 2 SO4; the models are for neutral clusters"
        )
    return out


def as_composition(composition) -> dict[str, int]:
    """A composition (a string, :func:`parse_composition`, or a dict of counts, names in any
    case) as checked counts in canonical order, zeros dropped; InputError otherwise."""
    if isinstance(composition, str):
        return parse_composition(composition)
    if isinstance(composition, Mapping):
        return _checked({str(k).upper(): v for k, v in composition.items()}, f"composition {dict(composition)!r}")
    raise InputError(f"composition must be a string like 'SA4AM4' or a dict of counts, got {composition!r}")


def composition_name(comp) -> str:
    """The canonical name of a composition (a dict of counts or a string): names in the order
    SA, B, SO4, AM, AH, W with their counts; SA and AM always written (``"SA0AM1W2"``), the others
    when present -- the names :func:`painnjax.data.composition.composition_name` gives neutral clusters."""
    counts = as_composition(comp)
    return canonical_name({name: counts.get(name, 0) for name in NAMES})


def sphere_radius(composition, density: float = 1.5) -> float:
    """Radius (Å) of the sphere the molecule centres are drawn in: the sphere whose volume is
    the molecules' liquid-like volumes (:data:`MOLECULAR_VOLUME`) divided by ``density``.

    ``density`` is the number density of molecule centres relative to the liquids'. Atoms reach
    1-2 Å beyond their molecule's centre, so the cluster is larger than the sphere of centres;
    the default 1.5 gives clusters about as compact as real minima (radius of gyration of
    SA4AM4 3.7 Å, SA10AM10 5.1 Å; bundled minima 3.5 and 5.0 Å), and few failed attempts
    (lower: more disconnected candidates; 3: many molecules find no room).
    R = (3 V / 4π)^(1/3), V = Σ v_molecule / density: SA4AM4 4.4 Å, SA10AM10 5.9 Å."""
    counts = as_composition(composition)
    volume = sum(MOLECULAR_VOLUME[name] * c for name, c in counts.items()) / density
    return (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)


# --------------------------------------------------------------------------------------------
# Random candidates


@functools.cache
def _draw_fn():
    """Jitted ``draw(key, i, tries)``: molecule ``i``'s ``tries`` rotations (tries, 3, 3) and
    points uniform in the unit ball (tries, 3), float64, from ``fold_in(key, i)``. One compiled
    shape for every composition; molecule ``i``'s draws do not depend on the others."""
    import e3nn_jax as e3nn
    import jax
    import jax.numpy as jnp

    @functools.partial(jit, static_argnums=(2,))
    def draw(key, i, tries: int):
        k_rot, k_dir, k_rad = jax.random.split(jax.random.fold_in(key, i), 3)
        rot = e3nn.rand_matrix(k_rot, (tries,), dtype=jnp.float64)
        v = jax.random.normal(k_dir, (tries, 3), dtype=jnp.float64)
        r = jax.random.uniform(k_rad, (tries, 1), dtype=jnp.float64) ** (1.0 / 3.0)
        return rot, r * v / jnp.linalg.norm(v, axis=-1, keepdims=True)

    return draw


def _connected(blocks: list[np.ndarray], contact: float) -> bool:
    """Whether the molecules form one cluster: graph edges between molecules whose nearest atoms
    are within ``contact`` Å."""
    from scipy.spatial.distance import cdist

    n = len(blocks)
    seen, todo = {0}, [0]
    while todo:
        i = todo.pop()
        for j in range(n):
            if j not in seen and cdist(blocks[i], blocks[j]).min() <= contact:
                seen.add(j)
                todo.append(j)
    return len(seen) == n


def _attempt(templates, draw, radius, min_distance, contact):
    """One try at a candidate: molecules placed in order, each at the first of its draws
    (``draw(i) -> (rotations, unit-ball points)``) whose atoms keep ``min_distance`` from those
    placed. Returns ("crowded", i), ("disconnected", None) or ("ok", positions per molecule)."""
    blocks: list[np.ndarray] = []
    placed = np.zeros((0, 3))
    for i, X in enumerate(templates):
        rot, unit = (np.asarray(a) for a in draw(i))
        trials = np.einsum("tij,aj->tai", rot, X) + radius * unit[:, None, :]  # (T, a, 3)
        if len(placed):
            d2 = np.sum((trials[:, :, None, :] - placed[None, None]) ** 2, axis=-1)  # (T, a, P)
            ok = np.flatnonzero(d2.min(axis=(1, 2)) >= min_distance**2)
            if len(ok) == 0:
                return "crowded", i
            pos = trials[ok[0]]
        else:
            pos = trials[0]
        blocks.append(pos)
        placed = np.vstack([placed, pos])
    if len(blocks) > 1 and not _connected(blocks, contact):
        return "disconnected", None
    return "ok", blocks


def random_candidates(
    composition,
    n: int,
    seed: int = 0,
    *,
    min_distance: float = 1.6,
    contact: float = 2.6,
    density: float = 1.5,
    tries: int = 64,
    max_attempts: int = 400,
    first: int = 0,
) -> list:
    """``n`` random starting structures (``ase.Atoms``) of a cluster, seeded and reproducible.

    ``composition``: a string (:func:`parse_composition`) or a dict of counts. Each candidate
    places the rigid molecules (:func:`template`), in composition order, at uniformly random
    orientations (``e3nn_jax.rand_matrix``) with centres uniform in a sphere of radius
    :func:`sphere_radius` (liquid-like molecular volumes over ``density``, the number density
    of centres relative to the liquids'; it grows as the cube root of the molecules' total
    volume). A molecule is drawn up to ``tries`` times and placed at the first draw whose atoms
    are all >= ``min_distance`` Å from the atoms already placed; the finished candidate must be
    connected (every molecule linked to the rest through molecules whose nearest atoms are
    <= ``contact`` Å apart).

    A failed attempt (no room for a molecule in ``tries`` draws, or a disconnected result)
    starts the candidate again with fresh draws; after every 10 attempts that failed for lack of
    room the radius grows by 5 %. After ``max_attempts`` the request is deemed impossible and an
    :class:`InputError` says why. Candidate ``k`` uses the key ``fold_in(PRNGKey(seed), k)``
    (and ``fold_in(that, attempt)`` per attempt), so it does not depend on ``n``: the first 10
    of ``n=100`` are the candidates of ``n=10``. ``first`` makes candidates ``first`` ...
    ``first + n - 1`` (the same as those of a call with ``first=0`` and ``first + n``
    candidates, without the ones before). Each is centred at its centre of mass; ``info``
    holds ``"composition"`` (canonical name), ``"candidate"`` (k) and ``"seed"``.
    """
    import jax
    from ase import Atoms

    counts = as_composition(composition)
    name = composition_name(counts)
    for what, v in (("n", n), ("tries", tries), ("max_attempts", max_attempts), ("first", first)):
        low = 0 if what in ("n", "first") else 1
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise InputError(f"{what} must be a whole number >= {low}, got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be a whole number in [0, 2**32), got {seed!r}")
    for what, v in (("min_distance", min_distance), ("contact", contact), ("density", density)):
        if not (isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v > 0):
            raise InputError(f"{what} must be a positive number, got {v!r}")
    n_mol = sum(counts.values())
    if n_mol > 1 and contact <= min_distance:
        raise InputError(
            f"{name}: contact={contact} Å must exceed min_distance={min_distance} Å, else no two molecules "
            f"can be both apart and in contact"
        )

    order = [m for m, c in counts.items() for _ in range(c)]
    templates = [template(m).positions for m in order]
    symbols = [s for m in order for s in template(m).get_chemical_symbols()]
    draw = _draw_fn()
    radius0 = sphere_radius(counts, density)
    out = []
    with jax.enable_x64(True):
        key0 = jax.random.PRNGKey(int(seed))
        for k in range(int(first), int(first) + int(n)):
            key_k = jax.random.fold_in(key0, k)
            radius, crowded, disconnected, stuck = radius0, 0, 0, 0
            for attempt in range(int(max_attempts)):
                key = jax.random.fold_in(key_k, attempt)
                status, result = _attempt(
                    templates, lambda i, key=key: draw(key, i, int(tries)), radius, min_distance, contact
                )
                if status == "ok":
                    break
                if status == "crowded":
                    crowded += 1
                    stuck = max(stuck, result)
                    if crowded % 10 == 0:
                        radius *= 1.05
                else:
                    disconnected += 1
            else:
                raise InputError(
                    f"{name}: no candidate {k} (seed {seed}) in {max_attempts} attempts: {crowded} found no room "
                    f"for a molecule (at best {stuck} of {n_mol} placed) with atoms >= min_distance={min_distance} Å "
                    f"from the others, {disconnected} were not connected within contact={contact} Å "
                    f"(sphere radius {radius0:.2f} -> {radius:.2f} Å). Lower min_distance, raise contact or "
                    f"change density"
                )
            atoms = Atoms(symbols, positions=np.vstack(result))
            atoms.positions -= atoms.get_center_of_mass()
            atoms.info.update({"composition": name, "candidate": k, "seed": int(seed)})
            out.append(atoms)
    return out


# --------------------------------------------------------------------------------------------
# Reading


def read_candidates(path, *, ignore_cell: bool = False) -> list:
    """Every frame of a structure file (extxyz, xyz, traj, ... anything ``ase.io.read`` reads)
    as a candidate: ``info["candidate"]`` = frame index, ``info["source"]`` = the path, and
    ``info["composition"]`` (if the frame has none) from :func:`painnjax.data.composition.composition_of`
    or else the Hill formula. Frames may differ in composition. The models are for free
    clusters: a periodic frame is an error unless ``ignore_cell``, which drops its cell and pbc
    (:func:`painnjax.validate.free_cluster`).

    Raises :class:`InputError`, naming the file (and frame, and atoms), for a missing, empty or
    unreadable file, a frame without atoms, non-finite positions, or two atoms closer than
    ``MIN_READ_DISTANCE`` (0.5 Å).
    """
    from ase.io import read
    from scipy.spatial.distance import pdist

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a structure file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: empty file (no frames)")
    try:
        frames = read(p, index=":")
    except Exception as exc:  # noqa: BLE001 - ASE raises many kinds for a bad file
        raise InputError(
            f"{p}: cannot read structures from this file ({type(exc).__name__}: {exc}){format_hint(p)}"
        ) from None
    if not isinstance(frames, list):  # pragma: no cover - index=":" gives a list
        frames = [frames]
    if not frames:
        raise InputError(f"{p}: no frames in file")
    for k, atoms in enumerate(frames):
        where = f"{p}, frame {k}"
        if len(atoms) == 0:
            raise InputError(f"{where}: no atoms")
        free_cluster(atoms, where, ignore_cell=ignore_cell)
        R = np.asarray(atoms.positions, np.float64)
        bad = ~np.isfinite(R).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{where}: atom {i} ({atoms[i].symbol}): position is not finite ({R[i].tolist()})")
        if len(atoms) > 1:
            dist = pdist(R)
            j = int(np.argmin(dist))
            if dist[j] < MIN_READ_DISTANCE:
                a, b = np.triu_indices(len(atoms), 1)
                a, b = int(a[j]), int(b[j])
                raise InputError(
                    f"{where}: atoms {a} ({atoms[a].symbol}) and {b} ({atoms[b].symbol}) overlap: distance "
                    f"{dist[j]:.3g} Å < {MIN_READ_DISTANCE} Å"
                )
        if "composition" not in atoms.info:
            atoms.info["composition"] = composition_of(atoms.numbers) or atoms.get_chemical_formula(mode="hill")
        atoms.info["candidate"] = k
        atoms.info["source"] = str(path)
    return frames
