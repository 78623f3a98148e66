"""The ``screen`` command: many candidate structures of a cluster minimised at once, the lowest distinct minima kept."""

from __future__ import annotations

from collections import Counter

from md.screening.config import FILE_SECTIONS as SCREEN_SECTIONS
from md.screening.config import RefineConfig, ScreenConfig
from painnjax.cli.common import (
    add_config,
    add_devices,
    add_dtype,
    add_ignore_cell,
    add_model,
    add_quiet,
    write_resolved_config,
)
from painnjax.config import read_sections, resolved
from painnjax.errors import InputError
from painnjax.io.files import check_writable
from painnjax.io.resolved import resolve_model

# `md` is imported in the handlers, not here: its modules load jax-md, scipy or ase.io, which would add
# 5-8 s to `painnjax --help` (1.5-3 s) and to every argument error (2026-12-07: `import md.workflow`
# timed after `import painnjax`). painnjax's own modules are imported here: `import painnjax` has loaded them.
# Except md.screening.config, imported here for the option defaults: it loads no more than dataclasses (2 ms,
# `python -X importtime -c "import painnjax.cli; import md.screening.config"`, 2-core dev machine, 2026-12-08).
SCREEN = ScreenConfig()  # the defaults of the options
REFINE = RefineConfig()


# The option (its dest) that sets each key of a --config file's [screen] and [refine]; an option not given
# is None, so the file's value (else the dataclass's default) counts
KEYS = {
    "fmax": ("screen", "fmax"),
    "steps": ("screen", "max_steps"),
    "optimizer": ("screen", "optimizer"),
    "slots": ("screen", "slots"),
    "keep": ("screen", "keep"),
    "energy_window": ("screen", "energy_window"),
    "tolerance": ("screen", "tolerance"),
    "dtype": ("screen", "dtype"),
    "refine_rounds": ("refine", "rounds"),
    "refine_top": ("refine", "top"),
    "refine_moves": ("refine", "moves"),
    "refine_kinds": ("refine", "kinds"),
    "refine_patience": ("refine", "patience"),
}

# The option of each checked setting, for the messages (ScreenConfig and RefineConfig name their fields)
_OPTIONS = {
    "[screen] fmax": "--fmax",
    "[screen] max_steps": "--steps",
    "[screen] optimizer": "--optimizer",
    "[screen] slots": "--slots",
    "[screen] keep": "--keep",
    "[screen] energy_window": "--energy-window",
    "[screen] tolerance": "--tolerance",
    "[screen] dtype": "--dtype",
    "[refine] rounds": "--refine-rounds",
    "[refine] top": "--refine-top",
    "[refine] moves": "--refine-moves",
    "[refine] kinds": "--refine-kinds",
    "[refine] patience": "--refine-patience",
    "[refine] seed": "--seed",
}


def _prepared(args):
    """Every input and option of the command, checked before any work (issue 32): ``(model, candidates,
    description, config, reranker)``.

    In order of cost, so that a bad input is refused in seconds: the settings
    (:class:`~md.screening.config.ScreenConfig`: numbers finite and in range), the conditions of
    ``--rank-by G``, the options that choose the candidates, with the memory they will take (before
    random or grown candidates are built), the model and the ``--committee`` (read once; a missing
    or damaged file stops here), the candidates themselves against the models
    (:func:`md.screening.checks.check_screen`), for ``--rank-by G``, that their minima can have
    a free energy (:func:`md.analysis.ranking.check_rank_by_g`), and the ``--rerank-with`` model
    against them (:func:`md.screening.checks.check_rerank`)."""
    from md.screening.checks import check_rerank, check_screen

    config = _config(args)
    rank = None
    if args.rank_by == "G":
        from md.analysis.ranking import check_rank_by_g

        def rank(structures):
            try:
                check_rank_by_g(structures, args.T, pressure=args.p, qh_cutoff=args.qh_cutoff)
            except InputError as exc:
                raise InputError(f"--rank-by G: {exc}") from None

        rank([])  # the conditions, before the candidates are built
    make = _candidates(args, config)
    model = resolve_model(args.model, args.committee or ())  # read once: the screen, its spreads and --rank-by G
    candidates, description = make()
    model = check_screen(model, candidates, config)
    if rank is not None:
        rank(candidates)  # their minima have their atoms
    reranker = None
    if args.rerank_with is not None:
        reranker = check_rerank(args.rerank_with, candidates, args.rerank_low_method)
    elif args.rerank_low_method is not None:
        raise InputError("--rerank-low-method goes with --rerank-with MODEL")
    return model, candidates, description, config, reranker


