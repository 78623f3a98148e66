#!/usr/bin/env python
"""Equal-budget accuracy, painnjax vs SchNetPack: is painnjax's training as good?

Both codes train the same PaiNN from the same initial weights (SchNetPack's, seeded with
``torch.manual_seed(seed)``, carried into painnjax with ``painnjax.from_schnetpack``) on the
same frames and split, with the same loss (the reference study's 0.01·MAE(E) + 0.99·MAE(F) on
binding energies in eV and forces in eV/Å, less the training set's mean energy per atom),
AdamW (lr, weight decay 0.01), batch size and number of epochs. Each keeps the weights of its
epoch with the lowest validation loss, which are then tested on a composition neither saw.

  data        ``--n`` frames (default 1,000) of the shared GFN1-xTB pool, drawn with the seed in
              proportion from every composition except ``--held-out`` (default SA6AM5, the
              pool's largest); ``--valid-fraction`` of them validate. Test: the held-out
              composition's frames (at most ``--n-test``).
  painnjax    ``painnjax.training.fit.train`` (its own loop: batches, validation, best model,
              test report), started from the carried weights (``warm_start``), float32.
  SchNetPack  its model and training step without Lightning, as in ``bench_train.py``:
              ``nnp.train()``, ``loss.backward()``, ``torch.optim.AdamW``; each epoch the
              batches painnjax draws (its size buckets, ``iterate_batches`` with the same
              seed), collated by SchNetPack's ``AtomsConverter`` with ``ASENeighborList``;
              validation and test in ``nnp.eval()``. In float64 the two loops follow the same
              trajectory (``tests/benchmarks/test_bench_accuracy.py``).

Per seed and code: validation and test MAE of the binding energy (kcal/mol) and forces
(kcal/mol/Å), the best epoch and the wall time. The verdict: painnjax's mean test error over
the seeds is at most SchNetPack's plus the larger seed spread (max - min) of the two codes.

Usage:
    python benchmarks/bench_accuracy.py        # the issue's budget: 1,000 frames, 20 epochs, 2 seeds (hours)
    python benchmarks/bench_accuracy.py --n 40 --epochs 2 --features 16 --interactions 2 --rbf 8 --n-test 10
                                               # a smoke run, ~2 min on 2 cores
    python benchmarks/bench_accuracy.py --work DIR ...   # each finished (code, seed) run is kept in DIR (locked);
                                               # the same command again skips them (resume)

Writes ``benchmarks/results/bench_accuracy_<device>.json`` (or ``--out``).
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_potential import device_tag, import_schnetpack, machine_info  # noqa: E402
from bench_train import DATA_DIR, MONOMERS, POOL, stratified_sample  # noqa: E402

import painnjax  # noqa: E402
from painnjax.data.batching import make_buckets  # noqa: E402
from painnjax.data.splits import Split  # noqa: E402
from painnjax.io.files import lock_run_folder  # noqa: E402
from painnjax.training.config import TrainConfig  # noqa: E402
from painnjax.training.fit import train  # noqa: E402
from painnjax.units import EV_TO_KCAL_PER_MOL  # noqa: E402

ENERGY_WEIGHT = 0.01
WEIGHT_DECAY = 0.01


def build_schnetpack(torch, spk, features: int, interactions: int, n_rbf: int, cutoff: float, seed: int):
    """SchNetPack PaiNN energy+forces model of this size, seeded (as bench_potential's, sized)."""
    torch.manual_seed(seed)
    rep = spk.representation.PaiNN(
        n_atom_basis=features,
        n_interactions=interactions,
        radial_basis=spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=cutoff),
        cutoff_fn=spk.nn.CosineCutoff(cutoff),
    )
    return spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=features, output_key="energy"),
            spk.atomistic.Forces(energy_key="energy", force_key="forces"),
        ],
    )


