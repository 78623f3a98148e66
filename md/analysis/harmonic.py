"""Harmonic analysis at a structure: the exact Hessian (``jax.hessian``), frequencies in cm⁻¹, normal modes.

The Hessian of ``energy_fn(R) -> E`` (eV, positions (N, 3) in Å) is taken by automatic
differentiation, not by finite differences. It is mass-weighted with the masses of the
structure (ASE's, amu, unless given): ``H_mw = M^-1/2 H M^-1/2``. The rigid-body motions
(3 translations and 3 rotations about the centre of mass, 2 for a linear molecule) are built
as vectors in mass-weighted coordinates, orthonormalised, and projected out: the vibrational
problem is the Hessian restricted to the orthogonal complement ``D`` of these vectors,
``D^T H_mw D``, whose 3N - 6 (3N - 5) eigenvalues are the vibrational ones. The projected
full matrix ``P H_mw P`` (``P = 1 - Q Q^T``) is also diagonalised; its spectrum holds exactly
as many zeros as rigid-body vectors were removed (:attr:`HarmonicResult.projected_frequencies`).

Eigenvalues ``λ`` (eV / Å² / amu) become frequencies as in ASE's ``Vibrations``:
``ħ ω = (ħ 10^10 / sqrt(e amu)) sqrt(λ)`` in eV, divided by ``ase.units.invcm``. A negative
eigenvalue gives an imaginary frequency, reported as a negative number ``-sqrt(|λ|)``; when a
frequency lies below ``-imaginary_threshold`` cm⁻¹ a :class:`NotAMinimumWarning` is issued.

Several structures of the same atoms (frames of one composition) are analysed together by
:func:`harmonic_analysis_batch`: the derivative function (:func:`derivatives_fn`: energy,
gradient and Hessian in one compilation) is ``jax.vmap``-ed over the structures.

Run in float64 (``with jax.enable_x64(True):``, a potential built with ``dtype=jnp.float64``):
in float32 the Hessian of a painnjax potential is only good to a few cm⁻¹.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from ase import Atoms
    >>> from md.analysis.harmonic import harmonic_analysis
    >>> with jax.enable_x64(True):
    ...     res = harmonic_analysis(lambda R: 5.0 * (jnp.linalg.norm(R[1] - R[0]) - 1.1) ** 2,
    ...                             Atoms("CO", positions=[[0, 0, 0], [0, 0, 1.1]]))
    >>> res.frequencies.round(1), res.n_removed
    (array([629.6]), 5)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from md.forces.build import build_potential, precision
from md.forces.cache import shared_cache
from md.structures import read_structure
from painnjax import units
from painnjax.compiler import jit
from painnjax.errors import InputError
from painnjax.io.files import write_json
from painnjax.io.modelfile import load_model
from painnjax.validate import check_free_cluster


class NotAMinimumWarning(UserWarning):
    """The structure has imaginary frequencies: it is a saddle point or not minimised."""


def eigenvalues_to_cm1(eigenvalues) -> np.ndarray:
    """Mass-weighted Hessian eigenvalues (eV/Å²/amu) as frequencies in cm⁻¹; negative ones imaginary (< 0)."""
    lam = np.asarray(eigenvalues, np.float64)
    return np.sign(lam) * np.sqrt(np.abs(lam)) * units.HBAR_OMEGA_EV / units.INVCM_EV


@dataclass
class HarmonicResult:
    """What :func:`harmonic_analysis` returns.

    Attributes:
        frequencies: the 3N - 6 (3N - 5 for a linear molecule) vibrational frequencies in
            cm⁻¹, ascending; imaginary ones as negative numbers.
        modes: (n_vib, N, 3) Cartesian normal-mode displacements (``M^-1/2`` times the
            mass-weighted eigenvectors), each normalised to unit length, in the order of
            ``frequencies``.
        mass_weighted_modes: (n_vib, 3N) orthonormal eigenvectors of the mass-weighted Hessian.
        eigenvalues: (n_vib,) eigenvalues of the projected mass-weighted Hessian, eV/Å²/amu.
        projected_frequencies: all 3N frequencies of ``P H_mw P`` (cm⁻¹, ascending by
            eigenvalue); ``n_removed`` of them are zero up to round-off.
        hessian: (3N, 3N) Cartesian Hessian, eV/Å².
        masses: (N,) amu.
        n_removed: rigid-body motions projected out (6, or 5 for a linear molecule).
        linear: whether the structure is linear.
        energy: eV; fmax: largest atomic force at the structure (eV/Å), a check that it is a
            stationary point.
    """

    frequencies: np.ndarray
    modes: np.ndarray
    mass_weighted_modes: np.ndarray
    eigenvalues: np.ndarray
    projected_frequencies: np.ndarray
    hessian: np.ndarray
    masses: np.ndarray
    n_removed: int
    linear: bool
    energy: float
    fmax: float

    @property
    def imaginary(self) -> np.ndarray:
        """The imaginary frequencies (negative numbers, cm⁻¹)."""
        return self.frequencies[self.frequencies < 0]

    def to_dict(self) -> dict:
        return {
            "frequencies_cm-1": [float(x) for x in self.frequencies],
            "n_removed": int(self.n_removed),
            "linear": bool(self.linear),
            "energy_eV": float(self.energy),
            "fmax_eV_per_A": float(self.fmax),
            "masses_amu": [float(x) for x in self.masses],
        }


def rigid_body_basis(positions, masses, tol: float = 1e-6) -> np.ndarray:
    """Orthonormal (3N, k) basis of the rigid-body motions in mass-weighted coordinates.

    Translations: ``sqrt(m_i) e_a``; rotations: ``sqrt(m_i) (e_a x (r_i - r_com))``. k is 6, 5 for
    a linear molecule (its rotation about the axis vanishes), 3 for one atom. Vectors with a
    singular value below ``tol`` times the largest are dropped.
    """
    R = np.asarray(positions, np.float64)
    m = np.asarray(masses, np.float64)
    n = len(R)
    sq = np.sqrt(m)
    com = (m[:, None] * R).sum(0) / m.sum()
    X = R - com
    vecs = []
    for a in range(3):
        t = np.zeros((n, 3))
        t[:, a] = sq
        vecs.append(t.ravel())
    for a in range(3):
        axis = np.zeros(3)
        axis[a] = 1.0
        vecs.append((np.cross(axis, X) * sq[:, None]).ravel())
    V = np.stack(vecs, axis=1)
    U, s, _ = np.linalg.svd(V, full_matrices=False)
    keep = s > tol * s.max()
    return U[:, keep]


def hessian(energy_fn: Callable, positions) -> np.ndarray:
    """(3N, 3N) Cartesian Hessian of ``energy_fn`` at ``positions`` (N, 3) by ``jax.hessian`` (eV/Å²)."""
    R = np.asarray(positions)
    n = R.shape[0]
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32

    def flat(x):
        return energy_fn(x.reshape(n, 3))

    H = jit(jax.hessian(flat))(jnp.asarray(R.reshape(-1), dtype))
    H = np.asarray(H, np.float64)
    return 0.5 * (H + H.T)


def derivatives_fn(energy_fn: Callable, n_atoms: int, *, hessian_batch: int = 8) -> Callable:
    """The derivatives of ``energy_fn`` as one function of the flat positions, to ``jax.jit`` or ``jax.vmap``.

    Returns ``derivatives(x) -> (E, g, H)`` for ``x`` (3N,) Å: the energy (eV), its gradient
    (3N,) and the Cartesian Hessian (3N, 3N), eV/Å², forward-over-reverse a few columns
    (``hessian_batch``) at a time: all 3N at once would hold 3N copies of the model's per-pair
    intermediates (~37 GB for SA7AM7). Not jitted: ``jax.jit(derivatives)`` for one structure,
    ``jax.jit(jax.vmap(derivatives))`` for a batch of structures of the same atoms
    (:func:`harmonic_analysis_batch`).
    """
    n = int(n_atoms)

    def flat(x):
        return energy_fn(x.reshape(n, 3))

    grad = jax.grad(flat)

    def derivatives(x):  # one compilation for energy, gradient and Hessian
        e, g = jax.value_and_grad(flat)(x)
        hvp = lambda v: jax.jvp(grad, (x,), (v,))[1]  # noqa: E731
        H = jax.lax.map(hvp, jnp.eye(x.shape[0], dtype=x.dtype), batch_size=hessian_batch)
        return e, g, H

    return derivatives


def _checked_input(atoms, masses, ignore_cell: bool, where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 3) and masses (N,) of ``atoms`` (an ``ase.Atoms`` or positions), checked."""
    prefix = f"{where}: " if where else ""
    if hasattr(atoms, "get_positions"):
        check_free_cluster(atoms, atoms.info.get("source"), ignore_cell=ignore_cell)
        R = np.asarray(atoms.get_positions(), np.float64)
        m = np.asarray(atoms.get_masses() if masses is None else masses, np.float64)
    else:
        R = np.asarray(atoms, np.float64)
        if masses is None:
            raise InputError(f"{prefix}masses are needed when positions are given without an ase.Atoms")
        m = np.asarray(masses, np.float64)
    if R.ndim != 2 or R.shape[1] != 3 or len(R) < 2:
        raise InputError(f"{prefix}positions must be (N, 3) with N >= 2, got shape {R.shape}")
    if m.shape != (len(R),) or not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise InputError(f"{prefix}masses must be {len(R)} finite numbers > 0")
    if not np.all(np.isfinite(R)):
        raise InputError(f"{prefix}positions hold non-finite values")
    return R, m


