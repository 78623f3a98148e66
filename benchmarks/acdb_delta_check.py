#!/usr/bin/env python
"""Δ-learning on real DFT labels: KRR and k-NN, direct and Δ over GFN1-xTB, on ACDB's SA–W B97-3c set (issue 30).

Data (``../shared/data/acdb/kubecka24_SA-W_B97-3c/``, the reference PaiNN study's SA–W B97-3c single
points): ``structures1SP.xyzs`` (44 structures: 42 clusters SA0–4 W0–15 and the monomers ``1sa``
and ``1w``), ``properties1SP.txt`` (B97-3c total electronic energies, Eh) and ``bindings1SP.txt``
(ACDB's binding energies, kcal/mol). The frames are read as ``benchmarks/data/saw/split_acdb.py``
reads them (its reader, the composition checked against ACDB's name).

1. Binding energies ΔE = E(cluster) − n_SA E(1sa) − n_W E(1w) (negative: bound) from the B97-3c
   totals, against the monomer frames of the same file, are checked against ``bindings1SP.txt``;
   ACDB converts with 1 Eh = 627.503 kcal/mol. Exit 1 if any differs by more than ``--tolerance``
   (1e-6 kcal/mol).
2. GFN1-xTB single points with tblite on every structure (painnjax's labeller,
   :class:`painnjax.active.calculators.TBLiteLabeller`, with the settings of ``painnjax label``:
   accuracy 1, 300 K, 250 iterations; one OpenMP thread unless ``OMP_NUM_THREADS`` says otherwise),
   binding energies against the GFN1-xTB single points of the same file's ``1sa`` and ``1w``
   frames (not GFN1 minima).
3. Five-fold cross-validation over the 42 clusters (folds by structure, drawn with ``--seed``;
   the monomers are no targets): KRR (:func:`painnjax.kernels.krr.fit_krr`) and k-NN with the
   metrics "mlkr", "euclidean" and "kernel" (:func:`painnjax.kernels.knn.fit_knn`) on FCHL19
   (qmllib's parameters, elements H, O, S), each direct (target ΔE(B97-3c)) and Δ (target
   ΔE(B97-3c) − ΔE(GFN1), the prediction ΔE(GFN1) + ΔΔE; :func:`~painnjax.kernels.krr.predict_krr`,
   :func:`~painnjax.kernels.knn.predict_knn`). Two plain baselines: GFN1-xTB itself,
   and a least-squares fit linear in (1, n_SA, n_W) on each training fold, direct and Δ.
   The kernel models' API has no hyperparameter search, so the values are fixed (the options):
   σ = 2, λ = 1e-8 (the learning-curve benchmark's), k = 3 with 1/d weights, MLKR to 10
   components (fewer than the 33–34 training structures, so MLKR starts from PCA; at ≥ n it
   starts from the identity) with 200 L-BFGS-B iterations. A sensitivity scan (σ, λ, k, MLKR
   components; ``--no-scan`` skips it) shows whether the finding depends on them; it is scored
   on the same test folds, so it is no selection.

Errors in kcal/mol (painnjax's eV → kcal/mol; B97-3c Eh → eV with ASE's Hartree): per model the
mean ± standard deviation (ddof 1) over the folds of the fold MAE and RMSE, and the pooled
out-of-fold MAE, RMSE and max over the 42 clusters. Prints a markdown table and writes JSON
(``--out``) with the machine, date, command, settings, every structure's energies and every
out-of-fold prediction.

Usage:
    python benchmarks/acdb_delta_check.py [--out benchmarks/results/acdb_delta_check.json]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data" / "acdb" / "kubecka24_SA-W_B97-3c"
KCAL_PER_EH_ACDB = 627.503  # ACDB's (JKCS's) factor in bindings1SP.txt
ELEMENTS = (1, 8, 16)
MONOMERS = ("1sa", "1w")
METRICS = ("mlkr", "euclidean", "kernel")
SCAN = {
    "sigma": (0.5, 1.0, 2.0, 4.0, 8.0),
    "regularization": (1e-8, 1e-4, 1e-2),
    "k": (1, 2, 3, 4, 5),
    "mlkr": (5, 10, 20),
}


# --------------------------------------------------------------------------------------------
# reading and checking


def split_acdb():
    """``benchmarks/data/saw/split_acdb.py`` as a module (a script in a data folder, not on the path)."""
    path = HERE / "data" / "saw" / "split_acdb.py"
    spec = importlib.util.spec_from_file_location("split_acdb", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def acdb_key(composition: str) -> str:
    """ACDB's name in the property files (``1sa3w``, ``2sa``, ``10w``) of painnjax's ``SA{n}W{k}``."""
    m = re.fullmatch(r"SA(\d+)W(\d+)", composition)
    if m is None:
        raise ValueError(f"not an SA–W composition: {composition!r}")
    n_sa, n_w = int(m.group(1)), int(m.group(2))
    return (f"{n_sa}sa" if n_sa else "") + (f"{n_w}w" if n_w else "")


def read_table(path: Path, unit: str) -> dict[str, float]:
    """``name value`` rows of an ACDB text file whose ``#`` header names ``unit``; exit naming the file otherwise."""
    lines = path.read_text().splitlines()
    if not lines or not lines[0].startswith("#") or unit not in lines[0]:
        sys.exit(f"{path}: expected a '#' header naming {unit!r}, got {lines[:1]!r}")
    out = {}
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] in out:
            sys.exit(f"{path}:{i}: expected one 'NAME VALUE' row per name, got {line!r}")
        out[parts[0]] = float(parts[1])
    return out


