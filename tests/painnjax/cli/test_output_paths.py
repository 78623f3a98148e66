"""Output paths are checked before the work: an unwritable one is bad input (exit 2, its path named).

Tests run as root here, where permission bits do not stop writes; a path whose parent is a
regular file cannot be written by anyone. Also: ``md`` options the ensemble ignores. The checks
come before any model is read, so the model file here need not exist (nothing is computed).
"""

from __future__ import annotations

import errno

import pytest

from painnjax.cli import main
from painnjax.errors import InputError
from painnjax.io.files import check_writable


@pytest.fixture
def model_file(tmp_path):
    """A model file that is never read: every check here comes first."""
    return str(tmp_path / "never-read.painn")


@pytest.fixture
def blocker(tmp_path):
    """A regular file: nothing can be written below it."""
    path = tmp_path / "afile"
    path.write_text("not a folder\n")
    return path


def _refused(capsys, command: str, path) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"painnjax {command}: error: {path}: cannot write the "), err
    assert "afile is a file, not a folder" in err, err
    return err


def test_md_into_an_unwritable_folder_exits_2_before_the_run(model_file, blocker, capsys, monkeypatch):
    import md.workflow

    def no_run(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(md.workflow, "run_md_file", no_run)
    out = blocker / "out"
    assert main(["md", model_file, "SA1AM1", "--steps", "10", "--out", str(out), "--quiet"]) == 2
    assert "--out folder" in _refused(capsys, "md", out)
    assert blocker.read_text() == "not a folder\n"


def test_harmonic_json_is_checked_before_the_hessian(model_file, blocker, capsys, monkeypatch):
    import md.analysis.harmonic

    def no_hessian(*args, **kwargs):
        raise AssertionError("the Hessian was computed")

    monkeypatch.setattr(md.analysis.harmonic, "harmonic_file", no_hessian)
    path = blocker / "sub" / "freq.json"
    assert main(["harmonic", model_file, "SA1AM1", "--json", str(path)]) == 2
    assert "--json file" in _refused(capsys, "harmonic", path)


@pytest.mark.parametrize(
    "command, args",
    [
        ("optimize", ["M", "SA1AM1", "--out", "{bad}/min.xyz"]),
        ("evaluate", ["M", "none.xyz", "--json", "{bad}/e.json"]),
        ("evaluate", ["M", "none.xyz", "--plot", "{bad}/p.png"]),
        ("select", ["M", "M", "--pool", "none.xyz", "--n", "1", "--out", "{bad}/sel.xyz"]),
        ("train", ["--data", "none.xyz", "--out", "{bad}"]),
        ("convert-schnetpack", ["none.pt", "{bad}/m.painn"]),
        ("check", ["--out", "{bad}", "--sizes", "1"]),
        ("demo", ["--out", "{bad}"]),
        ("spectrum", ["none.traj", "--out", "{bad}"]),
        ("label", ["none.xyz", "{bad}/labelled.extxyz"]),
        ("sample", ["M", "SA1AM1", "--out", "{bad}/s.extxyz"]),
        ("learn", ["--data", "none.xyz", "--test", "none.xyz", "--out", "{bad}"]),
        ("screen", ["M", "--composition", "SA1AM1", "--n", "1", "--out", "{bad}"]),
    ],
)
def test_every_command_checks_its_outputs_first(model_file, blocker, capsys, command, args):
    bad = blocker / "out"
    argv = [command] + [model_file if a == "M" else a.replace("{bad}", str(bad)) for a in args]
    assert main(argv) == 2
    _refused(capsys, command, next(a for a in argv if str(bad) in a))


def test_check_writable_kinds(tmp_path):
    (tmp_path / "f").write_text("")
    assert check_writable(tmp_path / "new" / "deeper", "--out folder", folder=True) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # nothing is made
    check_writable(tmp_path / "f", "--json file")  # an existing file is replaced
    with pytest.raises(InputError, match=r"f: cannot write the --out folder there: it is a file, not a folder"):
        check_writable(tmp_path / "f", "--out folder", folder=True)
    with pytest.raises(InputError, match=r": cannot write the --json file there: it is a folder"):
        check_writable(tmp_path, "--json file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no temporary file left


def test_a_path_error_during_the_work_is_bad_input_not_a_traceback(model_file, tmp_path, capsys, monkeypatch):
    import md.workflow

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "run" / "thermo.csv"))

    monkeypatch.setattr(md.workflow, "run_md_file", denied)
    assert main(["md", model_file, "SA1AM1", "--steps", "10", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert f"painnjax md: error: {tmp_path / 'run' / 'thermo.csv'}: Permission denied" in capsys.readouterr().err


# ---------------------------------------------------------------- md options the ensemble ignores


def test_md_refuses_a_bad_value_of_an_option_the_ensemble_ignores(model_file, tmp_path, capsys):
    out = tmp_path / "x"
    assert (
        main(["md", model_file, "SA1AM1", "--steps", "10", "--out", str(out), "--ensemble", "nve", "--tau", "-5"]) == 2
    )
    assert "painnjax md: error: [md] tau: must be a finite number > 0 fs, got -5.0" in capsys.readouterr().err
    assert not out.exists()


def test_md_warns_about_an_option_the_ensemble_ignores(model_file, blocker, capsys):
    # the unwritable folder stops the command right after the options are read: no run needed
    argv = ["md", model_file, "SA1AM1", "--steps", "10", "--out", str(blocker / "x"), "--quiet"]
    assert main([*argv, "--ensemble", "nve", "--friction", "0.02"]) == 2
    err = capsys.readouterr().err
    assert "painnjax md: warning: [md] friction: nve ignores friction (set to 0.02; only nvt-langevin uses it)" in err
    assert main([*argv, "--ensemble", "nvt-langevin", "--tau", "50", "--chain-length", "4"]) == 2
    err = capsys.readouterr().err
    assert "painnjax md: warning: [md] tau: nvt-langevin ignores tau" in err
    assert "painnjax md: warning: [md] chain_length: nvt-langevin ignores chain_length" in err
    assert main([*argv, "--ensemble", "nve"]) == 2  # nothing given: nothing to warn about
    assert "warning" not in capsys.readouterr().err
