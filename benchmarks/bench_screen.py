#!/usr/bin/env python
"""Screening throughput: structures minimised per second and force calls per structure, painnjax batched
L-BFGS and FIRE vs ASE FIRE/BFGS + SchNetPack.

Both codes minimise the same random candidates (``md.screening.candidates.random_candidates``: rigid
molecules at random orientations in a sphere, seeded) with the same weights, to the same
force criterion (ASE's: every atomic force below ``--fmax``) and step cap:

  painnjax    ``md.screening.screen.screen(model, candidates, fmax=..., max_steps=..., slots=...,
              optimizer=...)`` for each of ``--optimizers`` (default ``lbfgs,fire``): optax's L-BFGS
              with a zoom line search, or FIRE (jax-md, ASE's parameters), in jitted chunks,
              ``slots`` structures at once (vmap; default 1 on a CPU, 256 on a GPU), then duplicate
              removal and ranking. Compiling is done by an untimed call on one candidate first
              and reported apart. Force calls per structure (first included) are reported as
              mean, median, 90th percentile and maximum, with the share not converged.
  SchNetPack  a loop over the candidates of ``ase.optimize.FIRE(atoms).run(fmax, steps)`` (or
              ``--ase-optimizer BFGS``) with
  + ASE       ``schnetpack.interfaces.SpkCalculator`` (``ASENeighborList``) on the model that
              ``painnjax.interfaces.schnetpack.to_schnetpack`` makes of the same painnjax model.

The model is the shipped ``saam-gfn1`` (trained on GFN1-xTB (SA)n(AM)m, default size, 967,681
parameters) unless ``--model`` names another; trained weights matter here, since random ones
have no meaningful minima. FIRE trajectories in float32 drift apart between codes after a few
hundred steps (round-off), so the two codes can need different step counts and reach different
minima from one start: both step counts and the share of equal final energies are reported,
and the speed is compared per structure and per FIRE step.

SchNetPack is timed twice: with ``SpkCalculator`` as it is, which ASE 3.29's FIRE calls three
times per step (the calculator does not record the atoms it computed, so ASE's cache never
holds; the calls are counted and reported), and wrapped in a cache that computes once per
geometry. The second is the fair per-step comparison; the first is what a user gets.

Usage:
    python benchmarks/bench_screen.py                          # SA4AM4, 8 candidates, ~5 min on 2 CPU cores
    python benchmarks/bench_screen.py --n 16 --n-schnetpack 8
    python benchmarks/bench_screen.py --no-schnetpack --n 1000 --slots 1000   # a GPU: structures/s of 1,000

Writes ``benchmarks/results/bench_screen_<device>.json`` (or ``--out``). Exits with status 1 if
the two codes' energies of the first candidate differ by more than ``--rtol`` (relative).
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_potential import CpuMonitor, import_schnetpack, machine_info, write_result  # noqa: E402

import painnjax  # noqa: E402
from md.screening.candidates import random_candidates  # noqa: E402
from md.screening.screen import screen  # noqa: E402
from painnjax.units import KCAL_PER_MOL  # noqa: E402

HERE = Path(__file__).resolve().parent


def _calls_stats(calls, converged) -> dict:
    calls = np.asarray(calls, np.float64)
    return {
        "force_calls_mean": float(calls.mean()),
        "force_calls_median": float(np.median(calls)),
        "force_calls_p90": float(np.percentile(calls, 90)),
        "force_calls_max": float(calls.max()),
        "unconverged_share": float(1.0 - np.mean(converged)),
    }


def run_painnjax(model, candidates, args, optimizer: str) -> dict:
    from md.forces.build import build_potential
    from md.optimize.batch import minimize_batch

    # Compile once, untimed, on one candidate: screen() then reuses the compiled chunk
    # (the cache is keyed on the energy function, which screen() builds per composition).
    energy_fn = build_potential(model, candidates[0])
    warm = minimize_batch(
        energy_fn,
        np.stack([candidates[0].positions] * min(args.slots or 1, len(candidates))),
        fmax=args.fmax,
        max_steps=5,
        slots=args.slots,
        method=optimizer,
    )
    m = CpuMonitor()
    t0 = time.perf_counter()
    res = screen(energy_fn, candidates, fmax=args.fmax, max_steps=args.max_steps, slots=args.slots, optimizer=optimizer)
    wall = time.perf_counter() - t0
    return {
        "optimizer": optimizer,
        "wall_seconds": wall,
        "compile_seconds_warmup": warm.compile_seconds,
        "compile_seconds_in_run": res.compile_seconds,
        "run_seconds": res.seconds,
        "structures_per_second": len(candidates) / res.seconds,
        "steps": res.steps.tolist(),
        "force_calls": res.force_calls.tolist(),
        **_calls_stats(res.force_calls, res.converged),
        "converged": res.converged.tolist(),
        "energies_eV": res.energies.tolist(),
        "fire_steps_per_second": float(res.steps.sum()) / res.seconds,
        "force_calls_per_second": float(res.force_calls.sum()) / res.seconds,
        "distinct_minima": len(res.ranked),
        "other_processes_cores_busy": m.other_cores_busy(),
    }


class CachedCalculator:
    """An ASE calculator around SchNetPack's that computes once per geometry.

    ``SpkCalculator.calculate`` does not record the atoms it computed, so ASE's cache never
    holds and ASE 3.29's FIRE calls it three times per step (counted by ``calls``). Wrapped,
    it runs once per step, as a user who noticed would make it.
    """

    def __new__(cls, inner):
        from ase.calculators.calculator import Calculator, all_changes

        class _Cached(Calculator):
            implemented_properties = ["energy", "forces"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                inner.calculate(self.atoms.copy(), ["energy", "forces"], all_changes)
                self.results = {
                    "energy": float(np.asarray(inner.results["energy"]).reshape(-1)[0]),
                    "forces": np.asarray(inner.results["forces"], np.float64).reshape(-1, 3),
                }

        return _Cached()


def _counting(calc):
    calls = [0]
    inner = calc.calculate

    def calculate(*a, **k):
        calls[0] += 1
        return inner(*a, **k)

    calc.calculate = calculate
    return calls


def run_schnetpack(model, candidates, args, torch, spk, cached: bool) -> dict:
    from ase.optimize import BFGS, FIRE

    ase_opt = {"FIRE": FIRE, "BFGS": BFGS}[args.ase_optimizer]

    from painnjax.interfaces.schnetpack import to_schnetpack

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory(prefix="bench_screen") as tmp:
        path = Path(tmp) / "model.pt"
        to_schnetpack(model, path)
        calc = spk.interfaces.SpkCalculator(
            str(path),
            neighbor_list=spk.transform.ASENeighborList(cutoff=model.config.cutoff),
            energy_unit="eV",
            position_unit="Angstrom",
            device=torch.device("cpu"),
        )
        a0 = candidates[0].copy()
        a0.calc = calc
        calc.calculate(a0)  # warm-up, untimed
        calls = _counting(calc)
        if cached:
            calc = CachedCalculator(calc)
        steps, conv, energies = [], [], []
        m = CpuMonitor()
        t0 = time.perf_counter()
        for atoms in candidates:
            a = atoms.copy()
            a.calc = calc
            opt = ase_opt(a, logfile=None)
            ok = opt.run(fmax=args.fmax, steps=args.max_steps)
            steps.append(int(opt.nsteps))
            conv.append(bool(ok))
            energies.append(float(a.get_potential_energy()))
        wall = time.perf_counter() - t0
    return {
        "ase_optimizer": args.ase_optimizer,
        "run_seconds": wall,
        "structures_per_second": len(candidates) / wall,
        "steps": steps,
        "converged": conv,
        "energies_eV": energies,
        "fire_steps_per_second": sum(steps) / wall,
        "torch_threads": torch.get_num_threads(),
        "cached": cached,
        "schnetpack_calls_per_step": calls[0] / max(sum(steps), 1),
        **_calls_stats(np.asarray(steps) + 1, conv),
        "other_processes_cores_busy": m.other_cores_busy(),
    }


def start_energies(model, atoms, torch, spk) -> tuple[float, float]:
    from painnjax.interfaces.schnetpack import to_schnetpack

    a = atoms.copy()
    a.calc = painnjax.PaiNNCalculator(model)
    e_jax = a.get_potential_energy()
    nnp = to_schnetpack(model)
    conv = spk.interfaces.AtomsConverter(
        neighbor_list=spk.transform.ASENeighborList(cutoff=model.config.cutoff), dtype=torch.float32
    )
    e_spk = float(nnp(conv(atoms))["energy"].detach().cpu().numpy().reshape(-1)[0])
    return float(e_jax), e_spk


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="saam-gfn1", help="painnjax model file or bundled name (default saam-gfn1)")
    p.add_argument("--composition", default="SA4AM4")
    p.add_argument("--n", type=int, default=8, help="candidates minimised by painnjax (default 8)")
    p.add_argument(
        "--n-schnetpack", type=int, default=None, help="of those, minimised by SchNetPack + ASE (default all)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fmax", type=float, default=0.05, help="eV/Å (default 0.05)")
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument(
        "--slots", type=int, default=None, help="painnjax structures at once (default: 1 on CPU, 256 on GPU)"
    )
    p.add_argument(
        "--optimizers", default="lbfgs,fire", help="painnjax minimisers, comma-separated (default lbfgs,fire)"
    )
    p.add_argument("--ase-optimizer", choices=("FIRE", "BFGS"), default="FIRE", help="ASE's minimiser (default FIRE)")
    p.add_argument("--torch-threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--no-schnetpack", action="store_true")
    p.add_argument("--no-cached", action="store_true", help="skip the SchNetPack run with a once-per-step cache")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    model = painnjax.load_model(args.model)
    candidates = random_candidates(args.composition, args.n, seed=args.seed)
    torch = spk = None
    if not args.no_schnetpack:
        torch, spk = import_schnetpack()
        if torch is None:
            print(f"SchNetPack unavailable ({spk}); timing painnjax only", file=sys.stderr)
            spk = None
    info = machine_info(torch, "cpu" if torch is not None else None)
    import datetime as _dt

    result = {
        "benchmark": "bench_screen",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "machine": info,
        "dtype": "float32",
        "model": {"name": args.model, "n_parameters": model.n_parameters, "config": model.config.to_dict()},
        "composition": args.composition,
        "n_atoms": len(candidates[0]),
        "fmax_eV_per_A": args.fmax,
        "max_steps": args.max_steps,
    }
    print(
        f"bench_screen: {args.n} x {args.composition} ({len(candidates[0])} atoms), fmax {args.fmax} eV/Å, "
        f"model {args.model}; {info.get('cpu_model', info['processor'])}, jax on {info['jax_platform']}"
    )
    status = 0
    if torch is not None:
        e_jax, e_spk = start_energies(model, candidates[0], torch, spk)
        rel = abs(e_jax - e_spk) / abs(e_spk)
        result["start_energy"] = {"painnjax_eV": e_jax, "schnetpack_eV": e_spk, "relative_difference": rel}
        print(f"start energy: painnjax {e_jax:.5f} eV, SchNetPack {e_spk:.5f} eV (relative difference {rel:.1e})")
        if rel > args.rtol:
            print(f"energies differ by more than {args.rtol}: not the same potential", file=sys.stderr)
            status = 1
    runs = {}
    for optimizer in [o.strip() for o in args.optimizers.split(",") if o.strip()]:
        jx = run_painnjax(model, candidates, args, optimizer)
        runs[optimizer] = jx
        result[f"painnjax_{optimizer}"] = jx
        print(
            f"painnjax {optimizer}: {jx['structures_per_second']:.3f} structures/s, force calls per structure mean "
            f"{jx['force_calls_mean']:.0f}, median {jx['force_calls_median']:.0f}, 90% {jx['force_calls_p90']:.0f}, "
            f"max {jx['force_calls_max']:.0f}; {sum(jx['converged'])}/{args.n} converged "
            f"(compile {jx['compile_seconds_warmup']:.1f} s, apart)"
        )
    if "lbfgs" in runs and "fire" in runs:
        lb, fi = runs["lbfgs"], runs["fire"]
        result["fire_over_lbfgs"] = {
            "force_calls_mean": fi["force_calls_mean"] / lb["force_calls_mean"],
            "structures_per_second": lb["structures_per_second"] / fi["structures_per_second"],
            "note": "FIRE's calls are capped at max_steps + 1 for unconverged structures: a lower bound",
        }
        dE = (np.asarray(lb["energies_eV"]) - np.asarray(fi["energies_eV"])) / KCAL_PER_MOL
        d_low = np.min(lb["energies_eV"]) - np.min(fi["energies_eV"])
        print(
            f"FIRE / L-BFGS force calls per structure: {result['fire_over_lbfgs']['force_calls_mean']:.2f}x "
            f"(FIRE capped at {args.max_steps} steps, {int(np.sum(~np.asarray(fi['converged'])))} unconverged); "
            f"L-BFGS structures/s {result['fire_over_lbfgs']['structures_per_second']:.2f}x FIRE's; final energy "
            f"L-BFGS - FIRE per start: median {np.median(dE):+.2f}, kcal/mol, lowest minimum {d_low:+.4f} eV"
        )
    jx = next(iter(runs.values()))
    if torch is not None:
        k = args.n if args.n_schnetpack is None else min(args.n_schnetpack, args.n)
        for key, cached in (("schnetpack_ase", False), ("schnetpack_ase_cached", True)):
            if cached and args.no_cached:
                continue
            sp = run_schnetpack(model, candidates[:k], args, torch, spk, cached)
            result[key] = sp
            label = "SchNetPack, once per step" if cached else "SchNetPack (SpkCalculator as it is)"
            print(
                f"{label} + ASE {args.ase_optimizer}: {sp['structures_per_second']:.3f} structures/s, "
                f"{sp['fire_steps_per_second']:.1f} steps/s, {sp['schnetpack_calls_per_step']:.2f} model calls per "
                f"step, mean {np.mean(sp['steps']):.0f} steps, {sum(sp['converged'])}/{k} converged "
                f"(torch threads {sp['torch_threads']})"
            )
            for name, run in runs.items():
                ej = np.asarray(run["energies_eV"][:k])
                same = np.abs(ej - np.asarray(sp["energies_eV"])) / KCAL_PER_MOL < 0.1
                sp[f"same_minimum_share_{name}"] = float(same.mean())
                sp[f"ratio_structures_per_second_{name}"] = run["structures_per_second"] / sp["structures_per_second"]
                print(
                    f"  painnjax {name} / this: {sp[f'ratio_structures_per_second_{name}']:.2f}x structures/s; "
                    f"same final energy (0.1 kcal/mol) for {int(same.sum())}/{k} starts; lowest final energy "
                    f"{np.min(ej):.4f} vs {np.min(sp['energies_eV']):.4f} eV"
                )
    write_result(result, "bench_screen", args.out)
    return status


if __name__ == "__main__":
    sys.exit(main())
