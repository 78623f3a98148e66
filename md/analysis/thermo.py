"""Free energies of clusters: ideal gas, rigid rotor, harmonic oscillator (RRHO), quasi-harmonic.

:func:`thermochemistry` turns an energy ``E`` (eV), the vibrational frequencies (cm⁻¹, imaginary
ones negative, as :mod:`md.analysis.harmonic` gives them) and the structure (masses, moments of
inertia) into the enthalpy ``H``, entropy ``S`` and Gibbs energy ``G = H - T S`` of the ideal
gas at each temperature ``T`` and pressure ``p``. With ``kT = k_B T`` and ``ε_i = h c ω_i``:

- translation: ``E_t = 3/2 kT``; ``S_t = k_B [ln((2π M kT / h²)^{3/2} kT / p) + 5/2]``
  (Sackur–Tetrode, ``M`` the total mass);
- rotation (rigid rotor, symmetry number ``σ``): ``E_r = 3/2 kT`` and
  ``S_r = k_B [ln(sqrt(π I_A I_B I_C) / σ (8π² kT / h²)^{3/2}) + 3/2]``; linear molecules
  ``E_r = kT`` and ``S_r = k_B [ln(8π² I kT / (σ h²)) + 1]``;
- electronic: ``S_e = k_B ln(2 s + 1)`` (spin ``s``; 0 for these closed-shell clusters);
- vibration (harmonic oscillator), each real mode: ``E_v = ε (1/2 + 1/(e^x - 1))`` (zero-point
  energy included, ``ZPE = Σ ε/2``) and ``S_v = k_B [x/(e^x - 1) - ln(1 - e^-x)]``, ``x = ε/kT``;
- ``H = E + E_t + E_r + Σ E_v + kT`` (the ``kT`` is ``pV``), ``S = S_t + S_r + S_e + Σ S_v``.

These are the formulas and constants (ASE's CODATA values) of ASE's ``IdealGasThermo``, which
the plain RRHO (``quasi_harmonic=False``) reproduces to round-off.

Quasi-harmonic (the default): soft modes, which in clusters are hindered rotations and
intermolecular motions rather than oscillators, are interpolated towards a free rotor with
the damping ``w(ω) = 1 / (1 + (ω0/ω)^α)`` (``ω0 = qh_cutoff`` = 100 cm⁻¹, ``α`` = 4):

- entropy, Grimme's quasi-RRHO (S. Grimme, Chem. Eur. J. 2012, 18, 9955–9964):
  ``S = w S_v + (1 - w) S_rot`` with the free-rotor entropy
  ``S_rot = k_B [1/2 + ln(sqrt(8π³ μ' kT / h²))]`` of a rotor with moment
  ``μ' = μ B_av / (μ + B_av)``, ``μ = h / (8π² ν)`` (``ν = c ω``, the moment of a rotor with
  the mode's frequency) and ``B_av = 1e-44 kg m²``;
- enthalpy, Head-Gordon's quasi-harmonic energy (Y.-P. Li, J. Gomes, S. M. Sharada,
  A. T. Bell, M. Head-Gordon, J. Phys. Chem. C 2015, 119, 1840–1850):
  ``E = w E_v + (1 - w) kT/2``, the mode's harmonic energy (with its zero-point energy, as
  GoodVibes' ``--qh`` does) damped towards the ``kT/2`` of a free rotor.

Stiff modes (``ω >> ω0``, ``w → 1``) are treated as in RRHO; at ``ω = ω0`` the weight is 1/2.
The reported ``zpe`` is always the harmonic ``Σ ε/2``.

Imaginary frequencies (negative numbers) are left out of the ZPE, ``H`` and ``S`` but never
silently: they are listed (``imaginary``, JSON ``imaginary_cm-1``) and a
:class:`~md.analysis.harmonic.NotAMinimumWarning` is issued. A frequency with
``|ω| < 1e-3 cm⁻¹`` is an error: a rigid-body motion that was not projected out.

:func:`thermo_of_structures` runs it for many structures with a model (Hessians of structures
of the same atoms batched with ``jax.vmap``); :func:`monomer_references` minimises the SA, AM
and W templates (:mod:`md.clusters`) with the model and gives their thermochemistry with their
point-group symmetry numbers (H2SO4 C2: σ = 2, NH3 C3v: σ = 3, H2O C2v: σ = 2; a cluster is
taken as C1, σ = 1, unless told); :func:`binding` gives ``ΔE``, ``ΔH``, ``ΔS``, ``ΔG`` of
forming a cluster from the neutral monomers (an ion pair HSO4⁻ + NH4⁺ has the atoms of SA + AM
and counts as such). :func:`write_thermo` writes JSON, :func:`write_dh_ds_table` the ΔH/ΔS
table that cluster-kinetics codes such as ACDC read.

Example:
    >>> from ase import Atoms
    >>> co = Atoms("CO", positions=[[0, 0, 0], [0, 0, 1.128]])
    >>> t = thermochemistry(-14.0, [2170.0], co, [298.15], symmetry_number=1, quasi_harmonic=False)
    >>> round(t.zpe, 4), round(float(t.gibbs[0]), 4)
    (0.1345, -14.3858)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from md.analysis.harmonic import NotAMinimumWarning, harmonic_analysis, harmonic_analysis_batch
from painnjax import units
from painnjax.errors import InputError

#: Grimme's average molecular moment of inertia ``B_av`` of the free rotor, kg m²
GRIMME_B_AV_KG_M2 = 1e-44
#: a frequency below this in magnitude (cm⁻¹) is a rigid-body motion left in the spectrum: an error
ZERO_MODE_CM1 = 1e-3
#: a structure with a larger force than this (eV/Å) is warned about: not a stationary point of the model
STATIONARY_FMAX = 0.05
#: 1 atm in Pa, the default pressure (the standard state of cluster-kinetics data)
ATMOSPHERE_PA = 101325.0
#: point groups of the monomer templates' minima and their rotational symmetry numbers
MONOMER_POINT_GROUPS = {"SA": "C2", "AM": "C3v", "W": "C2v"}
MONOMER_SYMMETRY = {"SA": 2, "AM": 3, "W": 2}
#: eV/K to cal/(mol K)
EV_PER_K_TO_CAL_PER_MOL_K = units.EV_TO_KCAL_PER_MOL * 1000.0


# --------------------------------------------------------------------------------------------
# One set of frequencies


@dataclass
class Thermo:
    """What :func:`thermochemistry` returns: one structure at every temperature.

    Energies in eV, entropies in eV/K, frequencies in cm⁻¹; arrays over ``temperatures``.

    Attributes:
        energy: the potential energy ``E``; zpe: the harmonic zero-point energy ``Σ ε/2`` of the
            real modes.
        frequencies: all vibrational frequencies (imaginary ones negative); imaginary: those < 0.
        temperatures: K; enthalpy ``H``, entropy ``S``, gibbs ``G = H - T S`` at each.
        e_trans, e_rot, e_vib: the thermal energies (``e_vib`` includes the zero-point energy;
            ``H = E + e_trans + e_rot + e_vib + kT``); s_trans (at ``pressure``), s_rot,
            s_vib, s_elec: the entropy's parts.
        pressure: Pa; linear, symmetry_number, spin: the rigid rotor and electronic state;
            mass (amu) and moments_of_inertia (amu Å²) used.
        quasi_harmonic, qh_cutoff (cm⁻¹), qh_alpha: the treatment of soft modes.
        name, composition, fmax: what the structure was (optional; ``fmax``: the largest force
            at it, eV/Å, a check that it is a stationary point).
    """

    energy: float
    zpe: float
    frequencies: np.ndarray
    imaginary: np.ndarray
    temperatures: np.ndarray
    enthalpy: np.ndarray
    entropy: np.ndarray
    gibbs: np.ndarray
    e_trans: np.ndarray
    e_rot: np.ndarray
    e_vib: np.ndarray
    s_trans: np.ndarray
    s_rot: np.ndarray
    s_vib: np.ndarray
    s_elec: float
    pressure: float
    linear: bool
    symmetry_number: int
    spin: float
    mass: float
    moments_of_inertia: np.ndarray
    quasi_harmonic: bool
    qh_cutoff: float
    qh_alpha: float
    name: str | None = None
    composition: str | None = None
    fmax: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready: ``energy_eV``, ``zpe_eV``, ``frequencies_cm-1``, ``imaginary_cm-1``, ... and
        ``temperatures``: one entry per temperature (``T_K``, ``H_eV``, ``S_eV_per_K``, ``G_eV``
        and the parts)."""
        per_t = []
        for k, T in enumerate(self.temperatures):
            per_t.append(
                {
                    "T_K": float(T),
                    "H_eV": float(self.enthalpy[k]),
                    "S_eV_per_K": float(self.entropy[k]),
                    "G_eV": float(self.gibbs[k]),
                    "E_trans_eV": float(self.e_trans[k]),
                    "E_rot_eV": float(self.e_rot[k]),
                    "E_vib_eV": float(self.e_vib[k]),
                    "S_trans_eV_per_K": float(self.s_trans[k]),
                    "S_rot_eV_per_K": float(self.s_rot[k]),
                    "S_vib_eV_per_K": float(self.s_vib[k]),
                    "S_elec_eV_per_K": float(self.s_elec),
                }
            )
        return {
            "name": self.name,
            "composition": self.composition,
            "energy_eV": float(self.energy),
            "zpe_eV": float(self.zpe),
            "fmax_eV_per_A": None if self.fmax is None else float(self.fmax),
            "frequencies_cm-1": [float(x) for x in self.frequencies],
            "imaginary_cm-1": [float(x) for x in self.imaginary],
            "linear": bool(self.linear),
            "symmetry_number": int(self.symmetry_number),
            "spin": float(self.spin),
            "mass_amu": float(self.mass),
            "moments_of_inertia_amu_A2": [float(x) for x in self.moments_of_inertia],
            "pressure_Pa": float(self.pressure),
            "quasi_harmonic": bool(self.quasi_harmonic),
            "qh_cutoff_cm-1": float(self.qh_cutoff),
            "qh_alpha": float(self.qh_alpha),
            "temperatures": per_t,
        }


