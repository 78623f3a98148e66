"""Commands that make training data: ``label`` (xTB, PySCF, any ASE calculator), ``sample`` (configurations from MD) and
``learn`` (active learning)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from painnjax.cli.common import add_ignore_cell, add_quiet
from painnjax.errors import InputError
from painnjax.io.files import check_writable

# `painnjax.active` and `md` are imported in the handlers, not here: they load jax-md, scipy and ase.io,
# which would add 5-8 s to `painnjax --help` (1.5-3 s) and to every argument error (2026-12-07:
# `import painnjax.active.learn` timed after `import painnjax`). painnjax's own lower layers are imported
# here: `import painnjax` has loaded them.

ENSEMBLES = ["nvt-nh", "nvt-langevin", "nve"]


def _one_omp_thread() -> None:
    """tblite's (and PySCF's) OpenMP threads cost far more than they give on clusters of tens of atoms."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def cmd_label(args) -> int:
    _one_omp_thread()
    from painnjax.active.calculators import parse_calculator
    from painnjax.active.label import label_file

    if len(args.files) < 2:
        raise InputError("give the input file(s) and then the output file: painnjax label IN [IN ...] OUT")
    *inputs, out = args.files
    check_writable(out, "output file")
    if args.failed:
        check_writable(args.failed, "--failed file")
    if args.calculator and args.method:
        raise InputError("give --method (xTB) or --calculator, not both")
    if args.trust_calculator and not args.calculator:
        raise InputError("--trust-calculator goes with --calculator ase:...")
    calculator = parse_calculator(args.calculator, trust=args.trust_calculator) if args.calculator else None
    try:
        report = label_file(
            inputs,
            out,
            method=args.method,
            calculator=calculator,
            failed=args.failed,
            retry_failed=args.retry_failed,
            progress=not args.quiet,
            ignore_cell=args.ignore_cell,
            workers=args.workers,
            scheduler=args.scheduler,
        )
    except KeyboardInterrupt:
        print(
            f"painnjax label: interrupted; the frames done are in {out}: run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    print(report.summary())
    if report.n_failed:
        print(
            f"painnjax label: {report.n_failed} of {report.n_frames} frames failed (not labelled; in "
            f"{report.failed_path} with the reason in info label_error); --retry-failed tries them again",
            file=sys.stderr,
        )
        return 1
    return 0


def _sample_xtb(args) -> int:
    _one_omp_thread()
    from painnjax.active.sample import sample_xtb

    if len(args.models) != 1:
        raise InputError("with --xtb give only the start structure: painnjax sample START --xtb GFN1-xTB ...")
    return sample_xtb(
        args.models[0],
        args.out,
        method=args.xtb,
        temperature=args.T[0],
        steps=args.steps,
        every=args.every,
        dt=args.dt,
        friction=args.friction,
        seed=args.seed,
        equilibrate=args.equilibrate,
        progress=not args.quiet,
        ignore_cell=args.ignore_cell,
    )


def _sample_md(args) -> int:
    from md.dynamics.config import MDConfig
    from painnjax.active.sample import sample_md, sampling_intervals

    if len(args.models) < 2:
        raise InputError("give the model(s) and then the start structure: painnjax sample MODEL [MODEL ...] START")
    *models, start = args.models
    temps = tuple(args.T) * args.replicas
    cfg = MDConfig(
        ensemble=args.ensemble,
        temperature=temps if len(temps) > 1 else temps[0],
        dt=args.dt,
        steps=args.steps,
        replicas=len(temps),
        seed=args.seed,
        friction=args.friction,
        **sampling_intervals(args.every),
    )
    return sample_md(
        models,
        start,
        args.out,
        cfg,
        every=args.every,
        equilibrate=args.equilibrate,
        restart=args.restart,
        progress=not args.quiet,
        ignore_cell=args.ignore_cell,
    )


def cmd_sample(args) -> int:
    check_writable(args.out, "--out file")
    n = _sample_xtb(args) if args.xtb else _sample_md(args)
    print(f"wrote {n} frames to {Path(args.out)} (positions only: label them with painnjax label)")
    return 0


def cmd_learn(args) -> int:
    _one_omp_thread()
    from painnjax.active.learn import LearnConfig, format_rounds, learn

    check_writable(args.out, "--out folder", folder=True)
    cfg = LearnConfig(
        rounds=args.rounds,
        committee=args.committee,
        epochs=args.epochs,
        retrain=args.retrain,
        starts=args.starts,
        temperatures=args.T,
        ensemble=args.ensemble,
        dt=args.dt,
        md_steps=args.md_steps,
        every=args.every,
        threshold=args.threshold,
        max_spread=args.max_spread,
        max_add=args.max_add,
        method=args.method,
        seed=args.seed,
    )
    rows = learn(args.data, args.test, args.out, cfg, train_config=args.config, progress=not args.quiet)
    print(format_rounds(rows))
    print(f"wrote {args.out}/learn.csv, learn.json, learning.png")
    return 0


def _add_label(sub) -> None:
    lb = sub.add_parser(
        "label",
        help="single points (energy, forces) of every frame -- xTB with tblite, or DFT with PySCF or any ASE "
        "calculator (--calculator): a labelled extxyz for training; resumable (run again to continue); "
        "OMP_NUM_THREADS=1 is fastest for small clusters",
    )
    lb.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="IN [IN ...] OUT: ASE-readable input files, then the output extxyz (frames already there are skipped)",
    )
    lb.add_argument("--method", help="xTB level: GFN1-xTB (default), GFN2-xTB or IPEA1-xTB")
    lb.add_argument(
        "--calculator",
        metavar="SPEC",
        help="instead of xTB: pyscf:METHOD/BASIS[,KEY=VALUE...] (e.g. pyscf:b3lyp-d3bj/def2-svp,density_fit=true; "
        "painnjax[pyscf]), ase:ase.calculators.MODULE.CLASS[,KEY=VALUE...] (e.g. ase:ase.calculators.orca.ORCA,"
        "orcasimpleinput='wB97X-D3 6-31++G(d,p) EnGrad',command=/opt/orca/orca), or a .toml/.json file with the "
        "same keys; its level of theory goes into each frame's info (see docs/labels.md) (default: none, "
        "xTB at --method)",
    )
    lb.add_argument(
        "--trust-calculator",
        action="store_true",
        help="let ase: name a calculator class outside ase.calculators (it is imported and run: only a class "
        "you trust)",
    )
    lb.add_argument("--failed", help="file for frames whose SCF failed (default: OUT with suffix .failed.extxyz)")
    lb.add_argument("--retry-failed", action="store_true", help="label the frames that failed before again")
    lb.add_argument(
        "--workers",
        type=int,
        default=1,
        help="single points in N processes of this machine, one xTB thread each (default 1: this process)",
    )
    lb.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:8786; dask-jobqueue for SLURM/PBS): the single points run on its "
        "workers; needs painnjax[dask]. tcp:// is unauthenticated and carries pickles, which run as code on both "
        "ends: use a scheduler you started, on a network only you reach, or tls:// with certificates (Dask's "
        "distributed.comm.tls settings); a peer that is not a Dask scheduler is an error (see "
        "docs/active-learning.md) (default: none, the single points run on this machine: --workers)",
    )
    add_ignore_cell(lb)
    add_quiet(lb)
    lb.set_defaults(func=cmd_label)


