"""Compiled functions kept per energy function, shared by every driver that uses it.

An MD engine, FIRE and the batched minimisers compile their chunks for one energy function; a
restart in the same process, or many runs in a test session, find them here instead of compiling
again. The cache is keyed weakly by the energy function: it goes with the function.

Example:
    >>> def energy_fn(R, **unused):
    ...     return (R**2).sum()
    >>> shared_cache(energy_fn) is shared_cache(energy_fn)
    True
"""

from __future__ import annotations

import weakref

_SHARED = weakref.WeakKeyDictionary()


def shared_cache(fn) -> dict:
    """The dict of compiled functions for energy function ``fn`` (keys are the caller's).

    A function that cannot be weakly referenced gets a new, empty dict each time: a cache of the
    caller's own.
    """
    try:
        return _SHARED.setdefault(fn, {})
    except TypeError:  # not weak-referenceable: a cache of this engine's own
        return {}
