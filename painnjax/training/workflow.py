"""Files in, trained model out: what ``painnjax train`` runs.

The run config is a TOML or YAML file with up to four sections; anything missing takes the
reference study's defaults (PaiNN 128/5/20/5 Å, AdamW 1e-4, batch 2, x = 0.01)::

    [model]                       # painnjax.nn.config.PaiNNConfig
    n_atom_basis = 128
    [train]                       # painnjax.training.config.TrainConfig
    epochs = 300
    init_from = ""                # fine-tune: a model file or bundled name ("saam-gfn1")
    freeze_embedding = false      # with init_from: hold the embedding fixed
    freeze_interactions = 0       # ... and the first k interaction blocks
    [data]                        # painnjax.data.config.DataConfig
    energy_key = ""               # "" = the calculator's energy
    energy_unit = "eV"
    monomers = "monomers.extxyz"  # binding energies against these; "" = per-element offsets
    ignore_cell = false           # true: periodic frames read as free clusters (else an error)
    [split]                       # painnjax.data.config.SplitConfig
    valid_fraction = 0.1
    seed = 42
    by = "frame"                  # or "trajectory"
    test_largest = 0
    test_compositions = []

Each section is a frozen dataclass checked when built; an unknown key or a bad value raises
:class:`~painnjax.errors.InputError` naming the file, the section and the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from painnjax.config import from_mapping, read_file
from painnjax.data.config import DataConfig, SplitConfig
from painnjax.data.dataset import fit_element_offsets, read_dataset, subtract_element_offsets, to_binding_energies
from painnjax.data.splits import Split, extend_split, make_split
from painnjax.errors import InputError
from painnjax.io.files import lock_run_folder
from painnjax.io.modelfile import load_model
from painnjax.nn.config import PaiNNConfig
from painnjax.training.checkpoint import checkpoint_path
from painnjax.training.config import TrainConfig
from painnjax.training.fit import train


@dataclass(frozen=True)
class RunConfig:
    """A training run config: one frozen, checked dataclass per section."""

    model: PaiNNConfig = field(default_factory=PaiNNConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)


SECTIONS = {"model": PaiNNConfig, "train": TrainConfig, "data": DataConfig, "split": SplitConfig}


def read_run_config(path: str | Path | None, overrides: dict | None = None) -> RunConfig:
    """The run config file (TOML or YAML; None: all defaults) as a :class:`RunConfig`.

    ``overrides``: ``{section: {key: value}}`` put over the file's values (None values are
    ignored), as the command line's options are. Unknown sections and keys and bad values
    raise :class:`InputError` naming the file, the section and the key.
    """
    raw = read_file(path) if path is not None else {}  # the one reader of config files
    where = f"{path}: " if path is not None else ""
    model = raw.get("model")
    if isinstance(model, dict) and "kind" in model:  # `[model] kind` picks PaiNN or a kernel model (painnjax.kernels)
        if model["kind"] != "painn":
            raise InputError(f"{where}[model] kind: a PaiNN run config needs 'painn', got {model['kind']!r}")
        raw = {**raw, "model": {k: v for k, v in model.items() if k != "kind"}}
    unknown = sorted(set(raw) - set(SECTIONS)) + sorted(set(overrides or {}) - set(SECTIONS))
    if unknown:
        raise InputError(f"{where}unknown section(s) {unknown}; known: {list(SECTIONS)}")
    try:
        sections = {}
        for name, cls in SECTIONS.items():
            values = raw.get(name) or {}
            extra = {k: v for k, v in (overrides or {}).get(name, {}).items() if v is not None}
            if extra and isinstance(values, dict):
                values = {**values, **extra}
            sections[name] = from_mapping(cls, name, values)
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None
    return RunConfig(**sections)


def _extended_split_file(path: str, config_path) -> Path:
    """``[split] extend``: a path relative to the config file's folder (or absolute)."""
    p = Path(path)
    if not p.is_absolute() and config_path is not None:
        p = Path(config_path).parent / p
    return p


