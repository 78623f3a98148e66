"""Files in, kernel model out: what ``painnjax train --config`` runs for ``[model] kind = "krr" | "knn"``,
and what ``painnjax evaluate`` runs on a kernel model file.

The run config (TOML or YAML) has the sections of a PaiNN run config with the kernel models'
keys (docs/kernels.md)::

    [model]
    kind = "krr"                  # or "knn"
    sigma = 2.0                   # krr, and knn with metric = "kernel"
    regularization = 1e-8
    [data]
    energy_key = "gfn2_energy"    # the high level
    monomers = "gfn2-monomers"
    delta_low_key = "energy"      # Δ: the low level is the frames' calculator energy (GFN1-xTB)
    low_monomers = "gfn1-monomers"
    [train]
    n_train = 500
    [split]
    test_compositions = ["SA4AM0W5"]

The run folder gets ``model.painn`` (a kernel model file, :mod:`.files`), ``split.json`` and
``summary.json`` (validation and test errors in kcal/mol, timings in s).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from painnjax.config import from_mapping, read_file
from painnjax.data.config import SplitConfig
from painnjax.data.dataset import Dataset, read_monomer_references
from painnjax.data.splits import make_split
from painnjax.errors import InputError
from painnjax.io.files import lock_run_folder, write_json
from painnjax.kernels.config import KernelDataConfig, KernelModelConfig, KernelTrainConfig
from painnjax.kernels.files import save_kernel_model
from painnjax.kernels.knn import fit_knn
from painnjax.kernels.krr import fit_krr
from painnjax.kernels.model import KernelModel
from painnjax.kernels.representation import fchl19
from painnjax.kernels.targets import read_targets
from painnjax.units import EV_TO_KCAL_PER_MOL

SECTIONS = {"model": KernelModelConfig, "train": KernelTrainConfig, "data": KernelDataConfig, "split": SplitConfig}
MODEL_FILE = "model.painn"


@dataclass(frozen=True)
class KernelRunConfig:
    model: KernelModelConfig = field(default_factory=KernelModelConfig)
    train: KernelTrainConfig = field(default_factory=KernelTrainConfig)
    data: KernelDataConfig = field(default_factory=KernelDataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)


def _read_table(path) -> dict:
    """The config file as a table ({} for None), read by the one reader of config files."""
    return read_file(path) if path is not None else {}


def model_kind(config_path) -> str:
    """``[model] kind`` of a run config: "painn" (also when absent or without a file), "krr" or "knn"."""
    model = _read_table(config_path).get("model") or {}
    kind = model.get("kind", "painn") if isinstance(model, dict) else "painn"
    if kind not in ("painn", "krr", "knn"):
        raise InputError(f"{config_path}: [model] kind: must be 'painn', 'krr' or 'knn', got {kind!r}")
    return kind


def read_kernel_config(path, overrides: dict | None = None) -> KernelRunConfig:
    """A kernel run config; ``overrides`` ``{section: {key: value}}`` (None values ignored) over the file's."""
    raw = _read_table(path)
    where = f"{path}: " if path is not None else ""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise InputError(f"{where}unknown section(s) {unknown}; known: {list(SECTIONS)}")
    sections = {}
    try:
        for name, cls in SECTIONS.items():
            values = dict(raw.get(name) or {})
            values.update({k: v for k, v in (overrides or {}).get(name, {}).items() if v is not None})
            sections[name] = from_mapping(cls, name, values)
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None
    return KernelRunConfig(**sections)


def _monomers(path: str) -> dict[str, float]:
    return read_monomer_references(path) if path else {}


def target_metadata(data: KernelDataConfig) -> dict:
    """What a model's predictions mean and how data is read for it (stored in its file)."""
    return {
        "unit": "eV",
        "quantity": "binding energy" if data.monomers else "total energy",
        "energy_key": data.energy_key,
        "energy_unit": data.energy_unit,
        "delta_low_key": data.delta_low_key,
        "low_method": data.low_method if data.delta_low_key else "",
        "monomers": _monomers(data.monomers),
        "low_monomers": _monomers(data.low_monomers) if data.delta_low_key else {},
        "monomer_file": str(data.monomers),
        "low_monomer_file": str(data.low_monomers),
    }


def fit_kernel_model(ds: Dataset, config: KernelModelConfig, seed: int = 0) -> tuple[KernelModel, dict]:
    """A kernel model fitted on ``ds`` (energies = the target, eV) and the timings (s) of its parts."""
    if config.kind == "knn" and config.k > len(ds):  # neighbours() would quietly use all of them
        raise InputError(f"[model] k = {config.k} neighbours, but only {len(ds)} training structures")
    if not config.elements:
        config = replace(config, elements=tuple(ds.elements))
    t0 = time.perf_counter()
    reps = fchl19(ds.numbers, ds.positions, config.fchl19, config.elements)
    t1 = time.perf_counter()
    if config.kind == "krr":
        arrays = fit_krr(reps, ds.energy, config.sigma, config.regularization)
    else:
        arrays = fit_knn(reps, ds.energy, config, seed)
    t2 = time.perf_counter()
    return KernelModel(config, arrays), {"representation_s": t1 - t0, "fit_s": t2 - t1}


