"""Memory sanity: an MD run that cannot fit is refused with the estimate before anything is allocated."""

from __future__ import annotations

import re
import time
import warnings

import pytest
from md_helpers import elastic_network

from md import MDConfig, run_md
from md.dynamics.resources import (
    MemoryEstimateWarning,
    available_memory,
    check_md_memory,
    device_memory,
    md_memory_estimate,
)
from painnjax import InputError


def test_a_huge_replica_count_is_refused_at_once_with_the_estimate(sa1am1, tmp_path):
    energy = elastic_network(sa1am1.positions)
    cfg = MDConfig(replicas=10**12, steps=10)
    t0 = time.perf_counter()
    with pytest.raises(InputError) as exc:
        run_md(energy, sa1am1, cfg, out=tmp_path / "run", progress=False)
    assert time.perf_counter() - t0 < 10  # nothing allocated (it would take minutes, or fail)
    msg = str(exc.value)
    assert msg.startswith("[md] replicas: an MD run of 1000000000000 replica(s) of 11 atoms needs about ")
    assert re.search(r"needs about [\d.]+ PiB \(a rough estimate: [\d.]+ KiB per replica", msg), msg
    assert "available (" in msg and "run at most about" in msg
    assert not (tmp_path / "run").exists()


def test_the_estimate_grows_with_replicas_atoms_and_records():
    cfg = MDConfig(steps=1000)
    one = md_memory_estimate(11, cfg)
    assert md_memory_estimate(11, MDConfig(steps=1000, replicas=8)) == 8 * one
    assert md_memory_estimate(44, cfg) > one
    assert md_memory_estimate(11, cfg, itemsize=8) > one
    # a chunk of 50 records of (N, 3) positions, velocities and forces, on device and host
    assert one > 2 * 50 * 3 * 11 * 3 * 4


def test_refused_above_the_memory_available_and_warned_above_half():
    cfg = MDConfig(replicas=100, steps=100)
    need = md_memory_estimate(11, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemoryEstimateWarning)
        assert check_md_memory(11, cfg, available=(3 * need, "test")) == need
        assert check_md_memory(11, cfg, available=(None, "")) == need  # unknown: no check
    with pytest.warns(MemoryEstimateWarning, match=r"more than half of the [\d.]+ MiB available \(test\)") as caught:
        check_md_memory(11, cfg, available=(need + need // 2, "test"))
    assert caught[0].filename == __file__
    with pytest.raises(InputError, match=r"available \(test\); run at most about 66 replicas at once"):
        check_md_memory(11, cfg, available=(need * 2 // 3, "test"))
    have, where = available_memory()
    assert have is None or (have > 0 and where)


def test_an_accelerator_counts_with_its_free_memory(monkeypatch):
    import jax

    class FakeGPU:
        platform, id = "gpu", 0

        def memory_stats(self):
            return {"bytes_limit": 1000, "bytes_in_use": 400}

    monkeypatch.setattr(jax, "devices", lambda *args: [FakeGPU()])
    assert device_memory() == (600, "free on gpu device 0")
    assert available_memory() == (600, "free on gpu device 0")  # less than the host's
