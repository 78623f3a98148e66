"""Compositions: the one place where a cluster's atoms become whole molecules and ``"SA4AM4"``.

:data:`MOLECULES` maps a molecule name to its formula: the neutral molecules of the registry
(:data:`painnjax.data.molecules.MOLECULE_TYPES`: SA, AM, W), which the data's clusters are made
of. :func:`decompose` splits element counts into whole molecules of such a table (the one
decomposition: :mod:`md.analysis.evaporation` reads the molecules lost in MD with it too);
:func:`molecule_counts` does it for a cluster's atoms; :func:`composition_name` writes counts as
a name, with SA and AM always written (``"SA0AM1W2"``) as the data's naming does. Screening
(:mod:`md.screening.candidates`) names its ionic compositions (B = HSO4⁻, AH = NH4⁺) with the
same function.

Example:
    >>> composition_name({"SA": 2, "AM": 0, "W": 1})
    'SA2AM0W1'
    >>> decompose({1: 5, 7: 1, 8: 4, 16: 1})
    {'SA': 1, 'AM': 1, 'W': 0}
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase.data import chemical_symbols

from painnjax.data.molecules import MOLECULE_TYPES, formula_numbers
from painnjax.errors import InputError
from painnjax.validate import as_atomic_numbers

#: molecule name -> formula as chemists write it (H2SO4): the neutral molecules of the registry. Callers may pass an
#: extended copy (e.g. with ``"DMA": "C2H7N"``, or ionised forms such as ``"HSO4": "HO4S"`` --
#: charges are not part of a formula, which is why the ions are not in the default table).
MOLECULES: dict[str, str] = {name: m.written_formula for name, m in MOLECULE_TYPES.items() if m.charge == 0}

# Always written in composition names (when in the molecule table), even with count 0,
# as the data's naming does ("SA0AM1"); every other molecule only when present.
ALWAYS_WRITTEN = ("SA", "AM")


def molecule_table(molecules: Mapping[str, str]) -> list[tuple[str, dict[int, int]]]:
    """``[(name, {atomic number: count}), ...]`` of a name -> formula table, in its order;
    InputError naming the molecule for a formula that is not one (:func:`~painnjax.data.molecules.parse_formula`)."""
    table = []
    for name, formula in molecules.items():
        try:
            table.append((str(name), formula_numbers(formula)))
        except InputError as err:
            raise InputError(f"molecule {name!r}: {err}") from None
    return table


def element_counts(numbers) -> dict[int, int]:
    """Atomic number -> count of a cluster's atoms (atomic numbers or symbols)."""
    zs, counts = np.unique(as_atomic_numbers(numbers), return_counts=True)
    return {int(z): int(c) for z, c in zip(zs, counts)}


def decompose(elements: Mapping[int, int], molecules: Mapping[str, str] = MOLECULES) -> dict[str, int] | None:
    """Whole-molecule counts (every name of ``molecules``, zeros included, in its order) that
    reproduce the element counts ``elements`` (atomic number -> count) exactly, or None.

    Depth-first over the molecules in table order, each count tried from its largest possible
    value down, so the first solution found is the lexicographically largest in table order:
    with ambiguous tables (e.g. SA + AM and their ion pair HSO4⁻ + NH4⁺ have the same atoms)
    the molecules listed first win. For SA/AM/W the decomposition is unique.
    """
    table = molecule_table(molecules)
    target = {int(z): int(c) for z, c in elements.items()}
    known = set().union(*(m for _, m in table))
    if set(target) - known:
        return None
    zs = sorted(known)
    # later[i]: elements appearing in molecules i, i+1, ...; an element none of them has must be used up
    later = [set().union(*(m for _, m in table[i:])) for i in range(len(table) + 1)]
    result = [0] * len(table)

    def search(i: int, rest: dict[int, int]) -> bool:
        if any(rest[z] for z in zs if z not in later[i]):
            return False
        if i == len(table):
            return True
        comp = table[i][1]
        top = min(rest[z] // n for z, n in comp.items())
        for c in range(top, -1, -1):
            nxt = dict(rest)
            for z, n in comp.items():
                nxt[z] -= c * n
            result[i] = c
            if search(i + 1, nxt):
                return True
        return False

    if not search(0, {z: target.get(z, 0) for z in zs}):
        return None
    return {name: c for (name, _), c in zip(table, result)}


def composition_name(counts: Mapping[str, int]) -> str:
    """Names with their counts in the mapping's order: SA and AM always (when present as keys,
    ``"SA0AM1"``), every other molecule only with a count above zero.

    The one writer of composition names (``SA4AM4``, ``SA4AM4W2``, ``SA1AM0W3``): the data's names
    keep SA and AM with zero counts, so these are kept too (the names in existing ``info`` and
    ``split.json`` files stay valid). Readers (:func:`md.screening.candidates.parse_composition`)
    accept zero counts written or left out, and chemical formulas."""
    parts = [f"{name}{int(c)}" for name, c in counts.items() if c > 0 or name in ALWAYS_WRITTEN]
    return "".join(parts)


def molecule_counts(numbers, molecules: Mapping[str, str] = MOLECULES, source: str | None = None) -> dict[str, int]:
    """Counts of each molecule type (every key of ``molecules``, zeros included).

    Raises :class:`InputError` if the atoms cannot be split into whole molecules of the table.
    """
    counts = decompose(element_counts(numbers), molecules)
    if counts is None:
        Z = as_atomic_numbers(numbers)
        zs, n = np.unique(Z, return_counts=True)
        formula = "".join(f"{chemical_symbols[z]}{c if c > 1 else ''}" for z, c in zip(zs, n))
        table = ", ".join(f"{k} = {v}" for k, v in molecules.items())
        where = f"{source}: " if source else ""
        raise InputError(f"{where}atoms {formula} cannot be split into whole molecules of {table}")
    return counts


def composition_of(numbers, molecules: Mapping[str, str] = MOLECULES) -> str | None:
    """The cluster's composition name (e.g. ``"SA4AM4"``, ``"SA1AM0W2"``), or None if its atoms
    are not an exact sum of whole molecules of ``molecules``."""
    counts = decompose(element_counts(numbers), molecules)
    return None if counts is None else composition_name(counts)
