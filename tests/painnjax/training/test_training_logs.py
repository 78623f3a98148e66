"""What training shows and logs as it goes: TensorBoard scalars equal to metrics.csv, a step bar
whose total is the steps the epochs take, and clear errors for a log that cannot be written."""

from __future__ import annotations

import csv
import struct

import numpy as np
import pytest

from painnjax import InputError, PaiNNConfig
from painnjax.data.splits import Split
from painnjax.training import fit
from painnjax.training.config import TrainConfig
from painnjax.training.logs import StepBar, TensorBoardLog
from tests.conftest import rattled_set

TINY = PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=8)


def read_scalars(folder) -> dict[str, dict[int, float]]:
    """Every scalar in the TensorBoard event files of ``folder``: {tag: {step: value}}, read with
    tensorboardX's protobuf classes (TFRecord framing: length, its CRC, the Event, its CRC)."""
    from tensorboardX.proto.event_pb2 import Event

    out: dict[str, dict[int, float]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (n,) = struct.unpack("<Q", data[pos : pos + 8])
            event = Event.FromString(data[pos + 12 : pos + 12 + n])
            pos += 12 + n + 4
            for v in event.summary.value:
                out.setdefault(v.tag, {})[event.step] = v.simple_value
    return out


class RecordingBar:
    """A StepBar that counts what the loop tells it."""

    made: list = []

    def __init__(self, enabled, steps_per_epoch, start, end, epochs):
        self.total = steps_per_epoch * (end - start)
        self.steps, self.epochs, self.losses = 0, [], []
        RecordingBar.made.append(self)

    def start_epoch(self, epoch):
        self.epochs.append(epoch)

    def step(self, running_loss):
        self.steps += 1
        self.losses.append(running_loss())

    def end_epoch(self, valid_m):
        pass

    def close(self):
        pass


@pytest.mark.slow
def test_tensorboard_scalars_equal_metrics_csv_and_bar_counts_steps(sa1am1, sa2am2, tmp_path, monkeypatch):
    pytest.importorskip("tensorboardX")
    ds = rattled_set(sa1am1, sa2am2, seed=1, n=12).subset(np.arange(0, 12, 2))  # SA1AM1: one bucket
    split = Split(train=np.arange(4), valid=np.arange(4, 6), test=np.arange(0), seed=0, rule="test")
    monkeypatch.setattr(fit, "StepBar", RecordingBar)
    RecordingBar.made.clear()
    cfg = TrainConfig(epochs=2, batch_size=2, log="tensorboard", lr=1e-3, max_buckets=1)
    fit.train(ds, split, tmp_path, TINY, cfg, progress=True)

    bar = RecordingBar.made[-1]
    assert bar.epochs == [0, 1]
    assert bar.steps == bar.total  # the bar's total (its ETA) is the steps the epochs took
    assert all(np.isfinite(bar.losses))

    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    scalars = read_scalars(tmp_path / "tensorboard")
    assert len(rows) == 2
    for column in rows[0]:
        if column == "epoch":
            continue
        tag = TensorBoardLog.tag(column)
        got = scalars[tag]
        want = {int(r["epoch"]): float(r[column]) for r in rows}
        assert sorted(got) == sorted(want), tag
        for epoch, value in want.items():
            assert got[epoch] == pytest.approx(value, rel=1e-6), (tag, epoch)  # stored as float32
    assert {"train/loss", "valid/energy_mae", "valid/forces_mae", "lr"} <= set(scalars)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 8])  # size buckets; packed batches from 8
def test_steps_per_epoch_are_the_batches_an_epoch_takes(sa1am1, sa2am2, batch_size):
    """The bar's total (its ETA) counts the batches iterate_batches / iterate_packed yield."""
    from types import SimpleNamespace

    from painnjax.data.batching import iterate_batches, make_buckets

    ds = rattled_set(sa1am1, sa2am2, seed=1, n=13)
    train = np.arange(11)
    buckets = make_buckets(ds, TINY.cutoff, 2)
    assert len(buckets) == 2
    cfg = TrainConfig(batch_size=batch_size)
    packed = cfg.resolved_layout == "packed"
    run = SimpleNamespace(
        split=SimpleNamespace(train=train),
        cfg=cfg,
        ds=ds,
        trainer=SimpleNamespace(buckets=buckets),
        packing=packed or None,
    )
    if packed:
        want = len(range(0, len(train), batch_size))
    else:
        want = sum(1 for _ in iterate_batches(ds, train, batch_size, buckets, np.random.default_rng(0)))
    assert fit._steps_per_epoch(run) == want


def test_unknown_log_is_refused_before_anything_is_written(sa1am1, sa2am2, tmp_path):
    ds = rattled_set(sa1am1, sa2am2, seed=1, n=4)
    split = Split(train=np.arange(3), valid=np.arange(3, 4), test=np.arange(0), seed=0, rule="test")
    with pytest.raises(InputError, match=r"\[train\] log must be one of csv, tensorboard, got 'wandb'"):
        fit.train(ds, split, tmp_path / "run", TINY, TrainConfig(epochs=1, log="wandb"), progress=False)
    assert not (tmp_path / "run").exists()


def test_step_bar_is_off_without_a_terminal():
    """Under pytest stderr is not a terminal: no bar (as in CI logs); steps still count nothing."""
    bar = StepBar(True, steps_per_epoch=5, start=0, end=3, epochs=3)
    assert bar.bar is None
    bar.step(lambda: pytest.fail("the loss is not read without a bar"))
    bar.close()


def test_train_command_takes_log():
    from painnjax.cli import build_parser

    args = build_parser().parse_args(["train", "--data", "x.extxyz", "--log", "tensorboard"])
    assert args.log == "tensorboard"
    assert build_parser().parse_args(["train", "--data", "x.extxyz"]).log is None  # the config's
