"""``--distributed`` when the job cannot start (issue 32, D4): exit 2 naming the coordinator's
address within ``PAINNJAX_DISTRIBUTED_TIMEOUT`` seconds, never JAX's five-minute wait or a hung
process.

Every peer here is a socket on the loopback interface of this machine: one that accepts and
never answers, one that answers bytes that are not gRPC, nobody at all (process 0 waiting for a
process 1 that never comes), and a real JAX coordinator, which the reachability probe must pass.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from socket_helpers import LoopbackPeer, run_or_fail

from painnjax.cli import build_parser
from painnjax.devices import DEFAULT_TIMEOUT, TIMEOUT_ENV, probe_coordinator
from painnjax.errors import InputError

MD = ["md", "saam-gfn1", "SA1AM1", "--steps", "20", "--quiet", "--distributed"]
WAIT = 90  # s: far beyond the 3 s asked for, far below JAX's own 300 s


def _painnjax(args, env_extra, timeout=WAIT) -> tuple[subprocess.CompletedProcess, float]:
    """The command's result and the time.monotonic() it ended at (killed after ``timeout`` s: it hung)."""
    cmd = [sys.executable, "-m", "painnjax.cli", *args]
    return run_or_fail(cmd, {"XLA_FLAGS": "", **env_extra}, timeout, "the job (it never gave up)")


def _job(port: int, process_id: int, timeout="3") -> dict:
    return {
        "PAINNJAX_COORDINATOR": f"127.0.0.1:{port}",
        "PAINNJAX_NUM_PROCESSES": "2",
        "PAINNJAX_PROCESS_ID": str(process_id),
        TIMEOUT_ENV: timeout,
    }


@pytest.fixture
def silent():
    peer = LoopbackPeer()
    yield peer
    peer.close()


def test_process_1_gives_up_on_a_silent_coordinator(tmp_path, silent):
    """The issue's repro: a coordinator address where a socket accepts and never answers."""
    run, ended = _painnjax([*MD, "--out", str(tmp_path / "d")], _job(silent.port, 1))
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"127.0.0.1:{silent.port}" in run.stderr and TIMEOUT_ENV in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and ended - silent.first < 3 + 10  # the 3 s asked for
    assert not (tmp_path / "d").exists()


def test_process_1_refuses_a_peer_that_is_not_a_coordinator(tmp_path):
    peer = LoopbackPeer(b"\xff" * 8)
    try:
        run, ended = _painnjax([*MD, "--out", str(tmp_path / "d")], _job(peer.port, 1, timeout="30"))
    finally:
        peer.close()
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"127.0.0.1:{peer.port}" in run.stderr and "not a JAX coordinator" in run.stderr, run.stderr
    assert ended - peer.first < 10  # at once, not after the 30 s


def test_process_0_gives_up_when_the_others_never_join(tmp_path):
    with socket.socket() as s:  # a free port: process 0 starts the coordinator there itself
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run, _ = _painnjax([*MD, "--out", str(tmp_path / "d")], _job(port, 0))
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"127.0.0.1:{port}" in run.stderr and "process 0 of 2" in run.stderr, run.stderr
    assert "did not start within 3 s" in run.stderr and "Check failure" not in run.stderr, run.stderr


def test_process_0_on_a_port_in_use(tmp_path, silent):
    run, _ = _painnjax([*MD, "--out", str(tmp_path / "d")], _job(silent.port, 0))
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"127.0.0.1:{silent.port}" in run.stderr and "Traceback" not in run.stderr, run.stderr


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "nan"])
def test_a_bad_timeout_is_named(tmp_path, bad, silent):
    run, _ = _painnjax([*MD, "--out", str(tmp_path / "d")], _job(silent.port, 1, timeout=bad))
    assert run.returncode == 2 and f"{TIMEOUT_ENV} must be a number of seconds > 0, got {bad!r}" in run.stderr
    assert silent.first is None  # refused before any connection


def test_the_probe_passes_a_real_coordinator_and_waits_for_a_late_one():
    """A one-process JAX job's coordinator answers the probe; a coordinator that comes up while
    the probe runs is waited for (process 0 may start after the others)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    with pytest.raises(InputError, match=f"no JAX coordinator answered at {address} within 0.5 s"):
        probe_coordinator(address, 0.5)  # nobody there: connection refused until the end
    code = (
        "import jax, sys, time; jax.config.update('jax_cpu_collectives_implementation', 'gloo'); "
        f"jax.distributed.initialize('{address}', 1, 0); print('up', flush=True); sys.stdin.read()"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}
    server = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        t0 = time.monotonic()
        probe_coordinator(address, 60)  # waits while the process starts
        assert time.monotonic() - t0 < 60
        probe_coordinator(address, 5)  # and again, at once
    finally:
        server.kill()
        server.wait()


def test_the_help_names_the_timeout():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for command in ("md", "train"):
        text = " ".join(sub.choices[command].format_help().split())
        assert f"{TIMEOUT_ENV} seconds (default {DEFAULT_TIMEOUT:g})" in text
