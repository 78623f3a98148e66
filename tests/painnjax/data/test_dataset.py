"""Reading training data: real GFN1-xTB SA/AM frames, units, compositions, binding energies,
element offsets, Δ-learning, and clear errors for bad files."""

from __future__ import annotations

import re

import ase.units
import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write

from painnjax.data.composition import MOLECULES, composition_of, molecule_counts
from painnjax.data.dataset import (
    Dataset,
    fit_element_offsets,
    read_dataset,
    read_monomer_references,
    subtract_element_offsets,
    to_binding_energies,
)
from painnjax.errors import InputError
from painnjax.units import ENERGY_UNITS

SA_ATOMS, AM_ATOMS = 7, 4


@pytest.fixture(scope="module")
def pool_file(shared_data):
    path = shared_data / "saam_gfn1" / "train_pool_300K.extxyz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def monomer_file(shared_data):
    path = shared_data / "saam_gfn1" / "monomers_gfn1.extxyz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def pool(pool_file):
    """The whole train pool (4060 frames), read once for this module (~2 s)."""
    return read_dataset(pool_file)


@pytest.fixture(scope="module")
def binding(pool, monomer_file):
    return to_binding_energies(pool, monomer_file)


def _sa_am(comp: str) -> tuple[int, int]:
    m = re.fullmatch(r"SA(\d+)AM(\d+)", comp)
    assert m, comp
    return int(m.group(1)), int(m.group(2))


# ------------------------------------------------------------------ real data


def test_real_pool_shapes_and_units(pool, pool_file):
    S = len(pool)
    assert S > 1000
    assert pool.energy.shape == (S,) and pool.energy.dtype == np.float64
    assert np.all(np.isfinite(pool.energy))
    # total GFN1-xTB energies in eV: -131 eV (NH3) ... several thousand eV for the largest
    assert pool.energy.max() < -100 and pool.energy.min() > -10000
    assert pool.forces is not None and len(pool.forces) == S
    for Z, R, F in zip(pool.numbers, pool.positions, pool.forces):
        assert Z.dtype == np.int32 and R.dtype == np.float64 and F.dtype == np.float64
        assert R.shape == F.shape == (len(Z), 3)
    F = np.concatenate(pool.forces)
    assert np.all(np.isfinite(F)) and 0.1 < np.sqrt(np.mean(F**2)) < 5.0  # eV/Å at 300 K
    assert pool.elements == [1, 7, 8, 16]
    assert pool.n_atoms.sum() == sum(len(z) for z in pool.numbers)
    assert pool.reference == {"kind": "total"}
    # provenance: file and frame index in the file; the file's own source/frame are kept aside
    assert pool.info[0]["source"] == str(pool_file) and pool.info[0]["frame"] == 0
    assert pool.info[-1]["frame"] == S - 1
    assert {"name", "T", "level", "info_source", "info_frame", "composition"} <= set(pool.info[0])
    assert isinstance(pool.info[0]["T"], int)  # numpy scalars made plain


def test_real_pool_matches_ase(pool, pool_file):
    frames = read(pool_file, index="0:50")
    for k, atoms in enumerate(frames):
        assert pool.energy[k] == atoms.get_potential_energy()
        np.testing.assert_array_equal(pool.forces[k], atoms.get_forces())
        np.testing.assert_array_equal(pool.positions[k], atoms.positions)
        assert pool.info[k]["name"] == atoms.info["name"]


def test_real_compositions(pool):
    for Z, info in zip(pool.numbers, pool.info):
        comp = info["composition"]
        assert composition_of(Z) == comp
        n_sa, n_am = _sa_am(comp)
        assert len(Z) == SA_ATOMS * n_sa + AM_ATOMS * n_am
        assert molecule_counts(Z) == {"SA": n_sa, "AM": n_am, "W": 0}


