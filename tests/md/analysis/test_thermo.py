"""Thermochemistry (md.analysis.thermo): hand-computed diatomic, ASE's IdealGasThermo, quasi-harmonic
soft modes, imaginary modes, batched structures, binding free energies and the ``thermo`` command.

Analytic potentials only (springs and Lennard-Jones): no PaiNN is compiled here.
"""

from __future__ import annotations

import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms, units
from ase.thermochemistry import IdealGasThermo, RRHOMode

from md.analysis import thermo as th
from md.analysis.harmonic import NotAMinimumWarning, harmonic_analysis
from painnjax.errors import InputError

TEMPS = [100.0, 298.15, 500.0]
P_ATM = 101325.0
K_BOND = 10.0  # eV/Å²
R0_BOND = 1.128  # Å


def bond_energy(k=K_BOND, r0=R0_BOND):
    def energy(R, **unused_kwargs):
        return 0.5 * k * (jnp.linalg.norm(R[1] - R[0]) - r0) ** 2

    return energy


def co_atoms():
    return Atoms("CO", positions=[[0.1, -0.2, 0.3], [0.1, -0.2, 0.3 + R0_BOND]])


def spring_network(reference, k=5.0):
    """All-pairs springs at rest in ``reference`` (N, 3): that geometry is an exact minimum."""
    X = np.asarray(reference, np.float64)
    i, j = np.triu_indices(len(X), 1)
    r0 = jnp.asarray(np.linalg.norm(X[i] - X[j], axis=1))
    i, j = jnp.asarray(i), jnp.asarray(j)

    def energy(R, **unused_kwargs):
        return 0.5 * k * jnp.sum((jnp.linalg.norm(R[i] - R[j], axis=-1) - r0) ** 2)

    return energy


def cluster_atoms():
    """Five atoms in a generic (nonlinear, non-planar) arrangement."""
    return Atoms(
        "OH2NH",
        positions=[[0.0, 0.0, 0.0], [0.97, 0.1, 0.0], [-0.3, 0.92, 0.1], [2.1, 1.3, 0.6], [2.4, 0.5, 1.3]],
    )


def test_diatomic_matches_hand_computed_values(x64):
    atoms = co_atoms()
    res = harmonic_analysis(bond_energy(), atoms)
    (nu,) = res.frequencies
    t = th.thermochemistry(res.energy, res.frequencies, atoms, TEMPS, P_ATM, symmetry_number=1, quasi_harmonic=False)
    assert t.linear and t.imaginary.size == 0
    h, k, c, amu = units._hplanck, units._k, units._c, units._amu
    m1, m2 = atoms.get_masses()
    kB = units.kB
    eps = h * c * 100.0 * nu / units._e  # eV
    assert abs(t.zpe - 0.5 * eps) < 1e-12
    for n, T in enumerate(TEMPS):
        kT = kB * T
        # Sackur-Tetrode: S = kB [ln(V/(N Λ³)) + 5/2], Λ = h / sqrt(2π m k T), V/N = kT/p
        lam = h / np.sqrt(2 * np.pi * (m1 + m2) * amu * k * T)
        s_t = kB * (np.log(k * T / P_ATM / lam**3) + 2.5)
        # rigid rotor: Θ_r = h² / (8π² I k), I = μ r²; S = kB [1 + ln(T / (σ Θ_r))]
        inertia = m1 * m2 / (m1 + m2) * amu * (R0_BOND * 1e-10) ** 2
        theta_r = h**2 / (8 * np.pi**2 * inertia * k)
        s_r = kB * (1.0 + np.log(T / theta_r))
        # one oscillator
        x = eps / kT
        e_v = eps / 2 + eps / np.expm1(x)
        s_v = kB * (x / np.expm1(x) - np.log(1 - np.exp(-x)))
        H = res.energy + 1.5 * kT + kT + e_v + kT
        S = s_t + s_r + s_v
        assert t.s_trans[n] == pytest.approx(s_t, rel=1e-10)
        assert t.s_rot[n] == pytest.approx(s_r, rel=1e-10)
        assert t.s_vib[n] == pytest.approx(s_v, rel=1e-10)
        assert t.e_vib[n] == pytest.approx(e_v, rel=1e-10)
        assert t.e_rot[n] == pytest.approx(kT, rel=1e-12)
        assert abs(t.enthalpy[n] - H) < 1e-10
        assert abs(t.entropy[n] - S) < 1e-13
        assert abs(t.gibbs[n] - (H - T * S)) < 1e-10
    d = t.to_dict()
    json.dumps(d)
    assert {"energy_eV", "zpe_eV", "frequencies_cm-1", "imaginary_cm-1", "temperatures"} <= set(d)
    assert set(d["temperatures"][0]) >= {"T_K", "H_eV", "S_eV_per_K", "G_eV"}


