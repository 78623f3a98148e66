"""Commands that move atoms with a model: ``md`` (molecular dynamics) and ``optimize`` (FIRE minimisation)."""

from __future__ import annotations

import argparse
import sys
import warnings

import jax

from md.dynamics.config import ENSEMBLES, MDConfig
from md.dynamics.config import FILE_SECTIONS as MD_SECTIONS
from painnjax.cli.common import (
    add_config,
    add_devices,
    add_distributed,
    add_dtype,
    add_ignore_cell,
    add_model,
    add_quiet,
    start_distributed,
    write_resolved_config,
)
from painnjax.config import read_sections, resolved
from painnjax.devices import is_main_process
from painnjax.errors import InputError
from painnjax.io.files import check_writable
from painnjax.potential import NEIGHBOR_MODES

# `md` is imported in the handlers, not here: its modules load jax-md, scipy or ase.io, which would add
# 5-8 s to `painnjax --help` (1.5-3 s) and to every argument error (2026-12-07: `import md.workflow`
# timed after `import painnjax`). painnjax's own modules are imported here: `import painnjax` has loaded them.
# Except md.dynamics.config, imported here for the option defaults: it loads no more than dataclasses (3 ms,
# `python -X importtime -c "import painnjax.cli; import md.dynamics.config"`, 2-core dev machine, 2026-12-09).
# cmd_md must also import md after `start_distributed`: importing jax-md starts JAX's backend, and a
# multi-host job can be joined only before that.
MD = MDConfig()  # the defaults of the options

# The option (its dest) that sets each [md] key of a --config file; an option not given is None, so the
# file's value (else MDConfig's default) counts
MD_KEYS = {
    "ensemble": "ensemble",
    "T": "temperature",
    "dt": "dt",
    "steps": "steps",
    "replicas": "replicas",
    "seed": "seed",
    "tau": "tau",
    "chain_length": "chain_length",
    "friction": "friction",
    "log_every": "log_every",
    "traj_every": "traj_every",
    "checkpoint_every": "checkpoint_every",
    "max_temperature": "max_temperature",
    "fragment_distance": "fragment_distance",
    "wall": "wall_radius",
    "wall_k": "wall_k",
    "exchange_every": "exchange_every",
    "max_spread": "max_spread",
    "collect_above": "collect_above",
}


def _md_config(args) -> MDConfig:
    """The run's MDConfig: the ``[md]`` table of ``--config`` with the options given put over it;
    options the ensemble ignores but were set are reported as warnings.

    An option not given is None: the file's value counts, else MDConfig's default (``--tau``,
    ``--chain-length`` and ``--friction`` warn only about values set for an ensemble that does not
    use them). ``--replicas`` not given anywhere: one per temperature and start structure."""
    from md.dynamics.config import UnusedOptionWarning

    from_file = read_sections(args.config, MD_SECTIONS)["md"]
    given = {key: getattr(args, dest) for dest, key in MD_KEYS.items()}
    if args.T is not None:
        given["temperature"] = args.T[0] if len(args.T) == 1 else tuple(args.T)
    if args.steps is None and "steps" not in from_file:
        raise InputError("--steps is required (the total number of steps), here or as [md] steps in --config")
    if args.replicas is None and "replicas" not in from_file:
        temps = given["temperature"] if args.T is not None else from_file.get("temperature", MD.temperature)
        given["replicas"] = max(len(temps) if isinstance(temps, (list, tuple)) else 1, len(args.start), 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnusedOptionWarning)
        cfg = resolved(MDConfig, "md", from_file, given, args.config)
    for w in caught:
        if issubclass(w.category, UnusedOptionWarning):
            print(f"painnjax md: warning: {w.message}", file=sys.stderr)
        else:  # not ours: as it would have come
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return cfg


def cmd_md(args) -> int:
    start_distributed(args)
    cfg = _md_config(args)  # before md's heavy modules: a bad option or --config file is refused at once
    from md.dynamics.simulate import SafetyStopWarning
    from md.workflow import format_md_summary, run_md_file

    check_writable(args.out, "--out folder", folder=True)  # before the run, not after its first chunk
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SafetyStopWarning)  # printed below, once
            res = run_md_file(
                args.model,
                args.start[0] if len(args.start) == 1 else args.start,
                cfg,
                args.out,
                restart=args.restart,
                dtype=args.dtype,
                traj_format=args.format,
                write_forces=args.forces,
                progress=not args.quiet,
                velocities_from_file=args.velocities_from_file,
                ignore_cell=args.ignore_cell,
                committee=args.committee,
                devices=args.devices,
                pairs=args.pairs,
            )
    except KeyboardInterrupt:
        print(f"painnjax md: interrupted; continue with --restart (checkpoint in {args.out})", file=sys.stderr)
        return 130
    print(format_md_summary(res.summary))
    if not is_main_process():  # another process of a multi-process run: process 0 writes and reports
        print(f"painnjax md: process {jax.process_index()} of {jax.process_count()} done; process 0 wrote {args.out}")
        return 1 if res.stop_reason.startswith("safety") else 0
    for line in res.messages:
        print(f"painnjax md: {line}", file=sys.stderr)
    write_resolved_config(args.out, "md", {"md": cfg}, MD_SECTIONS)
    print(
        f"wrote {args.out}: summary.json, thermo.csv, trajectory_r*.{args.format}, checkpoint.msgpack, "
        "config.toml (the settings, for --config)"
    )
    return 1 if res.stop_reason.startswith("safety") else 0


