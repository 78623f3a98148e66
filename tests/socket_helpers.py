"""Helpers of the tests that meet peers over sockets: a loopback server, and a command that must not hang.

Every peer is a socket on this machine's loopback interface (127.0.0.1), never another host.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest


class LoopbackPeer:
    """A loopback server: ``answer`` bytes sent to each connection, which is then held open and
    silent until :meth:`close` (None: accept and never answer)."""

    def __init__(self, answer: bytes | None = None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.answer, self.held, self.stop = answer, [], threading.Event()
        self.first: float | None = None  # time.monotonic() of the first connection
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def address(self) -> str:
        """``tcp://127.0.0.1:PORT``."""
        return f"tcp://127.0.0.1:{self.port}"

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.first = self.first or time.monotonic()
            self.held.append(conn)
            if self.answer is not None:
                try:
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        for c in self.held:
            c.close()
        self.sock.close()


def run_or_fail(cmd, env_extra: dict, timeout: float, what: str) -> tuple[subprocess.CompletedProcess, float]:
    """``cmd`` in a fresh process (JAX on the CPU) and the time.monotonic() it ended at; killed and
    failed after ``timeout`` s: it hung (no hung process is left behind, even when the test fails)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **env_extra}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{what} still waiting after {timeout} s; stderr: {err[-2000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), time.monotonic()
