"""What a batched minimiser (:mod:`md.optimize.fire`, :mod:`md.optimize.lbfgs`) hands to
:func:`md.optimize.batch.minimize_batch`: the compiled pair :class:`Minimiser` and the
:class:`ChunkResult` of one chunk of steps.

A minimiser's ``compile_batch(pot, capacity, dtype, R, ...)`` returns a :class:`Minimiser` for
``S = R.shape[0]`` slots; ``minimize_batch`` calls ``init`` on start positions and ``chunk`` on
the states, again and again, until every structure has converged or run out of steps.

Example (low level; :func:`md.optimize.batch.minimize_batch` drives this for you):
    >>> m = compile_batch(pot, capacity, dtype, R)                                  # doctest: +SKIP
    >>> out = m.chunk(m.init(R), occupied, limit, n_max, fmax2)                    # doctest: +SKIP
    >>> out.steps, out.max_force2, out.most_pairs                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax


class Minimiser(NamedTuple):
    """A minimiser compiled for S slots and one pair-list capacity.

    Attributes:
        init: ``init(R) -> state``: the states of start positions R (S, N, 3) Å, forces not yet
            evaluated (the next chunk does it).
        chunk: ``chunk(state, occupied, limit, n_max, fmax2) -> ChunkResult``: at most ``n_max``
            steps; slot s moves while it is occupied (``occupied`` (S,) bool), has steps left
            (``limit`` (S,) int) and its largest squared atomic force is ``>= fmax2`` (eV²/Å²).
    """

    init: Callable
    chunk: Callable


class ChunkResult(NamedTuple):
    """What one chunk of a :class:`Minimiser` returns (a pytree: it leaves the jitted chunk as it is).

    Attributes:
        state: the slots' states after the chunk (positions (S, N, 3) Å in ``state.position``).
        steps: (S,) int, steps taken in this chunk (FIRE steps or L-BFGS iterations).
        max_force2: (S,) the largest squared atomic force at the end, eV²/Å².
        most_pairs: () int, the most unordered pairs within the cutoff any slot had during the
            chunk (more than the pair list holds: the chunk is run again with a larger one).
        energy: (S,) eV at the end.
        force_calls: (S,) int, energy-and-gradient evaluations in this chunk (one per FIRE
            step; one per line-search trial of L-BFGS).
    """

    state: Any
    steps: jax.Array
    max_force2: jax.Array
    most_pairs: jax.Array
    energy: jax.Array
    force_calls: jax.Array
