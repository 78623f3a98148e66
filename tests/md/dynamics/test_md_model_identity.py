"""Run folders record the model's identity (issue 17, item 3): a restart or resume with another
model is refused naming both, the same model continues, old records without one give a warning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from conftest import SMALL, perturbed_model
from md_helpers import checkpoint_meta, elastic_network

from md import MDConfig, run_md
from md.dynamics.checkpoint import CHECKPOINT_FILE
from md.dynamics.output import read_thermo
from painnjax import InputError, Model, PaiNNConfig, load_model, save_model
from painnjax.cli import main
from painnjax.io.modelfile import model_identity

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def _cfg(steps):
    return MDConfig(steps=steps, dt=0.5, log_every=10, traj_every=10, checkpoint_every=10, temperature=300.0)


def test_model_identity_is_of_the_contents(small_model, tmp_path):
    ident = model_identity(small_model)
    assert ident.startswith("sha256:") and len(ident) == len("sha256:") + 64
    path = save_model(small_model, tmp_path / "m.painn")
    assert model_identity(path) == model_identity(load_model(path)) == ident  # in memory = saved and read back
    renamed = Model(small_model.config, small_model.variables, {**small_model.metadata, "name": "other"})
    assert model_identity(renamed) != ident
    assert model_identity(perturbed_model(SMALL, seed=1)) != ident
    assert model_identity([small_model]) == ident
    assert model_identity([small_model, renamed]) != model_identity([renamed, small_model])


def test_md_restart_refuses_another_model_and_continues_with_the_same(sa1am1, tmp_path):
    energy = elastic_network(sa1am1.positions)
    out = tmp_path / "run"
    run_md(energy, sa1am1, _cfg(20), out=out, progress=False, model_id=A, model_name="a.painn")
    assert checkpoint_meta(out / CHECKPOINT_FILE)["model_id"] == A
    rows = len(read_thermo(out)["step"])
    msg = r"made with model a\.painn \(sha256:aaaaaaaaaaaa\), this call uses b\.painn \(sha256:bbbbbbbbbbbb\)"
    with pytest.raises(InputError, match=msg):
        run_md(energy, sa1am1, _cfg(40), out=out, progress=False, restart=True, model_id=B, model_name="b.painn")
    assert len(read_thermo(out)["step"]) == rows  # nothing touched
    res = run_md(energy, sa1am1, _cfg(40), out=out, progress=False, restart=True, model_id=A, model_name="a.painn")
    assert res.steps_done == 40 and res.summary["model_id"] == A

    # a checkpoint from before models were recorded: continued, with a warning
    old = tmp_path / "old"
    run_md(energy, sa1am1, _cfg(20), out=old, progress=False)
    assert "model_id" not in checkpoint_meta(old / CHECKPOINT_FILE)
    with pytest.warns(UserWarning, match="written before painnjax recorded the model"):
        res = run_md(energy, sa1am1, _cfg(30), out=old, progress=False, restart=True, model_id=B, model_name="b")
    assert res.steps_done == 30


def test_cli_md_restart_with_another_model_file_is_refused(tmp_path, capsys):
    tiny = PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4)
    m1 = save_model(perturbed_model(tiny, seed=0), tmp_path / "one.painn")
    m2 = save_model(perturbed_model(tiny, seed=1), tmp_path / "two.painn")
    out = tmp_path / "run"
    common = ["SA1AM1", "--out", str(out), "--quiet", "--fragment-distance", "0", "--max-temperature", "1e6"]
    common += ["--log-every", "5", "--traj-every", "5", "--checkpoint-every", "5"]
    assert main(["md", str(m1), *common, "--steps", "5"]) == 0
    assert main(["md", str(m2), *common, "--steps", "10", "--restart"]) == 2
    err = capsys.readouterr().err
    assert f"the run was made with model {m1} (sha256:" in err and f"this call uses {m2} (sha256:" in err
    assert json.loads((out / "summary.json").read_text())["steps_done"] == 5


def test_screen_and_study_refuse_to_continue_with_another_model(small_model, sa1am1, tmp_path):
    from md.analysis.study import vibrational_study
    from md.screening.folder import screen_to_folder

    other = save_model(perturbed_model(SMALL, seed=1), tmp_path / "other.painn")
    screen_dir = tmp_path / "screen"
    screen_dir.mkdir()
    settings = {"model": "first.painn", "candidates": "1 structures", "model_id": model_identity(small_model)}
    (screen_dir / "screen.json").write_text(json.dumps({"settings": settings, "finished": False}))
    with pytest.raises(InputError, match=rf"screen.json: the run was made with model first\.painn .*{other}"):
        screen_to_folder(other, [sa1am1], screen_dir, resume=True, log=None)

    study_dir = tmp_path / "study"
    study_dir.mkdir()
    settings = {"model": "first.painn", "model_id": model_identity(small_model)}
    (study_dir / "study.json").write_text(json.dumps({"settings": settings}))
    with pytest.raises(InputError, match=rf"study.json: the run was made with model first\.painn .*{other}"):
        vibrational_study(other, "SA1AM1", study_dir, log=None)


def test_learn_refuses_a_round_after_its_committee_was_replaced(small_model, sa1am1, tmp_path):
    from painnjax.active.learn import LearnConfig, learn

    test_file = tmp_path / "test.extxyz"
    atoms = sa1am1.copy()
    atoms.calc = SinglePointCalculator(atoms, energy=-11.0, forces=np.zeros((len(atoms), 3)))
    write(test_file, [atoms])
    out = tmp_path / "al"
    committee = out / "round-0" / "committee"
    for k in (1, 2):
        save_model(perturbed_model(SMALL, seed=k), committee / f"member-{k}" / "best.painn")
    row = {"round": 0, "data_files_after": [str(test_file)], "committee_model_id": model_identity(small_model)}
    (out / "round-0" / "round.json").write_text(json.dumps(row))
    with pytest.raises(InputError, match=r"round-0/round.json: the run was made with model .*committee \(round 0\)"):
        learn([test_file], test_file, out, LearnConfig(rounds=1), log=None)
