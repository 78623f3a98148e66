"""The numerics of one padded batch: energies and forces (:func:`predict_batch`), the paper's
loss with its error sums (:func:`loss_and_sums`, eq. 3: ``x * L(E) + (1 - x) * L(F)``), and the
epoch metrics made of those sums (:func:`metrics_from_sums`, kcal/mol and kcal/mol/Å).

These are pure functions of arrays: a hand-written ``jax.jit`` training step uses them as they
are (``examples/train_by_hand.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from painnjax.data.batching import Batch
from painnjax.nn.neighbors import sparse_pairs
from painnjax.potential import energy
from painnjax.training.config import TrainConfig
from painnjax.units import EV_TO_KCAL_PER_MOL


def predict_batch(module, variables, batch: Batch, cutoff: float, capacity: int, with_forces: bool):
    """Energies (B,) and forces (B, N, 3) of a padded batch; forces are zeros if not asked."""

    def one(Z, R, mask):
        def e(R):
            pairs, _ = sparse_pairs(R, mask, cutoff, capacity, half=True)
            return energy(module, variables, Z, R, mask, pairs)

        if not with_forces:
            return e(R), jnp.zeros_like(R)
        E, g = jax.value_and_grad(e)(R)
        return E, -g

    return jax.vmap(one)(batch.Z, batch.R, batch.atom_mask)


def loss_and_sums(params, constants, module, batch: Batch, cutoff: float, capacity: int, cfg: TrainConfig):
    """The loss of one batch and the error sums that epoch metrics are made of (eV, eV/Å)."""
    E, F = predict_batch(module, {"params": params, "constants": constants}, batch, cutoff, capacity, cfg.uses_forces)
    w = batch.weight
    de = (E - batch.energy) * w  # (B,)
    fw = batch.atom_mask[..., None] * w[:, None, None]  # (B, N, 1)
    df = (F - batch.forces) * fw  # (B, N, 3)
    n_e = jnp.sum(w)
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