def _finite_positive(value, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise InputError(f"{what} must be a finite number > 0, got {value!r}")
    return x


def check_conditions(
    temperatures,
    pressure: float = ATMOSPHERE_PA,
    *,
    symmetry_number: int = 1,
    spin: float = 0,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
) -> np.ndarray:
    """The temperatures (K) as a 1-d array after checking them and the other settings.

    Raises :class:`InputError` for a temperature or pressure (Pa) that is not a finite number
    > 0, no temperatures, a symmetry number that is not an integer >= 1, a negative or
    non-half-integer spin, or a quasi-harmonic cutoff or exponent that is not > 0.
    """
    T = np.atleast_1d(np.asarray(temperatures, dtype=object)).ravel()
    if T.size == 0:
        raise InputError("no temperatures given")
    T = np.array([_finite_positive(t, "temperature (K)") for t in T], np.float64)
    _finite_positive(pressure, "pressure (Pa)")
    if isinstance(symmetry_number, bool) or not (
        isinstance(symmetry_number, (int, np.integer)) and symmetry_number >= 1
    ):
        raise InputError(f"symmetry number must be an integer >= 1, got {symmetry_number!r}")
    s = float(spin) if isinstance(spin, (int, float, np.integer, np.floating)) else float("nan")
    if not (math.isfinite(s) and s >= 0 and float(2 * s).is_integer()):
        raise InputError(f"spin must be 0, 0.5, 1, ... (total electronic spin), got {spin!r}")
    _finite_positive(qh_cutoff, "quasi-harmonic cutoff (cm-1)")
    _finite_positive(qh_alpha, "quasi-harmonic exponent alpha")
    return T


def qh_weight(frequencies_cm1, cutoff: float = 100.0, alpha: float = 4) -> np.ndarray:
    """The damping ``w = 1 / (1 + (ω0/ω)^α)`` of each (real, > 0) frequency: 1/2 at ``ω = ω0 = cutoff``."""
    f = np.asarray(frequencies_cm1, np.float64)
    return 1.0 / (1.0 + (cutoff / f) ** alpha)


def _kT(temperatures) -> np.ndarray:
    return units.KB_EV * np.asarray(temperatures, np.float64)


def _x(frequencies_cm1, temperatures) -> np.ndarray:
    """``ε / kT``, (n_T, n_modes)."""
    eps = np.asarray(frequencies_cm1, np.float64) * units.INVCM_EV
    return eps[None, :] / _kT(temperatures)[:, None]


def harmonic_energy(frequencies_cm1, temperatures) -> np.ndarray:
    """Each mode's harmonic energy ``ε (1/2 + 1/(e^x - 1))``, eV, zero-point energy included; (n_T, n_modes)."""
    eps = np.asarray(frequencies_cm1, np.float64) * units.INVCM_EV
    x = _x(frequencies_cm1, temperatures)
    ex = np.exp(-x)
    return eps[None, :] * (0.5 + ex / -np.expm1(-x))


def harmonic_entropy(frequencies_cm1, temperatures) -> np.ndarray:
    """Each mode's harmonic-oscillator entropy ``k_B [x/(e^x - 1) - ln(1 - e^-x)]``, eV/K; (n_T, n_modes)."""
    x = _x(frequencies_cm1, temperatures)
    ex = np.exp(-x)
    return units.KB_EV * (x * ex / -np.expm1(-x) - np.log1p(-ex))


def free_rotor_entropy(frequencies_cm1, temperatures, b_av: float = GRIMME_B_AV_KG_M2) -> np.ndarray:
    """Grimme's free-rotor entropy of each mode, eV/K; (n_T, n_modes).

    ``S = k_B [1/2 + ln(sqrt(8π³ μ' kT / h²))]``, ``μ' = μ B_av / (μ + B_av)``,
    ``μ = h / (8π² ν)``, ``ν = c ω`` (Chem. Eur. J. 2012, 18, 9955, eqs. 4–6).
    """
    nu = units.SPEED_OF_LIGHT_M_PER_S * 100.0 * np.asarray(frequencies_cm1, np.float64)  # Hz
    h = units.PLANCK_J_S
    mu = h / (8.0 * np.pi**2 * nu)
    mu_p = mu * b_av / (mu + b_av)
    kT = units.KB_J_PER_K * np.asarray(temperatures, np.float64)
    arg = 8.0 * np.pi**3 * mu_p[None, :] * kT[:, None] / h**2
    return units.KB_EV * (0.5 + 0.5 * np.log(arg))


def _where(name: str | None) -> str:
    return f"{name}: " if name else ""


def thermochemistry(
    energy: float,
    frequencies_cm1,
    atoms,
    temperatures,
    pressure: float = ATMOSPHERE_PA,
    symmetry_number: int = 1,
    spin: float = 0,
    quasi_harmonic: bool = True,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
    linear: bool | None = None,
    *,
    name: str | None = None,
    composition: str | None = None,
    fmax: float | None = None,
) -> Thermo:
    """Ideal-gas ``H``, ``S``, ``G`` of one structure at each temperature (see the module text).

    Args:
        energy: potential energy, eV.
        frequencies_cm1: the 3N - 6 (3N - 5 for a linear molecule) vibrational frequencies,
            cm⁻¹, imaginary ones negative (:attr:`HarmonicResult.frequencies`).
        atoms: ``ase.Atoms`` of the structure: masses and moments of inertia.
        temperatures: K (one or several); pressure: Pa (default 1 atm).
        symmetry_number: rotational symmetry number σ (1 for a C1 cluster).
        spin: total electronic spin (0: singlet).
        quasi_harmonic: Grimme's entropy and Head-Gordon's enthalpy for soft modes; False: RRHO.
        qh_cutoff: ``ω0`` of the damping, cm⁻¹; qh_alpha: its exponent.
        linear: the rigid rotor is linear; None: decided by the number of frequencies.
        name, composition, fmax: stored in the result; ``name`` also in the messages.

    Raises :class:`InputError` for bad settings, a number of frequencies that fits neither
    3N - 6 nor 3N - 5, or a zero frequency; warns (:class:`NotAMinimumWarning`) about
    imaginary ones, which are left out.
    """
    T = check_conditions(
        temperatures, pressure, symmetry_number=symmetry_number, spin=spin, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha
    )
    where = _where(name)
    f = np.asarray(frequencies_cm1, np.float64).ravel()
    if not np.all(np.isfinite(f)):
        raise InputError(f"{where}the frequencies hold non-finite values")
    n = len(atoms)
    if n < 2:
        raise InputError(f"{where}a single atom has no rotations or vibrations; give a molecule or cluster")
    n_lin, n_non = 3 * n - 5, 3 * n - 6
    if linear is None:
        if len(f) == n_non:
            linear = False
        elif len(f) == n_lin:
            linear = True
        else:
            raise InputError(
                f"{where}{len(f)} vibrational frequencies for {n} atoms: expected 3N-6 = {n_non} "
                f"(or 3N-5 = {n_lin} for a linear molecule)"
            )
    elif len(f) != (n_lin if linear else n_non):
        kind = "linear, 3N-5" if linear else "nonlinear, 3N-6"
        raise InputError(f"{where}{len(f)} vibrational frequencies for {n} atoms, expected {kind}")
    zero = np.abs(f) < ZERO_MODE_CM1
    if zero.any():
        raise InputError(
            f"{where}{int(zero.sum())} vibrational frequenc{'y is' if zero.sum() == 1 else 'ies are'} zero "
            f"(|ω| < {ZERO_MODE_CM1} cm-1): a rigid-body motion that was not projected out"
        )
    imaginary = f[f < 0]
    real = f[f > 0]
    if imaginary.size:
        shown = ", ".join(f"{x:.1f}" for x in imaginary)
        warnings.warn(
            f"{where}{imaginary.size} imaginary frequenc{'y' if imaginary.size == 1 else 'ies'} ({shown} cm-1) "
            "left out of the zero-point energy, enthalpy and entropy: the structure is not a minimum",
            NotAMinimumWarning,
            stacklevel=2,
        )
    masses = np.asarray(atoms.get_masses(), np.float64)
    mass = float(masses.sum())
    inertia = np.asarray(atoms.get_moments_of_inertia(), np.float64)  # amu Å²
    inertia_si = inertia * units.AMU_KG * 1e-20  # kg m²

    kT = _kT(T)
    kT_si = units.KB_J_PER_K * T
    h = units.PLANCK_J_S
    # translation (Sackur-Tetrode at the pressure)
    e_trans = 1.5 * kT
    m_si = mass * units.AMU_KG
    s_trans = units.KB_EV * (1.5 * np.log(2.0 * np.pi * m_si * kT_si / h**2) + np.log(kT_si / pressure) + 2.5)
    # rotation (rigid rotor)
    sigma = float(symmetry_number)
    if linear:
        e_rot = kT.copy()
        s_rot = units.KB_EV * (np.log(8.0 * np.pi**2 * inertia_si.max() * kT_si / (sigma * h**2)) + 1.0)
    else:
        if not np.prod(inertia_si) > 0:
            raise InputError(f"{where}a moment of inertia is zero: the structure is linear, treat it as such")
        e_rot = 1.5 * kT
        s_rot = units.KB_EV * (
            np.log(np.sqrt(np.pi * np.prod(inertia_si)) / sigma) + 1.5 * np.log(8.0 * np.pi**2 * kT_si / h**2) + 1.5
        )
    s_elec = float(units.KB_EV * np.log(2.0 * float(spin) + 1.0))
    # vibration
    zpe = 0.5 * float(np.sum(real)) * units.INVCM_EV
    e_h = harmonic_energy(real, T)
    s_h = harmonic_entropy(real, T)
    if quasi_harmonic and real.size:
        w = qh_weight(real, qh_cutoff, qh_alpha)[None, :]
        e_vib = (w * e_h + (1.0 - w) * 0.5 * kT[:, None]).sum(1)
        s_vib = (w * s_h + (1.0 - w) * free_rotor_entropy(real, T)).sum(1)
    else:
        e_vib = e_h.sum(1)
        s_vib = s_h.sum(1)
    H = float(energy) + e_trans + e_rot + e_vib + kT
    S = s_trans + s_rot + s_vib + s_elec
    return Thermo(
        energy=float(energy),
        zpe=zpe,
        frequencies=f,
        imaginary=imaginary,
        temperatures=T,
        enthalpy=H,
        entropy=S,
        gibbs=H - T * S,
        e_trans=e_trans,
        e_rot=e_rot,
        e_vib=e_vib,
        s_trans=s_trans,
        s_rot=s_rot,
        s_vib=s_vib,
        s_elec=s_elec,
        pressure=float(pressure),
        linear=bool(linear),
        symmetry_number=int(symmetry_number),
        spin=float(spin),
        mass=mass,
        moments_of_inertia=inertia,
        quasi_harmonic=bool(quasi_harmonic),
        qh_cutoff=float(qh_cutoff),
        qh_alpha=float(qh_alpha),
        name=name,
        composition=composition,
        fmax=None if fmax is None else float(fmax),
    )


# --------------------------------------------------------------------------------------------
# Structures with a model


def _potential_factory(model, dtype: str) -> tuple[Callable, str | None]:
    """``(potential_for, identity)``: ``potential_for(frames) -> energy_fn`` valid for every frame
    of one atom list, and the model's identity (None for a callable given instead of a model).

    ``model``: a painnjax ``Model``, a model file or bundled name, or a callable
    ``potential_for(atoms) -> energy_fn`` (an analytic potential, e.g. in tests).
    """
    import os

    from painnjax.model import Model

    if isinstance(model, _ResolvedModel):
        return model.potential_for, model.identity
    if callable(model) and not isinstance(model, (Model, str, os.PathLike)):
        return (lambda frames: model(frames[0])), None
    from md.structures import build_potential
    from painnjax.io.modelfile import load_model, model_identity
    from painnjax.nn.neighbors import count_pairs

    m = load_model(model)
    cutoff = float(m.config.cutoff)

    def potential_for(frames):
        # sized to the frame with the most pairs, so that one potential serves the batch
        ref = max(frames, key=lambda a: count_pairs(a.positions, cutoff))
        return build_potential(m, ref, dtype)

    return potential_for, model_identity(m)


def structure_name(atoms, k: int) -> str:
    """A label for frame ``k``: ``info["name"]``, else ``<file name>:<frame>`` (from ``source``
    and ``candidate``, as :func:`md.screening.candidates.read_candidates` sets them), else
    ``structure k``."""
    info = atoms.info
    if info.get("name"):
        return str(info["name"])
    if info.get("source") is not None:
        return f"{Path(str(info['source'])).name}:{info.get('candidate', k)}"
    return f"structure {k}"


def _composition(atoms) -> str:
    from painnjax.data.composition import composition_of

    c = atoms.info.get("composition")
    return str(c) if c else (composition_of(atoms.numbers) or atoms.get_chemical_formula(mode="hill"))


def thermo_of_structures(
    model,
    structures,
    temperatures,
    *,
    pressure: float = ATMOSPHERE_PA,
    quasi_harmonic: bool = True,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
    symmetry_number: int | Sequence[int] = 1,
    spin: float = 0,
    dtype: str = "float64",
    ignore_cell: bool = False,
    batch_size: int = 8,
    hessian_batch: int = 8,
    names: Sequence[str] | None = None,
) -> list[Thermo]:
    """:func:`thermochemistry` of each structure, its frequencies from the model's exact Hessian.

    Structures with the same atomic numbers in the same order (frames of one composition) have
    their Hessians computed together (:func:`~md.analysis.harmonic.harmonic_analysis_batch`:
    ``jax.vmap`` over ``batch_size`` structures). The structures are taken as they are (not
    minimised): a structure whose largest force exceeds :data:`STATIONARY_FMAX` and imaginary
    frequencies are warned about (:class:`NotAMinimumWarning`); the latter are left out.

    Args:
        model: a painnjax ``Model``, model file or bundled name; or a callable
            ``potential_for(atoms) -> energy_fn`` (any JAX energy, eV and Å).
        structures: ``ase.Atoms`` (free clusters; periodic ones only with ``ignore_cell``).
        temperatures: K; pressure: Pa; quasi_harmonic, qh_cutoff, qh_alpha, spin: as in
            :func:`thermochemistry`.
        symmetry_number: one for all, or one per structure.
        dtype: precision of the model (float64: the Hessian of float32 is good to a few cm⁻¹ only).
        names: labels (default :func:`structure_name`).

    Returns:
        one :class:`Thermo` per structure, in order, with ``name``, ``composition`` and ``fmax``.
    """
    from md.structures import precision
    from painnjax.validate import free_cluster

    structures = list(structures)
    T = check_conditions(temperatures, pressure, spin=spin, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha)
    sigmas = (
        [symmetry_number] * len(structures) if isinstance(symmetry_number, (int, np.integer)) else list(symmetry_number)
    )
    if len(sigmas) != len(structures):
        raise InputError(f"{len(sigmas)} symmetry numbers for {len(structures)} structures")
    for s in sigmas:
        check_conditions(T, pressure, symmetry_number=s)
    names = [structure_name(a, k) for k, a in enumerate(structures)] if names is None else list(names)
    if len(names) != len(structures):
        raise InputError(f"{len(names)} names for {len(structures)} structures")
    if not structures:
        return []
    frames = []
    for atoms, name in zip(structures, names):
        a = free_cluster(atoms.copy(), name, ignore_cell=ignore_cell)
        a.info["source"] = name
        frames.append(a)
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, a in enumerate(frames):
        groups.setdefault(tuple(int(z) for z in a.numbers), []).append(k)
    results: list[Thermo | None] = [None] * len(frames)
    with precision(dtype):
        potential_for, _ = _potential_factory(model, dtype)
        for idx in groups.values():
            group = [frames[k] for k in idx]
            energy_fn = potential_for(group)
            with warnings.catch_warnings():
                # thermochemistry() warns about every imaginary frequency, naming the structure
                warnings.simplefilter("ignore", NotAMinimumWarning)
                harmonic = harmonic_analysis_batch(
                    energy_fn,
                    group,
                    names=[names[k] for k in idx],
                    batch_size=batch_size,
                    hessian_batch=hessian_batch,
                )
            for k, res in zip(idx, harmonic):
                if res.fmax > STATIONARY_FMAX:
                    warnings.warn(
                        f"{names[k]}: the largest force is {res.fmax:.3g} eV/Å, above {STATIONARY_FMAX} eV/Å: "
                        "not a stationary point of this model (minimise it with the model first, e.g. "
                        "`painnjax optimize`); its harmonic free energy is not meaningful",
                        NotAMinimumWarning,
                        stacklevel=2,
                    )
                results[k] = thermochemistry(
                    res.energy,
                    res.frequencies,
                    frames[k],
                    T,
                    pressure,
                    symmetry_number=sigmas[k],
                    spin=spin,
                    quasi_harmonic=quasi_harmonic,
                    qh_cutoff=qh_cutoff,
                    qh_alpha=qh_alpha,
                    linear=res.linear,
                    name=names[k],
                    composition=_composition(structures[k]),
                    fmax=res.fmax,
                )
    return results  # type: ignore[return-value]


def monomer_references(
    model,
    names: Sequence[str] = ("SA", "AM", "W"),
    temperatures=(298.15,),
    pressure: float = ATMOSPHERE_PA,
    quasi_harmonic: bool = True,
    dtype: str = "float64",
    *,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
    fmax: float = 1e-3,
    max_steps: int = 5000,
) -> dict[str, Thermo]:
    """The monomers minimised with the model and their thermochemistry: the references of :func:`binding`.

    Each template of :data:`md.clusters.TEMPLATES` (SA = H2SO4, AM = NH3, W = H2O) is minimised
    with FIRE to ``fmax`` (eV/Å) in ``dtype`` (float64 by default), its frequencies computed
    from the exact Hessian, and :func:`thermochemistry` applied with the symmetry number of its
    point group (:data:`MONOMER_SYMMETRY`: H2SO4 C2 σ = 2, NH3 C3v σ = 3, H2O C2v σ = 2).
    A minimisation that stops at ``max_steps`` short of ``fmax`` is warned about
    (:class:`NotAMinimumWarning`).

    Args:
        model: as in :func:`thermo_of_structures`.
        names: the monomers wanted (keys of :data:`MONOMER_SYMMETRY`).
    """
    from md.clusters import molecule
    from md.optimize.fire import minimize
    from md.structures import precision

    T = check_conditions(temperatures, pressure, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha)
    unknown = [n for n in names if n not in MONOMER_SYMMETRY]
    if unknown:
        raise InputError(
            f"no monomer template for {', '.join(map(str, unknown))}; known: {', '.join(MONOMER_SYMMETRY)}"
        )
    out: dict[str, Thermo] = {}
    with precision(dtype):
        potential_for, _ = _potential_factory(model, dtype)
        for name in names:
            atoms = molecule(name)
            where = f"monomer {name} ({atoms.get_chemical_formula(mode='hill')})"
            atoms.info["source"] = where
            res = minimize(potential_for([atoms]), atoms, fmax=fmax, max_steps=max_steps)
            if not res.converged:
                warnings.warn(
                    f"{where}: FIRE stopped after {res.steps} steps at max force {res.fmax:.3g} eV/Å, "
                    f"above fmax {fmax:g}: its reference free energy is of a structure not quite at the minimum",
                    NotAMinimumWarning,
                    stacklevel=2,
                )
            atoms.positions = res.positions
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotAMinimumWarning)  # thermochemistry() warns
                harmonic = harmonic_analysis(potential_for([atoms]), atoms)
            out[name] = thermochemistry(
                harmonic.energy,
                harmonic.frequencies,
                atoms,
                T,
                pressure,
                symmetry_number=MONOMER_SYMMETRY[name],
                spin=0,
                quasi_harmonic=quasi_harmonic,
                qh_cutoff=qh_cutoff,
                qh_alpha=qh_alpha,
                linear=harmonic.linear,
                name=name,
                composition=name,
                fmax=harmonic.fmax,
            )
    return out


