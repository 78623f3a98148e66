#!/usr/bin/env python
"""Train a PaiNN by hand: data -> padded batches -> the paper's loss -> optax.adamw -> jax.jit.

The same numerics as ``painnjax train``, written out as one loop you can change:

    python examples/train_by_hand.py                               # bundled saam-gfn1-small, 20 epochs
    python examples/train_by_hand.py --tiny --epochs 3 --n-structures 32
    python examples/train_by_hand.py frames.extxyz --monomers monomers.extxyz --out my.painn

Energies are made binding energies against monomer references (bundled data: the bundled
GFN1-xTB monomers), or without monomers, energies minus fitted per-element offsets.
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import painnjax
from painnjax.data.batching import epoch_rng, iterate_batches, make_buckets
from painnjax.data.dataset import reference_atomref
from painnjax.training.loss import loss_and_sums, metrics_from_sums


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="?", default="saam-gfn1-small", help="extxyz file (default: the bundled set)")
    p.add_argument("--monomers", default=None, help="monomer file for binding energies (bundled set: its monomers)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--n-structures", type=int, default=0, help="train on a random subset of this size (0 = all)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--buckets", type=int, default=3, help="size buckets (each compiles its own step)")
    p.add_argument("--tiny", action="store_true", help="a very small model (for tests)")
    p.add_argument("--out", default="by-hand.painn", help="where to save the trained model")
    args = p.parse_args(argv)

    # 1. Data: structures with total energies (eV) and forces (eV/Å).
    ds = painnjax.read_dataset(args.data)
    if args.n_structures:
        pick = np.random.default_rng(0).choice(len(ds), min(args.n_structures, len(ds)), replace=False)
        ds = ds.subset(np.sort(pick))
    # Train on small numbers: binding energies, or energies minus per-element offsets.
    monomers = args.monomers or ("saam-gfn1-monomers" if args.data == "saam-gfn1-small" else None)
    if monomers:
        ds = painnjax.to_binding_energies(ds, monomers)
    else:
        ds = painnjax.subtract_element_offsets(ds, painnjax.fit_element_offsets(ds))
    split = painnjax.make_split(ds, valid_fraction=0.1, seed=42)
    print(f"{ds}\n{len(split.train)} training and {len(split.valid)} validation structures")

    # 2. Model: seeded weights; the energy shift starts at the mean training energy per atom.
    config = (
        painnjax.PaiNNConfig(n_atom_basis=16, n_interactions=1, n_rbf=8)
        if args.tiny
        else painnjax.PaiNNConfig(n_atom_basis=32, n_interactions=3, n_rbf=20)
    )
    model = painnjax.Model.init(config, seed=0, elements=ds.elements)
    params, constants = model.variables["params"], dict(model.variables["constants"])
    constants["shift"] = jnp.float32(np.mean(ds.energy[split.train] / ds.n_atoms[split.train]))
    print(f"model: {model.n_parameters} parameters")

    # 3. Batches: structures grouped by size into buckets; each bucket has one padded shape and
    #    a pair capacity large enough for its members, so each compiles once.
    buckets = make_buckets(ds, config.cutoff, max_buckets=args.buckets)

    # 4. Loss: x * L(E) + (1 - x) * L(F), mean absolute errors, x = 0.01 (the paper's eq. 3).
    loss_cfg = painnjax.TrainConfig(energy_weight=0.01, loss="mae")
    optimizer = optax.adamw(args.lr, weight_decay=0.01)
    opt_state = optimizer.init(params)

    def loss_fn(params, batch, capacity):
        return loss_and_sums(params, constants, model.module, batch, config.cutoff, capacity, loss_cfg)

    @functools.partial(jax.jit, static_argnames="capacity")
    def train_step(params, opt_state, batch, capacity):
        (_, sums), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch, capacity)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, sums

    @functools.partial(jax.jit, static_argnames="capacity")
    def eval_step(params, batch, capacity):
        return loss_fn(params, batch, capacity)[1]

    def to_device(batch):  # numpy float64 -> jax float32 (ints and bools stay)
        return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32 if x.dtype == np.float64 else None), batch)

    def add(acc, sums):
        return sums if acc is None else jax.tree_util.tree_map(jnp.add, acc, sums)

    # 5. Epochs: shuffled batches, one jitted step each; errors in kcal/mol and kcal/mol/Å.
    history = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        acc = None
        for b, _, batch in iterate_batches(ds, split.train, args.batch_size, buckets, epoch_rng(42, epoch)):
            params, opt_state, sums = train_step(params, opt_state, to_device(batch), buckets[b].pair_capacity)
            acc = add(acc, sums)
        train = metrics_from_sums(acc, with_forces=True)
        acc = None
        for b, _, batch in iterate_batches(ds, split.valid, args.batch_size, buckets):
            acc = add(acc, eval_step(params, to_device(batch), buckets[b].pair_capacity))
        valid = metrics_from_sums(acc, with_forces=True)
        history.append({"epoch": epoch + 1, "train": train, "valid": valid})
        print(
            f"epoch {epoch + 1:3d}  loss {train['loss']:.4f}  "
            f"train MAE E {train['energy_mae']:7.3f} kcal/mol  F {train['forces_mae']:6.3f} kcal/mol/Å  |  "
            f"valid MAE E {valid['energy_mae']:7.3f}  F {valid['forces_mae']:6.3f}  "
            f"({time.perf_counter() - t0:.1f} s)"
        )

    # 6. Save: fold the energy reference into the per-element energies, so that the saved model
    #    predicts total energies like the training data's (what painnjax.potential expects).
    constants["atomref"] = np.asarray(constants["atomref"], np.float64) + reference_atomref(ds.reference, config.max_z)
    trained = painnjax.Model(
        config,
        {"params": jax.device_get(params), "constants": jax.device_get(constants)},
        {**model.metadata, "energy_reference": {"kind": "total", "trained_on": ds.reference}},
    )
    path = painnjax.save_model(trained, args.out)
    print(f"saved {path}")
    return {"history": history, "model": str(path)}


if __name__ == "__main__":
    main()
