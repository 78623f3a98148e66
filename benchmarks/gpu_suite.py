#!/usr/bin/env python
"""GPU benchmark suite: latency, MD, replicas, training and screening of painnjax in one time budget.

Written for a lent GPU (one H100/H200): ``bash benchmarks/gpu_suite.sh`` installs the wheels in
``.whl`` (jax-md, e3nn-jax, ase) and runs this script, which must finish in under 8 minutes. On
a CPU, ``--cpu-smoke`` runs every part on tiny sizes (``SMOKE``: 11-66 atoms, a few steps and a
seeded 16-feature model instead of ``saam-gfn1`` outside the latency part, which compiles
quicker; what ``tests/benchmarks`` checks). Only data bundled with the package is used, and no
torch or SchNetPack. Parts (``--parts``):

  latency   jitted energy + forces (``painnjax.energy_and_forces(painnjax.potential(...))``,
            float32, the shipped ``saam-gfn1``) of the bundled (SA)n(AM)n clusters (11-165
            atoms) and of a ~1,000-atom cluster of copies of SA7AM7 on a cubic grid, spaced so
            that neighbouring copies interact: median of timed calls after a warm-up
            (``block_until_ready``), compile (first call) apart. Clusters up to 77 atoms are also
            timed with the (N, N) ``PairMatrix`` layout and, where the default is the sparse
            list, with all pairs, so that the device tells which layout wins.
  md        Nosé-Hoover chain MD of one SA7AM7 trajectory (``md.run_md`` through
            ``bench_md.JaxMD``, 0.5 fs, 300 K): steps/s of the run summary (compile excluded),
            after an untimed 10-step call that compiles.
  replicas  atom-steps/s of R = 1, 4, ..., 4096 replicas of SA7AM7 in one ``run_md`` call each;
            the sweep stops when the part's time is spent or the device runs out of memory.
  train     structures/s of ``painnjax.training.trainer.Trainer`` (energies and forces in the
            loss, ``bench_train.JaxRun``) on the bundled ``saam-gfn1-small`` set with the
            default-size model at batch sizes 2, 32, 128; one untimed epoch compiles first.
  screen    structures/s of 1,000 random SA4AM4 candidates minimised in one batch (1,000 slots)
            by ``md.optimize.batch.minimize_batch`` (L-BFGS, fmax 0.05 eV/Å); a one-chunk call
            compiles first and sizes the step cap to the time left.

Time: ``--budget-s`` (default 420 s) is shared between the parts by weight; time a part leaves
unused goes to the parts after it. A part stops its sweep when its share is spent (or an item
would not fit in what is left) and records what it skipped; a full run does not start a part
whose share is below what its first item takes (``MIN_SHARE_S``). A part that crashes is recorded with
its error, the others still run, and the exit status is then 1.

Writes ``gpu_suite_<device>.json`` (every number, the machine, versions, skipped items) and
``gpu_suite_<device>.md`` (a section ready to paste into ``benchmarks/RESULTS.md``) to ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import datetime as _dt
import itertools
import json
import math
import shlex
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from bench_potential import (  # noqa: E402  (shared helpers of the benchmarks)
    CpuMonitor,
    device_tag,
    machine_info,
    run_cases,
    summarize,
)

import painnjax  # noqa: E402
from painnjax.data import bundled_structure  # noqa: E402
from painnjax.nn.neighbors import count_pairs, pair_matrix  # noqa: E402

HERE = Path(__file__).resolve().parent
PARTS = ("latency", "md", "replicas", "train", "screen")
# Shares of the budget; time a part leaves unused goes to the parts after it.
WEIGHTS = {"latency": 2.5, "md": 1.0, "replicas": 2.5, "train": 3.5, "screen": 2.0}
# A full run does not start a part with a smaller share (s): its first item, which always runs,
# takes about that long (compiles), and would overrun the budget.
MIN_SHARE_S = {"latency": 10.0, "md": 10.0, "replicas": 15.0, "train": 40.0, "screen": 25.0}
MODEL = "saam-gfn1"
SEED = 0
ELEMENTS = (1, 7, 8, 16)  # H, N, O, S
GAP = 2.5  # Å between the bounding boxes of neighbouring copies in the grid cluster (< the 5 Å cutoff)

# Sizes of a run on the device (FULL) and of the CPU smoke run (SMOKE, well under a minute).
FULL = {
    "latency_sizes": (1, 2, 4, 7, 10, 15),
    "grid": ("SA7AM7", 13),  # 13 x 77 = 1,001 atoms
    "layouts_max_atoms": 77,
    "latency_target_s": 1.0,  # timed calls per case: about this long, within the bounds below
    "latency_calls": (10, 200),
    "md_structure": "SA7AM7",
    "md_rounds": 3,
    "md_steps": (100, 50_000),  # bounds of a timed round
    "replicas": (1, 4, 16, 64, 256, 1024, 4096),
    "replica_structure": "SA7AM7",
    "replica_steps": (10, 20_000),
    "sim_model": None,  # MD, replicas and screening: the shipped saam-gfn1 (trained: sane dynamics and minima)
    "train_config": None,  # the default PaiNNConfig (128 features, 5 interactions)
    "train_batch_sizes": (2, 32, 128),
    "train_structures": None,  # all 256 of saam-gfn1-small
    "train_buckets": 4,  # TrainConfig's default
    "train_epochs": 2,
    "screen_composition": "SA4AM4",
    "screen_n": 1000,
    "screen_fmax": 0.05,
    "screen_max_steps": 1000,
    "screen_chunk": 50,
}
SMOKE = {
    **FULL,
    "latency_sizes": (1, 2),
    "grid": ("SA1AM1", 6),  # 66 atoms
    "layouts_max_atoms": 11,
    "latency_target_s": 0.0,
    "latency_calls": (3, 3),
    "md_structure": "SA1AM1",
    "md_rounds": 1,
    "md_steps": (20, 20),
    "replicas": (1, 2),
    "replica_structure": "SA1AM1",
    "replica_steps": (10, 10),
    "sim_model": {"n_atom_basis": 16, "n_interactions": 1, "n_rbf": 8},  # seeded: quick to compile
    "train_config": {"n_atom_basis": 16, "n_interactions": 1, "n_rbf": 8},
    "train_batch_sizes": (2, 4),
    "train_structures": 12,
    "train_buckets": 1,
    "train_epochs": 1,
    "screen_n": 4,
    "screen_max_steps": 20,
    "screen_chunk": 10,
}


# --------------------------------------------------------------------------------------------
# time shares
# --------------------------------------------------------------------------------------------


class Share:
    """A part's share of the budget: what it has spent, and whether an item of a predicted cost fits."""

    def __init__(self, seconds: float):
        self.seconds = max(float(seconds), 0.0)
        self.t0 = time.perf_counter()

    def spent(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.seconds - self.spent()

    def fits(self, predicted: float = 0.0) -> bool:
        return self.spent() + max(predicted, 0.0) <= self.seconds

    def why(self, predicted: float = 0.0) -> str:
        return (
            f"time share spent: {self.spent():.0f} of {self.seconds:.0f} s used, the next item was "
            f"expected to take {predicted:.0f} s"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return isinstance(exc, MemoryError) or any(
        s in text for s in ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory", "OOM")
    )


def short_lists(row: dict, most: int = 16) -> dict:
    """``row`` with every list longer than ``most`` replaced by its count, min, median and max."""
    out = {}
    for k, v in row.items():
        if isinstance(v, list) and len(v) > most and all(isinstance(x, (int, float)) for x in v):
            a = np.asarray(v, np.float64)
            v = {"n": len(v), "min": float(a.min()), "median": float(np.median(a)), "max": float(a.max())}
        out[k] = v
    return out


_POTENTIALS: dict = {}
_MODELS: dict = {}


def seeded_model(config: dict | None):
    """``Model.init(PaiNNConfig(**config), seed=SEED)`` (the default size for None), made once per config:
    initialising compiles, several seconds on a CPU."""
    key = json.dumps(config or {}, sort_keys=True)
    if key not in _MODELS:
        _MODELS[key] = painnjax.Model.init(painnjax.PaiNNConfig(**(config or {})), seed=SEED, elements=ELEMENTS)
    return _MODELS[key]


def preimport() -> None:
    """Import what the parts need before they start, so that no part's share pays for it (jax-md
    compiles at import). A failure is left to the part that needs the module, which records it."""
    for name in ("bench_md", "bench_train", "md.optimize.batch", "md.screening.candidates", "md.structures"):
        try:
            __import__(name)
        except Exception as exc:  # noqa: BLE001 - the part that imports it records the error
            print(f"note: importing {name} failed ({type(exc).__name__}: {exc})", flush=True)


def cluster_potential(model, name: str):
    """The bundled cluster ``name`` and its potential (one object per cluster, so that the
    compiled MD chunks of one part serve the next)."""
    if name not in _POTENTIALS:
        atoms = bundled_structure(name)
        _POTENTIALS[name] = (atoms, painnjax.potential(model, atoms, reference_positions=atoms.positions))
    return _POTENTIALS[name]


# --------------------------------------------------------------------------------------------
# latency
# --------------------------------------------------------------------------------------------


def grid_cluster(atoms, copies: int, gap: float = GAP):
    """``copies`` copies of ``atoms`` on a cubic grid (filled in order), neighbouring bounding boxes
    ``gap`` Å apart along each axis, so that atoms of neighbouring copies are within the cutoff."""
    pos = atoms.positions - atoms.positions.min(axis=0)
    spacing = pos.max(axis=0) + gap
    k = math.ceil(round(copies ** (1 / 3), 9))
    out = None
    for idx in itertools.islice(itertools.product(range(k), repeat=3), copies):
        c = atoms.copy()
        c.positions = pos + spacing * np.asarray(idx)
        out = c if out is None else out + c
    out.positions -= out.positions.mean(axis=0)
    return out, spacing


def latency_cases(model, atoms, layouts_max_atoms: int) -> dict:
    """The layouts to time for one cluster: name -> (energy_fn, neighbor argument or None)."""
    n = len(atoms)
    default = painnjax.potential(model, atoms, reference_positions=atoms.positions)
    cases = {f"default ({default.neighbor_mode})": (default, None)}
    if n <= layouts_max_atoms:
        if default.neighbor_mode != "all":
            cases["all pairs"] = (painnjax.potential(model, atoms, neighbor="all"), None)
        cases["PairMatrix"] = (default, pair_matrix(jnp.ones(n, bool)))
    return cases


def time_cluster(model, label: str, atoms, cfg: dict, share: Share, skipped: list, extra: dict | None = None) -> dict:
    """Compile and time every layout of one cluster (round-robin, as bench_potential does)."""
    cutoff = float(model.config.cutoff)
    row = {
        "cluster": label,
        "n_atoms": len(atoms),
        "pairs_within_cutoff": count_pairs(atoms.positions, cutoff),
        **(extra or {}),
        "layouts": {},
    }
    R = jnp.asarray(atoms.positions, jnp.float32)
    calls, est = {}, {}
    for name, (energy_fn, neighbor) in latency_cases(model, atoms, cfg["layouts_max_atoms"]).items():
        if calls and not share.fits():
            skipped.append({"item": f"{label} {name}", "reason": share.why()})
            continue
        fn = painnjax.energy_and_forces(energy_fn)
        t0 = time.perf_counter()
        e, f = jax.block_until_ready(fn(R, neighbor))
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(fn(R, neighbor))
        est[name] = time.perf_counter() - t0
        calls[name] = (lambda: None, lambda fn=fn, nb=neighbor: jax.block_until_ready(fn(R, nb)))
        row["layouts"][name] = {
            "neighbor_mode": energy_fn.neighbor_mode if neighbor is None else "matrix",
            "pair_capacity": energy_fn.capacity if neighbor is None else None,
            "compile_s": compile_s,
            "energy_eV": float(e),
            "max_force_eV_per_A": float(jnp.abs(f).max()),
        }
    lo, hi = cfg["latency_calls"]
    per_round = sum(est.values())
    repeats = int(np.clip(cfg["latency_target_s"] / max(per_round, 1e-9), lo, hi))
    repeats = max(1, min(repeats, int(share.left() / max(per_round, 1e-9))))
    for name, times in run_cases(calls, repeats, warmup=1, pause=0.0).items():
        row["layouts"][name].update(summarize(times))
    return row


def part_latency(ctx) -> dict:
    cfg, share, model = ctx["cfg"], ctx["share"], ctx["model"]
    rows, skipped = [], []
    # The grid cluster right after the bundled clusters up to its copies' size: the budget then
    # leaves out the largest bundled clusters before it (the report sorts by size).
    copy_of = cfg["grid"][0]
    clusters = [(f"SA{n}AM{n}", None) for n in cfg["latency_sizes"]]
    at = next((i + 1 for i, (name, _) in enumerate(clusters) if name == copy_of), len(clusters))
    clusters.insert(at, cfg["grid"])
    last_wall = 0.0
    for name, copies in clusters:
        label = name if copies is None else f"{copies}x{name} grid"
        if rows and not share.fits(last_wall):
            skipped.append({"item": label, "reason": share.why(last_wall)})
            continue
        t0 = time.perf_counter()
        atoms = bundled_structure(name)
        extra = None
        if copies is not None:
            one = count_pairs(atoms.positions, float(model.config.cutoff))
            atoms, spacing = grid_cluster(atoms, copies)
            total = count_pairs(atoms.positions, float(model.config.cutoff))
            extra = {
                "copies": copies,
                "copy_of": name,
                "grid_spacing_A": [float(x) for x in spacing],
                "gap_A": GAP,
                "pairs_between_copies": total - copies * one,
            }
        row = time_cluster(model, label, atoms, cfg, share, skipped, extra)
        row["wall_s"] = last_wall = time.perf_counter() - t0
        rows.append(row)
        print(
            f"latency {label} ({row['n_atoms']} atoms, {row['pairs_within_cutoff']} pairs): "
            + "; ".join(
                f"{k} {v['median_ms']:.2f} ms (compile {v['compile_s']:.1f} s)"
                for k, v in row["layouts"].items()
                if "median_ms" in v
            ),
            flush=True,
        )
    return {"rows": sorted(rows, key=lambda r: r["n_atoms"]), "skipped": skipped}


# --------------------------------------------------------------------------------------------
# MD and replicas
# --------------------------------------------------------------------------------------------


def round_steps(x: float, lo: int, hi: int, step: int) -> int:
    """``x`` steps rounded down to a multiple of ``step``, within [lo, hi]."""
    return int(np.clip(int(x // step) * step, lo, hi))


def part_md(ctx) -> dict:
    from bench_md import DT, LOG_EVERY, TEMPERATURE, JaxMD, start_momenta

    cfg, share, model = ctx["cfg"], ctx["share"], ctx["sim_model"]
    atoms, energy_fn = cluster_potential(model, cfg["md_structure"])
    jmd = JaxMD(energy_fn, atoms, SEED)
    momenta = start_momenta(atoms, TEMPERATURE, SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a safety stop is recorded in the rows
        warm = jmd.run(LOG_EVERY, 1, momenta)
        per_step = warm["run_seconds"] / (LOG_EVERY + 1)
        print(
            f"md {cfg['md_structure']}: compile {warm['compile_seconds']:.1f} s, {per_step * 1e3:.2f} ms/step "
            "in the warm-up call",
            flush=True,
        )
        rounds, skipped = [], []
        lo, hi = cfg["md_steps"]
        for i in range(cfg["md_rounds"]):
            target = share.left() / (cfg["md_rounds"] - i) * 0.8
            steps = round_steps(target / max(per_step, 1e-9), lo, hi, LOG_EVERY)
            if rounds and not share.fits(steps * per_step):
                skipped.append({"item": f"round {i + 1}", "reason": share.why(steps * per_step)})
                break
            row = jmd.run(steps, 1, momenta)
            row["round"] = i + 1
            rounds.append(row)
            if row["steps_per_second"]:
                per_step = 1.0 / row["steps_per_second"]
            print(
                f"md round {i + 1}: {row['steps_done']} steps, {_f(row['steps_per_second'], '.1f')} steps/s "
                f"({row['stop_reason']})",
                flush=True,
            )
    rates = [r["steps_per_second"] for r in rounds if r["steps_per_second"]]
    sps = float(np.median(rates)) if rates else None
    return {
        "structure": cfg["md_structure"],
        "n_atoms": len(atoms),
        "temperature_K": TEMPERATURE,
        "dt_fs": DT,
        "ensemble": "nvt-nh",
        "neighbor_mode": energy_fn.neighbor_mode,
        "compile_s": warm["compile_seconds"],
        "warmup": warm,
        "steps_per_second": sps,
        "ms_per_step": None if not sps else 1e3 / sps,
        "ns_per_day": None if not sps else sps * DT * 86400e-6,
        "rounds": rounds,
        "skipped": skipped,
    }


def part_replicas(ctx) -> dict:
    from bench_md import LOG_EVERY, JaxMD

    cfg, share, model = ctx["cfg"], ctx["share"], ctx["sim_model"]
    atoms, energy_fn = cluster_potential(model, cfg["replica_structure"])
    jmd = JaxMD(energy_fn, atoms, SEED)
    lo, hi = cfg["replica_steps"]
    sweep = list(cfg["replicas"])
    rows, skipped, stopped = [], [], None
    predicted = 0.0
    for k, R in enumerate(sweep):
        if rows and not share.fits(predicted):
            skipped += [{"item": f"R={r}", "reason": share.why(predicted)} for r in sweep[k:]]
            break
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warm = jmd.run(LOG_EVERY, R)
                per_step = warm["run_seconds"] / (LOG_EVERY + 1)
                target = 0.5 * share.left() / (len(sweep) - k)
                steps = round_steps(target / max(per_step, 1e-9), lo, hi, LOG_EVERY)
                row = jmd.run(steps, R)
        except Exception as exc:  # noqa: BLE001 - a device out of memory ends the sweep, recorded
            if not is_out_of_memory(exc) or not rows:
                raise
            stopped = f"R={R}: {type(exc).__name__}: {str(exc)[:500]}"
            skipped += [{"item": f"R={r}", "reason": "out of device memory at R=" + str(R)} for r in sweep[k:]]
            print(f"replicas: stopped at {stopped}", flush=True)
            break
        row = short_lists(row)
        row["compile_s"] = warm["compile_seconds"]
        row["item_wall_s"] = time.perf_counter() - t0
        rows.append(row)
        # the next R: a compile like this one's, and the same timed share (the steps adapt)
        predicted = warm["call_wall_seconds"] + 4 * per_step * (LOG_EVERY + 1) + target
        print(
            f"replicas R={R}: {row['steps_done']} steps, {_f(row['steps_per_second'], '.1f')} steps/s, "
            f"{_f(row['atom_steps_per_second'], '.3g')} atom-steps/s (compile {row['compile_s']:.1f} s, "
            f"{row['stop_reason']})",
            flush=True,
        )
    return {
        "structure": cfg["replica_structure"],
        "n_atoms": len(atoms),
        "rows": rows,
        "skipped": skipped,
        "stopped": stopped,
    }


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


def part_train(ctx) -> dict:
    from bench_train import JaxRun, _rates, stratified_sample
    from bench_train import describe as describe_data

    from painnjax.data import bundled_dataset_path

    cfg, share = ctx["cfg"], ctx["share"]
    ds = painnjax.read_dataset(bundled_dataset_path("saam-gfn1-small"))
    ds = painnjax.to_binding_energies(ds, bundled_dataset_path("saam-gfn1-monomers"))
    if cfg["train_structures"] is not None:
        ds = ds.subset(stratified_sample(ds.compositions, cfg["train_structures"], SEED))
    model = seeded_model(cfg["train_config"])  # bench_train's painnjax-only model (PaiNNConfig(), seeded)
    n_struct, n_atoms = len(ds), int(ds.n_atoms.sum())
    rows, skipped = [], []
    predicted = 0.0
    sweep = list(cfg["train_batch_sizes"])
    for k, B in enumerate(sweep):
        if rows and not share.fits(predicted):
            skipped += [{"item": f"B={b}", "reason": share.why(predicted)} for b in sweep[k:]]
            break
        t0 = time.perf_counter()
        jr = JaxRun(model, ds, B, cfg["train_buckets"], SEED)
        row = {"batch_size": B, **jr.padding()}
        row["warmup"] = jr.warmup()
        times, bg = [], []
        for e in range(1, cfg["train_epochs"] + 1):
            if times and not share.fits(times[-1]):
                skipped.append({"item": f"B={B} epoch {e}", "reason": share.why(times[-1])})
                break
            m = CpuMonitor()
            times.append(jr.epoch(e))
            bg.append(m.other_cores_busy())
        row.update(_rates(times, n_struct, n_atoms, bg))
        row["compile_s"] = row["warmup"]["compile_s_est"]
        row["item_wall_s"] = time.perf_counter() - t0
        rows.append(row)
        predicted = row["item_wall_s"]
        print(
            f"train B={B}: {row['structures_per_s']:.1f} structures/s, {row['atoms_per_s']:.0f} atoms/s "
            f"(compile ≈ {row['compile_s']:.1f} s over {len(jr.buckets)} buckets; {len(times)} timed epochs)",
            flush=True,
        )
    return {
        "model": {"config": model.config.to_dict(), "n_parameters": model.n_parameters},
        "data": {"name": "saam-gfn1-small", "energies": "binding energies (eV)", **describe_data(ds)},
        "loss": "0.01*MAE(E) + 0.99*MAE(F) (bench_train.JaxRun)",
        "buckets": cfg["train_buckets"],
        "rows": rows,
        "skipped": skipped,
    }


# --------------------------------------------------------------------------------------------
# screening
# --------------------------------------------------------------------------------------------


def part_screen(ctx) -> dict:
    from md.forces.build import build_potential
    from md.optimize.batch import minimize_batch
    from md.screening.candidates import random_candidates

    cfg, share, model = ctx["cfg"], ctx["share"], ctx["sim_model"]
    n, chunk, fmax = cfg["screen_n"], cfg["screen_chunk"], cfg["screen_fmax"]
    t0 = time.perf_counter()
    try:  # many tiny draws: quicker on the host (absent when JAX_PLATFORMS leaves the CPU out)
        host = jax.devices("cpu")[0]
    except RuntimeError:
        host = jax.devices()[0]
    with jax.default_device(host):
        candidates = random_candidates(cfg["screen_composition"], n, seed=SEED)
    made_s = time.perf_counter() - t0
    P0 = np.stack([a.positions for a in candidates])
    energy_fn = build_potential(model, candidates[0])
    kw = dict(fmax=fmax, slots=n, chunk_steps=chunk, method="lbfgs")
    warm = minimize_batch(energy_fn, P0, max_steps=chunk, **kw)  # compiles; one chunk of every slot
    per_chunk = warm.seconds
    affordable = round_steps(0.7 * share.left() / max(per_chunk, 1e-9) * chunk, chunk, cfg["screen_max_steps"], chunk)
    print(
        f"screen: {n} x {cfg['screen_composition']} made in {made_s:.1f} s; compile {warm.compile_seconds:.1f} s, "
        f"{per_chunk:.2f} s per chunk of {chunk} L-BFGS iterations; step cap {affordable}",
        flush=True,
    )
    skipped = []
    if affordable < cfg["screen_max_steps"]:
        skipped.append(
            {"item": f"L-BFGS iterations {affordable + 1}-{cfg['screen_max_steps']}", "reason": share.why(0)}
        )
    res = minimize_batch(energy_fn, P0, max_steps=affordable, **kw)
    calls = np.asarray(res.force_calls, np.float64)
    out = {
        "composition": cfg["screen_composition"],
        "n_atoms": len(candidates[0]),
        "candidates": n,
        "slots": res.slots,
        "devices": res.devices,
        "method": res.method,
        "fmax_eV_per_A": fmax,
        "max_steps": affordable,
        "chunk_steps": chunk,
        "candidates_seconds": made_s,
        "compile_s": warm.compile_seconds,
        "compile_s_in_run": res.compile_seconds,
        "warmup_chunk_s": per_chunk,
        "run_seconds": res.seconds,
        "structures_per_second": res.structures_per_second,
        "converged_share": float(np.mean(res.converged)),
        "converged_structures_per_second": float(np.sum(res.converged)) / res.seconds,
        "force_calls_mean": float(calls.mean()),
        "force_calls_max": float(calls.max()),
        "force_calls_per_second": float(calls.sum()) / res.seconds,
        "pair_reallocations": res.pair_reallocations,
        "energy_lowest_eV": float(np.nanmin(res.energies)),
        "skipped": skipped,
    }
    print(
        f"screen: {out['structures_per_second']:.2f} structures/s ({out['converged_share']:.0%} converged within "
        f"{affordable} iterations, {out['force_calls_mean']:.0f} force calls each), run {res.seconds:.1f} s",
        flush=True,
    )
    return out


RUNNERS = {
    "latency": part_latency,
    "md": part_md,
    "replicas": part_replicas,
    "train": part_train,
    "screen": part_screen,
}


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _f(x, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _table(head: list[str], rows: list[list]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(str(c) for c in r) + " |" for r in rows),
    ]


def _skipped(part: dict) -> list[str]:
    items = part.get("skipped") or []
    if not items:
        return []
    return ["", "Skipped: " + "; ".join(f"{s['item']} ({s['reason']})" for s in items) + "."]


def markdown(result: dict) -> str:
    info = result["machine"]
    v = info["versions"]
    gpus = info.get("nvidia_smi")
    device = gpus[0] if gpus else f"{info['jax_device_kind']} ({info['jax_platform']})"
    out = [
        f"## GPU suite: {info['jax_device_kind']} ({result['mode']})",
        "",
        f"- Date: {result['date'][:10]}. Commit: {info['git']} (painnjax {v['painnjax']}).",
        f"- Device: {device}; jax {v['jax']} (jaxlib {v.get('jaxlib', '?')}), flax {v.get('flax', '?')}, "
        f"devices {', '.join(info['jax_devices'])}; host {info.get('cpu_model', info['processor'])}, "
        f"{info['cpu_count']} cores.",
        f"- Command: `{result['command']}` → `{result['json']}`.",
        f"- Budget {result['budget_s']:.0f} s; whole run {result['total_wall_s']:.0f} s. float32 throughout.",
    ]
    sim = result["sim_model"]
    sim = f"`{sim}`" if isinstance(sim, str) else f"a seeded {sim['config']} model"
    parts = result["parts"]
    for name in result["parts_run"]:
        part = parts.get(name)
        out.append("")
        if part is None:  # written while the run goes on
            out += [f"### {name}", "", "Not run yet."]
            continue
        if part["status"] == "error":
            out += [f"### {name}", "", f"Failed: `{part['error']}`"]
            continue
        if part["status"] == "skipped":
            out += [f"### {name}", "", f"Not run: {part['reason']}"]
            continue
        if name == "latency":
            out += [
                f"### Energy + forces latency (`{MODEL}`, jitted, median)",
                "",
                *_table(
                    ["cluster", "atoms", "pairs < 5 Å", "layout", "compile (s)", "median (ms)", "min (ms)", "calls"],
                    [
                        [
                            r["cluster"],
                            r["n_atoms"],
                            r["pairs_within_cutoff"]
                            if "pairs_between_copies" not in r
                            else f"{r['pairs_within_cutoff']} ({r['pairs_between_copies']} between copies)",
                            k,
                            f"{c['compile_s']:.1f}",
                            f"{c['median_ms']:.3f}",
                            f"{c['min_ms']:.3f}",
                            c["n"],
                        ]
                        for r in part["rows"]
                        for k, c in r["layouts"].items()
                        if "median_ms" in c
                    ],
                ),
                "",
                "Pairs are ordered pairs within the cutoff. Layouts: the default list of `painnjax.potential` "
                "(all pairs up to 32 atoms, else the sparse list sized from the structure), all pairs "
                '(`neighbor="all"`) and the (N, N) `PairMatrix`. The grid cluster holds copies of one '
                "bundled cluster on a cubic grid, bounding boxes "
                f"{GAP} Å apart.",
            ]
        elif name == "md":
            out += [
                f"### NVT MD, one trajectory ({sim}, Nosé–Hoover chain, {part['temperature_K']:g} K, "
                f"{part['dt_fs']:g} fs)",
                "",
                *_table(
                    ["structure", "atoms", "rounds × steps", "steps/s", "ms/step", "ns/day", "compile (s)"],
                    [
                        [
                            part["structure"],
                            part["n_atoms"],
                            f"{len(part['rounds'])} × {part['rounds'][0]['steps'] if part['rounds'] else 0}",
                            _f(part["steps_per_second"], ".1f"),
                            _f(part["ms_per_step"], ".3f"),
                            _f(part["ns_per_day"], ".2f"),
                            f"{part['compile_s']:.1f}",
                        ]
                    ],
                ),
                "",
                "steps/s: median round of the `run_md` summary's rate (jitted chunks, compile excluded).",
            ]
        elif name == "replicas":
            out += [
                f"### Replicas of {part['structure']} ({part['n_atoms']} atoms) in one `run_md` call ({sim})",
                "",
                *_table(
                    ["R", "steps", "compile (s)", "steps/s", "atom-steps/s", "ns/day per replica", "stop"],
                    [
                        [
                            r["replicas"],
                            r["steps_done"],
                            f"{r['compile_s']:.1f}",
                            _f(r["steps_per_second"], ".1f"),
                            _f(r["atom_steps_per_second"], ".3g"),
                            _f(r["ns_per_day"], ".2f"),
                            r["stop_reason"],
                        ]
                        for r in part["rows"]
                    ],
                ),
            ]
            if part.get("stopped"):
                out += ["", f"Stopped: {part['stopped'][:200]}"]
        elif name == "train":
            cfgm = part["model"]["config"]
            out += [
                f"### Training with forces ({cfgm['n_atom_basis']} features, {cfgm['n_interactions']} interactions, "
                f"{part['model']['n_parameters']:,} parameters; `saam-gfn1-small`, {part['data']['n_structures']} "
                f"structures, {part['buckets']} buckets)",
                "",
                *_table(
                    ["batch", "compile (s)", "epochs", "structures/s", "atoms/s", "real atoms / slots"],
                    [
                        [
                            r["batch_size"],
                            f"{r['compile_s']:.1f}",
                            len(r["epoch_s"]),
                            f"{r['structures_per_s']:.1f}",
                            f"{r['atoms_per_s']:.0f}",
                            f"{r['real_atom_fraction']:.2f}",
                        ]
                        for r in part["rows"]
                    ],
                ),
                "",
                "Whole epochs of `Trainer.step` (host batching included), after one untimed epoch that compiles.",
            ]
        elif name == "screen":
            out += [
                f"### Screening: {part['candidates']} × {part['composition']} in one batch of {part['slots']} slots "
                f"({sim})",
                "",
                *_table(
                    [
                        "candidates",
                        "method",
                        "fmax (eV/Å)",
                        "iterations cap",
                        "converged",
                        "structures/s",
                        "force calls each",
                        "compile (s)",
                    ],
                    [
                        [
                            part["candidates"],
                            part["method"],
                            part["fmax_eV_per_A"],
                            part["max_steps"],
                            f"{part['converged_share']:.0%}",
                            f"{part['structures_per_second']:.2f}",
                            f"{part['force_calls_mean']:.0f}",
                            f"{part['compile_s']:.1f}",
                        ]
                    ],
                ),
                "",
                "`md.optimize.batch.minimize_batch`; structures/s counts every candidate over the run "
                "(compile excluded); the iteration cap is sized to the time left.",
            ]
        out += _skipped(part)
    return "\n".join(out) + "\n"


def gpu_names() -> list[str] | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        text = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [line.strip() for line in text.splitlines() if line.strip()] or None


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--cpu-smoke", action="store_true", help="tiny sizes and few steps (a CPU, the test)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="output folder (default benchmarks/results)")
    p.add_argument(
        "--budget-s", type=float, default=420.0, help="time for all parts together, s (default 420; imports apart)"
    )
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run (default all)")
    args = p.parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    t_start = time.perf_counter()
    cfg = SMOKE if args.cpu_smoke else FULL
    parts = [x for x in PARTS if x in args.parts]

    info = machine_info(None, None)
    gpus = gpu_names()
    if gpus:
        info["nvidia_smi"] = gpus
    tag = device_tag()
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / f"gpu_suite_{tag}.json", args.out / f"gpu_suite_{tag}.md"
    launcher = os.environ.get("GPU_SUITE_LAUNCHER", "python benchmarks/gpu_suite.py")
    print("=" * 100)
    print(
        f"gpu_suite ({'cpu-smoke' if args.cpu_smoke else 'full'}): parts {', '.join(parts)}; budget "
        f"{args.budget_s:.0f} s; jax {jax.__version__} on {', '.join(info['jax_devices'])}"
        + (f" ({'; '.join(gpus)})" if gpus else "")
    )
    print(f"host: {info.get('cpu_model', info['processor'])}, {info['cpu_count']} cores; git {info['git']}")
    print("=" * 100, flush=True)

    model = painnjax.load_model(MODEL)
    sim_model = model if cfg["sim_model"] is None else seeded_model(cfg["sim_model"])
    preimport()
    results, failed = {}, []
    result = {
        "benchmark": "gpu_suite",
        "mode": "cpu-smoke" if args.cpu_smoke else "full",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "argv": argv,
        "command": f"{launcher} {shlex.join(argv)}".strip(),
        "json": str(json_path.resolve().relative_to(HERE.parent))
        if json_path.resolve().is_relative_to(HERE.parent)
        else str(json_path),
        "machine": info,
        "jax_version": jax.__version__,
        "git_commit": info["git"],
        "model": {"name": MODEL, "n_parameters": model.n_parameters, "config": model.config.to_dict()},
        "sim_model": MODEL
        if sim_model is model
        else {"name": f"Model.init(seed={SEED})", "n_parameters": sim_model.n_parameters, "config": cfg["sim_model"]},
        "dtype": "float32",
        "budget_s": args.budget_s,
        "weights": {k: WEIGHTS[k] for k in parts},
        "sizes": cfg,
        "parts_run": parts,
        "parts": results,
        "failed": failed,
        "total_wall_s": None,
    }

    def write() -> str:
        """Both files, after every part: a run cut short keeps what it measured."""
        result["total_wall_s"] = time.perf_counter() - t_start
        text = markdown(result)
        json_path.write_text(json.dumps(result, indent=1, default=str) + "\n")
        md_path.write_text(text)
        return text

    for i, name in enumerate(parts):
        left = args.budget_s - (time.perf_counter() - t_start)
        share = Share(left * WEIGHTS[name] / sum(WEIGHTS[x] for x in parts[i:]))
        print(f"--- {name}: share {share.seconds:.0f} s of {max(left, 0):.0f} s left", flush=True)
        least = 0.0 if args.cpu_smoke else MIN_SHARE_S[name]
        if share.seconds <= least:
            reason = f"its share of the budget ({share.seconds:.0f} s) was below the {least:.0f} s its first item takes"
            results[name] = {"status": "skipped", "reason": reason, "share_s": share.seconds, "skipped": []}
            print(f"--- {name}: skipped ({reason})", flush=True)
            write()
            continue
        ctx = {"cfg": cfg, "share": share, "model": model, "sim_model": sim_model}
        try:
            part = RUNNERS[name](ctx)
            part = {"status": "ok", **part}
        except Exception as exc:  # noqa: BLE001 - recorded; the other parts still run
            traceback.print_exc()
            part = {"status": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            failed.append(name)
        part["share_s"] = share.seconds
        part["wall_s"] = share.spent()
        results[name] = part
        print(f"--- {name}: {part['status']} in {part['wall_s']:.1f} s", flush=True)
        write()

    text = write()
    print()
    print(text)
    print(f"wrote {json_path} and {md_path}; total {result['total_wall_s']:.0f} s")
    if failed:
        print(f"FAILED parts: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
