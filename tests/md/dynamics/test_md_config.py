"""``[md]``: MDConfig is frozen and checked when built; errors name ``[md]`` and the key."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

from md.dynamics.config import MDConfig, UnusedOptionWarning
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


@pytest.mark.parametrize(
    "ensemble, key, value, message",
    [
        ("nve", "tau", -5.0, "must be a finite number > 0 fs, got -5.0"),
        ("nve", "friction", -1.0, "must be a finite number > 0 1/fs, got -1.0"),
        ("nvt-langevin", "chain_length", 1, "must be an integer >= 2, got 1"),
        ("nvt-nh", "friction", 0.0, "must be a finite number > 0 1/fs, got 0.0"),
        ("nve", "sy_steps", 4, "must be one of (1, 3, 5, 7), got 4"),
    ],
)
def test_every_thermostat_option_is_checked_whatever_the_ensemble(ensemble, key, value, message):
    with pytest.raises(InputError) as exc:
        MDConfig(ensemble=ensemble, **{key: value})
    assert str(exc.value).startswith(f"[md] {key}: {message}")


@pytest.mark.parametrize(
    "ensemble, key, value, used_by",
    [
        ("nve", "friction", 0.02, "nvt-langevin"),
        ("nve", "tau", 50.0, "nvt-nh"),
        ("nvt-langevin", "tau", 50.0, "nvt-nh"),
    ],
)
def test_an_option_the_ensemble_ignores_warns(ensemble, key, value, used_by):
    with pytest.warns(UnusedOptionWarning) as caught:
        MDConfig(ensemble=ensemble, **{key: value})
    assert len(caught) == 1
    assert str(caught[0].message) == f"[md] {key}: {ensemble} ignores {key} (set to {value!r}; only {used_by} uses it)"
    assert caught[0].filename == __file__  # points at the caller


def test_defaults_and_none_do_not_warn_and_none_is_the_default():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnusedOptionWarning)
        cfg = MDConfig(ensemble="nve", tau=None, chain_length=None, friction=None)
        MDConfig(ensemble="nvt-langevin", friction=0.05)  # used: no warning
        MDConfig(ensemble="nvt-nh", tau=50.0, chain_length=4)
        dataclasses.replace(MDConfig(ensemble="nvt-nh", tau=50.0), steps=200)
    assert (cfg.tau, cfg.chain_length, cfg.friction) == (100.0, 3, 0.01) == (MDConfig.tau, MDConfig.chain_length, 0.01)
