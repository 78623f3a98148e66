#!/usr/bin/env python
"""A jax-md simulation driver by hand: Nosé-Hoover NVT of a bundled cluster on a PaiNN potential.

The potential is a pure function ``energy_fn(R, neighbor=None) -> E`` (eV), so jax-md takes it
as it is; this script keeps jax-md's own neighbour list, runs the steps in jitted chunks
(``jax.lax.fori_loop``) and checks the list for overflow between chunks:

    python examples/jaxmd_driver.py                                  # SA2AM2, shipped saam-gfn1, 1000 steps
    python examples/jaxmd_driver.py --cluster SA7AM7 --T 450 --steps 4000
    python examples/jaxmd_driver.py --tiny --steps 200               # a small random model (for tests)

(``md.run_md`` does all this with replicas, output files and restarts; this is the bare loop.)
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import quantity, simulate, space

import painnjax
from painnjax.data import bundled_structure
from painnjax.units import EV_TO_KCAL_PER_MOL, fs_to_internal, kelvin_to_kT, kT_to_kelvin

# jax-md sums kinetic energies in float64 where it can; without x64 it says so on every call.
warnings.filterwarnings("ignore", message="Explicitly requested dtype")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="saam-gfn1", help="model file or bundled model name (default saam-gfn1)")
    p.add_argument("--tiny", action="store_true", help="a small random model instead of --model (for tests)")
    p.add_argument("--cluster", default="SA2AM2", help="bundled structure, SA1AM1 .. SA15AM15 (default SA2AM2)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--chunk", type=int, default=100, help="steps per jitted chunk (one printed line each)")
    p.add_argument("--dt", type=float, default=0.5, help="time step, fs")
    p.add_argument("--T", type=float, default=300.0, help="temperature, K")
    p.add_argument("--skin", type=float, default=0.5, help="neighbour-list skin, Å")
    p.add_argument("--capacity-multiplier", type=float, default=1.25, help="neighbour-list slack (1.0: tight)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.capacity_multiplier < 1.0:
        p.error("--capacity-multiplier must be at least 1 (below, even the first list is too small)")

    # 1. The cluster and the potential: E(R) in eV for these species.
    atoms = bundled_structure(args.cluster)
    if args.tiny:
        model = painnjax.Model.init(
            painnjax.PaiNNConfig(n_atom_basis=16, n_interactions=1, n_rbf=8), seed=0, elements=[1, 7, 8, 16]
        )
    else:
        model = painnjax.load_model(args.model)
    energy_fn = painnjax.potential(model, atoms.numbers)

    # 2. jax-md's neighbour list, free space (a cluster has no box), cutoff = the model's, plus a skin:
    #    it is rebuilt inside jit only when an atom has moved more than skin / 2.
    neighbor_fn = painnjax.jax_md_neighbor_fn(
        energy_fn.cutoff, skin=args.skin, capacity_multiplier=args.capacity_multiplier
    )
    _, shift = space.free()
    R0 = jnp.asarray(atoms.positions, jnp.float32)
    nbrs = neighbor_fn.allocate(R0)

    # 3. The integrator in jax-md's metal units: Å, eV, amu; time unit ~10.18 fs; kT in eV.
    dt, kT = fs_to_internal(args.dt), kelvin_to_kT(args.T)
    init_fn, apply_fn = simulate.nvt_nose_hoover(energy_fn, shift, dt, kT, chain_length=3, tau=100 * dt)
    masses = jnp.asarray(atoms.get_masses(), jnp.float32)
    state = init_fn(jax.random.PRNGKey(args.seed), R0, mass=masses, neighbor=nbrs)

    # 4. A chunk of steps in one compiled call; the list is updated after every step.
    @jax.jit
    def run_chunk(state, nbrs, n_steps):
        def step(i, carry):
            state, nbrs = carry
            state = apply_fn(state, neighbor=nbrs)
            return state, nbrs.update(state.position)

        return jax.lax.fori_loop(0, n_steps, step, (state, nbrs))

    @jax.jit
    def observe(state, nbrs):  # E_pot (eV), T (K), and the Nosé-Hoover conserved quantity (eV)
        e_pot = energy_fn(state.position, neighbor=nbrs)
        T = kT_to_kelvin(quantity.temperature(momentum=state.momentum, mass=state.mass))
        return e_pot, T, simulate.nvt_nose_hoover_invariant(energy_fn, state, kT, neighbor=nbrs)

    e0, T0, h0 = observe(state, nbrs)
    print(
        f"{args.cluster}, {len(atoms)} atoms, {model.n_parameters} parameters; "
        f"NVT {args.T:g} K, dt {args.dt:g} fs; neighbour list {nbrs.idx.shape[1]} slots"
    )
    print(f"{'step':>7} {'time fs':>9} {'T K':>8} {'ΔE_pot kcal/mol':>15} {'drift kcal/mol':>15}")
    rows = [{"step": 0, "T": float(T0), "e_pot": float(e0), "conserved": float(h0)}]
    done, reallocations, t0 = 0, 0, time.perf_counter()
    while done < args.steps:
        n_steps = min(args.chunk, args.steps - done)  # a traced bound: every length runs one compilation
        new_state, new_nbrs = run_chunk(state, nbrs, n_steps)
        # 5. Overflow: the list had too few slots, so pairs were dropped and the chunk is wrong.
        #    Allocate a bigger list outside jit (a new shape: run_chunk compiles again), sized at
        #    the state before the chunk with room for `reallocations` more neighbours per atom,
        #    and run the chunk again from that state.
        if new_nbrs.did_buffer_overflow:
            reallocations += 1
            nbrs = neighbor_fn.allocate(state.position, extra_capacity=reallocations)
            print(f"neighbour list overflowed: reallocated with {nbrs.idx.shape[1]} slots, chunk repeated")
            continue
        state, nbrs = new_state, new_nbrs
        done += n_steps
        e, T, h = observe(state, nbrs)
        rows.append({"step": done, "T": float(T), "e_pot": float(e), "conserved": float(h)})
        print(
            f"{done:7d} {done * args.dt:9.1f} {float(T):8.1f} {(float(e) - float(e0)) * EV_TO_KCAL_PER_MOL:15.3f} "
            f"{(float(h) - float(h0)) * EV_TO_KCAL_PER_MOL:15.4f}"
        )
    seconds = time.perf_counter() - t0
    print(
        f"{done} steps in {seconds:.1f} s (compilation included), {reallocations} reallocation(s); "
        f"mean T {np.mean([r['T'] for r in rows[1:]]):.1f} K"
    )
    return {"rows": rows, "reallocations": reallocations, "positions": np.asarray(state.position)}


if __name__ == "__main__":
    main()
