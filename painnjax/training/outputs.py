"""What a training run writes besides its checkpoint: ``config.json`` and ``split.json``,
``metrics.csv`` and its learning curve, the progress bar, and the best model's reports.

``metrics.csv`` has one row per epoch (errors in kcal/mol and kcal/mol/Å), every line ending
in ``\\n`` before and after a resume; a resume trims the rows of epochs that have no checkpoint.
At the end of a call the best model is evaluated on the validation and test sets
(``parity_valid.png``, ``parity_test.png``, ``by_size.png``, and its errors in ``summary.json``),
and how it was trained is written into its file's metadata (:func:`training_record`); what
the training frames covered, its domain (:func:`training_domain`), is in every model it saves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from pathlib import Path

import numpy as np

from painnjax.data.dataset import reference_atomref
from painnjax.data.domain import domain_of_dataset, model_domain
from painnjax.io.files import atomic_write, write_json
from painnjax.io.modelfile import load_model, save_model
from painnjax.io.plots import learning_curve
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig
from painnjax.training.config import TrainConfig
from painnjax.training.evaluate import parity_plot, predict, prediction_errors, size_plot
from painnjax.training.trainer import Trainer

PLOT_EVERY_SECONDS = 30.0  # the learning curve is redrawn at most this often (and at the end)
CSV_LINE_END = "\n"  # every row of metrics.csv, before and after a resume (csv's default is \r\n)
METRICS_COLUMNS = [
    "epoch",
    "seconds",
    "train_loss",
    "train_energy_mae",
    "train_forces_mae",
    "valid_loss",
    "valid_energy_mae",
    "valid_energy_rmse",
    "valid_forces_mae",
    "valid_forces_rmse",
    "lr",
]


def write_run_config(
    run_dir: Path, model_config: PaiNNConfig, cfg: TrainConfig, trainer: Trainer, budgets, ds, split
) -> None:
    """``config.json`` (the model and training configs, size buckets, packing budgets, devices,
    energy reference) and ``split.json`` of a new run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "model": model_config.to_dict(),
        "train": dataclasses.asdict(cfg),
        "buckets": [dataclasses.asdict(b) for b in trainer.buckets],
        "batch_layout": cfg.resolved_layout,
        "budgets": None if budgets is None else [dataclasses.asdict(b) for b in budgets],
        "n_structures": len(ds.energy),
        "devices": [str(d) for d in trainer.devices],
        "energy_reference": ds.reference,
    }
    write_json(run_dir / "config.json", config)
    split.save(run_dir / "split.json")


def metrics_row(epoch: int, seconds: float, train_m: dict, valid_m: dict, lr: float) -> dict:
    """One row of ``metrics.csv`` (:data:`METRICS_COLUMNS`); force columns empty without forces."""
    return {
        "epoch": epoch,
        "seconds": seconds,
        "train_loss": train_m["loss"],
        "train_energy_mae": train_m["energy_mae"],
        "train_forces_mae": train_m.get("forces_mae", ""),
        "valid_loss": valid_m["loss"],
        "valid_energy_mae": valid_m["energy_mae"],
        "valid_energy_rmse": valid_m["energy_rmse"],
        "valid_forces_mae": valid_m.get("forces_mae", ""),
        "valid_forces_rmse": valid_m.get("forces_rmse", ""),
        "lr": lr,
    }


def append_csv(path: Path, columns, row) -> None:
    """Append ``row`` to the CSV file ``path``, with a header first when the file is new."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator=CSV_LINE_END)
        if new:
            w.writeheader()
        w.writerow(row)


def trim_csv(path: Path, last_epoch: int) -> None:
    """Keep the rows of the epochs up to ``last_epoch`` (those with a checkpoint), one line ending throughout."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames
    if not columns:
        return

    def kept(r) -> bool:
        complete = None not in r and all(r.get(c) is not None for c in columns)  # not cut short by a kill
        return complete and r["epoch"].isdigit() and int(r["epoch"]) <= last_epoch

    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=columns, lineterminator=CSV_LINE_END)
    w.writeheader()
    w.writerows(r for r in rows if kept(r))
    atomic_write(path, text.getvalue().encode())