#: ``painnjax optimize`` checks the minimum by its Hessian by default up to this many atoms (the
#: float64 Hessian of SA7AM7, 77 atoms, takes seconds to a minute on a CPU; it grows as N²)
CHECK_MINIMUM_MAX_ATOMS = 200
#: ... and when minimised to at most this force (eV/Å): a looser FIRE does not hand over a minimum
CHECK_MINIMUM_MAX_FMAX = 0.05


def cmd_optimize(args) -> int:
    from md.workflow import optimize_file

    check_writable(args.out, "--out file")
    settle = None
    if args.check_minimum is not False:
        from md.analysis.settle import settle_model_minimum
        from md.structures import read_structure

        n = len(read_structure(args.input, ignore_cell=args.ignore_cell))
        if args.check_minimum or (n <= CHECK_MINIMUM_MAX_ATOMS and args.fmax <= CHECK_MINIMUM_MAX_FMAX):
            settle = settle_model_minimum
    res = optimize_file(
        args.model,
        args.input,
        args.out,
        fmax=args.fmax,
        max_steps=args.steps,
        dtype=args.dtype,
        ignore_cell=args.ignore_cell,
        settle=settle,
    )
    state = "converged" if res.converged else "NOT converged"
    print(
        f"FIRE {state} in {res.steps} steps: E = {res.energy:.6f} eV, max force {res.fmax:.4g} eV/Å "
        f"(fmax {args.fmax}); wrote {args.out}"
    )
    if res.settled is not None:
        print(f"minimum check (float64 Hessian): {res.settled['summary'] or 'no imaginary mode, a minimum'}")
    elif settle is None:
        why = (
            "--no-check-minimum"
            if args.check_minimum is False
            else f"default only up to {CHECK_MINIMUM_MAX_ATOMS} atoms and --fmax {CHECK_MINIMUM_MAX_FMAX}"
        )
        print(f"minimum check: not done ({why})")
    return 0 if res.converged else 1


