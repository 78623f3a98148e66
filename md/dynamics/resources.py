"""Memory an MD run will take, estimated before anything is allocated, against the memory there is.

:func:`md_memory_estimate` is a rough upper estimate of the arrays an MD run keeps for its
replicas (see there for what it counts); :func:`available_memory` is what the machine can give
now; :func:`check_md_memory` (called by :func:`md.dynamics.simulate.run_md` before it allocates
anything) refuses a run whose estimate exceeds the available memory with an
:class:`~painnjax.errors.InputError` that gives the estimate, and warns
(:class:`MemoryEstimateWarning`) above half of it. A million replicas are refused at once rather
than after minutes of allocating.

Example:
    >>> from md.dynamics.config import MDConfig
    >>> cfg = MDConfig(replicas=1_000_000)
    >>> md_memory_estimate(11, cfg) > 10 * 2**30   # 11 atoms: tens of GiB
    True
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from md.dynamics.config import MDConfig
from md.forces.potential import MDPotential
from painnjax.errors import InputError

#: bytes per value of a Python float in a list (the object and the list's pointer)
PY_FLOAT_BYTES = 32
#: columns of the thermo records :func:`md.dynamics.simulate.run_md` keeps for its result
THERMO_COLUMNS = 8


class MemoryEstimateWarning(UserWarning):
    """An MD run is estimated to need more than half of the memory available."""


def md_memory_estimate(
    n_atoms: int, cfg: MDConfig, *, itemsize: int = 4, pair_capacity: int | None = None, replicas: int | None = None
) -> int:
    """A rough upper estimate (bytes) of the arrays an MD run of ``n_atoms`` atoms keeps for its replicas.

    Per replica, with ``itemsize`` bytes per float (4; 8 for float64) and ``P`` unordered pairs
    (``pair_capacity``, default all ``N (N - 1) / 2`` pairs):

    - the state (positions, momenta, forces, masses, thermostat chain, random key), counted
      three times: a chunk's input, its output and the selection of active replicas;
    - the pair list: the (N, N) within-cutoff mask, both orders of each pair with two int32
      indices, a distance vector and a length;
    - the records of one chunk (``cfg.records_per_chunk()``: positions, velocities, forces and
      four numbers per record), counted twice: on the device and on the host;
    - the last good frame (positions, velocities, forces, float64);
    - the thermo records the run keeps for its result (eight Python floats per record, all
      ``cfg.steps / cfg.log_every`` of them).

    The model's own working arrays (features and filters per atom and pair) come on top: a run
    that the estimate lets through can still run out of memory, one that it refuses would.
    """
    n = int(n_atoms)
    R = cfg.replicas if replicas is None else int(replicas)
    vec = 3 * n * itemsize  # one (N, 3) array
    chain = 2 * 2 * cfg.chain_length * itemsize  # positions and momenta of the chain (and its masses)
    state = 3 * vec + n * itemsize + chain + 16
    pairs = n * (n - 1) // 2 if pair_capacity is None else int(pair_capacity)
    pair_list = n * n + 2 * pairs * (2 * 4 + 4 * itemsize)
    records = cfg.records_per_chunk() * (3 * vec + 4 * itemsize + 4)
    last_good = 3 * 3 * n * 8
    thermo = (cfg.steps // cfg.log_every + 1) * THERMO_COLUMNS * PY_FLOAT_BYTES
    per_replica = 3 * state + pair_list + 2 * records + last_good + thermo
    return R * per_replica


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name == key:
                    return int(value.split()[0]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_free() -> int | None:
    """What a cgroup v2 memory limit leaves (None without one)."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            current = int(f.read().strip())
        return max(int(limit) - current, 0)
    except (OSError, ValueError):
        return None


def host_memory() -> tuple[int | None, str]:
    """Bytes of host memory available now, and where the number comes from (None, "" if unknown).

    ``MemAvailable`` of ``/proc/meminfo``, else all physical memory (``os.sysconf``); less when a
    cgroup memory limit leaves less.
    """
    found = [(_meminfo("MemAvailable"), "MemAvailable in /proc/meminfo")]
    if found[0][0] is None:
        try:
            found = [(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "physical memory")]
        except (ValueError, OSError, AttributeError):
            found = []
    found.append((_cgroup_free(), "the cgroup's memory limit"))
    found = [(b, w) for b, w in found if b is not None]
    return min(found) if found else (None, "")


