"""Per-epoch learning rate and early stopping: small state machines fed the validation loss.

The reference study trained at a constant learning rate with no early stopping (the
default here). ``cosine`` decays from ``lr`` to ``lr_min`` over the run, after an optional
linear warm-up; ``plateau`` multiplies the rate by ``factor`` after ``patience`` epochs
without a better validation loss (as torch's ReduceLROnPlateau), never below ``lr_min``.
The learning rate is set per epoch, outside jit, so changing it never recompiles, and the
whole state is a small dict saved with every checkpoint: a resumed run continues exactly.

Example:
    >>> s = LRSchedule("cosine", lr=1e-3, epochs=10, lr_min=1e-5)
    >>> round(s.lr_for(0), 6), round(s.lr_for(5), 6)
    (0.001, 0.000505)
"""

from __future__ import annotations

import math

from painnjax.errors import InputError

SCHEDULES = ("constant", "cosine", "plateau")


class LRSchedule:
    """The learning rate of each epoch; ``observe(valid_loss)`` after each epoch drives ``plateau``."""

    def __init__(
        self,
        kind: str,
        lr: float,
        epochs: int,
        lr_min: float = 0.0,
        warmup_epochs: int = 0,
        patience: int = 10,
        factor: float = 0.5,
    ):
        if kind not in SCHEDULES:
            raise InputError(f"lr_schedule must be one of {SCHEDULES}, got {kind!r}")
        if not 0.0 <= lr_min <= lr:
            raise InputError(f"lr_min must be in [0, lr] = [0, {lr}], got {lr_min}")
        if warmup_epochs < 0 or patience < 1 or not 0.0 < factor < 1.0:
            raise InputError("warmup_epochs must be >= 0, plateau_patience >= 1 and plateau_factor in (0, 1)")
        self.kind, self.lr, self.epochs, self.lr_min = kind, lr, epochs, lr_min
        self.warmup, self.patience, self.factor = warmup_epochs, patience, factor
        self.state = {"plateau_lr": lr, "best": math.inf, "bad_epochs": 0}

    def lr_for(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (0-based)."""
        if epoch < self.warmup:
            return self.lr * (epoch + 1) / (self.warmup + 1)
        if self.kind == "cosine":
            span = max(self.epochs - self.warmup, 1)
            t = min((epoch - self.warmup) / span, 1.0)
            return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1.0 + math.cos(math.pi * t))
        if self.kind == "plateau":
            return self.state["plateau_lr"]
        return self.lr

    def observe(self, valid_loss: float) -> None:
        """Feed the epoch's validation loss (only ``plateau`` reacts)."""
        s = self.state
        if valid_loss < s["best"]:
            s["best"], s["bad_epochs"] = valid_loss, 0
            return
        s["bad_epochs"] += 1
        if self.kind == "plateau" and s["bad_epochs"] >= self.patience:
            s["plateau_lr"] = max(s["plateau_lr"] * self.factor, self.lr_min)
            s["bad_epochs"] = 0


class EarlyStopping:
    """Stop after ``patience`` epochs without a better validation loss (0 = never)."""

    def __init__(self, patience: int = 0):
        if patience < 0:
            raise InputError(f"early_stopping must be >= 0 epochs (0 = off), got {patience}")
        self.patience = patience
        self.state = {"best": math.inf, "best_epoch": 0}

    def observe(self, epoch: int, valid_loss: float) -> bool:
        """Record epoch ``epoch`` (1-based, completed); True when training should stop."""
        if valid_loss < self.state["best"]:
            self.state = {"best": valid_loss, "best_epoch": epoch}
        return self.patience > 0 and epoch - self.state["best_epoch"] >= self.patience
