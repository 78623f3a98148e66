"""painnjax.devices, and minimize_batch's slots spread over two devices, against one device.

XLA's CPU platform pretends to have several devices only when
``--xla_force_host_platform_device_count`` is set before jax is imported, so the two-device
checks run in a subprocess (one, for all of them: it reports back as JSON). The tests run in
this process see the default (one CPU device, or whatever this machine has) and check what
must hold on one device: no sharding, nothing moved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from lj_helpers import lj, random_lj_starts

from md.optimize.batch import minimize_batch
from painnjax.devices import batch_sharding, describe, local_devices, shard_batch
from painnjax.errors import InputError

ROOT = Path(__file__).resolve().parents[1]

TWO_DEVICES = r"""
import json
import jax, numpy as np
from jax.sharding import PartitionSpec
from lj_helpers import lj, random_lj_starts
from md.forces.cache import shared_cache
from md.optimize.batch import minimize_batch
from painnjax.devices import batch_sharding, describe, local_devices, shard_batch
from painnjax.errors import InputError

out = {"devices": len(local_devices()), "platform": local_devices()[0].platform}
out["mesh"] = {
    label: None if s is None else s.mesh.size
    for label, s in (("4", batch_sharding(4)), ("3", batch_sharding(3)), ("6 on 2", batch_sharding(6, 2)),
                     ("5 on list", batch_sharding(5, local_devices())), ("4 on 1", batch_sharding(4, 1)))
}
sharding = batch_sharding(4)
out["describe"] = describe(sharding, 4, "slots")
R, t = shard_batch((np.arange(24.0).reshape(4, 2, 3), 0.5), sharding)
same = bool((np.asarray(R) == np.arange(24.0).reshape(4, 2, 3)).all())
shards = R.addressable_shards
out["R"] = [R.sharding.spec == PartitionSpec("batch"), len(shards), list(shards[0].data.shape), same]
out["t"] = [t.sharding.spec == PartitionSpec(), float(t), R.sharding.mesh == t.sharding.mesh]
try:
    shard_batch(np.zeros((3, 2)), sharding)
except InputError as e:
    out["odd_axis"] = str(e)

LJ7 = lj(7)
P0 = np.stack([a.positions for a in random_lj_starts(6)])
try:
    minimize_batch(LJ7, P0, devices=3)
except InputError as e:
    out["too_many"] = str(e)
kw = dict(fmax=1e-2, max_steps=2000, chunk_steps=20)
runs = {
    "fire_1": minimize_batch(LJ7, P0, slots=4, method="fire", devices=1, **kw),
    "fire_2": minimize_batch(LJ7, P0, slots=4, method="fire", devices=2, **kw),
    "fire_all": minimize_batch(LJ7, P0, slots=4, method="fire", **kw),
    "lbfgs_1": minimize_batch(LJ7, P0, slots=4, method="lbfgs", devices=1, **kw),
    "lbfgs_2": minimize_batch(LJ7, P0, slots=4, method="lbfgs", devices=2, **kw),
}
out["runs"] = {
    k: {"devices": r.devices, "energies": r.energies.tolist(), "positions": r.positions.tolist(),
        "steps": r.steps.tolist(), "force_calls": r.force_calls.tolist(), "converged": r.converged.tolist()}
    for k, r in runs.items()
}
# one compiled chunk per placement: the one-device chunk is not reused over two devices
placements = {}
for key, (init, chunk) in shared_cache(LJ7).items():
    if key[0] == "fire-batch" and key[2][4] == 4:
        placements[str(key[2][-1])] = len(jax.tree_util.tree_leaves(chunk.input_shardings)[0].device_set)
out["placements"] = placements

# MD: 4 replicas (with replica exchange, which moves configurations between devices) on 1 and 2 devices
import jax.numpy as jnp
from ase import Atoms
from md import MDConfig, run_md

X0 = np.array([[0.0, 0, 0], [1.5, 0, 0], [0, 1.5, 0], [0, 0, 1.5], [1.2, 1.2, 0.3]])


def springs(R, **unused):
    d = jnp.linalg.norm(R[:, None] - R[None], axis=-1) + jnp.eye(len(X0))
    return 0.5 * jnp.sum((d - jnp.asarray(np.linalg.norm(X0[:, None] - X0[None], axis=-1) + np.eye(len(X0)))) ** 2)


cfg = MDConfig(temperature=(200.0, 250.0, 300.0, 350.0), replicas=4, steps=400, log_every=10, traj_every=0,
               exchange_every=20, fragment_distance=0)
