"""What an MD run does, as data: :class:`MDConfig` (frozen), checked when built.

A bad option raises :class:`~painnjax.errors.InputError` naming ``[md]`` and the option
(:mod:`painnjax.config`); :meth:`MDConfig.check` checks again and returns the config. Every
value is checked, also those the ensemble does not use; an option the ensemble ignores
(``tau`` or ``friction`` with ``nve``, say) set to anything but its default gives an
:class:`UnusedOptionWarning`. ``None`` for a thermostat option (``tau``, ``chain_length``,
``chain_steps``, ``sy_steps``, ``friction``) means its default, as when it is not given.

Units at this edge are the field's: time step and thermostat time in fs, temperatures in K,
friction in 1/fs. :mod:`painnjax.units` converts them to jax-md's units in one place.

A config file's ``[md]`` table (``painnjax md --config``, :data:`FILE_SECTIONS`) holds the same
keys, checked the same way.

Example:
    >>> cfg = MDConfig(ensemble="nvt-nh", temperature=300.0, dt=0.5, steps=2000)
    >>> cfg.temperatures(replicas=2)
    (300.0, 300.0)
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

from painnjax.config import Section, check, from_mapping, integer, is_int, is_real, positive

S = "md"  # the section name in error messages

#: the ensembles a run can sample; the first is the default
ENSEMBLES = ("nvt-nh", "nve", "nvt-langevin")
#: Suzuki-Yoshida orders jax-md implements for the Nosé-Hoover chain
SY_ORDERS = (1, 3, 5, 7)
#: the thermostat options, and those of them each ensemble uses (it ignores the others)
THERMOSTAT_OPTIONS = ("tau", "chain_length", "chain_steps", "sy_steps", "friction")
USED_BY = {"nvt-nh": ("tau", "chain_length", "chain_steps", "sy_steps"), "nve": (), "nvt-langevin": ("friction",)}


class UnusedOptionWarning(UserWarning):
    """An option was set to a value other than its default, and the chosen ensemble does not use it."""


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
        tau: Nosé-Hoover chain time constant (fs). This and the other thermostat options
            (``chain_length``, ``chain_steps``, ``sy_steps``, ``friction``) are checked
            whatever the ensemble; ``None`` gives the default.
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
            cutoff (5 Å when it has none); 0 switches the check off. With a wall the default
            is 0 (the wall keeps molecules near; fragments are not stops).
        wall_radius: radius (Å) of a flat-bottom spherical wall around the centre of mass
            (:mod:`md.dynamics.wall`); None: no wall.
        wall_k: the wall's force constant (eV/Å²).
        exchange_every: steps between replica-exchange attempts (a multiple of ``log_every``;
            0: none). Needs two or more replicas at increasing temperatures and a thermostat
            (:mod:`md.dynamics.exchange`).
        max_spread: with a committee, stop a replica whose largest atomic force spread exceeds
            this (eV/Å); its last frame below it is kept. None: no limit.
        collect_above: with a committee, write every recorded frame whose largest atomic force
            spread exceeds this (eV/Å) to ``uncertain.extxyz`` for labelling. None: none.
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
    wall_radius: float | None = None
    wall_k: float = 1.0
    exchange_every: int = 0
    max_spread: float | None = None
    collect_above: float | None = None

    def __post_init__(self):
        t = self.temperature
        if isinstance(t, (list, tuple)):
            check(all(is_real(x) for x in t), S, "temperature", f"must be numbers (K), got {t!r}")
            object.__setattr__(self, "temperature", tuple(float(x) for x in t))
        for f in dataclasses.fields(self):
            if f.name in THERMOSTAT_OPTIONS and getattr(self, f.name) is None:
                object.__setattr__(self, f.name, f.default)
        self._validate()
        self._warn_unused()

    def check(self) -> MDConfig:
        """The config, checked again (it was checked when built); raises :class:`InputError`."""
        self._validate()
        return self

    def _validate(self) -> None:
        """Raise :class:`InputError` naming ``[md]`` and the first option that is not usable."""
        check(
            self.ensemble in ENSEMBLES, S, "ensemble", f"must be one of {', '.join(ENSEMBLES)}, got {self.ensemble!r}"
        )
        positive(S, "dt", self.dt, "fs")
        integer(S, "steps", self.steps, 0)
        integer(S, "replicas", self.replicas, 1)
        temps = self.temperature if isinstance(self.temperature, tuple) else (self.temperature,)
        check(
            len(temps) in (1, self.replicas),
            S,
            "temperature",
            f"give one temperature or one per replica ({self.replicas}), got {len(temps)}",
        )
        for T in temps:
            check(is_real(T) and T >= 0, S, "temperature", f"must be a finite number >= 0 K, got {T!r}")
            check(
                self.ensemble == "nve" or T > 0,
                S,
                "temperature",
                f"{self.ensemble} needs a temperature > 0 K, got {T!r}",
            )
        check(is_int(self.seed), S, "seed", f"must be an integer, got {self.seed!r}")
        # the thermostat options: checked whatever the ensemble (one that ignores them warns)
        positive(S, "tau", self.tau, "fs")
        check(
            is_int(self.chain_length) and self.chain_length >= 2,
            S,
            "chain_length",
            f"must be an integer >= 2, got {self.chain_length!r}: jax-md's Nosé-Hoover chain of length 1 "
            "reads past the end of the chain (wrong dynamics)",
        )
        integer(S, "chain_steps", self.chain_steps, 1)
        check(
            is_int(self.sy_steps) and self.sy_steps in SY_ORDERS,
            S,
            "sy_steps",
            f"must be one of {SY_ORDERS}, got {self.sy_steps!r}",
        )
        positive(S, "friction", self.friction, "1/fs")
        integer(S, "log_every", self.log_every, 1)
        integer(S, "traj_every", self.traj_every, 0)
        integer(S, "checkpoint_every", self.checkpoint_every, 1)
        for name in ("steps", "traj_every", "checkpoint_every"):
            check(
                getattr(self, name) % self.log_every == 0,
                S,
                name,
                f"{getattr(self, name)} is not a multiple of log_every ({self.log_every})",
            )
        if self.chunk_steps is not None:
            integer(S, "chunk_steps", self.chunk_steps, 1)
            check(
                self.chunk_steps % self.log_every == 0 and self.checkpoint_every % self.chunk_steps == 0,
                S,
                "chunk_steps",
                f"{self.chunk_steps} must be a multiple of log_every ({self.log_every}) "
                f"and divide checkpoint_every ({self.checkpoint_every})",
            )
        if self.max_temperature is not None:
            positive(S, "max_temperature", self.max_temperature, "K")
        fd = self.fragment_distance
        check(
            fd is None or (is_real(fd) and fd >= 0), S, "fragment_distance", f"must be >= 0 Å (0: no check), got {fd!r}"
        )
        if self.wall_radius is not None:
            positive(S, "wall_radius", self.wall_radius, "Å")
        positive(S, "wall_k", self.wall_k, "eV/Å²")
        for name in ("max_spread", "collect_above"):
            if getattr(self, name) is not None:
                positive(S, name, getattr(self, name), "eV/Å")
        integer(S, "exchange_every", self.exchange_every, 0)
        if self.exchange_every:
            check(
                self.exchange_every % self.log_every == 0,
                S,
                "exchange_every",
                f"{self.exchange_every} is not a multiple of log_every ({self.log_every})",
            )
            check(
                self.ensemble != "nve",
                S,
                "exchange_every",
                "replica exchange needs a thermostat (nvt-nh or nvt-langevin), not nve",
            )
            T = self.temperatures()
            check(
                self.replicas >= 2 and len(set(T)) == len(T) and list(T) == sorted(T),
                S,
                "exchange_every",
                f"replica exchange needs two or more replicas at increasing temperatures, got {list(T)} K",
            )

    def _warn_unused(self) -> None:
        """An :class:`UnusedOptionWarning` for each thermostat option the ensemble ignores, unless at its default."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name in THERMOSTAT_OPTIONS:
            value = getattr(self, name)
            if name not in USED_BY[self.ensemble] and value != defaults[name]:
                users = " and ".join(e for e, used in USED_BY.items() if name in used)
                warnings.warn(
                    f"[{S}] {name}: {self.ensemble} ignores {name} (set to {value!r}; only {users} uses it)",
                    UnusedOptionWarning,
                    stacklevel=4,  # _warn_unused <- __post_init__ <- __init__ <- the caller
                )

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
    def from_dict(cls, d: dict) -> MDConfig:
        """From :meth:`to_dict` (or an ``[md]`` table); unknown keys are refused."""
        return from_mapping(cls, S, d)


#: the sections of a ``painnjax md --config`` file (:func:`painnjax.config.read_sections`): ``[md]``,
#: every field of :class:`MDConfig`; a template leaves ``replicas`` out (the command's default is one
#: per temperature and start structure)
FILE_SECTIONS = {S: Section(MDConfig, unset=("replicas",))}