# --------------------------------------------------------------------------------------------
# Binding free energies


@dataclass
class Binding:
    """Formation of a cluster from its neutral monomers: ``ΔX = X(cluster) - Σ n_i X(monomer i)``.

    Attributes:
        counts: monomers in the cluster, e.g. ``{"SA": 2, "AM": 2, "W": 0}``.
        temperatures: K; dE: ΔE (potential energies, eV); dH, dS, dG: eV, eV/K, eV at each T.
        pressure: Pa (of cluster and monomers alike).
    """

    counts: dict[str, int]
    temperatures: np.ndarray
    pressure: float
    dE: float
    dH: np.ndarray
    dS: np.ndarray
    dG: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready; per temperature ΔH, ΔS, ΔG in eV and in kcal/mol, cal/(mol K), kcal/mol."""
        k = units.EV_TO_KCAL_PER_MOL
        return {
            "counts": {n: int(c) for n, c in self.counts.items()},
            "dE_eV": float(self.dE),
            "dE_kcal_mol": float(self.dE * k),
            "temperatures": [
                {
                    "T_K": float(T),
                    "dH_eV": float(self.dH[i]),
                    "dS_eV_per_K": float(self.dS[i]),
                    "dG_eV": float(self.dG[i]),
                    "dH_kcal_mol": float(self.dH[i] * k),
                    "dS_cal_mol_K": float(self.dS[i] * EV_PER_K_TO_CAL_PER_MOL_K),
                    "dG_kcal_mol": float(self.dG[i] * k),
                }
                for i, T in enumerate(self.temperatures)
            ],
        }


def binding(thermo: Thermo, counts: Mapping[str, int], monomers: Mapping[str, Thermo]) -> Binding:
    """``ΔE``, ``ΔH``, ``ΔS``, ``ΔG`` of forming ``thermo``'s cluster from ``counts`` monomers.

    ``counts`` as :func:`painnjax.data.composition.molecule_counts` gives them for the cluster's
    atoms; ``monomers`` as :func:`monomer_references` gives them, at the same temperatures and
    pressure and with the same treatment of soft modes (else an :class:`InputError`).
    """
    where = _where(thermo.name)
    dE = float(thermo.energy)
    dH = np.array(thermo.enthalpy, np.float64)
    dS = np.array(thermo.entropy, np.float64)
    used = {str(n): int(c) for n, c in counts.items()}
    for name, c in used.items():
        if c < 0:
            raise InputError(f"{where}a negative count of {name}: {c}")
        if c == 0:
            continue
        ref = monomers.get(name)
        if ref is None:
            raise InputError(f"{where}no monomer reference for {name} (have: {', '.join(monomers) or 'none'})")
        if ref.temperatures.shape != thermo.temperatures.shape or not np.allclose(
            ref.temperatures, thermo.temperatures, rtol=0, atol=1e-9
        ):
            raise InputError(f"{where}the monomer {name} was computed at other temperatures")
        if not math.isclose(ref.pressure, thermo.pressure, rel_tol=1e-12):
            raise InputError(f"{where}the monomer {name} was computed at {ref.pressure} Pa, not {thermo.pressure} Pa")
        if (ref.quasi_harmonic, ref.qh_cutoff, ref.qh_alpha) != (
            thermo.quasi_harmonic,
            thermo.qh_cutoff,
            thermo.qh_alpha,
        ):
            raise InputError(f"{where}the monomer {name} was computed with another treatment of soft modes")
        dE -= c * ref.energy
        dH -= c * ref.enthalpy
        dS -= c * ref.entropy
    T = thermo.temperatures
    return Binding(counts=used, temperatures=T.copy(), pressure=thermo.pressure, dE=dE, dH=dH, dS=dS, dG=dH - T * dS)


# --------------------------------------------------------------------------------------------
# A file of structures, as the command line runs it


@dataclass
class ThermoSet:
    """What :func:`thermo_of_file` returns: the structures' :class:`Thermo`, their
    :class:`Binding` (None without binding), the monomer references and the settings."""

    structures: list[Thermo]
    bindings: list[Binding] | None
    monomers: dict[str, Thermo]
    settings: dict


def settings_dict(
    temperatures,
    pressure: float,
    quasi_harmonic: bool,
    qh_cutoff: float,
    qh_alpha: float,
    **extra,
) -> dict:
    """The ``settings`` block of :func:`write_thermo`: conditions, method and references."""
    return {
        "temperatures_K": [float(t) for t in np.atleast_1d(temperatures)],
        "pressure_Pa": float(pressure),
        "method": "quasi-RRHO" if quasi_harmonic else "RRHO",
        "quasi_harmonic": bool(quasi_harmonic),
        "qh_cutoff_cm-1": float(qh_cutoff),
        "qh_alpha": float(qh_alpha),
        "free_rotor_B_av_kg_m2": GRIMME_B_AV_KG_M2,
        "references": [
            "ideal gas, rigid rotor, harmonic oscillator (as ase.thermochemistry.IdealGasThermo)",
            "entropy of soft modes: S. Grimme, Chem. Eur. J. 2012, 18, 9955-9964",
            "enthalpy of soft modes: Y.-P. Li, J. Gomes, S. M. Sharada, A. T. Bell, M. Head-Gordon, "
            "J. Phys. Chem. C 2015, 119, 1840-1850",
        ],
        "monomer_symmetry_numbers": {
            n: {"point_group": MONOMER_POINT_GROUPS[n], "sigma": s} for n, s in MONOMER_SYMMETRY.items()
        },
        **extra,
    }


def thermo_of_file(
    model,
    path,
    temperatures=(298.15,),
    *,
    pressure: float = ATMOSPHERE_PA,
    quasi_harmonic: bool = True,
    qh_cutoff: float = 100.0,
    qh_alpha: float = 4,
    symmetry_number: int = 1,
    with_binding: bool = True,
    dtype: str = "float64",
    ignore_cell: bool = False,
) -> ThermoSet:
    """Every frame of a structure file: :func:`thermo_of_structures`, and with ``with_binding``
    the monomers that its clusters are made of (:func:`monomer_references`) and each frame's
    :func:`binding`. Frames are read by :func:`md.screening.candidates.read_candidates`."""
    from md.screening.candidates import read_candidates
    from painnjax.data.composition import molecule_counts

    T = check_conditions(
        temperatures, pressure, symmetry_number=symmetry_number, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha
    )
    frames = read_candidates(path, ignore_cell=ignore_cell)
    names = [structure_name(a, k) for k, a in enumerate(frames)]
    counts = None
    if with_binding:
        counts = [
            molecule_counts(a.numbers, source=f"{n} (use --no-binding for other molecules)")
            for a, n in zip(frames, names)
        ]
    with_model = dict(
        pressure=pressure, quasi_harmonic=quasi_harmonic, qh_cutoff=qh_cutoff, qh_alpha=qh_alpha, dtype=dtype
    )
    potential_for, identity = _potential_factory(model, dtype)
    factory = _ResolvedModel(potential_for, identity)
    thermos = thermo_of_structures(
        factory, frames, T, symmetry_number=symmetry_number, ignore_cell=ignore_cell, names=names, **with_model
    )
    monomers: dict[str, Thermo] = {}
    bindings = None
    if counts is not None:
        needed = [n for n in MONOMER_SYMMETRY if any(c.get(n, 0) for c in counts)]
        monomers = monomer_references(factory, needed, T, **with_model)
        bindings = [binding(t, c, monomers) for t, c in zip(thermos, counts)]
    settings = settings_dict(
        T,
        pressure,
        quasi_harmonic,
        qh_cutoff,
        qh_alpha,
        model=str(model) if isinstance(model, (str, Path)) else None,
        model_id=identity,
        structures=str(path),
        dtype=dtype,
        symmetry_number=int(symmetry_number),
        binding=bool(with_binding),
    )
    return ThermoSet(thermos, bindings, monomers, settings)


@dataclass(frozen=True)
class _ResolvedModel:
    """A model loaded once (:func:`_potential_factory`), passed on as the ``model`` of
    :func:`thermo_of_structures` and :func:`monomer_references`, so that they do not load it again."""

    potential_for: Callable
    identity: str | None


# --------------------------------------------------------------------------------------------
# Output


def _record(thermo: Thermo, b: Binding | None) -> dict:
    d = thermo.to_dict()
    if b is not None:
        bd = b.to_dict()
        d["counts"] = bd["counts"]
        d["dE_eV"] = bd["dE_eV"]
        d["dE_kcal_mol"] = bd["dE_kcal_mol"]
        for entry, extra in zip(d["temperatures"], bd["temperatures"]):
            entry.update({k: v for k, v in extra.items() if k != "T_K"})
    return d


def write_thermo(
    path,
    thermos: Sequence[Thermo],
    *,
    bindings: Sequence[Binding] | None = None,
    monomers: Mapping[str, Thermo] | None = None,
    settings: Mapping | None = None,
) -> Path:
    """JSON ``{"settings": ..., "monomers": {name: ...}, "structures": [...]}``, written atomically.

    Each structure is its :meth:`Thermo.to_dict` (``energy_eV``, ``zpe_eV``,
    ``frequencies_cm-1``, ``imaginary_cm-1``, ...; ``temperatures``: ``T_K``, ``H_eV``,
    ``S_eV_per_K``, ``G_eV``, ...), with its binding merged in when given: ``counts``,
    ``dE_kcal_mol`` and per temperature ``dH_kcal_mol``, ``dS_cal_mol_K``, ``dG_kcal_mol`` (and
    the same in eV).
    """
    from painnjax.io.files import write_json

    if bindings is not None and len(bindings) != len(thermos):
        raise InputError(f"{len(bindings)} bindings for {len(thermos)} structures")
    bs = list(bindings) if bindings is not None else [None] * len(thermos)
    data = {
        "settings": dict(settings or {}),
        "monomers": {name: t.to_dict() for name, t in (monomers or {}).items()},
        "structures": [_record(t, b) for t, b in zip(thermos, bs)],
    }
    return write_json(path, data)


def write_dh_ds_table(path, thermos: Sequence[Thermo], bindings: Sequence[Binding]) -> Path:
    """A plain-text table of formation ΔH, ΔS, ΔG, one row per structure and temperature.

    Columns: name, composition, ``T_K``, ``dH_kcal_mol``, ``dS_cal_mol_K``, ``dG_kcal_mol``
    (whitespace-separated; spaces in names become ``_``); lines starting with ``#`` say the
    pressure and method and name the columns. The name, ΔH and ΔS columns are what
    cluster-kinetics codes such as ACDC take as input.
    """
    from painnjax.io.files import atomic_write

    if len(bindings) != len(thermos):
        raise InputError(f"{len(bindings)} bindings for {len(thermos)} structures")
    k = units.EV_TO_KCAL_PER_MOL
    first = thermos[0] if thermos else None
    method = (
        f"quasi-RRHO (Grimme S, Head-Gordon H, cutoff {first.qh_cutoff:g} cm-1)"
        if first is not None and first.quasi_harmonic
        else "RRHO"
    )
    pressure = f"{first.pressure:g} Pa" if first is not None else "-"
    lines = [
        f"# formation from the monomers (SA, AM, W) at {pressure}; {method}",
        "# name composition T_K dH_kcal_mol dS_cal_mol_K dG_kcal_mol",
    ]
    for t, b in zip(thermos, bindings):
        name = "_".join(str(t.name or "-").split())
        comp = "_".join(str(t.composition or "-").split())
        for i, T in enumerate(b.temperatures):
            lines.append(
                f"{name} {comp} {T:.2f} {b.dH[i] * k:.4f} {b.dS[i] * EV_PER_K_TO_CAL_PER_MOL_K:.4f} {b.dG[i] * k:.4f}"
            )
    return atomic_write(path, "\n".join(lines) + "\n")


def format_thermo(result: ThermoSet) -> str:
    """A short table: structure, composition, E, ZPE (eV), G at each T (eV), ΔG (kcal/mol), the largest
    force (eV/Å) and the number of imaginary modes."""
    rows = []
    temps = result.structures[0].temperatures if result.structures else np.array([])
    head = ["structure", "composition", "E/eV", "ZPE/eV"]
    head += [f"G({T:g}K)/eV" for T in temps]
    if result.bindings is not None:
        head += [f"dG({T:g}K)/kcal/mol" for T in temps]
    head += ["fmax/eV/A", "n_imag"]
    for i, t in enumerate(result.structures):
        row = [str(t.name), str(t.composition), f"{t.energy:.4f}", f"{t.zpe:.4f}"]
        row += [f"{g:.4f}" for g in t.gibbs]
        if result.bindings is not None:
            row += [f"{g * units.EV_TO_KCAL_PER_MOL:.2f}" for g in result.bindings[i].dG]
        row += ["-" if t.fmax is None else f"{t.fmax:.2g}", str(len(t.imaginary))]
        rows.append(row)
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    lines = [
        "  ".join(x.ljust(w) if c < 2 else x.rjust(w) for c, (x, w) in enumerate(zip(r, widths))) for r in [head, *rows]
    ]
    method = result.settings.get("method", "")
    lines.append(f"{len(result.structures)} structure(s); {method} at {result.settings.get('pressure_Pa', 0):g} Pa")
    return "\n".join(lines)