def make_split(pool, n: int, held_out: str, n_test: int, valid_fraction: float, seed: int):
    """(dataset, Split): ``n`` stratified frames without ``held_out`` (train + valid), then the test frames."""
    comps = np.asarray(pool.compositions)
    others = np.nonzero(comps != held_out)[0]
    test = np.nonzero(comps == held_out)[0]
    if len(test) == 0:
        raise SystemExit(f"bench_accuracy: no frames of the held-out composition {held_out}")
    rng = np.random.default_rng(seed)
    test = np.sort(rng.choice(test, min(n_test, len(test)), replace=False))
    pick = others[stratified_sample(comps[others], n, seed)]
    ds = pool.subset(np.concatenate([pick, test]))
    order = rng.permutation(len(pick))
    n_valid = max(1, int(round(valid_fraction * len(pick))))
    split = Split(
        train=np.sort(order[n_valid:]),
        valid=np.sort(order[:n_valid]),
        test=np.arange(len(pick), len(pick) + len(test)),
        seed=seed,
        rule=f"bench_accuracy: {len(pick)} stratified frames without {held_out}; test = {held_out}",
    )
    return ds, split


class SpkTraining:
    """SchNetPack's training on the split, keeping the state of the best validation epoch."""

    def __init__(self, torch, spk, nnp, ds, split, batch_size: int, lr: float, seed: int, cutoff: float, dtype=None):
        self.torch, self.spk, self.nnp, self.ds, self.split = torch, spk, nnp, ds, split
        self.B, self.seed = batch_size, seed
        # the training set's mean energy per atom, as painnjax's initial_model sets its shift
        self.shift = float(np.mean(ds.energy[split.train] / ds.n_atoms[split.train]))
        self.dtype = torch.float32 if dtype is None else dtype
        # painnjax's size buckets (its default for batches below 8 structures): batches hold
        # structures of one bucket, shuffled within buckets, then the batches shuffled.
        self.buckets = make_buckets(ds, cutoff, TrainConfig().max_buckets)
        nnp.to(self.dtype)
        self.opt = torch.optim.AdamW(nnp.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
        self.conv = spk.interfaces.AtomsConverter(
            neighbor_list=spk.transform.ASENeighborList(cutoff=cutoff), dtype=self.dtype, device="cpu"
        )

    def batch(self, ks) -> dict:
        from ase import Atoms

        torch, ds = self.torch, self.ds
        inp = self.conv([Atoms(numbers=ds.numbers[k], positions=ds.positions[k]) for k in ks])
        target = ds.energy[ks] - self.shift * ds.n_atoms[ks]  # the training set's mean per atom removed
        inp["energy"] = torch.tensor(target, dtype=self.dtype)
        inp["forces"] = torch.from_numpy(np.concatenate([ds.forces[k] for k in ks])).to(self.dtype)
        return inp

    def loss(self, pred, inp):
        F = self.torch.nn.functional
        return ENERGY_WEIGHT * F.l1_loss(pred["energy"], inp["energy"]) + (1 - ENERGY_WEIGHT) * F.l1_loss(
            pred["forces"], inp["forces"]
        )

    def epoch(self, epoch: int) -> None:
        """One epoch over painnjax's batches: the same structures together, in the same order."""
        from painnjax.data.batching import epoch_rng, iterate_batches

        self.nnp.train()
        plan = iterate_batches(self.ds, self.split.train, self.B, self.buckets, epoch_rng(self.seed, epoch))
        for _, members, _ in plan:
            inp = self.batch(members)
            loss = self.loss(self.nnp(dict(inp)), inp)
            loss.backward()
            self.opt.step()
            self.opt.zero_grad()

    def errors(self, indices) -> dict:
        """MAE of binding energy (kcal/mol) and forces (kcal/mol/Å), and the loss, over ``indices``."""
        self.nnp.eval()
        de, df, n_f = [], 0.0, 0
        for s in range(0, len(indices), 8):
            inp = self.batch(indices[s : s + 8])
            pred = self.nnp(dict(inp))
            de.append(np.abs(pred["energy"].detach().numpy() - inp["energy"].numpy()))
            df += float(np.abs(pred["forces"].detach().numpy() - inp["forces"].numpy()).sum())
            n_f += inp["forces"].numel()
        e_mae, f_mae = float(np.concatenate(de).mean()), df / n_f
        return {
            "energy_mae": e_mae * EV_TO_KCAL_PER_MOL,
            "forces_mae": f_mae * EV_TO_KCAL_PER_MOL,
            "loss": ENERGY_WEIGHT * e_mae + (1 - ENERGY_WEIGHT) * f_mae,
        }

    def run(self, epochs: int) -> dict:
        best, best_state, best_epoch, curve = float("inf"), None, 0, []
        for epoch in range(epochs):
            self.epoch(epoch)
            valid = self.errors(self.split.valid)
            curve.append(valid)
            print(
                f"  SchNetPack seed {self.seed} epoch {epoch + 1}/{epochs}: valid ΔE {valid['energy_mae']:.3f} "
                f"kcal/mol, F {valid['forces_mae']:.3f} kcal/mol/Å",
                flush=True,
            )
            if valid["loss"] < best:
                best, best_epoch = valid["loss"], epoch + 1
                best_state = copy.deepcopy(self.nnp.state_dict())
        self.nnp.load_state_dict(best_state)
        return {
            "best_epoch": best_epoch,
            "valid": self.errors(self.split.valid),
            "test": self.errors(self.split.test),
            "curve": curve,
        }


def painnjax_run(model, ds, split, args, seed: int, folder: Path, dtype: str = "float32") -> dict:
    cfg = TrainConfig(
        lr=args.lr,
        weight_decay=WEIGHT_DECAY,
        energy_weight=ENERGY_WEIGHT,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=seed,
        dtype=dtype,
        batch_layout="buckets",  # the batches SpkTraining draws too
    )
    train(ds, split, folder, model.config, cfg, progress=False, warm_start=model)
    summary = json.loads((folder / "summary.json").read_text())
    keys = ("energy_mae", "forces_mae")
    curve = [
        {"energy_mae": float(r["valid_energy_mae"]), "forces_mae": float(r["valid_forces_mae"])}
        for r in _csv(folder / "metrics.csv")
    ]
    return {
        "best_epoch": summary["best_epoch"],
        "valid": {k: summary["best_model_valid"][k] for k in keys},
        "test": {k: summary["best_model_test"][k] for k in keys},
        "curve": curve,
    }


def _run_key(args, seed: int) -> dict:
    """What a cached run must match to be reused: the budget, the model and the seed."""
    keys = ("n", "held_out", "n_test", "valid_fraction", "epochs", "batch_size", "lr")
    keys += ("features", "interactions", "rbf")
    return {**{k: getattr(args, k) for k in keys}, "seed": seed}


def _cached(path: Path, key: dict, fn) -> dict:
    """``fn()``'s result with its wall time, read from ``path`` when a run of the same ``key`` finished."""
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            print(f"  reusing {path.name} (finished earlier)", flush=True)
            return saved["result"]
    t0 = time.perf_counter()
    result = fn()
    result["wall_s"] = time.perf_counter() - t0
    path.write_text(json.dumps({"key": key, "result": result}, indent=1) + "\n")
    return result


def plot_curves(runs: dict, path: Path, title: str) -> Path:
    """Validation energy and force MAE per epoch of every (code, seed) run, PNG."""
    from painnjax.io.plots import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, unit in zip(axes, ("energy_mae", "forces_mae"), ("kcal/mol", "kcal/mol/Å")):
        for code, color in (("painnjax", "C0"), ("schnetpack", "C1")):
            for r, ls in zip(runs[code], ("-", "--", ":", "-.")):
                y = [c[key] for c in r["curve"]]
                ax.plot(range(1, len(y) + 1), y, color=color, ls=ls, label=f"{code}, seed {r['seed']}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {key.split('_')[0]} MAE ({unit})")
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=8)
    return save_figure(fig, path, title=title)


