"""Everything a screen needs, checked before any structure is minimised: :func:`check_screen`.

A screen of a thousand candidates runs for hours; what it would fail on at the end (a damaged
committee file, an element a model does not know, more candidates than the memory holds) must
fail at the start, with exit status 2 from ``painnjax screen``, before any work. The settings
check themselves when built (:class:`~md.screening.config.ScreenConfig`: every number finite and
in range); :func:`check_screen` checks the rest in one call:

- the model and its committee: read once (a missing or damaged file is refused) into a
  :class:`~painnjax.io.resolved.ResolvedModel`, which it returns for the screen to use;
- the candidates: at least one; each a free cluster with finite, not overlapping positions
  (:func:`painnjax.validate.check_positions`, the rule of :func:`md.forces.build.build_potential`,
  which sees only the first structure of each atom list); every element of them known to the
  model and to every committee model (:func:`painnjax.validate.check_species`: the committee's
  spread is taken only on the kept minima, at the end);
- the memory: :func:`check_screen_memory`, the rough estimate :func:`screen_memory_estimate` of
  what the screen keeps per candidate against the host memory available.

:func:`md.screening.screen.screen` calls it first; ``painnjax screen`` calls
:func:`check_screen_memory` before it builds random or grown candidates, then :func:`check_screen`,
and for ``--rank-by G`` also :func:`md.analysis.ranking.check_rank_by_g` (in the layer above);
for ``--rerank-with MODEL``, :func:`check_rerank` reads that model and checks it against the candidates.

Example:
    >>> from md.screening.config import ScreenConfig
from md.screening.rerank import Reranker, check_reranker, load_reranker
    >>> screen_memory_estimate(100_000_000, 11, ScreenConfig()) > 2**40   # SA1AM1: a terabyte
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from md.dynamics.resources import MemoryEstimateWarning, format_bytes, host_memory
from md.screening.config import ScreenConfig
from md.screening.rerank import Reranker, check_reranker, load_reranker
from painnjax.errors import InputError
from painnjax.io.resolved import ResolvedModel, resolve_model
from painnjax.validate import check_free_cluster, check_positions, check_species

# What a screen keeps per candidate, measured with tracemalloc (SA1AM1, 11 atoms: 9.6 KB; SA4AM4,
# 44 atoms: 23 KB; 2-core dev machine, 2026-12-08) and rounded up: the candidate (an ase.Atoms,
# ~1.6 KB + 57 B per atom), its minimum (a second ase.Atoms, the minimiser's record and its
# energy: ~3.7 KB + 87 B per atom), the positions the minimiser stacks, starts and returns (3 x 24 B
# per atom) and its fingerprint (~1.7 KB + one float64 per pair of atoms).
#: bytes per candidate, whatever its size
CANDIDATE_BYTES = 8 * 1024
#: ... and per atom of it
ATOM_BYTES = 256
#: ... and per pair of its atoms (the fingerprint's sorted distances)
PAIR_BYTES = 8


class ScreenMemoryWarning(MemoryEstimateWarning):
    """A screen is estimated to need more than half of the memory available."""


def _refined(config: ScreenConfig, compositions: int) -> int:
    """Candidates the refinement adds: ``top`` minima of each composition, ``moves`` each, per round."""
    r = config.refine
    return 0 if r is None else r.rounds * r.top * r.moves * int(compositions)


def _per_candidate(n_atoms: int) -> int:
    n = int(n_atoms)
    return CANDIDATE_BYTES + ATOM_BYTES * n + PAIR_BYTES * (n * (n - 1) // 2)


def screen_memory_estimate(n_candidates: int, n_atoms: int, config: ScreenConfig, compositions: int = 1) -> int:
    """A rough upper estimate (bytes) of the host memory a screen keeps for ``n_candidates`` of ``n_atoms``
    atoms (the largest, if they differ), with the candidates its refinement adds for ``compositions``
    compositions; see the module's constants for what it counts.

    The model's own working arrays, on the device, come on top; they grow with ``config.slots``, not
    with the candidates."""
    return (int(n_candidates) + _refined(config, compositions)) * _per_candidate(n_atoms)


def check_screen_memory(
    n_candidates: int,
    n_atoms: int,
    config: ScreenConfig,
    *,
    compositions: int = 1,
    available: tuple[int | None, str] | None = None,
    stacklevel: int = 1,
) -> int:
    """Refuse a screen whose :func:`screen_memory_estimate` exceeds the host memory available; warn
    (:class:`ScreenMemoryWarning`) above half of it. Cheap: call it before the candidates are built.

    ``available``: (bytes, where from) instead of :func:`md.dynamics.resources.host_memory` (None
    bytes: unknown, no check). Returns the estimate. Raises :class:`~painnjax.errors.InputError` with
    the estimate, the memory available and the most candidates that would fit.
    """
    need = screen_memory_estimate(n_candidates, n_atoms, config, compositions)
    have, where = host_memory() if available is None else available
    if have is None or need <= have // 2:
        return need
    per_candidate = _per_candidate(n_atoms)
    extra = _refined(config, compositions)
    text = (
        f"a screen of {n_candidates} candidates of {n_atoms} atoms needs about {format_bytes(need)} (a rough "
        f"estimate: {format_bytes(per_candidate)} per candidate for it, its minimum and its fingerprint"
        + (f"; with the {extra} candidates the refinement adds" if extra else "")
        + ")"
    )
    if need > have:
        fit = int(np.floor(have / per_candidate)) - extra
        advice = (
            f"screen at most about {fit} candidates at once (several screens with other seeds find as much)"
            if fit >= 1
            else "even one candidate does not fit, with the refinement's: fewer refinement rounds, moves or top"
        )
        raise InputError(f"{text}, more than the {format_bytes(have)} available ({where}); {advice}")
    warnings.warn(
        f"{text}: more than half of the {format_bytes(have)} available ({where})",
        ScreenMemoryWarning,
        stacklevel=stacklevel + 1,
    )
    return need


def _where(atoms, k: int) -> str:
    """How messages name candidate ``k``: its index, and its file and frame when it was read from one."""
    source = atoms.info.get("source")
    if source is None:
        return f"candidate {k}"
    return f"candidate {k} ({source}, frame {atoms.info.get('candidate', k)})"


def check_screen(
    model,
    candidates: Sequence,
    config: ScreenConfig,
    *,
    committee=(),
    available: tuple[int | None, str] | None = None,
) -> ResolvedModel:
    """Check everything a screen of ``candidates`` with ``model`` (and ``committee``) and ``config``
    needs, before any work; the model resolved once (:func:`~painnjax.io.resolved.resolve_model`).

    See the module doc for what is checked. ``model`` and ``committee``: as
    :func:`md.screening.screen.screen` takes them (a plain energy function gets no element check).
    ``available``: as :func:`check_screen_memory` takes it. Raises
    :class:`~painnjax.errors.InputError` naming the candidate (and file and frame) or the model.
    """
    if not isinstance(config, ScreenConfig):
        raise InputError(f"config must be a ScreenConfig, got {type(config).__name__}")
    candidates = list(candidates)
    if not candidates:
        raise InputError("no candidates to screen")
    first_of: dict[tuple[int, ...], int] = {}  # one candidate per atom list: what the elements decide
    for k, atoms in enumerate(candidates):
        if not hasattr(atoms, "numbers") or len(atoms) == 0:
            raise InputError(f"candidate {k}: not a structure with atoms (an ase.Atoms), got {atoms!r}")
        where = _where(atoms, k)
        check_free_cluster(atoms, where)
        check_positions(atoms.positions, len(atoms), source=where, symbols=atoms.get_chemical_symbols())
        first_of.setdefault(tuple(int(z) for z in atoms.numbers), k)
    compositions = {a.info.get("composition", a.get_chemical_formula()) for a in candidates}
    n_atoms = max(len(key) for key in first_of)
    check_screen_memory(len(candidates), n_atoms, config, compositions=len(compositions), available=available)
    resolved = resolve_model(model, committee)
    if resolved.model is not None:
        models = [("", resolved.model)] + [(f"committee model {i}: ", m) for i, m in enumerate(resolved.committee, 1)]
        for numbers, k in first_of.items():
            for label, m in models:
                check_species(np.array(numbers), m.elements, m.config.max_z, source=label + _where(candidates[k], k))
    return resolved


def check_rerank(model, candidates: Sequence, low_method: str | None = None) -> Reranker:
    """The model of ``--rerank-with`` read once and checked against ``candidates`` before any work
    (:mod:`md.screening.rerank`): a missing or damaged file, an element or molecule it has no
    energy for, or tblite missing for a Δ model raise, with the model named."""
    reranker = load_reranker(model, low_method)
    check_reranker(reranker, list(candidates))
    return reranker
