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

import math
import os
import socket
import sys
import threading
import time

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from painnjax.errors import InputError

#: the name of the mesh axis the batch is split along
AXIS = "batch"

#: environment variables that name a multi-process job's coordinator and this process's place in
#: it, for clusters without a scheduler JAX detects by itself (SLURM, Open MPI, ...)
COORDINATOR_ENV = ("PAINNJAX_COORDINATOR", "PAINNJAX_NUM_PROCESSES", "PAINNJAX_PROCESS_ID")
#: the environment variable with the seconds a process waits for the job to start (all joined)
TIMEOUT_ENV = "PAINNJAX_DISTRIBUTED_TIMEOUT"
#: its default: a job whose processes have not all joined by then is given up (JAX's own is 300 s)
DEFAULT_TIMEOUT = 60.0
#: JAX's own deadline comes this much later than ours: past its deadline JAX aborts the process
#: (a C++ check failure, not an exception), so ours must always come first
JAX_GRACE = 30

# What a gRPC server (JAX's coordination service) answers to the start of an HTTP/2 connection: the
# client's preface and an empty SETTINGS frame get the server's SETTINGS frame (9-byte header: a
# 24-bit length, type 4, flags 0, stream 0).
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 4


def distributed_timeout() -> float:
    """The seconds a process waits for its multi-process job to start: ``PAINNJAX_DISTRIBUTED_TIMEOUT``
    (a number > 0) or :data:`DEFAULT_TIMEOUT`; an :class:`InputError` for anything else."""
    text = os.environ.get(TIMEOUT_ENV)
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{TIMEOUT_ENV} must be a number of seconds > 0, got {text!r}")
    return value


