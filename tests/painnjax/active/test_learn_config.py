"""``[learn]``: LearnConfig is frozen and checked when built; errors name ``[learn]`` and the key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from painnjax.active.learn import LearnConfig
from painnjax.config import from_mapping
from painnjax.errors import InputError


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"committee": 1}, r"\[learn\] committee: a committee needs at least 2 models, got 1"),
        ({"rounds": -1}, r"\[learn\] rounds: must be an integer >= 0, got -1"),
        ({"retrain": "warm"}, r"\[learn\] retrain: must be 'scratch' or 'continue', got 'warm'"),
        ({"criterion": "stress"}, r"\[learn\] criterion: must be one of forces, "),
        ({"threshold": -0.1}, r"\[learn\] threshold: must be a number >= 0 \(eV/Å\), got -0.1"),
        ({"threshold": 0.5, "max_spread": 0.4}, r"\[learn\] max_spread: must exceed threshold \(0.5\), got 0.4"),
        ({"max_add": 0}, r"\[learn\] max_add: must be an integer >= 1, got 0"),
        ({"starts": []}, r"\[learn\] starts: learning needs at least one start structure"),
        ({"temperatures": [300.0, -5.0]}, r"\[learn\] temperatures: must be numbers > 0 \(K\)"),
        ({"ensemble": "npt"}, r"\[learn\] ensemble: must be one of"),
        ({"dt": 0}, r"\[learn\] dt: must be a finite number > 0 fs, got 0"),
        ({"md_steps": 2010, "every": 20}, r"\[learn\] md_steps: must be a multiple of every \(20\), got 2010"),
        ({"equilibrate": 2000}, r"\[learn\] equilibrate: must be less than md_steps \(2000\), got 2000"),
        ({"epochs": -1}, r"\[learn\] epochs: must be an integer >= 0, got -1"),
    ],
)
def test_bad_learn_values_name_the_section_and_key(kwargs, message):
    with pytest.raises(InputError, match=message):
        LearnConfig(**kwargs)


def test_unknown_learn_key_names_section_and_key():
    with pytest.raises(InputError, match=r"\[learn\] has unknown key\(s\) round; known: rounds, committee, "):
        from_mapping(LearnConfig, "learn", {"round": 2})


def test_learn_config_is_frozen_and_saves_as_json_lists():
    cfg = LearnConfig(starts=["SA1AM1", Path("start.xyz")], temperatures=[300, 500.0])
    assert cfg.starts == ("SA1AM1", Path("start.xyz")) and cfg.temperatures == (300, 500.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rounds = 5
    d = cfg.to_dict()
    assert d["starts"] == ["SA1AM1", "start.xyz"] and d["temperatures"] == [300, 500.0]
    assert json.loads(json.dumps(d)) == d  # what learn.json holds compares equal when a run is continued
    assert LearnConfig().to_dict()["starts"] == ["SA2AM2"] and LearnConfig().temperatures == (300.0,)
