"""A minimum is a minimum: a structure handed over as a minimum, checked by its Hessian and moved off a saddle.

A minimiser stops where the largest force is below ``fmax``; on a flat, nearly symmetric part
of the surface that can be a saddle point or a shoulder, and the harmonic analysis then finds
an imaginary mode (the demo's SA7AM7 after FIRE to 0.005 eV/Å had one at -8.3 cm⁻¹).
:func:`settle_minimum` does what a careful user does by hand:

1. the harmonic analysis (:func:`md.analysis.harmonic.harmonic_analysis`: exact Hessian,
   rigid-body motions projected out);
2. no frequency below ``-threshold`` cm⁻¹: the structure is left as it is (no minimisation);
3. else a step along the most negative mode, both ways (the largest atom moving ``step`` Å),
   keeping the lower energy, and FIRE (:func:`md.optimize.fire.minimize`) to ``fmax`` again;
4. back to 1, at most ``max_rounds`` times; a mode left after that is warned about
   (:class:`~md.analysis.harmonic.NotAMinimumWarning`).

The threshold, :data:`IMAGINARY_CM1` = 5 cm⁻¹: in float64 the Hessian of a painnjax potential
is exact (automatic differentiation) and the rigid-body motions are projected out, so round-off
is not what limits it; the minimisation is. A minimiser that stops at ``fmax`` leaves a
structure up to ``fmax / k`` from the minimum along a soft mode (0.28 Å for H2SO4 moving in a
10 cm⁻¹ mode, k = 0.036 eV/Å², at 0.01 eV/Å), where anharmonicity alone can make the
curvature negative by a few cm⁻¹, and minimising again to the same ``fmax`` stops at a similar
place: chasing those would cost a Hessian and a minimisation each for nothing. A genuine saddle
as shallow is missed (a linear Ar3 of Lennard-Jones argon bends at -4.2 cm⁻¹): pass a smaller
``threshold`` with a tighter ``fmax`` for such surfaces.

The record (:class:`Settled`) says what was done: the imaginary modes found in each round, the
direction taken, the FIRE steps, and the energy change in kcal/mol.

Example:
    >>> res = settle_minimum(energy_fn, atoms, fmax=0.005)         # doctest: +SKIP
    >>> res.moved, res.energy_change_kcal_mol, res.summary()        # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from md.analysis.harmonic import HarmonicResult, NotAMinimumWarning, harmonic_analysis
from md.forces.cache import shared_cache
from painnjax.compiler import jit
from painnjax.errors import InputError
from painnjax.units import EV_TO_KCAL_PER_MOL

#: imaginary frequencies beyond this (cm⁻¹, in magnitude) make a structure not a minimum (module text)
IMAGINARY_CM1 = 5.0
#: displacement along the imaginary mode: the atom that moves most moves this far (Å)
STEP_A = 0.1
#: at most this many steps off a saddle and minimisations
MAX_ROUNDS = 3


@dataclass
class Settled:
    """What :func:`settle_minimum` returns.

    Attributes:
        atoms: a copy of the structure at the settled positions.
        harmonic: the harmonic analysis there (:class:`~md.analysis.harmonic.HarmonicResult`).
        rounds: one entry per step off a saddle: ``imaginary_cm-1`` (the modes found),
            ``mode_cm-1`` (the one followed), ``direction`` (+1 or -1), ``step_A``,
            ``energy_before_eV``, ``energy_after_eV`` (after FIRE), ``fire_steps``, ``converged``.
        initial_energy: eV, at the structure handed over.
        threshold: cm⁻¹ used.
    """

    atoms: object
    harmonic: HarmonicResult
    rounds: list = field(default_factory=list)
    initial_energy: float = 0.0
    threshold: float = IMAGINARY_CM1

    @property
    def moved(self) -> bool:
        """Whether the structure was stepped off a saddle and minimised again."""
        return bool(self.rounds)

    @property
    def is_minimum(self) -> bool:
        """No frequency below ``-threshold`` at the end."""
        return not bool(np.any(self.harmonic.frequencies < -self.threshold))

    @property
    def energy_change_kcal_mol(self) -> float:
        """Final minus initial energy, kcal/mol (0 when nothing was done)."""
        return (self.harmonic.energy - self.initial_energy) * EV_TO_KCAL_PER_MOL

    def to_dict(self) -> dict:
        """JSON-ready record: ``moved``, ``is_minimum``, ``threshold_cm-1``, ``energy_change_kcal_mol``, ``rounds``."""
        return {
            "moved": self.moved,
            "is_minimum": self.is_minimum,
            "threshold_cm-1": float(self.threshold),
            "energy_change_kcal_mol": float(self.energy_change_kcal_mol),
            "imaginary_left_cm-1": [float(x) for x in self.harmonic.imaginary if x < -self.threshold],
            "rounds": [dict(r) for r in self.rounds],
        }

    def summary(self) -> str:
        """One line: what was done (empty string when the structure was a minimum as handed over)."""
        if not self.moved:
            return ""
        found = ", ".join(f"{r['mode_cm-1']:.1f}" for r in self.rounds)
        steps = sum(r["fire_steps"] for r in self.rounds)
        end = (
            "now a minimum"
            if self.is_minimum
            else "imaginary modes left: " + ", ".join(f"{x:.1f}" for x in self.to_dict()["imaginary_left_cm-1"])
        )
        return (
            f"imaginary mode(s) {found} cm-1 found: stepped {self.rounds[0]['step_A']:g} Å along each and "
            f"minimised again ({len(self.rounds)} round(s), {steps} FIRE steps), "
            f"ΔE = {self.energy_change_kcal_mol:.4f} kcal/mol; {end}"
        )


def check_settle_settings(threshold, step, max_rounds) -> None:
    """Refuse settings :func:`settle_minimum` cannot run with (:class:`~painnjax.errors.InputError`)."""
    for name, value in (("threshold", threshold), ("step", step)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise InputError(f"settle: {name} must be a finite number > 0, got {value!r}")
    if not (isinstance(max_rounds, int) and max_rounds >= 1):
        raise InputError(f"settle: max_rounds must be an integer >= 1, got {max_rounds!r}")


def _quiet_harmonic(energy_fn, atoms, hessian_batch: int) -> HarmonicResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAMinimumWarning)  # the imaginary modes are what is handled here
        return harmonic_analysis(energy_fn, atoms, hessian_batch=hessian_batch, ignore_cell=True)


def _energy(energy_fn: Callable, R: np.ndarray) -> float:
    """The energy at ``R`` (eV), its compiled function kept with ``energy_fn`` (one compilation per size)."""
    x64 = bool(jax.config.jax_enable_x64)
    fn = shared_cache(energy_fn).setdefault(("settle-energy", x64), jit(lambda x: energy_fn(x)))
    return float(fn(jnp.asarray(R, jnp.float64 if x64 else jnp.float32)))


def settle_minimum(
    energy_fn: Callable,
    atoms,
    *,
    fmax: float = 0.01,
    max_steps: int = 1000,
    threshold: float = IMAGINARY_CM1,
    step: float = STEP_A,
    max_rounds: int = MAX_ROUNDS,
    harmonic: HarmonicResult | None = None,
    rebuild: Callable | None = None,
    hessian_batch: int = 8,
    where: str | None = None,
) -> Settled:
    """Make sure ``atoms`` is a minimum of ``energy_fn``: step off saddles and minimise again (module text).

    Args:
        energy_fn: a painnjax potential or any JAX ``energy_fn(R) -> E`` (eV, Å); run it in
            float64 (``precision("float64")``) for frequencies to a fraction of a cm⁻¹.
        atoms: ``ase.Atoms`` handed over as a minimum (not changed; the result holds a copy).
        fmax: FIRE's convergence after a step (eV/Å): that of the minimisation that made ``atoms``.
        max_steps: FIRE's step limit per round.
        threshold: imaginary frequencies beyond this (cm⁻¹) are stepped along.
        step: the atom that moves most along the mode moves this far (Å).
        max_rounds: steps off a saddle at most; a mode left after them is warned about.
        harmonic: the harmonic analysis of ``atoms`` already computed (not done again).
        rebuild: ``rebuild(atoms) -> energy_fn`` for a structure the potential's pair list no
            longer holds (``energy_fn.fits(R)`` False); None: ``energy_fn`` serves throughout.
        where: the structure's name in messages.
    """
    check_settle_settings(threshold, step, max_rounds)
    label = f"{where}: " if where else ""
    current = atoms.copy()
    res = harmonic if harmonic is not None else _quiet_harmonic(energy_fn, current, hessian_batch)
    out = Settled(atoms=current, harmonic=res, initial_energy=res.energy, threshold=float(threshold))
    for _ in range(max_rounds):
        bad = res.frequencies[res.frequencies < -threshold]
        if not bad.size:
            break
        # jax-md (FIRE) takes seconds to import: only when a structure has to be minimised again
        from md.optimize.fire import minimize

        mode = res.modes[0]  # the most negative frequency first (ascending)
        d = mode * (step / np.sqrt((mode**2).sum(1)).max())
        R = current.get_positions()
        trials = [(_energy(energy_fn, R + s * d), s) for s in (1.0, -1.0)]
        e_start, sign = min(trials)
        current.positions = R + sign * d
        fire = minimize(energy_fn, current, fmax=fmax, max_steps=max_steps, ignore_cell=True)
        current.positions = fire.positions
        if rebuild is not None and hasattr(energy_fn, "fits") and not energy_fn.fits(current.positions):
            energy_fn = rebuild(current)
        before = res.energy
        res = _quiet_harmonic(energy_fn, current, hessian_batch)
        out.rounds.append(
            {
                "imaginary_cm-1": [float(x) for x in bad],
                "mode_cm-1": float(bad[0]),
                "direction": int(sign),
                "step_A": float(step),
                "energy_before_eV": float(before),
                "energy_stepped_eV": float(e_start),
                "energy_after_eV": float(res.energy),
                "fire_steps": int(fire.steps),
                "converged": bool(fire.converged),
            }
        )
        if not fire.converged:
            warnings.warn(
                f"{label}FIRE stopped after {fire.steps} steps at max force {fire.fmax:.3g} eV/Å after a step "
                f"off the imaginary mode {bad[0]:.1f} cm-1 (fmax {fmax:g})",
                NotAMinimumWarning,
                stacklevel=2,
            )
    out.harmonic = res
    if not out.is_minimum:
        left = ", ".join(f"{x:.1f}" for x in res.frequencies[res.frequencies < -threshold])
        warnings.warn(
            f"{label}imaginary frequencies ({left} cm-1) left after {len(out.rounds)} step(s) along them "
            "and minimisation: a saddle point of this model, or a very flat surface",
            NotAMinimumWarning,
            stacklevel=2,
        )
    return out


def settle_model_minimum(model, atoms, *, fmax: float, max_steps: int, threshold: float = IMAGINARY_CM1):
    """:func:`settle_minimum` of ``atoms`` (a minimum of ``model``, a painnjax ``Model``) in float64, as
    ``md.workflow.optimize_file`` takes it for ``settle`` (that layer cannot import this one).

    Returns ``(positions, record)``: the settled positions (N, 3) Å and :meth:`Settled.to_dict`
    with ``summary`` (one line, empty when nothing was done)."""
    from md.forces.build import build_potential, precision

    with precision("float64"):
        energy_fn = build_potential(model, atoms, "float64")
        out = settle_minimum(
            energy_fn,
            atoms,
            fmax=fmax,
            max_steps=max_steps,
            threshold=threshold,
            rebuild=lambda a: build_potential(model, a, "float64"),
            where=atoms.info.get("source"),
        )
    return out.atoms.get_positions(), {**out.to_dict(), "summary": out.summary()}
