"""What a training run shows and logs as it goes: a progress bar over optimiser steps, and
TensorBoard event files beside ``metrics.csv``.

The bar (:class:`StepBar`) counts the steps of every epoch of the call, so tqdm's rate and ETA
are those of the whole call; it shows the epoch, the running training loss of the epoch and the
last validation errors (kcal/mol, kcal/mol/Å). It is off when the output is not a terminal
(CI logs stay small). The loss on the bar is read from the device at most every
:data:`REFRESH_SECONDS`, so the bar does not hold up JAX's asynchronous steps.

``[train] log = "tensorboard"`` (``painnjax train --log tensorboard``; needs tensorboardX, the
``tensorboard`` extra) also writes each ``metrics.csv`` row as scalars into the run folder's
``tensorboard/`` (:class:`TensorBoardLog`): ``train/loss``, ``valid/energy_mae`` ... (the
columns, ``train_`` and ``valid_`` made into groups), ``lr`` and ``seconds``, at the epoch's
number; a resumed run drops the events of epochs it computes again. ``tensorboard --logdir RUN``
shows them.
"""

from __future__ import annotations

import time
from pathlib import Path

from painnjax.errors import InputError

LOGS = ("csv", "tensorboard")  # [train] log: metrics.csv always; "tensorboard" adds event files
TENSORBOARD_DIR = "tensorboard"
REFRESH_SECONDS = 1.0


def check_log(kind: str) -> None:
    """Refuse a ``[train] log`` that is not one of :data:`LOGS`, or "tensorboard" without tensorboardX."""
    if kind not in LOGS:
        raise InputError(f"[train] log must be one of {', '.join(LOGS)}, got {kind!r}")
    if kind == "tensorboard":
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise InputError(
                "[train] log = 'tensorboard' (--log tensorboard) needs tensorboardX: "
                "pip install 'painnjax[tensorboard]'"
            ) from None


class StepBar:
    """A tqdm bar over the ``steps_per_epoch * (end - start)`` optimiser steps of epochs
    ``start`` to ``end`` of ``epochs``; nothing when not ``enabled`` or not on a terminal."""

    def __init__(self, enabled: bool, steps_per_epoch: int, start: int, end: int, epochs: int):
        self.bar = None
        self.epochs = epochs
        self.loss: float | None = None
        self.valid = ""
        self.last = 0.0
        if enabled and end > start:
            from tqdm.auto import tqdm

            # disable=None: off when stderr is not a terminal
            self.bar = tqdm(total=steps_per_epoch * (end - start), unit="step", disable=None, dynamic_ncols=True)
            if self.bar.disable:
                self.bar = None
            else:
                self.start_epoch(start)

    def start_epoch(self, epoch: int) -> None:
        """Epoch ``epoch`` (0-based) begins."""
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}", refresh=False)
            self.loss = None

    def step(self, running_loss) -> None:
        """One step done; ``running_loss()`` gives the epoch's mean training loss so far (it reads
        the device, so it is called at most every :data:`REFRESH_SECONDS`)."""
        if self.bar is None:
            return
        now = time.monotonic()
        if now - self.last >= REFRESH_SECONDS:
            self.loss, self.last = running_loss(), now
            self._postfix()
        self.bar.update(1)

    def end_epoch(self, valid_m: dict) -> None:
        """The epoch's validation errors on the bar."""
        if self.bar is None:
            return
        forces = f", F {valid_m['forces_mae']:.3f}" if "forces_mae" in valid_m else ""
        self.valid = f"valid E {valid_m['energy_mae']:.3f}{forces}"
        self._postfix()

    def _postfix(self) -> None:
        loss = "" if self.loss is None else f"loss {self.loss:.4g}"
        self.bar.set_postfix_str(", ".join(s for s in (loss, self.valid) if s))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class TensorBoardLog:
    """The rows of ``metrics.csv`` as TensorBoard scalars in ``run_dir/tensorboard``.

    ``first_epoch``: the first epoch (1-based) this call writes; events of it and later epochs
    from an earlier call (which a resume computes again) are dropped."""

    def __init__(self, run_dir: Path, first_epoch: int = 1):
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR), purge_step=first_epoch)

    @staticmethod
    def tag(column: str) -> str:
        """``train_energy_mae`` -> ``train/energy_mae``; ``lr`` and ``seconds`` as they are."""
        group, sep, rest = column.partition("_")
        return f"{group}/{rest}" if sep and group in ("train", "valid") else column

    def write(self, row: dict) -> None:
        """One ``metrics.csv`` row (empty cells, e.g. forces of an energy-only run, left out)."""
        epoch = int(row["epoch"])
        for column, value in row.items():
            if column != "epoch" and value != "" and value is not None:
                self.writer.add_scalar(self.tag(column), float(value), epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
