#!/usr/bin/env python
"""Energy + forces latency of painnjax vs SchNetPack on (SA)n(AM)n clusters, same weights.

One SchNetPack 2.x PaiNN (default hyper-parameters: 128 features, 5 interactions, 20 Gaussian
RBF, 5 Å cosine cutoff; 967,681 parameters) is built with a fixed torch seed and carried into
painnjax with ``painnjax.from_schnetpack``, so both codes evaluate the same function in float32
in the same process. Per cluster size it times (median of the repeats):

  jax fn       painnjax's pure jitted ``energy_and_forces(potential(...))(R)`` (block_until_ready);
               its first call (trace + compile) is reported separately as "compile".
  spk model    SchNetPack ``nnp(inputs)`` on inputs prepared once (neighbour list included in
               the inputs; the dict is cloned each call).
  spk model+NL SchNetPack ``nnp(AtomsConverter(atoms))``: the real per-step cost, with ASE's
               neighbour list built on every call.
  jax calc /   ``atoms.get_forces()`` through ``painnjax.PaiNNCalculator`` and through
  spk calc     ``schnetpack.interfaces.SpkCalculator``; positions are perturbed (1e-3 Å) before
               every call (outside the timed region) so that ASE never returns a cached result.

The cases are run round-robin (one call of each per repeat, in a rotating order, with a short
untimed pause before each call so that one library's spinning worker threads do not slow the
other's next call), so background load on a shared machine hits them all alike. The CPU used by
other processes meanwhile is measured (Linux) and reported per size: torch's OpenMP threads slow
down many-fold when another process takes a core, so a run with "bg" well above 0 is unreliable. SchNetPack runs on
``--torch-device`` (default: CUDA when torch sees one, else CPU) with torch's default thread count.

Usage:
    python benchmarks/bench_potential.py                      # all sizes, default repeats
    python benchmarks/bench_potential.py --sizes 1 7 --repeats 10
    python benchmarks/bench_potential.py --no-schnetpack      # painnjax only (e.g. on a GPU box)

Writes ``benchmarks/results/bench_potential_<device>.json`` (or ``--out``). Exits with status 1
if painnjax and SchNetPack energies differ by more than ``--rtol`` (relative).
"""

from __future__ import annotations

import os

# Must precede any torch import: SchNetPack models are whole pickled modules, which
# torch >= 2.6 refuses to load with its default weights_only=True.
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
# On a GPU, let torch (if it runs there too) have memory: JAX would otherwise take 75 % upfront.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import datetime as _dt
import gc
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import painnjax
from painnjax.nn.neighbors import count_pairs

SIZES = (1, 2, 4, 7, 10, 15)
# Default repeats per size (timed calls of each case); keeps a full CPU run to a few minutes.
DEFAULT_REPEATS = {1: 40, 2: 40, 4: 30, 7: 20, 10: 12, 15: 8}
WARMUP = 3  # untimed calls of each case after its first call
# Untimed pause before each timed call: lets spinning OpenMP (torch) / XLA worker threads of the
# previous case go idle, so that one library's threads do not slow the other's next call.
PAUSE = 0.02  # s
BUSY_THRESHOLD = 0.1  # cores used by other processes above which a size's timings are suspect
PERTURB = 1e-3  # Å, per-call random displacement for the calculator cases
STARTS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "starts"
HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------------
# setup
# --------------------------------------------------------------------------------------------


def load_cluster(n: int):
    """(SA)n(AM)n from the shared start structures, else the copy bundled with painnjax."""
    from ase.io import read

    path = STARTS_DIR / f"wu_{n}sa{n}am.xyz"
    if path.is_file():
        return read(path), str(path)
    from painnjax.data import bundled_structure, bundled_structure_path

    name = f"SA{n}AM{n}"
    return bundled_structure(name), f"bundled:{bundled_structure_path(name)}"


