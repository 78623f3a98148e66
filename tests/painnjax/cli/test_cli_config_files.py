"""``painnjax md|screen --config FILE`` and ``painnjax template``: the file's values, options beating
them, clear errors for a bad file, the run folder's ``config.toml``, and templates that read back as
the defaults."""

from __future__ import annotations

import json

import pytest

from md.dynamics.config import MDConfig
from md.screening.candidates import parse_composition
from md.screening.config import FILE_SECTIONS as SCREEN_SECTIONS
from md.screening.config import RefineConfig, ScreenConfig
from painnjax import save_model
from painnjax.cli import build_parser, dynamics, main, screening
from painnjax.cli.common import write_resolved_config
from painnjax.errors import InputError
from painnjax.training.workflow import RunConfig, read_run_config


def _md_config(*argv):
    return dynamics._md_config(build_parser().parse_args(["md", "M", "SA1AM1", "--out", "o", *argv]))


def _screen_config(*argv):
    return screening._config(build_parser().parse_args(["screen", "M", "--composition", "SA1AM1", "--out", "o", *argv]))


@pytest.fixture(scope="module")
def model_file(small_model, tmp_path_factory):
    return str(save_model(small_model, tmp_path_factory.mktemp("m") / "small.painn"))


@pytest.mark.parametrize("command", ["md", "screen", "train", "learn"])
def test_template_reads_back_as_the_defaults(command, tmp_path, capsys):
    path = tmp_path / f"{command}.toml"
    assert main(["template", command, "--out", str(path)]) == 0
    text = path.read_text()
    assert text.startswith("# ") and f"painnjax {command}" in text
    if command == "md":  # the same config as no file at all
        assert _md_config("--config", str(path)) == _md_config("--steps", "1000") == MDConfig()
        assert "\ndt = 0.5\n" in text and "\n# replicas = 1\n" in text  # replicas: the command line's default
    elif command == "screen":
        assert _screen_config("--config", str(path)) == _screen_config() == ScreenConfig(refine=RefineConfig())
        assert "\n[refine]\n" in text and "seed" not in text.split("[refine]")[1]  # the refinement's seed: --seed
    else:
        assert read_run_config(path) == RunConfig()
    assert main(["template", command, "--out", str(path)]) == 2  # never overwrites
    assert f"{path} exists" in capsys.readouterr().err
    assert main(["template", command]) == 0
    assert capsys.readouterr().out == text  # without --out: printed


def test_md_options_beat_the_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[md]\nensemble = "nvt-langevin"\ntemperature = [250, 350]\ndt = 1.0\nsteps = 40\nlog_every = 5\n')
    cfg = _md_config("--config", str(path))
    assert (cfg.ensemble, cfg.temperature, cfg.dt, cfg.steps, cfg.log_every) == (
        "nvt-langevin",
        (250.0, 350.0),
        1.0,
        40,
        5,
    )
    assert cfg.replicas == 2  # one per temperature of the file
    cfg = _md_config("--config", str(path), "--dt", "0.25", "--T", "300", "--steps", "20")
    assert (cfg.dt, cfg.temperature, cfg.steps, cfg.log_every, cfg.replicas) == (0.25, 300.0, 20, 5, 1)
    yaml = tmp_path / "run.yaml"
    yaml.write_text("md:\n  dt: 2.0\n  steps: 10\n")
    assert (_md_config("--config", str(yaml)).dt, _md_config("--config", str(yaml)).steps) == (2.0, 10)
    with pytest.raises(InputError, match="--steps is required"):
        _md_config()


