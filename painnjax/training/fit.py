"""The epoch loop of a training run: :func:`train` checks its inputs, starts or resumes a run
folder, runs epochs of optimiser steps and validation, keeps the best model, follows the
learning-rate schedule and early stopping, and ends with the best model's reports.

Beyond the paper's protocol (constant rate, no early stopping, the raw weights), a config can
ask for a learning-rate schedule and early stopping (:mod:`painnjax.training.schedules`) and an
exponential moving average of the weights, which is then what is validated and saved
(:mod:`painnjax.training.trainer`).

A run folder holds ``config.json``, ``split.json``, ``metrics.csv`` (one row per epoch, errors
in kcal/mol and kcal/mol/Å), ``learning_curve.png``, ``checkpoints/latest.ckpt`` (parameters,
optimiser state, moving average, schedule and early-stopping state, epoch, best validation
error; :mod:`painnjax.training.checkpoint`), ``best.painn`` (the model with the lowest
validation loss so far), ``parity_valid.png`` and ``parity_test.png`` (the best model on the
validation and test sets), ``by_size.png`` (its error per composition against atom count) and
``summary.json`` (epochs done, why it stopped, best epoch, the best model's validation and test
errors); :mod:`painnjax.training.outputs` writes the files other than the checkpoint. With
``[train] log = "tensorboard"`` the metrics rows also go to ``tensorboard/``, and a terminal
shows a bar over the optimiser steps (:mod:`painnjax.training.logs`). Every
file is written atomically. Shuffling depends on (seed, epoch) only, so a run killed after
epoch k and resumed continues exactly as if it had never stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import jax
import numpy as np

from painnjax.data.batching import bucket_of, epoch_rng, iterate_batches, make_buckets
from painnjax.data.dataset import Dataset
from painnjax.data.packing import iterate_packed, make_budgets, structure_pairs
from painnjax.data.splits import Split
from painnjax.devices import is_main_process
from painnjax.errors import InputError
from painnjax.io.files import lock_run_folder, write_json
from painnjax.io.modelfile import save_model
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig
from painnjax.training.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from painnjax.training.config import TrainConfig
from painnjax.training.finetune import carried_over, warm_params
from painnjax.training.logs import StepBar, TensorBoardLog, check_log
from painnjax.training.loss import metrics_from_sums
from painnjax.training.outputs import (
    METRICS_COLUMNS,
    LearningCurve,
    append_csv,
    epochs_in_csv,
    metrics_row,
    report_best_model,
    training_domain,
    trim_csv,
    write_run_config,
)
from painnjax.training.schedules import EarlyStopping, LRSchedule
from painnjax.training.trainer import Trainer


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
    ckpt = checkpoint_path(run_dir)
    _check_inputs(ds, split, cfg, warm_start)
    if resume and not ckpt.exists():
        raise InputError(f"{run_dir}: no checkpoint to resume from ({ckpt} is missing)")
    with lock_run_folder(run_dir, "a training run"):  # one process at a time in a run folder
        return _train(ds, split, run_dir, ckpt, model_config, cfg, resume, stop_after, progress, warm_start)


def _check_inputs(ds, split, cfg: TrainConfig, warm_start) -> None:
    """Refuse data, splits, start models and logs that the run cannot use, before anything is written."""
    check_log(cfg.log)
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


@dataclasses.dataclass(frozen=True)
class _Run:
    """What the epochs of one call share. Fixed for the call: the trainer, the schedule and
    the early stopping hold the state that changes (and that a checkpoint saves)."""

    ds: Dataset
    split: Split
    cfg: TrainConfig
    run_dir: Path
    ckpt: Path
    template: Model  # the start model: architecture, constants and metadata of every saved model
    trainer: Trainer
    packing: tuple | None  # the arguments of iterate_packed after ds; None: size buckets
    budgets: list | None  # the packing budgets (painnjax.data.packing), None: size buckets
    schedule: LRSchedule
    stopper: EarlyStopping

    @property
    def metrics(self) -> Path:
        return self.run_dir / "metrics.csv"


def _train(ds, split, run_dir: Path, ckpt: Path, model_config, cfg, resume, stop_after, progress, warm_start) -> Model:
    """:func:`train` once its inputs are checked and its folder is locked."""
    if ckpt.exists() and not resume:
        raise InputError(f"{run_dir} already holds a run; resume it or choose another folder")
    run = _set_up(ds, split, run_dir, ckpt, model_config, cfg, resume, warm_start)
    start, best = 0, float("inf")
    if resume:
        start, best = load_checkpoint(ckpt, run.trainer, run.schedule, run.stopper)
        trim_csv(run.metrics, start)  # rows of an epoch that had no checkpoint yet
    else:
        write_run_config(run_dir, model_config, cfg, run.trainer, run.budgets, ds, split)
    end, reason = _last_epoch(cfg, start, stop_after, run.stopper)
    t_run = time.perf_counter()
    best, stopped = _epochs(run, start, end, best, progress)
    summary = {
        "epochs_done": epochs_in_csv(run.metrics),
        "stop_reason": "early_stopping" if stopped else reason,
        "best_epoch": run.stopper.state["best_epoch"],
        "best_valid_loss": best,
        "seconds_this_call": round(time.perf_counter() - t_run, 3),
        "devices": [str(d) for d in run.trainer.devices],
    }
    if (run_dir / "best.painn").exists():
        summary = report_best_model(run_dir, ds, split, cfg, summary)
    write_json(run_dir / "summary.json", summary)
    return run.trainer.model(run.template)


def _set_up(ds, split, run_dir, ckpt, model_config: PaiNNConfig, cfg: TrainConfig, resume, warm_start) -> _Run:
    """The start model, its trainer, the batch layout, the schedule and early stopping."""
    template = initial_model(ds, split, model_config, cfg)
    if cfg.init_from:  # also when resuming: the carried constants are not in the checkpoint
        template = carried_over(cfg.init_from, template)
    elif warm_start is not None and not resume:
        template.variables["params"] = warm_params(warm_start, template)
    template.metadata["domain"] = training_domain(ds, split, cfg.init_from or None)  # in every model saved
    buckets = make_buckets(ds, model_config.cutoff, cfg.max_buckets)  # validation, and "buckets" training
    trainer = Trainer(template, cfg, buckets)
    packing = budgets = None
    if cfg.resolved_layout == "packed":
        pairs = structure_pairs(ds, model_config.cutoff)
        groups = len(trainer.devices)
        budgets = make_budgets(ds, pairs, split.train, cfg.batch_size, groups, seed=cfg.seed)
        packing = (pairs, split.train, cfg.batch_size, budgets, groups)
    schedule, stopper = cfg.schedule(), EarlyStopping(cfg.early_stopping)
    return _Run(ds, split, cfg, run_dir, ckpt, template, trainer, packing, budgets, schedule, stopper)


def _last_epoch(cfg: TrainConfig, start: int, stop_after: int | None, stopper: EarlyStopping) -> tuple[int, str]:
    """The epoch this call ends after, and why it ends there unless early stopping ends it sooner."""
    end = cfg.epochs if stop_after is None else min(cfg.epochs, start + stop_after)
    reason = "epochs" if end == cfg.epochs else "stop_after"
    if start > 0 and cfg.early_stopping and start - stopper.state["best_epoch"] >= cfg.early_stopping:
        end, reason = start, "early_stopping"  # it had stopped already
    return end, reason


def _epochs(run: _Run, start: int, end: int, best: float, progress: bool) -> tuple[float, bool]:
    """Epochs ``start`` to ``end`` (0-based, ``end`` excluded), each saved as a metrics row, a
    checkpoint and, when it validates best, ``best.painn``. Returns the best validation loss
    and whether early stopping ended the run."""
    curve = LearningCurve(run.run_dir)
    bar = StepBar(progress, _steps_per_epoch(run), start, end, run.cfg.epochs)
    board = TensorBoardLog(run.run_dir, first_epoch=start + 1) if run.cfg.log == "tensorboard" else None
    try:
        return _epoch_loop(run, start, end, best, curve, bar, board)
    finally:
        bar.close()
        if board is not None:
            board.close()


def _epoch_loop(run: _Run, start: int, end: int, best: float, curve, bar: StepBar, board) -> tuple[float, bool]:
    """The epochs of :func:`_epochs`, with its learning curve, bar and TensorBoard log (or None)."""
    for epoch in range(start, end):
        t0 = time.perf_counter()
        lr = run.schedule.lr_for(epoch)
        bar.start_epoch(epoch)
        train_m = _train_epoch(run, epoch, lr, bar)
        valid_m = evaluate(run.trainer, run.ds, run.split.valid, run.cfg.batch_size)
        row = metrics_row(epoch + 1, round(time.perf_counter() - t0, 3), train_m, valid_m, lr)
        if valid_m["loss"] < best:
            best = valid_m["loss"]
            save_model(run.trainer.model(run.template), run.run_dir / "best.painn")
        run.schedule.observe(valid_m["loss"])
        stop = run.stopper.observe(epoch + 1, valid_m["loss"])
        # The epoch's row first, then its checkpoint: a kill in between leaves a row of an
        # epoch without a checkpoint, which a resume trims and computes again (never a lost row).
        append_csv(run.metrics, METRICS_COLUMNS, row)
        save_checkpoint(run.ckpt, run.trainer, epoch + 1, best, run.schedule, run.stopper)
        curve.update(force=epoch + 1 == end or stop)
        if board is not None:
            board.write(row)
        bar.end_epoch(valid_m)
        if stop:
            return best, True
    return best, False


def _train_epoch(run: _Run, epoch: int, lr: float, bar: StepBar) -> dict:
    """One pass over the training set, shuffled by (seed, epoch); the epoch's training metrics."""
    acc = None
    rng = epoch_rng(run.cfg.seed, epoch)

    def running_loss() -> float:
        return metrics_from_sums(acc, run.cfg.uses_forces)["loss"]

    if run.packing is not None:
        for _, _, packed in iterate_packed(run.ds, *run.packing, rng=rng):
            acc = _add_sums(acc, run.trainer.step_packed(packed, lr))
            bar.step(running_loss)
    else:
        for b, _, batch in iterate_batches(run.ds, run.split.train, run.cfg.batch_size, run.trainer.buckets, rng):
            acc = _add_sums(acc, run.trainer.step(b, batch, lr))
            bar.step(running_loss)
    return metrics_from_sums(acc, run.cfg.uses_forces)