md = {d: run_md(springs, Atoms("H5", positions=X0), cfg, progress=False, devices=d) for d in (1, 2)}
out["md"] = {str(d): {"devices": r.summary["devices"], "positions": r.positions.tolist(),
                      "e_pot": r.thermo["e_pot_eV"].tolist(), "walker": r.thermo["walker"].tolist(),
                      "acceptance": r.summary["exchange_acceptance"]} for d, r in md.items()}
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def two():
    """What the subprocess with two CPU devices found."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    env["JAX_PLATFORMS"] = "cpu"
    # the repository root first: tests/ holds folders named md and painnjax that would shadow the packages
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    run = subprocess.run(
        [sys.executable, "-c", TWO_DEVICES], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    line = [x for x in run.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])


def test_two_cpu_devices_are_seen_and_the_batch_split_over_the_largest_divisor(two):
    assert two["devices"] == 2 and two["platform"] == "cpu"
    # 4 over 2; 3 is odd: one device (None); 6 over at most 2; 5 over the device list: None; at most 1: None
    assert two["mesh"] == {"4": 2, "3": None, "6 on 2": 2, "5 on list": None, "4 on 1": None}
    assert two["describe"] == "4 slots over 2 cpu devices"


def test_shard_batch_splits_the_leading_axis_and_replicates_scalars(two):
    spec, shards, shard_shape, same = two["R"]
    assert spec and shards == 2 and shard_shape == [2, 2, 3] and same
    assert two["t"] == [True, 0.5, True]
    assert "(3, 2)" in two["odd_axis"] and "2 devices" in two["odd_axis"]
    assert "from 1 to 2" in two["too_many"] and "2 local cpu devices" in two["too_many"]


def test_minimize_batch_over_two_devices_gives_one_devices_results(two):
    runs = {k: {f: np.asarray(v) for f, v in r.items()} for k, r in two["runs"].items()}
    assert [runs[k]["devices"] for k in runs] == [1, 2, 2, 1, 2]
    for k, r in runs.items():
        assert r["converged"].all(), k
    # L-BFGS: bit for bit the same
    for f in ("energies", "positions", "steps", "force_calls"):
        np.testing.assert_array_equal(runs["lbfgs_2"][f], runs["lbfgs_1"][f])
    # FIRE: XLA's CPU code for a batch of 4 slots rounds differently (by an ulp of float32) from
    # its code for 2, which is what each of the two devices runs (two devices with 4 slots are
    # bit for bit one device with 2 slots, checked by hand; one device with 2 slots and with 4
    # differ by as much): the same steps, and energies and positions within 1e-6.
    for f in ("energies", "positions", "steps", "force_calls"):
        np.testing.assert_array_equal(runs["fire_all"][f], runs["fire_2"][f])  # all devices: these two
    np.testing.assert_array_equal(runs["fire_2"]["steps"], runs["fire_1"]["steps"])
    np.testing.assert_allclose(runs["fire_2"]["energies"], runs["fire_1"]["energies"], rtol=1e-6)
    np.testing.assert_allclose(runs["fire_2"]["positions"], runs["fire_1"]["positions"], rtol=1e-6, atol=1e-5)
    # a chunk compiled for one device is not reused for two, and the other way round
    assert sorted(two["placements"].values()) == [1, 2]


def test_md_replicas_over_two_devices_give_one_devices_trajectories(two):
    one, both = two["md"]["1"], two["md"]["2"]
    assert one["devices"] == 1 and both["devices"] == 2
    assert both["walker"] == one["walker"] and both["acceptance"] == one["acceptance"]
    np.testing.assert_allclose(both["positions"], one["positions"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(both["e_pot"], one["e_pot"], rtol=1e-5, atol=1e-6)


# ---- one device: in this process ------------------------------------------------------------------


def test_local_devices_and_their_limits():
    n = len(jax.local_devices())
    assert local_devices() == list(jax.local_devices()) and local_devices(1) == [jax.local_devices()[0]]
    for bad in (0, n + 1, -1, True, 1.5):
        with pytest.raises(InputError, match=f"from 1 to {n}"):
            local_devices(bad)
    with pytest.raises(InputError, match="whole number"):
        batch_sharding(0)
    with pytest.raises(InputError, match="empty"):
        batch_sharding(4, [])


def test_one_device_means_no_sharding_and_nothing_moved():
    for n in (1, 2, 7, 256):
        assert batch_sharding(n, 1) is None and batch_sharding(n, local_devices(1)) is None
    assert batch_sharding(1) is None  # one item: one device, however many there are
    tree = {"R": jnp.zeros((4, 3)), "t": 0.5, "host": np.ones(4)}
    assert shard_batch(tree, None) is tree
    platform = jax.local_devices()[0].platform
    assert describe(None, 4, "slots") == f"4 slots on 1 {platform} device"
    assert describe(None) == f"replicas on 1 {platform} device"


LJ7 = lj(7)  # one function: the compiled chunks are cached per energy function


def test_minimize_batch_on_one_device_records_it():
    P0 = np.stack([a.positions for a in random_lj_starts(3)])
    r = minimize_batch(LJ7, P0, slots=2, fmax=0.05, max_steps=500, devices=1)
    assert r.devices == 1 and r.converged.all()
    if len(jax.local_devices()) == 1:  # the default, all devices, is then this one: the same run
        again = minimize_batch(LJ7, P0, slots=2, fmax=0.05, max_steps=500)
        assert again.devices == 1
        np.testing.assert_array_equal(again.positions, r.positions)
