"""The kernel models' side of ``painnjax train``, ``evaluate`` and ``info``: each returns None when the
arguments are not about a kernel model (the PaiNN command goes on), else the exit code.

Light to import (the CLI imports it when a command runs): the workflow, qmllib and JAX are
imported only for a kernel model.
"""

from __future__ import annotations

import json
from pathlib import Path

from painnjax.errors import InputError

# PaiNN's `train` options that have no meaning for a kernel model (argparse dest -> option).
PAINN_ONLY = {
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "init_from": "--init-from",
    "freeze_embedding": "--freeze-embedding",
    "freeze_interactions": "--freeze-interactions",
    "resume": "--resume",
    "stop_after": "--stop-after",
    "log": "--log",
    "distributed": "--distributed",
}


def kernel_train(args) -> int | None:
    """``painnjax train --config C`` with ``[model] kind = "krr" | "knn"``: fit it into ``--out``."""
    from painnjax.kernels.workflow import model_kind

    if model_kind(args.config) == "painn":
        return None
    given = [opt for dest, opt in PAINN_ONLY.items() if getattr(args, dest, None)]
    if getattr(args, "committee", 1) != 1:
        given.append("--committee")
    if given:
        raise InputError(f"{args.config}: a kernel model is not trained in epochs; {', '.join(given)} apply to PaiNN")
    from painnjax.kernels.workflow import train_kernel_from_files

    overrides = {
        "train": {"seed": args.seed},
        "data": {"monomers": args.monomers, "ignore_cell": args.ignore_cell or None},
    }
    out = Path(args.out)
    made = not out.exists()
    try:
        train_kernel_from_files(args.data, args.config, out, overrides=overrides, progress=not args.quiet)
    except BaseException:
        if made:  # bad data, k > n_train, Ctrl-C: no trace of a run that made nothing
            _remove_if_empty(out)
        raise
    return 0


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it holds nothing but the run lock and the split of a run that stopped
    before its model (what :func:`~painnjax.kernels.workflow.train_kernel_from_files` writes first)."""
    from painnjax.io.files import LOCK_FILE

    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return
    if names <= {LOCK_FILE, "split.json"}:
        for name in names:
            (folder / name).unlink(missing_ok=True)
        folder.rmdir()


def kernel_evaluate(args) -> int | None:
    """``painnjax evaluate KERNEL_MODEL DATA...``: its errors in kcal/mol (``--json``: the report)."""
    from painnjax.kernels.files import is_kernel_model_file

    if not is_kernel_model_file(args.model):
        return None
    models = [d for d in args.data if is_kernel_model_file(d) or Path(d).suffix == ".painn"]
    if models:
        raise InputError(f"{args.model}: a kernel model is evaluated alone (also given: {', '.join(models)})")
    if getattr(args, "plot", None):
        raise InputError("--plot is not made for kernel models yet; use --json")
    from painnjax.io.files import write_json
    from painnjax.kernels.files import load_kernel_model
    from painnjax.kernels.workflow import evaluate_kernel_model, format_kernel_report

    model = load_kernel_model(args.model)
    report = evaluate_kernel_model(model, args.data, ignore_cell=args.ignore_cell)
    print(format_kernel_report(report))
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    return 0


def kernel_info(args) -> int | None:
    """``painnjax info KERNEL_MODEL``: its config, training size and metadata as JSON."""
    from painnjax.kernels.files import is_kernel_model_file, load_kernel_model

    if not is_kernel_model_file(args.model):
        return None
    model = load_kernel_model(args.model)
    info = {"kind": model.kind, "config": model.config.to_dict(), "n_train": model.n_train, "metadata": model.metadata}
    print(json.dumps(info, indent=2))
    return 0
