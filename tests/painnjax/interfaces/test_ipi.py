"""painnjax as an i-PI client: a short PIMD run of SA1AM1 (4 beads) against the real i-PI server,
and the client's clean ends (no server, a server that goes away or stays silent)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import jax
import numpy as np
import pytest

from painnjax.cli import main
from painnjax.data import bundled_structure, bundled_structure_path
from painnjax.errors import InputError
from painnjax.interfaces.calculator import PaiNNCalculator
from painnjax.interfaces.ipi import Address, ServerGone, serve
from painnjax.io.modelfile import save_model

BEADS, STEPS = 4, 3

# PIMD NVT with a PILE-L thermostat, a potential (eV) per step; the cell only satisfies i-PI's
# initialiser (pbc="false": positions are never wrapped).
INPUT = """<simulation verbosity="low" safe_stride="1000">
  <output prefix="sim">
    <properties stride="1" filename="out">[ step, conserved{{electronvolt}}, potential{{electronvolt}} ]</properties>
  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>7</seed></prng>
  <ffsocket name="painnjax" mode="unix" pbc="false">
    <address>{name}</address>
    <latency>1e-3</latency>
  </ffsocket>
  <system>
    <initialize nbeads="{beads}">
      <file mode="xyz" units="angstrom">start.xyz</file>
      <cell mode="abc" units="angstrom"> [ 50.0, 50.0, 50.0 ] </cell>
      <velocities mode="thermal" units="kelvin">300</velocities>
    </initialize>
    <forces><force forcefield="painnjax"/></forces>
    <motion mode="dynamics">
      <dynamics mode="nvt">
        <timestep units="femtosecond">0.5</timestep>
        <thermostat mode="pile_l"><tau units="femtosecond">100</tau></thermostat>
      </dynamics>
    </motion>
    <ensemble><temperature units="kelvin">300</temperature></ensemble>
  </system>
</simulation>
"""


def _i_pi() -> str | None:
    """The i-PI server's command: on PATH, or beside this Python (a venv's bin/, which CI does not put on
    PATH: it runs .venv/bin/python -m pytest); None when the ipi package is not installed."""
    beside = Path(sys.executable).parent / "i-pi"
    return shutil.which("i-pi") or (str(beside) if beside.exists() else None)


@pytest.fixture(scope="module")
def tiny_model(small_model, tmp_path_factory):
    """The session's small model (compiled once for the suite) as a file."""
    return save_model(small_model, tmp_path_factory.mktemp("ipi") / "small.painn")


@pytest.mark.slow
def test_pimd_energies_are_the_models(tiny_model, tmp_path):
    """i-PI's bead-averaged potential at every step is the mean of the energies the client sent for
    that step's beads; at step 0 (every bead at the start geometry) it is the model's energy of
    SA1AM1; and the forces sent keep PIMD's conserved quantity."""
    i_pi = _i_pi()
    if i_pi is None:
        pytest.skip("i-PI is not installed (pip install ipi)")
    name = f"painnjax-test-{uuid.uuid4().hex[:8]}"
    shutil.copy(bundled_structure_path("SA1AM1"), tmp_path / "start.xyz")
    (tmp_path / "input.xml").write_text(INPUT.format(steps=STEPS, beads=BEADS, name=name))
    server = subprocess.Popen(
        [i_pi, "input.xml"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        atoms = bundled_structure("SA1AM1")
        stats = serve(
            tiny_model, atoms, Address.parse(unix=name), dtype="float64", wait=30, timeout=30, keep_energies=True
        )
        log, _ = server.communicate(timeout=30)
    finally:
        server.kill()
        server.communicate()
    assert server.returncode == 0, log[-2000:]
    assert stats.ended == "exit" and stats.force_calls == BEADS * (STEPS + 1)
    rows = np.loadtxt(tmp_path / "sim.out", ndmin=2)
    steps, conserved, potential = rows[:, 0], rows[:, 1], rows[:, 2]
    assert steps.tolist() == list(range(STEPS + 1))
    sent = np.asarray(stats.energies).reshape(STEPS + 1, BEADS).mean(axis=1)
    # i-PI's hartree and ASE's (on the wire) differ by CODATA editions: ~1e-7 relative
    np.testing.assert_allclose(potential, sent, rtol=1e-6)
    with jax.enable_x64(True):
        atoms.calc = PaiNNCalculator(tiny_model, dtype="float64")
        e0 = atoms.get_potential_energy()
    np.testing.assert_allclose(potential[0], e0, rtol=1e-6)
    assert np.ptp(potential) > 1e-3  # the beads moved
    assert np.ptp(conserved) < 0.02 * np.ptp(potential)  # forces consistent with the energies


def _peer(script):
    """A UNIX-socket server at a fresh i-PI address that runs ``script(conn)`` for one client."""
    name = f"painnjax-test-{uuid.uuid4().hex[:8]}"
    path = Address.parse(unix=name).path
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        try:
            script(conn)
        finally:
            conn.close()
            srv.close()
            os.unlink(path)

    threading.Thread(target=run, daemon=True).start()
    return name


def test_server_gone_mid_run(tiny_model, sa1am1):
    """A server that asks for the status and hangs up: ServerGone naming the address, not a traceback."""

    def script(conn):
        conn.sendall(b"STATUS".ljust(12))
        assert conn.recv(12).strip() == b"READY"

    name = _peer(script)
    with pytest.raises(ServerGone, match=f"ipi_{name} closed the connection after 0 force call"):
        serve(tiny_model, sa1am1, Address.parse(unix=name), wait=5, timeout=5)


def test_silent_server_times_out(tiny_model, sa1am1):
    done = threading.Event()
    name = _peer(lambda conn: done.wait(5))
    with pytest.raises(ServerGone, match="sent nothing for 0.3 s"):
        serve(tiny_model, sa1am1, Address.parse(unix=name), wait=5, timeout=0.3)
    done.set()


def test_cli_no_server_is_exit_2(tiny_model, capsys):
    name = f"painnjax-test-{uuid.uuid4().hex[:8]}"
    assert main(["ipi", str(tiny_model), "SA1AM1", "--unix", name, "--wait", "0"]) == 2
    assert f"no i-PI server at UNIX socket /tmp/ipi_{name}" in capsys.readouterr().err
    assert main(["ipi", str(tiny_model), "SA1AM1", "--address", "nowhere"]) == 2
    assert "expected unix:NAME or HOST:PORT" in capsys.readouterr().err


def test_cli_server_gone_is_exit_1(tiny_model, capsys):
    name = _peer(lambda conn: None)  # accepts and hangs up at once
    assert main(["ipi", str(tiny_model), "SA1AM1", "--unix", name, "--wait", "5"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "closed the connection" in err[0]


def test_wrong_atom_count_names_the_structure(tiny_model, sa2am2):
    """The server sends SA1AM1's 11 atoms to a client given SA2AM2: bad input, said so."""
    from ase.calculators.socketio import IPIProtocol

    sa1 = bundled_structure("SA1AM1")

    def script(conn):
        IPIProtocol(conn).sendposdata(np.eye(3) * 50, np.eye(3) / 50, sa1.positions)

    name = _peer(script)
    with pytest.raises(InputError, match="sends 11 atoms; the structure given has 22"):
        serve(tiny_model, sa2am2, Address.parse(unix=name), wait=5, timeout=5)
