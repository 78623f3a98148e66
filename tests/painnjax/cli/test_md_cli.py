"""`painnjax md` and `painnjax optimize`: runs, outputs, restart, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest
from ase import Atoms
from ase.io import read, write

from md.dynamics.output import read_thermo
from painnjax import save_model
from painnjax.cli import main


@pytest.fixture(scope="module")
def model_file(small_model, tmp_path_factory):
    return str(save_model(small_model, tmp_path_factory.mktemp("m") / "small.painn"))


def _md(model_file, out, *extra):
    # a random model does not hold a cluster together: no fragment or temperature stops here
    return main(
        [
            "md",
            model_file,
            "SA1AM1",
            "--dt",
            "0.25",
            "--out",
            str(out),
            "--log-every",
            "10",
            "--traj-every",
            "50",
            "--checkpoint-every",
            "50",
            "--fragment-distance",
            "0",
            "--max-temperature",
            "1e6",
            "--quiet",
            *extra,
        ]
    )


def test_md_run_outputs_and_restart(model_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert _md(model_file, out, "--steps", "100", "--T", "300", "400", "--format", "extxyz", "--forces") == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("steps_per_second", "compile_seconds", "mean_temperature_K", "steps_done", "stop_reason"):
        assert key in summary
    assert summary["steps_done"] == 100 and summary["stop_reason"] == "completed"
    assert summary["steps_per_second"] > 0 and summary["compile_seconds"] > 0
    assert summary["replicas"] == 2 and summary["temperatures_K"] == [300.0, 400.0]
    assert summary["ensemble"] == "nvt-nh" and summary["dt_fs"] == 0.25
    frames = read(out / "trajectory_r001.extxyz", index=":")
    assert [a.info["step"] for a in frames] == [0, 50, 100]
    assert frames[-1].get_forces().shape == (11, 3) and abs(frames[-1].get_velocities()).sum() > 0
    assert frames[0].info["temperature_K"] == pytest.approx(400.0, rel=1e-4)
    printed = capsys.readouterr().out
    assert "H5NO4S (11 atoms), nvt-nh, 2 replica(s): step 100 of 100" in printed and "ns/day" in printed

    assert (
        _md(model_file, out, "--steps", "200", "--T", "300", "400", "--format", "extxyz", "--forces", "--restart") == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps_done"] == 200 and summary["restarted_from_step"] == 100
    th = read_thermo(out)
    assert sorted(set(th["step"].tolist())) == list(range(0, 201, 10))
    assert len(th["step"]) == 2 * 21  # no row doubled by the restart
    assert [a.info["step"] for a in read(out / "trajectory_r000.extxyz", index=":")] == [0, 50, 100, 150, 200]


def test_optimize(model_file, tmp_path, capsys):
    out = tmp_path / "opt.xyz"
    assert main(["optimize", model_file, "SA1AM1", "--fmax", "1e-6", "--steps", "3", "--out", str(out)]) == 1
    assert "NOT converged in 3 steps" in capsys.readouterr().out
    atoms = read(out)
    assert len(atoms) == 11 and atoms.info["converged"] is False and atoms.info["steps"] == 3
    assert main(["optimize", model_file, "SA1AM1", "--fmax", "1e3", "--out", str(out)]) == 0
    assert "converged in 0 steps" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "10", "--dt", "0"], "[md] dt: must be a finite number > 0 fs, got 0.0"),
        (["--steps", "10", "--dt", "-0.5"], "[md] dt: must be a finite number > 0 fs"),
        (["--steps", "10", "--T", "-5"], "[md] temperature: must be a finite number >= 0 K, got -5.0"),
        (["--steps", "10", "--chain-length", "1"], "[md] chain_length: must be an integer >= 2"),
        (["--steps", "10", "--ensemble", "npt"], "[md] ensemble: must be one of nvt-nh, nve, nvt-langevin"),
        (
            ["--steps", "10", "--T", "300", "400", "--replicas", "3"],
            "[md] temperature: give one temperature or one per replica (3)",
        ),
    ],
)
def test_md_bad_options(model_file, tmp_path, capsys, args, message):
    assert main(["md", model_file, "SA1AM1", "--out", str(tmp_path / "x"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("painnjax md: error: ") and message in err


def test_md_and_optimize_bad_files(model_file, tmp_path, capsys):
    missing = tmp_path / "nofile.xyz"
    assert main(["md", model_file, str(missing), "--steps", "10", "--out", str(tmp_path / "x")]) == 2
    assert f"painnjax md: error: {missing}: no such file" in capsys.readouterr().err

    methane = tmp_path / "CH4.xyz"
    write(
        methane,
        Atoms(
            "CH4",
            positions=[[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]],
        ),
    )
    assert main(["md", model_file, str(methane), "--steps", "10", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert f"{methane}: atom 0: element C (Z=6) is not known to this model (it knows H, N, O, S)" in err

    garbage = tmp_path / "garbage.xyz"
    garbage.write_text("this is not\na structure\n")
    assert main(["optimize", model_file, str(garbage), "--out", str(tmp_path / "o.xyz")]) == 2
    assert f"painnjax optimize: error: {garbage}: cannot read a structure" in capsys.readouterr().err

    assert main(["md", str(tmp_path / "none.painn"), "SA1AM1", "--steps", "10", "--out", str(tmp_path / "x")]) == 2
    assert "none.painn: no such model file" in capsys.readouterr().err

    assert main(["md", model_file, "SA1AM1", "--steps", "10", "--out", str(tmp_path / "y"), "--restart"]) == 2
    assert "no checkpoint to restart from" in capsys.readouterr().err


def test_md_committee_wall_and_exchange_from_the_command_line(model_file, small_model, tmp_path):
    """One run with every option of issue 16: the committee's columns, the wall's, and exchange statistics."""
    from conftest import perturbed_model

    other = str(save_model(perturbed_model(seed=5), tmp_path / "other.painn"))
    out = tmp_path / "run"
    args = ["--steps", "100", "--T", "300", "330", "--exchange-every", "20", "--wall", "8", "--wall-k", "0.5"]
    rc = _md(model_file, out, *args, "--committee", other, "--collect-above", "1e-6", "--devices", "1")
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["exchange_acceptance"]) == 1 and summary["exchange_attempts"] == [
        2
    ]  # exchanges 2 and 4 of 5 offer the pair (0, 1)
    assert summary["wall"] == {"radius_A": 8.0, "k_eV_A2": 0.5}
    assert summary["committee"]["members"] == 2 and summary["committee"]["collected_frames"] == 22
    assert summary["committee_models"] == [other] and summary["devices"] == 1
    th = read_thermo(out)
    for c in ("e_wall_eV", "e_std_eV", "f_spread_eV_A", "f_spread_max_eV_A", "walker"):
        assert c in th
    assert len(read(out / "uncertain.extxyz", index=":")) == 22  # 11 records of 2 replicas, all above 1e-6


def test_md_spread_options_without_committee_are_refused(model_file, tmp_path, capsys):
    assert _md(model_file, tmp_path / "x", "--steps", "20", "--max-spread", "0.1") == 2
    assert "committee" in capsys.readouterr().err


def test_md_pair_layouts_give_the_same_trajectory(model_file, tmp_path):
    """--pairs picks a layout, not a model: all pairs, a sparse list and the (N, N) matrix give
    the same energies along the same 20 steps (float32 rounding only)."""
    import numpy as np

    e_pot = {}
    for pairs in ("all", "sparse", "matrix"):
        out = tmp_path / pairs
        assert _md(model_file, out, "--steps", "20", "--T", "300", "--pairs", pairs) == 0
        e_pot[pairs] = read_thermo(out)["e_pot_eV"]
        assert json.loads((out / "summary.json").read_text())["pairs"] == pairs
    assert len(e_pot["all"]) == 3
    for pairs in ("sparse", "matrix"):
        np.testing.assert_allclose(e_pot[pairs], e_pot["all"], rtol=0, atol=1e-4)
