#!/usr/bin/env python
"""The studies' comparison re-done on SA–W: learning curves of KRR, k-NN and PaiNN, direct and Δ (issue 30).

Data: every ``benchmarks/data/saw/round*_gfn1_gfn2.extxyz.gz`` that exists (rounds 1–2: 5,246
frames of 43 compositions; rounds 3–4 add as many), GFN1-xTB as the low level (the frames'
energy) and GFN2-xTB as the high level (``gfn2_energy``); the test set is SA4W5
(``SA4W5_300K_gfn1_gfn2.extxyz.gz``, 122 frames), never trained on. The target is the binding
energy against the bundled monomer minima of its level (``gfn2-monomers``, ``gfn1-monomers``):
direct ΔE(GFN2), or Δ ΔΔE = ΔE(GFN2) − ΔE(GFN1), whose error is that of ΔE(GFN2) = ΔE(GFN1) + ΔΔE.

Training sets: for draw d, a permutation of the pool with seed d; size N takes its first N frames
(so the sets of one draw are nested). Models (``--models``, default: the kernel models):

  krr_direct, krr_delta                     KRR on the local FCHL19 kernel (σ, λ: --sigma, --regularization)
  knn_{mlkr,euclidean,kernel}_{direct,delta} k-NN (k = --k, 1/d weights) with the three distances
  painn_e_direct, painn_e_delta             PaiNN on energies only (energy_weight 1)
  painn_ef_direct                           PaiNN on energies and forces (GFN2 forces; the studies' 0.01/0.99 loss)

The two KRR models share one training kernel per (size, draw) (its time is counted in both fits).
PaiNN uses ``painnjax.training.fit.train`` with a small configuration (--painn-epochs, default 200;
n_atom_basis 64, 3 interactions, cutoff 5 Å, batch 16, lr 5e-4, early stopping after 30 epochs
without a better validation loss), validation on 10% as many further frames of the pool (at least
10): hours per point on a 2-core CPU beyond 1k structures; run it on a GPU.

Resumable: one JSON per (model, size, draw) in ``--run`` (a folder outside git, locked); the same
command again skips those done. At the end (and with ``--report`` alone) it prints the table (test
MAE in kcal/mol on SA4W5: mean ± standard deviation over the draws) and writes
``--out`` (JSON: every point, machine, timings: representation, fit and prediction wall s, the
process's peak resident memory after each KRR point and the KRR kernel's size 8 N² bytes) and
its log–log plot (``.png`` beside it).

Usage:
    nice -n 19 python benchmarks/bench_learning_curves.py --run ../lc-run --sizes 100 200 500 1000 2000 --draws 3
    python benchmarks/bench_learning_curves.py --run ../lc-run --report       # the table of what is done
    python benchmarks/bench_learning_curves.py --run ../lc-run --models painn_e_direct --sizes 100 200 --draws 1
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAW = HERE / "data" / "saw"
TEST_FILE = "SA4W5_300K_gfn1_gfn2.extxyz.gz"
KERNEL_MODELS = (
    "krr_direct",
    "krr_delta",
    "knn_mlkr_direct",
    "knn_mlkr_delta",
    "knn_euclidean_direct",
    "knn_euclidean_delta",
    "knn_kernel_direct",
    "knn_kernel_delta",
)
PAINN_MODELS = ("painn_e_direct", "painn_e_delta", "painn_ef_direct")
MODELS = KERNEL_MODELS + PAINN_MODELS
SIZES = (100, 200, 500, 1000, 2000, 5000, 10000, 16000)
ELEMENTS = (1, 8, 16)
KCAL = 23.060547830619029  # kcal/mol per eV (painnjax.units.EV_TO_KCAL_PER_MOL)


def round_files() -> list[Path]:
    return sorted(SAW.glob("round*_gfn1_gfn2.extxyz.gz"))


class Data:
    """The pool and the test set: direct and Δ targets (eV) and, on demand, FCHL19 representations."""

    def __init__(self, sigma: float):
        from painnjax.kernels.config import KernelDataConfig
        from painnjax.kernels.targets import read_targets
        from painnjax.kernels.workflow import target_metadata

        self.sigma = sigma
        self.files = round_files()
        if not self.files:
            raise SystemExit(f"no round*_gfn1_gfn2.extxyz.gz in {SAW}")
        paths = [*self.files, SAW / TEST_FILE]
        direct = KernelDataConfig(energy_key="gfn2_energy", monomers="gfn2-monomers")
        delta = KernelDataConfig(
            energy_key="gfn2_energy", monomers="gfn2-monomers", delta_low_key="energy", low_monomers="gfn1-monomers"
        )
        t0 = time.perf_counter()
        md, ml = target_metadata(direct), target_metadata(delta)
        self.ds = read_targets(paths, direct, md["monomers"], None)
        ds_delta = read_targets(paths, delta, ml["monomers"], ml["low_monomers"])
        self.read_s = time.perf_counter() - t0
        self.y = {"direct": self.ds.energy, "delta": ds_delta.energy}
        comps = np.asarray(self.ds.compositions)
        self.test = np.nonzero(comps == "SA4AM0W5")[0]
        self.pool = np.nonzero(comps != "SA4AM0W5")[0]
        self.n_atoms = int(max(len(z) for z in self.ds.numbers))
        self._reps = None
        self.representation_s_per_structure = None

    def reps(self):
        """FCHL19 of every structure (computed once: ~5 ms a structure on 2 cores)."""
        if self._reps is None:
            from painnjax.kernels.representation import FCHL19Config, fchl19

            t0 = time.perf_counter()
            self._reps = fchl19(self.ds.numbers, self.ds.positions, FCHL19Config(), ELEMENTS, n_atoms=self.n_atoms)
            self.representation_s_per_structure = (time.perf_counter() - t0) / len(self.ds)
        return self._reps

    def train_indices(self, size: int, draw: int) -> np.ndarray:
        if size > len(self.pool):
            raise ValueError(f"size {size} > the pool's {len(self.pool)} structures")
        return self.pool[np.random.default_rng(draw).permutation(len(self.pool))[:size]]


def errors(pred: np.ndarray, target: np.ndarray) -> dict:
    err = (np.asarray(pred) - np.asarray(target)) * KCAL
    return {
        "mae_kcal_mol": float(np.mean(np.abs(err))),
        "rmse_kcal_mol": float(np.sqrt(np.mean(err**2))),
        "max_kcal_mol": float(np.max(np.abs(err))),
    }


def peak_rss_bytes() -> int:
    """The process's peak resident memory so far (Linux: ru_maxrss in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def run_krr(data: Data, size: int, draw: int, todo: list[str], args) -> dict[str, dict]:
    """KRR direct and Δ on one training set: one kernel, two Cholesky solves."""
    from painnjax.kernels.fchl_jax import local_kernel
    from painnjax.kernels.krr import solve

    reps = data.reps()
    idx = data.train_indices(size, draw)
    train, test = reps.subset(idx), reps.subset(data.test)
    t0 = time.perf_counter()
    K = local_kernel(train, train, args.sigma)
    kernel_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    K_test = local_kernel(test, train, args.sigma)
    test_kernel_s = time.perf_counter() - t0
    out = {}
    for name in todo:
        target = name.split("_")[-1]
        t0 = time.perf_counter()
        alpha = solve(K, data.y[target][idx], args.regularization)
        solve_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = K_test @ alpha
        dot_s = time.perf_counter() - t0
        out[name] = {
            **errors(pred, data.y[target][data.test]),
            "fit_s": kernel_s + solve_s,
            "kernel_s": kernel_s,
            "solve_s": solve_s,
            "predict_s": test_kernel_s + dot_s,
            "kernel_bytes": 8 * size * size,
            "peak_rss_bytes": peak_rss_bytes(),
            "hyperparameters": {"sigma": args.sigma, "regularization": args.regularization},
        }
    return out


