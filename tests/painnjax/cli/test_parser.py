"""The command line's parser: every command in its place in ``painnjax --help``, each with its group's handler."""

import argparse

import pytest

from painnjax import cli


def _subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_commands_listed_in_order_with_their_groups_handlers():
    parser = cli.build_parser()
    sub = _subparsers(parser)
    assert tuple(sub.choices) == cli.COMMANDS
    assert tuple(a.dest for a in sub._choices_actions) == cli.COMMANDS
    assert "{" + ",".join(cli.COMMANDS) + "}" in parser.format_usage().replace("\n", "").replace(" ", "")
    modules = {group.__name__ for group in cli.GROUPS}
    for name, p in sub.choices.items():
        handler = p.get_default("func")
        assert handler.__name__.startswith("cmd_") and handler.__module__ in modules, name


def test_unknown_command_names_the_commands_in_order(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.split("choose from")[1]
    assert [err.index(name) for name in ("convert-schnetpack", "info", "train")] == sorted(
        err.index(name) for name in ("convert-schnetpack", "info", "train")
    )