def epochs_in_csv(path: Path) -> int:
    """The number of epoch rows in ``path`` (0 when there is no file)."""
    if not path.exists():
        return 0
    with open(path, newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


class LearningCurve:
    """``learning_curve.png`` of a run folder, redrawn from its ``metrics.csv`` at most every
    :data:`PLOT_EVERY_SECONDS` (drawing takes longer than a small model's epoch)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.last_plot = 0.0

    def update(self, force: bool = False) -> None:
        """Redraw when the last drawing is old enough, or when ``force`` (the last epoch of a call)."""
        if time.perf_counter() - self.last_plot > PLOT_EVERY_SECONDS or force:
            run_dir = self.run_dir
            learning_curve(run_dir / "metrics.csv", run_dir / "learning_curve.png", title=str(run_dir.name))
            self.last_plot = time.perf_counter()


def report_best_model(run_dir: Path, ds, split, cfg: TrainConfig, summary: dict) -> dict:
    """The best model's errors and parity plots on the validation and test sets, their
    ``by_size.png``, and its training record written into ``best.painn``; returns ``summary``
    with the errors added (``best_model_valid``, ``best_model_test``)."""
    best_model = load_model(run_dir / "best.painn")
    summary = dict(summary)
    by_size = {}
    for part, name in (("valid", "validation"), ("test", "test")):
        idx = getattr(split, part)
        if len(idx):
            report = subset_report(best_model, ds.subset(idx), run_dir / f"parity_{part}.png", cfg.batch_size)
            summary[f"best_model_{part}"] = {k: v for k, v in report.items() if not k.startswith("_")}
            by_size[name] = report
    if by_size:
        size_plot(by_size, run_dir / "by_size.png", title=f"{run_dir.name}: best model, error per composition")
    best_model.metadata["training"] = training_record(cfg, ds, split, summary)
    save_model(best_model, run_dir / "best.painn")
    return summary


def subset_report(model: Model, part, png: Path, batch_size: int) -> dict:
    """Errors (as ``painnjax evaluate``) and a parity plot of ``model`` on the structures
    ``part`` of the training data, in the energies trained on (binding or element-offset
    energies: the reference folded into the model is taken off again)."""
    E, F = predict(model, part, batch_size=max(batch_size, 8), check_domain=False)  # a test set may lie outside
    folded = model.metadata.get("energy_reference", {}).get("trained_on")
    if folded:
        atomref = reference_atomref(folded, model.config.max_z)
        E = E - np.array([atomref[z].sum() for z in part.numbers])
    report = prediction_errors(E, F, part)
    name = {"parity_valid.png": "validation", "parity_test.png": "test"}.get(png.name, png.stem)
    parity_plot(report, png, title=f"{png.parent.name}: best model on the {name} set ({len(part)} structures)")
    return report


def training_domain(ds, split, start=None) -> dict:
    """The model's domain as its ``metadata["domain"]`` (:class:`painnjax.data.domain.Domain`):
    that of the training and validation frames (the test set is kept out), merged, for a model
    fine-tuned from ``start`` (a model, file or bundled name), with the start model's domain
    (recorded, or derived from its training record)."""
    domain = domain_of_dataset(ds, np.concatenate([np.asarray(split.train), np.asarray(split.valid)]))
    if start is not None:
        start_model = load_model(start)
        before = model_domain(start_model)
        if before is None:
            note = "fine-tuned from a model whose domain is unknown: only the new frames' domain is recorded"
            domain = dataclasses.replace(domain, derived=note)
        else:
            domain = domain.merge(before, includes_start=_holds_start_data(ds, start_model))
    return domain.to_json()


def _holds_start_data(ds, start: Model) -> bool:
    """Whether the frames ``ds`` include every data file the ``start`` model was trained on (by file
    name: a shipped model records its files relative to the repository): fine-tuning on old and new data."""
    training = (start.metadata or {}).get("training") or {}
    old = {Path(str(s)).name for s in training.get("data_sources") or ()}
    return bool(old) and old <= {Path(str(i.get("source"))).name for i in ds.info}


def training_record(cfg: TrainConfig, ds, split, summary: dict) -> dict:
    """How a model was trained and how well it did: kept in its file's metadata."""
    keys = ("n_structures", "energy_mae", "energy_rmse", "forces_mae", "forces_rmse")
    record = {
        "train_config": dataclasses.asdict(cfg),
        "data_sources": sorted({str(i.get("source")) for i in ds.info}),
        "levels": sorted({str(i["level"]) for i in ds.info if i.get("level")}),  # the frames' levels of theory
        "n_structures": {part: int(len(getattr(split, part))) for part in ("train", "valid", "test")},
        "test_compositions": sorted({ds.compositions[k] for k in split.test}),
        "split_rule": getattr(split, "rule", ""),
        **{k: summary[k] for k in ("epochs_done", "stop_reason", "best_epoch", "devices")},
        "units": "kcal/mol and kcal/mol/Å",
    }
    for part in ("valid", "test"):
        if f"best_model_{part}" in summary:
            record[part] = {k: summary[f"best_model_{part}"][k] for k in keys if k in summary[f"best_model_{part}"]}
    return record
