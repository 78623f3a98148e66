"""Training on energies and forces: the paper's loss, optax AdamW, checkpoints, exact resume.

Loss (the reference study's eq. 3): ``x * L(E) + (1 - x) * L(F)`` with ``L`` the mean absolute
(or squared) error over structures (energies) and over force components of real atoms;
``x = 0.01`` with forces, ``x = 1`` for energies only (then no forces are computed).

Beyond the paper's protocol (constant rate, no early stopping, the raw weights), a config can
ask for a learning-rate schedule and early stopping (:mod:`painnjax.training.schedules`) and an
exponential moving average of the weights, which is then what is validated and saved. A batch
is split over all local devices that divide it (data parallel, :class:`Trainer`).

A run folder holds ``config.json``, ``split.json``, ``metrics.csv`` (one row per epoch, errors
in kcal/mol and kcal/mol/Å), ``learning_curve.png``, ``checkpoints/latest.ckpt`` (parameters,
optimiser state, moving average, schedule and early-stopping state, epoch, best validation
error), ``best.painn`` (the model with the lowest validation loss so far), ``parity_valid.png``
and ``parity_test.png`` (the best model on the validation and test sets), ``by_size.png`` (its
error per composition against atom count) and ``summary.json``
(epochs done, why it stopped, best epoch, the best model's validation and test errors). Every
file is written atomically. Shuffling depends on (seed, epoch) only, so a run killed after
epoch k and resumed continues exactly as if it had never stopped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

from painnjax.compiler import jit
from painnjax.data.batching import Batch, Bucket, epoch_rng, iterate_batches, make_buckets
from painnjax.data.packing import Packed, iterate_packed, make_budgets, structure_pairs
from painnjax.devices import all_process_devices, distributed, is_main_process
from painnjax.errors import InputError
from painnjax.io.files import atomic_write, lock_run_folder, write_json
from painnjax.io.modelfile import load_model, save_model
from painnjax.io.plots import learning_curve
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig
from painnjax.potential import cast_variables
from painnjax.training.config import TrainConfig
from painnjax.training.finetune import carried_over, trainable_mask, warm_params
from painnjax.training.loss import loss_and_sums, metrics_from_sums, packed_loss_and_sums
from painnjax.training.schedules import EarlyStopping, LRSchedule

CHECKPOINT_FORMAT = "painnjax-checkpoint"
PLOT_EVERY_SECONDS = 30.0  # the learning curve is redrawn at most this often (and at the end)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """AdamW at unit learning rate: the step multiplies its updates by the epoch's rate, which
    equals ``optax.adamw(lr)`` exactly (the rate scales the Adam step and the weight decay
    alike) and lets the schedule change the rate without a recompile."""
    steps = [optax.clip_by_global_norm(cfg.clip_norm)] if cfg.clip_norm else []
    return optax.chain(*steps, optax.adamw(1.0, weight_decay=cfg.weight_decay))


def data_parallel_devices(cfg: TrainConfig) -> list:
    """The local devices a batch is split over: ``cfg.n_devices`` of them, or with 0 the most
    that divide the batch size evenly (one device when only one does)."""
    if distributed():  # a multi-process job: every device of every process, each with its share
        return all_process_devices(cfg.batch_size, "batch_size")
    local = jax.local_devices()
    if cfg.n_devices:
        if cfg.n_devices > len(local):
            raise InputError(f"n_devices = {cfg.n_devices}, but only {len(local)} local device(s) are present")
        if cfg.batch_size % cfg.n_devices:
            raise InputError(f"batch_size {cfg.batch_size} must be a multiple of n_devices {cfg.n_devices}")
        return local[: cfg.n_devices]
    n = max(k for k in range(1, len(local) + 1) if cfg.batch_size % k == 0)
    return local[:n]


def _step_key(cfg: TrainConfig) -> TrainConfig:
    """The options a compiled step depends on, as a config with every other field at its default.

    Compiled steps are cached by (module, cutoff, pair capacity, this key) and the batch
    shapes, so runs that differ in anything else (epochs, seed, learning rate and its schedule:
    the rate is an argument) share one compile: a resumed run, committee members and
    active-learning rounds compile once per process.
    """
    return TrainConfig(
        loss=cfg.loss,
        energy_weight=cfg.energy_weight,
        weight_decay=cfg.weight_decay,
        clip_norm=cfg.clip_norm,
        ema_decay=cfg.ema_decay,
    )


def _update(params, opt_state, ema, grads, lr, key, mask):
    """AdamW at unit rate scaled by ``lr`` (:func:`make_optimizer`), then the moving average.
    ``mask`` (None: all trained): 0 where a weight is frozen; its update and average are skipped."""
    updates, opt_state = make_optimizer(key).update(grads, opt_state, params)
    updates = jax.tree_util.tree_map(lambda u: u * lr.astype(u.dtype), updates)
    if mask is not None:
        updates = jax.tree_util.tree_map(lambda u, m: u * m.astype(u.dtype), updates, mask)
    params = optax.apply_updates(params, updates)
    if ema is not None:
        decay = key.ema_decay
        ema = jax.tree_util.tree_map(lambda a, p: decay * a + (1.0 - decay) * p, ema, params)
        if mask is not None:  # a frozen weight's average is the weight, bit for bit
            ema = jax.tree_util.tree_map(lambda a, p, m: jnp.where(m > 0, a, p), ema, params, mask)
    return params, opt_state, ema


@partial(jit, static_argnames=("module", "cutoff", "capacity", "key", "groups"))
def _train_step(params, constants, opt_state, ema, batch, lr, mask, *, module, cutoff, capacity, key, groups):
    """One optimiser step on a padded batch (size buckets)."""

    def loss(p):
        return loss_and_sums(p, constants, module, batch, cutoff, capacity, key, groups)

    (_, sums), grads = jax.value_and_grad(loss, has_aux=True)(params)
    return *_update(params, opt_state, ema, grads, lr, key, mask), sums


@partial(jit, static_argnames=("module", "key"))
def _train_step_packed(params, constants, opt_state, ema, packed, lr, mask, *, module, key):
    """One optimiser step on a packed batch (compiled once per budget's shapes)."""

    def loss(p):
        return packed_loss_and_sums(p, constants, module, packed, key)

    (_, sums), grads = jax.value_and_grad(loss, has_aux=True)(params)
    return *_update(params, opt_state, ema, grads, lr, key, mask), sums


@partial(jit, static_argnames=("module", "cutoff", "capacity", "key", "groups"))
def _eval_sums(params, constants, batch, *, module, cutoff, capacity, key, groups):
    """The error sums of one batch (no step)."""
    return loss_and_sums(params, constants, module, batch, cutoff, capacity, key, groups)[1]


class Trainer:
    """Jitted train and evaluation steps, one compile per bucket shape (shared between trainers).

    With several devices (:func:`data_parallel_devices`) the batch axis is sharded over a
    one-axis mesh and the weights replicated; XLA then runs the per-structure work on each
    device and all-reduces the gradient sums, so the step computes the same numbers as on one
    device (up to the order of floating-point sums).
    """

    def __init__(self, model: Model, cfg: TrainConfig, buckets: list[Bucket]):
        self.cfg = cfg
        # one GEMM per layer's filters: faster in the double backward of a training step
        self.module = model.module.clone(fused_filters=True)
        self.cutoff = model.config.cutoff
        self.buckets = buckets
        self.optimizer = make_optimizer(cfg)
        self.devices = data_parallel_devices(cfg)
        variables = cast_variables(model.variables, cfg.dtype)
        self.params, self.constants = variables["params"], variables["constants"]
        self.opt_state = self.optimizer.init(self.params)
        self.ema_params = self.params if cfg.ema_decay else None
        # 0/1 per weight, None when all are trained (painnjax.training.finetune)
        self.mask = trainable_mask(self.params, model.config, cfg.freeze_embedding, cfg.freeze_interactions)
        self._batch_sharding = None
        if len(self.devices) > 1:
            from jax.sharding import Mesh, NamedSharding, PartitionSpec

            mesh = Mesh(np.asarray(self.devices), ("data",))
            self._batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
            self._replicated = NamedSharding(mesh, PartitionSpec())
            self.constants = self.replicate(self.constants)
            self.params, self.opt_state = self.replicate(self.params), self.replicate(self.opt_state)
            self.ema_params = self.replicate(self.ema_params)
            self.mask = self.replicate(self.mask)

    def replicate(self, tree):
        """``tree`` on every device of the mesh (unchanged on one device)."""
        if self._batch_sharding is None or tree is None:
            return tree
        return jax.device_put(tree, self._replicated)

    @property
    def eval_params(self):
        """The weights that are validated and saved: the moving average when EMA is on."""
        return self.params if self.ema_params is None else self.ema_params

    def _static(self, b: int) -> dict:
        return {
            "module": self.module,
            "cutoff": self.cutoff,
            "capacity": self.buckets[b].pair_capacity,
            "key": _step_key(self.cfg),
            "groups": len(self.devices),  # one graph per device: no pair crosses devices
        }

    def step(self, b: int, batch: Batch, lr: float) -> dict:
        """One optimiser step on ``batch`` (bucket ``b``) at learning rate ``lr``."""
        lr = jnp.asarray(lr, jnp.dtype(self.cfg.dtype))
        self.params, self.opt_state, self.ema_params, sums = _train_step(
            self.params,
            self.constants,
            self.opt_state,
            self.ema_params,
            self._device(batch),
            lr,
            self.mask,
            **self._static(b),
        )
        return sums

    def step_packed(self, packed: Packed, lr: float) -> dict:
        """One optimiser step on a packed batch (:mod:`painnjax.data.packing`) with one group
        per device (``len(self.devices)``)."""
        if packed.Z.shape[0] != len(self.devices):
            raise ValueError(f"the batch has {packed.Z.shape[0]} groups for {len(self.devices)} device(s)")
        lr = jnp.asarray(lr, jnp.dtype(self.cfg.dtype))
        f = jnp.dtype(self.cfg.dtype)
        floats = {"R", "energy", "forces", "weight"}
        arrays = Packed(*(np.asarray(a, f) if k in floats else np.asarray(a) for k, a in zip(Packed._fields, packed)))
        if self._batch_sharding is None:
            arrays = Packed(*map(jnp.asarray, arrays))
        else:
            arrays = Packed(*(jax.device_put(a, self._batch_sharding) for a in arrays))
        self.params, self.opt_state, self.ema_params, sums = _train_step_packed(
            self.params,
            self.constants,
            self.opt_state,
            self.ema_params,
            arrays,
            lr,
            self.mask,
            module=self.module,
            key=_step_key(self.cfg),
        )
        return sums

    def evaluate_sums(self, b: int, batch: Batch) -> dict:
        return _eval_sums(self.eval_params, self.constants, self._device(batch), **self._static(b))

    def _device(self, batch: Batch) -> Batch:
        f = jnp.dtype(self.cfg.dtype)
        arrays = (
            np.asarray(batch.Z),
            np.asarray(batch.R, f),
            np.asarray(batch.atom_mask),
            np.asarray(batch.energy, f),
            np.asarray(batch.forces, f),
            np.asarray(batch.weight, f),
        )
        if self._batch_sharding is None:
            return Batch(*map(jnp.asarray, arrays))
        return Batch(*(jax.device_put(a, self._batch_sharding) for a in arrays))

    def model(self, template: Model) -> Model:
        """The current weights as a model that predicts total energies (eV).

        Training targets are reference-subtracted (binding or element-offset energies, better
        resolved in float32); the reference is folded into ``atomref`` here, exactly.
        """
        from painnjax.data.dataset import reference_atomref

        reference = template.metadata["energy_reference"]
        constants = jax.tree_util.tree_map(np.asarray, jax.device_get(self.constants))
        meta = dict(template.metadata)
        if "delta" not in reference and reference.get("kind") != "total":
            constants = {
                **constants,
                "atomref": (
                    constants["atomref"].astype(np.float64) + reference_atomref(reference, template.config.max_z)
                ),
            }
            meta["energy_reference"] = {"kind": "total", "trained_on": reference}
        variables = {"params": jax.device_get(self.eval_params), "constants": constants}
        return Model(template.config, variables, meta)


def _add_sums(acc: dict | None, sums: dict) -> dict:
    return dict(sums) if acc is None else {k: acc[k] + sums[k] for k in acc}


def evaluate(trainer: Trainer, ds, indices, batch_size: int) -> dict:
    acc = None
    for b, _, batch in iterate_batches(ds, indices, batch_size, trainer.buckets, rng=None):
        acc = _add_sums(acc, trainer.evaluate_sums(b, batch))
    return metrics_from_sums(acc, trainer.cfg.uses_forces)


def save_checkpoint(
    path: Path,
    trainer: Trainer,
    epoch: int,
    best: float,
    schedule: LRSchedule | None = None,
    stopper: EarlyStopping | None = None,
) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,  # epochs completed
        "best_valid_loss": best,
        "params": serialization.to_state_dict(jax.device_get(trainer.params)),
        "opt_state": serialization.to_state_dict(jax.device_get(trainer.opt_state)),
    }
    if trainer.ema_params is not None:
        state["ema_params"] = serialization.to_state_dict(jax.device_get(trainer.ema_params))
    if schedule is not None:
        state["schedule"] = dict(schedule.state)
    if stopper is not None:
        state["early_stopping"] = dict(stopper.state)
    atomic_write(path, serialization.msgpack_serialize(state))


