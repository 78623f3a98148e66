"""Where a model is valid: the domain it was trained on, kept in its file, and structures checked against it.

A model trained on (H2SO4)n(NH3)m clusters gives energies off by thousands of kcal/mol on a
hydrated cluster, and nothing in the numbers says so. :class:`Domain` is what the training
frames covered: level of theory, elements, the molecule and ion types of the registry
(:data:`painnjax.data.molecules.MOLECULE_TYPES`: SA, B, SO4, AM, AH, W, H3O), the compositions
with their frame counts, the range of cluster sizes and of the temperatures the frames record.
Training writes it into the model's metadata (``metadata["domain"]``, inside the file's
checksummed header; :meth:`Domain.to_json`). :func:`outside` says, one line per item, what of a
structure lies outside it; :func:`warn_outside` warns once per model and item where a model
meets structures (``md``, ``optimize``, ``screen``, ``harmonic``, ``thermo``, ``evaluate``,
committee selection, the ASE calculator) and lets the command go on.

What is checked, and why:

- elements: each element of the structure must be one the model was trained on;
- molecule types: the structure's atoms are split into whole molecules and ions of the
  registry by :func:`painnjax.data.composition.decompose` (the one decomposition; element
  counts only, so where two splits fit the types listed first win: a neutral SA + AM cluster
  with a proton moved, HSO4⁻ + NH4⁺, counts as SA + AM, as the frames of an MD of it do). A
  type the training frames never held -- water in SA2AM2W2 for a model of SA and AM, which the
  element check cannot see, since O is in SA -- or atoms that are no sum of whole molecules
  are outside;
- size: more atoms than the largest trained cluster plus :data:`SIZE_MARGIN` (25 %). The
  margin comes from the errors of the first ``saam-gfn1`` (trained up to 62 atoms) on larger
  clusters (benchmarks/RESULTS.md, "saam-gfn1 retrained"): 0.6--2.1 kcal/mol up to 77 atoms
  (+24 %), as against 0.1--0.8 within the trained sizes, then 7.9--13.5 kcal/mol at 81--92
  atoms (+31 to +48 %). A smaller cluster than the smallest trained is not flagged (its
  atoms' surroundings are among those of the larger ones);
- temperature (only where a caller gives one): above the highest temperature the training
  frames record (for MD frames that is the instantaneous kinetic temperature, which spreads
  well above the thermostat's, so this flags only runs clearly hotter than the data).

Model files written before painnjax recorded a domain get one derived from their training
record (:func:`derived_domain`: the elements, and the molecule types from the monomers of the
binding energies it was trained on; sizes, compositions, temperatures and level unknown and
not checked); a model with neither is "domain unknown", which :func:`warn_outside` says once.

Example:
    >>> d = domain_from_frames([[1, 1, 8, 8, 8, 8, 16], [1, 1, 1, 7]], level="GFN1-xTB")
    >>> d.molecules, d.n_atoms, dict(d.compositions)
    (('SA', 'AM'), (4, 7), {'SA0AM1': 1, 'SA1AM0': 1})
    >>> outside(d, [1, 1, 8, 1, 1, 1, 7])
    ['molecule type W (water H2O) in SA0AM1W1']
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ase.data import chemical_symbols
from ase.formula import Formula

from painnjax.data.composition import composition_name, decompose, element_counts
from painnjax.data.molecules import MOLECULE_TYPES
from painnjax.errors import InputError

#: a structure with more atoms than the largest trained cluster times (1 + this) is outside (see the module doc)
SIZE_MARGIN = 0.25
#: the keys of a frame's ``info`` read as its temperature (K), the first one present
TEMPERATURE_KEYS = ("temperature_K", "temperature", "T")
#: every molecule and ion type of the registry, name -> Hill formula, in the registry's order
TYPES: dict[str, str] = {name: m.formula for name, m in MOLECULE_TYPES.items()}


class DomainWarning(UserWarning):
    """A model is applied to a structure unlike those it was trained on (or its domain is unknown)."""


@dataclass(frozen=True)
class Domain:
    """What a model's training frames covered (the training and validation sets; never the test set).

    Attributes:
        elements: atomic numbers, sorted.
        molecules: the registry's types present in the frames (registry order), or None when
            not every frame is a sum of whole molecules of it (molecule types then not checked).
        compositions: ``((name, frames), ...)`` sorted by name length and name: composition
            names of :func:`painnjax.data.composition.composition_name` over all registry types
            (``"SA2AM2"``, ``"SA0AM1W2"``; a frame of no whole molecules by its Hill formula);
            None when unknown.
        n_frames: frames trained on, None when unknown.
        n_atoms: ``(smallest, largest)`` cluster, atoms; None when unknown (size not checked).
        temperature: ``(lowest, highest)`` K as the frames record them (:data:`TEMPERATURE_KEYS`),
            None when no frame records one.
        level: the level of theory of the energies (the frames' ``level``), None when unknown.
        derived: None when recorded from the training frames; else how it was derived (an older
            file, or a fine-tuned model whose start model had no recorded domain).
    """

    elements: tuple[int, ...]
    molecules: tuple[str, ...] | None = None
    compositions: tuple[tuple[str, int], ...] | None = None
    n_frames: int | None = None
    n_atoms: tuple[int, int] | None = None
    temperature: tuple[float, float] | None = None
    level: str | None = None
    derived: str | None = None

    @property
    def largest_allowed(self) -> int | None:
        """The most atoms a structure may have before it counts as outside (None: not checked)."""
        return None if self.n_atoms is None else math.floor(self.n_atoms[1] * (1 + SIZE_MARGIN))

    def to_json(self) -> dict:
        """The record as plain JSON types, for ``metadata["domain"]``."""
        return {
            "level": self.level,
            "elements": list(self.elements),
            "molecules": None if self.molecules is None else list(self.molecules),
            "compositions": None if self.compositions is None else dict(self.compositions),
            "n_frames": self.n_frames,
            "n_atoms": None if self.n_atoms is None else list(self.n_atoms),
            "temperature_K": None if self.temperature is None else list(self.temperature),
            "derived": self.derived,
        }

    @classmethod
    def from_json(cls, record, where: str = "model") -> Domain:
        """The record :meth:`to_json` wrote; :class:`InputError` naming ``where`` and the field if it is not one."""
        if not isinstance(record, Mapping):
            raise InputError(f"{where}: domain must be a table, got {type(record).__name__}")
        unknown = sorted(set(record) - set(cls(()).to_json()))
        if unknown:
            raise InputError(f"{where}: domain: unknown field(s) {unknown}")

        def field(name, read):
            value = record.get(name)
            if value is None:
                return None
            try:
                return read(value)
            except (TypeError, ValueError, KeyError) as exc:
                raise InputError(f"{where}: domain.{name} is not readable ({value!r}: {exc})") from None

        def pair(kind):
            def read(v):
                a, b = (kind(x) for x in v)
                if not a <= b:
                    raise ValueError("the first must not exceed the second")
                return (a, b)

            return read

        molecules = field("molecules", lambda v: tuple(str(x) for x in v))
        if molecules is not None and set(molecules) - set(TYPES):
            raise InputError(f"{where}: domain.molecules: unknown type(s) {sorted(set(molecules) - set(TYPES))}")
        return cls(
            elements=field("elements", lambda v: tuple(sorted(int(z) for z in v))) or (),
            molecules=molecules,
            compositions=field("compositions", lambda v: _sorted_counts({str(k): int(n) for k, n in v.items()})),
            n_frames=field("n_frames", int),
            n_atoms=field("n_atoms", pair(int)),
            temperature=field("temperature_K", pair(float)),
            level=field("level", str),
            derived=field("derived", str),
        )

    def merge(self, start: Domain, includes_start: bool = False) -> Domain:
        """The domain of a model fine-tuned on this domain's frames from a model of domain ``start``:
        the union of both (what either left unknown is taken from the other), the level of these frames.
        ``includes_start``: these frames hold the start model's own training frames again (fine-tuning
        on old and new data), so each composition counts the larger of the two, not their sum."""
        if self.level and start.level and self.level != start.level:
            level = f"{self.level} (fine-tuned from a {start.level} model)"
        else:
            level = self.level or start.level
        comps = None
        if self.compositions is not None or start.compositions is not None:
            before, now = Counter(dict(start.compositions or ())), Counter(dict(self.compositions or ()))
            comps = _sorted_counts(before | now if includes_start else before + now)
        notes = [n for n in (self.derived, start.derived and f"start model: {start.derived}") if n]
        return Domain(
            elements=tuple(sorted(set(self.elements) | set(start.elements))),
            molecules=_union(self.molecules, start.molecules, key=list(TYPES).index),
            compositions=comps,
            n_frames=sum(c for _, c in comps) if includes_start and comps else _add(self.n_frames, start.n_frames),
            n_atoms=_span(self.n_atoms, start.n_atoms),
            temperature=_span(self.temperature, start.temperature),
            level=level,
            derived="; ".join(notes) or None,
        )

    def describe(self) -> list[str]:
        """Readable lines (``painnjax info``)."""
        how = "recorded from the training frames" if self.derived is None else self.derived
        lines = [f"domain ({how}):"]
        lines.append(f"  level of theory: {self.level or 'unknown'}")
        lines.append(f"  elements: {', '.join(chemical_symbols[z] for z in self.elements) or 'unknown'}")
        if self.molecules is None:
            lines.append("  molecule types: unknown (not checked)")
        else:
            names = [f"{n} ({MOLECULE_TYPES[n].description})" for n in self.molecules]
            lines.append(f"  molecule types: {', '.join(names)}")
        if self.n_atoms is None:
            lines.append("  sizes: unknown (not checked)")
        else:
            lo, hi = self.n_atoms
            margin = f"{SIZE_MARGIN:.0%}".replace("%", " %")
            lines.append(f"  sizes: {lo}-{hi} atoms (warned above {self.largest_allowed}: +{margin})")
        if self.temperature is None:
            lines.append("  temperatures: unknown")
        else:
            lines.append(
                f"  temperatures: {self.temperature[0]:.0f}-{self.temperature[1]:.0f} K (as the frames record them)"
            )
        if self.compositions is None:
            lines.append(f"  frames: {self.n_frames if self.n_frames is not None else 'unknown'}; compositions unknown")
        else:
            lines.append(f"  frames: {self.n_frames} in {len(self.compositions)} compositions:")
            items = [f"{c} {n}" for c, n in self.compositions]
            for k in range(0, len(items), 8):
                lines.append("    " + ", ".join(items[k : k + 8]))
        return lines


def _sorted_counts(counts: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(((str(k), int(n)) for k, n in counts.items() if n), key=lambda kv: (len(kv[0]), kv[0])))


def _union(a, b, key):
    if a is None and b is None:
        return None
    return tuple(sorted(set(a or ()) | set(b or ()), key=key))


def _add(a, b):
    return None if a is None and b is None else (a or 0) + (b or 0)


def _span(a, b):
    known = [x for x in (a, b) if x is not None]
    if not known:
        return None
    return (min(x[0] for x in known), max(x[1] for x in known))


# --------------------------------------------------------------------------------------------
# Structures


def _counts_key(frame) -> tuple[tuple[int, int], ...]:
    numbers = getattr(frame, "numbers", frame)
    return tuple(sorted(element_counts(numbers).items()))


@lru_cache(maxsize=4096)
def _types(key: tuple[tuple[int, int], ...]) -> dict[str, int] | None:
    """Registry types (every name, zeros included) of element counts ``key``, or None."""
    return decompose(dict(key), TYPES)


def _name(key: tuple[tuple[int, int], ...]) -> str:
    """The composition name of element counts ``key`` over the registry's types, or the Hill formula."""
    types = _types(key)
    if types is not None:
        return composition_name(types)
    return Formula.from_list([chemical_symbols[z] for z, n in key for _ in range(n)]).format("hill")