def test_screen_options_beat_the_file(tmp_path):
    path = tmp_path / "screen.toml"
    path.write_text("[screen]\nfmax = 0.05\nkeep = 5\n\n[refine]\nrounds = 2\nangle = 30.0\n")
    cfg = _screen_config("--config", str(path), "--seed", "7")
    assert (cfg.fmax, cfg.keep, cfg.max_steps) == (0.05, 5, ScreenConfig().max_steps)
    assert cfg.refine == RefineConfig(rounds=2, angle=30.0, seed=7)
    cfg = _screen_config("--config", str(path), "--fmax", "0.02", "--refine-rounds", "0")
    assert (cfg.fmax, cfg.keep, cfg.refine) == (0.02, 5, None)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[md]\nfoo = 1\n", "[md] has unknown key(s) foo"),
        ("[md]\nsteps = 10\n[mdd]\ndt = 1\n", "unknown section(s) ['mdd']"),
        ('[md]\nsteps = "ten"\n', "[md] steps: must be an integer >= 0, got 'ten'"),
        ("[md]\nsteps = 10\ndt = -1.0\n", "[md] dt: must be a finite number > 0 fs"),
        ("[md]\nsteps = 10\nensemble = 3\n", "[md] ensemble: must be one of nvt-nh, nve, nvt-langevin, got 3"),
        ("[md\n", "cannot parse the config"),
    ],
)
def test_md_bad_file_is_exit_2_naming_the_file_section_and_key(tmp_path, capsys, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    assert main(["md", "saam-gfn1", "SA1AM1", "--out", str(tmp_path / "o"), "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"painnjax md: error: {path}: ") and message in err
    assert not (tmp_path / "o").exists()


def test_a_bad_option_is_named_by_the_option_not_the_file(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text("[screen]\ntolerance = 0.05\n")
    with pytest.raises(InputError) as exc:
        _screen_config("--config", str(path), "--tolerance", "-1")
    assert str(exc.value).startswith("--tolerance: must be a finite number > 0")
    path.write_text("[screen]\ntolerance = -1\n[refine]\nseed = 3\n")
    with pytest.raises(InputError, match=r"\[refine\] has unknown key\(s\) seed"):  # the seed is --seed
        _screen_config("--config", str(path))
    path.write_text("[screen]\ntolerance = -1\n")
    with pytest.raises(InputError, match=rf"^{path}: \[screen\] tolerance: must be a finite number > 0"):
        _screen_config("--config", str(path))
    path.write_text("[md]\nsteps = 10\ndt = 0.5\n")
    with pytest.raises(InputError, match=r"^\[md\] dt: must be a finite number > 0 fs"):  # from the option
        _md_config("--config", str(path), "--dt", "-1")


@pytest.mark.slow
def test_md_run_folder_records_its_config(model_file, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[md]\nensemble = "nvt-langevin"\nsteps = 20\nlog_every = 10\nfragment_distance = 0.0\n')
    out = tmp_path / "run"
    argv = ["md", model_file, "SA1AM1", "--out", str(out), "--config", str(path), "--dt", "0.25", "--quiet"]
    assert main([*argv, "--max-temperature", "1e6", "--traj-every", "10", "--checkpoint-every", "20"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    recorded = _md_config("--config", str(out / "config.toml"))
    assert recorded == MDConfig.from_dict(summary["config"])  # the run's own record, in --config's form
    assert (recorded.ensemble, recorded.dt, recorded.steps, recorded.max_temperature) == ("nvt-langevin", 0.25, 20, 1e6)


def test_compositions_read_as_names_or_formulas():
    """One parser: names (``SA2AM2``, any case and separators) and chemical formulas (Hill's ``H10N2O8S2``)
    give the same counts; a formula that is not whole molecules is refused by name."""
    assert parse_composition("H10N2O8S2") == parse_composition("SA2AM2") == {"SA": 2, "AM": 2}
    assert parse_composition("H6O6S") == parse_composition("sa1-w2") == {"SA": 1, "W": 2}
    assert parse_composition("W2") == {"W": 2}  # a name first: not tungsten
    assert parse_composition("SA1AM0W3") == {"SA": 1, "W": 3}  # the data's names, zeros written, still read
    with pytest.raises(InputError, match="'H2O2' is not whole molecules"):
        parse_composition("H2O2")


def test_screen_record_reads_back(tmp_path):
    """What ``painnjax screen`` writes to ``OUT/config.toml`` (:func:`write_resolved_config`) is read by
    ``--config`` as the same settings, also with no refinement (``rounds = 0``) and unset keys."""
    cfg = ScreenConfig(fmax=0.5, keep=3, slots=4, max_steps=3, refine=RefineConfig(rounds=2, shift=0.25, seed=5))
    write_resolved_config(tmp_path, "screen", {"screen": cfg, "refine": cfg.refine}, SCREEN_SECTIONS)
    assert _screen_config("--config", str(tmp_path / "config.toml"), "--seed", "5") == cfg
    none = ScreenConfig(refine=None)
    write_resolved_config(tmp_path, "screen", {"screen": none, "refine": RefineConfig(rounds=0)}, SCREEN_SECTIONS)
    assert _screen_config("--config", str(tmp_path / "config.toml")) == none