def test_real_binding_energies(pool, binding, monomer_file):
    monomers = read_monomer_references(monomer_file)
    assert set(monomers) == {"SA", "AM"}
    assert binding.reference == {"kind": "binding", "monomers": monomers, "monomer_file": str(monomer_file)}
    comps = np.asarray(binding.compositions)

    # one frame by hand: E - E(SA) - E(AM), exactly
    k = int(np.nonzero(comps == "SA1AM1")[0][0])
    mono = {a.info["name"]: a.get_potential_energy() for a in read(monomer_file, index=":")}
    assert binding.energy[k] == pool.energy[k] - mono["SA"] - mono["AM"]

    # SA1AM1 at 300 K: bound on average, never by more than a few eV; thermal distortion puts a
    # few frames slightly above the separated, optimised monomers
    e11 = binding.energy[comps == "SA1AM1"]
    assert e11.mean() < -0.2 and e11.min() < -0.5
    assert np.all(np.abs(e11) < 3.0) and np.all(e11 < 0.5)
    # a distorted monomer never lies below its optimised structure
    for mono_comp in ("SA1AM0", "SA0AM1"):
        assert np.all(binding.energy[comps == mono_comp] > 0.0)
    # (SA)n(AM)n binding grows with n
    means = [binding.energy[comps == f"SA{n}AM{n}"].mean() for n in range(1, 6)]
    assert all(a > b for a, b in zip(means, means[1:]))
    # forces and structures untouched
    assert binding.forces[k] is pool.forces[k] and pool.reference == {"kind": "total"}


def test_real_element_offsets_finite(pool, binding):
    e = fit_element_offsets(pool)
    assert e.shape == (100,) and np.all(np.isfinite(e))
    assert set(np.nonzero(e)[0].tolist()) <= {1, 7, 8, 16}
    shifted = subtract_element_offsets(pool, e)
    # the monomer sums are one per-element model (e_S = E(SA), e_N = E(AM)), so least squares
    # fits at least as well as the binding energies
    assert np.linalg.norm(shifted.energy) <= np.linalg.norm(binding.energy) + 1e-6
    assert shifted.energy.std() < 2.0
    assert set(shifted.reference["atomref"]) <= {1, 7, 8, 16}


def test_monomer_file_missing_a_molecule(pool, monomer_file, tmp_path):
    only_sa = [a for a in read(monomer_file, index=":") if a.get_chemical_formula(mode="hill") == "H2O4S"]
    assert len(only_sa) == 1
    path = tmp_path / "only_sa.extxyz"
    write(path, only_sa)
    assert set(read_monomer_references(path)) == {"SA"}
    with pytest.raises(InputError) as err:
        to_binding_energies(pool.subset(np.arange(5)), path)
    msg = str(err.value)
    assert str(path) in msg and "AM" in msg and "frame" in msg


# ------------------------------------------------------------------ synthetic files


def _frame(symbols, pos, energy=None, forces=None, info=None, arrays=None):
    atoms = Atoms(symbols, positions=pos)
    for key, value in (info or {}).items():
        atoms.info[key] = value
    for key, value in (arrays or {}).items():
        atoms.arrays[key] = np.asarray(value, float)
    if energy is not None or forces is not None:
        from ase.calculators.singlepoint import SinglePointCalculator

        results = {}
        if energy is not None:
            results["energy"] = energy
        if forces is not None:
            results["forces"] = np.asarray(forces, float)
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


