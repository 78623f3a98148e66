"""The numerics of one padded batch: energies and forces (:func:`predict_batch`), the paper's
loss with its error sums (:func:`loss_and_sums`, eq. 3: ``x * L(E) + (1 - x) * L(F)``), and the
epoch metrics made of those sums (:func:`metrics_from_sums`, kcal/mol and kcal/mol/Å).

These are pure functions of arrays: a hand-written ``jax.jit`` training step uses them as they
are (``examples/train_by_hand.py``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from painnjax.data.batching import Batch
from painnjax.data.packing import Packed
from painnjax.nn.neighbors import HalfPairs, sparse_pairs
from painnjax.training.config import TrainConfig
from painnjax.units import EV_TO_KCAL_PER_MOL


def predict_batch(module, variables, batch: Batch, cutoff: float, capacity: int, with_forces: bool, groups: int = 1):
    """Energies (B,) and forces (B, N, 3) of a padded batch; forces are zeros if not asked.

    The structures of a batch are evaluated as one graph of B·N atom slots, each structure's
    pair list shifted to its own slots: plain gathers, scatters and GEMMs over the whole
    batch instead of a ``vmap`` over structures (its batched gathers and scatters made a
    training step ~25 % slower on CPU). ``groups`` splits the batch into that many graphs,
    one per device when the batch axis is sharded, so that no pair crosses devices.
    """
    B, N = batch.Z.shape
    if B % groups:
        raise ValueError(f"a batch of {B} structures cannot be split into {groups} equal groups")

    def one_graph(Z, R, mask):  # (b, N), (b, N, 3), (b, N): b structures as one graph
        b = Z.shape[0]
        build = partial(sparse_pairs, cutoff=cutoff, capacity=capacity, half=True)
        pairs, _ = jax.vmap(build)(jax.lax.stop_gradient(R), mask)  # (b, H) each
        # made once: XLA would otherwise recompute the index arithmetic inside every consumer
        pairs = jax.lax.optimization_barrier(pairs)
        shift = (jnp.arange(b, dtype=jnp.int32) * N)[:, None]
        flat = HalfPairs((pairs.idx_i + shift).reshape(-1), (pairs.idx_j + shift).reshape(-1), pairs.mask.reshape(-1))

        def atom_energies(R_flat):
            e_i = module.apply(variables, Z.reshape(-1), R_flat, flat, mask.reshape(-1), per_atom=True)
            return jnp.sum(e_i), e_i

        R_flat = R.reshape(b * N, 3)
        if not with_forces:
            return atom_energies(R_flat)[1].reshape(b, N).sum(axis=1), jnp.zeros_like(R)
        # Structures do not interact, so the gradient of the batch's total energy is each
        # structure's own force field.
        (_, e_i), g = jax.value_and_grad(atom_energies, has_aux=True)(R_flat)
        return e_i.reshape(b, N).sum(axis=1), -g.reshape(b, N, 3)

    def split(x):
        return x.reshape(groups, B // groups, *x.shape[1:])

    E, F = jax.vmap(one_graph)(split(batch.Z), split(batch.R), split(batch.atom_mask))
    return E.reshape(B), F.reshape(B, N, 3)


def loss_and_sums(
    params, constants, module, batch: Batch, cutoff: float, capacity: int, cfg: TrainConfig, groups: int = 1
):
    """The loss of one batch and the error sums that epoch metrics are made of (eV, eV/Å).

    ``groups``: as in :func:`predict_batch` (the number of devices the batch is sharded over).
    """
    variables = {"params": params, "constants": constants}
    E, F = predict_batch(module, variables, batch, cutoff, capacity, cfg.uses_forces, groups)
    atom_weight = batch.atom_mask * batch.weight[:, None]  # (B, N)
    return _loss_from(E, F, batch.energy, batch.forces, batch.weight, atom_weight, cfg)


def predict_packed(module, variables, packed: Packed, with_forces: bool):
    """Energies (G, b) and forces (G, A, 3) of a packed batch (:mod:`painnjax.data.packing`):
    each group is one graph; a structure's energy is the sum over the atoms it owns."""
    n_slots = packed.energy.shape[-1]

    def one_graph(Z, R, mask, owner, idx_i, idx_j, pair_mask):
        pairs = HalfPairs(idx_i, idx_j, pair_mask)

        def atom_energies(R):
            e_i = module.apply(variables, Z, R, pairs, mask, per_atom=True)
            return jnp.sum(e_i), e_i

        if with_forces:
            (_, e_i), g = jax.value_and_grad(atom_energies, has_aux=True)(R)
            F = -g
        else:
            e_i, F = atom_energies(R)[1], jnp.zeros_like(R)
        return jax.ops.segment_sum(e_i, owner, num_segments=n_slots), F

    p = packed
    return jax.vmap(one_graph)(p.Z, p.R, p.atom_mask, p.owner, p.idx_i, p.idx_j, p.pair_mask)


def packed_loss_and_sums(params, constants, module, packed: Packed, cfg: TrainConfig):
    """:func:`loss_and_sums` of a packed batch: the same loss and sums for the same structures."""
    variables = {"params": params, "constants": constants}
    E, F = predict_packed(module, variables, packed, cfg.uses_forces)
    structure_weight = jnp.take_along_axis(packed.weight, packed.owner, axis=1)  # (G, A)
    atom_weight = packed.atom_mask * structure_weight
    return _loss_from(E, F, packed.energy, packed.forces, packed.weight, atom_weight, cfg)


def _loss_from(E, F, energy, forces, weight, atom_weight, cfg: TrainConfig):
    """The paper's loss and the error sums, from predictions and labels of any batch layout.

    ``weight``: per structure (0 for filler slots); ``atom_weight``: per atom (0 for padding
    atoms and the atoms of filler structures)."""
    de = (E - energy) * weight
    fw = atom_weight[..., None]
    df = (F - forces) * fw
    n_e = jnp.sum(weight)
    n_f = 3.0 * jnp.sum(fw)
    err = jnp.abs if cfg.loss == "mae" else jnp.square
    loss_e = jnp.sum(err(de)) / n_e
    loss_f = jnp.sum(err(df)) / jnp.maximum(n_f, 1.0)
    x = cfg.energy_weight
    loss = x * loss_e + (1.0 - x) * loss_f if cfg.uses_forces else loss_e
    sums = {
        "abs_e": jnp.sum(jnp.abs(de)),
        "sq_e": jnp.sum(de**2),
        "n_e": n_e,
        "abs_f": jnp.sum(jnp.abs(df)),
        "sq_f": jnp.sum(df**2),
        "n_f": n_f,
        "loss": loss * n_e,
    }
    return loss, sums


def metrics_from_sums(sums: dict, with_forces: bool) -> dict:
    """MAE and RMSE of energies (kcal/mol) and force components (kcal/mol/Å), and the loss."""
    s = {k: float(v) for k, v in sums.items()}
    n_e = max(s["n_e"], 1.0)
    out = {
        "loss": s["loss"] / n_e,
        "energy_mae": s["abs_e"] / n_e * EV_TO_KCAL_PER_MOL,
        "energy_rmse": np.sqrt(s["sq_e"] / n_e) * EV_TO_KCAL_PER_MOL,
    }
    if with_forces:
        n_f = max(s["n_f"], 1.0)
        out["forces_mae"] = s["abs_f"] / n_f * EV_TO_KCAL_PER_MOL
        out["forces_rmse"] = np.sqrt(s["sq_f"] / n_f) * EV_TO_KCAL_PER_MOL
    return out