def domain_from_frames(frames: Iterable, level: str | None = None, temperatures: Iterable | None = None) -> Domain:
    """The :class:`Domain` of training frames: ``ase.Atoms`` or arrays of atomic numbers;
    ``level`` the level of theory of their energies; ``temperatures`` (K, one per frame or
    fewer; None or NaN entries skipped) as the frames record them."""
    keys = Counter(_counts_key(f) for f in frames)
    if not keys:
        raise InputError("no training frames to take a domain from")
    elements = sorted({z for key in keys for z, _ in key})
    types = [_types(key) for key in keys]
    molecules = None
    if all(t is not None for t in types):
        molecules = tuple(n for n in TYPES if any(t[n] for t in types))
    names = Counter()
    for key, n in keys.items():
        names[_name(key)] += n
    sizes = [sum(c for _, c in key) for key in keys]
    temps = [float(t) for t in (temperatures or ()) if t is not None and np.isfinite(float(t))]
    return Domain(
        elements=tuple(elements),
        molecules=molecules,
        compositions=_sorted_counts(names),
        n_frames=int(sum(keys.values())),
        n_atoms=(min(sizes), max(sizes)),
        temperature=(min(temps), max(temps)) if temps else None,
        level=level,
    )


def frame_temperature(info: Mapping) -> float | None:
    """A frame's temperature (K) from its ``info`` (:data:`TEMPERATURE_KEYS`), or None."""
    for key in TEMPERATURE_KEYS:
        value = info.get(key)
        try:
            t = float(value)
        except (TypeError, ValueError):
            continue
        if np.isfinite(t):
            return t
    return None