WATER = (["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
RNG = np.random.default_rng(0)


def _water(energy=-10.0, forces="random", **kw):
    F = RNG.normal(size=(3, 3)) if isinstance(forces, str) else forces
    return _frame(*WATER, energy=energy, forces=F, **kw)


def _text(path, body):
    path.write_text(body)
    return path


HEADER = 'Properties=species:S:1:pos:R:3:forces:R:3 energy={e} pbc="F F F"'


def _xyz_frame(e="-1.0", f="0.1"):
    return f"2\n{HEADER.format(e=e)}\nH 0 0 0 {f} 0 0\nH 0.74 0 0 -0.1 0 0\n"


def test_synthetic_roundtrip_and_provenance(tmp_path):
    a, b = tmp_path / "a.extxyz", tmp_path / "b.extxyz"
    write(a, [_water(-10.0), _water(-11.0)])
    write(b, [_water(-12.0, info={"composition": "custom"})])
    ds = read_dataset([a, b])
    np.testing.assert_array_equal(ds.energy, [-10.0, -11.0, -12.0])
    assert [(d["source"], d["frame"]) for d in ds.info] == [(str(a), 0), (str(a), 1), (str(b), 0)]
    assert ds.info[0]["composition"] == "SA0AM0W1"  # derived from the atoms
    assert ds.info[2]["composition"] == "custom"  # the file's own label wins
    assert len(ds) == 3 and ds.n_atoms.tolist() == [3, 3, 3] and ds.elements == [1, 8]
    # a formula that is no sum of molecules keeps its Hill formula
    c = tmp_path / "c.extxyz"
    write(c, [_frame(["C", "O"], [[0, 0, 0], [1.13, 0, 0]], energy=-5.0, forces=np.zeros((2, 3)))])
    assert read_dataset(c).info[0]["composition"] == "CO"


def test_frame_without_forces(tmp_path):
    path = tmp_path / "noforces.extxyz"
    write(path, [_water(-10.0), _frame(*WATER, energy=-11.0)])
    with pytest.raises(InputError) as err:
        read_dataset(path)
    assert str(path) in str(err.value) and "frame 1" in str(err.value) and "forces" in str(err.value)
    with pytest.warns(UserWarning, match="1 of 2 structures have no forces"):
        ds = read_dataset(path, require_forces=False)
    assert ds.forces is None and ds.energy.tolist() == [-10.0, -11.0]


def test_frame_without_energy(tmp_path):
    path = tmp_path / "noenergy.extxyz"
    write(path, [_water(-10.0), _water(-10.0), _frame(*WATER, forces=np.zeros((3, 3)))])
    with pytest.raises(InputError, match=r"frame 2: no energy") as err:
        read_dataset(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "body, where, field",
    [
        (_xyz_frame() + _xyz_frame(e="nan"), "frame 1", "energy"),
        (_xyz_frame(e="inf"), "frame 0", "energy"),
        (_xyz_frame() + _xyz_frame(f="inf"), "frame 1", "forces of atom 0"),
        (_xyz_frame(f="nan"), "frame 0", "forces of atom 0"),
        (_xyz_frame() + _xyz_frame().replace("H 0.74 0 0", "H nan 0 0"), "frame 1", "atom 1: position"),
        (_xyz_frame().replace("H 0.74 0 0", "H 0.01 0 0"), "frame 0", "overlap"),
    ],
)
def test_non_finite_and_broken_frames(tmp_path, body, where, field):
    path = _text(tmp_path / "bad.extxyz", body)
    with pytest.raises(InputError) as err:
        read_dataset(path)
    msg = str(err.value)
    assert str(path) in msg and where in msg and field in msg, msg


def test_missing_empty_and_garbage_files(tmp_path):
    missing = tmp_path / "nope.extxyz"
    with pytest.raises(InputError, match="file not found") as err:
        read_dataset(missing)
    assert str(missing) in str(err.value)
    empty = _text(tmp_path / "empty.extxyz", "")
    with pytest.raises(InputError, match="empty file") as err:
        read_dataset(empty)
    assert str(empty) in str(err.value)
    garbage = _text(tmp_path / "garbage.extxyz", "hello world\nthis is not a structure\n")
    with pytest.raises(InputError, match="cannot be read") as err:
        read_dataset(garbage)
    assert str(garbage) in str(err.value)
    truncated = _text(tmp_path / "truncated.extxyz", _xyz_frame() + "5\ncomment\nH 0 0 0\n")
    with pytest.raises(InputError) as err:
        read_dataset(truncated)
    assert str(truncated) in str(err.value)
    with pytest.raises(InputError, match="no files"):
        read_dataset([])


def test_energy_and_forces_keys(tmp_path):
    F_dft = RNG.normal(size=(3, 3))
    atoms = _frame(*WATER, info={"E_dft": -20.5}, arrays={"F_dft": F_dft, "q": np.zeros(3)})
    path = tmp_path / "keys.extxyz"
    write(path, [atoms])
    ds = read_dataset(path, energy_key="E_dft", forces_key="F_dft")
    assert ds.energy.tolist() == [-20.5]
    np.testing.assert_allclose(ds.forces[0], F_dft, rtol=0, atol=1e-7)  # extxyz keeps 8 decimals
    with pytest.raises(InputError, match="no energy 'E_missing'"):
        read_dataset(path, energy_key="E_missing", forces_key="F_dft")
    with pytest.raises(InputError, match=r"frame 0: no forces"):
        read_dataset(path, energy_key="E_dft", forces_key="F_missing")
    with pytest.raises(InputError, match=r"forces 'q' must have shape \(3, 3\)"):
        read_dataset(path, energy_key="E_dft", forces_key="q")
    # the standard names also work as explicit keys (ase keeps them as calculator results)
    path2 = tmp_path / "std.extxyz"
    write(path2, [_water(-3.0, forces=F_dft)])
    ds2 = read_dataset(path2, energy_key="energy", forces_key="forces")
    assert ds2.energy.tolist() == [-3.0]
    np.testing.assert_allclose(ds2.forces[0], F_dft, atol=1e-7)


def test_unit_conversion(tmp_path):
    F = RNG.normal(size=(3, 3))
    path = tmp_path / "kcal.extxyz"
    write(path, [_water(-100.0, forces=F)])
    kcal = ase.units.kcal / ase.units.mol
    F = read(path).get_forces()  # as written (extxyz keeps 8 decimals)
    ds = read_dataset(path, energy_unit="kcal/mol")
    assert ds.energy[0] == pytest.approx(-100.0 / 23.0605, rel=1e-4)
    assert ds.energy[0] == -100.0 * kcal
    np.testing.assert_allclose(ds.forces[0], F * kcal, rtol=1e-12)
    ds = read_dataset(path, energy_unit="Hartree", forces_unit="Hartree/Bohr")
    assert ds.energy[0] == pytest.approx(-100.0 * 27.211386, rel=1e-6)
    np.testing.assert_allclose(ds.forces[0], F * ase.units.Hartree / ase.units.Bohr, rtol=1e-12)
    ds = read_dataset(path, energy_unit="kJ/mol", forces_unit="kcal/mol/Å")
    assert ds.energy[0] == pytest.approx(-100.0 / 96.485, rel=1e-4)
    np.testing.assert_allclose(ds.forces[0], F * kcal, rtol=1e-12)
    assert ENERGY_UNITS["eV"] == 1.0
    with pytest.raises(InputError, match="unknown energy_unit 'kcal'"):
        read_dataset(path, energy_unit="kcal")
    with pytest.raises(InputError, match="unknown forces_unit"):
        read_dataset(path, forces_unit="eV/furlong")


def test_delta_learning(tmp_path):
    F_hi, F_lo = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))
    frames = [
        _frame(
            *WATER, info={"E_hi": -76.4 - 0.1 * k, "E_lo": -5.1 + 0.01 * k}, arrays={"F_hi": F_hi, "E_lo_forces": F_lo}
        )
        for k in range(3)
    ]
    path = tmp_path / "delta.extxyz"
    write(path, frames)
    ds = read_dataset(path, energy_key="E_hi", forces_key="F_hi", delta_low_key="E_lo")
    expected = [(-76.4 - 0.1 * k) - (-5.1 + 0.01 * k) for k in range(3)]
    np.testing.assert_allclose(ds.energy, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds.forces[1], F_hi - F_lo, atol=1e-7)
    assert ds.reference == {"kind": "total", "delta": {"high": "E_hi", "low": "E_lo"}}
    # Δ in kcal/mol converts both levels
    ds_kcal = read_dataset(path, energy_key="E_hi", forces_key="F_hi", delta_low_key="E_lo", energy_unit="kcal/mol")
    np.testing.assert_allclose(ds_kcal.energy, np.asarray(expected) * ase.units.kcal / ase.units.mol, atol=1e-12)
    # the low-level forces array is required when forces are
    no_low_f = tmp_path / "delta_noforces.extxyz"
    write(no_low_f, [_frame(*WATER, info={"E_hi": -1.0, "E_lo": -0.5}, arrays={"F_hi": F_hi})])
    with pytest.raises(InputError, match="'E_lo_forces'") as err:
        read_dataset(no_low_f, energy_key="E_hi", forces_key="F_hi", delta_low_key="E_lo")
    assert str(no_low_f) in str(err.value) and "frame 0" in str(err.value)
    ds = read_dataset(no_low_f, energy_key="E_hi", forces_key="F_hi", delta_low_key="E_lo", require_forces=False)
    assert ds.forces is None and ds.energy.tolist() == [-0.5]
    with pytest.raises(InputError, match="no low-level energy 'E_low'"):
        read_dataset(path, energy_key="E_hi", forces_key="F_hi", delta_low_key="E_low")
    # binding energies need total energies
    with pytest.raises(InputError, match="total energies"):
        to_binding_energies(ds, path)


