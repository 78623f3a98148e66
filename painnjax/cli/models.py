"""Commands on model files: ``convert-schnetpack``, ``info`` and ``check``."""

from __future__ import annotations

import json
import textwrap

from ase.data import chemical_symbols

from painnjax.citations import citations_for
from painnjax.cli.common import add_model, atomic_numbers
from painnjax.data.domain import model_domain
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
    from painnjax.kernels.commands import kernel_info

    if (code := kernel_info(args)) is not None:  # a kernel model file (KRR, k-NN)
        return code
    model = load_model(args.model)
    if args.json:
        info = {"config": model.config.to_dict(), "n_parameters": model.n_parameters, "metadata": model.metadata}
        info["cite"] = [ref.text() for ref in citations_for(model.metadata)]
        print(json.dumps(info, indent=2))
    else:
        print("\n".join(model_summary(model, str(args.model))))
    return 0


def model_summary(model, given: str) -> list[str]:
    """Readable lines of ``painnjax info``: what the model is, how it was trained, and its domain."""
    meta = model.metadata
    c = model.config
    lines = [f"model {meta.get('name') or given}"]
    if meta.get("description"):
        lines += textwrap.wrap(str(meta["description"]), 100, initial_indent="  ", subsequent_indent="  ")
    lines.append(
        f"PaiNN {c.n_atom_basis} features x {c.n_interactions} interactions, {c.n_rbf} radial functions, "
        f"cutoff {c.cutoff} Å, {model.n_parameters:,} parameters"
    )
    elements = model.elements
    lines.append(f"elements: {', '.join(chemical_symbols[z] for z in elements) if elements else 'any'}")
    reference = meta.get("energy_reference") or {}
    trained_on = reference.get("trained_on")
    energy = f"{reference.get('kind', 'total')} energies, eV"
    if trained_on:
        monomers = ", ".join(trained_on.get("monomers") or ())
        energy += f" (trained on {trained_on.get('kind')} energies" + (f" against {monomers})" if monomers else ")")
    lines.append(f"predicts: {energy}")
    training = meta.get("training")
    if isinstance(training, dict):
        n = training.get("n_structures") or {}
        lines.append(
            f"training: {n.get('train', '?')} train, {n.get('valid', '?')} validation, {n.get('test', '?')} test "
            f"structures; {training.get('epochs_done', '?')} epochs ({training.get('stop_reason', '?')})"
        )
        for part in ("valid", "test"):
            e = training.get(part)
            if isinstance(e, dict) and "energy_mae" in e:
                forces = f", forces MAE {e['forces_mae']:.3f} kcal/mol/Å" if "forces_mae" in e else ""
                lines.append(f"  {part}: energy MAE {e['energy_mae']:.3f} kcal/mol{forces}")
    domain = model_domain(model)
    if domain is None:
        lines.append("domain: unknown (the file records no training domain; structures are not checked)")
    else:
        lines += domain.describe()
    lines.append("cite (full references: painnjax info --json, docs/citing.md):")
    lines += [f"  {ref.short()}" for ref in citations_for(meta)]
    lines.append("(painnjax info --json prints everything the file holds)")
    return lines


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

    i = sub.add_parser(
        "info",
        help="print what a model is, how it was trained and where it is valid (its domain)",
        description="Print a model's architecture, elements, energies, training record and its domain: "
        "the level of theory, elements, molecule types, compositions, sizes and temperatures it was trained "
        "on, which commands that apply the model check structures against. --json prints the whole header.",
    )
    add_model(i)
    i.add_argument("--json", action="store_true", help="print the config, parameter count and metadata as JSON")
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