def _add_md(sub) -> None:
    m = sub.add_parser(
        "md",
        help="molecular dynamics of a cluster (jax-md): Nosé-Hoover, NVE or Langevin, replicas, checkpoints, --restart",
    )
    add_model(m)
    m.add_argument(
        "start",
        nargs="+",
        help="start structure (any ASE-readable file; its last frame) or a bundled name, e.g. SA7AM7; "
        "several: replica r runs structure r mod K, padded to the largest in one compiled run "
        "(different sizes: --ensemble nvt-langevin or nve)",
    )
    add_config(m, "an [md] section (the keys of MDConfig: ensemble, temperature, dt, steps, ...)")
    m.add_argument(
        "--ensemble",
        default=None,
        metavar="{" + ",".join(ENSEMBLES) + "}",
        help=f"nvt-nh (Nosé-Hoover chain), nve or nvt-langevin (BAOAB) (default {MD.ensemble})",
    )
    m.add_argument(
        "--T",
        "--temperature",
        dest="T",
        type=float,
        nargs="+",
        default=None,
        help="temperature in K (NVE: of the initial velocities); several: one per replica "
        f"(default {MD.temperature:g})",
    )
    m.add_argument("--dt", type=float, default=None, help=f"time step in fs (default {MD.dt:g})")
    m.add_argument(
        "--steps",
        type=int,
        default=None,
        help="total number of steps (a restart continues up to it); no default: give it here or as [md] steps "
        "in --config",
    )
    m.add_argument("--out", required=True, help="output folder")
    m.add_argument(
        "--replicas", type=int, default=None, help="independent trajectories in one run (default: one per --T value)"
    )
    m.add_argument("--restart", action="store_true", help="continue the run in --out from its checkpoint")
    m.add_argument(
        "--seed", type=int, default=None, help=f"random seed of the initial velocities and noise (default {MD.seed})"
    )
    # None when not given: the --config file's value, else MDConfig's default; a value the ensemble ignores
    # gives a warning
    m.add_argument("--tau", type=float, default=None, help=f"Nosé-Hoover time constant in fs (default {MD.tau:g})")
    m.add_argument(
        "--chain-length", type=int, default=None, help=f"Nosé-Hoover chain length, >= 2 (default {MD.chain_length})"
    )
    m.add_argument("--friction", type=float, default=None, help=f"Langevin friction in 1/fs (default {MD.friction:g})")
    m.add_argument(
        "--log-every",
        type=int,
        default=None,
        help=f"steps between thermo records and checks (default {MD.log_every})",
    )
    m.add_argument(
        "--traj-every",
        type=int,
        default=None,
        help=f"steps between trajectory frames (default {MD.traj_every}; 0: none)",
    )
    m.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help=f"steps between checkpoints (default {MD.checkpoint_every})",
    )
    m.add_argument("--format", choices=["traj", "extxyz"], default="traj", help="trajectory format (default traj)")
    m.add_argument("--forces", action="store_true", help="store forces in the trajectory frames")
    add_dtype(m)
    m.add_argument(
        "--max-temperature",
        type=float,
        default=None,
        help="stop a replica above this temperature in K (default max(5 T, 2000 K))",
    )
    m.add_argument(
        "--fragment-distance",
        type=float,
        default=None,
        help="stop a replica when atoms are farther than this (Å) from the rest of the cluster "
        "(default: the model's cutoff; 0: no check)",
    )
    m.add_argument("--velocities-from-file", action="store_true", help="start from the velocities in the start file")
    add_devices(m, "replicas")
    add_distributed(m, "replicas")
    m.add_argument(
        "--pairs",
        choices=NEIGHBOR_MODES,
        default="auto",
        help="pair layout: auto (all pairs up to 32 atoms, else a list of pairs within the cutoff rebuilt "
        "every step), all, sparse, or matrix (an (N, N) mask without gathers: try it on a GPU); "
        "the same energies, another speed",
    )
    w = m.add_argument_group("confinement")
    w.add_argument(
        "--wall",
        type=float,
        default=None,
        metavar="R_A",
        help="flat-bottom spherical wall of this radius (Å) around the centre of mass (default: none); "
        "with a wall, fragments are not stops unless --fragment-distance is given",
    )
    w.add_argument(
        "--wall-k", type=float, default=None, help=f"the wall's force constant in eV/Å² (default {MD.wall_k:g})"
    )
    c = m.add_argument_group("committee (uncertainty inside the run)")
    c.add_argument(
        "--committee",
        nargs="+",
        default=None,
        metavar="MODEL",
        help="more models: the run follows the committee mean and thermo.csv gets its energy and force spreads "
        "(default: none, the one model)",
    )
    c.add_argument(
        "--max-spread",
        type=float,
        default=None,
        help="stop a replica whose largest atomic force spread exceeds this (eV/Å), keeping its last frame below it "
        "(default: no limit)",
    )
    c.add_argument(
        "--collect-above",
        type=float,
        default=None,
        help="write frames whose largest atomic force spread exceeds this (eV/Å) to uncertain.extxyz (for labelling; "
        "default: none written)",
    )
    x = m.add_argument_group("replica exchange")
    x.add_argument(
        "--exchange-every",
        type=int,
        default=None,
        metavar="K",
        help="swap configurations between neighbouring temperatures (--T, increasing) every K steps "
        f"(Metropolis; a multiple of --log-every; default {MD.exchange_every}: none); summary.json gets "
        "exchange_acceptance",
    )
    add_ignore_cell(m)
    add_quiet(m)
    m.set_defaults(func=cmd_md)


def register(sub) -> None:
    _add_md(sub)
    o = sub.add_parser("optimize", help="FIRE minimisation of a structure to a force criterion (eV/Å)")
    add_model(o)
    o.add_argument("input", help="structure file (any ASE-readable file; its last frame) or a bundled name")
    o.add_argument("--fmax", type=float, default=0.01, help="largest atomic force at convergence, eV/Å (default 0.01)")
    o.add_argument("--steps", type=int, default=1000, help="step limit (default 1000)")
    o.add_argument(
        "--out", required=True, help="file for the minimised structure (e.g. OUT.xyz, with energy and forces)"
    )
    o.add_argument(
        "--check-minimum",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after FIRE, check the minimum by its float64 Hessian: an imaginary mode beyond 5 cm-1 is "
        "stepped along and the structure minimised again (default: on up to "
        f"{CHECK_MINIMUM_MAX_ATOMS} atoms with --fmax up to {CHECK_MINIMUM_MAX_FMAX})",
    )
    add_dtype(o)
    add_ignore_cell(o)
    o.set_defaults(func=cmd_optimize)
