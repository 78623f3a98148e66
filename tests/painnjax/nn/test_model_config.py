"""``[model]``: PaiNNConfig is frozen and checked when built; errors name ``[model]`` and the key."""

from __future__ import annotations

import dataclasses

import pytest

from painnjax.errors import InputError
from painnjax.nn.config import PaiNNConfig


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_atom_basis": 0}, r"\[model\] n_atom_basis: must be an integer >= 1, got 0"),
        ({"n_interactions": 2.5}, r"\[model\] n_interactions: must be an integer >= 1, got 2.5"),
        ({"n_rbf": 1}, r"\[model\] n_rbf: must be an integer >= 2, got 1"),
        ({"max_z": True}, r"\[model\] max_z: must be an integer >= 1, got True"),
        ({"cutoff": -1.0}, r"\[model\] cutoff: must be a finite number > 0 Å, got -1.0"),
        ({"cutoff": "5"}, r"\[model\] cutoff: must be a finite number > 0 Å"),
        ({"shared_filters": "yes"}, r"\[model\] shared_filters: must be true or false"),
        ({"epsilon": -1e-8}, r"\[model\] epsilon: must be a number >= 0"),
        ({"readout_hidden": (16, 0)}, r"\[model\] readout_hidden: must be a list of layer sizes >= 1"),
    ],
)
def test_bad_model_values_name_the_section_and_key(kwargs, message):
    with pytest.raises(InputError, match=message):
        PaiNNConfig(**kwargs)


def test_unknown_key_and_round_trip():
    c = PaiNNConfig(n_atom_basis=16, readout_hidden=[12, 6])
    assert c.readout_hidden == (12, 6) and PaiNNConfig.from_dict(c.to_dict()) == c
    with pytest.raises(InputError, match=r"\[model\] has unknown key\(s\) n_featurez; known: n_atom_basis, "):
        PaiNNConfig.from_dict({**c.to_dict(), "n_featurez": 3})


def test_model_config_is_frozen_and_hashable():
    c = PaiNNConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n_rbf = 10
    assert hash(c) == hash(PaiNNConfig())