def import_schnetpack():
    """(torch, schnetpack) or (None, reason) when they cannot be imported."""
    try:
        import painnjax.interfaces.schnetpack

        return painnjax.interfaces.schnetpack.import_schnetpack()
    except (ImportError, painnjax.ConversionError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def build_schnetpack(torch, spk, seed: int):
    """SchNetPack PaiNN energy+forces model with default hyper-parameters, seeded."""
    torch.manual_seed(seed)
    rep = spk.representation.PaiNN(
        n_atom_basis=128,
        n_interactions=5,
        radial_basis=spk.nn.GaussianRBF(n_rbf=20, cutoff=5.0),
        cutoff_fn=spk.nn.CosineCutoff(5.0),
    )
    nnp = spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=128, output_key="energy"),
            spk.atomistic.Forces(energy_key="energy", force_key="forces"),
        ],
    )
    # Inference mode, as SpkCalculator uses it: in training mode Forces builds a double-backward
    # graph (create_graph=True), which would make SchNetPack look slower than it is.
    return nnp.eval()


class SharedModel:
    """The benchmarked PaiNN in both codes (see :func:`shared_model`)."""

    def __init__(self, torch, spk, skipped, device, nnp, model, n_spk, weights, model_file, tmp):
        self.torch, self.spk, self.skipped, self.device = torch, spk, skipped, device
        self.nnp, self.model, self.n_spk, self.weights = nnp, model, n_spk, weights
        self.model_file, self.tmp = model_file, tmp


def shared_model(args, tmp_prefix: str | None = None) -> SharedModel:
    """The default-size PaiNN every benchmark times: SchNetPack's, seeded with ``args.seed`` and
    carried into painnjax with ``from_schnetpack`` (the same weights in both codes), or
    painnjax's own seeded model when SchNetPack is unavailable or ``args.no_schnetpack``.

    With ``tmp_prefix`` the SchNetPack model is also ``torch.save``d into a temporary folder
    (``model_file``; ``tmp.cleanup()`` removes it), for SchNetPack's ASE calculator.
    """
    torch = spk = None
    skipped = "--no-schnetpack" if args.no_schnetpack else None
    if not args.no_schnetpack:
        torch, spk = import_schnetpack()
        if torch is None:
            skipped = spk
            print(f"SchNetPack unavailable ({spk}); timing painnjax only", file=sys.stderr)
            spk = None
    tmp = tempfile.TemporaryDirectory(prefix=tmp_prefix) if tmp_prefix else None
    if torch is None:
        model = painnjax.Model.init(painnjax.PaiNNConfig(), seed=args.seed)
        return SharedModel(
            None,
            None,
            skipped,
            None,
            None,
            model,
            None,
            f"painnjax.Model.init(PaiNNConfig(), seed={args.seed})",
            None,
            tmp,
        )
    threads = getattr(args, "torch_threads", None)
    if isinstance(threads, int) and threads > 0:  # bench_md takes a list and sets it per case
        torch.set_num_threads(threads)
    device = torch.device(args.torch_device or ("cuda" if torch.cuda.is_available() else "cpu"))
    nnp = build_schnetpack(torch, spk, args.seed)
    model = painnjax.from_schnetpack(nnp, energy_unit="eV")
    n_spk = sum(int(q.numel()) for q in nnp.parameters())
    model_file = None
    if tmp is not None:
        model_file = str(Path(tmp.name) / "schnetpack_painn.pt")
        torch.save(nnp, model_file)
    weights = f"SchNetPack PaiNN, torch.manual_seed({args.seed}), converted with painnjax.from_schnetpack"
    return SharedModel(torch, spk, skipped, device, nnp, model, n_spk, weights, model_file, tmp)


def result_header(name: str, argv, info: dict, shared: SharedModel) -> dict:
    """The first entries of every benchmark's JSON: what ran, when, where, on which model."""
    model = shared.model
    return {
        "benchmark": name,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "machine": info,
        "dtype": "float32",
        "model": {
            "config": model.config.to_dict(),
            "n_parameters": model.n_parameters,
            "n_parameters_schnetpack": shared.n_spk,
            "weights": shared.weights,
        },
    }


def device_tag() -> str:
    d = jax.devices()[0]
    if d.platform == "cpu":
        return "cpu"
    kind = re.sub(r"[^a-z0-9]+", "-", str(getattr(d, "device_kind", "")).lower()).strip("-")
    return f"{d.platform}-{kind}" if kind else d.platform