def test_binding_energies_synthetic(tmp_path):
    """Hand-made SA, AM and W monomers; the lowest of two SA frames is the reference."""
    sa = _frame(["H", "H", "O", "O", "O", "O", "S"], np.arange(21).reshape(7, 3) * 0.7, energy=-600.0)
    sa_hi = _frame(["H", "H", "O", "O", "O", "O", "S"], np.arange(21).reshape(7, 3) * 0.7, energy=-599.0)
    am = _frame(["N", "H", "H", "H"], np.arange(12).reshape(4, 3) * 0.7, energy=-130.0)
    w = _frame(*WATER, energy=-150.0)
    other = _frame(["C", "O"], [[0, 0, 0], [1.1, 0, 0]], energy=-1.0)
    mono = tmp_path / "mono.extxyz"
    write(mono, [sa_hi, other, sa, am, w])
    assert read_monomer_references(mono) == {"SA": -600.0, "AM": -130.0, "W": -150.0}
    numbers = [np.array([16, 8, 8, 8, 8, 1, 1, 7, 1, 1, 1, 8, 1, 1], np.int32)]  # SA + AM + W
    ds = Dataset(
        numbers=numbers,
        positions=[np.zeros((14, 3))],
        energy=np.array([-881.0]),
        forces=None,
        info=[{"source": "x", "frame": 0, "composition": "SA1AM1W1"}],
    )
    assert composition_of(numbers[0]) == "SA1AM1W1"
    b = to_binding_energies(ds, mono)
    assert b.energy.tolist() == [-881.0 + 600.0 + 130.0 + 150.0]
    assert b.reference["monomers"] == {"SA": -600.0, "AM": -130.0, "W": -150.0}
    # a structure that is no sum of molecules
    bad = Dataset(
        [np.array([6, 8], np.int32)],
        [np.zeros((2, 3))],
        np.array([-1.0]),
        None,
        [{"source": "y.xyz", "frame": 7, "composition": "CO"}],
    )
    with pytest.raises(InputError, match=r"y.xyz, frame 7.*cannot be split"):
        to_binding_energies(bad, mono)
    with pytest.raises(InputError, match="no monomer"):
        read_monomer_references(mono, {"DMA": "C2H7N"})


