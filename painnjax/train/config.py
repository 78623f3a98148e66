"""Training options (:class:`TrainConfig`): the reference study's protocol by default."""

from __future__ import annotations

from dataclasses import dataclass

from painnjax.errors import InputError
from painnjax.train.schedules import EarlyStopping, LRSchedule


@dataclass(frozen=True)
class TrainConfig:
    """Training options; defaults are the reference study's protocol (their Table 2)."""

    lr: float = 1e-4
    weight_decay: float = 0.01  # AdamW's decoupled weight decay (torch's default)
    energy_weight: float = 0.01  # x in x*L(E) + (1-x)*L(F); 1.0 trains on energies only
    loss: str = "mae"  # "mae" (the paper) or "mse"
    batch_size: int = 2
    epochs: int = 300
    seed: int = 42
    clip_norm: float | None = None  # global gradient-norm clipping, off by default
    lr_schedule: str = "constant"  # "constant" (the paper), "cosine" or "plateau"; see painnjax.train.schedules
    lr_min: float = 0.0  # floor of "cosine" and "plateau"
    warmup_epochs: int = 0  # linear warm-up to lr over this many epochs
    plateau_patience: int = 10  # "plateau": epochs without a better validation loss before a cut
    plateau_factor: float = 0.5  # "plateau": the cut
    ema_decay: float = 0.0  # exponential moving average of the weights per step (e.g. 0.999); 0 = off
    early_stopping: int = 0  # stop after this many epochs without a better validation loss; 0 = off
    n_devices: int = 0  # data-parallel over this many local devices; 0 = as many as divide batch_size
    max_buckets: int = 4
    dtype: str = "float32"

    def __post_init__(self):
        if not 0.0 <= self.energy_weight <= 1.0:
            raise InputError(f"energy_weight must be in [0, 1], got {self.energy_weight}")
        if self.loss not in ("mae", "mse"):
            raise InputError(f"loss must be 'mae' or 'mse', got {self.loss!r}")
        if self.batch_size < 1 or self.epochs < 0 or self.lr <= 0:
            raise InputError("batch_size must be >= 1, epochs >= 0 and lr > 0")
        if not 0.0 <= self.ema_decay < 1.0:
            raise InputError(f"ema_decay must be in [0, 1) (0 = off), got {self.ema_decay}")
        if self.n_devices < 0:
            raise InputError(f"n_devices must be >= 0 (0 = automatic), got {self.n_devices}")
        self.schedule()  # checks the schedule's options
        EarlyStopping(self.early_stopping)

    def schedule(self) -> LRSchedule:
        return LRSchedule(self.lr_schedule, self.lr, self.epochs, self.lr_min, self.warmup_epochs,
                          self.plateau_patience, self.plateau_factor)

    @property
    def uses_forces(self) -> bool:
        return self.energy_weight < 1.0
