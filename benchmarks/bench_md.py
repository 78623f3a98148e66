#!/usr/bin/env python
"""NVT MD throughput of painnjax (jax-md) vs SchNetPack + ASE, same weights; replicas in one call.

One SchNetPack 2.x PaiNN (default hyper-parameters: 128 features, 5 interactions, 20 Gaussian
RBF, 5 Å cosine cutoff; 967,681 parameters) is built with a fixed torch seed and carried into
painnjax with ``painnjax.from_schnetpack``, so both codes integrate the same potential in float32.
The system is the bundled (H2SO4)7(NH3)7 cluster (SA7AM7, 77 atoms) at 300 K with a 0.5 fs step
and a Nosé-Hoover chain (3 thermostats, 100 fs):

  single trajectory
    painnjax    ``md.run_md(energy_fn, atoms, MDConfig(ensemble="nvt-nh", ...), out=None,
                progress=False, momenta=P0)``: jax-md's chain (chain_steps 2, Suzuki-Yoshida
                order 3), steps in jitted chunks; the rate is the summary's ``steps_per_second``
                (compilation excluded, see below). One untimed 10-step call compiles first.
    SchNetPack  ``ase.md.nose_hoover_chain.NoseHooverChainNVT`` (tchain 3, tloop 1) driving
    + ASE       ``schnetpack.interfaces.SpkCalculator`` (``ASENeighborList``, rebuilt every step);
                rate = steps / wall time of ``dyn.irun(steps)``, after an untimed warm-up run.

  Both codes start every timed round from the same state: the bundled positions and the same
  momenta P0 (Maxwell-Boltzmann from the seed, no drift or rotation, scaled to exactly 300 K
  over 3N - 6 degrees of freedom), and run the same number of steps, so they time the same
  stretch of simulated time. Both timings include the one force evaluation at the start of a
  run (N steps = N + 1 force evaluations in both). The rounds alternate between the codes (in a
  rotating order), so background load falls on both alike; the median round is reported.
  SchNetPack is timed with torch's default thread count and, by default, also with one thread
  (``--torch-threads``): on a shared machine torch's OpenMP threads slow down many-fold when
  another process holds a core, and one thread is then much faster.

  replicas
    painnjax only: R = 1, 8, 64 copies of SA7AM7 (velocities drawn per replica from the seed)
    in one ``run_md`` call each (``MDConfig(replicas=R)``, all replicas advance in one jitted
    ``vmap``). Reported: steps/s and replica·atom·steps/s from the summary, and the same from
    the call's wall time minus its compile time (which adds the host-side record checks).

What the summary's ``steps_per_second`` covers (md/dynamics/simulate.py, md/dynamics/engine.py): the wall time of
every jitted chunk up to ``block_until_ready``, the first call that evaluates the initial forces
included, minus the ``lower().compile()`` time of every compilation (and a chunk re-run after a
pair-list overflow, if any, counts as run time). Not covered: setting up, drawing velocities and
the host-side safety checks and records between chunks (``out=None``: nothing is written).

The weights are random (seeded, untrained): the cluster is not at a minimum of this potential
and heats up in the first picoseconds (the thermostat then pulls it back). Rounds are short and
start from the same state, so the timed stretch is the same in both codes; the pairs within the
cutoff at the end of each round are recorded.

Usage:
    python benchmarks/bench_md.py                            # all parts, ~5-10 min on 2 CPU cores
    python benchmarks/bench_md.py --single-steps 400 --rounds 5
    python benchmarks/bench_md.py --replicas 1 8 --steps 200 50
    python benchmarks/bench_md.py --no-schnetpack            # painnjax only (no torch needed), e.g. on a GPU

Writes ``benchmarks/results/bench_md_<device>.json`` (or ``--out``). Exits with status 1 if the
two codes' energies of the start structure differ by more than ``--rtol`` (relative).
"""

from __future__ import annotations

import os