def check_harmonic_input(atoms, *, ignore_cell: bool = False, where: str | None = None) -> None:
    """What :func:`harmonic_analysis` needs of ``atoms`` (``ase.Atoms``), checked without computing
    anything: a free cluster (unless ``ignore_cell``) of at least 2 atoms, finite positions, masses
    > 0; else an :class:`InputError` naming ``where``. For a caller that must refuse before other
    work (``painnjax screen --rank-by G``, before it minimises)."""
    _checked_input(atoms, None, ignore_cell, where)


def _check_threshold(imaginary_threshold) -> None:
    if not (np.isfinite(imaginary_threshold) and imaginary_threshold >= 0):
        raise InputError(f"imaginary_threshold must be a finite number >= 0, got {imaginary_threshold!r}")


def _analyse(R, m, e, g, H, *, imaginary_threshold: float, linear_tol: float, where: str | None = None):
    """:class:`HarmonicResult` from the energy, gradient and Hessian at ``R``; warns about imaginary modes."""
    prefix = f"{where}: " if where else ""
    n = len(R)
    g = np.asarray(g, np.float64)
    H = np.asarray(H, np.float64)
    H = 0.5 * (H + H.T)
    if not (np.isfinite(float(e)) and np.all(np.isfinite(g))):
        raise InputError(f"{prefix}the energy or its gradient is not finite at this structure")
    if not np.all(np.isfinite(H)):
        raise InputError(f"{prefix}the Hessian is not finite at this structure")

    inv_sq = 1.0 / np.sqrt(np.repeat(m, 3))
    Hmw = H * inv_sq[:, None] * inv_sq[None, :]
    Q = rigid_body_basis(R, m, tol=linear_tol)
    k = Q.shape[1]
    # all 3N eigenvalues of P H P (k of them zero up to round-off)
    P = np.eye(3 * n) - Q @ Q.T
    projected = np.linalg.eigvalsh(P @ Hmw @ P)
    # the vibrational problem on the complement D of the rigid-body space
    U, _, _ = np.linalg.svd(Q, full_matrices=True)
    D = U[:, k:]
    lam, W = np.linalg.eigh(D.T @ Hmw @ D)
    mw_modes = (D @ W).T  # (n_vib, 3N), orthonormal
    cart = mw_modes * inv_sq[None, :]
    cart /= np.linalg.norm(cart, axis=1, keepdims=True)
    freqs = eigenvalues_to_cm1(lam)
    res = HarmonicResult(
        frequencies=freqs,
        modes=cart.reshape(-1, n, 3),
        mass_weighted_modes=mw_modes,
        eigenvalues=lam,
        projected_frequencies=eigenvalues_to_cm1(projected),
        hessian=H,
        masses=m,
        n_removed=k,
        linear=(k == 5),
        energy=float(e),
        fmax=float(np.sqrt((g.reshape(n, 3) ** 2).sum(1).max())),
    )
    bad = freqs[freqs < -imaginary_threshold]
    if bad.size:
        shown = ", ".join(f"{x:.1f}" for x in bad)
        warnings.warn(
            f"{prefix}{bad.size} imaginary frequenc{'y' if bad.size == 1 else 'ies'} ({shown} cm-1, shown negative): "
            f"the structure is not a minimum (a saddle point, or not minimised; max force {res.fmax:.3g} eV/Å)",
            NotAMinimumWarning,
            stacklevel=3,
        )
    return res