def _ase(freqs, atoms, geometry, E, sigma, spin):
    return IdealGasThermo(
        np.asarray(freqs) * units.invcm,
        geometry=geometry,
        potentialenergy=E,
        atoms=atoms,
        symmetrynumber=sigma,
        spin=spin,
    )


def test_rrho_matches_ase_ideal_gas_nonlinear_and_linear(x64):
    atoms = cluster_atoms()
    res = harmonic_analysis(spring_network(atoms.positions), atoms)
    assert not res.linear and res.frequencies.shape == (9,) and res.frequencies.min() > 10
    E = -3.21
    for sigma, spin, p in ((1, 0, P_ATM), (2, 1, 2.0e4)):
        t = th.thermochemistry(E, res.frequencies, atoms, TEMPS, p, sigma, spin, quasi_harmonic=False)
        ref = _ase(res.frequencies, atoms, "nonlinear", E, sigma, spin)
        for n, T in enumerate(TEMPS):
            assert abs(t.enthalpy[n] - ref.get_enthalpy(T, verbose=False)) < 1e-8
            assert abs(T * (t.entropy[n] - ref.get_entropy(T, p, verbose=False))) < 1e-8
            assert abs(t.gibbs[n] - ref.get_gibbs_energy(T, p, verbose=False)) < 1e-8
        assert t.zpe == pytest.approx(ref.get_ZPE_correction(), abs=1e-12)
    # linear: CO2 with its experimental frequencies, σ = 2
    co2 = Atoms("OCO", positions=[[0, 0, -1.16], [0, 0, 0], [0, 0, 1.16]])
    f = [667.4, 667.4, 1388.2, 2349.2]
    t = th.thermochemistry(-22.0, f, co2, TEMPS, symmetry_number=2, quasi_harmonic=False)
    assert t.linear
    ref = _ase(f, co2, "linear", -22.0, 2, 0)
    for n, T in enumerate(TEMPS):
        assert abs(t.enthalpy[n] - ref.get_enthalpy(T, verbose=False)) < 1e-8
        assert abs(t.gibbs[n] - ref.get_gibbs_energy(T, P_ATM, verbose=False)) < 1e-8


def test_quasi_harmonic_modes():
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    # the damping: 1/2 at the cutoff, -> 1 far above, -> 0 far below
    assert th.qh_weight([100.0], 100.0, 4)[0] == 0.5
    assert th.qh_weight([50.0], 50.0, 4)[0] == 0.5
    assert 1 - th.qh_weight([4000.0])[0] < 1e-6 and th.qh_weight([1.0])[0] < 1e-7
    # Grimme's entropy and Head-Gordon's energy per mode against ASE's RRHOMode (B_av = 1e-44 kg m²)
    mean_inertia = th.GRIMME_B_AV_KG_M2 / (units._amu * 1e-20)  # amu Å²
    for nu in (5.0, 100.0, 400.0):
        for T in (50.0, 298.15):
            mode = RRHOMode(nu * units.invcm, mean_inertia=mean_inertia, tau=100.0, treat_int_energy=True)
            w = th.qh_weight([nu])[0]
            s = w * th.harmonic_entropy([nu], [T])[0, 0] + (1 - w) * th.free_rotor_entropy([nu], [T])[0, 0]
            e = w * th.harmonic_energy([nu], [T])[0, 0] + (1 - w) * 0.5 * units.kB * T
            assert abs(s - mode.get_entropy(T, contributions=False)) < 1e-15
            assert abs(e - mode.get_internal_energy(T, contributions=False)) < 1e-14
    # all modes far above the cutoff: the same as RRHO
    stiff = [3200.0, 3600.0, 3800.0]
    qh = th.thermochemistry(0.0, stiff, water, TEMPS)
    rrho = th.thermochemistry(0.0, stiff, water, TEMPS, quasi_harmonic=False)
    assert np.max(np.abs(qh.gibbs - rrho.gibbs)) < 1e-6
    assert np.max(np.abs(qh.enthalpy - rrho.enthalpy)) < 1e-6
    # a mode at the cutoff: half harmonic, half free rotor
    at_cutoff = [100.0, 1600.0, 3700.0]
    qh = th.thermochemistry(0.0, at_cutoff, water, [298.15])
    rrho = th.thermochemistry(0.0, at_cutoff, water, [298.15], quasi_harmonic=False)
    s_h = th.harmonic_entropy([100.0], [298.15])[0, 0]
    s_r = th.free_rotor_entropy([100.0], [298.15])[0, 0]
    w_stiff = th.qh_weight([1600.0, 3700.0])
    s_stiff = (
        w_stiff * th.harmonic_entropy([1600.0, 3700.0], [298.15])[0]
        + (1 - w_stiff) * th.free_rotor_entropy([1600.0, 3700.0], [298.15])[0]
    )
    assert qh.s_vib[0] == pytest.approx(0.5 * (s_h + s_r) + s_stiff.sum(), rel=1e-12)
    assert abs(rrho.s_vib[0] - th.harmonic_entropy(at_cutoff, [298.15]).sum()) < 1e-15
    # a very soft mode: the free rotor has less entropy and energy than the oscillator
    soft = [2.0, 1600.0, 3700.0]
    qh = th.thermochemistry(0.0, soft, water, TEMPS)
    rrho = th.thermochemistry(0.0, soft, water, TEMPS, quasi_harmonic=False)
    assert np.all(qh.entropy < rrho.entropy - units.kB) and np.all(qh.enthalpy < rrho.enthalpy)
    assert np.all(qh.gibbs > rrho.gibbs)
    assert qh.zpe == rrho.zpe


