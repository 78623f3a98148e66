"""Training options (:class:`TrainConfig`): the reference study's protocol by default."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from painnjax.config import check, integer, is_int, is_real, positive
from painnjax.training.schedules import SCHEDULES, LRSchedule

SECTION = "train"
# "auto" packs batches from this many structures: at batch 32 packing was 2.7x faster than size
# buckets on 64 pool structures; at batch 2 pairs of random sizes pad more (69 % real atom
# slots against 85 % in buckets) and buckets were ~15 % faster (benchmarks/RESULTS.md).
PACKED_MIN_BATCH = 8


@dataclass(frozen=True)
class TrainConfig:
    """Training options (the ``[train]`` section of a run config); defaults are the reference study's
    protocol (their Table 2). Checked when built: a bad value raises :class:`~painnjax.errors.InputError`
    naming ``[train]`` and the key."""

    lr: float = 1e-4
    weight_decay: float = 0.01  # AdamW's decoupled weight decay (torch's default)
    energy_weight: float = 0.01  # x in x*L(E) + (1-x)*L(F); 1.0 trains on energies only
    loss: str = "mae"  # "mae" (the paper) or "mse"
    batch_size: int = 2
    epochs: int = 300
    seed: int = 42
    clip_norm: float | None = None  # global gradient-norm clipping, off by default
    lr_schedule: str = "constant"  # "constant" (the paper), "cosine" or "plateau"; see painnjax.training.schedules
    lr_min: float = 0.0  # floor of "cosine" and "plateau"
    warmup_epochs: int = 0  # linear warm-up to lr over this many epochs
    plateau_patience: int = 10  # "plateau": epochs without a better validation loss before a cut
    plateau_factor: float = 0.5  # "plateau": the cut
    ema_decay: float = 0.0  # exponential moving average of the weights per step (e.g. 0.999); 0 = off
    early_stopping: int = 0  # stop after this many epochs without a better validation loss; 0 = off
    n_devices: int = 0  # data-parallel over this many local devices; 0 = as many as divide batch_size
    max_buckets: int = 4  # size buckets of validation (and of training with batch_layout "buckets")
    # "packed": a batch's structures end to end in one graph; "buckets": padded to size buckets;
    # "auto": packed from PACKED_MIN_BATCH structures a batch, buckets below (see resolved_layout)
    batch_layout: str = "auto"
    dtype: str = "float32"
    # fine-tuning (painnjax.training.finetune): start from this model file or bundled model's
    # weights and energy references ("" = seeded weights); hold parts of it fixed
    init_from: str = ""
    freeze_embedding: bool = False
    freeze_interactions: int = 0  # the first k interaction (message + update) blocks
    log: str = "csv"  # "csv" (metrics.csv) or "tensorboard" (also tensorboard/): painnjax.training.logs

    def __post_init__(self):
        S = SECTION
        positive(S, "lr", self.lr)
        for key in ("weight_decay", "lr_min"):
            check(
                is_real(getattr(self, key)) and getattr(self, key) >= 0,
                S,
                key,
                f"must be a number >= 0, got {getattr(self, key)!r}",
            )
        check(
            is_real(self.energy_weight) and 0.0 <= self.energy_weight <= 1.0,
            S,
            "energy_weight",
            f"must be in [0, 1], got {self.energy_weight!r}",
        )
        check(self.loss in ("mae", "mse"), S, "loss", f"must be 'mae' or 'mse', got {self.loss!r}")
        check(
            self.batch_layout in ("auto", "packed", "buckets"),
            S,
            "batch_layout",
            f"must be 'auto', 'packed' or 'buckets', got {self.batch_layout!r}",
        )
        for key, low in (
            ("batch_size", 1),
            ("epochs", 0),
            ("warmup_epochs", 0),
            ("plateau_patience", 1),
            ("early_stopping", 0),
            ("n_devices", 0),
            ("max_buckets", 1),
            ("freeze_interactions", 0),
        ):
            integer(S, key, getattr(self, key), low)
        check(is_int(self.seed), S, "seed", f"must be an integer, got {self.seed!r}")
        check(isinstance(self.init_from, str), S, "init_from", f"must be a model file or name, got {self.init_from!r}")
        check(
            isinstance(self.freeze_embedding, bool),
            S,
            "freeze_embedding",
            f"must be true or false, got {self.freeze_embedding!r}",
        )
        if self.clip_norm is not None:
            positive(S, "clip_norm", self.clip_norm)
        check(self.lr_schedule in SCHEDULES, S, "lr_schedule", f"must be one of {SCHEDULES}, got {self.lr_schedule!r}")
        check(self.lr_min <= self.lr, S, "lr_min", f"must be in [0, lr] = [0, {self.lr}], got {self.lr_min}")
        check(
            is_real(self.plateau_factor) and 0.0 < self.plateau_factor < 1.0,
            S,
            "plateau_factor",
            f"must be in (0, 1), got {self.plateau_factor!r}",
        )
        check(
            is_real(self.ema_decay) and 0.0 <= self.ema_decay < 1.0,
            S,
            "ema_decay",
            f"must be in [0, 1) (0 = off), got {self.ema_decay!r}",
        )
        check(
            _is_float_dtype(self.dtype),
            S,
            "dtype",
            f"must be a floating-point type such as 'float32' or 'float64', got {self.dtype!r}",
        )

    def schedule(self) -> LRSchedule:
        return LRSchedule(
            self.lr_schedule,
            self.lr,
            self.epochs,
            self.lr_min,
            self.warmup_epochs,
            self.plateau_patience,
            self.plateau_factor,
        )

    @property
    def freezes(self) -> bool:
        """Some weights are held fixed."""
        return bool(self.freeze_embedding or self.freeze_interactions)

    @property
    def uses_forces(self) -> bool:
        return self.energy_weight < 1.0

    @property
    def resolved_layout(self) -> str:
        """The batch layout training uses: ``batch_layout``, with "auto" made concrete."""
        if self.batch_layout != "auto":
            return self.batch_layout
        return "packed" if self.batch_size >= PACKED_MIN_BATCH else "buckets"


def _is_float_dtype(name) -> bool:
    try:
        return isinstance(name, str) and np.dtype(name).kind == "f"
    except TypeError:
        return False
