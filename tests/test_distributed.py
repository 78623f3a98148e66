"""A multi-process run (``jax.distributed``, as on several hosts) gives the trajectories of one process.

Two CPU processes, one device each, join through gloo on this machine
(``PAINNJAX_COORDINATOR`` and friends, what SLURM's ``srun`` would tell JAX), run ``painnjax md
--distributed`` with two replicas (one on each process), and are compared with a one-process
run of the same command; then both are continued with ``--restart``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from md.dynamics.output import read_thermo

pytestmark = pytest.mark.slow

MD = ["md", "saam-gfn1", "SA1AM1", "--T", "300", "400", "--log-every", "10", "--checkpoint-every", "20", "--quiet"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _painnjax(args, env_extra=None):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "", **(env_extra or {})}
    cmd = [sys.executable, "-m", "painnjax.cli", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run_pair(args) -> list[str]:
    port = _free_port()
    procs = [
        _painnjax(
            [*args, "--distributed"],
            {
                "PAINNJAX_COORDINATOR": f"localhost:{port}",
                "PAINNJAX_NUM_PROCESSES": "2",
                "PAINNJAX_PROCESS_ID": str(k),
            },
        )
        for k in range(2)
    ]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=400)[0])
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    return outs


def test_two_processes_run_the_replicas_of_one(tmp_path):
    """40 steps over two processes, then continued to 60 with --restart: the thermo log of one
    process running 60 steps straight (a restart continues exactly: tests/md/dynamics)."""
    two, one = tmp_path / "two", tmp_path / "one"
    single = _painnjax([*MD, "--steps", "60", "--devices", "1", "--out", str(one)])
    outs = _run_pair([*MD, "--steps", "40", "--out", str(two)])
    assert single.wait(timeout=400) == 0, single.stdout.read()[-3000:]
    assert "process 1 of 2" in outs[1]
    summary = json.loads((two / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["devices"] == 2
    a, b = read_thermo(two), read_thermo(one)
    first = b["step"] <= 40
    np.testing.assert_array_equal(a["replica"], b["replica"][first])
    np.testing.assert_allclose(a["e_pot_eV"], b["e_pot_eV"][first], rtol=1e-6)
    np.testing.assert_allclose(a["temperature_K"], b["temperature_K"][first], rtol=1e-4)
    _run_pair([*MD, "--steps", "60", "--restart", "--out", str(two)])  # both processes read the checkpoint
    a = read_thermo(two)
    np.testing.assert_array_equal(a["step"], b["step"])
    np.testing.assert_allclose(a["e_pot_eV"], b["e_pot_eV"], rtol=1e-6)


def test_a_batch_the_processes_cannot_share_evenly_is_refused(tmp_path):
    outs = _run_pair_expecting_failure([*MD[:3], "--T", "300", "--steps", "20", "--out", str(tmp_path / "odd")])
    assert any("needs a batch that is a multiple of 2" in out for out in outs), outs


def _run_pair_expecting_failure(args) -> list[str]:
    port = _free_port()
    env = {"PAINNJAX_COORDINATOR": f"localhost:{port}", "PAINNJAX_NUM_PROCESSES": "2"}
    procs = [_painnjax([*args, "--distributed"], {**env, "PAINNJAX_PROCESS_ID": str(k)}) for k in range(2)]
    try:
        outs = [p.communicate(timeout=400)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 2 for p in procs), outs
    return outs


TINY = """
[model]
n_atom_basis = 8
n_interactions = 1
n_rbf = 4
cutoff = 5.0

[train]
epochs = 1
batch_size = 4

[split]
valid_fraction = 0.25
seed = 1
"""


def test_two_processes_train_as_two_devices_of_one(tmp_path):
    """Data-parallel training over two processes gives the metrics of one process with two devices
    (bit for bit: the same split of each batch); process 1 keeps its copy in RUN/process-1."""
    from ase.io import read, write

    from painnjax.data import bundled_dataset_path

    frames = read(bundled_dataset_path("saam-gfn1-small"), ":24")
    write(tmp_path / "frames.extxyz", frames)
    (tmp_path / "tiny.toml").write_text(TINY)
    args = ["train", "--data", str(tmp_path / "frames.extxyz"), "--config", str(tmp_path / "tiny.toml"), "--quiet"]
    one = _painnjax([*args, "--out", str(tmp_path / "one")], {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    _run_pair([*args, "--out", str(tmp_path / "two")])
    assert one.wait(timeout=400) == 0, one.stdout.read()[-3000:]

    def rows(folder):
        lines = (folder / "metrics.csv").read_text().splitlines()
        return [line.split(",")[2:] for line in lines[1:]]  # without epoch and seconds

    assert rows(tmp_path / "two") == rows(tmp_path / "one") == rows(tmp_path / "two" / "process-1")
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert len(config["devices"]) == 2
