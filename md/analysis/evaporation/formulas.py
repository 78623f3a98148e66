"""Fragment formulas -> molecules: whether a group of atoms that left a cluster is whole molecules.

``summary.json`` writes what left a cluster as Hill formulas (``H3N``); this module names them
with the molecules and ions of the field (:data:`DEFAULT_MOLECULES`, from the registry
:data:`painnjax.data.molecules.MOLECULE_TYPES`): ``"H3N"`` is ``AM``, ``"H5NO4S"`` is
``SA+AM``, ``"HO"`` is no sum of them (a broken molecule). The split itself is
:func:`painnjax.data.composition.decompose`, the one decomposition of painnjax and md;
:func:`decompose` here only reads the formula for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ase.data import chemical_symbols

from painnjax.data import composition
from painnjax.data.molecules import MOLECULE_TYPES, parse_formula
from painnjax.errors import InputError

#: molecules and ions of the field, name -> Hill formula (as ``summary.json`` writes fragments):
#: SA, B (HSO4-), SO4 (SO4 2-), AM, AH (NH4+), W, H3O (H3O+). A fragment is a lost molecule when
#: its formula is a sum of these; where two sums fit, the names listed first win.
DEFAULT_MOLECULES: dict[str, str] = {name: m.formula for name, m in MOLECULE_TYPES.items()}

# "a fragment H3N (atoms 12, 13, 14, 15); HO (atoms 22, 23) is more than 5 Å from ..."
_FRAGMENT_IN_MESSAGE = re.compile(r"([A-Z][A-Za-z0-9]*) \(atoms? ")


def check_molecules(molecules: Mapping[str, str]) -> None:
    """InputError for a molecule table that cannot tell an evaporation from a broken molecule:
    an empty one, or one with a formula that is not a formula of elements."""
    composition.molecule_table(molecules)
    if not molecules:
        raise InputError("no molecules given to tell an evaporation from a broken molecule")


def decompose(formula: str, molecules: Mapping[str, str] = DEFAULT_MOLECULES) -> dict[str, int] | None:
    """Counts of ``molecules`` whose atoms add up to ``formula`` exactly (only those > 0), or None.

    InputError when ``formula`` is not a formula (:func:`~painnjax.data.molecules.parse_formula`)
    or the table is bad (:func:`check_molecules`). The split is
    :func:`painnjax.data.composition.decompose`: with ambiguous tables (SA + AM has the atoms of
    bisulfate + ammonium) the molecules listed first win.
    """
    elements = parse_formula(formula)
    check_molecules(molecules)
    if any(symbol not in chemical_symbols[1:] for symbol in elements):  # no element, so in no molecule
        return None
    counts = composition.decompose({chemical_symbols.index(s): n for s, n in elements.items()}, molecules)
    return None if counts is None else {name: c for name, c in counts.items() if c}


def molecule_name(formula: str, molecules: Mapping[str, str] = DEFAULT_MOLECULES) -> str | None:
    """``"AM"`` for ``"H3N"``, ``"SA+AM"`` for ``"H5NO4S"``, ``"2W"`` for ``"H4O2"``; None when
    the formula is not a sum of whole ``molecules`` (a broken molecule)."""
    counts = decompose(formula, molecules)
    if not counts:
        return None
    return "+".join(f"{c if c > 1 else ''}{name}" for name, c in counts.items())


def fragments_from_message(message: str) -> list[str]:
    """The formulas in a fragmentation message of ``painnjax md`` (runs older than the
    ``fragments`` key): ``"a fragment H3N (atom 12) is more than 5 Å ..."`` -> ``["H3N"]``."""
    return _FRAGMENT_IN_MESSAGE.findall(str(message))
