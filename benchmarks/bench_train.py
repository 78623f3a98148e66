#!/usr/bin/env python
"""Training throughput of painnjax vs SchNetPack: structures per second, energies + forces.

Both codes train the same model (SchNetPack 2.x PaiNN with default hyper-parameters: 128
features, 5 interactions, 20 Gaussian RBF, 5 Å cosine cutoff; 967,681 parameters) from the same
initial weights (``torch.manual_seed``, carried into painnjax with ``painnjax.from_schnetpack``)
with the same loss and optimiser: the reference study's loss 0.01·MAE(E) + 0.99·MAE(F), AdamW
(lr 1e-4, weight decay 0.01), float32, on binding energies (eV) and forces (eV/Å) of a fixed
sample of the shared GFN1-xTB training pool (drawn with a seed, proportionally from every
composition). Per batch size it times whole epochs over the sample:

  painnjax    ``painnjax.training.trainer.Trainer(model, TrainConfig(batch_size=B), make_buckets(sample, 5.0, 4))``
              and ``trainer.step_packed(batch, lr)`` over ``iterate_packed(sample, ..., epoch_rng(seed, epoch))``
              (``--layout buckets``: ``trainer.step(b, batch, lr)`` over ``iterate_batches``),
              ``block_until_ready`` on the parameters at the end of the epoch: exactly the inner
              loop of ``painnjax.training.fit.train``. Timed: host-side padding/batching, transfer, the
              jitted step (pair list, energies, forces, loss, gradients, AdamW update). One full
              untimed epoch first compiles every bucket shape ("compile").
  SchNetPack  its training step without Lightning: ``nnp.train()`` (so ``Forces`` builds the
              double-backward graph, ``create_graph=True``, as in SchNetPack's training),
              ``pred = nnp(batch)``, ``loss = 0.01*L1(E) + 0.99*L1(F)``, ``loss.backward()``,
              ``optimizer.step()``, ``optimizer.zero_grad()`` with ``torch.optim.AdamW(lr=1e-4)``.
              Batches are shuffled per epoch and collated by SchNetPack
              (``spk.interfaces.AtomsConverter`` with ``ASENeighborList(5.0)``, i.e. schnetpack.data's
              collate function) before the timing, as a cached data set with precomputed neighbour
              lists would give them. Not timed (not done): neighbour lists, collation, Lightning's
              hooks and torchmetrics logging of ``AtomisticTask.training_step``; so the SchNetPack
              rate is an upper bound on what its full trainer reaches.

Filler structures (weight 0, painnjax's last partial batch of a bucket) are not counted:
structures/s = real structures in the epoch / epoch wall time. The epochs of the two codes run
alternately, and the CPU used by other processes meanwhile is measured ("bg", cores).

Usage:
    python benchmarks/bench_train.py                       # B = 2 and 32, 256 structures
    python benchmarks/bench_train.py --batch-sizes 32 --epochs 3 --wait-idle 300
    python benchmarks/bench_train.py --no-schnetpack       # painnjax only (e.g. on a GPU)

Writes ``benchmarks/results/bench_train_<device>.json`` (or ``--out``).
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
from bench_potential import (  # noqa: E402  (shared helpers of the benchmarks)
    BUSY_THRESHOLD,
    CpuMonitor,
    build_schnetpack,
    device_tag,
    machine_info,
    print_banner,
    result_header,
    shared_model,
    wait_for_idle,
)

import painnjax  # noqa: E402
from painnjax.data.batching import epoch_rng, iterate_batches, make_buckets  # noqa: E402
from painnjax.data.packing import iterate_packed, make_budgets, structure_pairs  # noqa: E402
from painnjax.training.config import TrainConfig  # noqa: E402
from painnjax.training.trainer import Trainer  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "saam_gfn1"
POOL = "train_pool_300K.extxyz"
MONOMERS = "monomers_gfn1.extxyz"
ENERGY_WEIGHT = 0.01  # x in x*MAE(E) + (1-x)*MAE(F)
LR = 1e-4
WEIGHT_DECAY = 0.01  # torch.optim.AdamW's default, TrainConfig's default
PAUSE = 0.5  # s, untimed, between the two codes' epochs (lets spinning worker threads go idle)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def stratified_sample(compositions, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` structures drawn with ``seed``, from every composition in
    proportion to its share (largest remainders, at least one each)."""
    comps = np.asarray(compositions)
    names = sorted(set(comps.tolist()))
    if n >= len(comps):
        return np.arange(len(comps))
    if n < len(names):
        raise SystemExit(
            f"bench_train: a sample of {n} structures cannot hold one of each of the "
            f"{len(names)} compositions; ask for at least {len(names)}"
        )
    members = {c: np.nonzero(comps == c)[0] for c in names}
    quota = {c: n * len(members[c]) / len(comps) for c in names}
    alloc = {c: min(len(members[c]), max(1, int(np.floor(quota[c])))) for c in names}
    while sum(alloc.values()) < n:
        c = max((c for c in names if alloc[c] < len(members[c])), key=lambda c: quota[c] - alloc[c])
        alloc[c] += 1
    while sum(alloc.values()) > n:
        c = max((c for c in names if alloc[c] > 1), key=lambda c: alloc[c] - quota[c])
        alloc[c] -= 1
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.choice(members[c], alloc[c], replace=False) for c in names])
    return np.sort(pick)