def read_acdb(folder: Path) -> dict:
    """Structures, B97-3c totals (Eh) and ACDB's bindings (kcal/mol), matched by name; exit on any mismatch."""
    reader = split_acdb()
    frames = reader.read_named_frames(folder / "structures1SP.xyzs")
    energy = read_table(folder / "properties1SP.txt", "Eh")
    bindings = read_table(folder / "bindings1SP.txt", "kcal/mol")
    names, atoms, counts = [], [], []
    for acdb_name, at in frames:
        comp = reader.composition(acdb_name, at)  # exits when the atoms do not match the name
        key = acdb_key(comp)
        if key in names:
            sys.exit(f"{folder}: two frames of {key}")
        names.append(key)
        atoms.append(at)
        n_sa, n_w = (int(x) for x in re.fullmatch(r"SA(\d+)W(\d+)", comp).groups())
        counts.append((n_sa, n_w))
    if set(names) != set(energy):
        sys.exit(f"{folder}: structures and properties1SP.txt differ: {sorted(set(names) ^ set(energy))}")
    clusters = [n for n in names if n not in MONOMERS]
    if set(clusters) != set(bindings) or any(m not in names for m in MONOMERS):
        sys.exit(f"{folder}: bindings1SP.txt does not list exactly the non-monomer structures")
    return {
        "names": names,
        "atoms": atoms,
        "counts": np.asarray(counts, np.int64),
        "energy_eh": np.asarray([energy[n] for n in names]),
        "acdb_bindings_kcal": bindings,
    }


def binding(total: np.ndarray, names: list[str], counts: np.ndarray) -> np.ndarray:
    """ΔE = E − n_SA E(1sa) − n_W E(1w) of every structure, in the unit of ``total`` (monomers: 0)."""
    e_sa, e_w = total[names.index("1sa")], total[names.index("1w")]
    return total - counts[:, 0] * e_sa - counts[:, 1] * e_w


def check_bindings(data: dict, tolerance: float) -> dict:
    """Our B97-3c bindings (×627.503) against bindings1SP.txt: the largest difference; exit when above ``tolerance``."""
    names = data["names"]
    ours = binding(data["energy_eh"], names, data["counts"]) * KCAL_PER_EH_ACDB
    diffs = {n: float(ours[i] - data["acdb_bindings_kcal"][n]) for i, n in enumerate(names) if n not in MONOMERS}
    worst = max(diffs, key=lambda n: abs(diffs[n]))
    if abs(diffs[worst]) > tolerance:
        sys.exit(
            f"bindings1SP.txt disagrees with properties1SP.txt: {worst} differs by {diffs[worst]:.3g} kcal/mol "
            f"(> {tolerance:g}) with ΔE = E − n_SA E(1sa) − n_W E(1w), 1 Eh = {KCAL_PER_EH_ACDB} kcal/mol"
        )
    return {"max_abs_diff_kcal_mol": abs(diffs[worst]), "worst": worst, "n_checked": len(diffs)}


