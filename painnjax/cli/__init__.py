"""Command line: parses arguments and calls the library; no logic of its own.

One module per command group, each with a ``register(subparsers)`` that adds its commands and
their ``cmd_*`` handlers: :mod:`~painnjax.cli.models` (``convert-schnetpack``, ``info``,
``check``), :mod:`~painnjax.cli.training` (``train``, ``evaluate``, ``select``),
:mod:`~painnjax.cli.analysis` (``demo``, ``harmonic``, ``thermo``, ``spectrum``,
``evaporation``),
:mod:`~painnjax.cli.active` (``label``, ``sample``, ``learn``), :mod:`~painnjax.cli.screening` (``screen``) and
:mod:`~painnjax.cli.dynamics` (``md``, ``optimize``); options they share are in
:mod:`~painnjax.cli.common`. Handlers import ``md`` and ``painnjax.active`` when they run (they
load jax-md), so ``painnjax --help`` stays quick; painnjax's lower layers, which ``import painnjax``
loads anyway, are imported at the head of each module.
"""

from __future__ import annotations

import argparse
import errno
import sys

from painnjax.cli import active, analysis, dynamics, models, screening, training
from painnjax.cli.common import list_in_order
from painnjax.errors import PainnjaxError

GROUPS = (models, training, analysis, active, screening, dynamics)

# The order of the commands in `painnjax --help`.
COMMANDS = (
    "convert-schnetpack",
    "info",
    "train",
    "evaluate",
    "select",
    "demo",
    "label",
    "sample",
    "learn",
    "screen",
    "check",
    "md",
    "optimize",
    "harmonic",
    "thermo",
    "spectrum",
    "evaporation",
)


# A file-system error on one of these is a path the user gave that cannot be used: bad input
# (every command checks its output paths first; this catches what changes under a running job).
PATH_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="painnjax", description="PaiNN potentials in JAX for molecular clusters")
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    list_in_order(sub, COMMANDS)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PainnjaxError as exc:
        print(f"painnjax {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        return 0
    except OSError as exc:
        if exc.errno not in PATH_ERRNOS or exc.filename is None:
            raise
        print(f"painnjax {args.command}: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
