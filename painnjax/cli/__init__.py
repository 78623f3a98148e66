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
import contextlib
import errno
import platform
import sys
import warnings
from importlib import metadata

from painnjax._version import __version__
from painnjax.cli import active, analysis, convert, dynamics, ipi, models, screening, template, training
from painnjax.cli.common import list_in_order, use_help_formatter
from painnjax.compiler import use_persistent_cache
from painnjax.errors import PainnjaxError
from painnjax.io.files import user_cache_folder

GROUPS = (models, training, analysis, active, screening, dynamics, ipi, template, convert)

# The order of the commands in `painnjax --help`.
COMMANDS = (
    "convert-schnetpack",
    "convert-jkqc",
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
    "ipi",
    "harmonic",
    "thermo",
    "spectrum",
    "evaporation",
    "template",
)


# A file-system error on one of these is a path the user gave that cannot be used: bad input
# (every command checks its output paths first; this catches what changes under a running job).
PATH_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR)


def version_line() -> str:
    """``painnjax --version``: painnjax's version and those of jax, jaxlib and Python beside it
    (from the installed metadata, so no import of jax is needed)."""
    found = []
    for name in ("jax", "jaxlib"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return f"painnjax {__version__} ({', '.join(found)}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="painnjax", description="PaiNN potentials in JAX for molecular clusters")
    p.add_argument("--version", action="version", version=version_line())
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    list_in_order(sub, COMMANDS)
    use_help_formatter(sub)  # every option's help says its default
    return p


# The top-level packages whose warning classes (DomainWarning, NotAMinimumWarning, ...) are printed as one line.
OWN_PACKAGES = ("painnjax", "md")


@contextlib.contextmanager
def own_warnings_as_lines(command: str):
    """While a command runs, a warning of painnjax's own classes prints as ``painnjax COMMAND: warning:
    MESSAGE``, as its errors do, not as Python's ``file:line: Category: message`` with the source line;
    other packages' warnings keep Python's format. Only the format is changed (``warnings.formatwarning``):
    filters, and whoever records warnings (``catch_warnings(record=True)``, ``pytest.warns``), see them as
    before. The previous format is restored after the command."""
    previous = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None):
        if category.__module__.partition(".")[0] in OWN_PACKAGES:
            return f"painnjax {command}: warning: {message}\n"
        return previous(message, category, filename, lineno, line)

    warnings.formatwarning = formatwarning
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    use_persistent_cache(user_cache_folder("jax"))  # a command run again compiles nothing
    with own_warnings_as_lines(args.command):
        return _run(args)


def _run(args) -> int:
    """Run the command of ``args``; a bad-input error is one line naming the command and exit status 2."""
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