# --------------------------------------------------------------------------------------------
# GFN1-xTB


def gfn1(atoms_list) -> tuple[np.ndarray, np.ndarray, float]:
    """GFN1-xTB total energies (eV) and max |force| (eV/Å) of every structure, and the wall time (s)."""
    from painnjax.active.calculators import TBLiteLabeller

    lab = TBLiteLabeller("GFN1-xTB")  # painnjax label's defaults: accuracy 1, 300 K, 250 iterations
    energy, fmax = np.empty(len(atoms_list)), np.empty(len(atoms_list))
    t0 = time.perf_counter()
    for i, atoms in enumerate(atoms_list):
        e, f = lab(atoms.copy(), 0, 0)
        energy[i], fmax[i] = e, float(np.max(np.linalg.norm(f, axis=1)))
    return energy, fmax, time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# cross-validation


def folds(n: int, n_folds: int, seed: int) -> list[np.ndarray]:
    """Test indices of ``n_folds`` disjoint folds covering range(n), drawn with ``seed`` (each sorted)."""
    if not 2 <= n_folds <= n:
        raise ValueError(f"{n_folds} folds of {n} structures")
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(f) for f in np.array_split(perm, n_folds)]


class CV:
    """Out-of-fold predictions of ΔE(B97-3c) (eV) of every model over the folds."""

    def __init__(self, reps, y_high: np.ndarray, y_low: np.ndarray, counts: np.ndarray, test_folds):
        self.reps, self.y_high, self.y_low, self.counts = reps, y_high, y_low, counts
        self.targets = {"direct": y_high, "delta": y_high - y_low}
        self.test_folds = test_folds
        n = len(y_high)
        self.train_folds = [np.setdiff1d(np.arange(n), t) for t in test_folds]

    def _assemble(self, per_fold, target: str) -> np.ndarray:
        """One (n,) array of ΔE(B97-3c) predictions from per-fold predictions of ``target``."""
        out = np.full(len(self.y_high), np.nan)
        for test, pred in zip(self.test_folds, per_fold):
            out[test] = pred + (self.y_low[test] if target == "delta" else 0.0)
        return out

    def krr(self, sigma: float, regularization: float) -> dict[str, np.ndarray]:
        from painnjax.kernels.krr import fit_krr, predict_krr

        preds = {t: [] for t in self.targets}
        for train, test in zip(self.train_folds, self.test_folds):
            for t, y in self.targets.items():
                arrays = fit_krr(self.reps.subset(train), y[train], sigma, regularization)
                preds[t].append(predict_krr(arrays, self.reps.subset(test), sigma))
        return {t: self._assemble(p, t) for t, p in preds.items()}

    def knn(self, metric: str, ks, sigma: float, components: int, max_iter: int, seed: int) -> dict:
        """{(k, target): predictions} for every k in ``ks``: one metric fit per fold and target serves all k."""
        from dataclasses import replace

        from painnjax.kernels.config import KernelModelConfig
        from painnjax.kernels.knn import fit_knn, predict_knn

        base = KernelModelConfig(
            kind="knn",
            k=max(ks),
            weights="distance",
            metric=metric,
            sigma=sigma,
            mlkr_components=components,
            mlkr_max_iter=max_iter,
            elements=ELEMENTS,
        )
        preds = {(k, t): [] for k in ks for t in self.targets}
        for fold, (train, test) in enumerate(zip(self.train_folds, self.test_folds)):
            for t, y in self.targets.items():
                arrays = fit_knn(self.reps.subset(train), y[train], base, seed=seed + fold)
                for k in ks:
                    pred, _ = predict_knn(arrays, self.reps.subset(test), replace(base, k=k))
                    preds[(k, t)].append(pred)
        return {key: self._assemble(p, key[1]) for key, p in preds.items()}

    def linear(self) -> dict[str, np.ndarray]:
        """Least squares in (1, n_SA, n_W) on each training fold."""
        X = np.column_stack([np.ones(len(self.counts)), self.counts])
        preds = {t: [] for t in self.targets}
        for train, test in zip(self.train_folds, self.test_folds):
            for t, y in self.targets.items():
                coef, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
                preds[t].append(X[test] @ coef)
        return {t: self._assemble(p, t) for t, p in preds.items()}