def _csv(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def verdict(runs: dict) -> dict:
    """painnjax's mean test error against SchNetPack's, within the larger seed spread."""
    out = {}
    for key in ("energy_mae", "forces_mae"):
        pj = np.array([r["test"][key] for r in runs["painnjax"]])
        sp = np.array([r["test"][key] for r in runs["schnetpack"]])
        spread = max(np.ptp(pj), np.ptp(sp))
        out[key] = {
            "painnjax_mean": float(pj.mean()),
            "schnetpack_mean": float(sp.mean()),
            "seed_spread": float(spread),
            "as_accurate": bool(pj.mean() <= sp.mean() + spread),
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000, help="train + validation frames (default 1,000)")
    p.add_argument("--held-out", default="SA6AM5", help="test composition, never trained on")
    p.add_argument("--n-test", type=int, default=200)
    p.add_argument("--valid-fraction", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--features", type=int, default=128)
    p.add_argument("--interactions", type=int, default=5)
    p.add_argument("--rbf", type=int, default=20)
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--out", type=Path)
    p.add_argument(
        "--work",
        type=Path,
        help="keep each finished (code, seed) run here and skip it when run again (resume after an "
        "interruption); default: a temporary folder, nothing kept",
    )
    args = p.parse_args(argv)

    torch, spk = import_schnetpack()
    if torch is None:
        print(f"bench_accuracy: SchNetPack is needed ({spk})", file=sys.stderr)
        return 2
    torch.set_num_threads(args.torch_threads)
    pool = painnjax.to_binding_energies(painnjax.read_dataset(args.data_dir / POOL), args.data_dir / MONOMERS)
    cutoff = 5.0
    runs = {"painnjax": [], "schnetpack": []}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_accuracy_") as tmp, ExitStack() as held:
        work = args.work or Path(tmp)
        held.enter_context(lock_run_folder(work, "a bench_accuracy run"))  # one writer of its cached runs
        for seed in args.seeds:
            ds, split = make_split(pool, args.n, args.held_out, args.n_test, args.valid_fraction, seed)
            nnp = build_schnetpack(torch, spk, args.features, args.interactions, args.rbf, cutoff, seed)
            model = painnjax.from_schnetpack(nnp, energy_unit="eV")  # the same initial weights

            def run_pj(seed=seed, ds=ds, split=split, model=model):
                folder = work / f"painnjax_seed{seed}"
                shutil.rmtree(folder, ignore_errors=True)  # a run cut short starts again
                return painnjax_run(model, ds, split, args, seed, folder)

            def run_sp(seed=seed, ds=ds, split=split, nnp=nnp):
                return SpkTraining(torch, spk, nnp, ds, split, args.batch_size, args.lr, seed, cutoff).run(args.epochs)

            for name, fn in (("painnjax", run_pj), ("schnetpack", run_sp)):
                r = _cached(work / f"{name}_seed{seed}.json", _run_key(args, seed), fn)
                r["seed"] = seed
                runs[name].append(r)
                print(
                    f"seed {seed} {name:>10}: best epoch {r['best_epoch']:3d}, test ΔE {r['test']['energy_mae']:.3f} "
                    f"kcal/mol, F {r['test']['forces_mae']:.3f} kcal/mol/Å ({r['wall_s']:.0f} s)",
                    flush=True,
                )
    v = verdict(runs)
    budget = f"{args.n} frames, {args.epochs} epochs, batch {args.batch_size}, seeds {args.seeds}"
    print(f"\ntest on {args.held_out} ({budget})")
    for key, unit in (("energy_mae", "kcal/mol"), ("forces_mae", "kcal/mol/Å")):
        r = v[key]
        print(
            f"  {key:>10}: painnjax {r['painnjax_mean']:.3f}, SchNetPack {r['schnetpack_mean']:.3f} {unit}; "
            f"seed spread {r['seed_spread']:.3f}; as accurate: {r['as_accurate']}"
        )
    result = {
        "benchmark": "bench_accuracy",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "machine": machine_info(torch, torch.device("cpu")),
        "settings": {k: (str(v_) if isinstance(v_, Path) else v_) for k, v_ in vars(args).items()},
        "runs": runs,
        "verdict": v,
        "wall_s": time.perf_counter() - t_all,
    }
    out = args.out or Path(__file__).resolve().parent / "results" / f"bench_accuracy_{device_tag()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    png = plot_curves(runs, out.with_suffix(".png"), f"equal budget: {budget}")
    print(f"wrote {out} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