def _check_memory(n: int, n_atoms: int, config: ScreenConfig) -> None:
    """The memory ``n`` candidates of ``n_atoms`` atoms will take, checked before they are built."""
    from md.screening.checks import check_screen_memory

    try:
        check_screen_memory(n, n_atoms, config)
    except InputError as exc:
        raise InputError(f"--n {n}: {exc}") from None


def _candidates(args, config: ScreenConfig):
    """The options that choose the candidates checked, with the memory they will take: a function that
    makes the candidates ``--composition``, ``--candidates`` or ``--grow-from`` asks for, and a description.

    A neutral composition (SA, AM, W) screens its proton-transfer states (``--transfers``, default
    all) in equal shares; one that gives its ions (B, AH) is one state. A file's frames get the
    state :func:`md.screening.protonation.detect_state` finds in them."""
    from md.screening.candidates import composition_name, parse_composition, read_candidates, template
    from md.screening.protonation import detect_state, protonation_states, state_candidates

    if args.grow_from is not None:
        return _grown(args, config)
    if args.add is not None:
        raise InputError("--add needs --grow-from FILE (the minima the molecule is added to)")
    if args.composition is None and args.candidates is None:  # two of them: argparse refuses that
        raise InputError(
            "give the candidates: --composition (random candidates), --candidates FILE or --grow-from FILE"
        )
    if args.composition is not None:
        if args.n < 1:
            raise InputError(f"--n must be >= 1, got {args.n}")
        counts = parse_composition(args.composition)
        name = composition_name(counts)
        transfers = "all" if args.transfers is None else args.transfers
        states = protonation_states(counts, transfers)
        _check_memory(args.n, sum(len(template(m)) * c for m, c in counts.items()), config)
        description = f"{name} n={args.n} seed={args.seed}"
        if "B" not in counts and "AH" not in counts:  # the transfers chosen, "all" when every state is
            every = len(states) == len(protonation_states(counts))
            description += " transfers=" + ("all" if every else ",".join(str(k) for k, _ in states))
            if any("SO4" in state for _, state in states):
                # base-rich: painnjax before the SO4²⁻ states made other candidates of these settings, so
                # a screen begun then is not resumed with these
                description += " sulfate-states"
        return lambda: (state_candidates(counts, args.n, seed=args.seed, transfers=transfers), description)
    if args.transfers is not None:
        raise InputError("--transfers goes with --composition; frames of --candidates keep the state they are in")
    candidates = read_candidates(args.candidates, ignore_cell=args.ignore_cell)
    for atoms in candidates:  # the state of the frame itself, not one a former screen noted
        atoms.info["state"] = detect_state(atoms)[1]
    return lambda: (candidates, f"{args.candidates} ({len(candidates)} frames)")


def _grown(args, config: ScreenConfig):
    """Growth candidates: ``--add MOLECULE`` on the minima in ``--grow-from FILE`` (as :func:`_candidates`)."""
    from md.screening.candidates import read_candidates, template
    from md.screening.growth import ADDABLE, grown_candidates

    if args.add is None:
        raise InputError("--grow-from needs --add SA, AM or W (the molecule added to each minimum)")
    if args.transfers is not None:
        raise InputError("--transfers goes with --composition; grown candidates keep their parents' states")
    if args.n < 1:
        raise InputError(f"--n must be >= 1, got {args.n}")
    parents = read_candidates(args.grow_from, ignore_cell=args.ignore_cell)
    # the largest molecule that may be added: grown_candidates says which --add it takes
    _check_memory(args.n, max(len(p) for p in parents) + max(len(template(m)) for m in ADDABLE), config)

    def make():
        candidates = grown_candidates(parents, args.add, args.n, seed=args.seed)
        name = candidates[0].info["composition"]
        # an added water is put into the network in half the candidates since issue 29: a screen begun before
        # had other candidates of these settings, and is not resumed with these
        bridges = " water-bridges" if args.add.upper() == "W" else ""
        return (
            candidates,
            f"{name} grown from {args.grow_from} ({len(parents)} minima) + {args.add.upper()} n={args.n} "
            f"seed={args.seed}{bridges}",
        )

    return make


