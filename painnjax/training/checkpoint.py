"""Training checkpoints: everything a run needs to continue exactly where it stopped.

``checkpoints/latest.ckpt`` in a run folder (msgpack, written atomically) holds the epochs
completed, the best validation loss, the trainer's parameters, optimiser state and moving
average, and the state of the learning-rate schedule and of early stopping. Shuffling
depends on (seed, epoch) only, so with these a resumed run repeats the run that never
stopped, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
from flax import serialization

from painnjax.errors import InputError
from painnjax.io.files import atomic_write
from painnjax.training.schedules import EarlyStopping, LRSchedule
from painnjax.training.trainer import Trainer

CHECKPOINT_FORMAT = "painnjax-checkpoint"


def checkpoint_path(run_dir: Path) -> Path:
    """Where a run folder keeps its checkpoint."""
    return Path(run_dir) / "checkpoints" / "latest.ckpt"


def save_checkpoint(
    path: Path,
    trainer: Trainer,
    epoch: int,
    best: float,
    schedule: LRSchedule | None = None,
    stopper: EarlyStopping | None = None,
) -> None:
    """The state after ``epoch`` completed epochs, with the best validation loss so far."""
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
    """Put the state of ``path`` into ``trainer``, ``schedule`` and ``stopper``; returns the
    epochs completed and the best validation loss."""
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