def load_checkpoint(
    path: Path, trainer: Trainer, schedule: LRSchedule | None = None, stopper: EarlyStopping | None = None
) -> tuple[int, float]:
    try:
        state = serialization.msgpack_restore(path.read_bytes())
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {state.get('format')!r}")
        params = serialization.from_state_dict(trainer.params, state["params"])
        opt_state = serialization.from_state_dict(trainer.opt_state, state["opt_state"])
        ema = None
        if trainer.ema_params is not None:
            # A run that switches EMA on when resumed starts the average from the current weights.
            ema = serialization.from_state_dict(trainer.ema_params, state.get("ema_params", state["params"]))
        epoch = int(state["epoch"])
    except Exception as exc:
        raise InputError(f"{path}: cannot resume from this checkpoint ({exc})") from None
    cast = lambda t: trainer.replicate(jax.tree_util.tree_map(jnp.asarray, t))  # noqa: E731
    trainer.params, trainer.opt_state, trainer.ema_params = cast(params), cast(opt_state), cast(ema)
    best = float(state["best_valid_loss"])
    if schedule is not None:
        schedule.state.update(
            {k: (float(v) if k != "bad_epochs" else int(v)) for k, v in state.get("schedule", {}).items()}
        )
    if stopper is not None:
        # Checkpoints from before early stopping existed: the best epoch is not known; count from here.
        saved = state.get("early_stopping", {"best": best, "best_epoch": epoch})
        stopper.state = {"best": float(saved["best"]), "best_epoch": int(saved["best_epoch"])}
    return epoch, best


