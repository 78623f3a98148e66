"""A batch of independent items (MD replicas, screening slots) spread over this machine's devices.

The batched codes vmap one computation over a leading "batch" axis (replicas of an MD run, the
slots of :func:`md.optimize.batch.minimize_batch`). Placing that axis across several local
devices with :mod:`jax.sharding` makes XLA split the vmapped computation between them: each
device computes its share of the items, and results are those of one device. Only local devices
(the GPUs of one machine) are used; on a CPU, XLA pretends to have several devices when
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` is set before jax is imported (for tests).

The number of devices used is the largest that divides the batch evenly (every device then holds
the same number of items), at most the number asked for. With one device there is nothing to do:
:func:`batch_sharding` returns None and :func:`shard_batch` hands its input back unchanged.

Several processes (hosts) join one job with :func:`initialize_distributed`; the batch is then
split over the devices of all of them, every process runs the same program on the same inputs,
:func:`to_host` gathers the results to every process, and process 0 writes the files.

Example:
    >>> sharding = batch_sharding(8)                       # doctest: +SKIP
    >>> state = shard_batch(state, sharding)              # doctest: +SKIP
    >>> describe(sharding, 8, "replicas")                  # doctest: +SKIP
    '8 replicas over 4 gpu devices'
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from painnjax.errors import InputError

#: the name of the mesh axis the batch is split along
AXIS = "batch"

#: environment variables that name a multi-process job's coordinator and this process's place in
#: it, for clusters without a scheduler JAX detects by itself (SLURM, Open MPI, ...)
COORDINATOR_ENV = ("PAINNJAX_COORDINATOR", "PAINNJAX_NUM_PROCESSES", "PAINNJAX_PROCESS_ID")


def initialize_distributed() -> None:
    """Join a multi-process JAX job (several hosts, or one process per GPU): :func:`jax.distributed.initialize`.

    Call it first, before anything else uses JAX. Under SLURM (``srun``), Open MPI and the
    other launchers JAX knows, the coordinator, the number of processes and this process's
    index are found by JAX itself; elsewhere set ``PAINNJAX_COORDINATOR`` (``host:port`` of
    process 0), ``PAINNJAX_NUM_PROCESSES`` and ``PAINNJAX_PROCESS_ID``. On CPUs the processes
    talk through gloo. Afterwards :func:`batch_sharding` spreads a batch over the devices of
    every process (:func:`distributed` is True), and :func:`to_host` gathers results.
    """
    if jax.distributed.is_initialized():
        return
    values = [os.environ.get(k) for k in COORDINATOR_ENV]
    given = [v is not None for v in values]
    if any(given) and not all(given):
        missing = ", ".join(k for k, g in zip(COORDINATOR_ENV, given) if not g)
        raise InputError(f"a multi-process run needs all of {', '.join(COORDINATOR_ENV)}; missing {missing}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU processes (GPUs use NCCL)
    try:
        if all(given):
            jax.distributed.initialize(values[0], int(values[1]), int(values[2]))
        else:
            jax.distributed.initialize()
    except (ValueError, RuntimeError) as exc:
        raise InputError(
            f"could not join a multi-process JAX job ({exc}); start one process per host with srun or mpirun, "
            f"or set {', '.join(COORDINATOR_ENV)}"
        ) from exc


def distributed() -> bool:
    """Whether this process is one of several of a :func:`initialize_distributed` job."""
    return jax.process_count() > 1


def is_main_process() -> bool:
    """Whether this is process 0 (the one that writes files in a multi-process job)."""
    return jax.process_index() == 0


def all_process_devices(n_items: int, what: str = "batch") -> list[jax.Device]:
    """Every device of every process of a multi-process job, when they can share ``n_items``
    evenly (each must hold its share); else an :class:`InputError` naming ``what``."""
    devices = jax.devices()
    if n_items % len(devices):
        raise InputError(
            f"a run over {jax.process_count()} processes ({len(devices)} devices in all) needs a {what} "
            f"that is a multiple of {len(devices)}, got {n_items}"
        )
    return devices


def to_host(tree):
    """Every array leaf of ``tree`` as a numpy array on this host, whole: parts held by other
    processes are gathered (a collective: every process of the job must call it alike)."""
    from jax.experimental import multihost_utils

    def fetch(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree_util.tree_map(fetch, tree)


def local_devices(n: int | None = None) -> list[jax.Device]:
    """The first ``n`` devices of this process (all of them when ``n`` is None).

    Raises :class:`~painnjax.errors.InputError` when ``n`` is below 1 or more than there are.

    Example:
        >>> local_devices()          # doctest: +SKIP
        [CpuDevice(id=0), CpuDevice(id=1)]
        >>> local_devices(1)         # doctest: +SKIP
        [CpuDevice(id=0)]
    """
    devices = jax.local_devices()
    if n is None:
        return list(devices)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(devices):
        have = f"{len(devices)} local {devices[0].platform} device{'s' if len(devices) != 1 else ''}"
        raise InputError(f"devices must be a whole number from 1 to {len(devices)} (there are {have}), got {n!r}")
    return list(devices[: int(n)])


def batch_sharding(n_items: int, devices: int | list | None = None) -> NamedSharding | None:
    """A sharding that splits a leading axis of ``n_items`` over as many devices as divide it evenly.

    Args:
        n_items: the length of the batch axis (replicas, slots).
        devices: how many local devices to use at most (an int), which ones (a list of devices),
            or None for all local devices.

    Returns:
        A :class:`jax.sharding.NamedSharding` over a one-axis mesh (axis ``"batch"``) of the
        largest number ``d`` of the devices (at most all of them) that divides ``n_items``,
        splitting the leading axis; None when ``d`` is 1 (one device, or an ``n_items`` no
        device count divides, e.g. a prime larger than the number of devices): callers then
        run as on one device.

    Example:
        >>> batch_sharding(8, 4).mesh.shape          # doctest: +SKIP
        OrderedDict([('batch', 4)])
        >>> batch_sharding(6, 4).mesh.shape          # 6 is not a multiple of 4: 3 devices  # doctest: +SKIP
        OrderedDict([('batch', 3)])
        >>> batch_sharding(7, 4) is None             # 7 is prime: one device  # doctest: +SKIP
        True
    """
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise InputError(f"the batch must hold a whole number >= 1 of items, got {n_items!r}")
    if distributed():  # every device of every process: each must hold its share
        if devices is not None:
            raise InputError("a multi-process run uses every device of every process (leave devices unset)")
        return NamedSharding(Mesh(np.array(all_process_devices(n_items)), (AXIS,)), PartitionSpec(AXIS))
    if devices is None or isinstance(devices, (int, np.integer)):
        devices = local_devices(devices)
    else:
        devices = list(devices)
        if not devices:
            raise InputError("the list of devices is empty")
    d = max(k for k in range(1, len(devices) + 1) if n_items % k == 0)
    if d == 1:
        return None
    return NamedSharding(Mesh(np.array(devices[:d]), (AXIS,)), PartitionSpec(AXIS))


def shard_batch(tree, sharding: NamedSharding | None):
    """Every array leaf of ``tree`` placed with ``sharding`` (its leading axis is the batch axis).

    Leaves with no axes (scalars) are copied to every device of the mesh instead (a replicated
    sharding, ``PartitionSpec()``). With ``sharding`` None, ``tree`` itself is returned, untouched.

    Example:
        >>> sharding = batch_sharding(4, 2)                        # doctest: +SKIP
        >>> R, t = shard_batch((np.zeros((4, 7, 3)), 0.5), sharding)  # doctest: +SKIP
        >>> R.sharding.spec, t.sharding.spec                       # doctest: +SKIP
        (PartitionSpec('batch',), PartitionSpec())
    """
    if sharding is None:
        return tree
    replicated = NamedSharding(sharding.mesh, PartitionSpec())
    d = sharding.mesh.size

    def place(x):
        shape = np.shape(x)
        if not shape:
            return jax.device_put(x, replicated)
        if shape[0] % d:
            raise InputError(f"an array of shape {shape} cannot be split over {d} devices along its first axis")
        return jax.device_put(x, sharding)

    return jax.tree_util.tree_map(place, tree)


def describe(sharding: NamedSharding | None, n_items: int | None = None, noun: str = "replicas") -> str:
    """A short account of a placement for logs and summaries.

    Args:
        sharding: from :func:`batch_sharding` (None: one device, the default one).
        n_items: the batch's length, if it is to be named.
        noun: what the items are ("replicas", "slots", "structures").

    Example:
        >>> describe(batch_sharding(4, 2), 4, "slots")       # doctest: +SKIP
        '4 slots over 2 cpu devices'
        >>> describe(None, 4, "replicas")                   # doctest: +SKIP
        '4 replicas on 1 cpu device'
    """
    items = noun if n_items is None else f"{n_items} {noun}"
    if sharding is None:
        return f"{items} on 1 {jax.devices()[0].platform} device"
    devices = sharding.mesh.devices.flat
    platforms = sorted({d.platform for d in devices})
    return f"{items} over {sharding.mesh.size} {'/'.join(platforms)} devices"
