"""Commands that train models and measure them: ``train``, ``evaluate`` and ``select``."""

from __future__ import annotations

from pathlib import Path

from painnjax.cli.common import add_distributed, add_ignore_cell, add_model, add_quiet, start_distributed
from painnjax.data.dataset import read_dataset
from painnjax.errors import InputError
from painnjax.io.files import check_writable
from painnjax.io.modelfile import SUFFIX, bundled_models, load_model
from painnjax.training.committee import (
    committee_report,
    format_committee,
    format_selection,
    load_committee,
    read_pool,
    select_by_spread,
    write_selection,
)
from painnjax.training.config import TrainConfig
from painnjax.training.evaluate import error_report, format_report, parity_plot, size_plot, write_report
from painnjax.training.workflow import train_from_files


def cmd_train(args) -> int:
    from painnjax.kernels.commands import kernel_train  # [model] kind = "krr" | "knn"

    check_writable(args.out, "--out folder", folder=True)
    if (code := kernel_train(args)) is not None:
        return code
    start_distributed(args)
    overrides = {
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "init_from": args.init_from,
            "freeze_embedding": args.freeze_embedding or None,  # None: the config's
            "freeze_interactions": args.freeze_interactions,
            "log": args.log,
        },
        "data": {"monomers": args.monomers, "ignore_cell": args.ignore_cell or None},  # None: the config's
    }
    train_from_files(
        args.data,
        args.config,
        args.out,
        resume=args.resume,
        overrides=overrides,
        progress=not args.quiet,
        committee=args.committee,
        stop_after=args.stop_after,
    )
    if args.committee > 1:
        print(
            f"committee of {args.committee} in {args.out}/member-1 ... member-{args.committee}: "
            f"use `painnjax evaluate` / `painnjax select` with their best.painn files"
        )
    else:
        print(
            f"run folder {args.out}: best.painn (lowest validation loss), metrics.csv, learning_curve.png, "
            f"parity plots, summary.json (validation and test errors), checkpoints/"
        )
    return 0


def _models_and_data(first: str, rest: list[str]) -> tuple[list[str], list[str]]:
    """The first argument and every later one ending in .painn (or naming a bundled model that
    is not a file here) are models; the others are data files."""
    bundled = set(bundled_models())
    models, data = [first], []
    for arg in rest:
        p = Path(arg)
        is_model = p.suffix.lower() == SUFFIX or (arg in bundled and not p.exists())
        (models if is_model else data).append(arg)
    if not data:
        raise InputError(
            f"no data files given (models: {', '.join(models)}); "
            f"usage: painnjax evaluate MODEL [MODEL{SUFFIX} ...] DATA [DATA ...]"
        )
    return models, data


def _check_outputs(*outputs) -> None:
    """Refuse output files (path, what) that cannot be written before any work; None: not asked for."""
    for path, what in outputs:
        if path is not None:
            check_writable(path, what)


def cmd_evaluate(args) -> int:
    from painnjax.kernels.commands import kernel_evaluate  # a kernel model file

    if (code := kernel_evaluate(args)) is not None:
        return code
    plot = Path(args.plot) if args.plot else Path(args.json).with_suffix(".png") if args.json else None
    _check_outputs((args.json, "--json file"), (plot, "--plot file"))
    models, data = _models_and_data(args.model, args.data)
    if len(models) > 1:
        committee, names = load_committee(models)
        ds = read_dataset(data, require_forces=False, ignore_cell=args.ignore_cell)
        report = committee_report(committee, ds, batch_size=args.batch_size, names=names)
        print(format_committee(report))
        title = f"committee of {report['committee']['n_models']} models"
    else:
        model = load_model(args.model)
        ds = read_dataset(data, require_forces=False, ignore_cell=args.ignore_cell)
        report = error_report(model, ds, batch_size=args.batch_size)
        title = str(args.model)
    print(format_report(report))
    if args.json:
        write_report(report, args.json)
        print(f"wrote {args.json}")
    if plot is not None:
        parity_plot(report, plot, title=title)
        print(f"wrote {plot}")
        if len(report["per_composition"]) > 1:
            by_size = plot.with_name(f"{plot.stem}_by_size{plot.suffix}")
            size_plot({title: report}, by_size, title=title)
            print(f"wrote {by_size} (error per composition against atom count)")
    return 0


