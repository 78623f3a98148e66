"""What an MD run does, as data: :class:`MDConfig` (frozen), checked once by :meth:`MDConfig.check`.

Units at this edge are the field's: time step and thermostat time in fs, temperatures in K,
friction in 1/fs. :mod:`painnjax.units` converts them to jax-md's units in one place.

Example:
    >>> cfg = MDConfig(ensemble="nvt-nh", temperature=300.0, dt=0.5, steps=2000)
    >>> cfg.check(), cfg.temperatures(replicas=2)
    (None, (300.0, 300.0))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from painnjax.errors import InputError

#: the ensembles a run can sample; the first is the default
ENSEMBLES = ("nvt-nh", "nve", "nvt-langevin")
#: Suzuki-Yoshida orders jax-md implements for the Nosé-Hoover chain
SY_ORDERS = (1, 3, 5, 7)


@dataclass(frozen=True)
class MDConfig:
    """One MD run (all replicas). Times in fs, temperatures in K.

    Attributes:
        ensemble: ``"nvt-nh"`` (Nosé-Hoover chain), ``"nve"`` or ``"nvt-langevin"`` (BAOAB).
        temperature: target temperature, or one per replica (K). For NVE it sets the initial
            velocities only. Initial velocities are Maxwell-Boltzmann with zero total linear
            and angular momentum, scaled to exactly this temperature.
        dt: time step (fs).
        steps: total number of steps of the run (a restart continues up to this number).
        replicas: number of independent trajectories; ``temperature`` may list one per replica.
        seed: random seed; replica r draws its velocities (and Langevin noise) from
            ``fold_in(PRNGKey(seed), r)``.
        tau: Nosé-Hoover chain time constant (fs).
        chain_length: Nosé-Hoover chain length, at least 2 (jax-md's chain of 1 is wrong).
        chain_steps, sy_steps: Nosé-Hoover sub-steps and Suzuki-Yoshida order (1, 3, 5, 7).
        friction: Langevin collision rate (1/fs); 0.01/fs is a 100 fs relaxation time.
        log_every: steps between thermo records (the safety checks run on these records).
        traj_every: steps between trajectory frames (a multiple of ``log_every``; 0: none).
        checkpoint_every: steps between checkpoints (a multiple of ``log_every``); a killed
            run loses at most this many steps.
        chunk_steps: steps per jitted call at most (default: the largest multiple of
            ``log_every`` dividing ``checkpoint_every`` that is <= 500).
        max_temperature: stop a replica whose temperature exceeds this (K); default
            ``max(5 T, 2000 K)``.
        fragment_distance: stop a replica when a group of atoms is farther than this (Å)
            from all other atoms (a molecule has left the cluster); default the potential's
            cutoff (5 Å when it has none); 0 switches the check off.
    """

    ensemble: str = "nvt-nh"
    temperature: float | tuple[float, ...] = 300.0
    dt: float = 0.5
    steps: int = 1000
    replicas: int = 1
    seed: int = 0
    tau: float = 100.0
    chain_length: int = 3
    chain_steps: int = 2
    sy_steps: int = 3
    friction: float = 0.01
    log_every: int = 10
    traj_every: int = 100
    checkpoint_every: int = 1000
    chunk_steps: int | None = None
    max_temperature: float | None = None
    fragment_distance: float | None = None

    def __post_init__(self):
        t = self.temperature
        if isinstance(t, (list, tuple)):
            object.__setattr__(self, "temperature", tuple(float(x) for x in t))

    def check(self) -> None:
        """Raise :class:`InputError` naming the first option that is not usable."""
        if self.ensemble not in ENSEMBLES:
            raise InputError(f"ensemble must be one of {', '.join(ENSEMBLES)}, got {self.ensemble!r}")
        _positive("dt", self.dt, "fs")
        _int_at_least("steps", self.steps, 0)
        _int_at_least("replicas", self.replicas, 1)
        temps = self.temperature if isinstance(self.temperature, tuple) else (self.temperature,)
        if len(temps) not in (1, self.replicas):
            raise InputError(f"give one temperature or one per replica ({self.replicas}), got {len(temps)}")
        for T in temps:
            if not (isinstance(T, (int, float)) and math.isfinite(T) and T >= 0):
                raise InputError(f"temperature must be a finite number >= 0 K, got {T!r}")
            if self.ensemble != "nve" and T <= 0:
                raise InputError(f"{self.ensemble} needs a temperature > 0 K, got {T!r}")
        if self.ensemble == "nvt-nh":
            _positive("tau", self.tau, "fs")
            if not (isinstance(self.chain_length, int) and self.chain_length >= 2):
                raise InputError(
                    f"chain_length must be an integer >= 2, got {self.chain_length!r}: jax-md's "
                    "Nosé-Hoover chain of length 1 reads past the end of the chain (wrong dynamics)"
                )
            _int_at_least("chain_steps", self.chain_steps, 1)
            if self.sy_steps not in SY_ORDERS:
                raise InputError(f"sy_steps must be one of {SY_ORDERS}, got {self.sy_steps!r}")
        if self.ensemble == "nvt-langevin":
            _positive("friction", self.friction, "1/fs")
        _int_at_least("log_every", self.log_every, 1)
        _int_at_least("traj_every", self.traj_every, 0)
        _int_at_least("checkpoint_every", self.checkpoint_every, 1)
        for name in ("traj_every", "checkpoint_every"):
            if getattr(self, name) % self.log_every:
                raise InputError(f"{name} ({getattr(self, name)}) must be a multiple of log_every ({self.log_every})")
        if self.steps % self.log_every:
            raise InputError(f"steps ({self.steps}) must be a multiple of log_every ({self.log_every})")
        if self.chunk_steps is not None:
            _int_at_least("chunk_steps", self.chunk_steps, 1)
            if self.chunk_steps % self.log_every or self.checkpoint_every % self.chunk_steps:
                raise InputError(
                    f"chunk_steps ({self.chunk_steps}) must be a multiple of log_every ({self.log_every}) "
                    f"and divide checkpoint_every ({self.checkpoint_every})"
                )
        if self.max_temperature is not None:
            _positive("max_temperature", self.max_temperature, "K")
        if self.fragment_distance is not None and not (
            isinstance(self.fragment_distance, (int, float)) and self.fragment_distance >= 0
        ):
            raise InputError(f"fragment_distance must be >= 0 Å (0: no check), got {self.fragment_distance!r}")

    def temperatures(self, replicas: int | None = None) -> tuple[float, ...]:
        """The target temperature of each replica (K)."""
        n = self.replicas if replicas is None else replicas
        t = self.temperature if isinstance(self.temperature, tuple) else (self.temperature,)
        return tuple(float(x) for x in t) if len(t) == n else (float(t[0]),) * n

    def max_temperatures(self) -> tuple[float, ...]:
        """Temperature above which each replica is stopped (K)."""
        if self.max_temperature is not None:
            return (float(self.max_temperature),) * self.replicas
        return tuple(max(5.0 * T, 2000.0) for T in self.temperatures())

    def records_per_chunk(self) -> int:
        """Thermo records per jitted call (the record buffer size)."""
        if self.chunk_steps is not None:
            return self.chunk_steps // self.log_every
        n = self.checkpoint_every // self.log_every
        best = 1
        for k in range(1, n + 1):
            if n % k == 0 and k * self.log_every <= 500:
                best = k
        return best

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if isinstance(d["temperature"], tuple):
            d["temperature"] = list(d["temperature"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MDConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown MD option(s): {', '.join(unknown)}")
        return cls(**d)


def _positive(name, value, unit):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a finite number > 0 {unit}, got {value!r}")


def _int_at_least(name, value, low):
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