def test_imaginary_modes_reported_warned_not_counted():
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    with pytest.warns(NotAMinimumWarning, match=r"w1: 1 imaginary frequency \(-50.0 cm-1\) left out"):
        t = th.thermochemistry(-1.0, [-50.0, 1600.0, 3700.0], water, TEMPS, quasi_harmonic=False, name="w1")
    np.testing.assert_array_equal(t.imaginary, [-50.0])
    assert t.to_dict()["imaginary_cm-1"] == [-50.0] and t.to_dict()["frequencies_cm-1"][0] == -50.0
    assert t.zpe == pytest.approx(0.5 * (1600.0 + 3700.0) * units.invcm, rel=1e-14)
    np.testing.assert_allclose(t.s_vib, th.harmonic_entropy([1600.0, 3700.0], TEMPS).sum(1), rtol=1e-14)
    np.testing.assert_allclose(t.e_vib, th.harmonic_energy([1600.0, 3700.0], TEMPS).sum(1), rtol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotAMinimumWarning)
        th.thermochemistry(-1.0, [1600.0, 3700.0, 3800.0], water, TEMPS)  # a minimum: no warning
    with pytest.raises(InputError, match="rigid-body"):
        th.thermochemistry(-1.0, [1e-4, 1600.0, 3700.0], water, TEMPS)
    with pytest.raises(InputError, match="3N-6 = 3"):
        th.thermochemistry(-1.0, [1600.0, 3700.0], water, TEMPS)


def test_bad_conditions():
    with pytest.raises(InputError, match="temperature"):
        th.check_conditions([298.15, -5.0])
    with pytest.raises(InputError, match="temperature"):
        th.check_conditions([float("nan")])
    with pytest.raises(InputError, match="no temperatures"):
        th.check_conditions([])
    with pytest.raises(InputError, match="pressure"):
        th.check_conditions([298.15], 0.0)
    with pytest.raises(InputError, match="symmetry number"):
        th.check_conditions([298.15], symmetry_number=0)
    with pytest.raises(InputError, match="spin"):
        th.check_conditions([298.15], spin=0.3)


def test_thermo_of_structures_batched_equals_one_by_one(x64):
    ref = cluster_atoms()
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(2):
        a = ref.copy()
        a.positions += rng.normal(scale=0.03, size=a.positions.shape)
        frames.append(a)
    frames.insert(1, co_atoms())  # another composition in between: grouped, order kept

    def potential_for(atoms):
        return bond_energy() if len(atoms) == 2 else spring_network(ref.positions)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAMinimumWarning)  # the perturbed frames are not minima
        batched = th.thermo_of_structures(potential_for, frames, TEMPS, batch_size=3)  # padded with a copy
        single = []
        for a in frames:
            h = harmonic_analysis(potential_for(a), a)
            single.append(th.thermochemistry(h.energy, h.frequencies, a, TEMPS, linear=h.linear))
    assert [t.name for t in batched] == ["structure 0", "structure 1", "structure 2"]
    assert [t.composition for t in batched] == ["H3NO", "CO", "H3NO"]
    for b, s in zip(batched, single):
        assert b.linear == s.linear
        np.testing.assert_allclose(b.frequencies, s.frequencies, atol=1e-6)
        np.testing.assert_allclose(b.gibbs, s.gibbs, atol=1e-9)
        np.testing.assert_allclose(b.entropy, s.entropy, atol=1e-12)
        assert b.fmax is not None
    assert batched[1].fmax < 1e-10 and batched[0].fmax > 0.01


