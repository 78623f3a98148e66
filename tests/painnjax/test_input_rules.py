"""One rule for periodic input at every entry point, and files that ASE takes for another format.

Periodic frames (pbc true) are refused with a message naming the file and frame and saying how to
clear them, unless ``ignore_cell`` / ``--ignore-cell`` reads them as free clusters: by the
structure and data readers, the command line, the calculator and the md library functions.
(Labelling with xTB: tests/painnjax/active/test_label.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from md.analysis.harmonic import harmonic_analysis
from md.dynamics.config import MDConfig
from md.dynamics.simulate import run_md
from md.optimize.fire import minimize
from md.screening.candidates import read_candidates
from md.structures import read_structure
from painnjax import InputError, PaiNNCalculator
from painnjax.cli import main as cli_main
from painnjax.data.dataset import read_dataset
from painnjax.training.committee import read_pool
from painnjax.training.workflow import read_run_config, train_from_files
from painnjax.validate import check_free_cluster, free_cluster


def _boxed(atoms, pbc=True):
    """``atoms`` in a 6 Å periodic box (as an extxyz frame with Lattice= reads)."""
    a = atoms.copy()
    a.cell = [6.0, 6.0, 6.0]
    a.pbc = pbc
    return a


def _labelled(atoms, e=-1.0):
    a = atoms.copy()
    a.calc = SinglePointCalculator(a, energy=e, forces=np.zeros((len(a), 3)))
    return a


@pytest.fixture
def mixed_file(tmp_path, sa1am1):
    """An extxyz file of a free SA1AM1 and (frame 1) the same cluster in a periodic 6 Å box, labelled."""
    path = tmp_path / "mixed.extxyz"
    write(path, [_labelled(sa1am1), _labelled(_boxed(sa1am1))])
    return path


def test_the_rule_names_the_frame_and_how_to_clear_it(sa1am1):
    with pytest.raises(InputError) as err:
        check_free_cluster(_boxed(sa1am1, [False, False, True]), "x.extxyz, frame 3")
    msg = str(err.value)
    assert msg.startswith("x.extxyz, frame 3: periodic boundary conditions are not supported (pbc F F T, 6 x 6 x 6 Å)")
    assert "atoms.pbc = False" in msg and "--ignore-cell (ignore_cell=True)" in msg
    check_free_cluster(sa1am1)
    check_free_cluster(_boxed(sa1am1, False))  # a cell without pbc is unused, not an error
    check_free_cluster(_boxed(sa1am1), ignore_cell=True)
    freed = free_cluster(_boxed(sa1am1), ignore_cell=True)
    assert not freed.pbc.any() and freed.cell.volume == 0 and np.array_equal(freed.positions, sa1am1.positions)


def test_structure_and_candidate_readers(tmp_path, sa1am1, mixed_file):
    # read_structure takes the last frame: the periodic one
    with pytest.raises(InputError, match=rf"{mixed_file}, last frame: periodic boundary conditions"):
        read_structure(mixed_file)
    atoms = read_structure(mixed_file, ignore_cell=True)
    assert not atoms.pbc.any() and atoms.cell.volume == 0
    np.testing.assert_allclose(atoms.positions, sa1am1.positions, atol=1e-8)
    with pytest.raises(InputError, match=rf"{mixed_file}, frame 1: periodic"):
        read_candidates(mixed_file)
    frames = read_candidates(mixed_file, ignore_cell=True)
    assert len(frames) == 2 and not any(a.pbc.any() for a in frames)


def test_data_readers_and_training_refuse_a_periodic_frame(tmp_path, sa1am1, mixed_file):
    for read in (read_dataset, read_pool):
        with pytest.raises(InputError, match=rf"{mixed_file}, frame 1: periodic boundary conditions"):
            read(mixed_file)
        ds = read(mixed_file, ignore_cell=True)
        assert len(ds) == 2 and np.array_equal(ds.positions[0], ds.positions[1])
    # train: refused while reading the data, before anything is written
    with pytest.raises(InputError, match=rf"{mixed_file}, frame 1: periodic"):
        train_from_files([mixed_file], out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert read_run_config(None, {"data": {"ignore_cell": True}}).data.ignore_cell is True


def test_commands_refuse_a_periodic_frame_before_any_work(tmp_path, mixed_file, capsys):
    runs = {
        "md": ["md", "saam-gfn1", str(mixed_file), "--steps", "10", "--out", str(tmp_path / "md")],
        "optimize": ["optimize", "saam-gfn1", str(mixed_file), "--out", str(tmp_path / "o.xyz")],
        "harmonic": ["harmonic", "saam-gfn1", str(mixed_file)],
        "evaluate": ["evaluate", "saam-gfn1", str(mixed_file)],
        "screen": ["screen", "saam-gfn1", "--candidates", str(mixed_file), "--out", str(tmp_path / "s")],
    }
    for name, argv in runs.items():
        assert cli_main(argv) == 2, name
        err = capsys.readouterr().err
        assert f"painnjax {name}: error: {mixed_file}" in err and "periodic boundary conditions" in err, name
        assert "--ignore-cell" in err, name
    assert not (tmp_path / "md").exists() and not (tmp_path / "o.xyz").exists()


def test_calculator_and_md_functions(small_model, sa1am1):
    boxed = _boxed(sa1am1)
    boxed.calc = PaiNNCalculator(small_model)
    with pytest.raises(InputError, match="PaiNNCalculator: periodic boundary conditions .*ignore_cell=True"):
        boxed.get_potential_energy()
    calc = PaiNNCalculator(small_model, ignore_cell=True)
    free = sa1am1.copy()
    free.calc = calc
    e_free, f_free = free.get_potential_energy(), free.get_forces()
    boxed.calc = calc
    assert boxed.get_potential_energy() == e_free  # the free cluster's energy, not a periodic one
    np.testing.assert_array_equal(boxed.get_forces(), f_free)

    def energy(R, **kwargs):  # never called: the atoms are refused first
        raise AssertionError("called")

    periodic = _boxed(sa1am1)
    with pytest.raises(InputError, match="periodic boundary conditions are not supported"):
        run_md(energy, periodic, MDConfig(steps=10), progress=False)
    with pytest.raises(InputError, match="periodic boundary conditions are not supported"):
        minimize(energy, periodic)
    with pytest.raises(InputError, match="periodic boundary conditions are not supported"):
        harmonic_analysis(energy, periodic)


# --------------------------------------------------------------------------------------------
# A file that ASE takes for another format (an xyz named .dat is a GAMESS punch file to ASE)


def test_an_xyz_named_dat_gives_a_clear_error_and_format_is_accepted(tmp_path, sa1am1, capsys):
    dat = tmp_path / "cluster.dat"
    write(dat, sa1am1, format="xyz")
    hint = r"ASE took it for format 'gamess-us-punch' \(from its name, \.dat\).*name it \.xyz or \.extxyz"
    for read in (read_structure, read_candidates, read_pool):
        with pytest.raises(InputError, match=hint) as err:
            read(dat)
        assert str(err.value).startswith(f"{dat}: cannot")
    with pytest.raises(InputError, match=r"or pass format= \(e\.g\. format='extxyz'\)"):
        read_pool(dat)
    assert len(read_pool(dat, format="xyz")) == 1  # where a reader takes format=, it works
    assert cli_main(["optimize", "saam-gfn1", str(dat), "--out", str(tmp_path / "o.xyz")]) == 2
    err = capsys.readouterr().err
    assert f"painnjax optimize: error: {dat}: cannot read a structure" in err and "Traceback" not in err
    assert "name it .xyz or .extxyz" in err