def load_sample(data_dir: Path, n: int, seed: int):
    t0 = time.perf_counter()
    pool = painnjax.read_dataset(data_dir / POOL)
    pool = painnjax.to_binding_energies(pool, data_dir / MONOMERS)
    idx = stratified_sample(pool.compositions, n, seed)
    return pool.subset(idx), len(pool), time.perf_counter() - t0


def describe(ds) -> dict:
    comps, counts = np.unique(ds.compositions, return_counts=True)
    return {
        "n_structures": len(ds),
        "n_atoms_total": int(ds.n_atoms.sum()),
        "mean_atoms": float(ds.n_atoms.mean()),
        "compositions": dict(zip(comps.tolist(), counts.tolist())),
    }


# --------------------------------------------------------------------------------------------
# painnjax
# --------------------------------------------------------------------------------------------


def _batches(ds, indices, batch_size, buckets, rng):
    """``(bucket, batch)`` pairs of ``iterate_batches`` (the structure indices are not needed)."""
    for b, _, batch in iterate_batches(ds, indices, batch_size, buckets, rng):
        yield b, batch


class JaxRun:
    """painnjax's Trainer on the sample at one batch size."""

    def __init__(self, model, sample, batch_size: int, max_buckets: int, seed: int, layout: str = "auto"):
        self.ds = sample
        self.B = batch_size
        self.seed = seed
        self.layout = layout = TrainConfig(batch_size=batch_size, batch_layout=layout).resolved_layout
        self.indices = np.arange(len(sample))
        self.buckets = make_buckets(sample, model.config.cutoff, max_buckets=max_buckets)
        self.pairs = self.budgets = None
        if layout == "packed":  # as painnjax.training.fit._set_up does
            self.pairs = structure_pairs(sample, model.config.cutoff)
            self.budgets = make_budgets(sample, self.pairs, self.indices, batch_size, 1, seed=seed)
        self.cfg = TrainConfig(
            batch_size=batch_size,
            lr=LR,
            weight_decay=WEIGHT_DECAY,
            energy_weight=ENERGY_WEIGHT,
            loss="mae",
            seed=seed,
            max_buckets=max_buckets,
            dtype="float32",
            batch_layout=layout,
        )
        self.trainer = Trainer(model, self.cfg, self.buckets)

    def units(self) -> list[dict]:
        """The compiled shapes: size buckets, or the packed layout's budgets."""
        if self.budgets is not None:
            return [{"atoms": b.atoms, "pairs": b.pairs} for b in self.budgets]
        return [{"n_atoms": b.n_atoms, "pair_capacity": b.pair_capacity} for b in self.buckets]

    def batches(self, rng):
        """``(bucket or budget index, batch)`` of one epoch in this run's layout."""
        if self.budgets is None:
            yield from _batches(self.ds, self.indices, self.B, self.buckets, rng)
            return
        for k, _, packed in iterate_packed(self.ds, self.pairs, self.indices, self.B, self.budgets, 1, rng):
            yield k, packed

    def step(self, key: int, batch) -> None:
        if self.budgets is None:
            self.trainer.step(key, batch, LR)
        else:
            self.trainer.step_packed(batch, LR)

    def padding(self) -> dict:
        """Batches, filler structures and atom slots of one epoch (the same every epoch)."""
        n_batches = filler = slots = 0
        per_bucket = {}
        for b, batch in self.batches(rng=None):
            n_batches += 1
            if self.budgets is None:  # weight-0 rows are computed like real ones
                filler += int((batch.weight == 0).sum())
            slots += batch.atom_mask.size
            per_bucket[b] = per_bucket.get(b, 0) + 1
        real_atoms = int(self.ds.n_atoms.sum())
        return {
            "batches_per_epoch": n_batches,
            "filler_structures_per_epoch": filler,
            "atom_slots_per_epoch": slots,
            "real_atom_fraction": real_atoms / slots,
            "batches_per_bucket": [per_bucket.get(b, 0) for b in range(len(self.units()))],
        }

    def warmup(self, timed_epochs: int = 0) -> dict:
        """One untimed epoch (epoch 0) that compiles every bucket, and a step on each packed
        budget that only the timed epochs 1..timed_epochs use; per-step wall times."""
        first, later = {}, {}
        t0 = time.perf_counter()
        for b, batch in self.batches(epoch_rng(self.seed, 0)):
            t1 = time.perf_counter()
            self.step(b, batch)
            jax.block_until_ready(self.trainer.params)
            dt = time.perf_counter() - t1
            if b not in first:
                first[b] = dt
            else:
                later.setdefault(b, []).append(dt)
        wall = time.perf_counter() - t0
        # Packed budgets that epoch 0 did not use but a timed epoch will: compiled here, untimed.
        for e in range(1, timed_epochs + 1):
            for b, batch in self.batches(epoch_rng(self.seed, e)):
                if b not in first:
                    t1 = time.perf_counter()
                    self.step(b, batch)
                    jax.block_until_ready(self.trainer.params)
                    first[b] = time.perf_counter() - t1
        steady = {b: float(np.median(v)) for b, v in later.items()}
        # compile ≈ first call of each bucket minus one steady step of that bucket
        compile_s = sum(first[b] - steady.get(b, 0.0) for b in first)
        return {
            "epoch_s": wall,
            "compile_s_est": compile_s,
            "first_step_s": {str(b): first[b] for b in sorted(first)},
            "steady_step_s": {str(b): steady[b] for b in sorted(steady)},
        }

    def batching_s(self, epoch: int) -> float:
        """Host-side cost of building one epoch's padded batches (numpy only, no step)."""
        t0 = time.perf_counter()
        for _ in self.batches(epoch_rng(self.seed, epoch)):
            pass
        return time.perf_counter() - t0

    def epoch(self, epoch: int) -> float:
        tr = self.trainer
        gc_was = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for b, batch in self.batches(epoch_rng(self.seed, epoch)):
                self.step(b, batch)
            jax.block_until_ready(tr.params)
            return time.perf_counter() - t0
        finally:
            if gc_was:
                gc.enable()

    def first_batch_loss(self, struct_idx) -> float:
        """Loss (initial weights) of the structures ``struct_idx`` as one batch, before training."""
        from painnjax.data.batching import bucket_of, pad_structures

        b = max(bucket_of(int(self.ds.n_atoms[k]), self.buckets) for k in struct_idx)
        batch = pad_structures(self.ds, struct_idx, self.buckets[b].n_atoms, self.B)
        sums = self.trainer.evaluate_sums(b, batch)
        return float(sums["loss"]) / float(sums["n_e"])