def test_composition_of():
    sa, am, w = [16, 8, 8, 8, 8, 1, 1], [7, 1, 1, 1], [8, 1, 1]
    assert composition_of(sa * 4 + am * 4) == "SA4AM4"
    assert composition_of(am) == "SA0AM1"
    assert composition_of(sa) == "SA1AM0"
    assert composition_of(sa + w + w) == "SA1AM0W2"
    assert composition_of(np.random.default_rng(1).permutation(sa * 3 + am * 2)) == "SA3AM2"
    assert composition_of(sa + [1]) is None  # an extra proton (charge is not in a formula)
    assert composition_of([6, 8]) is None
    assert composition_of(["H", "H", "O"]) == "SA0AM0W1"
    with pytest.raises(InputError, match="cannot be split into whole molecules"):
        molecule_counts(sa + [1])
    # callers extend the table; molecules listed first win ambiguous splits
    dma = [6, 6, 7] + [1] * 7
    table = {**MOLECULES, "DMA": "C2H7N"}
    assert composition_of(sa * 2 + dma, table) == "SA2AM0DMA1"
    assert molecule_counts(sa * 2 + dma + am, table) == {"SA": 2, "AM": 1, "W": 0, "DMA": 1}
    ions = {**MOLECULES, "HSO4": "HO4S", "NH4": "H4N"}
    assert composition_of(sa + am, ions) == "SA1AM1"
    # HSO4⁻ + NH4⁺ has the atoms of SA + AM: the neutral molecules, listed first, win
    assert composition_of([16, 8, 8, 8, 8, 1] + [7, 1, 1, 1, 1], ions) == "SA1AM1"
    assert composition_of(sa + am, {"HSO4": "HO4S", "NH4": "H4N", **MOLECULES}) == "HSO41NH41SA0AM0"
    # SA + NH4⁺ (a protonated cluster) is no sum of neutral molecules
    assert composition_of(sa + am + [1]) is None
    assert molecule_counts(sa + am + [1], ions) == {"SA": 1, "AM": 0, "W": 0, "HSO4": 0, "NH4": 1}


