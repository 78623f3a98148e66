"""Active learning by query by committee: train K models, run MD with their mean, label where they disagree, retrain.

One round of :func:`learn`, after round 0 trains a committee on the initial data:

1. MD with the committee mean from each start structure (:func:`painnjax.active.sample.sample_md`: the
   ensemble, temperatures and replicas of the config), a frame every ``every`` steps;
2. the committee's spread on those frames (mean per-atom force spread, eV/Å, or another
   :data:`painnjax.training.committee.CRITERIA`); frames above ``threshold`` are candidates, the
   ``max_add`` with the largest spread are picked;
3. xTB labels for them (:func:`painnjax.active.label.label_file`; failures are kept aside);
4. a new committee trained on all data so far, from scratch or warm-started from the last;
5. a report row: training frames, the new committee's errors on a fixed test set, the spread
   on the sampled frames, frames added, wall time per stage.

Everything lives in ``OUT``: ``round-0`` ... ``round-N`` (each with its committee, pool, picks,
labels and ``round.json``), ``learn.csv`` and ``learn.json`` (the report), and
``learning.png`` (test error and frames added per round). A finished round is never redone:
run again with the same ``OUT`` to continue after an interruption (an interrupted round
starts over, its training resuming from its checkpoints).

Example:
    >>> cfg = LearnConfig(rounds=3, committee=3, starts=["SA2AM2"], temperatures=[300, 500])   # doctest: +SKIP
    >>> report = learn(["initial.extxyz"], "test.extxyz", "al-run", cfg, train_config="small.toml")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.io import read

from md.dynamics.config import ENSEMBLES, MDConfig
from painnjax.active.label import label_file
from painnjax.active.sample import sample_md
from painnjax.config import check, integer, is_int, is_real, positive
from painnjax.data.dataset import read_dataset
from painnjax.errors import InputError
from painnjax.io.files import atomic_write, lock_run_folder, read_json, write_json
from painnjax.io.modelfile import check_same_model, load_model, model_identity
from painnjax.io.plots import pyplot, save_figure
from painnjax.training.committee import (
    CRITERIA,
    CommitteeStats,
    Selection,
    committee_predict,
    committee_report,
    committee_stats,
    read_pool,
    write_selection,
)
from painnjax.training.workflow import train_from_files

ROUND_FILE = "round.json"


@dataclass(frozen=True)
class LearnConfig:
    """Settings of :func:`learn` (times in fs, temperatures in K, spreads in eV/Å).

    Attributes:
        rounds: label-and-retrain rounds after round 0.
        committee: models per committee (K >= 2).
        epochs: training epochs per round (None: the train config's).
        retrain: ``"scratch"`` (new seeded weights each round) or ``"continue"`` (warm start
            from the previous round's members).
        starts: start structures of the MD (files or bundled names).
        temperatures: one MD replica per temperature, per start.
        ensemble, dt, md_steps, every, equilibrate: the sampling MD (``every`` steps between
            frames, ``equilibrate`` steps left out).
        criterion, threshold, max_spread: frames whose committee spread lies between
            ``threshold`` and ``max_spread`` are candidates; above ``max_spread`` a frame is
            taken as unphysical (the MD with a poor committee ran off where no label helps the
            model: a blow-up) and is only counted. The candidates with the largest spread are
            picked.
        max_add: at most this many frames labelled per round.
        method: xTB level of the labels (tblite).
        seed: MD seed of round r is ``seed + r``.

    Frozen and checked when built: a bad value raises :class:`InputError` naming ``[learn]`` and
    the key. ``starts`` and ``temperatures`` are kept as tuples.
    """

    rounds: int = 3
    committee: int = 2
    epochs: int | None = None
    retrain: str = "scratch"
    starts: tuple = ("SA2AM2",)
    temperatures: tuple = (300.0,)
    ensemble: str = "nvt-langevin"
    dt: float = 0.5
    md_steps: int = 2000
    every: int = 20
    equilibrate: int = 0
    criterion: str = "forces"
    threshold: float = 0.05
    max_spread: float = 1.0
    max_add: int = 20
    method: str = "GFN1-xTB"
    seed: int = 0

    def __post_init__(self):
        S = "learn"
        for key in ("starts", "temperatures"):
            value = getattr(self, key)
            value = (value,) if isinstance(value, (str, Path, int, float)) else value
            check(
                isinstance(value, (list, tuple, np.ndarray)) and len(value) > 0,
                S,
                key,
                f"learning needs at least one start structure and one temperature, got {key} = {getattr(self, key)!r}",
            )
            object.__setattr__(self, key, tuple(value))
        check(
            all(is_real(t) and (t > 0 or t == 0 and self.ensemble == "nve") for t in self.temperatures),
            S,
            "temperatures",
            f"must be numbers > 0 (K), got {list(self.temperatures)!r}",
        )
        integer(S, "rounds", self.rounds, 0)
        check(
            is_int(self.committee) and self.committee >= 2,
            S,
            "committee",
            f"a committee needs at least 2 models, got {self.committee!r}",
        )
        if self.epochs is not None:
            integer(S, "epochs", self.epochs, 0)
        check(
            self.retrain in ("scratch", "continue"),
            S,
            "retrain",
            f"must be 'scratch' or 'continue', got {self.retrain!r}",
        )
        check(
            self.ensemble in ENSEMBLES, S, "ensemble", f"must be one of {', '.join(ENSEMBLES)}, got {self.ensemble!r}"
        )
        positive(S, "dt", self.dt, "fs")
        for key, low in (("md_steps", 1), ("every", 1), ("equilibrate", 0), ("max_add", 1)):
            integer(S, key, getattr(self, key), low)
        check(
            self.md_steps % self.every == 0,
            S,
            "md_steps",
            f"must be a multiple of every ({self.every}), got {self.md_steps}",
        )
        check(
            self.equilibrate < self.md_steps,
            S,
            "equilibrate",
            f"must be less than md_steps ({self.md_steps}), got {self.equilibrate}",
        )
        check(
            self.criterion in CRITERIA, S, "criterion", f"must be one of {', '.join(CRITERIA)}, got {self.criterion!r}"
        )
        check(
            is_real(self.threshold) and self.threshold >= 0,
            S,
            "threshold",
            f"must be a number >= 0 (eV/Å), got {self.threshold!r}",
        )
        check(
            is_real(self.max_spread) and self.max_spread > self.threshold,
            S,
            "max_spread",
            f"must exceed threshold ({self.threshold!r}), got {self.max_spread!r}",
        )
        check(
            isinstance(self.method, str) and self.method,
            S,
            "method",
            f"must be an xTB method name, got {self.method!r}",
        )
        check(is_int(self.seed), S, "seed", f"must be an integer, got {self.seed!r}")

    def to_dict(self) -> dict:
        """The settings as JSON values (lists for ``starts`` and ``temperatures``)."""
        d = dataclasses.asdict(self)
        d["starts"] = [str(x) if isinstance(x, Path) else x for x in self.starts]
        d["temperatures"] = list(self.temperatures)
        return d


def _md_config(cfg: LearnConfig, round_: int):
    temps = tuple(float(t) for t in cfg.temperatures)
    return MDConfig(
        ensemble=cfg.ensemble,
        temperature=temps if len(temps) > 1 else temps[0],
        dt=cfg.dt,
        steps=cfg.md_steps,
        replicas=len(temps),
        seed=cfg.seed + round_,
        log_every=cfg.every,
        traj_every=cfg.every,
        checkpoint_every=max(cfg.every, cfg.md_steps // 4 // cfg.every * cfg.every),
    )


def _test_errors(models, test_ds) -> dict:
    r = committee_report(models, test_ds)
    c = r["committee"]
    return {
        "test_energy_mae_kcal_mol": r["energy_mae"],
        "test_forces_mae_kcal_mol_A": r.get("forces_mae"),
        "test_energy_rmse_kcal_mol": r["energy_rmse"],
        "test_forces_rmse_kcal_mol_A": r.get("forces_rmse"),
        "test_mean_force_spread_kcal_mol_A": c["mean_force_spread_kcal_mol_A"],
    }


def _best_models(folder: Path, k: int):
    return [load_model(folder / f"member-{i + 1}" / "best.painn") for i in range(k)]


def learn(
    initial_data, test_data, out, cfg: LearnConfig | None = None, *, train_config=None, progress: bool = True, log=print
) -> list[dict]:
    """Query-by-committee active learning; see the module doc. Returns the report rows (one per round).

    Args:
        initial_data: labelled files (energies and forces) to start from.
        test_data: a labelled file (or files) never trained on: the errors per round.
        out: the run folder (continued when it holds a run of this loop).
        cfg: :class:`LearnConfig`. train_config: the training config file (model size,
            epochs, learning rate, data section), as ``painnjax train --config`` takes it.

    ``out`` is locked for the call: a second process learning into it at the same time is
    refused. Each round records its committee's identity; a round continued with another
    committee than the one the last round finished with is refused.
    """
    cfg = cfg or LearnConfig()
    say = log or (lambda *a, **k: None)
    out = Path(out)
    with lock_run_folder(out, "an active-learning run"):  # sampling and training lock their subfolders
        return _learn(initial_data, test_data, out, cfg, train_config, progress, say)


def _learn(initial_data, test_data, out: Path, cfg: LearnConfig, train_config, progress: bool, say) -> list[dict]:
    """:func:`learn` once its folder is locked: the rounds, each done once (a finished one is read back)."""
    out.mkdir(parents=True, exist_ok=True)
    settings = _run_settings(out, cfg, initial_data, test_data, train_config)
    # read_dataset and check_same_model called here, not in a helper: their warnings' stacklevel is set for this depth.
    test_ds = read_dataset(_as_list(test_data))
    data_files = [Path(p) for p in _as_list(initial_data)]
    rows: list[dict] = []
    models = None
    for r in range(cfg.rounds + 1):
        folder = out / f"round-{r}"
        done = folder / ROUND_FILE
        if done.exists():
            row = _read_round(done)
            rows.append(row)
            data_files = [Path(p) for p in row["data_files_after"]]
            models = None
            continue
        folder.mkdir(parents=True, exist_ok=True)
        row = {"round": r}
        t0 = time.perf_counter()
        if r > 0:
            prev = out / f"round-{r - 1}" / "committee"
            if models is None:  # the committee the last round finished with, not another
                models = _best_models(prev, cfg.committee)
                check_same_model(
                    rows[-1].get("committee_model_id"),
                    f"{prev} (round {r - 1})",
                    model_identity(models),
                    f"{prev} now",
                    prev.parent / ROUND_FILE,
                )
            sampled, added_file = _sample_and_label(models, folder, r, cfg, t0, progress, say)
            row.update(sampled)
            if added_file is not None:
                data_files = data_files + [added_file]
        models, trained = _train_round(data_files, train_config, out, r, cfg, models, progress)
        row.update(trained)
        _finish_round(row, done, data_files, models, test_ds, t0)
        rows.append(row)
        say(
            f"round {r}: {row['train_frames']} training frames; test ΔE MAE {row['test_energy_mae_kcal_mol']:.3f} "
            f"kcal/mol, F MAE {row['test_forces_mae_kcal_mol_A']:.3f} kcal/mol/Å ({row['seconds']:.0f} s)"
        )
    _write_report(out, settings, rows)
    return rows


def _read_round(path: Path) -> dict:
    """The record ``round.json`` at ``path`` of a finished round; InputError when damaged."""
    row = read_json(path, "round record")
    files = row.get("data_files_after")
    if not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
        shown = "nothing" if files is None else repr(files)[:80]
        raise InputError(f"{path}: data_files_after must be a list of file names, got {shown}: a damaged round record")
    return row


def _run_settings(out: Path, cfg: LearnConfig, initial_data, test_data, train_config) -> dict:
    """The run's settings, as ``learn.json`` records them; refused if ``out`` holds a run with others."""
    settings = {
        "config": cfg.to_dict(),
        "initial_data": [str(p) for p in _as_list(initial_data)],
        "test_data": [str(p) for p in _as_list(test_data)],
        "train_config": str(train_config),
    }
    record_path = out / "learn.json"
    if record_path.exists():
        old = read_json(record_path, "active-learning record", fix="choose another folder").get("settings", {})
        if not (isinstance(old, dict) and isinstance(old.get("config", {}), dict)):
            raise InputError(
                f"{record_path}: settings must be an object with a config object, got {str(old)[:80]}: "
                "a damaged active-learning record"
            )
        keep_rounds = {**old.get("config", {}), "rounds": cfg.rounds}
        if {**old, "config": keep_rounds} != settings:
            raise InputError(
                f"{out} holds an active-learning run with other settings; choose another folder "
                "(only `rounds` may change between calls)"
            )
    return settings


@dataclass(frozen=True)
class _Picks:
    """The committee's spread on the sampled frames and the frames picked for labelling.

    ``spread`` per frame (eV/Å, ``cfg.criterion``); ``above``: the frames between ``threshold`` and
    ``max_spread``; ``picked``: the ``max_add`` of them with the largest spread, largest first.
    """

    stats: CommitteeStats
    spread: np.ndarray
    above: np.ndarray
    picked: np.ndarray


def _pick(models, pool_ds, cfg: LearnConfig) -> _Picks:
    """Step 2: the committee's spread on the pool and the frames where it disagrees most."""
    E, F = committee_predict(models, pool_ds)
    stats = committee_stats(E, F)
    spread = stats.spread(cfg.criterion)
    above = np.flatnonzero((spread > cfg.threshold) & (spread <= cfg.max_spread))
    picked = above[np.argsort(-spread[above], kind="stable")][: cfg.max_add]
    return _Picks(stats, spread, above, picked)


def _sample_pools(models, folder: Path, r: int, cfg: LearnConfig, progress: bool) -> list[Path]:
    """Step 1: MD with the committee mean from each start structure, frames into ``pool-<i>.extxyz``."""
    pool_files = []
    for i, start in enumerate(cfg.starts):
        pool = folder / f"pool-{i}.extxyz"
        sample_md(
            models,
            start,
            pool,
            _md_config(cfg, r),
            every=cfg.every,
            equilibrate=cfg.equilibrate,
            workdir=folder / f"md-{i}",
            restart=(folder / f"md-{i}" / "checkpoint.msgpack").exists(),
            progress=progress,
        )
        pool_files.append(pool)
    return pool_files


def _sample_and_label(models, folder: Path, r: int, cfg: LearnConfig, t0: float, progress: bool, say):
    """Steps 1-3 of round ``r``: sample, pick, label. Returns the report entries and the labelled file (or None)."""
    pool_files = _sample_pools(models, folder, r, cfg, progress)
    row = {"md_seconds": time.perf_counter() - t0}
    pool_ds = read_pool(pool_files)
    picks = _pick(models, pool_ds, cfg)
    spread = picks.spread
    row.update(
        pool_frames=len(pool_ds),
        pool_mean_spread_eV_A=float(spread.mean()),
        pool_max_spread_eV_A=float(spread.max()),
        above_threshold=int(len(picks.above)),
        above_max_spread=int((spread > cfg.max_spread).sum()),
    )
    added_file, n_added = None, 0
    if len(picks.picked):
        sel_file = folder / "selected.extxyz"
        write_selection(sel_file, pool_ds, Selection(picks.picked, spread[picks.picked], cfg.criterion, picks.stats))
        t1 = time.perf_counter()
        added_file = folder / "labelled.extxyz"
        rep = label_file(sel_file, added_file, method=cfg.method, progress=progress)
        row.update(label_seconds=time.perf_counter() - t1, label_failed=int(rep.failed))
        n_added = _count_frames(added_file)
    row["added"] = int(n_added)
    say(
        f"round {r}: {len(pool_ds)} frames sampled, "
        f"spread mean {spread.mean():.3f} max {spread.max():.3f} eV/Å, "
        f"{len(picks.above)} between {cfg.threshold} and {cfg.max_spread} eV/Å, {n_added} labelled and added"
    )
    return row, added_file if n_added else None


def _train_round(data_files, train_config, out: Path, r: int, cfg: LearnConfig, models, progress: bool):
    """Step 4: round ``r``'s committee trained on everything so far, warm-started from ``models`` if
    ``retrain = "continue"``. Returns its members (best models) and the round's report entries."""
    t2 = time.perf_counter()
    warm = None
    if r > 0 and cfg.retrain == "continue":
        warm = models or _best_models(out / f"round-{r - 1}" / "committee", cfg.committee)
    folder = out / f"round-{r}" / "committee"
    overrides = {"split": {"test_largest": 0, "test_compositions": []}}
    if cfg.epochs is not None:
        overrides["train"] = {"epochs": int(cfg.epochs)}
    resume = (folder / "member-1" / "checkpoints" / "latest.ckpt").exists()
    train_from_files(
        [str(f) for f in data_files],
        train_config,
        folder,
        resume=resume,
        overrides=overrides,
        progress=progress,
        committee=cfg.committee,
        warm_start=warm,
    )
    models = _best_models(folder, cfg.committee)
    return models, {"committee_model_id": model_identity(models), "train_seconds": time.perf_counter() - t2}


def _finish_round(row: dict, done: Path, data_files, models, test_ds, t0: float) -> None:
    """Step 5: the round's report row, completed and written to ``done`` (the round is then never redone)."""
    row["train_frames"] = int(sum(_count_frames(f) for f in data_files))
    row.update(_test_errors(models, test_ds))
    row["seconds"] = time.perf_counter() - t0
    row["data_files_after"] = [str(f) for f in data_files]
    write_json(done, row)


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _count_frames(path) -> int:
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return 0
    return len(read(p, index=":"))


COLUMNS = (
    "round",
    "train_frames",
    "added",
    "pool_frames",
    "above_threshold",
    "above_max_spread",
    "pool_mean_spread_eV_A",
    "pool_max_spread_eV_A",
    "test_energy_mae_kcal_mol",
    "test_forces_mae_kcal_mol_A",
    "test_mean_force_spread_kcal_mol_A",
    "md_seconds",
    "label_seconds",
    "train_seconds",
    "seconds",
)


def _write_report(out: Path, settings: dict, rows: list[dict]) -> None:
    write_json(out / "learn.json", {"settings": settings, "rounds": rows})
    lines = [",".join(COLUMNS)]
    for row in rows:
        lines.append(
            ",".join(
                "" if row.get(c) is None else (f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c]))
                for c in COLUMNS
            )
        )
    atomic_write(out / "learn.csv", "\n".join(lines) + "\n")
    try:
        plot_learning(rows, out / "learning.png")
    except Exception as exc:  # noqa: BLE001 - a plot must not lose the report
        print(f"learn: the plot failed ({exc}); the report is in {out / 'learn.csv'}")