def initial_model(ds, split, model_config: PaiNNConfig, cfg: TrainConfig) -> Model:
    """Seeded weights; ``shift`` = the training set's mean energy per atom (SchNetPack's mean)."""
    model = Model.init(model_config, seed=cfg.seed, elements=ds.elements)
    train = np.asarray(split.train)
    shift = float(np.mean(ds.energy[train] / ds.n_atoms[train]))
    model.variables["constants"]["shift"] = np.asarray(shift, np.float32)
    model.metadata["energy_reference"] = ds.reference
    return model


def train(
    ds,
    split,
    run_dir,
    model_config: PaiNNConfig | None = None,
    cfg: TrainConfig | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    warm_start=None,
) -> Model:
    """Train a PaiNN on ``ds`` with ``split``; returns the best model (lowest validation loss).

    ``stop_after`` ends the process's work after that many epochs of this call (to spread a run
    over jobs, or in tests); ``resume=True`` continues a run folder from its last checkpoint.
    In a multi-process job (:func:`painnjax.devices.initialize_distributed`) each batch is split
    over the devices of every process, which all compute the same weights; process 0 writes
    ``run_dir`` and process k > 0 the same files into ``run_dir/process-k`` (its own checkpoint
    to resume from, no second writer in one folder).
    ``warm_start``: a model (of the same architecture) whose trained weights replace the seeded
    ones at the start (the energy offsets still come from ``ds``): training continues from it
    on the new data, as an active-learning round may. ``cfg.init_from`` instead carries a
    model's weights *and* energy references over, for fine-tuning, with the frozen parts of
    ``cfg`` (:mod:`painnjax.training.finetune`).
    """
    model_config = model_config or PaiNNConfig()
    cfg = cfg or TrainConfig()
    run_dir = Path(run_dir)
    if not is_main_process():  # a multi-process run: process k > 0 keeps its copy of the run apart
        run_dir = run_dir / f"process-{jax.process_index()}"
    ckpt = run_dir / "checkpoints" / "latest.ckpt"
    if cfg.uses_forces and ds.forces is None:
        raise InputError("training with forces (energy_weight < 1) needs a dataset with forces")
    bad = np.nonzero(~np.isfinite(np.asarray(ds.energy, np.float64)))[0]
    if ds.reference.get("kind") == "unlabeled" or len(bad):
        k = int(bad[0]) if len(bad) else 0
        raise InputError(
            f"{ds.info[k].get('source')}, frame {ds.info[k].get('frame')}: no finite energy to "
            f"train on ({len(bad)} such structure(s)); label the frames first"
        )
    if len(split.train) == 0 or len(split.valid) == 0:
        raise InputError("the split needs training and validation structures")
    if cfg.init_from and warm_start is not None:
        raise InputError("give a start model either as init_from or as warm_start, not both")
    if cfg.freezes and not (cfg.init_from or warm_start is not None):
        raise InputError(
            "[train] freeze_embedding / freeze_interactions hold trained weights fixed: give the model "
            "to start from (init_from, painnjax train --init-from MODEL)"
        )
    if resume and not ckpt.exists():
        raise InputError(f"{run_dir}: no checkpoint to resume from ({ckpt} is missing)")
    with lock_run_folder(run_dir, "a training run"):  # one process at a time in a run folder
        return _train(ds, split, run_dir, ckpt, model_config, cfg, resume, stop_after, progress, warm_start)