def _add_sample(sub) -> None:
    sa = sub.add_parser(
        "sample",
        help="configurations to label: frames of NN MD (one model or a committee's mean) "
        "or of xTB MD (--xtb), every k steps, into one extxyz",
    )
    sa.add_argument(
        "models",
        nargs="+",
        metavar="ARG",
        help="MODEL [MODEL ...] START, or with --xtb only START (a structure file or bundled name such as SA2AM2)",
    )
    sa.add_argument("--out", required=True, help="extxyz file of the sampled frames (positions only)")
    sa.add_argument(
        "--xtb",
        metavar="METHOD",
        help="MD at this xTB level through ASE (Langevin; slow) instead of NN MD (default: none, NN MD with the "
        "models)",
    )
    sa.add_argument("--ensemble", choices=ENSEMBLES, default="nvt-langevin", help="ensemble of the NN MD")
    sa.add_argument("--T", type=float, nargs="+", default=[300.0], help="temperature(s), K: one replica each")
    sa.add_argument("--replicas", type=int, default=1, help="replicas per temperature (default 1)")
    sa.add_argument("--steps", type=int, default=2000, help="MD steps per replica")
    sa.add_argument("--dt", type=float, default=0.5, help="fs (default 0.5)")
    sa.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs (default 0.01)")
    sa.add_argument("--every", type=int, default=20, help="steps between sampled frames (default 20)")
    sa.add_argument("--equilibrate", type=int, default=0, help="steps left out at the start (default 0)")
    sa.add_argument("--seed", type=int, default=0, help="seed of the MD's initial velocities and thermostat noise")
    sa.add_argument("--restart", action="store_true", help="continue the NN MD in OUT's _md folder")
    add_ignore_cell(sa)
    add_quiet(sa)
    sa.set_defaults(func=cmd_sample)