def format_rounds(rows: list[dict]) -> str:
    """The rounds :func:`learn` returns as a table: training frames, frames added, test errors."""
    lines = [
        f"{'round':>5s} {'frames':>7s} {'added':>6s} {'E MAE':>8s} {'F MAE':>8s}   (test set; kcal/mol, kcal/mol/Å)"
    ]
    for r in rows:
        lines.append(
            f"{r['round']:5d} {r['train_frames']:7d} {r.get('added', 0):6d} "
            f"{r['test_energy_mae_kcal_mol']:8.3f} {r['test_forces_mae_kcal_mol_A']:8.3f}"
        )
    return "\n".join(lines)


def plot_learning(rows: list[dict], path) -> Path:
    """Test errors (energy and forces) and training frames per round."""
    plt = pyplot()
    r = [row["round"] for row in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.4))
    ax1.plot(r, [row["test_energy_mae_kcal_mol"] for row in rows], "o-", label="ΔE MAE (kcal/mol)")
    ax1.plot(r, [row["test_forces_mae_kcal_mol_A"] for row in rows], "s-", label="F MAE (kcal/mol/Å)")
    ax1.set_xlabel("round")
    ax1.set_xticks(r)
    ax2.set_xticks(r)
    ax1.set_ylabel("test error")
    ax1.legend(frameon=False)
    ax2.bar(r, [row["train_frames"] for row in rows], color="C2")
    ax2.set_xlabel("round")
    ax2.set_ylabel("training frames")
    return save_figure(fig, path, title="Active learning (query by committee)")
