"""Fine-tuning from a trained model: its weights and energy references as the start, and parts
of the network held fixed.

``painnjax train --init-from saam-gfn1 [--freeze-embedding] [--freeze-interactions K]`` (or
``[train] init_from``, ``freeze_embedding``, ``freeze_interactions`` in a run config) carries a
shipped or trained model to new data, e.g. DFT energies and forces of a few hundred clusters:

- :func:`carried_over` starts the run from the model's weights *and* constants (mean ``shift``,
  ``scale`` and per-element ``atomref``), its energies relative to its own reference (e.g.
  binding energies) carried to the new data's reference.
- :func:`trainable_mask` says which weights the optimiser may move. ``freeze_embedding`` holds
  the nuclear embedding; ``freeze_interactions = k`` holds the first k message and update
  blocks, with their columns of the radial filter network. Frozen weights do not move at all:
  the optimiser's update, its weight decay included, is multiplied by the mask, and the
  moving average keeps them as they are.
"""

from __future__ import annotations

import re

import jax
import numpy as np

from painnjax.data.dataset import reference_atomref
from painnjax.errors import InputError
from painnjax.io.modelfile import load_model
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig

_BLOCK = re.compile(r"^(interactions|mixing)_(\d+)$")


def _key(entry) -> str:
    return str(getattr(entry, "key", getattr(entry, "name", entry)))


def check_freeze(config: PaiNNConfig, freeze_interactions: int) -> None:
    """``freeze_interactions`` must fit the architecture (an :class:`InputError` if not)."""
    if freeze_interactions > config.n_interactions:
        raise InputError(
            f"[train] freeze_interactions = {freeze_interactions}, but the model has "
            f"{config.n_interactions} interaction blocks"
        )
    if freeze_interactions and (config.shared_interactions or config.shared_filters):
        raise InputError(
            "[train] freeze_interactions needs separate weights per block; this model shares "
            "its interaction or filter weights between blocks (shared_interactions/shared_filters)"
        )


def trainable_mask(params, config: PaiNNConfig, freeze_embedding: bool, freeze_interactions: int):
    """A tree like ``params`` of 0/1 arrays (1: trained), or None when nothing is frozen."""
    if not freeze_embedding and not freeze_interactions:
        return None
    check_freeze(config, freeze_interactions)
    filter_width = 3 * config.n_atom_basis  # the filter network's columns of one block

    def mask(path, leaf):
        keys = [_key(p) for p in path]
        shape = np.shape(leaf)
        m = np.ones(shape, np.float32)
        if "representation" not in keys:
            return m
        name = keys[keys.index("representation") + 1]
        block = _BLOCK.match(name)
        if name == "embedding" and freeze_embedding:
            m[...] = 0.0
        elif block and int(block.group(2)) < freeze_interactions:
            m[...] = 0.0
        elif name.startswith("filter_net") and freeze_interactions:
            m[..., : freeze_interactions * filter_width] = 0.0  # the blocks' filters, in order
        return m

    return jax.tree_util.tree_map_with_path(mask, params)


def warm_params(model, template: Model):
    """The ``params`` of ``model`` (a Model or file) in the template's dtypes, checked against
    the template's architecture."""

    model = load_model(model)
    if model.config != template.config:
        raise InputError(
            f"warm start: the model's architecture {model.config.to_dict()} differs from the run's "
            f"{template.config.to_dict()}"
        )
    shapes = jax.tree_util.tree_map(np.shape, template.variables["params"])
    if jax.tree_util.tree_map(np.shape, model.variables["params"]) != shapes:
        raise InputError("warm start: the model's weights do not fit the run's architecture")
    return jax.tree_util.tree_map(
        lambda t, w: np.asarray(w, np.asarray(t).dtype), template.variables["params"], model.variables["params"]
    )


def carried_over(init, template: Model) -> Model:
    """``template`` (a run's seeded model, whose metadata holds the new data's energy
    reference) with the weights and constants of ``init`` (a :class:`Model`, a model file or a
    bundled name).

    The energies ``init`` learned relative to its own reference (binding energies against its
    monomers, or energies less its element offsets) become the run's start relative to the new
    data's reference: fine-tuning from GFN1-xTB to DFT binding energies starts from the model's
    binding energies, not from xTB's monomer energies. On data at ``init``'s level with the same
    reference, the run starts from ``init``'s total energies exactly. Data with a ``total``
    reference (none subtracted) start from ``init``'s total energies.
    """

    init = load_model(init)
    name = init.metadata.get("name", "the model")
    if init.config != template.config:
        raise InputError(
            f"init from {name}: its architecture {init.config.to_dict()} differs from the run's "
            f"{template.config.to_dict()}; leave out [model] (the model's is used) or make it equal"
        )
    own = init.metadata.get("energy_reference", {"kind": "total"})
    if "delta" in own or own.get("kind") != "total":
        raise InputError(f"init from {name}: it does not predict total energies (reference {own})")
    new = template.metadata["energy_reference"]
    if "delta" in new:
        raise InputError("init from a model: the data are Δ-learning targets (a correction), not energies")
    max_z = template.config.max_z
    constants = jax.tree_util.tree_map(np.asarray, init.variables["constants"])
    atomref = np.asarray(constants["atomref"], np.float64)  # total energies
    if new.get("kind") != "total":
        atomref = atomref - reference_atomref(own.get("trained_on", own), max_z)  # relative to its reference
    dtype = np.asarray(template.variables["constants"]["atomref"]).dtype
    constants = {**constants, "atomref": atomref.astype(dtype)}
    params = warm_params(init, template)
    metadata = dict(template.metadata)
    metadata["init_from"] = {"name": name, "energy_reference": own.get("trained_on", own)}
    return Model(template.config, {"params": params, "constants": constants}, metadata)
