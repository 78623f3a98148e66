"""``[md]``: MDConfig is frozen and checked when built; errors name ``[md]`` and the key."""

from __future__ import annotations

import dataclasses

import pytest

from md.dynamics.config import MDConfig
from painnjax.errors import InputError


def test_a_bad_value_is_refused_when_built():
    with pytest.raises(InputError, match=r"^\[md\] dt: must be a finite number > 0 fs, got -1.0$"):
        MDConfig(dt=-1.0)
    with pytest.raises(InputError, match=r"^\[md\] ensemble: must be one of nvt-nh, nve, nvt-langevin, got 'npt'$"):
        MDConfig(ensemble="npt")
    with pytest.raises(InputError, match=r"^\[md\] chain_length: must be an integer >= 2, got 1"):
        MDConfig(chain_length=1)
    with pytest.raises(InputError, match=r"^\[md\] temperature: must be numbers \(K\)"):
        MDConfig(temperature=["hot", 300.0], replicas=2)
    with pytest.raises(InputError, match=r"^\[md\] seed: must be an integer"):
        MDConfig(seed=0.5)
    with pytest.raises(InputError, match=r"^\[md\] max_temperature: must be a finite number > 0 K"):
        MDConfig(max_temperature=0.0)


def test_unknown_key_is_refused_naming_section_and_key():
    cfg = MDConfig(temperature=[300, 400], replicas=2)
    assert cfg.temperature == (300.0, 400.0) and MDConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match=r"^\[md\] has unknown key\(s\) temprature; known: ensemble, temperature, "):
        MDConfig.from_dict({**cfg.to_dict(), "temprature": 300.0})


def test_md_config_is_frozen_and_replace_checks_again():
    cfg = MDConfig(steps=100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.steps = 200
    assert cfg.check() is cfg
    assert dataclasses.replace(cfg, steps=200).steps == 200
    with pytest.raises(InputError, match=r"^\[md\] steps: 205 is not a multiple of log_every \(10\)"):
        dataclasses.replace(cfg, steps=205)
