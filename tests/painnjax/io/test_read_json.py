"""Run records read back through one reader, :func:`painnjax.io.files.read_json` (issue 32, the
mechanism behind D6): a damaged, truncated or foreign JSON file is an InputError naming the file
(exit 2 from the command that reads it), never a traceback.

Readers covered: ``screen.json`` (``screen --resume``), ``learn.json`` and ``round-N/round.json``
(``painnjax learn`` continued), ``study.json`` and ``harmonic.json`` (``painnjax demo`` continued).
Each command case refuses before any work: minimisation or training would fail the test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from painnjax.cli import main as cli_main
from painnjax.errors import InputError

#: damaged contents, and what the message says of each
DAMAGED = {
    "garbage": (b"{garbage\n", "not JSON"),
    "truncated": (b'{"settings": {"model": "saam', "not JSON"),
    "empty": (b"", "not JSON"),
    "binary": (b"\xff\xfe\x00garbage", "not JSON (not UTF-8 text"),
    "list": (b"[1, 2]\n", "(a JSON array where an object belongs)"),
    "null": (b"null\n", "(a JSON null where an object belongs)"),
}


class Refused(AssertionError):
    """Work was started although a record could not be read."""


def _refuse(*args, **kwargs):
    raise Refused("work started before the damaged record was refused")


# ------------------------------------------------------------------------------------- the reader


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_read_json_names_the_file_and_what_it_holds(tmp_path, kind):
    from painnjax.io.files import read_json

    data, says = DAMAGED[kind]
    path = tmp_path / "record.json"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_json(path, "test record", fix="delete it")
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and says in msg and "test record" in msg and msg.endswith("; delete it"), msg
    assert "\n" not in msg


def test_read_json_missing_file_folder_and_kinds(tmp_path):
    from painnjax.io.files import read_json

    with pytest.raises(InputError, match=rf"^{tmp_path / 'none.json'}: cannot read the test record \(No such file"):
        read_json(tmp_path / "none.json", "test record")
    with pytest.raises(InputError, match=rf"^{tmp_path}: cannot read the test record \(Is a directory\)$"):
        read_json(tmp_path, "test record")
    path = tmp_path / "r.json"
    path.write_text('[1, {"a": "ü"}]', encoding="utf-8")
    assert read_json(path, "test record", kind=list) == [1, {"a": "ü"}]
    assert read_json(path, "test record", kind=None) == [1, {"a": "ü"}]
    path.write_text('{"a": [1.5, null]}\n', encoding="utf-8")
    assert read_json(path, "test record") == {"a": [1.5, None]}
    with pytest.raises(InputError, match=r"not a test record \(a JSON object where an array belongs\)$"):
        read_json(path, "test record", kind=list)


# -------------------------------------------------------------------------------- screen.json


@pytest.mark.parametrize("kind", ["binary", "list", "empty"])
def test_screen_resume_with_a_damaged_screen_json_exits_2(tmp_path, capsys, monkeypatch, kind):
    monkeypatch.setattr("md.screening.screen.minimize_batch", _refuse, raising=False)
    out = tmp_path / "s"
    out.mkdir()
    data, says = DAMAGED[kind]
    (out / "screen.json").write_bytes(data)
    args = ["screen", "saam-gfn1", "--composition", "SA1AM1", "--n", "2", "--out", str(out), "--resume", "--quiet"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert f"{out / 'screen.json'}: " in err and says in err and "screen record" in err, err
    assert "Traceback" not in err


# -------------------------------------------------------------------------- learn.json, round.json


@pytest.fixture
def labelled(tmp_path, sa1am1):
    path = tmp_path / "labelled.extxyz"
    atoms = sa1am1.copy()
    atoms.calc = SinglePointCalculator(atoms, energy=-11.0, forces=np.zeros((len(atoms), 3)))
    write(path, [atoms])
    return path


@pytest.fixture
def no_training(monkeypatch):
    monkeypatch.setattr("painnjax.active.learn.train_from_files", _refuse)
    monkeypatch.setattr("painnjax.active.learn.label_file", _refuse)
    monkeypatch.setattr("painnjax.active.learn.sample_md", _refuse)


def _learn_cli(labelled, out) -> list[str]:
    return ["learn", "--data", str(labelled), "--test", str(labelled), "--out", str(out), "--rounds", "1", "--quiet"]


@pytest.mark.parametrize("kind", ["garbage", "list"])
def test_learn_refuses_a_damaged_learn_json(tmp_path, labelled, no_training, capsys, kind):
    from painnjax.active.learn import LearnConfig, learn

    out = tmp_path / "al"
    out.mkdir()
    data, says = DAMAGED[kind]
    (out / "learn.json").write_bytes(data)
    with pytest.raises(InputError, match=rf"^{out / 'learn.json'}: .*active-learning record") as refused:
        learn([labelled], labelled, out, LearnConfig(rounds=1), log=None, progress=False)
    assert says in str(refused.value)
    assert cli_main(_learn_cli(labelled, out)) == 2
    err = capsys.readouterr().err
    assert f"{out / 'learn.json'}: " in err and says in err and "Traceback" not in err, err


def test_learn_refuses_learn_json_whose_settings_are_not_an_object(tmp_path, labelled, no_training):
    from painnjax.active.learn import LearnConfig, learn

    out = tmp_path / "al"
    out.mkdir()
    (out / "learn.json").write_text(json.dumps({"settings": [1, 2]}))
    with pytest.raises(InputError, match=rf"^{out / 'learn.json'}: .*settings"):
        learn([labelled], labelled, out, LearnConfig(rounds=1), log=None, progress=False)


@pytest.mark.parametrize(
    "text, says",
    [
        ("{garbage\n", "not JSON"),
        ("[1, 2]\n", "a JSON array where an object belongs"),
        ('{"round": 0}\n', "data_files_after must be a list of file names, got nothing"),
        ('{"round": 0, "data_files_after": "a.extxyz"}\n', "data_files_after must be a list of file names"),
    ],
    ids=["garbage", "list", "no-files", "files-not-a-list"],
)
def test_learn_refuses_a_damaged_round_json(tmp_path, labelled, no_training, capsys, text, says):
    from painnjax.active.learn import LearnConfig, learn

    out = tmp_path / "al"
    (out / "round-0").mkdir(parents=True)
    (out / "round-0" / "round.json").write_text(text)
    with pytest.raises(InputError, match=rf"^{out / 'round-0' / 'round.json'}: "):
        learn([labelled], labelled, out, LearnConfig(rounds=1), log=None, progress=False)
    assert cli_main(_learn_cli(labelled, out)) == 2
    err = capsys.readouterr().err
    assert f"{out / 'round-0' / 'round.json'}: " in err and says in err and "Traceback" not in err, err


# ------------------------------------------------------------------------ study.json, harmonic.json


@pytest.fixture
def no_study_work(monkeypatch):
    monkeypatch.setattr("md.analysis.study.optimize_file", _refuse)
    monkeypatch.setattr("md.analysis.study.harmonic_file", _refuse)
    monkeypatch.setattr("md.analysis.study.run_md_file", _refuse)


DEMO = ["demo", "--structure", "SA1AM1", "--ps", "0.16", "--equilibrate", "0.04", "--quiet"]


@pytest.mark.parametrize("kind", ["garbage", "list"])
def test_demo_refuses_a_damaged_study_json(tmp_path, no_study_work, capsys, kind):
    out = tmp_path / "demo"
    out.mkdir()
    data, says = DAMAGED[kind]
    (out / "study.json").write_bytes(data)
    assert cli_main([*DEMO, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'study.json'}: " in err and says in err and "study record" in err, err
    assert "Traceback" not in err
    assert (out / "study.json").read_bytes() == data  # left as it was


def test_demo_refuses_study_json_whose_settings_are_not_an_object(tmp_path, no_study_work, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "study.json").write_text('{"settings": "saam-gfn1"}')
    assert cli_main([*DEMO, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'study.json'}: " in err and "settings" in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    "text, says",
    [
        ("{garbage\n", "not JSON"),
        ("[1, 2]\n", "a JSON array where an object belongs"),
        ('{"frequencies": [1.0]}\n', "frequencies_cm-1 must be a list of numbers, got nothing"),
        ('{"frequencies_cm-1": ["a"]}\n', "frequencies_cm-1 must be a list of numbers, got ['a']"),
        ('{"frequencies_cm-1": 5}\n', "frequencies_cm-1 must be a list of numbers, got 5"),
    ],
    ids=["garbage", "list", "no-field", "text", "number"],
)
def test_demo_refuses_a_damaged_harmonic_json(tmp_path, no_study_work, capsys, sa1am1, text, says):
    """A study whose record says its minimum and frequencies are done: the frequencies are read
    back from harmonic.json, which is damaged."""
    out = tmp_path / "demo"
    with pytest.raises(Refused):  # writes study.json with this call's settings, then stops
        cli_main([*DEMO, "--out", str(out)])
    record = json.loads((out / "study.json").read_text())
    record.update(minimum={"energy_eV": -770.0}, harmonic={"n_frequencies": 27})
    (out / "study.json").write_text(json.dumps(record))
    write(out / "minimum.xyz", sa1am1)
    (out / "harmonic.json").write_text(text)
    assert cli_main([*DEMO, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'harmonic.json'}: " in err and says in err and "Traceback" not in err, err