# Must precede any torch import: SchNetPack models are whole pickled modules, which
# torch >= 2.6 refuses to load with its default weights_only=True.
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import gc
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from bench_potential import (  # noqa: E402  (shared helpers of the benchmarks)
    BUSY_THRESHOLD,
    CpuMonitor,
    device_tag,
    machine_info,
    print_banner,
    result_header,
    shared_model,
    wait_for_idle,
)

import painnjax  # noqa: E402
from md import MDConfig, run_md  # noqa: E402
from painnjax.data import bundled_structure  # noqa: E402
from painnjax.nn.neighbors import count_pairs  # noqa: E402

HERE = Path(__file__).resolve().parent
STRUCTURE = "SA7AM7"
TEMPERATURE = 300.0  # K
DT = 0.5  # fs
TAU = 100.0  # fs, Nosé-Hoover chain time constant (ASE's tdamp)
CHAIN = 3  # thermostats in the chain, both codes
LOG_EVERY = 10  # painnjax's record interval (MDConfig default); step counts are multiples of it
# Defaults per platform: on a CPU each part takes well under a minute; on an accelerator the
# steps are many more, so that a rate of thousands of steps/s is still timed over seconds.
DEFAULTS = {
    "cpu": {"single_steps": 200, "rounds": 3, "replicas": (1, 8, 64), "steps": {1: 200, 8: 40, 64: 10}},
    "accelerator": {"single_steps": 5000, "rounds": 3, "replicas": (1, 8, 64), "steps": {1: 5000, 8: 5000, 64: 2000}},
}
ASE_WARMUP = 5  # untimed ASE steps (one run) before the rounds
ASE_MAX_S = 60.0  # a timed ASE round stops after this many seconds (busy machine: torch crawls)
PAUSE = 0.5  # s, untimed, between cases (lets spinning worker threads go idle)


# --------------------------------------------------------------------------------------------
# start state
# --------------------------------------------------------------------------------------------


def start_momenta(atoms, temperature: float, seed: int) -> np.ndarray:
    """Maxwell-Boltzmann momenta (amu Å / ASE time) without drift or rotation, scaled to exactly
    ``temperature`` over 3N - 6 degrees of freedom (the count painnjax's MD uses)."""
    from ase import units
    from ase.md.velocitydistribution import Stationary, ZeroRotation

    a = atoms.copy()
    # the draw of ASE's MaxwellBoltzmannDistribution(a, temperature_K, rng=default_rng(seed)), without its
    # deprecation warning (ASE >= 3.29) or the newer thermalize_momenta (ASE < 3.29 lacks it)
    xi = np.random.default_rng(seed).standard_normal((len(a), 3))
    a.set_momenta(xi * np.sqrt(a.get_masses() * units.kB * temperature)[:, None])
    Stationary(a)
    ZeroRotation(a)
    p = a.get_momenta()
    m = a.get_masses()
    dof = 3 * len(a) - 6
    e_kin = 0.5 * np.sum(p**2 / m[:, None])
    return p * np.sqrt(0.5 * dof * units.kB * temperature / e_kin)


def temperature_3n6(momenta, masses) -> float:
    from ase import units

    e_kin = 0.5 * np.sum(np.asarray(momenta) ** 2 / np.asarray(masses)[:, None])
    return float(2.0 * e_kin / ((3 * len(masses) - 6) * units.kB))


def pairs_within(positions, cutoff: float) -> int:
    """Unordered pairs within the cutoff."""
    return count_pairs(np.asarray(positions), cutoff) // 2


# --------------------------------------------------------------------------------------------
# painnjax
# --------------------------------------------------------------------------------------------


def md_config(steps: int, replicas: int, seed: int) -> MDConfig:
    return MDConfig(
        ensemble="nvt-nh",
        temperature=TEMPERATURE,
        dt=DT,
        steps=steps,
        replicas=replicas,
        seed=seed,
        tau=TAU,
        chain_length=CHAIN,
        log_every=LOG_EVERY,
    )


