"""``painnjax check``: the potential on the bundled (SA)n(AM)n clusters, with checks and timings.

For each cluster: energy and forces through the jitted pure function (compile time and
median latency), rotation invariance of the energy and equivariance of the forces, and the
same numbers through the ASE calculator. Writes ``summary.json`` in the output folder.
Without ``--model`` the model is the shipped ``saam-gfn1`` (GFN1-xTB (SA)n(AM)m, default size,
967,681 parameters), and each cluster's binding energy against the monomer energies the model
was trained with is printed too; ``--model seeded`` takes a seeded, untrained model of the same size (speed and
exactness only, not chemistry).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from painnjax.data import bundled_structure
from painnjax.interfaces.calculator import PaiNNCalculator
from painnjax.io.files import write_json
from painnjax.io.modelfile import bundled_models, load_model
from painnjax.model import Model
from painnjax.potential import energy_and_forces, potential
from painnjax.units import EV_TO_KCAL_PER_MOL

DEFAULT_MODEL = "saam-gfn1"


def _timed(fn, R, repeats: int = 10):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(R))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(R))
        times.append(time.perf_counter() - t0)
    return compile_s, float(np.median(times))


def run_check(out: str | Path, sizes=(1, 2, 4, 7), model=None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if model is None:
        model = DEFAULT_MODEL if DEFAULT_MODEL in bundled_models() else "seeded"
    label = "seeded, untrained" if model == "seeded" else str(model)
    model = Model.init(seed=0) if model == "seeded" else load_model(model)
    about = model.metadata.get("name") or model.metadata.get("source") or label
    print(f"model: {about}, {model.n_parameters:,} parameters")
    # A model trained on binding energies records its monomer energies: ΔE is then printed.
    trained_on = model.metadata.get("energy_reference", {}).get("trained_on", {})
    monomers = trained_on.get("monomers") if trained_on.get("kind") == "binding" else None
    if monomers is not None and not {"SA", "AM"} <= set(monomers):
        monomers = None
    rot = np.asarray(jax.random.orthogonal(jax.random.PRNGKey(1), 3), np.float64)
    rows = []
    for n in sizes:
        atoms = bundled_structure(f"SA{n}AM{n}")
        R = jnp.asarray(atoms.positions, jnp.float32)
        energy_fn = potential(model, atoms, reference_positions=atoms.positions)
        fn = energy_and_forces(energy_fn)
        compile_s, latency = _timed(fn, R)
        e, f = fn(R)
        e_rot, f_rot = fn(R @ rot.T.astype(np.float32))
        atoms.calc = PaiNNCalculator(model)
        row = {
            "cluster": f"SA{n}AM{n}",
            "atoms": len(atoms),
            "neighbor_mode": energy_fn.neighbor_mode,
            "energy_eV": float(e),
            "compile_s": round(compile_s, 3),
            "energy_forces_ms": round(latency * 1e3, 3),
            "rotation_energy_diff_eV": float(abs(e_rot - e)),
            "rotation_force_diff_eV_per_A": float(np.abs(np.asarray(f_rot) - np.asarray(f) @ rot.T).max()),
            "ase_energy_diff_eV": float(abs(atoms.get_potential_energy() - float(e))),
        }
        binding = ""
        if monomers is not None:
            row["binding_energy_kcal_mol"] = (float(e) - n * (monomers["SA"] + monomers["AM"])) * EV_TO_KCAL_PER_MOL
            binding = f"  ΔE = {row['binding_energy_kcal_mol']:8.1f} kcal/mol"
        rows.append(row)
        print(
            f"{row['cluster']:>8s} {row['atoms']:4d} atoms  E = {row['energy_eV']:12.5f} eV{binding}  "
            f"E+F {row['energy_forces_ms']:8.2f} ms (compile {row['compile_s']:.1f} s)  "
            f"|dE| rotated {row['rotation_energy_diff_eV']:.1e} eV"
        )
    summary = {
        "device": str(jax.devices()[0]),
        "machine": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "model": about,
        "n_parameters": model.n_parameters,
        "clusters": rows,
    }
    write_json(out / "summary.json", summary)
    print(f"wrote {out / 'summary.json'}")
    return summary