def domain_of_dataset(ds, indices=None) -> Domain:
    """The :class:`Domain` of the structures ``indices`` (all if None) of a
    :class:`~painnjax.data.dataset.Dataset`: the level from the frames' ``info["level"]``
    (several levels joined, None when no frame names one), temperatures from their ``info``."""
    idx = range(len(ds)) if indices is None else [int(k) for k in indices]
    levels = sorted({str(ds.info[k]["level"]) for k in idx if ds.info[k].get("level")})
    return domain_from_frames(
        [ds.numbers[k] for k in idx],
        level=", ".join(levels) or None,
        temperatures=[frame_temperature(ds.info[k]) for k in idx],
    )


def _reasons(domain: Domain, key: tuple[tuple[int, int], ...], temperature=None) -> list[tuple[tuple, str]]:
    """``[(what, line), ...]``: what of the structure with element counts ``key`` lies outside ``domain``."""
    out = []
    counts = dict(key)
    if domain.elements:
        for z in sorted(set(counts) - set(domain.elements)):
            out.append((("element", z), f"element {chemical_symbols[z]}"))
    if domain.molecules is not None and not out:  # an unknown element is no molecule of the registry either
        types = _types(key)
        if types is None:
            out.append(
                (
                    ("molecules", None),
                    f"atoms {_name(key)}, which are no sum of whole molecules or ions of {', '.join(TYPES)}",
                )
            )
        else:
            name = composition_name(types)
            for t, n in types.items():
                if n and t not in domain.molecules:
                    out.append((("molecule", t), f"molecule type {t} ({MOLECULE_TYPES[t].description}) in {name}"))
    limit = domain.largest_allowed
    n_atoms = sum(counts.values())
    if limit is not None and n_atoms > limit:
        margin = f"{SIZE_MARGIN:.0%}".replace("%", " %")
        out.append((("size",), f"size {n_atoms} atoms > {domain.n_atoms[1]} trained + {margin} ({limit})"))
    if temperature is not None and domain.temperature is not None and float(temperature) > domain.temperature[1]:
        lo, hi = domain.temperature
        out.append((("temperature",), f"temperature {float(temperature):g} K above the frames' {lo:.0f}-{hi:.0f} K"))
    return out