def test_fit_element_offsets_recovers_known_values():
    rng = np.random.default_rng(3)
    truth = {1: -13.6, 6: -1030.5, 7: -1480.2, 8: -2040.9}
    numbers, energy = [], []
    for _ in range(40):
        counts = rng.integers(0, 6, size=4)
        counts[0] += 1
        Z = np.repeat(np.array(list(truth), np.int32), counts)
        numbers.append(Z)
        energy.append(sum(truth[int(z)] for z in Z))
    ds = Dataset(
        numbers,
        [np.zeros((len(z), 3)) for z in numbers],
        np.asarray(energy),
        None,
        [{"source": "synthetic", "frame": i, "composition": "x"} for i in range(40)],
    )
    e = fit_element_offsets(ds)
    for z, v in truth.items():
        assert abs(e[z] - v) < 1e-8
    assert np.count_nonzero(e) == 4
    shifted = subtract_element_offsets(ds, e)
    assert np.max(np.abs(shifted.energy)) < 1e-8
    assert shifted.reference["kind"] == "element_offsets"
    assert shifted.reference["atomref"] == pytest.approx({z: e[z] for z in truth})
    # dict input, and refusals
    d = subtract_element_offsets(ds, truth)
    assert np.max(np.abs(d.energy)) < 1e-8
    with pytest.raises(InputError, match="already|total"):
        subtract_element_offsets(shifted, e)
    with pytest.raises(InputError, match=r"no value for element\(s\) O"):
        subtract_element_offsets(ds, {1: 0.0, 6: 0.0, 7: 0.0})
    with pytest.raises(InputError, match=r"1\.\.7"):
        fit_element_offsets(ds, max_z=8)


def test_dataset_subset():
    numbers = [np.array([1] * (k + 1), np.int32) for k in range(5)]
    ds = Dataset(
        numbers,
        [np.arange(3 * (k + 1), dtype=float).reshape(-1, 3) * 1.0 for k in range(5)],
        np.arange(5.0),
        [np.zeros((k + 1, 3)) for k in range(5)],
        [{"source": "s", "frame": k, "composition": f"H{k + 1}"} for k in range(5)],
        reference={"kind": "binding", "monomers": {"SA": -1.0}, "monomer_file": "m"},
    )
    sub = ds.subset([3, 0, 3])
    assert sub.energy.tolist() == [3.0, 0.0, 3.0] and sub.n_atoms.tolist() == [4, 1, 4]
    assert [d["frame"] for d in sub.info] == [3, 0, 3]
    assert sub.reference == ds.reference and sub.reference is not ds.reference
    assert len(ds.subset(np.array([True, False, True, False, False]))) == 2
    assert len(ds.subset([])) == 0
    with pytest.raises(InputError, match="out of range"):
        ds.subset([5])
    with pytest.raises(InputError, match="forces has 1 entries"):
        Dataset(numbers, ds.positions, ds.energy, ds.forces[:1], ds.info)
    with pytest.raises(InputError, match=r"structure 1: positions"):
        Dataset(numbers, [ds.positions[0], np.zeros((3, 3))] + ds.positions[2:], ds.energy, None, ds.info)


def test_bundled_training_set_is_read_by_name():
    """The small training set inside the package: named like a file, labelled, and the same
    numbers as the shared pool it was cut from."""
    from painnjax import read_dataset, to_binding_energies
    from painnjax.data import bundled_dataset_path, bundled_datasets

    assert {"saam-gfn1-small", "saam-gfn1-monomers"} <= set(bundled_datasets())
    ds = read_dataset(["saam-gfn1-small"])
    assert len(ds) == 256 and ds.forces is not None
    assert sorted(set(ds.compositions)) == ["SA0AM1", "SA1AM0", "SA1AM1", "SA2AM2", "SA3AM3", "SA4AM4"]
    binding = to_binding_energies(ds, "saam-gfn1-monomers")
    assert binding.reference["kind"] == "binding"
    assert np.all(np.abs(binding.energy[np.asarray(ds.compositions) == "SA1AM0"]) < 0.5)  # monomer MD frames
    assert bundled_dataset_path("saam-gfn1-small").stat().st_size < 2_000_000
    with pytest.raises(InputError, match="nor a bundled dataset"):
        read_dataset(["saam-gfn1-large"])


def test_bundled_training_set_matches_the_shared_pool(shared_data):
    import ase.io

    from painnjax import read_dataset

    small = read_dataset(["saam-gfn1-small"])
    pool = ase.io.read(shared_data / "saam_gfn1" / "train_pool_300K.extxyz", index=":")
    index = {(a.info["name"], int(a.info["frame"])): a for a in pool}
    for k in range(0, len(small), 37):
        a = index[(small.info[k]["name"], int(small.info[k]["info_frame"]))]  # the MD frame number
        np.testing.assert_allclose(small.positions[k], a.positions)
        assert small.energy[k] == pytest.approx(a.get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(small.forces[k], a.get_forces(), atol=1e-9)
