"""The rows of a batch that run, updated; the others kept: MD replicas, minimiser slots.

Example:
    >>> import jax.numpy as jnp
    >>> where_active(jnp.array([True, False]), jnp.ones((2, 3)), jnp.zeros((2, 3))).sum(axis=1).tolist()
    [3.0, 0.0]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def where_active(active, new, old):
    """``new`` where ``active`` (B,) bool is True, ``old`` elsewhere, leaf by leaf of two pytrees
    whose leaves have the batch axis first (B, ...)."""

    def pick(a, b):
        return jnp.where(active.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)

    return jax.tree_util.tree_map(pick, new, old)
