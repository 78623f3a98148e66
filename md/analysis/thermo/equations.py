"""The equations of free energies: ideal gas, rigid rotor, harmonic oscillator (RRHO), quasi-harmonic.

Pure numerics on the numbers given (energy, frequencies, masses and moments of inertia): no
model, no files; :mod:`md.analysis.thermo.workflow` gets those numbers from a model.

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
from dataclasses import dataclass

import numpy as np

from md.analysis.harmonic import NotAMinimumWarning
from painnjax import units
from painnjax.errors import InputError

#: Grimme's average molecular moment of inertia ``B_av`` of the free rotor, kg m²
GRIMME_B_AV_KG_M2 = 1e-44
#: a frequency below this in magnitude (cm⁻¹) is a rigid-body motion left in the spectrum: an error
ZERO_MODE_CM1 = 1e-3
#: 1 atm in Pa, the default pressure (the standard state of cluster-kinetics data)
ATMOSPHERE_PA = 101325.0


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
        settled: what :func:`md.analysis.settle.settle_minimum` did before the frequencies were
            taken (its :meth:`~md.analysis.settle.Settled.to_dict`, with ``positions_A`` when the
            structure was moved), or None when not checked.
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
    settled: dict | None = None

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
            **({} if self.settled is None else {"settled": self.settled}),
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
    f, linear = _checked_frequencies(frequencies_cm1, len(atoms), linear, where)
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
    e_trans, s_trans = _translation(mass, T, pressure)
    e_rot, s_rot = _rigid_rotor(inertia, T, symmetry_number, linear, where)
    s_elec = float(units.KB_EV * np.log(2.0 * float(spin) + 1.0))
    zpe, e_vib, s_vib = _vibration(real, T, quasi_harmonic, qh_cutoff, qh_alpha)
    H = float(energy) + e_trans + e_rot + e_vib + _kT(T)  # the last kT is pV
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


def _checked_frequencies(frequencies_cm1, n: int, linear: bool | None, where: str) -> tuple[np.ndarray, bool]:
    """The frequencies as a float64 array and whether the rotor is linear, after checking that they
    are finite, that ``n`` atoms have 3N - 6 (3N - 5 linear) of them and that none is zero."""
    f = np.asarray(frequencies_cm1, np.float64).ravel()
    if not np.all(np.isfinite(f)):
        raise InputError(f"{where}the frequencies hold non-finite values")
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
    return f, linear


def _translation(mass: float, T: np.ndarray, pressure: float) -> tuple[np.ndarray, np.ndarray]:
    """``E_t`` (eV) and the Sackur-Tetrode ``S_t`` (eV/K) at the pressure (Pa) of a molecule of ``mass`` amu."""
    kT_si = units.KB_J_PER_K * T
    m_si = mass * units.AMU_KG
    h = units.PLANCK_J_S
    e_trans = 1.5 * _kT(T)
    s_trans = units.KB_EV * (1.5 * np.log(2.0 * np.pi * m_si * kT_si / h**2) + np.log(kT_si / pressure) + 2.5)
    return e_trans, s_trans


def _rigid_rotor(
    inertia: np.ndarray, T: np.ndarray, symmetry_number: int, linear: bool, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """``E_r`` (eV) and ``S_r`` (eV/K) of the rigid rotor with principal moments ``inertia`` (amu Å²)."""
    inertia_si = inertia * units.AMU_KG * 1e-20  # kg m²
    kT = _kT(T)
    kT_si = units.KB_J_PER_K * T
    h = units.PLANCK_J_S
    sigma = float(symmetry_number)
    if linear:
        e_rot = kT.copy()
        s_rot = units.KB_EV * (np.log(8.0 * np.pi**2 * inertia_si.max() * kT_si / (sigma * h**2)) + 1.0)
        return e_rot, s_rot
    if not np.prod(inertia_si) > 0:
        raise InputError(f"{where}a moment of inertia is zero: the structure is linear, treat it as such")
    e_rot = 1.5 * kT
    s_rot = units.KB_EV * (
        np.log(np.sqrt(np.pi * np.prod(inertia_si)) / sigma) + 1.5 * np.log(8.0 * np.pi**2 * kT_si / h**2) + 1.5
    )
    return e_rot, s_rot


def _vibration(
    real: np.ndarray, T: np.ndarray, quasi_harmonic: bool, qh_cutoff: float, qh_alpha: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """The harmonic zero-point energy (eV) and ``E_v`` (eV, with it), ``S_v`` (eV/K) summed over the
    ``real`` (> 0) modes: harmonic, or quasi-harmonic with the damping :func:`qh_weight`."""
    zpe = 0.5 * float(np.sum(real)) * units.INVCM_EV
    e_h = harmonic_energy(real, T)
    s_h = harmonic_entropy(real, T)
    if quasi_harmonic and real.size:
        w = qh_weight(real, qh_cutoff, qh_alpha)[None, :]
        e_vib = (w * e_h + (1.0 - w) * 0.5 * _kT(T)[:, None]).sum(1)
        s_vib = (w * s_h + (1.0 - w) * free_rotor_entropy(real, T)).sum(1)
    else:
        e_vib = e_h.sum(1)
        s_vib = s_h.sum(1)
    return zpe, e_vib, s_vib
