"""The molecules and ions of the field, in one registry: names, formulas, charges, templates, symmetry.

:data:`MOLECULE_TYPES` holds one :class:`Molecule` per molecule or ion type, in the order
SA, B, SO4, AM, AH, W, H3O: sulfuric acid H2SO4, bisulfate HSO4⁻, sulfate SO4²⁻, ammonia NH3,
ammonium NH4⁺, water H2O and hydronium H3O⁺. Every other module reads its vocabulary from
here: :mod:`painnjax.data.composition` names clusters after the neutral ones (SA, AM, W),
:mod:`md.clusters` packs clusters from their templates, :mod:`md.screening.candidates` builds
candidates from every type with a template (SA, B, SO4, AM, AH, W), :mod:`md.analysis.evaporation`
tells a lost molecule from a broken one with all of them, and :mod:`md.analysis.thermo` takes
the monomers' symmetry numbers (:data:`MONOMER_SYMMETRY`, :data:`MONOMER_POINT_GROUPS`).

The order is part of the vocabulary: where a formula splits into molecules in more than one
way (SA + AM has the atoms of HSO4⁻ + NH4⁺), the types listed first win
(:func:`painnjax.data.composition.decompose`), and screening writes compositions in it.

:func:`parse_formula` reads a formula (``"H2O4S"`` -> element counts), the one reader of
formulas in painnjax and md; :func:`formula_numbers` gives the counts by atomic number.

Example:
    >>> sa = MOLECULE_TYPES["SA"]
    >>> sa.formula, sa.charge, sa.symmetry_number, sa.atoms().get_chemical_formula(mode="hill")
    ('H2O4S', 0, 2, 'H2O4S')
    >>> parse_formula("H5NO4S"), formula_numbers("H2O")
    ({'H': 5, 'N': 1, 'O': 4, 'S': 1}, {1: 2, 8: 1})
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.formula import Formula

from painnjax.config import check
from painnjax.errors import InputError

# --------------------------------------------------------------------------------------------
# Formulas

_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*)")
_FORMULA = re.compile(r"(?:[A-Z][a-z]?\d*)+")


def parse_formula(formula: str) -> dict[str, int]:
    """Element counts of a formula such as ``"H2O4S"``; InputError for anything else.

    A formula is element symbols, each with an optional count > 0 (``"H2O"``, ``"OH2"``,
    ``"HOH"``); no brackets, charges or leading multipliers. Symbols are not checked against
    the periodic table here (:func:`formula_numbers` does).
    """
    text = str(formula).strip()
    if not _FORMULA.fullmatch(text):
        raise InputError(f"cannot read {formula!r} as a chemical formula")
    counts: Counter = Counter()
    for element, n in _ELEMENT.findall(text):
        if n and int(n) == 0:
            raise InputError(f"cannot read {formula!r} as a chemical formula (a count of 0)")
        counts[element] += int(n) if n else 1
    return dict(counts)


def formula_numbers(formula: str) -> dict[int, int]:
    """Atomic number -> count of a formula (:func:`parse_formula`); InputError for an unknown element."""
    out: dict[int, int] = {}
    for symbol, n in parse_formula(formula).items():
        if symbol not in chemical_symbols[1:]:
            raise InputError(f"unknown element {symbol!r} in formula {formula!r}")
        out[chemical_symbols.index(symbol)] = n
    return out


# --------------------------------------------------------------------------------------------
# One molecule or ion type


@dataclass(frozen=True, eq=False)
class Molecule:
    """One molecule or ion type of the registry.

    Attributes:
        name: the short name compositions and outputs use (``"SA"``, ``"B"``, ``"SO4"``, ...).
        formula: its Hill formula (``"H2O4S"``), as ``ase`` and ``summary.json`` write it.
        charge: its net charge, e.
        description: what it is, for messages (``"sulfuric acid H2SO4"``).
        symbols, positions: the rigid template that clusters and candidates are built of: the
            chemical symbols and positions (n, 3) Å in template order, or None (no template;
            the array is read-only).
        symmetry_number, point_group: the rotational symmetry number and point group of the
            template's minimum, where the free energies need them (None elsewhere).
        written: the formula as chemists write it (``"H2SO4"``, ``"NH3"``) where that is not the
            Hill formula; None: the Hill formula. Messages and :data:`painnjax.MOLECULES` use it.
    """

    name: str
    formula: str
    charge: int
    description: str
    symbols: tuple[str, ...] | None = None
    positions: np.ndarray | None = None
    symmetry_number: int | None = None
    point_group: str | None = None
    written: str | None = None

    def __post_init__(self):
        where = f"molecule {self.name}"
        check(Formula(self.formula).format("hill") == self.formula, where, "formula", "must be a Hill formula")
        elements = parse_formula(self.formula)
        check((self.symbols is None) == (self.positions is None), where, "positions", "come with symbols")
        if self.positions is not None:
            positions = np.array(self.positions, np.float64)  # a copy: the record owns its template
            positions.setflags(write=False)
            object.__setattr__(self, "positions", positions)
            object.__setattr__(self, "symbols", tuple(self.symbols))
            check(positions.shape == (len(self.symbols), 3), where, "positions", "must have shape (atoms, 3)")
            check(dict(Counter(self.symbols)) == elements, where, "symbols", f"must be the atoms of {self.formula}")
        check(self.symmetry_number is None or self.symmetry_number >= 1, where, "symmetry_number", "must be >= 1")
        check(self.written is None or parse_formula(self.written) == elements, where, "written", "must have its atoms")

    @property
    def written_formula(self) -> str:
        """The formula as chemists write it (``"H2SO4"``): :attr:`written`, else the Hill formula."""
        return self.written or self.formula

    @property
    def has_template(self) -> bool:
        """Whether clusters can be built of it (it has template positions)."""
        return self.positions is not None

    def atoms(self) -> Atoms:
        """The template as an ``ase.Atoms`` centred at its centre of mass (InputError without one)."""
        if self.positions is None:
            raise InputError(f"{self.name} ({self.description}) has no template structure")
        atoms = Atoms(list(self.symbols), positions=self.positions)
        atoms.positions -= atoms.get_center_of_mass()
        return atoms


# --------------------------------------------------------------------------------------------
# Templates

# GFN1-xTB minima (Å), from ../shared/data/saam_gfn1/monomers_gfn1.extxyz (SA, AM); W is a
# standard gas-phase water geometry (O-H 0.957 Å, 104.5°).
_SA_SYMBOLS = ("H", "H", "O", "O", "O", "O", "S")
_SA_POSITIONS = np.array(
    [
        [0.90712051, 1.43248057, -1.14118566],
        [-0.90711989, -1.43248157, -1.14118627],
        [1.23302941, -0.04526312, 0.83663644],
        [-1.23303017, 0.04526392, 0.83663814],
        [0.00856644, 1.23350198, -0.84819448],
        [-0.00856622, -1.23350182, -0.84819508],
        [-0.00000010, 0.00000004, 0.15366092],
    ]
)
_AM_SYMBOLS = ("H", "H", "H", "N")
_AM_POSITIONS = np.array(
    [
        [-0.00000000, 0.94672999, -0.24765440],
        [0.81989251, -0.47336544, -0.24765340],
        [-0.81989250, -0.47336545, -0.24765340],
        [0.00000000, -0.00000009, 0.10082121],
    ]
)
_W_SYMBOLS = ("H", "H", "O")
_W_POSITIONS = np.array(
    [
        [0.0, 0.75695, -0.58588],
        [0.0, -0.75695, -0.58588],
        [0.0, 0.0, 0.0],
    ]
)


def _bisulfate(symbols, X: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """HSO4- from the SA template (``symbols``, ``X``): the first acidic proton removed and its
    oxygen pulled in to the template's mean S=O length (an S-O- bond is not an S-OH bond; a
    start, not a minimum)."""
    sym = np.array(symbols)
    h, o, s = np.flatnonzero(sym == "H"), np.flatnonzero(sym == "O"), int(np.flatnonzero(sym == "S")[0])
    d_ho = np.linalg.norm(X[h][:, None] - X[o][None], axis=-1)  # (H, O)
    hydroxyl = o[np.argmin(d_ho, axis=1)]  # the O each H is bonded to
    h0, o0 = int(h[0]), int(hydroxyl[0])
    if d_ho[0].min() > 1.2:  # pragma: no cover - guards a changed SA template
        raise RuntimeError("SA template: the first H is not bonded to an oxygen")
    d_so = np.linalg.norm(X[o] - X[s], axis=1)
    s_o = float(d_so[~np.isin(o, hydroxyl)].mean())  # S=O length of the template
    Y = X.copy()
    Y[o0] = X[s] + (X[o0] - X[s]) * s_o / np.linalg.norm(X[o0] - X[s])
    return tuple(np.delete(sym, h0).tolist()), np.delete(Y, h0, axis=0)


_CORNERS = np.array(
    [[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]]
)  # a tetrahedron's corners


def _ammonium(bond: float = 1.03) -> np.ndarray:
    """NH4+: N at the origin, four H on the corners of a tetrahedron at ``bond`` Å."""
    return np.vstack([_CORNERS * bond / math.sqrt(3.0), np.zeros((1, 3))])


def _sulfate(bond: float = 1.49) -> np.ndarray:
    """SO4 2-: S at the origin, four O on the corners of a tetrahedron at ``bond`` Å (the SO4 2- ions of the
    GFN1-xTB minima ../shared/data/starts/k24_6sa7am.xyz ... k24_9sa11am.xyz have a mean S-O length of 1.488 Å;
    a start, not a minimum)."""
    return np.vstack([_CORNERS * bond / math.sqrt(3.0), np.zeros((1, 3))])


_B_SYMBOLS, _B_POSITIONS = _bisulfate(_SA_SYMBOLS, _SA_POSITIONS)

# --------------------------------------------------------------------------------------------
# The registry

#: every molecule and ion type, by name, in the order that breaks ties between decompositions
#: (SA, B, SO4, AM, AH, W, H3O). Symmetry numbers of the monomers' minima: H2SO4 C2 σ = 2,
#: NH3 C3v σ = 3, H2O C2v σ = 2.
MOLECULE_TYPES: dict[str, Molecule] = {
    m.name: m
    for m in (
        Molecule("SA", "H2O4S", 0, "sulfuric acid H2SO4", _SA_SYMBOLS, _SA_POSITIONS, 2, "C2", "H2SO4"),
        Molecule("B", "HO4S", -1, "bisulfate HSO4-", _B_SYMBOLS, _B_POSITIONS, written="HSO4"),
        Molecule("SO4", "O4S", -2, "sulfate SO4 2-", ("O", "O", "O", "O", "S"), _sulfate(), written="SO4"),
        Molecule("AM", "H3N", 0, "ammonia NH3", _AM_SYMBOLS, _AM_POSITIONS, 3, "C3v", "NH3"),
        Molecule("AH", "H4N", 1, "ammonium NH4+", ("H", "H", "H", "H", "N"), _ammonium(), written="NH4"),
        Molecule("W", "H2O", 0, "water H2O", _W_SYMBOLS, _W_POSITIONS, 2, "C2v"),
        Molecule("H3O", "H3O", 1, "hydronium H3O+"),
    )
}

#: the neutral molecules with a template (SA, AM, W): name -> (Hill formula, template positions Å)
TEMPLATES: dict[str, tuple[str, np.ndarray]] = {
    n: (m.formula, m.positions) for n, m in MOLECULE_TYPES.items() if m.has_template and m.charge == 0
}
#: the ions with a template (B, SO4, AH), in the form of :data:`TEMPLATES`
ION_TEMPLATES: dict[str, tuple[str, np.ndarray]] = {
    n: (m.formula, m.positions) for n, m in MOLECULE_TYPES.items() if m.has_template and m.charge != 0
}
#: rotational symmetry number of each monomer whose free energy is computed (SA, AM, W)
MONOMER_SYMMETRY: dict[str, int] = {
    n: m.symmetry_number for n, m in MOLECULE_TYPES.items() if m.symmetry_number is not None
}
#: point group of each of those monomers
MONOMER_POINT_GROUPS: dict[str, str] = {n: m.point_group for n, m in MOLECULE_TYPES.items() if n in MONOMER_SYMMETRY}