def errors(predicted: np.ndarray, target: np.ndarray, compositions=None) -> dict:
    """MAE, RMSE, max |error| (kcal/mol), Pearson r and per-composition MAE of predictions against targets (eV)."""
    err = (np.asarray(predicted) - np.asarray(target)) * EV_TO_KCAL_PER_MOL
    out = {
        "n": int(len(err)),
        "mae_kcal_mol": float(np.mean(np.abs(err))),
        "rmse_kcal_mol": float(np.sqrt(np.mean(err**2))),
        "max_kcal_mol": float(np.max(np.abs(err))),
        "r": float(np.corrcoef(predicted, target)[0, 1]) if len(err) > 1 else float("nan"),
    }
    if compositions is not None:
        comps = np.asarray(compositions)
        out["per_composition_mae_kcal_mol"] = {c: float(np.mean(np.abs(err[comps == c]))) for c in sorted(set(comps))}
    return out


def train_kernel_from_files(data_paths, config_path=None, out="run", overrides: dict | None = None, progress=True):
    """Read the data, make the targets, split, fit the kernel model, write the run folder; the model."""
    cfg = read_kernel_config(config_path, overrides)
    say = print if progress else (lambda *a, **k: None)
    out = Path(out)
    with lock_run_folder(out, "a kernel model's training"):
        meta = target_metadata(cfg.data)
        t0 = time.perf_counter()
        ds = read_targets(data_paths, cfg.data, meta["monomers"], meta["low_monomers"], low="labels")
        t_read = time.perf_counter() - t0
        s = cfg.split
        split = make_split(
            ds,
            valid_fraction=s.valid_fraction,
            seed=s.seed,
            test_compositions=list(s.test_compositions) or None,
            test_largest=s.test_largest,
            by=s.by,
        )
        split.save(out / "split.json")
        train_idx = split.train
        if cfg.train.n_train:
            if cfg.train.n_train > len(train_idx):
                raise InputError(f"[train] n_train = {cfg.train.n_train}, but the training split has {len(train_idx)}")
            rng = np.random.default_rng(cfg.train.seed)
            train_idx = np.sort(rng.choice(train_idx, cfg.train.n_train, replace=False))
        say(f"{cfg.model.kind}: {len(train_idx)} training structures ({split.rule})")
        model, timings = fit_kernel_model(ds.subset(train_idx), cfg.model, cfg.train.seed)
        model.metadata = {
            "target": meta,
            "training": {"data": [str(p) for p in data_paths], "n_train": len(train_idx), "split": split.rule},
            "timings_s": {"read": t_read, **timings},
        }
        path = save_kernel_model(model, out / MODEL_FILE)
        summary = {"model": model.describe(), "n_train": len(train_idx), "timings_s": dict(model.metadata["timings_s"])}
        for name, idx in (("valid", split.valid), ("test", split.test)):
            if len(idx):
                part = ds.subset(idx)
                t = time.perf_counter()
                pred, _ = model.predict(part.numbers, part.positions)
                summary["timings_s"][f"predict_{name}"] = time.perf_counter() - t
                summary[name] = errors(pred, part.energy, part.compositions)
                say(f"{name}: {summary[name]['n']} structures, MAE {summary[name]['mae_kcal_mol']:.3f} kcal/mol")
        write_json(out / "summary.json", summary)
        say(f"wrote {path} and {out / 'summary.json'}")
    return model


def evaluate_kernel_model(model: KernelModel, data_paths, ignore_cell: bool = False, low: str = "auto") -> dict:
    """Errors (kcal/mol) of a kernel model on data read as it was trained (energy key, monomers, Δ low level:
    the frames' labels, else tblite with ``low="auto"``)."""
    t = model.metadata.get("target", {})
    data = KernelDataConfig(
        energy_key=t.get("energy_key", ""),
        energy_unit=t.get("energy_unit", "eV"),
        delta_low_key=t.get("delta_low_key", ""),
        low_method=t.get("low_method") or "GFN1-xTB",
        ignore_cell=ignore_cell,
        monomers=t.get("monomer_file", ""),
        low_monomers=t.get("low_monomer_file", ""),
    )
    ds = read_targets(data_paths, data, t.get("monomers", {}), t.get("low_monomers", {}), low=low)
    start = time.perf_counter()
    pred, spread = model.predict(ds.numbers, ds.positions)
    report = {"model": model.describe(), "quantity": t.get("quantity", "energy")}
    report.update(errors(pred, ds.energy, ds.compositions))
    report["predict_s"] = time.perf_counter() - start
    if spread is not None:
        report["mean_spread_kcal_mol"] = float(np.mean(spread) * EV_TO_KCAL_PER_MOL)
    return report


def format_kernel_report(report: dict) -> str:
    """The report as lines for the terminal."""
    what = report.get("quantity", "energy")
    lines = [
        report["model"],
        f"{what}: {report['n']} structures, MAE {report['mae_kcal_mol']:.3f} kcal/mol, RMSE "
        f"{report['rmse_kcal_mol']:.3f} kcal/mol, max {report['max_kcal_mol']:.3f} kcal/mol, r {report['r']:.4f}",
    ]
    if "mean_spread_kcal_mol" in report:
        lines.append(f"mean neighbour spread {report['mean_spread_kcal_mol']:.3f} kcal/mol")
    for comp, mae in report.get("per_composition_mae_kcal_mol", {}).items():
        lines.append(f"  {comp}: MAE {mae:.3f} kcal/mol")
    return "\n".join(lines)