def score(pred: np.ndarray, ref: np.ndarray, test_folds) -> dict:
    """Fold and pooled errors (kcal/mol) of out-of-fold predictions ``pred`` against ``ref`` (eV)."""
    from painnjax.units import EV_TO_KCAL_PER_MOL

    if np.isnan(pred).any():
        raise RuntimeError("a structure has no out-of-fold prediction")
    err = (pred - ref) * EV_TO_KCAL_PER_MOL
    mae = [float(np.mean(np.abs(err[f]))) for f in test_folds]
    rmse = [float(np.sqrt(np.mean(err[f] ** 2))) for f in test_folds]
    return {
        "fold_mae_kcal_mol": mae,
        "fold_rmse_kcal_mol": rmse,
        "mae_mean": float(np.mean(mae)),
        "mae_std": float(np.std(mae, ddof=1)),
        "rmse_mean": float(np.mean(rmse)),
        "rmse_std": float(np.std(rmse, ddof=1)),
        "pooled_mae": float(np.mean(np.abs(err))),
        "pooled_rmse": float(np.sqrt(np.mean(err**2))),
        "pooled_max": float(np.max(np.abs(err))),
    }


# --------------------------------------------------------------------------------------------
# report


def table(summary: dict) -> str:
    rows = [
        "| model | target | MAE (kcal/mol), folds | RMSE (kcal/mol), folds | pooled MAE | pooled RMSE | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        model, target = name.rsplit(" ", 1) if name.endswith((" direct", " Δ")) else (name, "–")
        rows.append(
            f"| {model} | {target} | {s['mae_mean']:.2f} ± {s['mae_std']:.2f} | {s['rmse_mean']:.2f} ± "
            f"{s['rmse_std']:.2f} | {s['pooled_mae']:.2f} | {s['pooled_rmse']:.2f} | {s['pooled_max']:.2f} |"
        )
    return "\n".join(rows)


def ratios(summary: dict) -> dict[str, float]:
    """Pooled MAE direct / Δ per model."""
    out = {}
    for name in summary:
        if name.endswith(" direct") and name.replace(" direct", " Δ") in summary:
            base = name[: -len(" direct")]
            out[base] = summary[name]["pooled_mae"] / summary[f"{base} Δ"]["pooled_mae"]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA, help="the kubecka24_SA-W_B97-3c folder")
    p.add_argument("--out", type=Path, default=HERE / "results" / "acdb_delta_check.json")
    p.add_argument("--seed", type=int, default=0, help="draws the folds")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--sigma", type=float, default=2.0, help="KRR and k-NN 'kernel': FCHL19 kernel width")
    p.add_argument("--regularization", type=float, default=1e-8, help="KRR λ")
    p.add_argument("--k", type=int, default=3, help="k-NN neighbours (1/d weights)")
    p.add_argument("--mlkr-components", type=int, default=10)
    p.add_argument("--mlkr-max-iter", type=int, default=200)
    p.add_argument("--tolerance", type=float, default=1e-6, help="kcal/mol, the bindings1SP.txt check")
    p.add_argument("--no-scan", action="store_true", help="skip the hyperparameter sensitivity scan")
    args = p.parse_args(argv)
    # One OpenMP thread for tblite, as `painnjax label` runs it (set before tblite is loaded): faster on
    # clusters of tens of atoms, and bit-reproducible GFN1-xTB energies. With two threads they differ by
    # ~1e-11 kcal/mol from run to run, which MLKR's fit on the Δ target amplifies into other neighbours
    # (pooled MAE 3.4 or 3.6 kcal/mol).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not args.data.is_dir():
        print(f"acdb_delta_check: {args.data} is absent (the shared data sit beside the repository)", file=sys.stderr)
        return 2

    from ase.units import Hartree

    from painnjax.kernels.representation import FCHL19Config, fchl19
    from painnjax.units import EV_TO_KCAL_PER_MOL

    t_start = time.perf_counter()
    data = read_acdb(args.data)
    names, counts = data["names"], data["counts"]
    check = check_bindings(data, args.tolerance)
    print(
        f"{len(names)} structures; bindings1SP.txt = (E − n_SA E(1sa) − n_W E(1w)) × {KCAL_PER_EH_ACDB} kcal/mol/Eh "
        f"to {check['max_abs_diff_kcal_mol']:.1e} kcal/mol (negative: bound)",
        flush=True,
    )

    e_gfn1, fmax, gfn1_s = gfn1(data["atoms"])
    print(f"GFN1-xTB single points: {len(names)} structures in {gfn1_s:.1f} s", flush=True)
    b_high = binding(data["energy_eh"] * Hartree, names, counts)  # eV
    b_low = binding(e_gfn1, names, counts)
    cl = np.asarray([i for i, n in enumerate(names) if n not in MONOMERS])
    y_high, y_low, cl_counts = b_high[cl], b_low[cl], counts[cl]

    t0 = time.perf_counter()
    atoms = [data["atoms"][i] for i in cl]
    reps = fchl19([a.numbers for a in atoms], [a.positions for a in atoms], FCHL19Config(), ELEMENTS)
    fchl_s = time.perf_counter() - t0

    test_folds = folds(len(cl), args.folds, args.seed)
    cv = CV(reps, y_high, y_low, cl_counts, test_folds)
    preds: dict[str, np.ndarray] = {"GFN1-xTB alone": y_low.copy()}
    timings = {"gfn1_s": gfn1_s, "fchl19_s": fchl_s}
    lin = cv.linear()
    preds["linear in n_SA, n_W direct"], preds["linear in n_SA, n_W Δ"] = lin["direct"], lin["delta"]
    t0 = time.perf_counter()
    krr = cv.krr(args.sigma, args.regularization)
    timings["krr_s"] = time.perf_counter() - t0
    preds["KRR direct"], preds["KRR Δ"] = krr["direct"], krr["delta"]
    for metric in METRICS:
        t0 = time.perf_counter()
        knn = cv.knn(metric, [args.k], args.sigma, args.mlkr_components, args.mlkr_max_iter, args.seed)
        timings[f"knn_{metric}_s"] = time.perf_counter() - t0
        preds[f"k-NN {metric} direct"], preds[f"k-NN {metric} Δ"] = knn[(args.k, "direct")], knn[(args.k, "delta")]
    summary = {name: score(pred, y_high, test_folds) for name, pred in preds.items()}
    print(f"done in {time.perf_counter() - t_start:.0f} s\n", flush=True)
    print(table(summary))
    rat = ratios(summary)
    print("\npooled MAE direct / Δ: " + ", ".join(f"{m} {r:.2f}" for m, r in rat.items()))

    scan = {}
    if not args.no_scan:
        t0 = time.perf_counter()
        scan = sensitivity(cv, y_high, test_folds, args)
        timings["scan_s"] = time.perf_counter() - t0
        print("\nSensitivity (pooled MAE, kcal/mol, direct / Δ; scored on the same folds: no selection):")
        for line in scan["lines"]:
            print(line)

    kcal = EV_TO_KCAL_PER_MOL
    structures = []
    for j, i in enumerate(cl):
        row = {
            "name": names[i],
            "n_atoms": len(data["atoms"][i]),
            "fold": int(next(f for f, t in enumerate(test_folds) if j in t)),
            "b97_3c_binding_kcal_mol": float(y_high[j] * kcal),
            "gfn1_binding_kcal_mol": float(y_low[j] * kcal),
            "gfn1_max_force_eV_A": float(fmax[i]),
            "predicted_kcal_mol": {m: float(p[j] * kcal) for m, p in preds.items()},
        }
        structures.append(row)
    from bench_potential import machine_info, write_result  # a sibling script

    result = {
        "benchmark": "acdb_delta_check",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "machine": machine_info(None, None),
        "data": {
            "folder": "../shared/data/acdb/kubecka24_SA-W_B97-3c",
            "structures": len(names),
            "clusters": len(cl),
            "monomer_energies_eV": {
                m: {"b97_3c": float(data["energy_eh"][names.index(m)] * Hartree), "gfn1": float(e_gfn1[names.index(m)])}
                for m in MONOMERS
            },
            "versions": {p: _version(p) for p in ("tblite", "qmllib", "scikit-learn", "scipy")},
            "binding": "ΔE = E(cluster) − n_SA E(1sa) − n_W E(1w), monomers the same file's frames; negative: bound",
            "bindings1SP_check": {**check, "kcal_per_eh": KCAL_PER_EH_ACDB, "tolerance_kcal_mol": args.tolerance},
            "gfn1": "tblite GFN1-xTB via painnjax TBLiteLabeller (accuracy 1, 300 K, 250 iterations), single points",
            "units": "kcal/mol (painnjax EV_TO_KCAL_PER_MOL); B97-3c Eh -> eV with ase.units.Hartree",
        },
        "settings": {
            "folds": args.folds,
            "seed": args.seed,
            "fold_sizes": [len(f) for f in test_folds],
            "fchl19": "qmllib defaults, elements H, O, S",
            "krr": {"sigma": args.sigma, "regularization": args.regularization},
            "knn": {
                "k": args.k,
                "weights": "distance",
                "global_representation": "sum",
                "sigma (kernel metric)": args.sigma,
                "mlkr_components": args.mlkr_components,
                "mlkr_max_iter": args.mlkr_max_iter,
            },
        },
        "summary": summary,
        "direct_over_delta_pooled_mae": rat,
        "sensitivity": scan.get("results", {}),
        "timings_s": {**timings, "total": time.perf_counter() - t_start},
        "structures": structures,
    }
    write_result(result, "acdb_delta_check", args.out)
    return 0


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def sensitivity(cv: CV, y_high: np.ndarray, test_folds, args) -> dict:
    """Pooled MAE (kcal/mol) of direct and Δ over a grid of each model's hyperparameters."""

    def pair(pred) -> tuple[float, float]:
        return tuple(score(pred[t], y_high, test_folds)["pooled_mae"] for t in ("direct", "delta"))

    results, lines = {"krr": [], "knn": []}, []
    for sigma in SCAN["sigma"]:
        for lam in SCAN["regularization"]:
            d, dl = pair(cv.krr(sigma, lam))
            results["krr"].append({"sigma": sigma, "regularization": lam, "direct": d, "delta": dl})
            lines.append(f"  KRR σ {sigma:g} λ {lam:g}: {d:.2f} / {dl:.2f} (×{d / dl:.1f})")
    fits = [("euclidean", 0, args.sigma), *[("mlkr", c, args.sigma) for c in SCAN["mlkr"]]]
    fits += [("kernel", 0, s) for s in SCAN["sigma"]]
    for metric, comps, sigma in fits:
        knn = cv.knn(metric, SCAN["k"], sigma, comps or args.mlkr_components, args.mlkr_max_iter, args.seed)
        for k in SCAN["k"]:
            d, dl = pair({t: knn[(k, t)] for t in ("direct", "delta")})
            entry = {"metric": metric, "k": k, "direct": d, "delta": dl}
            label = f"k-NN {metric}"
            if metric == "mlkr":
                entry["mlkr_components"] = comps
                label += f" {comps} components"
            if metric == "kernel":
                entry["sigma"] = sigma
                label += f" σ {sigma:g}"
            results["knn"].append(entry)
            lines.append(f"  {label} k {k}: {d:.2f} / {dl:.2f} (×{d / dl:.1f})")
    return {"results": results, "lines": lines}


if __name__ == "__main__":
    raise SystemExit(main())