def _config(args) -> ScreenConfig:
    """The screen's settings: the ``[screen]`` and ``[refine]`` tables of ``--config`` with the options given
    put over them, checked (the refinement's even with --refine-rounds 0); a bad value is named by its
    option, or by the file, section and key it came from."""
    tables = read_sections(args.config, SCREEN_SECTIONS)
    given = {"screen": {}, "refine": {"seed": args.seed}}
    for dest, (section, key) in KEYS.items():
        given[section][key] = getattr(args, dest)
    try:
        refine = resolved(RefineConfig, "refine", tables["refine"], given["refine"], args.config)
        given["screen"]["refine"] = refine if refine.rounds else None
        return resolved(ScreenConfig, "screen", tables["screen"], given["screen"], args.config)
    except InputError as exc:
        field, sep, rest = str(exc).partition(":")
        if field in _OPTIONS and sep:
            raise InputError(f"{_OPTIONS[field]}:{rest}") from None
        raise


def cmd_screen(args) -> int:
    from md.screening.folder import screen_to_folder

    check_writable(args.out, "--out folder", folder=True)
    model, candidates, description, config, reranker = _prepared(args)  # every input checked before any work
    print(f"screening {description} with {args.model}")
    shares = Counter(str(a.info.get("state")) for a in candidates)
    if len(shares) > 1:
        print("protonation states: " + ", ".join(f"{state} {n}" for state, n in shares.items()))
    res = screen_to_folder(
        model,
        candidates,
        args.out,
        config,
        resume=args.resume,
        description=description,
        devices=args.devices,
        progress=not args.quiet,
    )
    refine = config.refine or RefineConfig(rounds=0)
    write_resolved_config(args.out, "screen", {"screen": config, "refine": refine}, SCREEN_SECTIONS)
    if not len(res.ranked):
        return 1
    if args.rank_by == "G":
        from md.analysis.ranking import rank_screen_by_g

        ranking = rank_screen_by_g(
            model, args.out, args.T, pressure=args.p, quasi_harmonic=not args.rrho, qh_cutoff=args.qh_cutoff
        )
        print("wrote " + ", ".join(str(f) for f in ranking.files))
    if reranker is not None:
        from md.screening.rerank import rerank_screen

        rerank_screen(reranker, args.out)
    return 0