def write_result(result: dict, name: str, out=None, indent: int = 2) -> Path:
    """Write a benchmark's ``result`` as JSON to ``out`` (default
    ``benchmarks/results/<name>_<device>.json``), say so, and return the path."""
    path = Path(out) if out else Path(__file__).resolve().parent / "results" / f"{name}_{device_tag()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=indent) + "\n")
    print(f"wrote {path}")
    return path


def machine_info(torch, torch_device) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax_devices": [str(d) for d in jax.devices()],
        "jax_device_kind": jax.devices()[0].device_kind,
        "jax_platform": jax.devices()[0].platform,
    }
    try:  # the CPU model name, which platform.processor() often leaves empty on Linux
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"painnjax": painnjax.__version__, "jax": jax.__version__, "numpy": np.__version__}
    for mod in ("jaxlib", "flax", "ase"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informational only
            pass
    if torch is not None:
        import schnetpack

        versions["torch"] = torch.__version__
        versions["schnetpack"] = getattr(schnetpack, "__version__", "?")
        info["torch_num_threads"] = torch.get_num_threads()
        info["torch_num_interop_threads"] = torch.get_num_interop_threads()
        info["torch_device"] = str(torch_device)
    info["versions"] = versions
    from painnjax.compiler import compiler_options

    info["xla_compiler_options"] = compiler_options()  # what painnjax's jit passes to XLA
    info["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    info["git"] = git_state()
    return info


def git_state() -> str | None:
    """Commit of the repository holding this script, '+dirty' if painnjax/ has local changes."""
    import subprocess

    root = HERE.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "painnjax"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


class CpuMonitor:
    """CPU time used by *other* processes while benchmarking (Linux; None elsewhere).

    Busy jiffies of the whole machine (/proc/stat) minus this process's (/proc/self/stat), per
    second of wall time: ~0 on a quiet machine, ~1 when another process keeps one core busy.
    torch's OpenMP threads are very sensitive to that (one core taken can slow it many-fold).
    """

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.start = self._snapshot()

    @staticmethod
    def _snapshot():
        try:
            f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            v = [int(x) for x in f]
            busy = sum(v) - v[3] - (v[4] if len(v) > 4 else 0)  # minus idle and iowait
            own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
            return busy, int(own[11]) + int(own[12]), time.perf_counter()
        except (OSError, IndexError, ValueError):
            return None

    def other_cores_busy(self) -> float | None:
        end = self._snapshot()
        if self.start is None or end is None or end[2] <= self.start[2]:
            return None
        other = (end[0] - self.start[0]) - (end[1] - self.start[1])
        return max(other, 0) / self.hz / (end[2] - self.start[2])


def wait_for_idle(max_wait: float, threshold: float = BUSY_THRESHOLD, quiet_s: float = 3.0) -> float | None:
    """Wait (up to ``max_wait`` s) until other processes have used < ``threshold`` cores for
    ``quiet_s`` seconds in a row; returns the time waited (None when not waiting / not Linux)."""
    if max_wait <= 0 or CpuMonitor._snapshot() is None:
        return None
    t0 = time.perf_counter()
    quiet = 0.0
    while True:
        m = CpuMonitor()
        time.sleep(0.5)
        busy = m.other_cores_busy()
        quiet = quiet + 0.5 if busy is None or busy < threshold else 0.0
        waited = time.perf_counter() - t0
        if quiet >= quiet_s or waited >= max_wait:
            return waited


def timed(fn) -> float:
    """Wall time of one call of ``fn`` (which must wait for its own result), GC paused."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()


def run_cases(cases: dict, repeats: int, warmup: int, pause: float = PAUSE) -> dict[str, list[float]]:
    """Round-robin timing: each repeat calls every case once, in a rotating order.

    ``cases[name]`` is ``(prepare, call)``: ``prepare()`` runs untimed before each ``call()``,
    followed by an untimed ``pause``.
    """
    names = list(cases)
    for name in names:
        prepare, call = cases[name]
        for _ in range(warmup):
            prepare()
            call()
    times = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            prepare, call = cases[name]
            prepare()
            if pause > 0:
                time.sleep(pause)
            times[name].append(timed(call))
    return times


def summarize(ts: list[float]) -> dict:
    a = np.asarray(ts)
    return {
        "median_ms": float(np.median(a) * 1e3),
        "min_ms": float(a.min() * 1e3),
        "q25_ms": float(np.percentile(a, 25) * 1e3),
        "q75_ms": float(np.percentile(a, 75) * 1e3),
        "n": int(a.size),
        "all_ms": [round(float(t) * 1e3, 4) for t in a],
    }


def _nothing():
    pass


# --------------------------------------------------------------------------------------------
# one cluster size
# --------------------------------------------------------------------------------------------


def bench_size(n, model, spk_ctx, repeats, warmup, rtol, seed, pause=PAUSE) -> dict:
    atoms, source = load_cluster(n)
    n_atoms = len(atoms)
    base = atoms.get_positions().copy()
    rng = np.random.default_rng(seed + n)
    cutoff = model.config.cutoff
    row = {
        "n": n,
        "formula": atoms.get_chemical_formula(),
        "n_atoms": n_atoms,
        "structure": source,
        "pairs_within_cutoff": count_pairs(base, cutoff),
        "repeats": repeats,
    }
    first_call = {}

    # ---- painnjax pure function -------------------------------------------------------------
    energy_fn = painnjax.potential(model, atoms, reference_positions=base)
    fn = painnjax.energy_and_forces(energy_fn)
    row["painnjax_neighbor_mode"] = energy_fn.neighbor_mode
    row["painnjax_pair_capacity"] = energy_fn.capacity
    R = jnp.asarray(base, jnp.float32)
    t0 = time.perf_counter()
    e_jax, f_jax = jax.block_until_ready(fn(R))
    first_call["jax_fn_compile_s"] = time.perf_counter() - t0
    e_jax = float(e_jax)
    f_jax = np.asarray(f_jax, np.float64)
    cases = {"jax_fn": (_nothing, lambda: jax.block_until_ready(fn(R)))}

    # ---- painnjax ASE calculator -------------------------------------------------------------
    atoms_jc = atoms.copy()
    atoms_jc.calc = painnjax.PaiNNCalculator(model)
    t0 = time.perf_counter()
    e_jc = atoms_jc.get_potential_energy()
    atoms_jc.get_forces()
    first_call["jax_calc_first_s"] = time.perf_counter() - t0

    def perturb(a):
        return lambda: a.set_positions(base + rng.normal(scale=PERTURB, size=base.shape))

    cases["jax_calc"] = (perturb(atoms_jc), atoms_jc.get_forces)

    # ---- SchNetPack ----------------------------------------------------------------------------
    if spk_ctx is not None:
        torch, spk, nnp, model_file, tdev = (
            spk_ctx["torch"],
            spk_ctx["spk"],
            spk_ctx["nnp"],
            spk_ctx["model_file"],
            spk_ctx["device"],
        )
        sync = (lambda: torch.cuda.synchronize()) if tdev.type == "cuda" else _nothing
        conv = spk.interfaces.AtomsConverter(
            neighbor_list=spk.transform.ASENeighborList(cutoff=cutoff), dtype=torch.float32, device=tdev
        )
        inp = conv(atoms)

        def spk_model():
            out = nnp({k: v.clone() for k, v in inp.items()})
            sync()
            return out

        def spk_model_nl():
            out = nnp(conv(atoms))
            sync()
            return out

        t0 = time.perf_counter()
        out = spk_model_nl()
        first_call["spk_model_nl_first_s"] = time.perf_counter() - t0
        e_spk = float(out["energy"].detach().cpu().double().item())
        f_spk = out["forces"].detach().cpu().double().numpy()
        cases["spk_model"] = (_nothing, spk_model)
        cases["spk_model_nl"] = (_nothing, spk_model_nl)

        atoms_sc = atoms.copy()
        atoms_sc.calc = spk.interfaces.SpkCalculator(
            model_file,
            neighbor_list=spk.transform.ASENeighborList(cutoff=cutoff),
            energy_unit="eV",
            position_unit="Angstrom",
            device=tdev,
        )
        t0 = time.perf_counter()
        e_sc = atoms_sc.get_potential_energy()
        atoms_sc.get_forces()
        first_call["spk_calc_first_s"] = time.perf_counter() - t0
        cases["spk_calc"] = (perturb(atoms_sc), atoms_sc.get_forces)

        rel = abs(e_jax - e_spk) / max(abs(e_spk), 1e-12)
        rel_calc = abs(e_jc - e_sc) / max(abs(e_sc), 1e-12)
        row["agreement"] = {
            "energy_painnjax_eV": e_jax,
            "energy_schnetpack_eV": e_spk,
            "energy_rel_diff": rel,
            "forces_max_abs_diff_eV_per_A": float(np.abs(f_jax - f_spk).max()),
            "forces_max_abs_eV_per_A": float(np.abs(f_spk).max()),
            "calculator_energy_rel_diff": rel_calc,
            "ok": bool(rel < rtol and rel_calc < rtol),
        }
    else:
        row["agreement"] = {"energy_painnjax_eV": e_jax}

    row["first_call"] = first_call
    monitor = CpuMonitor()
    row["times"] = {k: summarize(v) for k, v in run_cases(cases, repeats, warmup, pause).items()}
    row["other_processes_cores_busy"] = monitor.other_cores_busy()
    med = {k: v["median_ms"] for k, v in row["times"].items()}
    if spk_ctx is not None:
        row["ratios"] = {
            "spk_model/jax_fn": med["spk_model"] / med["jax_fn"],
            "spk_model_nl/jax_fn": med["spk_model_nl"] / med["jax_fn"],
            "spk_calc/jax_calc": med["spk_calc"] / med["jax_calc"],
        }
    return row


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def print_table(rows, with_spk: bool) -> None:
    def ms(row, key):
        return f"{row['times'][key]['median_ms']:.1f}"

    if with_spk:
        head = (
            f"{'n':>3} {'atoms':>5} {'pairs':>6} {'mode':>6} {'compile':>8} | {'jax fn':>8} {'spk model':>9} "
            f"{'spk m+NL':>9} {'x model':>7} {'x m+NL':>7} | {'jax calc':>8} {'spk calc':>8} {'x calc':>7} | "
            f"{'|dE|/|E|':>8} {'bg':>5}"
        )
        units = (
            f"{'':>3} {'':>5} {'':>6} {'':>6} {'s':>8} | {'ms':>8} {'ms':>9} {'ms':>9} {'':>7} {'':>7} | "
            f"{'ms':>8} {'ms':>8} {'':>7} | {'':>8} {'cores':>5}"
        )
    else:
        head = (
            f"{'n':>3} {'atoms':>5} {'pairs':>6} {'mode':>6} {'compile':>8} | {'jax fn':>8} | {'jax calc':>8} | "
            f"{'bg':>5}"
        )
        units = f"{'':>3} {'':>5} {'':>6} {'':>6} {'s':>8} | {'ms':>8} | {'ms':>8} | {'cores':>5}"
    print(head)
    print(units)
    print("-" * len(head))
    for r in rows:
        line = (
            f"{r['n']:>3} {r['n_atoms']:>5} {r['pairs_within_cutoff']:>6} {r['painnjax_neighbor_mode']:>6} "
            f"{r['first_call']['jax_fn_compile_s']:>8.2f} | {ms(r, 'jax_fn'):>8}"
        )
        if with_spk:
            x = r["ratios"]
            line += (
                f" {ms(r, 'spk_model'):>9} {ms(r, 'spk_model_nl'):>9} {x['spk_model/jax_fn']:>6.2f}x "
                f"{x['spk_model_nl/jax_fn']:>6.2f}x | {ms(r, 'jax_calc'):>8} {ms(r, 'spk_calc'):>8} "
                f"{x['spk_calc/jax_calc']:>6.2f}x | {r['agreement']['energy_rel_diff']:>8.1e}"
            )
        else:
            line += f" | {ms(r, 'jax_calc'):>8} |"
        bg = r.get("other_processes_cores_busy")
        line += f" {bg:>5.2f}" if bg is not None else f" {'?':>5}"
        print(line)
    print("-" * len(head))
    print("medians; 'x' = SchNetPack time / painnjax time (> 1: painnjax faster); 'compile' = first jax fn call;")
    print("'spk m+NL' = nnp(AtomsConverter(atoms)), ASE neighbour list built every call; calc = atoms.get_forces();")
    print("'bg' = cores kept busy by other processes during the timing (should be ~0).")


def print_banner(title: str, info: dict, tdev, spk_skipped, model, n_spk) -> None:
    """The machine, versions and model of a benchmark run (shared by the benchmarks)."""
    v = info["versions"]
    print("=" * 100)
    print(title)
    print(
        f"machine : {info.get('cpu_model', info['processor'])} ({info['processor']}), "
        f"os.cpu_count() = {info['cpu_count']}, {info['platform']}"
    )
    print(
        f"jax     : {v['jax']} (jaxlib {v.get('jaxlib', '?')}), devices {info['jax_devices']}; "
        f"flax {v.get('flax', '?')}"
    )
    if "torch" in v:  # machine_info records torch exactly when it is used
        print(
            f"torch   : {v['torch']}, device {tdev}, torch.get_num_threads() = {info['torch_num_threads']} "
            f"(interop {info['torch_num_interop_threads']}); schnetpack {v['schnetpack']}"
        )
    else:
        print(f"torch   : not used ({spk_skipped})")
    print(
        f"other   : painnjax {v['painnjax']} (git {info['git']}), numpy {v['numpy']}, ase {v.get('ase', '?')}, "
        f"python {info['python']}"
    )
    print(
        f"model   : {model.config.n_atom_basis} features, {model.config.n_interactions} interactions, "
        f"{model.config.n_rbf} RBF, {model.config.cutoff} Å cutoff; painnjax {model.n_parameters:,} params"
        + (f", SchNetPack {n_spk:,}" if n_spk is not None else "")
    )


def parse_sizes(values) -> list[int]:
    out = []
    for v in values:
        out += [int(s) for s in str(v).replace(",", " ").split()]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes", nargs="+", default=list(SIZES), help="cluster sizes n of (SA)n(AM)n (default: 1 2 4 7 10 15)"
    )
    p.add_argument(
        "--repeats", type=int, default=None, help=f"timed calls per case and size (default per size: {DEFAULT_REPEATS})"
    )
    p.add_argument(
        "--warmup", type=int, default=WARMUP, help=f"untimed calls per case after the first (default {WARMUP})"
    )
    p.add_argument(
        "--pause", type=float, default=PAUSE, help=f"untimed pause (s) before each timed call (default {PAUSE})"
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each size, wait up to S seconds for other processes to leave the CPU (default 0)",
    )
    p.add_argument(
        "--retry-busy",
        type=int,
        default=0,
        metavar="K",
        help="redo a size up to K times when other processes used the CPU during it, keeping "
        "the attempt with the least background load (default 0)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="JSON output (default: benchmarks/results/bench_potential_<device>.json)"
    )
    p.add_argument("--no-schnetpack", action="store_true", help="time painnjax only (no torch / SchNetPack needed)")
    p.add_argument(
        "--torch-threads", type=int, default=None, help="torch threads for SchNetPack (default: torch's own)"
    )
    p.add_argument(
        "--torch-device", default=None, help="device for SchNetPack (default: cuda if torch sees one, else cpu)"
    )
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the weights (default 0)")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative energy agreement required (default 1e-4)")
    args = p.parse_args(argv)
    sizes = parse_sizes(args.sizes)
    t_start = time.perf_counter()

    shared = shared_model(args, "bench_potential_")
    torch, spk, spk_skipped, tdev = shared.torch, shared.spk, shared.skipped, shared.device
    model, n_spk, weights, tmp = shared.model, shared.n_spk, shared.weights, shared.tmp
    spk_ctx = None
    if torch is not None:
        spk_ctx = {
            "torch": torch,
            "spk": spk,
            "nnp": shared.nnp.to(tdev),
            "model_file": shared.model_file,
            "device": tdev,
        }

    info = machine_info(torch, tdev)
    print_banner(
        "painnjax vs SchNetPack: PaiNN energy + forces latency, float32", info, tdev, spk_skipped, model, n_spk
    )
    print(f"weights : {weights}")
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load0 is not None:
        print(
            f"load avg: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start"
            + ("  (WARNING: machine busy; timings will be noisy)" if load0[0] > 0.5 * (os.cpu_count() or 1) else "")
        )
    print("=" * 100, flush=True)

    rows = []
    all_ok = True
    for n in sizes:
        repeats = args.repeats or DEFAULT_REPEATS.get(n, 10)
        attempts = []
        for attempt in range(1 + max(args.retry_busy, 0)):
            waited = wait_for_idle(args.wait_idle)
            t0 = time.perf_counter()
            row = bench_size(n, model, spk_ctx, repeats, args.warmup, args.rtol, args.seed, args.pause)
            row["wall_s"] = time.perf_counter() - t0
            row["waited_for_idle_s"] = waited
            if hasattr(os, "getloadavg"):
                row["loadavg_after"] = list(os.getloadavg())
            attempts.append(row)
            busy = row["other_processes_cores_busy"]
            if busy is None or busy <= BUSY_THRESHOLD:
                break
            if attempt < args.retry_busy:
                print(f"n={n:>2}: other processes used {busy:.2f} cores during the timing; retrying", flush=True)
        row = min(attempts, key=lambda r: r["other_processes_cores_busy"] or 0.0)
        row["attempts"] = len(attempts)
        row["other_processes_cores_busy_all_attempts"] = [r["other_processes_cores_busy"] for r in attempts]
        rows.append(row)
        a = row["agreement"]
        msg = (
            f"n={n:>2} ({row['n_atoms']} atoms): jax fn {row['times']['jax_fn']['median_ms']:.1f} ms, "
            f"compile {row['first_call']['jax_fn_compile_s']:.1f} s"
        )
        if spk_ctx is not None:
            all_ok &= a["ok"]
            msg += (
                f"; spk model {row['times']['spk_model']['median_ms']:.1f} ms; "
                f"E = {a['energy_painnjax_eV']:.6f} / {a['energy_schnetpack_eV']:.6f} eV (painnjax / SchNetPack), "
                f"rel diff {a['energy_rel_diff']:.1e}, max |dF| {a['forces_max_abs_diff_eV_per_A']:.1e} eV/Å, "
                f"calculators rel diff {a['calculator_energy_rel_diff']:.1e} -> {'OK' if a['ok'] else 'MISMATCH'}"
            )
        busy = row["other_processes_cores_busy"]
        msg += f" [{row['wall_s']:.0f} s" + (f"; other processes used {busy:.2f} cores]" if busy is not None else "]")
        if busy is not None and busy > BUSY_THRESHOLD:
            msg += "  WARNING: other processes were using the CPU; timings (torch especially) are unreliable"
        print(msg, flush=True)

    print()
    print_table(rows, spk_ctx is not None)
    if spk_ctx is not None:
        print(f"energy agreement (relative < {args.rtol:g}) at all sizes: {'yes' if all_ok else 'NO'}")
    total = time.perf_counter() - t_start
    print(f"total wall time {total:.0f} s")

    out = args.out or HERE / "results" / f"bench_potential_{device_tag()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        **result_header("bench_potential", argv, info, shared),
        "schnetpack": spk_ctx is not None,
        "schnetpack_skipped": spk_skipped,
        "warmup": args.warmup,
        "pause_s": args.pause,
        "perturbation_A": PERTURB,
        "rtol": args.rtol,
        "loadavg_start": list(load0) if load0 is not None else None,
        "energies_agree": all_ok if spk_ctx is not None else None,
        "total_wall_s": total,
        "sizes": rows,
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    tmp.cleanup()
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
