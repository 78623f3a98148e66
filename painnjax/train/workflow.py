"""Files in, trained model out: what ``painnjax train`` runs.

The run config is a TOML or YAML file with up to four sections; anything missing takes the
reference study's defaults (PaiNN 128/5/20/5 Å, AdamW 1e-4, batch 2, x = 0.01)::

    [model]                       # PaiNNConfig fields
    n_atom_basis = 128
    [train]                       # TrainConfig fields
    epochs = 300
    [data]
    energy_key = ""               # "" = the calculator's energy
    energy_unit = "eV"
    monomers = "monomers.extxyz"  # binding energies against these; "" = per-element offsets
    [split]
    valid_fraction = 0.1
    seed = 42
    by = "frame"                  # or "trajectory"
    test_largest = 0
    test_compositions = []
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from painnjax.nn.config import PaiNNConfig
from painnjax.errors import InputError

SECTIONS = ("model", "train", "data", "split")
DATA_DEFAULTS = {"energy_key": "", "forces_key": "", "energy_unit": "eV", "monomers": "", "delta_low_key": ""}
SPLIT_DEFAULTS = {"valid_fraction": 0.1, "seed": 42, "by": "frame", "test_largest": 0, "test_compositions": []}


def read_run_config(path: str | Path | None) -> dict:
    """The run config as ``{section: dict}``, checked for unknown sections and keys."""
    cfg = {s: {} for s in SECTIONS}
    if path is None:
        return cfg
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such config file")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text) or {}
        else:
            import tomllib

            raw = tomllib.loads(text)
    except Exception as exc:
        raise InputError(f"{path}: cannot parse the config ({exc})") from None
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise InputError(f"{path}: unknown section(s) {unknown}; known: {list(SECTIONS)}")
    from painnjax.train.config import TrainConfig

    known = {
        "model": {f.name for f in dataclasses.fields(PaiNNConfig)},
        "train": {f.name for f in dataclasses.fields(TrainConfig)},
        "data": set(DATA_DEFAULTS),
        "split": set(SPLIT_DEFAULTS),
    }
    for section, values in raw.items():
        bad = sorted(set(values or {}) - known[section])
        if bad:
            raise InputError(f"{path}: [{section}] has unknown key(s) {bad}; known: {sorted(known[section])}")
        cfg[section] = dict(values or {})
    return cfg


def train_from_files(data_paths, config_path=None, out="run", resume: bool = False, overrides: dict | None = None,
                     progress: bool = True, committee: int = 1, stop_after: int | None = None, warm_start=None):
    """Read the data, make energies binding (or element-offset) energies, split, train.

    ``committee = K > 1`` trains K models on the same split into ``out/member-1`` ...
    ``out/member-K``, member k with seed ``[train] seed + k - 1`` (initial weights and
    shuffling differ); returns the list of their best models. ``stop_after`` ends this call
    after that many epochs (the run resumes later; 0 only rewrites the run's summary, plots and
    the best model's training record). ``warm_start``: a model, or one per member, to start
    training from instead of seeded weights (see :func:`painnjax.train.trainer.train`).
    """
    from painnjax.data.dataset import fit_element_offsets, read_dataset, subtract_element_offsets, to_binding_energies
    from painnjax.data.splits import Split, make_split
    from painnjax.train.config import TrainConfig
    from painnjax.train.trainer import train

    cfg = read_run_config(config_path)
    for section, values in (overrides or {}).items():
        cfg[section].update({k: v for k, v in values.items() if v is not None})
    data = {**DATA_DEFAULTS, **cfg["data"]}
    split_opts = {**SPLIT_DEFAULTS, **cfg["split"]}
    try:
        model_config = PaiNNConfig(**cfg["model"])
        train_config = TrainConfig(**cfg["train"])
    except (TypeError, ValueError) as exc:
        raise InputError(f"{config_path}: {exc}") from None

    ds = read_dataset(
        data_paths,
        energy_key=data["energy_key"] or None,
        forces_key=data["forces_key"] or None,
        energy_unit=data["energy_unit"],
        require_forces=train_config.uses_forces,
        delta_low_key=data["delta_low_key"] or None,
    )
    if data["monomers"]:
        ds = to_binding_energies(ds, data["monomers"])
    else:
        ds = subtract_element_offsets(ds, fit_element_offsets(ds, model_config.max_z))
    out = Path(out)
    split_file = out / "split.json"
    if resume and split_file.exists():
        split = Split.load(split_file)
        split.check(ds)  # the split must belong to this data
    else:
        split = make_split(ds, valid_fraction=split_opts["valid_fraction"], seed=split_opts["seed"],
                           test_compositions=split_opts["test_compositions"] or None,
                           test_largest=split_opts["test_largest"], by=split_opts["by"])
    if committee < 1:
        raise InputError(f"committee must be >= 1 models, got {committee}")
    warm = list(warm_start) if isinstance(warm_start, (list, tuple)) else [warm_start] * committee
    if len(warm) != committee:
        raise InputError(f"warm start: {len(warm)} models for a committee of {committee}")
    if committee == 1:
        return train(ds, split, out, model_config, train_config, resume=resume, progress=progress,
                     stop_after=stop_after, warm_start=warm[0])
    models = []
    for k in range(committee):
        member = dataclasses.replace(train_config, seed=train_config.seed + k)
        folder = out / f"member-{k + 1}"
        resume_k = resume and (folder / "checkpoints" / "latest.ckpt").exists()
        models.append(train(ds, split, folder, model_config, member, resume=resume_k, progress=progress,
                            stop_after=stop_after, warm_start=warm[k]))
    return models