class JaxMD:
    """painnjax MD of one cluster through ``md.run_md`` (no output folder)."""

    def __init__(self, energy_fn, atoms, seed: int):
        self.energy_fn, self.atoms, self.seed = energy_fn, atoms, seed
        self.capacity = None  # the largest pair capacity seen: later calls start with it (no re-run)
        self.cutoff = float(energy_fn.cutoff)

    def run(self, steps: int, replicas: int = 1, momenta=None) -> dict:
        cfg = md_config(steps, replicas, self.seed)
        m = CpuMonitor()
        gc_was = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            res = run_md(
                self.energy_fn, self.atoms, cfg, out=None, progress=False, momenta=momenta, capacity=self.capacity
            )
            wall = time.perf_counter() - t0
        finally:
            if gc_was:
                gc.enable()
        bg = m.other_cores_busy()
        s = res.summary
        self.capacity = max(self.capacity or 0, s["pair_capacity"] or 0) or None
        done = int(s["steps_this_session"])
        own = wall - s["compile_seconds"]
        row = {
            "steps": steps,
            "replicas": replicas,
            "steps_done": done,
            "stop_reason": res.stop_reason,
            "steps_per_second": s["steps_per_second"],
            "replica_steps_per_second": s["replica_steps_per_second"],
            "atom_steps_per_second": None
            if s["steps_per_second"] is None
            else s["steps_per_second"] * replicas * len(self.atoms),
            "ns_per_day": s["ns_per_day"],
            "compile_seconds": s["compile_seconds"],
            "run_seconds": s["run_seconds"],
            "call_wall_seconds": wall,
            # the whole call minus its compilations: adds set-up, velocities and host-side record checks
            "wall_steps_per_second": done / own if own > 0 and done else None,
            "mean_temperature_K": s["mean_temperature_K"],
            "pair_capacity": s["pair_capacity"],
            "pair_reallocations": s["pair_reallocations"],
            "pairs_within_cutoff_end": [pairs_within(p, self.cutoff) for p in res.positions],
            "e_pot_end_eV": [float(res.thermo["e_pot_eV"][res.thermo["replica"] == r][-1]) for r in range(replicas)],
            "temperature_end_K": [
                float(res.thermo["temperature_K"][res.thermo["replica"] == r][-1]) for r in range(replicas)
            ],
            "other_processes_cores_busy": bg,
        }
        row["wall_atom_steps_per_second"] = (
            None if row["wall_steps_per_second"] is None else row["wall_steps_per_second"] * replicas * len(self.atoms)
        )
        if res.stop_reason != "completed" or res.messages:
            row["stop_messages"] = list(res.messages)
        return row


# --------------------------------------------------------------------------------------------
# SchNetPack + ASE
# --------------------------------------------------------------------------------------------


class AseMD:
    """ASE's Nosé-Hoover chain driving SchNetPack's calculator, restarted from a given state."""

    def __init__(self, torch, spk, model_file: str, atoms, cutoff: float, device):
        self.torch = torch
        self.atoms = atoms.copy()
        self.start = atoms.get_positions().copy()
        self.cutoff = cutoff
        self.atoms.calc = spk.interfaces.SpkCalculator(
            model_file,
            neighbor_list=spk.transform.ASENeighborList(cutoff=cutoff),
            energy_unit="eV",
            position_unit="Angstrom",
            device=device,
        )

    def _dyn(self, momenta):
        from ase import units
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        self.atoms.set_positions(self.start)
        self.atoms.set_momenta(momenta)
        return NoseHooverChainNVT(
            self.atoms, timestep=DT * units.fs, temperature_K=TEMPERATURE, tdamp=TAU * units.fs, tchain=CHAIN, tloop=1
        )

    def run(self, steps: int, momenta, threads: int | None, max_seconds: float = float("inf")) -> dict:
        if threads is not None:
            self.torch.set_num_threads(threads)
        dyn = self._dyn(momenta)
        m = CpuMonitor()
        gc_was = gc.isenabled()
        gc.disable()
        try:
            done = -1  # irun yields once after the initial forces, then after every step
            t0 = time.perf_counter()
            for _ in dyn.irun(steps):
                done += 1
                if time.perf_counter() - t0 > max_seconds:
                    break
            wall = time.perf_counter() - t0
        finally:
            if gc_was:
                gc.enable()
        bg = m.other_cores_busy()
        return {
            "steps": steps,
            "steps_done": done,
            "capped": done < steps,
            "seconds": wall,
            "steps_per_second": done / wall if done > 0 else None,
            "torch_threads": self.torch.get_num_threads(),
            "e_pot_end_eV": float(self.atoms.get_potential_energy()),
            "temperature_end_K": temperature_3n6(self.atoms.get_momenta(), self.atoms.get_masses()),
            "pairs_within_cutoff_end": pairs_within(self.atoms.positions, self.cutoff),
            "other_processes_cores_busy": bg,
        }


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _f(x, fmt=".2f", none="?") -> str:
    return none if x is None else format(x, fmt)


