"""Checkpoints of the full MD state: positions, momenta, forces, thermostat chain, RNG, step.

One msgpack file (flax.serialization), written atomically, so a kill never leaves half a
checkpoint: ``{"format", "version", "meta": {...}, "leaves": {"0": array, ...}}``. The state's
leaves are stored in the order of its pytree; :func:`load_checkpoint` puts them back into a
template of the same structure (built without compiling, see
:meth:`md.dynamics.engine.Engine.state_shape`) and refuses a checkpoint that does not fit it.

Example:
    >>> save_checkpoint("out/checkpoint.msgpack", state, {"step": 1000})          # doctest: +SKIP
    >>> state, meta = load_checkpoint("out/checkpoint.msgpack", template)        # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from painnjax.errors import InputError
from painnjax.io.files import atomic_write

FORMAT = "painnjax-md-checkpoint"
VERSION = 1
CHECKPOINT_FILE = "checkpoint.msgpack"


def save_checkpoint(path, state, meta: dict) -> Path:
    """Write ``state`` (any pytree of arrays) and ``meta`` (JSON-like) to ``path`` atomically."""
    leaves = jax.tree_util.tree_leaves(jax.device_get(state))
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "meta": meta,
        "leaves": {str(k): np.asarray(x) for k, x in enumerate(leaves)},
    }
    return atomic_write(path, serialization.msgpack_serialize(payload))


def _read(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint to restart from")
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
    except Exception as exc:  # noqa: BLE001 - any decoding failure means the same to the user
        raise InputError(f"{path}: not a readable MD checkpoint ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a painnjax MD checkpoint")
    if payload.get("version") != VERSION:
        raise InputError(f"{path}: checkpoint version {payload.get('version')!r} is not supported (reads {VERSION})")
    return payload


def load_checkpoint(path, template):
    """``(state, meta)``: the stored leaves in the structure of ``template`` (arrays or ShapeDtypeStructs)."""
    payload = _read(path)
    t_leaves, treedef = jax.tree_util.tree_flatten(template)
    stored = payload["leaves"]
    if len(stored) != len(t_leaves):
        raise InputError(f"{path}: the checkpoint holds {len(stored)} arrays, this run's state has {len(t_leaves)}")
    leaves = []
    for k, t in enumerate(t_leaves):
        x = np.asarray(stored[str(k)])
        if x.shape != tuple(t.shape) or x.dtype != np.dtype(t.dtype):
            raise InputError(
                f"{path}: state array {k} is {x.dtype}{list(x.shape)}, this run needs "
                f"{np.dtype(t.dtype)}{list(t.shape)} (another cluster, replica count, ensemble or dtype?)"
            )
        leaves.append(jnp.asarray(x))
    return jax.tree_util.tree_unflatten(treedef, leaves), payload["meta"]