def run_knn(data: Data, size: int, draw: int, name: str, args) -> dict:
    from painnjax.kernels.config import KernelModelConfig
    from painnjax.kernels.knn import fit_knn, predict_knn

    _, metric, target = name.split("_")
    config = KernelModelConfig(kind="knn", k=args.k, metric=metric, sigma=args.sigma, elements=ELEMENTS)
    reps = data.reps()
    idx = data.train_indices(size, draw)
    t0 = time.perf_counter()
    arrays = fit_knn(reps.subset(idx), data.y[target][idx], config, seed=draw)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred, spread = predict_knn(arrays, reps.subset(data.test), config)
    predict_s = time.perf_counter() - t0
    return {
        **errors(pred, data.y[target][data.test]),
        "fit_s": fit_s,
        "predict_s": predict_s,
        "mean_spread_kcal_mol": float(np.mean(spread) * KCAL),
        "hyperparameters": {
            "k": args.k,
            "weights": "distance",
            "metric": metric,
            "sigma": args.sigma,
            "mlkr_components": config.mlkr_components,
            "mlkr_max_iter": config.mlkr_max_iter,
        },
    }


def run_painn(data: Data, size: int, draw: int, name: str, args, folder: Path) -> dict:
    """PaiNN trained with painnjax's training loop on one training set; its test MAE on SA4W5."""
    from painnjax.data.dataset import read_dataset, to_binding_energies
    from painnjax.data.splits import Split
    from painnjax.nn.config import PaiNNConfig
    from painnjax.training.config import TrainConfig
    from painnjax.training.fit import train

    forces = name.startswith("painn_ef")
    delta = name.endswith("delta")
    paths = [*data.files, SAW / TEST_FILE]
    ds = read_dataset(
        paths,
        energy_key="gfn2_energy",
        forces_key="gfn2_forces" if forces else None,
        require_forces=forces,
        delta_low_key="energy" if delta else None,
    )
    if delta:  # ΔΔE: the Δ target less the monomers' Δ, as the kernel models learn it
        ds = ds.with_energy(data.y["delta"], {"kind": "total", "delta": {"high": "gfn2_energy", "low": "energy"}})
    else:
        ds = to_binding_energies(ds, "gfn2-monomers")
    idx = data.train_indices(size, draw)
    rest = np.setdiff1d(data.pool, idx)
    n_valid = max(10, size // 10)
    valid = np.sort(np.random.default_rng(1000 + draw).choice(rest, n_valid, replace=False))
    split = Split(np.sort(idx), valid, data.test, draw, "SA4W5 held out", len(ds))
    model_config = PaiNNConfig(n_atom_basis=64, n_interactions=3, cutoff=5.0)
    cfg = TrainConfig(
        lr=5e-4,
        batch_size=16,
        epochs=args.painn_epochs,
        seed=draw,
        energy_weight=0.01 if forces else 1.0,
        early_stopping=30,
    )
    run_dir = folder / f"{name}_{size}_{draw}"
    t0 = time.perf_counter()
    train(ds, split, run_dir, model_config, cfg, resume=(run_dir / "checkpoint.msgpack").exists(), progress=False)
    fit_s = time.perf_counter() - t0
    summary = json.loads((run_dir / "summary.json").read_text())
    test = summary["best_model_test"]
    return {
        "mae_kcal_mol": test["energy_mae"],
        "rmse_kcal_mol": test["energy_rmse"],
        "max_kcal_mol": test["energy_max_error"],
        "fit_s": fit_s,
        "predict_s": None,
        "hyperparameters": {
            "epochs": args.painn_epochs,
            "n_atom_basis": 64,
            "n_interactions": 3,
            "cutoff": 5.0,
            "batch_size": 16,
            "lr": 5e-4,
            "energy_weight": cfg.energy_weight,
            "n_valid": n_valid,
        },
    }


def point_file(run: Path, name: str, size: int, draw: int) -> Path:
    return run / f"{name}_{size}_{draw}.json"


def machine() -> dict:
    """The machine, versions and git state, as every benchmark records them (bench_potential.machine_info)."""
    from bench_potential import machine_info  # a sibling script: its JAX import only when the JSON is written

    return machine_info(None, None)


def compute(args, run: Path) -> None:
    data = None
    for size in args.sizes:
        for draw in range(args.draws):
            todo = [m for m in args.models if not point_file(run, m, size, draw).exists()]
            if not todo:
                continue
            if data is None:
                t0 = time.perf_counter()
                data = Data(args.sigma)
                print(
                    f"read {len(data.pool)} training-pool and {len(data.test)} test structures "
                    f"({', '.join(f.name for f in data.files)}) in {time.perf_counter() - t0:.1f} s",
                    flush=True,
                )
            if size > len(data.pool):
                print(f"size {size}: the pool has {len(data.pool)} structures; skipped", flush=True)
                break
            krr = [m for m in todo if m.startswith("krr")]
            results = run_krr(data, size, draw, krr, args) if krr else {}
            for name in todo:
                if name.startswith("knn"):
                    results[name] = run_knn(data, size, draw, name, args)
                elif name.startswith("painn"):
                    results[name] = run_painn(data, size, draw, name, args, run / "painn")
                r = results[name]
                r.update(
                    model=name,
                    size=size,
                    draw=draw,
                    n_test=len(data.test),
                    representation_s_per_structure=data.representation_s_per_structure,
                    data=[f.name for f in data.files],
                    finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                )
                point_file(run, name, size, draw).write_text(json.dumps(r, indent=1) + "\n")
                print(
                    f"{name:22s} N={size:6d} draw {draw}: MAE {r['mae_kcal_mol']:7.3f} kcal/mol, "
                    f"fit {r['fit_s']:8.1f} s, predict {r['predict_s'] or 0:6.1f} s",
                    flush=True,
                )


def collect(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(run.glob("*.json"))]


def table(points: list[dict]) -> tuple[str, dict]:
    """The table of test MAE (mean ± std over draws) per model and size, and the same as a dict."""
    by: dict[str, dict[int, list[dict]]] = {}
    for p in points:
        by.setdefault(p["model"], {}).setdefault(p["size"], []).append(p)
    sizes = sorted({p["size"] for p in points})
    summary: dict[str, dict] = {}
    head = f"{'model':22s}" + "".join(f"{n:>17d}" for n in sizes)
    lines = ["test MAE on SA4W5 (kcal/mol), mean ± std over draws [draws]", head]
    for model in [m for m in MODELS if m in by]:
        row = f"{model:22s}"
        summary[model] = {}
        for n in sizes:
            ps = by[model].get(n, [])
            if not ps:
                row += f"{'':>17s}"
                continue
            mae = np.array([p["mae_kcal_mol"] for p in ps])
            fit = np.array([p["fit_s"] for p in ps])
            pred = np.array([p["predict_s"] or 0.0 for p in ps])
            summary[model][n] = {
                "mae_mean": float(mae.mean()),
                "mae_std": float(mae.std()),
                "draws": len(ps),
                "fit_s_mean": float(fit.mean()),
                "predict_s_mean": float(pred.mean()),
                "peak_rss_bytes": max((p.get("peak_rss_bytes") or 0) for p in ps) or None,
            }
            row += f"{f'{mae.mean():.2f} ± {mae.std():.2f} [{len(ps)}]':>17s}"
        lines.append(row)
    lines.append("")
    lines.append("fit + predict wall s (mean over draws)")
    lines.append(head)
    for model in summary:
        row = f"{model:22s}"
        for n in sizes:
            s = summary[model].get(n)
            cell = "" if s is None else f"{s['fit_s_mean'] + s['predict_s_mean']:.1f}"
            row += f"{cell:>17s}"
        lines.append(row)
    return "\n".join(lines), summary


def plot(summary: dict, path: Path) -> None:
    from painnjax.io.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (model, rows) in enumerate(summary.items()):
        n = sorted(rows)
        if not n:
            continue
        m = np.array([rows[k]["mae_mean"] for k in n])
        s = np.array([rows[k]["mae_std"] for k in n])
        style = "-" if model.endswith("delta") else "--"
        ax.errorbar(n, m, yerr=s, fmt="o" + style, ms=3, capsize=2, color=f"C{i % 10}", label=model)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training structures")
    ax.set_ylabel("test MAE on SA4W5 (kcal/mol)")
    ax.legend(fontsize=7, frameon=False, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    save_figure(fig, path, title="SA–W learning curves: GFN2-xTB binding energies (Δ: over GFN1-xTB)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", required=True, type=Path, help="folder of the per-point JSON files (outside git)")
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500, 1000, 2000])
    p.add_argument("--draws", type=int, default=3)
    p.add_argument(
        "--models",
        nargs="+",
        default=list(KERNEL_MODELS),
        choices=MODELS,
        metavar="MODEL",
        help=f"default: the kernel models; choices: {', '.join(MODELS)}",
    )
    p.add_argument("--sigma", type=float, default=2.0)
    p.add_argument("--regularization", type=float, default=1e-8)
    p.add_argument("--k", type=int, default=12)
    p.add_argument("--painn-epochs", type=int, default=200)
    p.add_argument("--report", action="store_true", help="only the table, plot and JSON of the points done")
    p.add_argument("--out", type=Path, default=HERE / "results" / "bench_learning_curves.json")
    args = p.parse_args(argv)

    sys.path.insert(0, str(HERE.parent))
    from painnjax.io.files import lock_run_folder

    args.run.mkdir(parents=True, exist_ok=True)
    with lock_run_folder(args.run, "the learning curves"):
        t0 = time.perf_counter()
        if not args.report:
            compute(args, args.run)
        points = collect(args.run)
    text, summary = table(points)
    print(text)
    if points:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "benchmark": "bench_learning_curves",
            "argv": sys.argv[1:],
            "machine": machine(),
            "wall_s_this_call": time.perf_counter() - t0,
            "summary": summary,
            "points": points,
        }
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        plot(summary, args.out.with_suffix(".png"))
        print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