def register(sub) -> None:
    sc = sub.add_parser(
        "screen",
        help="configurational screening: many candidate structures minimised at once "
        "(batched L-BFGS or FIRE), duplicates removed, the lowest kept",
    )
    add_model(sc)
    given = sc.add_mutually_exclusive_group()  # the candidates: one of the three
    given.add_argument(
        "--composition",
        help="random candidates of this cluster, e.g. SA4AM4, SA2AM2W2, SA3B1AM2AH1 (B = HSO4-, AH = NH4+), "
        "or its formula, e.g. H10N2O8S2 (= SA2AM2; default: none, give this, --candidates or --grow-from)",
    )
    given.add_argument(
        "--candidates", help="or: every frame of this structure file (extxyz, xyz, traj, ...; default: none)"
    )
    given.add_argument(
        "--grow-from",
        metavar="FILE",
        help="or: growth moves: candidates made by adding --add to the minima in FILE (e.g. a smaller "
        "cluster's best.extxyz), an equal share each (default: none)",
    )
    sc.add_argument(
        "--transfers",
        help="proton-transfer states of a neutral --composition screened, in equal shares: 'all' (default: "
        "SA2AM2 -> SA2AM2, SA1B1AM1AH1, SA0B2AM0AH2), '0' (neutral molecules only) or a list like '1,2'",
    )
    sc.add_argument(
        "--add", metavar="MOLECULE", help="the molecule a growth move adds: SA, AM or W (no default; with --grow-from)"
    )
    add_config(sc, "[screen] and [refine] sections (the keys of ScreenConfig and RefineConfig)")
    add_devices(sc, "slots")
    add_ignore_cell(sc)
    sc.add_argument("--n", type=int, default=1000, help="random candidates (default 1000)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the random candidates (default 0)")
    sc.add_argument(
        "--keep",
        type=int,
        default=None,
        help=f"distinct minima written to OUT/best.extxyz (default {SCREEN.keep})",
    )
    sc.add_argument(
        "--optimizer",
        choices=("lbfgs", "fire"),
        default=None,
        help="minimiser: lbfgs (L-BFGS with a line search; several times fewer force calls) or fire "
        f"(default {SCREEN.optimizer})",
    )
    sc.add_argument(
        "--refine-rounds",
        type=int,
        default=None,
        help="rounds of refinement after the candidates at most: new candidates made by the --refine-kinds moves "
        f"from the lowest minima so far (default {REFINE.rounds}; 0: none)",
    )
    sc.add_argument(
        "--refine-top",
        type=int,
        default=None,
        help=f"lowest distinct minima refined per round (default {REFINE.top})",
    )
    sc.add_argument(
        "--refine-moves",
        type=int,
        default=None,
        help=f"new candidates per refined minimum, the j-th made by the j-th kind, in turn (default {REFINE.moves})",
    )
    sc.add_argument(
        "--refine-kinds",
        metavar="KINDS",
        default=None,
        help="the refinement's moves, separated by commas: perturb (one molecule turned and shifted), splice "
        "(cut-and-splice of two minima), surface (the weakest-bound molecule moved to the surface), proton (a "
        "proton hop between an acid and a base), water (a water moved into a hydrogen bond of the others, as a "
        f"bridge) (default {','.join(REFINE.kinds)})",
    )
    sc.add_argument(
        "--refine-patience",
        type=int,
        default=None,
        metavar="R",
        help="stop the refinement when no composition's lowest minimum has improved by more than --energy-window "
        f"in R rounds (default {REFINE.patience}; 0: run every round)",
    )
    sc.add_argument(
        "--fmax",
        type=float,
        default=None,
        help=f"convergence: largest atomic force, eV/Å (default {SCREEN.fmax})",
    )
    sc.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"L-BFGS iterations or FIRE steps per structure at most (default {SCREEN.max_steps})",
    )
    sc.add_argument(
        "--slots",
        type=int,
        default=None,
        help="structures minimised at once (default: 1 on a CPU, where that is fastest; 256 on a GPU)",
    )
    sc.add_argument(
        "--energy-window",
        type=float,
        default=None,
        help=f"duplicates lie within this energy, kcal/mol (default {SCREEN.energy_window})",
    )
    sc.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help=f"... and within this RMS of sorted interatomic distances, Å (default {SCREEN.tolerance})",
    )
    sc.add_argument(
        "--committee",
        nargs="+",
        metavar="MODEL",
        help="further models: their energy/force spread on the kept minima flags uncertain ones (default: none)",
    )
    sc.add_argument(
        "--rank-by",
        choices=("E", "G"),
        default="E",
        help="E: electronic energy (default); G: also rank the kept minima by Gibbs free energy at the first --T "
        "(float64 Hessians; OUT/ranked_by_G.csv, best_by_G.extxyz, thermo.json, dH_dS.txt)",
    )
    sc.add_argument(
        "--rerank-with",
        metavar="MODEL",
        help="also rank the kept minima by this model's energy (OUT/reranked.csv beside the screen's ranking): a "
        "kernel model (KRR or k-NN, direct or Δ) or a PaiNN model (Δ: over tblite's low level); checked before "
        "the screen starts (default: none)",
    )
    sc.add_argument(
        "--rerank-low-method",
        choices=("GFN1-xTB", "GFN2-xTB", "IPEA1-xTB"),
        default=None,
        help="tblite method of a Δ --rerank-with model's low level (default: the one its file records; "
        "GFN1-xTB for a PaiNN Δ model)",
    )
    sc.add_argument(
        "--T", type=float, nargs="+", default=[298.15], help="temperatures for --rank-by G, K (default 298.15)"
    )
    sc.add_argument("--p", type=float, default=101325.0, help="pressure for --rank-by G, Pa (default 101325)")
    sc.add_argument("--rrho", action="store_true", help="--rank-by G with the plain RRHO (no quasi-harmonic modes)")
    sc.add_argument(
        "--qh-cutoff", type=float, default=100.0, help="quasi-harmonic cutoff for --rank-by G, cm-1 (default 100)"
    )
    add_dtype(sc, default=None, shown=SCREEN.dtype)
    sc.add_argument("--out", required=True, help="output folder")
    sc.add_argument("--resume", action="store_true", help="continue an interrupted screen in OUT")
    add_quiet(sc)
    sc.set_defaults(func=cmd_screen)
