"""Every option of every command says its default and its choices in ``painnjax COMMAND --help``.

Generic over the parser: a command added later is checked too. An option whose help says nothing of
its default (and that has none argparse can show) is named in the failure, with its command."""

import argparse

import pytest

from painnjax import cli

# Options that need no default in their help: flags, and what argparse itself adds
_NO_DEFAULT = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
    argparse._CountAction,
    argparse._HelpAction,
    argparse._VersionAction,
)


def _commands(parser=None):
    """``(name, parser)`` of each command of ``parser`` (default: painnjax's)."""
    parser = parser or cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices.items()


def _help(parser, action) -> str:
    """The help text ``--help`` prints for ``action`` (its formatter's additions included)."""
    return parser._get_formatter()._expand_help(action) if action.help else ""


def _offenders(parser=None):
    """``(command, option, why)`` of each option whose help is missing its default or its choices."""
    bad = []
    for name, parser in _commands(parser):
        for action in parser._actions:
            text = _help(parser, action)
            option = "/".join(action.option_strings) or action.dest
            if action.option_strings and not isinstance(action, _NO_DEFAULT) and not action.required:
                if "default" not in text.lower():
                    bad.append((name, option, f"no default in its help {text!r}"))
            if isinstance(action, _NO_DEFAULT) and not text and action.option_strings:
                bad.append((name, option, "no help"))
            if action.choices and action.metavar is not None and not isinstance(action, argparse._SubParsersAction):
                missing = [c for c in action.choices if str(c) not in text and str(c) not in str(action.metavar)]
                if missing:
                    bad.append((name, option, f"choices {missing} not shown"))
    return bad


def test_every_option_says_its_default_and_choices():
    bad = _offenders()
    assert not bad, "options whose help lacks its default or choices:\n" + "\n".join(
        f"  painnjax {c} {o}: {why}" for c, o, why in bad
    )


def test_the_check_finds_an_option_without_its_default():
    """The check above is not empty: an option with no help, one whose default is None and unexplained, a
    flag without help and choices behind a metavar that the help does not list are each named."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    c = sub.add_parser("cmd", formatter_class=cli.common.HelpFormatter)
    c.add_argument("--n", type=int, default=8)
    c.add_argument("--file", help="write it here")
    c.add_argument("--fine", type=int, default=2, help="steps")
    c.add_argument("--quiet", action="store_true")
    c.add_argument("--mode", choices=["a", "bb"], default="a", metavar="MODE", help="how")
    c.add_argument("--out", required=True, help="the output")
    found = {(o, why.split()[0]) for _, o, why in _offenders(parser)}
    assert found == {("--n", "no"), ("--file", "no"), ("--quiet", "no"), ("--mode", "choices")}


def test_the_formatter_adds_a_default_the_help_does_not_state(capsys):
    """An option with a plain help and a default gets `` (default: X)`` in ``--help``; one whose help says
    its default is left as written."""
    parser = argparse.ArgumentParser(formatter_class=cli.common.HelpFormatter)
    parser.add_argument("--n", type=int, default=8, help="structures per batch")
    parser.add_argument("--m", type=int, default=3, help="rounds (default 3; 0: none)")
    parser.add_argument("--T", type=float, nargs="+", default=[300.0, 400.0], help="temperatures, K")
    text = " ".join(parser.format_help().split())
    assert "structures per batch (default: 8)" in text
    assert "rounds (default 3; 0: none)" in text and "(default: 3)" not in text
    assert "temperatures, K (default: 300.0 400.0)" in text


def test_screen_input_modes_exclude_each_other(capsys, tmp_path):
    """``--composition``, ``--candidates`` and ``--grow-from`` are one choice: argparse refuses two."""
    for a, b in (("--composition", "--candidates"), ("--composition", "--grow-from"), ("--candidates", "--grow-from")):
        with pytest.raises(SystemExit) as exc:
            cli.main(["screen", "M", a, "SA1AM1", b, "x.xyz", "--out", str(tmp_path / "o")])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "not allowed with argument" in err and a in err and b in err