def harmonic_analysis(
    energy_fn: Callable,
    atoms,
    *,
    masses=None,
    imaginary_threshold: float = 10.0,
    linear_tol: float = 1e-6,
    hessian_batch: int = 8,
    ignore_cell: bool = False,
) -> HarmonicResult:
    """Harmonic frequencies (cm⁻¹) and normal modes of ``atoms`` with ``energy_fn`` (eV, Å).

    Args:
        energy_fn: a painnjax potential or any JAX function ``energy_fn(R) -> E``.
        atoms: ``ase.Atoms`` (positions, masses) or positions (N, 3) Å with ``masses`` given.
        masses: (N,) amu instead of ``atoms.get_masses()``.
        imaginary_threshold: warn (:class:`NotAMinimumWarning`) when a frequency is below
            ``-imaginary_threshold`` cm⁻¹ (small imaginary values come from a structure that
            is minimised only to a finite ``fmax``).
        linear_tol: relative singular-value threshold that decides linearity.
        hessian_batch: Hessian columns computed together (memory grows with it).
        ignore_cell: analyse periodic ``atoms`` as a free cluster (cell and pbc not used);
            without it they are an :class:`InputError` (the models are for free clusters).
    """
    R, m = _checked_input(atoms, masses, ignore_cell)
    _check_threshold(imaginary_threshold)
    x64 = bool(jax.config.jax_enable_x64)
    # one compiled function per energy function, size and precision: a second structure (or the
    # same one after a step, md.analysis.settle) is not compiled again
    derivatives = shared_cache(energy_fn).setdefault(
        ("harmonic", len(R), hessian_batch, x64),
        jit(derivatives_fn(energy_fn, len(R), hessian_batch=hessian_batch)),
    )
    e, g, H = derivatives(jnp.asarray(R.reshape(-1), jnp.float64 if x64 else jnp.float32))
    return _analyse(R, m, e, g, H, imaginary_threshold=imaginary_threshold, linear_tol=linear_tol)


