"""The ``screen`` command: many candidate structures of a cluster minimised at once, the lowest distinct minima kept."""

from __future__ import annotations

from painnjax.cli.common import add_dtype, add_ignore_cell, add_model, add_quiet
from painnjax.errors import InputError


def _candidates(args):
    """The candidates ``--composition`` or ``--candidates`` asks for, and a description of them."""
    from md.screening.candidates import (
        composition_name,
        random_candidates,
        read_candidates,
    )

    if (args.composition is None) == (args.candidates is None):
        raise InputError("give either --composition (random candidates) or --candidates FILE, not both")
    if args.composition is not None:
        if args.n < 1:
            raise InputError(f"--n must be >= 1, got {args.n}")
        name = composition_name(args.composition)
        candidates = random_candidates(args.composition, args.n, seed=args.seed)
        return candidates, f"{name} n={args.n} seed={args.seed}"
    candidates = read_candidates(args.candidates, ignore_cell=args.ignore_cell)
    return candidates, f"{args.candidates} ({len(candidates)} frames)"


def cmd_screen(args) -> int:
    from md.screening.screen import screen_to_folder
    from painnjax.io.files import check_writable

    check_writable(args.out, "--out folder", folder=True)
    candidates, description = _candidates(args)
    print(f"screening {description} with {args.model}")
    res = screen_to_folder(
        args.model,
        candidates,
        args.out,
        keep=args.keep,
        resume=args.resume,
        description=description,
        fmax=args.fmax,
        max_steps=args.steps,
        slots=args.slots,
        energy_window=args.energy_window,
        tolerance=args.tolerance,
        committee=args.committee or (),
        dtype=args.dtype,
        progress=not args.quiet,
    )
    return 0 if len(res.ranked) else 1


def register(sub) -> None:
    sc = sub.add_parser(
        "screen",
        help="configurational screening: many candidate structures minimised at once "
        "(batched FIRE), duplicates removed, the lowest kept",
    )
    add_model(sc)
    sc.add_argument(
        "--composition",
        help="random candidates of this cluster, e.g. SA4AM4, SA2AM2W2, SA3B1AM2AH1 (B = HSO4-, AH = NH4+)",
    )
    sc.add_argument("--candidates", help="or: every frame of this structure file (extxyz, xyz, traj, ...)")
    add_ignore_cell(sc)
    sc.add_argument("--n", type=int, default=1000, help="random candidates (default 1000)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the random candidates (default 0)")
    sc.add_argument("--keep", type=int, default=20, help="distinct minima written to OUT/best.extxyz (default 20)")
    sc.add_argument("--fmax", type=float, default=0.01, help="FIRE convergence, eV/Å (default 0.01)")
    sc.add_argument("--steps", type=int, default=2000, help="FIRE steps per structure at most (default 2000)")
    sc.add_argument(
        "--slots",
        type=int,
        default=None,
        help="structures minimised at once (default: 1 on a CPU, where that is fastest; 256 on a GPU)",
    )
    sc.add_argument(
        "--energy-window", type=float, default=0.1, help="duplicates lie within this energy, kcal/mol (default 0.1)"
    )
    sc.add_argument(
        "--tolerance",
        type=float,
        default=0.03,
        help="... and within this RMS of sorted interatomic distances, Å (default 0.03)",
    )
    sc.add_argument(
        "--committee",
        nargs="+",
        metavar="MODEL",
        help="further models: their energy/force spread on the kept minima flags uncertain ones",
    )
    add_dtype(sc)
    sc.add_argument("--out", required=True, help="output folder")
    sc.add_argument("--resume", action="store_true", help="continue an interrupted screen in OUT")
    add_quiet(sc)
    sc.set_defaults(func=cmd_screen)