def _train(ds, split, run_dir: Path, ckpt: Path, model_config, cfg, resume, stop_after, progress, warm_start) -> Model:
    """:func:`train` once its inputs are checked and its folder is locked."""
    if ckpt.exists() and not resume:
        raise InputError(f"{run_dir} already holds a run; resume it or choose another folder")

    template = initial_model(ds, split, model_config, cfg)
    if cfg.init_from:  # also when resuming: the carried constants are not in the checkpoint
        template = carried_over(cfg.init_from, template)
    elif warm_start is not None and not resume:
        template.variables["params"] = warm_params(warm_start, template)
    buckets = make_buckets(ds, model_config.cutoff, cfg.max_buckets)  # validation, and "buckets" training
    trainer = Trainer(template, cfg, buckets)
    packing = budgets = None
    if cfg.resolved_layout == "packed":
        pairs = structure_pairs(ds, model_config.cutoff)
        groups = len(trainer.devices)
        budgets = make_budgets(ds, pairs, split.train, cfg.batch_size, groups, seed=cfg.seed)
        packing = (pairs, split.train, cfg.batch_size, budgets, groups)
    schedule, stopper = cfg.schedule(), EarlyStopping(cfg.early_stopping)
    start, best = 0, float("inf")
    if resume:
        start, best = load_checkpoint(ckpt, trainer, schedule, stopper)
        _trim_csv(run_dir / "metrics.csv", start)  # rows of an epoch that had no checkpoint yet
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "model": model_config.to_dict(),
            "train": dataclasses.asdict(cfg),
            "buckets": [dataclasses.asdict(b) for b in buckets],
            "batch_layout": cfg.resolved_layout,
            "budgets": None if budgets is None else [dataclasses.asdict(b) for b in budgets],
            "n_structures": len(ds.energy),
            "devices": [str(d) for d in trainer.devices],
            "energy_reference": ds.reference,
        }
        write_json(run_dir / "config.json", config)
        split.save(run_dir / "split.json")

    end = cfg.epochs if stop_after is None else min(cfg.epochs, start + stop_after)
    columns = [
        "epoch",
        "seconds",
        "train_loss",
        "train_energy_mae",
        "train_forces_mae",
        "valid_loss",
        "valid_energy_mae",
        "valid_energy_rmse",
        "valid_forces_mae",
        "valid_forces_rmse",
        "lr",
    ]
    reason = "epochs" if end == cfg.epochs else "stop_after"
    if start > 0 and cfg.early_stopping and start - stopper.state["best_epoch"] >= cfg.early_stopping:
        end, reason = start, "early_stopping"  # it had stopped already
    t_run, last_plot = time.perf_counter(), 0.0
    bar = _progress(range(start, end), progress, total=end - start)
    for epoch in bar:
        t0 = time.perf_counter()
        lr = schedule.lr_for(epoch)
        acc = None
        rng = epoch_rng(cfg.seed, epoch)
        if packing is not None:
            for _, _, packed in iterate_packed(ds, *packing, rng=rng):
                acc = _add_sums(acc, trainer.step_packed(packed, lr))
        else:
            for b, _, batch in iterate_batches(ds, split.train, cfg.batch_size, buckets, rng):
                acc = _add_sums(acc, trainer.step(b, batch, lr))
        train_m = metrics_from_sums(acc, cfg.uses_forces)
        valid_m = evaluate(trainer, ds, split.valid, cfg.batch_size)
        row = {
            "epoch": epoch + 1,
            "seconds": round(time.perf_counter() - t0, 3),
            "train_loss": train_m["loss"],
            "train_energy_mae": train_m["energy_mae"],
            "train_forces_mae": train_m.get("forces_mae", ""),
            "valid_loss": valid_m["loss"],
            "valid_energy_mae": valid_m["energy_mae"],
            "valid_energy_rmse": valid_m["energy_rmse"],
            "valid_forces_mae": valid_m.get("forces_mae", ""),
            "valid_forces_rmse": valid_m.get("forces_rmse", ""),
            "lr": lr,
        }
        if valid_m["loss"] < best:
            best = valid_m["loss"]
            save_model(trainer.model(template), run_dir / "best.painn")
        schedule.observe(valid_m["loss"])
        stop = stopper.observe(epoch + 1, valid_m["loss"])
        # The epoch's row first, then its checkpoint: a kill in between leaves a row of an
        # epoch without a checkpoint, which a resume trims and computes again (never a lost row).
        _append_csv(run_dir / "metrics.csv", columns, row)
        save_checkpoint(ckpt, trainer, epoch + 1, best, schedule, stopper)
        if time.perf_counter() - last_plot > PLOT_EVERY_SECONDS or epoch + 1 == end or stop:
            learning_curve(run_dir / "metrics.csv", run_dir / "learning_curve.png", title=str(run_dir.name))
            last_plot = time.perf_counter()
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(E=f"{valid_m['energy_mae']:.3f}", F=f"{valid_m.get('forces_mae', float('nan')):.3f}")
        if stop:
            reason = "early_stopping"
            break
    summary = {
        "epochs_done": _epochs_in_csv(run_dir / "metrics.csv"),
        "stop_reason": reason,
        "best_epoch": stopper.state["best_epoch"],
        "best_valid_loss": best,
        "seconds_this_call": round(time.perf_counter() - t_run, 3),
        "devices": [str(d) for d in trainer.devices],
    }
    if (run_dir / "best.painn").exists():
        from painnjax.training.evaluate import size_plot

        best_model = load_model(run_dir / "best.painn")
        by_size = {}
        for part, name in (("valid", "validation"), ("test", "test")):
            idx = getattr(split, part)
            if len(idx):
                report = subset_report(best_model, ds.subset(idx), run_dir / f"parity_{part}.png", cfg.batch_size)
                summary[f"best_model_{part}"] = {k: v for k, v in report.items() if not k.startswith("_")}
                by_size[name] = report
        if by_size:
            size_plot(by_size, run_dir / "by_size.png", title=f"{run_dir.name}: best model, error per composition")
        best_model.metadata["training"] = training_record(cfg, ds, split, summary)
        save_model(best_model, run_dir / "best.painn")
    write_json(run_dir / "summary.json", summary)
    return trainer.model(template)


