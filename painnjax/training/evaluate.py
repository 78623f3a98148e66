"""Errors of a model on a dataset, as the field reports them, with a parity plot.

Models predict total energies (see ``Trainer.model``), so energies are compared as totals,
which gives the same errors as binding energies. Pearson r is taken on the energies the model
was trained on (binding energies for a binding-trained model), where it means something.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from painnjax.compiler import jit
from painnjax.data.batching import iterate_batches, make_buckets
from painnjax.data.dataset import reference_atomref
from painnjax.data.domain import warn_outside
from painnjax.io.files import write_json
from painnjax.io.plots import pyplot, save_figure
from painnjax.potential import cast_variables
from painnjax.training.loss import predict_batch
from painnjax.units import EV_TO_KCAL_PER_MOL
from painnjax.validate import check_species

# One compile per (config, bucket shape, pair capacity, dtype), shared by every model of the
# same config: the members of a committee, or repeated evaluations, compile once.
_predict_batch_jit = jit(predict_batch, static_argnums=(0, 3, 4, 5))


def predict(model, ds, batch_size: int = 8, dtype: str = "float32", check_domain: bool = True):
    """Energies (S,) eV and forces (list of (n_i, 3) eV/Å) of every structure in ``ds``;
    ``check_domain``: warn once about structures outside the model's training domain
    (:func:`painnjax.data.domain.warn_outside`)."""
    if check_domain:
        warn_outside(model, ds.numbers, stacklevel=3)

    for k, Z in enumerate(ds.numbers):  # the batched path has no per-call checks of its own
        check_species(
            Z, model.elements, model.config.max_z, source=f"{ds.info[k].get('source')}, frame {ds.info[k].get('frame')}"
        )
    buckets = make_buckets(ds, model.config.cutoff)
    variables = cast_variables(model.variables, dtype)
    energies = np.zeros(len(ds))
    forces = [None] * len(ds)
    from tqdm.auto import tqdm  # a bar over the structures on a terminal (disable=None), none for one

    one = len(ds) < 2
    with tqdm(total=len(ds), unit="structure", desc="predict", disable=True if one else None, leave=False) as bar:
        for b, members, batch in iterate_batches(ds, np.arange(len(ds)), batch_size, buckets, rng=None):
            batch = batch._replace(R=batch.R.astype(dtype))
            E, F = jax.device_get(
                _predict_batch_jit(model.module, variables, batch, model.config.cutoff, buckets[b].pair_capacity, True)
            )
            for row, k in enumerate(members):
                energies[k] = E[row]
                forces[k] = np.asarray(F[row, : ds.n_atoms[k]], np.float64)
            bar.update(len(members))
    return energies, forces


def training_reference(model, ds) -> np.ndarray:
    """Per-structure reference energies (eV) of what the model was trained on (zeros: totals).

    A model trained on binding or element-offset energies carries that reference in its
    metadata (``energy_reference["trained_on"]``); Pearson r is taken on energies less this."""

    trained_on = model.metadata.get("energy_reference", {}).get("trained_on")
    if not trained_on:
        return np.zeros(len(ds))
    atomref = reference_atomref(trained_on, model.config.max_z)
    return np.array([atomref[z].sum() for z in ds.numbers])


def error_report(model, ds, batch_size: int = 8, predictions=None) -> dict:
    """MAE/RMSE of energies (kcal/mol) and force components (kcal/mol/Å), Pearson r, mean
    force-direction error (degrees), maximum errors, and a per-composition table.

    ``predictions``: ``(energies, forces)`` of ``model`` on ``ds`` as :func:`predict` gives
    them, when already at hand (e.g. from a committee); None predicts here."""
    if ds.reference.get("kind") != "total":
        raise ValueError("evaluate expects total energies (read the data without a reference)")
    E, F = predict(model, ds, batch_size) if predictions is None else predictions
    return prediction_errors(E, F, ds, training_reference(model, ds))


def prediction_errors(E, F, ds, ref=None) -> dict:
    """The metrics of :func:`error_report` for given predictions: energies (S,) eV and forces
    (list of (n_i, 3) eV/Å) against the total energies and forces of ``ds``. ``ref`` (S,) eV
    is subtracted from both sides for Pearson r (the energies a model was trained on)."""
    E = np.asarray(E, np.float64)
    ref = np.zeros(len(ds)) if ref is None else np.asarray(ref, np.float64)
    de = (E - ds.energy) * EV_TO_KCAL_PER_MOL
    out = {"n_structures": len(ds), **energy_stats(de)}
    out["energy_pearson_r"] = float(np.corrcoef(E - ref, ds.energy - ref)[0, 1]) if len(ds) > 1 else float("nan")
    if ds.forces is not None:
        out.update(force_stats(F, ds.forces))
    comps = ds.compositions
    table = {}
    for c in sorted(set(comps), key=lambda s: (len(s), s)):
        idx = [k for k, ck in enumerate(comps) if ck == c]
        row = {"n_structures": len(idx), "n_atoms": int(ds.n_atoms[idx[0]]), **energy_stats(de[idx])}
        if ds.forces is not None:
            row.update(force_stats([F[k] for k in idx], [ds.forces[k] for k in idx]))
        table[c] = row
    out["per_composition"] = table
    out["_predictions"] = (E - ref, ds.energy - ref, F, ds.forces)
    return out


def energy_stats(de) -> dict:
    """MAE, RMSE and largest absolute value of energy errors ``de`` (S,), in their unit (kcal/mol here)."""
    return {
        "energy_mae": float(np.mean(np.abs(de))),
        "energy_rmse": float(np.sqrt(np.mean(de**2))),
        "energy_max_error": float(np.max(np.abs(de))),
    }


def force_stats(F_pred, F_ref) -> dict:
    """MAE, RMSE and largest error of the force components (kcal/mol/Å), and the mean angle
    (degrees) between predicted and reference force vectors; ``F_pred`` and ``F_ref`` are
    lists of (n_i, 3) eV/Å, one per structure."""
    p = np.concatenate([np.asarray(f).reshape(-1, 3) for f in F_pred])
    r = np.concatenate([np.asarray(f).reshape(-1, 3) for f in F_ref])
    d = (p - r) * EV_TO_KCAL_PER_MOL
    cos = np.sum(p * r, axis=1) / np.maximum(np.linalg.norm(p, axis=1) * np.linalg.norm(r, axis=1), 1e-12)
    return {
        "forces_mae": float(np.mean(np.abs(d))),
        "forces_rmse": float(np.sqrt(np.mean(d**2))),
        "forces_max_error": float(np.max(np.abs(d))),
        "forces_angle_deg": float(np.degrees(np.mean(np.arccos(np.clip(cos, -1.0, 1.0))))),
    }


def parity_plot(report: dict, path: Path, title: str = "") -> Path:
    """Predicted vs reference energies (kcal/mol) and force components (kcal/mol/Å), PNG."""

    plt = pyplot()

    e_pred, e_ref, F_pred, F_ref = report["_predictions"]
    k = EV_TO_KCAL_PER_MOL
    panels = 2 if "forces_mae" in report else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.6), squeeze=False)
    ax = axes[0, 0]
    ax.scatter(e_ref * k, e_pred * k, s=6, alpha=0.6)
    lim = [min(e_ref.min(), e_pred.min()) * k, max(e_ref.max(), e_pred.max()) * k]
    ax.plot(lim, lim, "k--", lw=0.8)
    ax.set_xlabel("reference energy (kcal/mol)")
    ax.set_ylabel("predicted energy (kcal/mol)")
    ax.set_title(f"MAE {report['energy_mae']:.3f} kcal/mol, r = {report['energy_pearson_r']:.4f}")
    if panels == 2:
        ax = axes[0, 1]
        p = np.concatenate([np.ravel(f) for f in F_pred]) * k
        r = np.concatenate([np.ravel(f) for f in F_ref]) * k
        ax.scatter(r, p, s=2, alpha=0.3)
        lim = [min(r.min(), p.min()), max(r.max(), p.max())]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xlabel("reference force component (kcal/mol/Å)")
        ax.set_ylabel("predicted force component (kcal/mol/Å)")
        ax.set_title(f"MAE {report['forces_mae']:.3f} kcal/mol/Å, angle {report['forces_angle_deg']:.1f}°")
    return save_figure(fig, path, dpi=120, title=title)


def size_plot(reports: dict, path: Path, title: str = "") -> Path:
    """Energy and force MAE of each composition against its atom count, one series per report
    (``{label: report}``, e.g. two models on the same frames), PNG: does the error grow with size?"""

    plt = pyplot()
    with_forces = any("forces_mae" in r for r in reports.values())
    panels = [("energy_mae", "energy MAE (kcal/mol)")]
    if with_forces:
        panels.append(("forces_mae", "force MAE (kcal/mol/Å)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        for (name, report), marker in zip(reports.items(), "osD^v<>"):
            rows = [(r["n_atoms"], r.get(key, np.nan), c) for c, r in report["per_composition"].items()]
            rows.sort()
            ax.plot([r[0] for r in rows], [r[1] for r in rows], marker=marker, ls="none", label=name)
            if len(reports) == 1:
                for n, v, c in rows:
                    ax.annotate(c, (n, v), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.set_xlabel("atoms")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        if len(reports) > 1:
            ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120, title=title)


def format_report(report: dict) -> str:
    """The report as text: the overall energy (and force) errors and a per-composition table."""
    lines = [
        f"{report['n_structures']} structures: energy MAE {report['energy_mae']:.3f} kcal/mol "
        f"(RMSE {report['energy_rmse']:.3f}, max {report['energy_max_error']:.3f}, "
        f"r = {report['energy_pearson_r']:.4f})"
    ]
    if "forces_mae" in report:
        lines.append(
            f"forces MAE {report['forces_mae']:.3f} kcal/mol/Å (RMSE {report['forces_rmse']:.3f}, "
            f"max {report['forces_max_error']:.3f}, mean angle {report['forces_angle_deg']:.2f}°)"
        )
    lines.append(f"{'composition':>12s} {'atoms':>6s} {'n':>6s} {'E MAE':>9s} {'F MAE':>9s}")
    for comp, row in report["per_composition"].items():
        lines.append(
            f"{comp:>12s} {row['n_atoms']:6d} {row['n_structures']:6d} {row['energy_mae']:9.3f} "
            f"{row.get('forces_mae', float('nan')):9.3f}"
        )
    return "\n".join(lines)


def write_report(report: dict, path: Path) -> Path:
    """The report as JSON (written atomically), without its private ``_`` entries (arrays)."""
    return write_json(path, {k: v for k, v in report.items() if not k.startswith("_")})
