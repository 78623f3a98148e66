"""Arguments several commands share: the same option, spelled and explained the same way everywhere."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from painnjax.config import Section, toml_text
from painnjax.devices import DEFAULT_TIMEOUT, TIMEOUT_ENV, initialize_distributed
from painnjax.io.files import atomic_write
from painnjax.validate import as_atomic_numbers


def add_model(p: argparse.ArgumentParser) -> None:
    """The positional ``model`` argument."""
    p.add_argument("model", help="model file or bundled model name")


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help says its default: `` (default: X)`` is added where the help does not say
    one already (``store_true`` flags and options without a default are left as they are; their help
    says what leaving them out does)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" in text.lower()
            or "%(default)" in text
            or action.option_strings == []
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or action.required
        ):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})".lstrip()


def use_help_formatter(subparsers) -> None:
    """Give every command of ``subparsers`` :class:`HelpFormatter` (its options' help say their defaults)."""
    for parser in subparsers.choices.values():
        parser.formatter_class = HelpFormatter


def add_dtype(p: argparse.ArgumentParser, default: str | None = "float32", shown: str | None = None) -> None:
    """``--dtype``: the floating-point precision of the model's evaluation. ``default`` None: not
    given (a config file's value may count); ``shown`` is then the default its help states."""
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default=default,
        help=f"floating-point precision of the model's evaluation (default {default or shown})",
    )


def add_config(p: argparse.ArgumentParser, sections: str) -> None:
    """``--config FILE``: a TOML or YAML file of the command's settings; options given beat it."""
    p.add_argument(
        "--config",
        metavar="FILE",
        help=f"TOML or YAML file with {sections} (see docs/configs.md; `painnjax template` writes one); "
        "options given on the command line beat its values (default: none, every value from the options)",
    )


def write_resolved_config(out, command: str, configs: dict, sections: dict[str, Section]) -> Path:
    """Write ``OUT/config.toml``: the settings a run used (``--config`` and the options together), in the
    form ``--config`` reads, so that ``painnjax COMMAND ... --config OUT/config.toml`` runs with the same."""
    tables = {}
    for name, cfg in configs.items():
        exclude = sections[name].exclude
        tables[name] = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in exclude}
    header = (
        f"The settings of this `painnjax {command}` run (its --config file and options together). "
        f"`painnjax {command} ... --config THIS_FILE` runs with the same."
    )
    return atomic_write(Path(out) / "config.toml", toml_text(tables, header=header))


def add_quiet(p: argparse.ArgumentParser, help: str | None = "no progress bar") -> None:
    """``--quiet``: no progress output."""
    p.add_argument("--quiet", action="store_true", help=help)


def add_ignore_cell(p: argparse.ArgumentParser) -> None:
    """``--ignore-cell``: the one rule for periodic input. Without it a frame with pbc is an error
    (the models are for free clusters); with it the cell and pbc are dropped."""
    p.add_argument(
        "--ignore-cell",
        action="store_true",
        help="read periodic frames (pbc true) as free clusters, cell and pbc dropped "
        "(default: such a frame is an error; the models are for free clusters)",
    )


def comma_list(text: str | None) -> list[str] | None:
    """``"H, N,O"`` -> ``["H", "N", "O"]``; None for no text."""
    if not text:
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


def atomic_numbers(text: str | None, option: str) -> list[int] | None:
    """A comma-separated list of elements (symbols or numbers) as atomic numbers; None for no text."""
    symbols = comma_list(text)
    if symbols is None:
        return None
    return as_atomic_numbers(symbols, source=option).tolist()


def list_in_order(subparsers, names: tuple[str, ...]) -> None:
    """List the commands in this order in ``painnjax --help`` and its usage line, whatever order
    their groups added them in."""
    parsers = dict(subparsers.choices)
    subparsers.choices.clear()  # the same dict as subparsers._name_parser_map
    subparsers.choices.update((name, parsers[name]) for name in names)
    subparsers._choices_actions.sort(key=lambda action: names.index(action.dest))


def add_distributed(p: argparse.ArgumentParser, what: str) -> None:
    """``--distributed``: this process is one of a multi-host job (:func:`painnjax.devices.initialize_distributed`)."""
    p.add_argument(
        "--distributed",
        action="store_true",
        help=f"one process of a multi-host job (srun/mpirun start one per host): the {what} are spread over "
        f"the devices of all of them, process 0 writes the files; a job not started within {TIMEOUT_ENV} seconds "
        f"(default {DEFAULT_TIMEOUT:g}) is exit 2 naming the coordinator (see docs/devices.md)",
    )


def start_distributed(args) -> None:
    """Join the multi-process job when ``--distributed`` was given (before anything uses JAX)."""
    if getattr(args, "distributed", False):
        initialize_distributed()


def add_devices(p: argparse.ArgumentParser, what: str) -> None:
    """``--devices N``: how many local devices (GPUs) ``what`` (replicas, slots) are spread over."""
    p.add_argument(
        "--devices",
        type=int,
        default=None,
        help=f"local devices (GPUs) to spread the {what} over (default: all; the largest number dividing "
        f"the {what} is used)",
    )
