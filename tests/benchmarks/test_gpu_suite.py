"""The GPU benchmark suite runs end to end on a CPU: ``bash benchmarks/gpu_suite.sh --cpu-smoke``.

One run (in a subprocess, as on the GPU machine, about 50 s on 2 cores) serves every test: each
part must finish with positive, finite rates, the grid cluster must have pairs between its
copies, and the Markdown section must hold a table for every part.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("latency", "md", "replicas", "train", "screen")

pytestmark = pytest.mark.slow


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    for module in ("jax_md", "e3nn_jax", "ase", "flax", "optax"):
        pytest.importorskip(module)
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    out = tmp_path_factory.mktemp("gpu_suite")
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), "--cpu-smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (json_file,) = out.glob("gpu_suite_*.json")
    (md_file,) = out.glob("gpu_suite_*.md")
    return json.loads(json_file.read_text()), md_file.read_text(), proc.stdout


def test_every_part_ran_without_skipping(suite):
    result, _, stdout = suite
    assert result["mode"] == "cpu-smoke"
    assert result["parts_run"] == list(PARTS)
    assert result["failed"] == []
    for name in PARTS:
        part = result["parts"][name]
        assert part["status"] == "ok", (name, part.get("error"))
        assert part["skipped"] == [], (name, part["skipped"])
        assert f"--- {name}: ok" in stdout
    assert result["jax_version"] and result["machine"]["versions"]["jax"] == result["jax_version"]
    assert result["command"].startswith("bash benchmarks/gpu_suite.sh --cpu-smoke")


def test_latency_times_every_cluster_and_layout(suite):
    rows = suite[0]["parts"]["latency"]["rows"]
    assert [r["n_atoms"] for r in rows] == [11, 22, 66]
    for r in rows:
        for layout in r["layouts"].values():
            assert layout["n"] == 3
            assert all(_positive(layout[k]) for k in ("median_ms", "min_ms", "compile_s")), layout
    assert any("PairMatrix" in k for k in rows[0]["layouts"])
    grid = rows[-1]
    assert grid["copies"] == 6 and grid["copy_of"] == "SA1AM1"
    assert grid["pairs_between_copies"] > 0  # neighbouring copies interact


def test_md_replicas_train_and_screen_rates(suite):
    parts = suite[0]["parts"]
    md = parts["md"]
    assert md["rounds"] and all(_positive(md[k]) for k in ("steps_per_second", "ms_per_step", "ns_per_day"))
    reps = parts["replicas"]["rows"]
    assert [r["replicas"] for r in reps] == [1, 2]
    assert all(_positive(r["steps_per_second"]) and _positive(r["atom_steps_per_second"]) for r in reps)
    train = parts["train"]["rows"]
    assert [r["batch_size"] for r in train] == [2, 4]
    assert all(_positive(r["structures_per_s"]) for r in train)
    screen = parts["screen"]
    assert screen["candidates"] == 4 and screen["slots"] == 4
    assert _positive(screen["structures_per_second"]) and _positive(screen["force_calls_per_second"])


def test_markdown_has_a_table_per_part(suite):
    text = suite[1]
    assert text.startswith("## GPU suite")
    sections = text.split("\n### ")[1:]
    assert len(sections) == len(PARTS)
    for section in sections:
        assert "|---|" in section, section[:200]