def cmd_select(args) -> int:
    _check_outputs((args.out, "--out file"))
    models, names = load_committee(args.models)  # before reading the pool: fail fast
    pool = read_pool(args.pool, ignore_cell=args.ignore_cell)
    sel = select_by_spread(
        models,
        pool,
        args.n,
        criterion=args.criterion,
        batch_size=args.batch_size,
        names=names,
        random_share=args.random_share,
        seed=args.seed,
    )
    path = write_selection(args.out, pool, sel)
    print(format_selection(pool, sel, len(models)))
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    t = sub.add_parser("train", help="train a PaiNN on energies and forces (the paper's protocol by default)")
    t.add_argument("--data", nargs="+", required=True, help="ASE-readable files with energies (and forces)")
    t.add_argument(
        "--config",
        help="TOML or YAML run config ([model], [train], [data], [split]; see docs/configs.md) "
        "(default: none, the reference study's protocol)",
    )
    t.add_argument("--out", default="run", help="run folder (default: run)")
    t.add_argument(
        "--monomers",
        help="monomer reference file (or bundled set): train on binding energies; overrides [data] monomers "
        "(default: the config's, else none: energies less fitted per-element offsets)",
    )
    t.add_argument(
        "--epochs", type=int, help=f"override [train] epochs (default: the config's, else {TrainConfig.epochs})"
    )
    t.add_argument(
        "--batch-size",
        type=int,
        help=f"override [train] batch_size (default: the config's, else {TrainConfig.batch_size})",
    )
    t.add_argument("--seed", type=int, help=f"override [train] seed (default: the config's, else {TrainConfig.seed})")
    t.add_argument(
        "--committee",
        type=int,
        default=1,
        metavar="K",
        help="train K models (seeds seed .. seed+K-1) on the same split into --out/member-k",
    )
    t.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune: start from this model file or bundled model (saam-gfn1): its weights, energy "
        "references and architecture; overrides [train] init_from (default: the config's, else none: "
        "seeded weights)",
    )
    t.add_argument("--freeze-embedding", action="store_true", help="with --init-from: hold the nuclear embedding fixed")
    t.add_argument(
        "--freeze-interactions",
        type=int,
        metavar="K",
        help="with --init-from: hold the first K interaction blocks (messages, updates, their filters) fixed "
        f"(default: the config's, else {TrainConfig.freeze_interactions})",
    )
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument(
        "--stop-after",
        type=int,
        metavar="N",
        help="train at most N more epochs in this call (e.g. a batch job's time limit), then --resume "
        "(default: none, up to the last epoch)",
    )
    t.add_argument(
        "--log",
        choices=["csv", "tensorboard"],
        help="csv: metrics.csv only (default); tensorboard: also TensorBoard events of its columns in "
        "--out/tensorboard (needs tensorboardX: pip install 'painnjax[tensorboard]'); overrides [train] log",
    )
    add_ignore_cell(t)
    add_distributed(t, "structures of each batch")
    add_quiet(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser(
        "evaluate", help="errors of a model (or a committee) on data: MAE, RMSE, r, force angles, per composition"
    )
    add_model(e)
    e.add_argument(
        "data",
        nargs="+",
        help="ASE-readable files with total energies (and forces); further model "
        "files (*.painn) here make a committee: the errors of its mean and its spread",
    )
    e.add_argument(
        "--json",
        help="write the metrics here (energy_mae, energy_rmse, forces_mae, forces_rmse, ...) "
        "(default: none, only printed)",
    )
    e.add_argument("--plot", help="parity plot PNG (default: next to --json)")
    e.add_argument("--batch-size", type=int, default=8, help="structures per batch of the model's evaluation")
    add_ignore_cell(e)
    e.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("select", help="query by committee: the N structures of a pool the models disagree on most")
    q.add_argument("models", nargs="*", help="two or more model files (the committee)")
    q.add_argument("--pool", nargs="+", required=True, help="ASE-readable files of candidates (labels not needed)")
    q.add_argument("--n", type=int, required=True, help="how many structures to select")
    q.add_argument("--out", required=True, help="extxyz file for the selected structures")
    q.add_argument(
        "--criterion",
        choices=["forces", "forces_max", "energy"],
        default="forces",
        help="forces: mean per-atom force spread (default); forces_max: its max over atoms; energy: std of the energy",
    )
    q.add_argument(
        "--random-share",
        type=float,
        default=0.0,
        metavar="F",
        help="this fraction of --n drawn at random from the frames the spread did not pick (e.g. 0.3): "
        "keeps typical thermal frames besides the most uncertain ones (default 0)",
    )
    q.add_argument("--seed", type=int, default=0, help="seed of the random share (default 0)")
    q.add_argument("--batch-size", type=int, default=8, help="structures per batch of the models' evaluation")
    add_ignore_cell(q)
    q.set_defaults(func=cmd_select)