def _host_port(address: str, name: str = "PAINNJAX_COORDINATOR") -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) -> ``(host, port)``; an :class:`InputError` naming ``name`` otherwise."""
    host, sep, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise InputError(f"{name} must be host:port, got {address!r}")
    return host, int(port)


def _settings_prefix(head: bytes) -> bool:
    """Whether ``head`` can begin the frame header of a server's first SETTINGS frame: a length
    below 65536 (its first byte 0), type 4, no flags, stream 0. Checked byte by byte, so a peer
    that answers anything else is refused at its first wrong byte, however little it sends."""
    expected = (0, None, None, _SETTINGS, 0, 0, 0, 0, 0)
    return all(e is None or b == e for b, e in zip(head, expected))


def probe_coordinator(address: str, timeout: float) -> None:
    """Wait until a JAX coordinator answers at ``address`` (``host:port``), at most ``timeout`` seconds.

    JAX itself retries a coordinator it cannot reach, and waits on one that accepts the
    connection but never answers, for its whole ``initialization_timeout`` and then aborts the
    process. This opens an HTTP/2 connection as gRPC does and reads the server's first frame:
    a refused connection is retried until the deadline (process 0 may start after this one); a
    peer that answers anything but HTTP/2 SETTINGS is an :class:`InputError` at once, one that
    stays silent or is never reachable one at the deadline, each naming the address.
    """
    host, port = _host_port(address)
    deadline = time.monotonic() + timeout
    why = "nobody was listening"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise InputError(
                f"no JAX coordinator answered at {address} within {timeout:g} s ({why}): is process 0 of the job "
                f"running there? ({TIMEOUT_ENV} sets the wait)"
            )
        connected, head = False, b""
        try:
            with socket.create_connection((host, port), timeout=min(left, 5.0)) as conn:
                connected = True
                conn.settimeout(max(deadline - time.monotonic(), 0.01))
                conn.sendall(_HTTP2_PREFACE)
                while len(head) < 9 and _settings_prefix(head):
                    part = conn.recv(9 - len(head))
                    if not part:
                        break
                    head += part
        except socket.gaierror as exc:
            raise InputError(f"PAINNJAX_COORDINATOR {address!r}: cannot resolve the host {host!r} ({exc})") from None
        except TimeoutError:
            if not connected:  # connecting timed out (a dropped packet, a firewall): again until the deadline
                why = "connecting timed out"
                continue
            raise InputError(
                f"the peer at {address} accepted the connection but did not answer as a JAX coordinator within "
                f"{timeout:g} s: is that process 0's address? ({TIMEOUT_ENV} sets the wait)"
            ) from None
        except OSError as exc:  # refused, reset, unreachable: not (yet) there
            why = exc.strerror or type(exc).__name__
            time.sleep(min(0.25, max(deadline - time.monotonic(), 0)))
            continue
        if _settings_prefix(head) and len(head) < 9:  # closed without a word
            why = "the peer closed the connection without answering"
            time.sleep(min(0.25, max(deadline - time.monotonic(), 0)))
            continue
        if not _settings_prefix(head):
            raise InputError(
                f"the peer at {address} is not a JAX coordinator (it answered {head!r}, not gRPC): "
                "PAINNJAX_COORDINATOR must be process 0's host:port"
            )
        return


def _check_port_free(address: str) -> None:
    """Process 0: an :class:`InputError` naming ``address`` when the port its coordinator service
    listens on (``JAX_COORDINATOR_BIND_ADDRESS``, else every interface) is taken on this machine.
    JAX itself fails there with an error or, at times, a segmentation fault (jaxlib 0.10)."""
    bind = os.environ.get("JAX_COORDINATOR_BIND_ADDRESS") or f"[::]:{_host_port(address)[1]}"
    host, port = _host_port(bind, "JAX_COORDINATOR_BIND_ADDRESS")
    try:
        if host == "::" and socket.has_dualstack_ipv6():  # JAX's default: every address, v4 and v6
            family, where = socket.AF_INET6, ("::", port)
        else:
            family, _, _, _, where = socket.getaddrinfo(
                "0.0.0.0" if host == "::" else host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC: old connections do not count
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(where)
    except OSError as exc:
        raise InputError(
            f"process 0 cannot start the JAX coordinator of {address}: cannot listen on {bind} "
            f"({exc.strerror or exc}); choose a free port in PAINNJAX_COORDINATOR"
        ) from None


def _give_up(message: str) -> None:
    """The watchdog's end of a job that did not start: the message, and exit status 2 at once
    (the main thread is inside JAX's connect, which no exception reaches)."""
    sys.stderr.write(f"painnjax: error: {message}\n")
    sys.stderr.flush()
    os._exit(2)


def initialize_distributed(timeout: float | None = None) -> None:
    """Join a multi-process JAX job (several hosts, or one process per GPU): :func:`jax.distributed.initialize`.

    Call it first, before anything else uses JAX. Under SLURM (``srun``), Open MPI and the
    other launchers JAX knows, the coordinator, the number of processes and this process's
    index are found by JAX itself; elsewhere set ``PAINNJAX_COORDINATOR`` (``host:port`` of
    process 0), ``PAINNJAX_NUM_PROCESSES`` and ``PAINNJAX_PROCESS_ID``. On CPUs the processes
    talk through gloo. Afterwards :func:`batch_sharding` spreads a batch over the devices of
    every process (:func:`distributed` is True), and :func:`to_host` gathers results.

    The job must start within ``timeout`` seconds (None: ``PAINNJAX_DISTRIBUTED_TIMEOUT`` or
    :data:`DEFAULT_TIMEOUT`): every process has joined the coordinator, which process 0 starts.
    A process other than 0 first checks that a JAX coordinator answers at the address
    (:func:`probe_coordinator`): an :class:`InputError` naming it when none does. Past the
    deadline a process that is still waiting (process 0 for the others, any of them when a
    process never comes) writes an error naming the address and exits with status 2.
    """
    if jax.distributed.is_initialized():
        return
    values = [os.environ.get(k) for k in COORDINATOR_ENV]
    given = [v is not None for v in values]
    if any(given) and not all(given):
        missing = ", ".join(k for k, g in zip(COORDINATOR_ENV, given) if not g)
        raise InputError(f"a multi-process run needs all of {', '.join(COORDINATOR_ENV)}; missing {missing}")
    timeout = distributed_timeout() if timeout is None else float(timeout)
    if not (math.isfinite(timeout) and timeout > 0):
        raise InputError(f"the timeout of a multi-process start must be a number of seconds > 0, got {timeout!r}")
    start = time.monotonic()
    if all(given):
        address, n, k = values
        _host_port(address)
        if not (n.isdecimal() and int(n) >= 1 and k.isdecimal() and int(k) < int(n)):
            raise InputError(
                f"PAINNJAX_NUM_PROCESSES must be a whole number >= 1 and PAINNJAX_PROCESS_ID one from 0 to "
                f"PAINNJAX_NUM_PROCESSES - 1, got {n!r} and {k!r}"
            )
        n, k = int(n), int(k)
        where = f"the job at {address} (process {k} of {n})"
        if k == 0:  # process 0 starts the coordinator; the others first check that one answers
            _check_port_free(address)
        else:
            probe_coordinator(address, timeout)
        args = (address, n, k)
    else:
        where = "the job JAX found in the environment (SLURM, Open MPI, ...)"
        args = ()
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU processes (GPUs use NCCL)
    watchdog = threading.Timer(
        max(start + timeout - time.monotonic(), 0.1),
        _give_up,
        (
            f"{where} did not start within {timeout:g} s: not every process joined (srun or mpirun start one "
            f"per host; with {COORDINATOR_ENV[0]}, start all {COORDINATOR_ENV[1]} of them), or raise {TIMEOUT_ENV}",
        ),
    )
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(*args, initialization_timeout=math.ceil(timeout) + JAX_GRACE)
    except (ValueError, RuntimeError) as exc:  # RuntimeError: jax.errors.JaxRuntimeError, e.g. a port in use
        raise InputError(
            f"could not join {where} ({exc}); start one process per host with srun or mpirun, "
            f"or set {', '.join(COORDINATOR_ENV)}"
        ) from exc
    finally:
        watchdog.cancel()


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