def train_from_files(
    data_paths,
    config_path=None,
    out="run",
    resume: bool = False,
    overrides: dict | None = None,
    progress: bool = True,
    committee: int = 1,
    stop_after: int | None = None,
    warm_start=None,
):
    """Read the data, make energies binding (or element-offset) energies, split, train.

    ``committee = K > 1`` trains K models on the same split into ``out/member-1`` ...
    ``out/member-K``, member k with seed ``[train] seed + k - 1`` (initial weights and
    shuffling differ); returns the list of their best models. ``stop_after`` ends this call
    after that many epochs (the run resumes later; 0 only rewrites the run's summary, plots and
    the best model's training record). ``warm_start``: a model, or one per member, to start
    training from instead of seeded weights (see :func:`painnjax.training.fit.train`).
    """

    cfg = read_run_config(config_path, overrides)
    model_config, train_config, data, split_opts = cfg.model, cfg.train, cfg.data, cfg.split
    # load_model and read_dataset called here, not in a helper: their warnings' stacklevel is set for this depth.
    if train_config.init_from and model_config == PaiNNConfig():  # no [model]: the start model's
        model_config = load_model(train_config.init_from).config
    ds = read_dataset(
        data_paths,
        energy_key=data.energy_key or None,
        forces_key=data.forces_key or None,
        energy_unit=data.energy_unit,
        require_forces=train_config.uses_forces,
        delta_low_key=data.delta_low_key or None,
        ignore_cell=data.ignore_cell,
    )
    ds = _reference_energies(ds, data, model_config.max_z)
    out = Path(out)
    split = _run_split(ds, out / "split.json", split_opts, config_path, resume)
    warm = _warm_starts(warm_start, committee)
    if committee == 1:
        return train(
            ds,
            split,
            out,
            model_config,
            train_config,
            resume=resume,
            progress=progress,
            stop_after=stop_after,
            warm_start=warm[0],
        )
    return _train_committee(ds, split, out, model_config, train_config, warm, resume, progress, stop_after)


def _reference_energies(ds, data: DataConfig, max_z: int):
    """``ds`` with binding energies against ``[data] monomers``, else with fitted per-element offsets subtracted."""
    if data.monomers:
        return to_binding_energies(ds, data.monomers, ignore_cell=data.ignore_cell)
    return subtract_element_offsets(ds, fit_element_offsets(ds, max_z))


def _run_split(ds, split_file: Path, split_opts: SplitConfig, config_path, resume: bool) -> Split:
    """The run's split: the one in ``split_file`` when resuming, else made (or extended) as ``[split]`` says."""
    if resume and split_file.exists():
        split = Split.load(split_file)
        split.check(ds)  # the split must belong to this data
        return split
    options = dict(
        valid_fraction=split_opts.valid_fraction,
        seed=split_opts.seed,
        test_compositions=list(split_opts.test_compositions) or None,
        test_largest=split_opts.test_largest,
        by=split_opts.by,
    )
    if split_opts.extend:  # an earlier run's split for its structures, the added ones split anew
        old = _extended_split_file(split_opts.extend, config_path)
        return extend_split(Split.load(old), ds, **options)
    return make_split(ds, **options)


def _warm_starts(warm_start, committee: int) -> list:
    """One warm-start model (or None) per member of a committee of ``committee``, checked."""
    if committee < 1:
        raise InputError(f"committee must be >= 1 models, got {committee}")
    warm = list(warm_start) if isinstance(warm_start, (list, tuple)) else [warm_start] * committee
    if len(warm) != committee:
        raise InputError(f"warm start: {len(warm)} models for a committee of {committee}")
    return warm


def _train_committee(ds, split, out: Path, model_config, train_config, warm, resume, progress, stop_after) -> list:
    """K members on the same split into ``out/member-k``, member k with seed ``[train] seed + k - 1``."""
    models = []
    with lock_run_folder(out, "a committee's training"):  # and train locks each member's folder
        for k in range(len(warm)):
            member = dataclasses.replace(train_config, seed=train_config.seed + k)
            folder = out / f"member-{k + 1}"
            resume_k = resume and checkpoint_path(folder).exists()
            models.append(
                train(
                    ds,
                    split,
                    folder,
                    model_config,
                    member,
                    resume=resume_k,
                    progress=progress,
                    stop_after=stop_after,
                    warm_start=warm[k],
                )
            )
    return models