def outside(domain: Domain, atoms, temperature: float | None = None) -> list[str]:
    """What of a structure (``ase.Atoms`` or atomic numbers) lies outside ``domain``: one line
    per item (an element, a molecule type, the size; the temperature when given), [] when nothing."""
    return [text for _, text in _reasons(domain, _counts_key(atoms), temperature)]


# --------------------------------------------------------------------------------------------
# A model's domain, and the warning


def derived_domain(metadata: Mapping) -> Domain | None:
    """A domain for a model file written before painnjax recorded one, from its training record:
    the elements, and the molecule types from the monomers of the binding energies it was
    trained on; None when the metadata hold no training record (the domain is unknown)."""
    reference = metadata.get("energy_reference") or {}
    trained_on = reference.get("trained_on") or reference
    monomers = trained_on.get("monomers") if isinstance(trained_on, Mapping) else None
    training = metadata.get("training")
    if not isinstance(training, Mapping) and not isinstance(monomers, Mapping):
        return None
    molecules = None
    if isinstance(monomers, Mapping) and monomers and set(monomers) <= set(TYPES):
        molecules = tuple(n for n in TYPES if n in monomers)
    n_frames = None
    if isinstance(training, Mapping) and isinstance(training.get("n_structures"), Mapping):
        parts = training["n_structures"]
        n_frames = int(parts.get("train", 0)) + int(parts.get("valid", 0))
    known = "elements" + (", molecule types (the monomers of its binding energies)" if molecules else "")
    return Domain(
        elements=tuple(sorted(int(z) for z in metadata.get("elements") or ())),
        molecules=molecules,
        n_frames=n_frames,
        derived=f"derived from the training record of a file without a domain: {known}; the rest unknown",
    )