def device_memory() -> tuple[int | None, str]:
    """Bytes free on jax's first device when it reports them (GPUs do; CPUs do not): (None, "") else."""
    try:
        import jax

        device = jax.devices()[0]
        if device.platform == "cpu":
            return None, ""
        stats = device.memory_stats() or {}
        limit = stats.get("bytes_limit")
        if limit is None:
            return None, ""
        return int(limit) - int(stats.get("bytes_in_use", 0)), f"free on {device.platform} device {device.id}"
    except Exception:  # noqa: BLE001 - no stats on this backend
        return None, ""


def available_memory() -> tuple[int | None, str]:
    """The memory an MD run can use (bytes) and what limits it: the host's (:func:`host_memory`)
    and, on an accelerator that reports it, the device's free memory, whichever is less."""
    found = [m for m in (host_memory(), device_memory()) if m[0] is not None]
    return min(found) if found else (None, "")


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``; ``3 * 2**40`` -> ``"3 TiB"``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    for unit in units:
        if abs(n) < 1024 or unit == units[-1]:
            return f"{n:.0f} {unit}" if unit == "B" or abs(n) >= 100 else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def check_md_memory(
    n_atoms: int,
    cfg: MDConfig,
    *,
    itemsize: int = 4,
    pair_capacity: int | None = None,
    available: tuple[int | None, str] | None = None,
    stacklevel: int = 1,
) -> int:
    """Refuse a run whose :func:`md_memory_estimate` exceeds the available memory; warn above half of it.

    ``available``: (bytes, where from) instead of :func:`available_memory`. ``stacklevel``: the
    frame the warning names, 1 the caller of this function. Returns the estimate.
    Raises :class:`~painnjax.errors.InputError` with the estimate, the memory available and the
    most replicas that would fit.
    """
    need = md_memory_estimate(n_atoms, cfg, itemsize=itemsize, pair_capacity=pair_capacity)
    have, where = available_memory() if available is None else available
    if have is None or need <= have // 2:
        return need
    per_replica = need / cfg.replicas
    text = (
        f"an MD run of {cfg.replicas} replica(s) of {n_atoms} atoms needs about {format_bytes(need)} "
        f"(a rough estimate: {format_bytes(per_replica)} per replica for its state, pair list, a chunk of "
        f"{cfg.records_per_chunk()} records and {cfg.steps // cfg.log_every + 1} thermo records)"
    )
    if need > have:
        fit = int(np.floor(have / per_replica))
        advice = (
            f"run at most about {fit} replicas at once"
            if fit >= 1
            else "even one replica does not fit: fewer steps (the thermo records stay in memory) or atoms"
        )
        raise InputError(f"[md] replicas: {text}, more than the {format_bytes(have)} available ({where}); {advice}")
    warnings.warn(
        f"{text}: more than half of the {format_bytes(have)} available ({where})",
        MemoryEstimateWarning,
        stacklevel=stacklevel + 1,
    )
    return need


def check_run_memory(pot: MDPotential, capacity: int | None, cfg: MDConfig, stacklevel: int = 1) -> int:
    """:func:`check_md_memory` for an MD run of ``pot`` (:func:`md.dynamics.simulate.run_md`), before it allocates.

    ``capacity``: the pair capacity (unordered pairs) the run starts with, as the potential
    sized it (:meth:`md.forces.potential.MDPotential.initial_capacity`); a list not managed by
    the run counts with the potential's own capacity, if any. Floats are 8 bytes when jax has
    float64 on, else 4.
    """
    import jax

    cap = capacity if pot.managed else pot.capacity_hint
    itemsize = 8 if jax.config.jax_enable_x64 else 4
    return check_md_memory(pot.n_atoms, cfg, itemsize=itemsize, pair_capacity=cap, stacklevel=stacklevel + 1)