def _steps_per_epoch(run: _Run) -> int:
    """Optimiser steps of one epoch: batches of the training set (in each size bucket, or packed)."""
    n, size = len(run.split.train), run.cfg.batch_size
    if run.packing is not None:
        return math.ceil(n / size)
    counts: dict[int, int] = {}
    for k in run.split.train:
        b = bucket_of(int(run.ds.n_atoms[k]), run.trainer.buckets)
        counts[b] = counts.get(b, 0) + 1
    return sum(math.ceil(c / size) for c in counts.values())


def _add_sums(acc: dict | None, sums: dict) -> dict:
    return dict(sums) if acc is None else {k: acc[k] + sums[k] for k in acc}


def evaluate(trainer: Trainer, ds, indices, batch_size: int) -> dict:
    """The metrics (loss, energy and force errors) of the trainer's validated weights on the
    structures ``indices`` of ``ds``."""
    acc = None
    for b, _, batch in iterate_batches(ds, indices, batch_size, trainer.buckets, rng=None):
        acc = _add_sums(acc, trainer.evaluate_sums(b, batch))
    return metrics_from_sums(acc, trainer.cfg.uses_forces)


def initial_model(ds, split, model_config: PaiNNConfig, cfg: TrainConfig) -> Model:
    """Seeded weights; ``shift`` = the training set's mean energy per atom (SchNetPack's mean)."""
    model = Model.init(model_config, seed=cfg.seed, elements=ds.elements)
    train = np.asarray(split.train)
    shift = float(np.mean(ds.energy[train] / ds.n_atoms[train]))
    model.variables["constants"]["shift"] = np.asarray(shift, np.float32)
    model.metadata["energy_reference"] = ds.reference
    return model