def model_domain(model) -> Domain | None:
    """The domain of a :class:`~painnjax.model.Model`: its recorded ``metadata["domain"]``, else
    :func:`derived_domain`; None when unknown."""
    metadata = getattr(model, "metadata", None) or {}
    name = metadata.get("name") or "model"
    if metadata.get("domain") is not None:
        return Domain.from_json(metadata["domain"], where=str(name))
    return derived_domain(metadata)


_SEEN: set[tuple] = set()  # (model label, item) already warned about in this process


def reset_warnings() -> None:
    """Forget what was warned about, so that the next check warns again (tests, long sessions)."""
    _SEEN.clear()


def _warn_once(key: tuple, message: str, stacklevel: int) -> bool:
    if key in _SEEN:
        return False
    _SEEN.add(key)
    warnings.warn(message, DomainWarning, stacklevel=stacklevel + 1)
    return True


def warn_outside(model, structures, label: str | None = None, temperature=None, stacklevel: int = 2) -> list[str]:
    """Warn (:class:`DomainWarning`) once per model and item about what of ``structures`` lies
    outside the model's domain, or once that its domain is unknown; return the lines warned now.

    ``model``: a :class:`~painnjax.model.Model` or a list of them (a committee: each member
    checked); ``structures``: one ``ase.Atoms`` or array of atomic numbers, or several (each
    distinct composition checked once); ``label``: how the messages name the model (default its
    ``metadata["name"]``); ``temperature``: K, checked when given. Nothing is raised: the caller goes on.
    """
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    several = isinstance(structures, (list, tuple)) and not (structures and np.isscalar(structures[0]))
    keys = list(dict.fromkeys(_counts_key(s) for s in structures)) if several else [_counts_key(structures)]
    said = []
    for m in models:
        name = label or (getattr(m, "metadata", None) or {}).get("name")
        who = f"model {name}" if name else "the model"
        try:
            domain = model_domain(m)
        except InputError as exc:  # a damaged record must not stop the command
            if _warn_once((who, "unreadable"), f"{exc}: cannot check the structures against it", stacklevel + 1):
                said.append(str(exc))
            continue
        if domain is None:
            text = (
                f"{who} records no training domain (not trained by painnjax, or written before painnjax recorded "
                "one): cannot check that the structures are like those it was trained on"
            )
            if _warn_once((who, "unknown"), text, stacklevel + 1):
                said.append(text)
            continue
        for key in keys:
            for what, text in _reasons(domain, key, temperature):
                if _warn_once((who, what), f"{who} was not trained on: {text}: results may be far off", stacklevel + 1):
                    said.append(text)
    return said
