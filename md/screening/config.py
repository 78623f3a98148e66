"""What a screen does, as data: :class:`ScreenConfig` and its refinement stage :class:`RefineConfig` (frozen).

These are the one home of the screen's defaults: :func:`md.screening.screen.screen`,
:func:`md.screening.folder.screen_to_folder` and ``painnjax screen`` (its option defaults and
their help text) all read them from here. Both check every field when built (an
:class:`~painnjax.errors.InputError` such as ``[screen] tolerance: must be a finite number > 0 Å``),
so a library call is refused what the command line is, before any work; what the config cannot
see (the models, the candidates) :func:`md.screening.checks.check_screen` checks. A config file's
``[screen]`` and ``[refine]`` tables (``painnjax screen --config``, :data:`FILE_SECTIONS`) hold the same
keys, checked the same way.

Example:
    >>> cfg = ScreenConfig(fmax=0.05, refine=True)
    >>> cfg.refine.rounds, cfg.refine.patience, cfg.record()["refine"]["top"]
    (10, 3, 4)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from painnjax.config import Section, check, integer, is_int, is_real, positive
from painnjax.errors import InputError

#: the minimisers a screen runs (:func:`md.optimize.batch.minimize_batch`)
OPTIMIZERS = ("lbfgs", "fire")
#: the precisions of the model (:data:`md.forces.build.DTYPES`; not imported: this module is read by
#: ``painnjax --help`` for the option defaults, and md.forces loads jax)
SCREEN_DTYPES = ("float32", "float64")
#: the kinds of refinement move (:mod:`md.screening.refine`; here, not there: this module loads no numpy)
MOVE_KINDS = ("perturb", "splice", "surface", "proton", "water")
#: the moves a refinement makes unless told (``water`` is asked for: with it among the defaults a screen
#: would record other kinds than before, and one begun before it would not resume)
DEFAULT_KINDS = ("perturb", "splice", "surface", "proton")


@dataclass(frozen=True)
class RefineConfig:
    """The refinement of the lowest minima (:mod:`md.screening.refine`), after the candidates.

    Attributes:
        rounds: rounds of refinement at most (``painnjax screen --refine-rounds``; 0: none).
        top: lowest distinct minima refined per round.
        moves: new candidates per refined minimum; the j-th is made by the move ``kinds[j % len(kinds)]``.
        kinds: the moves, any of perturb (one molecule turned and shifted), splice (cut-and-splice of two
            minima), surface (the weakest-bound molecule moved to the surface), proton (a proton hop
            between an acid and a base), water (a water moved into a hydrogen bond as a bridge); default
            :data:`DEFAULT_KINDS`, all but water.
        patience: the search stops when the lowest minimum of no composition has improved by more than
            the screen's energy_window over this many rounds (0: all rounds are run).
        seed: seed of the moves (``painnjax screen`` gives its ``--seed``).
        angle: root-mean-square rotation of a perturbed molecule, degrees.
        shift: root-mean-square shift of a perturbed molecule, Å.
    """

    rounds: int = 10
    top: int = 4
    moves: int = 4
    kinds: tuple[str, ...] = DEFAULT_KINDS
    patience: int = 3
    seed: int = 0
    angle: float = 60.0
    shift: float = 0.5

    def __post_init__(self):
        # Checked here, not when a round starts: a bad value must stop the screen before its candidates
        # are minimised, not after (issue 32).
        integer("refine", "rounds", self.rounds, 0)
        integer("refine", "top", self.top, 1)
        integer("refine", "moves", self.moves, 1)
        integer("refine", "patience", self.patience, 0)
        integer("refine", "seed", self.seed, 0)  # numpy's default_rng refuses a negative seed
        for name, unit in (("angle", "degrees"), ("shift", "Å")):
            value = getattr(self, name)
            check(is_real(value) and value >= 0, "refine", name, f"must be a finite number >= 0 {unit}, got {value!r}")
        object.__setattr__(self, "kinds", move_kinds(self.kinds))

    def record(self) -> dict:
        """The refinement as ``screen.json`` records it. ``kinds`` and ``patience`` are left out when they
        are those of the refinement before them (perturbations only, every round run): such a screen then
        has the record (and ``screen_id``) it had, and one begun before them resumes."""
        record = dataclasses.asdict(self)
        record["kinds"] = list(self.kinds)
        if self.kinds == ("perturb",) and self.patience == 0:
            del record["kinds"], record["patience"]
        return record

    @classmethod
    def of(cls, refine) -> RefineConfig | None:
        """The refinement ``refine`` asks for: None or False for none, True for the defaults, a dict of
        some of the fields over the defaults, or a :class:`RefineConfig`."""
        if refine is None or refine is False:
            return None
        if refine is True:
            return cls()
        if isinstance(refine, cls):
            return refine
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(refine, dict) or set(refine) - set(names):
            raise InputError(f"refine must be True, False, None or a dict of {', '.join(names)}; got {refine!r}")
        return cls(**refine)


@dataclass(frozen=True)
class ScreenConfig:
    """One screen's settings (the candidates and the model are given beside it).

    Attributes:
        fmax: convergence, eV/Å (largest atomic force).
        max_steps: FIRE steps or L-BFGS iterations per structure; beyond it, not converged.
        optimizer: ``"lbfgs"`` (several times fewer force calls) or ``"fire"``
            (:func:`md.optimize.batch.minimize_batch`).
        slots: structures minimised at once per group (None: 1 on a CPU, 256 on a GPU,
            :func:`md.optimize.batch.minimize_batch`).
        keep: how many of the lowest distinct minima are kept (``best.extxyz``) and given
            committee spreads; None: all.
        energy_window: duplicates lie within this energy, kcal/mol (:func:`md.screening.dedup.unique_minima`).
        tolerance: ... and within this RMS of sorted interatomic distances, Å.
        dtype: precision of the model, ``"float32"`` or ``"float64"``.
        refine: the refinement stage (:class:`RefineConfig`), None for none; True, False or a
            dict are taken as :meth:`RefineConfig.of` reads them.
    """

    fmax: float = 0.01
    max_steps: int = 2000
    optimizer: str = "lbfgs"
    slots: int | None = None
    keep: int | None = 20
    energy_window: float = 0.1
    tolerance: float = 0.03
    dtype: str = "float32"
    refine: RefineConfig | None = None

    def __post_init__(self):
        positive("screen", "fmax", self.fmax, "eV/Å")
        integer("screen", "max_steps", self.max_steps, 1)
        check(
            self.optimizer in OPTIMIZERS, "screen", "optimizer", f"must be one of {OPTIMIZERS}, got {self.optimizer!r}"
        )
        for name in ("slots", "keep"):
            value = getattr(self, name)
            check(
                value is None or (is_int(value) and value >= 1),
                "screen",
                name,
                f"must be None or an integer >= 1, got {value!r}",
            )
        # A negative or NaN window or tolerance would make no two minima duplicates, silently; 0 would
        # keep only exact copies, which no minimiser makes: both are refused.
        positive("screen", "energy_window", self.energy_window, "kcal/mol")
        positive("screen", "tolerance", self.tolerance, "Å")
        check(self.dtype in SCREEN_DTYPES, "screen", "dtype", f"must be one of {SCREEN_DTYPES}, got {self.dtype!r}")
        object.__setattr__(self, "refine", RefineConfig.of(self.refine))

    def refine_record(self) -> dict | None:
        """The refinement as ``screen.json`` records it (None: no refinement). One that stops by the energy
        window (``patience``) records it and the tolerance too: they choose its parents and when it stops,
        so a resume with others would not make the same candidates."""
        if self.refine is None:
            return None
        record = self.refine.record()
        if "patience" in record:
            record.update(energy_window_kcal_mol=float(self.energy_window), tolerance_A=float(self.tolerance))
        return record

    def record(self) -> dict:
        """The settings that define a screen, as ``screen.json`` records them (a resumed screen must have the same)."""
        return {
            "fmax_eV_per_A": float(self.fmax),
            "max_steps": int(self.max_steps),
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "refine": self.refine_record(),
        }


def move_kinds(kinds) -> tuple[str, ...]:
    """The move kinds of ``kinds`` (names, or one string of names separated by commas) as a tuple, checked."""
    if isinstance(kinds, str):
        given = kinds
        kinds = [k.strip() for k in kinds.split(",")]
        # an empty entry ("perturb,,splice", "perturb,") is a typo, not a smaller list: refused
        check(all(kinds), "refine", "kinds", f"has an empty entry: {given!r} (names separated by single commas)")
    ok = isinstance(kinds, (list, tuple)) and all(isinstance(k, str) for k in kinds)
    known = ", ".join(MOVE_KINDS)
    check(ok and len(kinds) > 0, "refine", "kinds", f"must be one or more of {known}, got {kinds!r}")
    for k in kinds:
        check(k in MOVE_KINDS, "refine", "kinds", f"unknown move {k!r}; known: {known}")
        check(kinds.count(k) == 1, "refine", "kinds", f"{k} given more than once")
    return tuple(kinds)


#: the sections of a ``painnjax screen --config`` file (:func:`painnjax.config.read_sections`): ``[screen]``,
#: the fields of :class:`ScreenConfig` but ``refine``, which is the section ``[refine]`` (its ``rounds = 0``:
#: none), the fields of :class:`RefineConfig` but ``seed`` (the screen's ``--seed``)
FILE_SECTIONS = {
    "screen": Section(ScreenConfig, exclude=("refine",)),
    "refine": Section(RefineConfig, exclude=("seed",)),
}