def subset_report(model: Model, part, png: Path, batch_size: int) -> dict:
    """Errors (as ``painnjax evaluate``) and a parity plot of ``model`` on the structures
    ``part`` of the training data, in the energies trained on (binding or element-offset
    energies: the reference folded into the model is taken off again)."""
    from painnjax.data.dataset import reference_atomref
    from painnjax.training.evaluate import parity_plot, predict, prediction_errors

    E, F = predict(model, part, batch_size=max(batch_size, 8))
    folded = model.metadata.get("energy_reference", {}).get("trained_on")
    if folded:
        atomref = reference_atomref(folded, model.config.max_z)
        E = E - np.array([atomref[z].sum() for z in part.numbers])
    report = prediction_errors(E, F, part)
    name = {"parity_valid.png": "validation", "parity_test.png": "test"}.get(png.name, png.stem)
    parity_plot(report, png, title=f"{png.parent.name}: best model on the {name} set ({len(part)} structures)")
    return report


def training_record(cfg: TrainConfig, ds, split, summary: dict) -> dict:
    """How a model was trained and how well it did: kept in its file's metadata."""
    keys = ("n_structures", "energy_mae", "energy_rmse", "forces_mae", "forces_rmse")
    record = {
        "train_config": dataclasses.asdict(cfg),
        "data_sources": sorted({str(i.get("source")) for i in ds.info}),
        "n_structures": {part: int(len(getattr(split, part))) for part in ("train", "valid", "test")},
        "test_compositions": sorted({ds.compositions[k] for k in split.test}),
        "split_rule": getattr(split, "rule", ""),
        **{k: summary[k] for k in ("epochs_done", "stop_reason", "best_epoch", "devices")},
        "units": "kcal/mol and kcal/mol/Å",
    }
    for part in ("valid", "test"):
        if f"best_model_{part}" in summary:
            record[part] = {k: summary[f"best_model_{part}"][k] for k in keys if k in summary[f"best_model_{part}"]}
    return record


def _epochs_in_csv(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


CSV_LINE_END = "\n"  # every row of metrics.csv, before and after a resume (csv's default is \r\n)


def _append_csv(path: Path, columns, row) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator=CSV_LINE_END)
        if new:
            w.writeheader()
        w.writerow(row)


def _trim_csv(path: Path, last_epoch: int) -> None:
    """Keep the rows of the epochs up to ``last_epoch`` (those with a checkpoint), one line ending throughout."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames
    if not columns:
        return

    def kept(r) -> bool:
        complete = None not in r and all(r.get(c) is not None for c in columns)  # not cut short by a kill
        return complete and r["epoch"].isdigit() and int(r["epoch"]) <= last_epoch

    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=columns, lineterminator=CSV_LINE_END)
    w.writeheader()
    w.writerows(r for r in rows if kept(r))
    atomic_write(path, text.getvalue().encode())


def _progress(it, enabled: bool, total: int):
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc="epochs", unit="epoch")
