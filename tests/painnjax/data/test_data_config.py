"""``[data]`` and ``[split]``: frozen dataclasses checked when built, with the defaults of the old dicts."""

from __future__ import annotations

import dataclasses

import pytest

from painnjax.config import from_mapping
from painnjax.data.config import DataConfig, SplitConfig
from painnjax.errors import InputError


def test_defaults_are_those_of_the_run_config():
    assert dataclasses.asdict(DataConfig()) == {
        "energy_key": "",
        "forces_key": "",
        "energy_unit": "eV",
        "monomers": "",
        "delta_low_key": "",
        "ignore_cell": False,
    }
    assert dataclasses.asdict(SplitConfig()) == {
        "valid_fraction": 0.1,
        "seed": 42,
        "by": "frame",
        "test_largest": 0,
        "test_compositions": (),
        "extend": "",
    }


def test_values_are_kept_or_normalised():
    assert DataConfig(energy_unit="kcal/mol").energy_unit == "kcal/mol"
    assert DataConfig(energy_unit=27.211386).energy_unit == 27.211386  # a factor to eV
    assert SplitConfig(test_compositions=["SA4AM4", "SA3AM3"]).test_compositions == ("SA4AM4", "SA3AM3")
    assert SplitConfig(test_compositions="SA4AM4").test_compositions == ("SA4AM4",)
    assert SplitConfig(valid_fraction=0, by="trajectory").valid_fraction == 0


@pytest.mark.parametrize(
    "cls, section, values, message",
    [
        (DataConfig, "data", {"energy_unit": "kcal"}, r"\[data\] energy_unit: unknown unit 'kcal'; known: eV"),
        (DataConfig, "data", {"energy_unit": -1.0}, r"\[data\] energy_unit: unknown unit -1.0"),
        (DataConfig, "data", {"energy_key": 3}, r"\[data\] energy_key: must be a string, got 3"),
        (DataConfig, "data", {"monomers": 1}, r"\[data\] monomers: must be a file"),
        (DataConfig, "data", {"ignore_cell": "yes"}, r"\[data\] ignore_cell: must be true or false, got 'yes'"),
        (SplitConfig, "split", {"valid_fraction": 1.0}, r"\[split\] valid_fraction: must be in \[0, 1\), got 1.0"),
        (SplitConfig, "split", {"valid_fraction": "0.1"}, r"\[split\] valid_fraction: must be in \[0, 1\)"),
        (
            SplitConfig,
            "split",
            {"by": "composition"},
            r"\[split\] by: must be 'frame' or 'trajectory', got 'composition'",
        ),
        (SplitConfig, "split", {"test_largest": -1}, r"\[split\] test_largest: must be an integer >= 0, got -1"),
        (SplitConfig, "split", {"seed": 1.5}, r"\[split\] seed: must be an integer, got 1.5"),
        (SplitConfig, "split", {"test_compositions": [1]}, r"\[split\] test_compositions: must be a list"),
        (DataConfig, "data", {"energy_keys": "E"}, r"\[data\] has unknown key\(s\) energy_keys; known: energy_key, "),
        (SplitConfig, "split", {"valid": 0.2}, r"\[split\] has unknown key\(s\) valid; known: valid_fraction, "),
    ],
)
def test_bad_value_or_unknown_key_names_section_and_key(cls, section, values, message):
    with pytest.raises(InputError, match=message):
        from_mapping(cls, section, values)


@pytest.mark.parametrize("config, key", [(DataConfig(), "monomers"), (SplitConfig(), "seed")])
def test_configs_are_frozen(config, key):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, key, "x")
    changed = dataclasses.replace(config, **{key: "m.extxyz" if key == "monomers" else 7})
    assert getattr(changed, key) != getattr(config, key)
