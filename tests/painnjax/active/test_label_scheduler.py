"""``painnjax label --scheduler`` at an address where no Dask scheduler answers (issue 32, D11).

Dask's tcp:// protocol sends pickles, unauthenticated, and trusts the length a peer announces: a
peer that is not a Dask scheduler made the client try to allocate exabytes, and one that
accepts and says nothing left it waiting for ever (Dask's handshake read has no timeout). The
peer's first message is now checked before Dask reads it: a clear error, exit 2, at once or
within the connect timeout. Every peer here is a socket on this machine's loopback interface.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="distributed is not installed (painnjax[dask])")
pytest.importorskip("tblite.ase", reason="tblite is not installed (pip install 'painnjax[xtb]')")

from ase.io import write  # noqa: E402
from socket_helpers import LoopbackPeer, run_or_fail  # noqa: E402

import painnjax.active.label as label_mod  # noqa: E402
from painnjax.active.label import check_dask_scheduler, label_file  # noqa: E402
from painnjax.cli import build_parser  # noqa: E402
from painnjax.data import bundled_structure  # noqa: E402
from painnjax.errors import InputError  # noqa: E402

WAIT = 60  # s: a run that takes longer than this has hung

#: what a peer that is not a Dask scheduler answers, and what the error says of it
NOT_DASK = {
    "ff": (b"\xff" * 8, "not a Dask scheduler"),
    "3 EiB": (struct.pack("<Q", 3 * 2**60), "announces a first message of 3458764513820540928 bytes"),
    "2 GiB": (struct.pack("<Q", 2**31), "announces a first message of 2147483648 bytes"),
    "http": (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "not a Dask scheduler"),
    "frames": (struct.pack("<QQQ", 24, 1, 99) + b"\x00" * 8, "not a Dask handshake"),
    "msgpack": (struct.pack("<QQQ", 17, 1, 1) + b"\x01", "not a Dask handshake"),
}


@pytest.fixture
def inp(tmp_path):
    path = tmp_path / "in.extxyz"
    write(path, [bundled_structure("SA1AM1")])
    return path


def _label_cli(inp, out, scheduler, timeout="3s") -> tuple[subprocess.CompletedProcess, float]:
    """``painnjax label`` in a fresh process, and the time.monotonic() it ended at (killed after
    WAIT s: a hung client fails the test)."""
    code = (
        "import sys; import painnjax.active.label as m; m.SCHEDULER_TIMEOUT = sys.argv[1]; "
        "from painnjax.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    cmd = [sys.executable, "-c", code, timeout, "label", str(inp), str(out), "--scheduler", scheduler, "--quiet"]
    return run_or_fail(cmd, {}, WAIT, "painnjax label")


@pytest.mark.parametrize("kind", list(NOT_DASK))
def test_a_peer_that_is_not_a_scheduler_is_refused_at_once(inp, tmp_path, kind):
    answer, says = NOT_DASK[kind]
    peer = LoopbackPeer(answer)
    try:
        run, ended = _label_cli(inp, tmp_path / "out.extxyz", peer.address, timeout="30s")
    finally:
        peer.close()
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"painnjax label: error: the peer at {peer.address!r}" in run.stderr, run.stderr
    assert says in run.stderr and "Traceback" not in run.stderr and "EiB" not in run.stderr, run.stderr
    assert ended - peer.first < 10  # at its first message, not after the 30 s
    assert not (tmp_path / "out.extxyz").exists()


def test_a_silent_peer_is_given_up_after_the_connect_timeout(inp, tmp_path):
    peer = LoopbackPeer()
    try:
        run, ended = _label_cli(inp, tmp_path / "out.extxyz", peer.address, timeout="3s")
    finally:
        peer.close()
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"the peer at {peer.address!r} accepted the connection but sent no Dask handshake within 3 s" in run.stderr
    assert "Traceback" not in run.stderr and ended - peer.first < 3 + 10  # the 3 s asked for


def test_the_check_in_process(inp, tmp_path, monkeypatch):
    """:func:`check_dask_scheduler` itself, and label_file raising it before any output."""
    peer = LoopbackPeer(NOT_DASK["3 EiB"][0])
    try:
        with pytest.raises(InputError, match="is not a Dask scheduler"):
            check_dask_scheduler(peer.address, 5.0)
        monkeypatch.setattr(label_mod, "SCHEDULER_TIMEOUT", "5s")
        with pytest.raises(InputError, match=f"the peer at '{peer.address}'"):
            label_file(inp, tmp_path / "x.extxyz", progress=False, scheduler=peer.address)
        bare = peer.address.removeprefix("tcp://")  # Dask's default scheme is tcp
        with pytest.raises(InputError, match="is not a Dask scheduler"):
            check_dask_scheduler(bare, 5.0)
    finally:
        peer.close()
    assert not (tmp_path / "x.extxyz").exists()
    check_dask_scheduler("tcp://127.0.0.1:9", 1.0)  # nobody there: left to Dask (which retries, then says so)
    check_dask_scheduler("tls://127.0.0.1:9", 1.0)  # tls: the TLS handshake checks the peer
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        label_file(inp, tmp_path / "x.extxyz", progress=False, scheduler="tcp://127.0.0.1:9")


def test_a_real_scheduler_passes_the_check():
    distributed = pytest.importorskip("distributed")
    in_process = {"n_workers": 1, "threads_per_worker": 1, "processes": False, "dashboard_address": None}
    with distributed.LocalCluster(**in_process) as cluster:
        check_dask_scheduler(cluster.scheduler_address, 10.0)
        worker = next(iter(cluster.scheduler_info["workers"]))
        check_dask_scheduler(worker, 10.0)  # a worker speaks Dask too: Dask itself then says more


def test_the_help_and_docs_say_what_tcp_means():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    text = " ".join(sub.choices["label"].format_help().split())
    assert "tls://" in text and "pickles" in text and "unauthenticated" in text
    docs = (Path(__file__).parents[3] / "docs" / "active-learning.md").read_text()
    assert "tls://" in docs and "unauthenticated" in docs
