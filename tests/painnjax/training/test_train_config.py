"""``[train]`` and the run config file: every section a frozen dataclass, errors naming file, section and key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from painnjax.data.config import DataConfig, SplitConfig
from painnjax.errors import InputError
from painnjax.nn.config import PaiNNConfig
from painnjax.training.config import TrainConfig
from painnjax.training.workflow import RunConfig, read_run_config

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": -1.0}, r"\[train\] lr: must be a finite number > 0, got -1.0"),
        ({"lr": "1e-3"}, r"\[train\] lr: must be a finite number > 0, got '1e-3'"),
        ({"energy_weight": 1.5}, r"\[train\] energy_weight: must be in \[0, 1\], got 1.5"),
        ({"loss": "huber"}, r"\[train\] loss: must be 'mae' or 'mse', got 'huber'"),
        ({"batch_size": 0}, r"\[train\] batch_size: must be an integer >= 1, got 0"),
        ({"epochs": 1.5}, r"\[train\] epochs: must be an integer >= 0, got 1.5"),
        ({"weight_decay": -0.1}, r"\[train\] weight_decay: must be a number >= 0"),
        ({"clip_norm": 0.0}, r"\[train\] clip_norm: must be a finite number > 0"),
        ({"lr_schedule": "linear"}, r"\[train\] lr_schedule: must be one of"),
        ({"lr": 1e-3, "lr_min": 1e-2}, r"\[train\] lr_min: must be in \[0, lr\]"),
        ({"plateau_patience": 0}, r"\[train\] plateau_patience: must be an integer >= 1"),
        ({"plateau_factor": 1.5}, r"\[train\] plateau_factor: must be in \(0, 1\)"),
        ({"warmup_epochs": -1}, r"\[train\] warmup_epochs: must be an integer >= 0"),
        ({"ema_decay": 1.0}, r"\[train\] ema_decay: must be in \[0, 1\)"),
        ({"early_stopping": -1}, r"\[train\] early_stopping: must be an integer >= 0"),
        ({"n_devices": -1}, r"\[train\] n_devices: must be an integer >= 0"),
        ({"dtype": "int32"}, r"\[train\] dtype: must be a floating-point type"),
        ({"seed": "42"}, r"\[train\] seed: must be an integer"),
    ],
)
def test_bad_train_values_name_the_section_and_key(kwargs, message):
    with pytest.raises(InputError, match=message):
        TrainConfig(**kwargs)


def test_train_config_is_frozen():
    cfg = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0
    assert dataclasses.replace(cfg, seed=43).seed == 43
    with pytest.raises(InputError, match=r"\[train\] lr"):
        dataclasses.replace(cfg, lr=0.0)


def test_no_file_gives_the_defaults_and_overrides_apply():
    assert read_run_config(None) == RunConfig(PaiNNConfig(), TrainConfig(), DataConfig(), SplitConfig())
    cfg = read_run_config(None, {"train": {"epochs": 3, "seed": None}, "data": {"monomers": "m.extxyz"}})
    assert cfg.train.epochs == 3 and cfg.train.seed == 42 and cfg.data.monomers == "m.extxyz"
    with pytest.raises(InputError, match=r"unknown section\(s\) \['trian'\]"):
        read_run_config(None, {"trian": {"epochs": 3}})
    with pytest.raises(InputError, match=r"^\[train\] epochs: must be an integer >= 0, got -3"):
        read_run_config(None, {"train": {"epochs": -3}})


def test_the_example_config_reads_as_before():
    cfg = read_run_config(EXAMPLES / "train_small.toml")
    assert cfg.model == PaiNNConfig(n_atom_basis=32, n_interactions=3, n_rbf=20, cutoff=5.0)
    assert cfg.train == TrainConfig(
        epochs=60, batch_size=4, lr=1e-3, lr_schedule="cosine", lr_min=1e-5, energy_weight=0.01
    )
    assert cfg.data == DataConfig(monomers="saam-gfn1-monomers")
    assert cfg.split == SplitConfig(valid_fraction=0.1, seed=42, test_largest=1)


TOML = {
    "model": "[model]\nn_rbf = 1\n",
    "train": "[train]\nlr = -1.0\n",
    "data": '[data]\nenergy_unit = "kcal"\n',
    "split": '[split]\nby = "composition"\n',
}
YAML = {
    "model": "model:\n  n_rbf: 1\n",
    "train": "train:\n  lr: -1.0\n",
    "data": "data:\n  energy_unit: kcal\n",
    "split": "split:\n  by: composition\n",
}
KEY = {"model": "n_rbf", "train": "lr", "data": "energy_unit", "split": "by"}


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
@pytest.mark.parametrize("section", ["model", "train", "data", "split"])
def test_bad_value_in_a_file_names_file_section_and_key(tmp_path, suffix, section):
    if suffix == ".yaml":
        pytest.importorskip("yaml")
    path = tmp_path / f"run{suffix}"
    path.write_text((TOML if suffix == ".toml" else YAML)[section])
    with pytest.raises(InputError) as err:
        read_run_config(path)
    assert str(err.value).startswith(f"{path}: [{section}] {KEY[section]}: ")


@pytest.mark.parametrize("section", ["model", "train", "data", "split"])
def test_unknown_key_in_a_file_names_file_section_and_key(tmp_path, section):
    path = tmp_path / "run.toml"
    path.write_text(f"[{section}]\nbogus_key = 1\n")
    with pytest.raises(InputError) as err:
        read_run_config(path)
    assert str(err.value).startswith(f"{path}: [{section}] has unknown key(s) bogus_key; known: ")


def test_yaml_config_reads_like_toml(tmp_path):
    pytest.importorskip("yaml")
    toml, yaml = tmp_path / "run.toml", tmp_path / "run.yml"
    toml.write_text('[train]\nepochs = 2\n[split]\ntest_compositions = ["SA4AM4"]\nby = "trajectory"\n')
    yaml.write_text("train:\n  epochs: 2\nsplit:\n  test_compositions: [SA4AM4]\n  by: trajectory\nmodel:\n")
    assert read_run_config(toml) == read_run_config(yaml)
    yaml.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="must be a table of sections"):
        read_run_config(yaml)
    yaml.write_text("train: 3\n")
    with pytest.raises(InputError, match=r"\[train\] must be a table of key = value, got int"):
        read_run_config(yaml)