# --------------------------------------------------------------------------------------------
# SchNetPack
# --------------------------------------------------------------------------------------------


class SpkRun:
    """SchNetPack's training step (no Lightning) on precollated batches at one batch size."""

    def __init__(self, torch, spk, sample, struct_idx, batch_size: int, seed: int, device):
        self.torch, self.spk = torch, spk
        self.ds, self.idx, self.B, self.seed, self.device = sample, np.asarray(struct_idx), batch_size, seed, device
        self.nnp = build_schnetpack(torch, spk, seed).to(device).train()  # train(): Forces uses create_graph=True
        self.opt = torch.optim.AdamW(self.nnp.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        self.conv = spk.interfaces.AtomsConverter(
            neighbor_list=spk.transform.ASENeighborList(cutoff=5.0), dtype=torch.float32, device=device
        )
        self.sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)

    def collate(self, ks) -> dict:
        """One batch the SchNetPack way: ASE neighbour lists + schnetpack.data collation, targets added."""
        from ase import Atoms

        torch = self.torch
        atoms = [Atoms(numbers=self.ds.numbers[k], positions=self.ds.positions[k]) for k in ks]
        inp = self.conv(atoms)
        inp["energy"] = torch.tensor(self.ds.energy[ks], dtype=torch.float32, device=self.device)
        inp["forces"] = torch.from_numpy(np.concatenate([self.ds.forces[k] for k in ks]).astype(np.float32)).to(
            self.device
        )
        return inp

    def epoch_batches(self, epoch: int) -> list[dict]:
        """A shuffled epoch (as DataLoader(shuffle=True, drop_last=False)), collated untimed."""
        order = epoch_rng(self.seed, epoch).permutation(self.idx)
        return [self.collate(order[s : s + self.B]) for s in range(0, len(order), self.B)]

    def loss(self, pred, inp):
        F = self.torch.nn.functional
        return ENERGY_WEIGHT * F.l1_loss(pred["energy"], inp["energy"]) + (1.0 - ENERGY_WEIGHT) * F.l1_loss(
            pred["forces"], inp["forces"]
        )

    def step(self, inp) -> None:
        pred = self.nnp(dict(inp))  # shallow copy: the model writes intermediate keys into its input
        loss = self.loss(pred, inp)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()

    def warmup(self, n_steps: int, epoch: int = 0) -> float:
        batches = self.epoch_batches(epoch)[:n_steps]
        t0 = time.perf_counter()
        for inp in batches:
            self.step(inp)
        self.sync()
        return time.perf_counter() - t0

    def epoch(self, batches) -> float:
        gc_was = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for inp in batches:
                self.step(inp)
            self.sync()
            return time.perf_counter() - t0
        finally:
            if gc_was:
                gc.enable()

    def first_batch_loss(self, struct_idx) -> float:
        self.nnp.train()
        inp = self.collate(list(struct_idx))
        pred = self.nnp(dict(inp))
        return float(self.loss(pred, inp).detach().cpu())