def test_binding_from_monomers():
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    dimer = water.copy() + Atoms("OH2", positions=water.positions + [2.9, 0.3, 0.2])
    f_w = [1650.0, 3750.0, 3850.0]
    f_d = [30.0, 80.0, 120.0, 150.0, 300.0, 600.0] + f_w + [1640.0, 3600.0, 3840.0]
    w = th.thermochemistry(-14.0, f_w, water, TEMPS, symmetry_number=2, name="W")
    d = th.thermochemistry(-28.2, f_d, dimer, TEMPS, name="d")
    b = th.binding(d, {"SA": 0, "AM": 0, "W": 2}, {"W": w})
    assert b.dE == pytest.approx(-0.2, abs=1e-12)
    np.testing.assert_allclose(b.dG, d.gibbs - 2 * w.gibbs, atol=1e-12)
    np.testing.assert_allclose(b.dH, d.enthalpy - 2 * w.enthalpy, atol=1e-12)
    np.testing.assert_allclose(b.dS, d.entropy - 2 * w.entropy, atol=1e-15)
    assert np.all(b.dS < 0)  # association loses translational and rotational entropy
    rec = b.to_dict()["temperatures"][1]
    assert rec["dG_kcal_mol"] == pytest.approx(b.dG[1] * 23.0605, rel=1e-4)
    assert rec["dS_cal_mol_K"] == pytest.approx(b.dS[1] * 23060.5, rel=1e-4)
    assert rec["dG_kcal_mol"] == pytest.approx(rec["dH_kcal_mol"] - 298.15 * rec["dS_cal_mol_K"] / 1000, abs=1e-9)
    with pytest.raises(InputError, match="no monomer reference for SA"):
        th.binding(d, {"SA": 1, "W": 2}, {"W": w})
    other_t = th.thermochemistry(-14.0, f_w, water, [298.15], symmetry_number=2)
    with pytest.raises(InputError, match="other temperatures"):
        th.binding(d, {"W": 2}, {"W": other_t})
    rrho = th.thermochemistry(-14.0, f_w, water, TEMPS, symmetry_number=2, quasi_harmonic=False)
    with pytest.raises(InputError, match="soft modes"):
        th.binding(d, {"W": 2}, {"W": rrho})


# --------------------------------------------------------------------------------------------
# The command (an analytic water potential in place of the model)

WATER_REST = {(1, 1): 1.53, (1, 8): 0.97}  # Å; not the template's 1.514, 0.957: FIRE has to move


def water_potential(atoms):
    """Springs within each water (by element pair), Lennard-Jones between waters."""
    from md.clusters import molecules

    n = len(atoms)
    mol = np.empty(n, int)
    for k, idx in enumerate(molecules(atoms)):
        mol[idx] = k
    Z = atoms.numbers
    i, j = np.triu_indices(n, 1)
    intra = mol[i] == mol[j]
    r0 = jnp.asarray([WATER_REST[tuple(sorted((int(Z[a]), int(Z[b]))))] if s else 1.0 for a, b, s in zip(i, j, intra)])
    intra = jnp.asarray(intra)
    i, j = jnp.asarray(i), jnp.asarray(j)

    def energy(R, **unused_kwargs):
        d = jnp.linalg.norm(R[i] - R[j], axis=-1)
        springs = 0.5 * 20.0 * (d - r0) ** 2
        lj = 4 * 0.01 * ((2.6 / d) ** 12 - (2.6 / d) ** 6)
        return jnp.sum(jnp.where(intra, springs, lj))

    return energy


