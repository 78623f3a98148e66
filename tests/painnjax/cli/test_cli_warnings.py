"""Warnings as users see them: painnjax's own classes as one line ``painnjax COMMAND: warning: MESSAGE``,
other packages' in Python's format; and ``painnjax ipi`` checks the model's domain once for its structure."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.calculators.socketio import IPIProtocol
from socket_helpers import LoopbackPeer

from painnjax import cli
from painnjax.cli import models as cli_models
from painnjax.data import bundled_structure
from painnjax.data.domain import DomainWarning, reset_warnings
from painnjax.data.molecules import MOLECULE_TYPES


@pytest.fixture
def shown(monkeypatch):
    """Warnings written to stderr as Python writes them outside pytest (which records them instead), every
    time (no once-per-place filter that would hide a second one); ``(category, filename)`` of each kept."""
    seen = []

    def show(message, category, filename, lineno, file=None, line=None):
        seen.append((category, filename))
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", show)
        yield seen


class OtherPackageWarning(UserWarning):
    """A warning class of a module outside painnjax (this test's)."""


def test_own_warning_is_one_line_others_as_python_shows_them(shown, monkeypatch, capsys):
    def cmd_info(args):
        warnings.warn("model m was not trained on: molecule type W", DomainWarning, stacklevel=1)
        warnings.warn("from elsewhere", OtherPackageWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli_models, "cmd_info", cmd_info)
    before = warnings.formatwarning
    assert cli.main(["info", "saam-gfn1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err.count("painnjax info: warning: model m was not trained on: molecule type W") == 1
    assert sum("warning: model m" in line for line in err) == 1  # one line: no file:line, no source line
    assert any(line.endswith("OtherPackageWarning: from elsewhere") and __file__ in line for line in err)
    assert warnings.formatwarning is before  # restored: the format is the command's only


def test_the_format_is_restored_after_a_failing_command(monkeypatch):
    def cmd_info(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_models, "cmd_info", cmd_info)
    before = warnings.formatwarning
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["info", "saam-gfn1"])
    assert warnings.formatwarning is before


def _hydrated(tmp_path) -> Path:
    """SA1AM1 with a water molecule 4 Å beside it: outside saam-gfn1's domain (no water trained on)."""
    atoms = bundled_structure("SA1AM1")
    water = MOLECULE_TYPES["W"].atoms()
    water.positions += atoms.positions.max(axis=0) + 2.5 - water.positions.min(axis=0)
    path = tmp_path / "hydrated.xyz"
    ase.io.write(path, atoms + water)
    return path


def _server_messages(positions=None) -> bytes:
    """What an i-PI server sends a client: a force call at ``positions`` (none when None), then EXIT."""
    sent = []

    class Recorder:
        def sendall(self, data):
            sent.append(bytes(data))

    protocol = IPIProtocol(Recorder())
    if positions is not None:
        protocol.sendmsg("STATUS")
        protocol.sendposdata(np.eye(3) * 50, np.eye(3) / 50, positions)
        protocol.sendmsg("GETFORCE")
    protocol.sendmsg("EXIT")
    return b"".join(sent)


def _ipi(path, answer: bytes) -> int:
    reset_warnings()  # saam-gfn1 and water may have been warned about by an earlier test
    peer = LoopbackPeer(answer)
    try:
        return cli.main(
            ["ipi", "saam-gfn1", str(path), "--address", f"127.0.0.1:{peer.port}", "--wait", "5", "--timeout", "60"]
        )
    finally:
        peer.close()


def _domain_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "saam-gfn1 was not trained on" in line]


def test_ipi_warns_about_water_once_before_serving(shown, tmp_path, capsys):
    """The structure is checked when the client starts (a server that ends at once: no force call), the
    warning attributed to the command, not to painnjax's i-PI module."""
    assert _ipi(_hydrated(tmp_path), _server_messages()) == 0
    lines = _domain_lines(capsys.readouterr().err)
    assert lines == [
        "painnjax ipi: warning: model saam-gfn1 was not trained on: molecule type W (water H2O) in SA1AM1W1: "
        "results may be far off"
    ]
    files = [f for c, f in shown if issubclass(c, DomainWarning)]
    assert len(files) == 1 and Path(files[0]).parts[-2:] == ("cli", "ipi.py")


def test_ipi_does_not_warn_again_at_the_first_force_call(shown, tmp_path, capsys):
    """After a force call on the same atoms (where the calculator meets the composition) still one warning."""
    path = _hydrated(tmp_path)
    assert _ipi(path, _server_messages(ase.io.read(path).positions)) == 0
    err = capsys.readouterr()
    assert "1 force calls" in err.out
    assert len(_domain_lines(err.err)) == 1