# --------------------------------------------------------------------------------------------
# one batch size
# --------------------------------------------------------------------------------------------


def bench_batch_size(
    B, model, sample, spk_ctx, spk_idx, epochs, max_buckets, seed, wait_idle, check_loss: bool = True, layout="auto"
) -> dict:
    row = {"batch_size": B}
    n_struct = len(sample)
    n_atoms = int(sample.n_atoms.sum())

    # ---- painnjax: build, padding statistics, warm-up epoch (compiles every bucket) -------------
    jr = JaxRun(model, sample, B, max_buckets, seed, layout)
    layout = jr.layout
    jrow = {"layout": layout, "buckets" if layout == "buckets" else "budgets": jr.units()}
    jrow.update(jr.padding())
    check = None
    if spk_ctx is not None:
        sr = SpkRun(spk_ctx["torch"], spk_ctx["spk"], sample, spk_idx, B, seed, spk_ctx["device"])
    if spk_ctx is not None and check_loss:
        # the same structures as one batch, initial weights, in both codes: the losses must agree
        small = np.argsort(sample.n_atoms, kind="stable")[:B]
        l_spk = sr.first_batch_loss(small)
        l_jax = jr.first_batch_loss(small)
        check = {
            "structures": [int(k) for k in small],
            "loss_painnjax": l_jax,
            "loss_schnetpack": l_spk,
            "rel_diff": abs(l_jax - l_spk) / max(abs(l_spk), 1e-12),
        }
        print(
            f"B={B}: initial loss of one batch: painnjax {l_jax:.6f}, SchNetPack {l_spk:.6f} "
            f"(rel diff {check['rel_diff']:.1e})",
            flush=True,
        )
    m = CpuMonitor()
    jrow["warmup"] = jr.warmup(epochs)
    jrow["warmup"]["other_processes_cores_busy"] = m.other_cores_busy()
    w = jrow["warmup"]
    steady = w["steady_step_s"]
    if len(steady) == len(jr.units()):
        # blocking per step, summed over one epoch's batches: the device-side compute of an epoch
        w["step_s_per_epoch_est"] = sum(n * steady[str(b)] for b, n in enumerate(jrow["batches_per_bucket"]))
    print(
        f"B={B}: painnjax warm-up epoch {w['epoch_s']:.1f} s (compile ≈ {w['compile_s_est']:.1f} s over "
        f"{len(jr.units())} {layout} shapes of "
        + "/".join(str(u.get("n_atoms", u.get("atoms"))) for u in jr.units())
        + " atom slots; steady step "
        + (", ".join(f"{v * 1e3:.0f}" for v in steady.values()) + " ms per shape" if steady else "n/a")
        + f"; {jrow['filler_structures_per_epoch']} filler structures per epoch, real atoms / slots "
        f"{jrow['real_atom_fraction']:.2f})",
        flush=True,
    )

    # ---- SchNetPack: warm-up steps, per-epoch batches collated up front -----------------------
    if spk_ctx is not None:
        srow = {"structures_per_epoch": len(spk_idx), "atoms_per_epoch": int(sample.n_atoms[spk_idx].sum())}
        t0 = time.perf_counter()
        batches = {e: sr.epoch_batches(e) for e in range(1, epochs + 1)}
        srow["collate_s_per_epoch"] = (time.perf_counter() - t0) / epochs
        n_warm = max(2, min(len(batches[1]), 32 // B))
        srow["warmup_steps"] = n_warm
        srow["warmup_s"] = sr.warmup(n_warm)
        srow["batches_per_epoch"] = len(batches[1])
        print(
            f"B={B}: SchNetPack warm-up {n_warm} steps {srow['warmup_s']:.1f} s; collation "
            f"{srow['collate_s_per_epoch']:.1f} s/epoch (untimed)",
            flush=True,
        )

    # ---- timed epochs, the two codes alternating ------------------------------------------------
    jt, jbg, st, sbg, waited = [], [], [], [], []
    for e in range(1, epochs + 1):
        waited.append(wait_for_idle(wait_idle))
        m = CpuMonitor()
        jt.append(jr.epoch(e))
        jbg.append(m.other_cores_busy())
        msg = f"B={B} epoch {e}: painnjax {jt[-1]:.2f} s ({n_struct / jt[-1]:.1f} structures/s, bg {_fmt_bg(jbg[-1])})"
        if spk_ctx is not None:
            time.sleep(PAUSE)
            m = CpuMonitor()
            st.append(sr.epoch(batches[e]))
            sbg.append(m.other_cores_busy())
            msg += f"; SchNetPack {st[-1]:.2f} s ({len(spk_idx) / st[-1]:.1f} structures/s, bg {_fmt_bg(sbg[-1])})"
            time.sleep(PAUSE)
        print(msg, flush=True)
    jrow["batching_s_per_epoch"] = jr.batching_s(1)  # host numpy padding alone, for the breakdown
    est = jrow["warmup"].get("step_s_per_epoch_est")
    print(
        f"B={B}: painnjax epoch breakdown: host batching {jrow['batching_s_per_epoch']:.2f} s"
        + (f", steps (blocking, from the warm-up) ≈ {est:.2f} s" if est is not None else "")
        + f", timed epoch {float(np.median(jt)):.2f} s",
        flush=True,
    )
    jrow.update(_rates(jt, n_struct, n_atoms, jbg))
    row["painnjax"] = jrow
    row["waited_for_idle_s"] = waited
    if spk_ctx is not None:
        srow.update(_rates(st, len(spk_idx), srow["atoms_per_epoch"], sbg))
        row["schnetpack"] = srow
        if check is not None:
            row["loss_check"] = check
        row["ratio_structures_per_s"] = jrow["structures_per_s"] / srow["structures_per_s"]
        row["ratio_atoms_per_s"] = jrow["atoms_per_s"] / srow["atoms_per_s"]
    return row


def _rates(times, n_struct, n_atoms, bg) -> dict:
    t = float(np.median(times))
    return {
        "epoch_s": [float(x) for x in times],
        "epoch_s_median": t,
        "structures_per_s": n_struct / t,
        "atoms_per_s": n_atoms / t,
        "structures_per_s_all": [n_struct / x for x in times],
        "other_processes_cores_busy": bg,
        "other_processes_cores_busy_max": max((b for b in bg if b is not None), default=None),
    }


def _fmt_bg(b) -> str:
    return "?" if b is None else f"{b:.2f}"


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def print_table(rows, with_spk: bool, spk_subset: bool) -> None:
    head = f"{'B':>3} | {'compile':>7} {'epoch':>7} {'struct/s':>8} {'atoms/s':>7} {'fill':>4} {'real':>5} {'bg':>5}"
    units = f"{'':>3} | {'s':>7} {'s':>7} {'':>8} {'':>7} {'':>4} {'slots':>5} {'cores':>5}"
    if with_spk:
        head += f" | {'epoch':>7} {'struct/s':>8} {'atoms/s':>7} {'bg':>5} | {'x struct':>8} {'x atoms':>7}"
        units += f" | {'s':>7} {'':>8} {'':>7} {'cores':>5} | {'':>8} {'':>7}"
    width = len(head)
    title = f"{'':>3} | {'painnjax':^{47}}"
    if with_spk:
        title += f" | {'SchNetPack (no Lightning)':^{31}} | {'painnjax / SchNetPack':^{16}}"
    print(title)
    print(head)
    print(units)
    print("-" * width)
    for r in rows:
        j = r["painnjax"]
        line = (
            f"{r['batch_size']:>3} | {j['warmup']['compile_s_est']:>7.1f} {j['epoch_s_median']:>7.2f} "
            f"{j['structures_per_s']:>8.1f} {j['atoms_per_s']:>7.0f} {j['filler_structures_per_epoch']:>4} "
            f"{j['real_atom_fraction']:>5.2f} {_fmt_bg(j['other_processes_cores_busy_max']):>5}"
        )
        if with_spk:
            s = r["schnetpack"]
            line += (
                f" | {s['epoch_s_median']:>7.2f} {s['structures_per_s']:>8.1f} {s['atoms_per_s']:>7.0f} "
                f"{_fmt_bg(s['other_processes_cores_busy_max']):>5} | {r['ratio_structures_per_s']:>7.2f}x "
                f"{r['ratio_atoms_per_s']:>6.2f}x"
            )
        print(line)
    print("-" * width)
    print("epoch = median wall time of the timed epochs; struct/s = real structures per epoch / epoch time (filler")
    print(
        "structures not counted); 'compile' = first step of each bucket minus a steady step, summed; 'fill' = weight-0"
    )
    print("filler structures per epoch; 'real slots' = real atoms / padded atom slots; 'bg' = most cores kept busy by")
    print("other processes during one timed epoch (should be ~0); 'x' = painnjax rate / SchNetPack rate (target >= 3).")
    if with_spk:
        print("SchNetPack timed: nnp(batch) in train mode (Forces with create_graph=True), loss, backward, AdamW step,")
        print("zero_grad; not timed: neighbour lists and collation (precomputed), Lightning hooks, metric logging.")
        if spk_subset:
            print("SchNetPack epochs run over a proportional subset of the sample (see 'SchNetPack structures' above);")
            print("its rate is per structure of that subset (the atoms/s ratio corrects for any size difference).")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[2, 32], help="batch sizes (default: 2 32)")
    p.add_argument(
        "--n-structures",
        type=int,
        default=256,
        help="size of the fixed sample of the pool, drawn proportionally from every composition (default 256)",
    )
    p.add_argument(
        "--spk-structures",
        type=int,
        default=None,
        help="SchNetPack epochs over a proportional subset of the sample of this size "
        "(default: the whole sample; fewer keeps the run short when SchNetPack is slow)",
    )
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per code and batch size (default 2)")
    p.add_argument("--max-buckets", type=int, default=4, help="painnjax size buckets (default 4, as TrainConfig)")
    p.add_argument(
        "--layout",
        choices=("auto", "packed", "buckets"),
        default="auto",
        help="painnjax's batch layout (default auto, as TrainConfig: packed from 8 structures a batch)",
    )
    p.add_argument("--no-schnetpack", action="store_true", help="time painnjax only (no torch / SchNetPack needed)")
    p.add_argument(
        "--torch-threads", type=int, default=None, help="torch threads for SchNetPack (default: torch's own)"
    )
    p.add_argument(
        "--torch-device", default=None, help="device for SchNetPack (default: cuda if torch sees one, else cpu)"
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each timed epoch pair, wait up to S seconds for other processes to leave the CPU",
    )
    p.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"folder with {POOL} and {MONOMERS}")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the sample and the shuffling (default 0)")
    p.add_argument(
        "--out", type=Path, default=None, help="JSON output (default: benchmarks/results/bench_train_<device>.json)"
    )
    args = p.parse_args(argv)
    t_start = time.perf_counter()

    shared = shared_model(args)
    torch, spk, spk_skipped, tdev = shared.torch, shared.spk, shared.skipped, shared.device
    model, n_spk, weights = shared.model, shared.n_spk, shared.weights
    shared.nnp = None  # each batch size builds its own SchNetPack model from the seed

    sample, pool_size, read_s = load_sample(args.data_dir, args.n_structures, args.seed)
    spk_idx = np.arange(len(sample))
    if args.spk_structures is not None and args.spk_structures < len(sample):
        spk_idx = stratified_sample(sample.compositions, args.spk_structures, args.seed + 1)
    spk_subset = len(spk_idx) < len(sample)

    info = machine_info(torch, tdev)
    print_banner(
        "painnjax vs SchNetPack: PaiNN training throughput (energies + forces), float32",
        info,
        tdev,
        spk_skipped,
        model,
        n_spk,
    )
    print(f"weights : {weights}")
    print(
        f"training: loss {ENERGY_WEIGHT}*MAE(E) + {1 - ENERGY_WEIGHT:.2f}*MAE(F), "
        f"AdamW lr {LR:g} weight decay {WEIGHT_DECAY:g}, "
        f"binding energies (eV) vs {MONOMERS}"
    )
    d = describe(sample)
    print(
        f"data    : {len(sample)} of {pool_size} structures of {args.data_dir / POOL} (seed {args.seed}, proportional "
        f"per composition; read in {read_s:.1f} s), {d['mean_atoms']:.1f} atoms on average: "
        + ", ".join(f"{k} {c}" for k, c in d["compositions"].items())
    )
    if torch is not None:
        ds_spk = describe(sample.subset(spk_idx))
        print(
            f"SchNetPack structures: {len(spk_idx)}"
            + (
                f" (a proportional subset of the sample, {ds_spk['mean_atoms']:.1f} atoms on average)"
                if spk_subset
                else " (the whole sample)"
            )
        )
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load0 is not None:
        print(
            f"load avg: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start"
            + ("  (WARNING: machine busy; timings will be noisy)" if load0[0] > 0.5 * (os.cpu_count() or 1) else "")
        )
    print("=" * 100, flush=True)

    spk_ctx = {"torch": torch, "spk": spk, "device": tdev} if torch is not None else None
    rows = []
    for B in args.batch_sizes:
        t0 = time.perf_counter()
        row = bench_batch_size(
            B,
            model,
            sample,
            spk_ctx,
            spk_idx,
            args.epochs,
            args.max_buckets,
            args.seed,
            args.wait_idle,
            check_loss=not rows,
            layout=args.layout,
        )
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        busy = [
            b
            for k in ("painnjax", "schnetpack")
            if k in row
            for b in row[k]["other_processes_cores_busy"]
            if b is not None
        ]
        if busy and max(busy) > BUSY_THRESHOLD:
            print(
                f"B={B}: WARNING: other processes used up to {max(busy):.2f} cores during the timed epochs; "
                f"the rates (SchNetPack's especially) are unreliable",
                flush=True,
            )

    print()
    print_table(rows, spk_ctx is not None, spk_subset)
    total = time.perf_counter() - t_start
    print(f"total wall time {total:.0f} s")

    out = args.out or HERE / "results" / f"bench_train_{device_tag()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        **result_header("bench_train", argv, info, shared),
        "training": {
            "loss": f"{ENERGY_WEIGHT}*MAE(E) + {1 - ENERGY_WEIGHT:.2f}*MAE(F)",
            "optimizer": "AdamW",
            "lr": LR,
            "weight_decay": WEIGHT_DECAY,
            "energies": "binding energies (eV)",
            "forces": "eV/Å",
        },
        "data": {
            "pool": str(args.data_dir / POOL),
            "monomers": str(args.data_dir / MONOMERS),
            "pool_size": pool_size,
            "sample_seed": args.seed,
            "sample": d,
            "schnetpack_structures": [int(k) for k in spk_idx] if spk_subset else "all",
            "schnetpack_sample": describe(sample.subset(spk_idx)) if torch is not None else None,
        },
        "timed": {
            "painnjax": "full epochs of Trainer.step over iterate_batches(sample, B, buckets, epoch_rng(seed, epoch)), "
            "block_until_ready(params) at the end; host batching and transfer included; "
            "compile excluded (one untimed full epoch first)",
            "schnetpack": "full epochs of nnp(batch) in train mode (Forces create_graph=True), "
            "0.01*L1(E)+0.99*L1(F), backward, AdamW step, zero_grad; batches shuffled per epoch and "
            "collated (AtomsConverter + ASENeighborList) before the timing; no Lightning, no metrics",
        },
        "schnetpack": spk_ctx is not None,
        "schnetpack_skipped": spk_skipped,
        "epochs": args.epochs,
        "max_buckets": args.max_buckets,
        "loadavg_start": list(load0) if load0 is not None else None,
        "total_wall_s": total,
        "batch_sizes": rows,
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