def test_cli_thermo(tmp_path, capsys, monkeypatch):
    from ase.io import write

    from md.clusters import molecule
    from painnjax.cli import main

    monkeypatch.setattr(
        "md.analysis.thermo.workflow._potential_factory",
        lambda model, dtype: ((lambda frames: water_potential(frames[0])), None),
    )
    w = molecule("W")
    w.positions[0] *= 1.03
    d1 = w + molecule("W").copy()
    d1.positions[3:] += [0.3, 0.2, 3.1]
    d2 = d1.copy()
    d2.positions[3:] += [0.1, -0.2, 0.1]
    structures = tmp_path / "waters.extxyz"
    write(structures, [w, d1, d2])
    out, table = tmp_path / "out" / "thermo.json", tmp_path / "dhds.txt"
    args = ["thermo", "analytic", str(structures), "--T", "250", "298.15", "--json", str(out), "--table", str(table)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAMinimumWarning)  # the dimers are not minimised
        assert main(args) == 0
    printed = capsys.readouterr().out
    assert "waters.extxyz:1" in printed and "SA0AM0W2" in printed and "n_imag" in printed
    data = json.loads(out.read_text())
    assert set(data) == {"settings", "monomers", "structures"}
    assert data["settings"]["temperatures_K"] == [250.0, 298.15] and data["settings"]["quasi_harmonic"]
    mono = data["monomers"]["W"]
    assert list(data["monomers"]) == ["W"] and mono["symmetry_number"] == 2 and mono["fmax_eV_per_A"] < 1e-3
    assert len(data["structures"]) == 3
    for s in data["structures"]:
        assert {"energy_eV", "zpe_eV", "frequencies_cm-1", "imaginary_cm-1", "counts", "dE_kcal_mol"} <= set(s)
        for rec in s["temperatures"]:
            assert {"T_K", "H_eV", "S_eV_per_K", "G_eV", "dH_kcal_mol", "dS_cal_mol_K", "dG_kcal_mol"} <= set(rec)
    assert data["structures"][1]["counts"] == {"SA": 0, "AM": 0, "W": 2}
    lines = table.read_text().splitlines()
    assert lines[0].startswith("#") and lines[1].startswith("# name")
    rows = [line.split() for line in lines if not line.startswith("#")]
    assert len(rows) == 6 and all(len(r) == 6 for r in rows)
    name, comp, T, dH, dS, dG = rows[3]
    assert (name, comp, float(T)) == ("waters.extxyz:1", "SA0AM0W2", 298.15)
    assert float(dG) == pytest.approx(float(dH) - 298.15 * float(dS) / 1000, abs=2e-4)
    rec = data["structures"][1]["temperatures"][1]
    assert float(dG) == pytest.approx(rec["dG_kcal_mol"], abs=1e-4)

    # bad input: exit 2 with the reason, before any work
    assert main(["thermo", "analytic", str(structures), "--T", "-5", "--json", str(out)]) == 2
    assert "temperature (K) must be a finite number > 0, got -5.0" in capsys.readouterr().err
    assert main(["thermo", "analytic", str(structures), "--p", "0", "--json", str(out)]) == 2
    assert "pressure (Pa)" in capsys.readouterr().err
    assert main(["thermo", "a", str(structures), "--no-binding", "--table", str(table), "--json", str(out)]) == 2
    assert "--no-binding" in capsys.readouterr().err


def test_screen_minima_ranked_by_free_energy(tmp_path):
    """``--rank-by G``: the kept LJ7 minima of a screen, ordered by G, with the G of each equal to
    thermo_of_structures on the same frame."""
    from ase.io import read
    from lj_helpers import lj, random_lj_starts

    from md.analysis.ranking import rank_screen_by_g
    from md.analysis.thermo import thermo_of_structures
    from md.screening.folder import screen_to_folder

    energy = lj(7)
    out = tmp_path / "s"
    screen_to_folder(energy, random_lj_starts(12), out, keep=4, fmax=1e-4, max_steps=3000, log=None, dtype="float64")

    def potential_for(atoms):
        return lambda R, **kw: energy(jnp.asarray(R))

    ranking = rank_screen_by_g(potential_for, out, [50.0, 300.0], log=None)
    best = read(out / "best.extxyz", ":")
    assert not (out / "dH_dS.txt").exists()  # argon: no SA/AM/W monomers to form from
    direct = thermo_of_structures(potential_for, best, [50.0, 300.0])
    G = np.array([t.gibbs[0] for t in direct])
    np.testing.assert_allclose(ranking.G, G, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(ranking.order, np.argsort(G, kind="stable"))
    rows = (out / "ranked_by_G.csv").read_text().splitlines()
    assert rows[0].startswith("G_rank,energy_rank") and len(rows) == len(best) + 1
    rel = [float(r.split(",")[4]) for r in rows[1:]]
    assert rel[0] == 0.0 and rel == sorted(rel)
    by_g = read(out / "best_by_G.extxyz", ":")
    assert [a.info["energy_rank"] for a in by_g] == ranking.order.tolist()
    assert json.loads((out / "thermo.json").read_text())["structures"][0]["temperatures"][0]["T_K"] == 50.0
