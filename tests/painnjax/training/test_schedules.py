"""Learning-rate schedules and early stopping, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from painnjax import InputError
from painnjax.training.schedules import EarlyStopping, LRSchedule


def test_constant_is_the_papers_rate_every_epoch():
    s = LRSchedule("constant", lr=1e-4, epochs=5)
    for e in range(5):
        s.observe(1.0)  # never improves: a constant schedule does not care
        assert s.lr_for(e) == 1e-4


def test_cosine_with_warmup_by_hand():
    s = LRSchedule("cosine", lr=1e-3, epochs=12, lr_min=1e-5, warmup_epochs=2)
    assert s.lr_for(0) == pytest.approx(1e-3 / 3)
    assert s.lr_for(1) == pytest.approx(2e-3 / 3)
    assert s.lr_for(2) == pytest.approx(1e-3)  # the decay starts at the top
    # 10 decay epochs: epoch 7 is halfway, the last epoch (11) is at t = 0.9.
    assert s.lr_for(7) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))
    assert s.lr_for(11) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(0.9 * math.pi)))
    assert s.lr_for(50) == pytest.approx(1e-5)


def test_plateau_cuts_after_patience_and_stops_at_the_floor():
    s = LRSchedule("plateau", lr=1.0, epochs=100, lr_min=0.2, patience=2, factor=0.5)
    rates = []
    for loss in [5, 4, 4.5, 4.2, 3.9, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]:
        rates.append(s.lr_for(len(rates)))
        s.observe(loss)
    # two epochs without improvement after 4 -> cut to 0.5; 3.9 improves; then cuts every
    # two bad epochs: 0.25, then the floor 0.2.
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]


def test_early_stopping_counts_epochs_since_the_best():
    stop = EarlyStopping(patience=2)
    losses = [3.0, 2.0, 2.5, 1.9, 2.0, 2.1, 1.0]
    stopped_at = next(e for e, loss in enumerate(losses, start=1) if stop.observe(e, loss))
    assert stopped_at == 6 and stop.state == {"best": 1.9, "best_epoch": 4}
    never = EarlyStopping(patience=0)
    assert not any(never.observe(e, 1.0) for e in range(1, 50))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "linear"}, "lr_schedule must be one of"),
        ({"lr_min": 2.0}, "lr_min"),
        ({"patience": 0}, "plateau_patience"),
        ({"factor": 1.5}, "plateau_factor"),
        ({"warmup_epochs": -1}, "warmup_epochs"),
    ],
)
def test_bad_schedule_options_are_named(kwargs, match):
    args = {"kind": "plateau", "lr": 1.0, "epochs": 10, **kwargs}
    with pytest.raises(InputError, match=match):
        LRSchedule(**args)
