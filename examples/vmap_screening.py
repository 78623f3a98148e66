#!/usr/bin/env python
"""Screening with jax.vmap: many random candidates of one cluster minimised in one batched call.

Random arrangements of the cluster's molecules (``md.screening.candidates``) share one shape
(N, 3), so they stack into one array (n, N, 3); ``jax.vmap`` turns the potential of one
structure into the potential of the batch, and a vmapped FIRE minimiser relaxes them all at
once. The minima are then ranked by energy:

    python examples/vmap_screening.py                          # 16 SA2AM2 candidates, shipped saam-gfn1
    python examples/vmap_screening.py --composition SA3AM2 --n 64 --steps 500 --out best.xyz
    python examples/vmap_screening.py --tiny --n 4 --steps 50  # a small random model (for tests)

(``painnjax screen`` / ``md.screening.screen`` adds convergence checks, duplicates and files.)
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import minimize, space

import painnjax
from md.screening.candidates import random_candidates
from painnjax.units import EV_TO_KCAL_PER_MOL


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--composition", default="SA2AM2", help="cluster, e.g. SA2AM2, SA4AM3, SA1AM1W2")
    p.add_argument("--n", type=int, default=16, help="number of random candidates")
    p.add_argument("--steps", type=int, default=300, help="FIRE steps for every candidate")
    p.add_argument("--maxstep", type=float, default=0.2, help="no atom moves more than this per step, Å")
    p.add_argument("--model", default="saam-gfn1", help="model file or bundled model name (default saam-gfn1)")
    p.add_argument("--tiny", action="store_true", help="a small random model instead of --model (for tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the ranked minima to this file (extxyz), lowest first")
    args = p.parse_args(argv)

    # 1. Candidates: rigid molecules at random orientations and places, one composition, so one
    #    shape: they stack into R of shape (n, N, 3). Every candidate has the same species.
    candidates = random_candidates(args.composition, args.n, seed=args.seed)
    R0 = jnp.asarray(np.stack([a.positions for a in candidates]), jnp.float32)

    # 2. The potential of one structure, E(R) in eV; vmap makes it the potential of the batch.
    #    (Without a pair-list size it uses all pairs, which suits a batch of changing structures.)
    if args.tiny:
        model = painnjax.Model.init(
            painnjax.PaiNNConfig(n_atom_basis=16, n_interactions=1, n_rbf=8), seed=0, elements=[1, 7, 8, 16]
        )
    else:
        model = painnjax.load_model(args.model)
    energy_fn = painnjax.potential(model, candidates[0].numbers)

    def energy_and_forces(R):
        E, dE_dR = jax.value_and_grad(energy_fn)(R)
        return E, -dE_dR

    batched = jax.jit(jax.vmap(energy_and_forces))  # (n, N, 3) -> (n,), (n, N, 3)

    # 3. A batched minimiser: jax-md's FIRE for one structure, vmapped over the candidates. The
    #    shift caps each step so that no atom moves more than --maxstep Å: FIRE's first steps from
    #    a random start would otherwise throw molecules about (ASE's FIRE caps its steps too).
    _, free_shift = space.free()

    def capped_shift(R, dR, **kwargs):
        longest = jnp.max(jnp.linalg.norm(dR, axis=-1))
        return free_shift(R, dR * jnp.minimum(1.0, args.maxstep / jnp.maximum(longest, 1e-12)))

    init_fn, apply_fn = minimize.fire_descent(energy_fn, capped_shift, dt_start=0.1, dt_max=0.4)

    @jax.jit
    def relax(R):
        state = jax.vmap(init_fn)(R)
        state = jax.lax.fori_loop(0, args.steps, lambda i, s: jax.vmap(apply_fn)(s), state)
        return state.position

    E0, F0 = batched(R0)
    t0 = time.perf_counter()
    R = relax(R0)
    E, F = batched(R)
    E.block_until_ready()
    seconds = time.perf_counter() - t0
    fmax0 = np.asarray(jnp.max(jnp.linalg.norm(F0, axis=-1), axis=-1))  # (n,) largest force per candidate, eV/Å
    fmax = np.asarray(jnp.max(jnp.linalg.norm(F, axis=-1), axis=-1))

    # 4. Rank: lowest energy first, relative to the lowest, in kcal/mol.
    E, E0 = np.asarray(E, np.float64), np.asarray(E0, np.float64)
    order = np.argsort(E)
    print(
        f"{args.n} {candidates[0].info['composition']} candidates ({len(candidates[0])} atoms), "
        f"{args.steps} FIRE steps each, one batched call: {seconds:.1f} s (compilation included)"
    )
    print(
        f"{'rank':>4} {'candidate':>9} {'ΔE kcal/mol':>12} {'lowered by kcal/mol':>20} {'fmax start -> end eV/Å':>23}"
    )
    for rank, k in enumerate(order[:10]):
        print(
            f"{rank + 1:4d} {k:9d} {(E[k] - E[order[0]]) * EV_TO_KCAL_PER_MOL:12.2f} "
            f"{(E0[k] - E[k]) * EV_TO_KCAL_PER_MOL:20.2f} {fmax0[k]:12.3f} -> {fmax[k]:6.3f}"
        )
    if args.out:
        from ase.io import write

        minima = []
        for k in order:
            atoms = candidates[k].copy()
            atoms.positions = np.asarray(R[k], np.float64)
            atoms.info.update({"energy_eV": float(E[k]), "fmax_eV_per_A": float(fmax[k])})
            minima.append(atoms)
        write(args.out, minima, format="extxyz")
        print(f"wrote {args.out}")
    return {
        "order": order,
        "energy": E[order],
        "energy_start": E0[order],
        "fmax": fmax[order],
        "fmax_start": fmax0[order],
        "positions": np.asarray(R)[order],
    }


if __name__ == "__main__":
    main()