def harmonic_analysis_batch(
    energy_fn: Callable,
    structures,
    *,
    imaginary_threshold: float = 10.0,
    linear_tol: float = 1e-6,
    hessian_batch: int = 8,
    batch_size: int = 8,
    ignore_cell: bool = False,
    names=None,
) -> list[HarmonicResult]:
    """:func:`harmonic_analysis` of several structures of the same atoms, their Hessians batched.

    The derivative function of :func:`derivatives_fn` is compiled once, ``jax.vmap``-ed over
    ``batch_size`` structures at a time (the last batch padded with copies, so one
    compilation serves all); each result equals :func:`harmonic_analysis` of that structure
    alone (up to round-off). Memory grows with ``batch_size * hessian_batch``.

    Args:
        energy_fn: one potential valid for every structure (a painnjax potential sized to
            the structure with the most pairs, or any JAX function).
        structures: ``ase.Atoms`` with the same atomic numbers in the same order.
        names: one label per structure for the messages (default ``structure k``).
        imaginary_threshold, linear_tol, hessian_batch, ignore_cell: as in :func:`harmonic_analysis`.
    """
    structures = list(structures)
    if not structures:
        return []
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    _check_threshold(imaginary_threshold)
    names = [f"structure {k}" for k in range(len(structures))] if names is None else list(names)
    if len(names) != len(structures):
        raise InputError(f"{len(names)} names for {len(structures)} structures")
    first = np.asarray(structures[0].numbers)
    inputs = []
    for atoms, name in zip(structures, names):
        if not np.array_equal(np.asarray(atoms.numbers), first):
            raise InputError(
                f"{name}: its atoms ({atoms.get_chemical_formula()}) differ from those of {names[0]} "
                f"({structures[0].get_chemical_formula()}); a batch holds structures of the same atoms"
            )
        inputs.append(_checked_input(atoms, None, ignore_cell, where=name))
    n = len(first)
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    batch = min(batch_size, len(structures))
    derivatives = shared_cache(energy_fn).setdefault(
        ("harmonic-batch", n, hessian_batch, bool(jax.config.jax_enable_x64)),
        jit(jax.vmap(derivatives_fn(energy_fn, n, hessian_batch=hessian_batch))),
    )
    X = np.stack([R.reshape(-1) for R, _ in inputs])
    results = []
    for start in range(0, len(X), batch):
        chunk = X[start : start + batch]
        pad = batch - len(chunk)
        if pad:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
        E, G, H = (np.asarray(a) for a in derivatives(jnp.asarray(chunk, dtype)))
        for j in range(batch - pad):
            R, m = inputs[start + j]
            results.append(
                _analyse(
                    R,
                    m,
                    E[j],
                    G[j],
                    H[j],
                    imaginary_threshold=imaginary_threshold,
                    linear_tol=linear_tol,
                    where=names[start + j],
                )
            )
    return results


def harmonic_file(
    model, structure, *, dtype: str = "float64", imaginary_threshold: float = 10.0, ignore_cell: bool = False
) -> HarmonicResult:
    """:func:`harmonic_analysis` of a structure file (or bundled name) with a model file (or bundled name);
    ``ignore_cell``: a periodic frame is read as a free cluster (else an error)."""
    with precision(dtype):
        m = load_model(model)
        atoms = read_structure(structure, ignore_cell=ignore_cell)
        energy_fn = build_potential(m, atoms, dtype)
        return harmonic_analysis(energy_fn, atoms, imaginary_threshold=imaginary_threshold)


def format_frequencies(result: HarmonicResult) -> str:
    """The frequencies as text: a heading (how many, the force at the structure) and one line of them."""
    kind = "linear, 3N-5" if result.linear else "3N-6"
    return (
        f"{len(result.frequencies)} vibrational frequencies ({kind}; imaginary shown negative), cm-1; "
        f"max force {result.fmax:.3g} eV/Å:\n" + " ".join(f"{f:.2f}" for f in result.frequencies)
    )


def write_frequencies(result: HarmonicResult, path) -> Path:
    """The result's :meth:`HarmonicResult.to_dict` as JSON (key ``frequencies_cm-1``), written atomically."""
    return write_json(path, result.to_dict())