def _add_learn(sub) -> None:
    le = sub.add_parser(
        "learn",
        help="active learning: committee -> MD with its mean -> label where it disagrees "
        "(xTB) -> retrain, for N rounds, with a report per round",
    )
    le.add_argument("--data", nargs="+", required=True, help="labelled files to start from")
    le.add_argument("--test", nargs="+", required=True, help="labelled test file(s), never trained on")
    le.add_argument(
        "--config",
        help="training config (TOML/YAML, as painnjax train takes) (default: none, the reference study's protocol)",
    )
    le.add_argument("--out", required=True, help="run folder (run again to continue)")
    le.add_argument("--rounds", type=int, default=3, help="label-and-retrain rounds after round 0")
    le.add_argument("--committee", type=int, default=2, help="models per committee (default 2)")
    le.add_argument("--epochs", type=int, help="training epochs per round (default: the config's)")
    le.add_argument(
        "--retrain",
        choices=["scratch", "continue"],
        default="scratch",
        help="scratch: new seeded weights each round; continue: start from the previous round's members",
    )
    le.add_argument("--starts", nargs="+", default=["SA2AM2"], help="MD start structures (files or bundled names)")
    le.add_argument("--T", type=float, nargs="+", default=[300.0], help="MD temperatures, K (one replica each)")
    le.add_argument("--ensemble", choices=ENSEMBLES, default="nvt-langevin", help="ensemble of the sampling MD")
    le.add_argument("--dt", type=float, default=0.5, help="MD time step, fs")
    le.add_argument("--md-steps", type=int, default=2000, help="MD steps per replica and round")
    le.add_argument("--every", type=int, default=20, help="MD steps between sampled frames")
    le.add_argument("--threshold", type=float, default=0.05, help="pick frames whose force spread exceeds this, eV/Å")
    le.add_argument("--max-spread", type=float, default=1.0, help="... but not this (unphysical), eV/Å")
    le.add_argument("--max-add", type=int, default=20, help="frames labelled per round at most")
    le.add_argument("--method", default="GFN1-xTB", help="xTB level of the labels: GFN1-xTB, GFN2-xTB or IPEA1-xTB")
    le.add_argument("--seed", type=int, default=0, help="MD seed; round r uses SEED + r")
    add_quiet(le)
    le.set_defaults(func=cmd_learn)


def register(sub) -> None:
    _add_label(sub)
    _add_sample(sub)
    _add_learn(sub)