def _median(values):
    v = [x for x in values if x is not None]
    return float(np.median(v)) if v else None


def _max(values):
    v = [x for x in values if x is not None]
    return max(v) if v else None


def summarize_case(rounds: list[dict]) -> dict:
    sps = [r["steps_per_second"] for r in rounds]
    wall = [r.get("wall_steps_per_second") for r in rounds]
    return {
        "steps_per_second": _median(sps),
        "steps_per_second_all": sps,
        "wall_steps_per_second": _median(wall) if any(w is not None for w in wall) else None,
        "ms_per_step": None if _median(sps) is None else 1e3 / _median(sps),
        "other_processes_cores_busy": [r["other_processes_cores_busy"] for r in rounds],
        "other_processes_cores_busy_max": _max(r["other_processes_cores_busy"] for r in rounds),
    }


def print_single(single: dict, names: dict) -> None:
    head = (
        f"{'code':<34} {'steps/s':>8} {'ms/step':>8} {'ns/day':>7}  {'per round (steps/s)':<26} "
        f"{'wall steps/s':>12} {'bg max':>6}"
    )
    print(head)
    print("-" * len(head))
    for key, case in single["cases"].items():
        per = " ".join(_f(x, ".1f") for x in case["steps_per_second_all"])
        sps = case["steps_per_second"]
        print(
            f"{names[key]:<34} {_f(sps, '.2f'):>8} {_f(case['ms_per_step'], '.1f'):>8} "
            f"{_f(None if sps is None else sps * DT * 86400e-6, '.3f'):>7}  {per:<26} "
            f"{_f(case['wall_steps_per_second'], '.2f', '-'):>12} {_f(case['other_processes_cores_busy_max']):>6}"
        )
    print("-" * len(head))


def print_replicas(rows: list[dict], n_atoms: int) -> None:
    head = (
        f"{'R':>3} {'steps':>6} {'compile':>8} {'run':>7} | {'steps/s':>8} {'replica-steps/s':>15} "
        f"{'atom-steps/s':>12} | {'wall atom-steps/s':>17} | {'T mean':>6} {'stop':>9} {'bg':>5}"
    )
    units = (
        f"{'':>3} {'':>6} {'s':>8} {'s':>7} | {'':>8} {'':>15} {'':>12} | {'(host work incl.)':>17} | "
        f"{'K':>6} {'':>9} {'cores':>5}"
    )
    print(head)
    print(units)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['replicas']:>3} {r['steps_done']:>6} {r['compile_seconds']:>8.1f} {r['run_seconds']:>7.1f} | "
            f"{_f(r['steps_per_second']):>8} {_f(r['replica_steps_per_second'], '.1f'):>15} "
            f"{_f(r['atom_steps_per_second'], '.0f'):>12} | {_f(r['wall_atom_steps_per_second'], '.0f'):>17} | "
            f"{_f(r['mean_temperature_K'], '.0f'):>6} {r['stop_reason'][:9]:>9} "
            f"{_f(r['other_processes_cores_busy']):>5}"
        )
    print("-" * len(head))
    print(f"atom-steps/s = steps/s x R x {n_atoms} atoms (summary: jitted chunks only, compile excluded); 'wall' =")
    print("steps / (whole run_md call - compile), so it adds set-up and the host-side checks of the records.")


