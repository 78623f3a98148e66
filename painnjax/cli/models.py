"""Commands on model files: ``convert-schnetpack``, ``info`` and ``check``."""

from __future__ import annotations

import json

from painnjax.cli.common import add_model, atomic_numbers
from painnjax.errors import PainnjaxError
from painnjax.interfaces.check import run_check
from painnjax.interfaces.schnetpack import ENERGY_UNITS_IN_EV, from_schnetpack
from painnjax.io.files import check_writable
from painnjax.io.modelfile import load_model, save_model


def cmd_convert(args) -> int:
    check_writable(args.output, "output model file")
    if args.energy_unit not in ENERGY_UNITS_IN_EV:
        raise PainnjaxError(f"--energy-unit must be one of {', '.join(ENERGY_UNITS_IN_EV)}")
    model = from_schnetpack(
        args.input,
        energy_unit=args.energy_unit,
        elements=atomic_numbers(args.elements, "--elements"),
        trust_pickle=args.trust_pickle,
    )
    path = save_model(model, args.output)
    print(
        f"wrote {path}: PaiNN {model.config.n_atom_basis} features x {model.config.n_interactions} layers, "
        f"{model.n_parameters:,} parameters, cutoff {model.config.cutoff} Å"
    )
    return 0


def cmd_info(args) -> int:
    model = load_model(args.model)
    info = {"config": model.config.to_dict(), "n_parameters": model.n_parameters, "metadata": model.metadata}
    print(json.dumps(info, indent=2))
    return 0


def cmd_check(args) -> int:
    check_writable(args.out, "--out folder", folder=True)
    run_check(args.out, sizes=args.sizes, model=args.model)
    return 0


def register(sub) -> None:
    c = sub.add_parser(
        "convert-schnetpack",
        help="carry a SchNetPack PaiNN model into a painnjax model file",
        description="Carry a SchNetPack PaiNN model into a painnjax model file. The .pt file is read "
        "with torch.load(weights_only=True): it may name only the SchNetPack and torch classes of a "
        "convertible PaiNN model, so a crafted file cannot run code; a file naming other classes is "
        "refused, naming them. --trust-pickle reads a file you trust with full unpickling.",
    )
    c.add_argument("input", help="torch.save'd schnetpack NeuralNetworkPotential (.pt)")
    c.add_argument("output", help="painnjax model file to write (.painn)")
    c.add_argument("--energy-unit", default="eV", help="energy unit of the SchNetPack model (default eV)")
    c.add_argument("--elements", help="elements the model was trained on, e.g. H,N,O,S (default: any)")
    c.add_argument(
        "--trust-pickle",
        action="store_true",
        help="read the .pt file with full unpickling (torch.load weights_only=False), which runs any code "
        "the file holds: only for a file you made or whose source you trust (default: only the classes "
        "of a SchNetPack PaiNN model are allowed)",
    )
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("info", help="print a model's config, parameter count and metadata")
    add_model(i)
    i.set_defaults(func=cmd_info)

    c = sub.add_parser(
        "check", help="energies and forces of the bundled (SA)n(AM)n clusters, with invariance checks and timings"
    )
    c.add_argument("--out", default="painnjax-check", help="output folder (default painnjax-check)")
    c.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 7], help="n of (SA)n(AM)n (1 2 4 7 10 15)")
    c.add_argument(
        "--model",
        default=None,
        help="model file or bundled name (default: saam-gfn1; 'seeded': an untrained default-size PaiNN)",
    )
    c.set_defaults(func=cmd_check)