def md_git_state() -> str | None:
    """'+dirty' when md/ or benchmarks/bench_md.py have local changes (machine_info checks painnjax/ only)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "md", "benchmarks/bench_md.py"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return "dirty" if out.strip() else "clean"


def parse_ints(values) -> list[int]:
    out = []
    for v in values:
        out += [int(s) for s in str(v).replace(",", " ").split()]
    return out


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--structure", default=STRUCTURE, help=f"bundled structure (default {STRUCTURE})")
    p.add_argument(
        "--single-steps",
        type=int,
        default=None,
        help="steps per timed round of the single-trajectory comparison, both codes (default: 200 on a "
        "CPU, 5000 on an accelerator; a multiple of 10)",
    )
    p.add_argument("--rounds", type=int, default=None, help="timed rounds per code (default 3)")
    p.add_argument(
        "--ase-max-seconds",
        type=float,
        default=ASE_MAX_S,
        help=f"stop a timed ASE round after this many seconds (default {ASE_MAX_S:g}; the rate is then "
        "over the steps done)",
    )
    p.add_argument("--replicas", nargs="+", default=None, help="replica counts R (default: 1 8 64; 0: skip)")
    p.add_argument(
        "--steps",
        nargs="+",
        default=None,
        help="steps of the replica runs: one for all R or one per R (default on a CPU: 200 40 10 for "
        "R = 1 8 64; on an accelerator 5000 5000 2000; multiples of 10)",
    )
    p.add_argument("--no-schnetpack", action="store_true", help="time painnjax only (no torch / SchNetPack needed)")
    p.add_argument(
        "--torch-device", default=None, help="device for SchNetPack (default: cuda if torch sees one, else cpu)"
    )
    p.add_argument(
        "--torch-threads",
        nargs="+",
        type=int,
        default=None,
        help="torch thread counts to time SchNetPack with (default on a CPU: torch's default and 1)",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each timed case, wait up to S seconds for other processes to leave the CPU",
    )
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed of the weights and seed of the velocities")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative energy agreement required (default 1e-4)")
    p.add_argument(
        "--out", type=Path, default=None, help="JSON output (default: benchmarks/results/bench_md_<device>.json)"
    )
    args = p.parse_args(argv)
    t_start = time.perf_counter()

    platform = "cpu" if jax.devices()[0].platform == "cpu" else "accelerator"
    dflt = DEFAULTS[platform]
    single_steps = args.single_steps or dflt["single_steps"]
    rounds = args.rounds or dflt["rounds"]
    replicas = [r for r in parse_ints(args.replicas) if r > 0] if args.replicas is not None else list(dflt["replicas"])
    if args.steps is None:
        rep_steps = [dflt["steps"].get(r, 10) for r in replicas]
    else:
        s = parse_ints(args.steps)
        if len(s) not in (1, len(replicas)):
            p.error(f"--steps: give one value or one per replica count ({len(replicas)})")
        rep_steps = s * len(replicas) if len(s) == 1 else s
    for name, v in [("--single-steps", single_steps)] + [("--steps", x) for x in rep_steps]:
        if v <= 0 or v % LOG_EVERY:
            p.error(f"{name}: step counts must be positive multiples of {LOG_EVERY}, got {v}")

    # ---- the model, in both codes ---------------------------------------------------------
    shared = shared_model(args, "bench_md_")
    torch, spk, spk_skipped, tdev = shared.torch, shared.spk, shared.skipped, shared.device
    model, n_spk, weights, tmp, model_file = shared.model, shared.n_spk, shared.weights, shared.tmp, shared.model_file
    shared.nnp = None  # the ASE calculator loads its own copy from model_file
    if torch is not None:
        default_threads = torch.get_num_threads()
        if tdev.type != "cpu":
            threads = [None]
        elif args.torch_threads:
            threads = list(dict.fromkeys(args.torch_threads))
        else:
            threads = list(dict.fromkeys([default_threads, 1]))
    else:
        threads = []

    atoms = bundled_structure(args.structure)
    n_atoms = len(atoms)
    cutoff = float(model.config.cutoff)
    momenta = start_momenta(atoms, TEMPERATURE, args.seed)
    energy_fn = painnjax.potential(model, atoms, reference_positions=atoms.positions)

    info = machine_info(torch, tdev)
    print_banner(
        "painnjax (jax-md) vs SchNetPack + ASE: NVT Nosé-Hoover MD throughput, float32",
        info,
        tdev,
        spk_skipped,
        model,
        n_spk,
    )
    print(f"weights : {weights}")
    print(
        f"MD      : {args.structure} ({atoms.get_chemical_formula()}, {n_atoms} atoms, "
        f"{pairs_within(atoms.positions, cutoff)} pairs < {cutoff:g} Å), {TEMPERATURE:g} K, dt {DT:g} fs, "
        f"Nosé-Hoover chain of {CHAIN}, tau {TAU:g} fs; painnjax list {energy_fn.neighbor_mode}"
    )
    print(
        f"timing  : single trajectory {rounds} rounds x {single_steps} steps per code"
        + (
            f" (SchNetPack with torch threads {', '.join('default' if t is None else str(t) for t in threads)}; "
            f"an ASE round stops after {args.ase_max_seconds:g} s)"
            if threads
            else ""
        )
        + "; replicas "
        + ", ".join(f"R={r}: {s} steps" for r, s in zip(replicas, rep_steps))
    )
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load0 is not None:
        print(
            f"load avg: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start"
            + ("  (WARNING: machine busy; timings will be noisy)" if load0[0] > 0.5 * (os.cpu_count() or 1) else "")
        )
    print("=" * 100, flush=True)

    # ---- set-up: compile painnjax, check the energies, warm SchNetPack up ---------------------
    jmd = JaxMD(energy_fn, atoms, args.seed)
    agreement = None
    R = jnp.asarray(atoms.positions, jnp.float32)
    e_jax, f_jax = jax.block_until_ready(painnjax.energy_and_forces(energy_fn)(R))
    e_jax, f_jax = float(e_jax), np.asarray(f_jax, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SafetyStopWarning is recorded in the rows
        warm = jmd.run(LOG_EVERY, 1, momenta)
    print(
        f"painnjax: compile {warm['compile_seconds']:.1f} s (first run_md call, {LOG_EVERY} steps, "
        f"call {warm['call_wall_seconds']:.1f} s); E(start) = {e_jax:.6f} eV",
        flush=True,
    )
    ase_md = None
    if torch is not None:
        ase_md = AseMD(torch, spk, model_file, atoms, cutoff, tdev)
        probe = atoms.copy()
        probe.calc = ase_md.atoms.calc
        e_spk = float(probe.get_potential_energy())
        f_spk = probe.get_forces()
        rel = abs(e_jax - e_spk) / max(abs(e_spk), 1e-12)
        agreement = {
            "energy_painnjax_eV": e_jax,
            "energy_schnetpack_eV": e_spk,
            "energy_rel_diff": rel,
            "forces_max_abs_diff_eV_per_A": float(np.abs(f_jax - f_spk).max()),
            "forces_max_abs_eV_per_A": float(np.abs(f_spk).max()),
            "ok": bool(rel < args.rtol),
        }
        ase_warm = {}
        for th in threads:
            w = ase_md.run(ASE_WARMUP, momenta, th)
            ase_warm[str(th)] = w["seconds"]
        print(
            f"SchNetPack: E(start) = {e_spk:.6f} eV, rel diff {rel:.1e}, max |dF| "
            f"{agreement['forces_max_abs_diff_eV_per_A']:.1e} eV/Å -> {'OK' if agreement['ok'] else 'MISMATCH'}; "
            f"ASE warm-up ({ASE_WARMUP} steps) " + ", ".join(f"{v:.1f} s" for v in ase_warm.values()),
            flush=True,
        )

    # ---- single trajectory: rounds, the codes alternating --------------------------------------
    names = {"painnjax": "painnjax (run_md, jax-md NHC)"}
    for th in threads:
        names[f"spk_{th}"] = (
            f"SchNetPack+ASE (torch {'default' if th is None else f'{th} thread' + ('s' if th != 1 else '')})"
        )
    short = {
        k: "painnjax" if k == "painnjax" else f"SchNetPack+ASE[{'default' if t is None else f'{t} thr'}]"
        for k, t in zip(names, [None] + threads)
    }
    per_case = {k: [] for k in names}
    keys = list(names)
    for i in range(rounds):
        order = keys[i % len(keys) :] + keys[: i % len(keys)]
        line = []
        for k in order:
            waited = wait_for_idle(args.wait_idle)
            time.sleep(PAUSE)
            if k == "painnjax":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row = jmd.run(single_steps, 1, momenta)
            else:
                th = threads[keys.index(k) - 1]
                row = ase_md.run(single_steps, momenta, th, args.ase_max_seconds)
            row["round"] = i
            row["waited_for_idle_s"] = waited
            per_case[k].append(row)
            line.append(
                f"{short[k]} {_f(row['steps_per_second'], '.2f')} steps/s"
                + (f" ({row['steps_done']} steps, capped)" if row.get("capped") else "")
                + f" (bg {_f(row['other_processes_cores_busy'])})"
            )
        print(f"round {i + 1}/{rounds}: " + "; ".join(line), flush=True)
    single = {"steps": single_steps, "rounds": rounds, "cases": {}}
    for k in keys:
        case = summarize_case(per_case[k])
        case["rounds_detail"] = per_case[k]
        single["cases"][k] = case
    jx = single["cases"]["painnjax"]["steps_per_second"]
    if threads:
        spk_rates = {k: single["cases"][k]["steps_per_second"] for k in keys[1:]}
        # torch's default thread count (on a GPU: the one case, threads None), if it was timed
        default_key = "spk_None" if threads == [None] else f"spk_{default_threads}"
        default_key = default_key if default_key in spk_rates else None
        best_key = max((k for k in spk_rates if spk_rates[k] is not None), key=lambda k: spk_rates[k], default=None)
        single["ratio_vs_default_threads"] = (
            (jx / spk_rates[default_key]) if jx and default_key and spk_rates[default_key] else None
        )
        single["ratio_vs_best_threads"] = (jx / spk_rates[best_key]) if jx and best_key else None
        single["schnetpack_best"] = best_key
        single["schnetpack_default_threads"] = default_threads if tdev.type == "cpu" else None

    # ---- replicas ------------------------------------------------------------------------------
    rep_rows = []
    for R_, S in zip(replicas, rep_steps):
        waited = wait_for_idle(args.wait_idle)
        time.sleep(PAUSE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = jmd.run(S, R_)
        row["waited_for_idle_s"] = waited
        rep_rows.append(row)
        print(
            f"replicas R={R_}: {S} steps, compile {row['compile_seconds']:.1f} s, run {row['run_seconds']:.1f} s: "
            f"{_f(row['steps_per_second'])} steps/s, {_f(row['atom_steps_per_second'], '.0f')} atom-steps/s "
            f"(wall-based {_f(row['wall_atom_steps_per_second'], '.0f')}), stop: {row['stop_reason']}, "
            f"bg {_f(row['other_processes_cores_busy'])}",
            flush=True,
        )

    # ---- report ---------------------------------------------------------------------------------
    print()
    print(
        f"Single trajectory, {args.structure} ({n_atoms} atoms), {rounds} rounds of {single_steps} steps from the same "
        f"start state (median round):"
    )
    print_single(single, names)
    if threads:
        r_def = single["ratio_vs_default_threads"]
        print(
            "painnjax / SchNetPack+ASE: "
            + (
                f"{r_def:.2f}x against torch's default threads, "
                if r_def is not None
                else "(torch's default threads not timed) "
            )
            + f"{_f(single['ratio_vs_best_threads'])}x against SchNetPack's best thread count here "
            "(target >= 5x on this CPU)"
        )
        if agreement is not None:
            print(
                f"energy of the start structure: painnjax {agreement['energy_painnjax_eV']:.6f} eV, SchNetPack "
                f"{agreement['energy_schnetpack_eV']:.6f} eV (rel diff {agreement['energy_rel_diff']:.1e})"
            )
    busy = _max(r["other_processes_cores_busy"] for c in per_case.values() for r in c)
    print("'bg max' = most cores kept busy by other processes during one timed round (should be ~0); painnjax's rate")
    print("is the run_md summary's steps_per_second (jitted chunks incl. the initial force call, compile excluded);")
    print("'wall steps/s' = steps / (whole run_md call - compile): adds set-up and the host-side record checks.")
    if busy is not None and busy > BUSY_THRESHOLD:
        print(
            f"WARNING: other processes used up to {busy:.2f} cores during the timing; the rates (SchNetPack's with "
            f"several torch threads especially) are unreliable"
        )
    if rep_rows:
        print()
        print(f"Replicas of {args.structure} in one run_md call (painnjax only):")
        print_replicas(rep_rows, n_atoms)
    total = time.perf_counter() - t_start
    print(f"total wall time {total:.0f} s")

    out = args.out or HERE / "results" / f"bench_md_{device_tag()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        **result_header("bench_md", argv, info, shared),
        "md_git_state": md_git_state(),
        "inputs": {
            "structure": args.structure,
            "formula": atoms.get_chemical_formula(),
            "n_atoms": n_atoms,
            "pairs_within_cutoff_start": pairs_within(atoms.positions, cutoff),
            "cutoff_A": cutoff,
            "temperature_K": TEMPERATURE,
            "dt_fs": DT,
            "tau_fs": TAU,
            "chain_length": CHAIN,
            "painnjax_config": md_config(single_steps, 1, args.seed).to_dict(),
            "painnjax_neighbor_mode": energy_fn.neighbor_mode,
            "ase_integrator": f"ase.md.nose_hoover_chain.NoseHooverChainNVT(tdamp={TAU:g} fs, tchain={CHAIN}, tloop=1)",
            "start_momenta": f"Maxwell-Boltzmann (numpy seed {args.seed}), Stationary, ZeroRotation, scaled to "
            f"{TEMPERATURE:g} K over 3N-6 dof; the same in both codes and every round",
            "single_steps": single_steps,
            "rounds": rounds,
            "ase_warmup_steps": ASE_WARMUP,
            "ase_max_seconds": args.ase_max_seconds,
            "torch_threads": threads,
            "replicas": replicas,
            "replica_steps": rep_steps,
            "seed": args.seed,
            "wait_idle_s": args.wait_idle,
        },
        "timed": {
            "painnjax": "run_md(..., out=None, progress=False) summary steps_per_second: jitted chunks incl. the "
            "initial force evaluation, block_until_ready, minus lower().compile() time; one untimed "
            "10-step call compiles first",
            "schnetpack_ase": "wall time of NoseHooverChainNVT.irun(steps) with SpkCalculator, incl. the initial "
            "force evaluation; one untimed warm-up run per thread count first",
        },
        "schnetpack": ase_md is not None,
        "schnetpack_skipped": spk_skipped,
        "energy_agreement": agreement,
        "painnjax_compile_seconds": warm["compile_seconds"],
        "painnjax_warmup_call": warm,
        "loadavg_start": list(load0) if load0 is not None else None,
        "single_trajectory": single,
        "replicas": rep_rows,
        "total_wall_s": total,
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    tmp.cleanup()
    return 0 if agreement is None or agreement["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
