"""A screen checks every input and option before any structure is minimised (issue 32: D1, D3, D5, D9).

Each test makes minimisation (and, where it matters, the building of candidates) fail the test
outright: a bad input must be refused before any of that work starts, not after hours of it.
The new names are imported inside the tests, so that the command-line tests also run against
the code before the checks (where they fail).
"""

from __future__ import annotations

import math
import re
import time
import warnings

import numpy as np
import pytest
from ase import Atoms
from conftest import perturbed_model
from lj_helpers import lj, random_lj_starts

from painnjax.cli import main as cli_main
from painnjax.errors import InputError

WORK = "a structure was minimised (or candidates built) before the inputs were checked"


def _refuse_work(*args, **kwargs):
    raise AssertionError(WORK)


@pytest.fixture
def no_minimisation(monkeypatch):
    """Any call of the batched minimiser fails the test."""
    monkeypatch.setattr("md.optimize.batch.minimize_batch", _refuse_work)
    monkeypatch.setattr("md.screening.screen.minimize_batch", _refuse_work, raising=False)


def _screen_cli(tmp_path, *flags) -> list[str]:
    return ["screen", "saam-gfn1", *flags, "--out", str(tmp_path / "out"), "--quiet"]


# ---------------------------------------------------------------- D1: models and committee


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_missing_or_damaged_committee_model_is_refused_before_any_work(tmp_path, capsys, no_minimisation, damage):
    from painnjax.io.modelfile import resolve_model_path

    path = tmp_path / "committee.painn"
    if damage == "damaged":
        data = bytearray(resolve_model_path("saam-gfn1").read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    flags = ["--composition", "SA1AM1", "--n", "2", "--refine-rounds", "0", "--committee", str(path)]
    assert cli_main(_screen_cli(tmp_path, *flags)) == 2
    err = capsys.readouterr().err
    assert str(path) in err and ("no such model file" in err if damage == "missing" else "damaged" in err), err
    assert not (tmp_path / "out").exists()


def test_a_committee_model_that_lacks_an_element_is_refused_before_any_work(small_model, sa1am1, no_minimisation):
    from md.screening.screen import screen

    no_sulfur = perturbed_model(elements=[1, 7, 8])  # the committee's spread would fail on S, at the end
    with pytest.raises(InputError, match=r"committee model 1: .*element S \(Z=16\) is not known"):
        screen(small_model, [sa1am1.copy()], committee=[no_sulfur])


def test_an_element_of_a_later_group_is_refused_before_the_first_group_is_minimised(
    small_model, sa1am1, no_minimisation
):
    from md.screening.screen import screen

    methane = Atoms("CH4", positions=[[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63],
                                      [0.63, -0.63, -0.63]])  # fmt: skip
    with pytest.raises(InputError, match=r"candidate 1: atom 0: element C \(Z=6\) is not known"):
        screen(small_model, [sa1am1.copy(), methane])


def test_screen_to_folder_refuses_before_it_touches_the_folder(small_model, sa1am1, tmp_path, no_minimisation):
    from md.screening.folder import screen_to_folder

    methane = Atoms("CH4", positions=[[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63],
                                      [0.63, -0.63, -0.63]])  # fmt: skip
    with pytest.raises(InputError, match=r"candidate 1: atom 0: element C \(Z=6\) is not known"):
        screen_to_folder(small_model, [sa1am1.copy(), methane], tmp_path / "s", log=None)
    assert not (tmp_path / "s").exists()


def test_check_screen_is_the_one_check_and_returns_the_resolved_model(small_model, sa1am1):
    from md.screening.checks import check_screen
    from md.screening.config import ScreenConfig
    from painnjax.io.resolved import ResolvedModel

    model = check_screen(small_model, [sa1am1], ScreenConfig(), committee=[small_model])
    assert isinstance(model, ResolvedModel) and len(model.committee) == 1
    assert check_screen(model, [sa1am1], ScreenConfig()) is model  # resolved once, passed on
    with pytest.raises(InputError, match="no candidates"):
        check_screen(small_model, [], ScreenConfig())
    with pytest.raises(InputError, match="ScreenConfig"):
        check_screen(small_model, [sa1am1], {"fmax": 0.1})


# ---------------------------------------------------------------- D3: how many candidates


def test_a_huge_n_is_refused_with_the_estimate_before_candidates_are_built(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("md.screening.protonation.state_candidates", _refuse_work)
    monkeypatch.setattr("md.screening.candidates.random_candidates", _refuse_work)
    t0 = time.perf_counter()
    assert cli_main(_screen_cli(tmp_path, "--composition", "SA1AM1", "--n", "100000000")) == 2
    assert time.perf_counter() - t0 < 60
    err = capsys.readouterr().err
    assert re.search(r"a screen of 100000000 candidates of 11 atoms needs about [\d.]+ [TP]iB", err), err
    assert "available (" in err and "at most about" in err, err
    assert not (tmp_path / "out").exists()


def test_the_screen_memory_estimate_refuses_above_the_memory_available_and_warns_above_half():
    from md.screening.checks import ScreenMemoryWarning, check_screen_memory, screen_memory_estimate
    from md.screening.config import ScreenConfig

    cfg = ScreenConfig()
    one = screen_memory_estimate(1, 11, cfg)
    assert screen_memory_estimate(1000, 11, cfg) == 1000 * one
    assert screen_memory_estimate(1, 44, cfg) > one
    refined = ScreenConfig(refine={"rounds": 3, "top": 4, "moves": 4})
    assert screen_memory_estimate(1000, 11, refined) == (1000 + 3 * 4 * 4) * one
    # the candidate, its minimum, the minimiser's copies and the fingerprint: kilobytes each
    assert 8 * 1024 < one < 64 * 1024
    need = screen_memory_estimate(1000, 11, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScreenMemoryWarning)
        assert check_screen_memory(1000, 11, cfg, available=(3 * need, "test")) == need
        assert check_screen_memory(1000, 11, cfg, available=(None, "")) == need  # unknown: no check
    with pytest.warns(ScreenMemoryWarning, match=r"more than half of the [\d.]+ MiB available \(test\)"):
        check_screen_memory(1000, 11, cfg, available=(need + need // 2, "test"))
    with pytest.raises(InputError, match=r"available \(test\); screen at most about 666 candidates at once"):
        check_screen_memory(1000, 11, cfg, available=(need * 2 // 3, "test"))


def test_screen_refuses_more_candidates_than_fit_before_any_work(no_minimisation):
    from md.screening.checks import check_screen, screen_memory_estimate
    from md.screening.config import ScreenConfig

    starts = random_lj_starts(4)
    need = screen_memory_estimate(4, 7, ScreenConfig())
    with pytest.raises(InputError, match="a screen of 4 candidates of 7 atoms needs about"):
        check_screen(lj(7), starts, ScreenConfig(), available=(need // 2, "test"))


# ---------------------------------------------------------------- D5: numeric options


@pytest.mark.parametrize(
    "field, value",
    [
        ("energy_window", -1.0),
        ("energy_window", math.nan),
        ("energy_window", math.inf),
        ("energy_window", 0.0),
        ("tolerance", -1.0),
        ("tolerance", math.nan),
        ("tolerance", 0.0),
        ("fmax", 0.0),
        ("fmax", -0.01),
        ("fmax", math.nan),
        ("max_steps", 0),
        ("max_steps", 1.5),
        ("max_steps", True),
        ("slots", 0),
        ("keep", 0),
        ("optimizer", "bfgs"),
        ("dtype", "float16"),
    ],
)
def test_screen_config_refuses_a_bad_value(field, value):
    from md.screening.config import ScreenConfig

    with pytest.raises(InputError, match=rf"^\[screen\] {field}: "):
        ScreenConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value",
    [("rounds", -1), ("top", 0), ("moves", 0), ("seed", -1), ("angle", math.nan), ("angle", -5.0), ("shift", -0.1),
     ("shift", math.inf)],
)  # fmt: skip
def test_refine_config_refuses_a_bad_value(field, value):
    from md.screening.config import RefineConfig, ScreenConfig

    with pytest.raises(InputError, match=rf"^\[refine\] {field}: "):
        RefineConfig(**{field: value})
    with pytest.raises(InputError, match=rf"^\[refine\] {field}: "):
        ScreenConfig(refine={field: value})


def test_the_library_refuses_a_nan_tolerance_before_any_work(no_minimisation):
    from md.screening.screen import screen

    with pytest.raises(InputError, match=r"\[screen\] tolerance: "):
        screen(lj(7), random_lj_starts(2), tolerance=math.nan)


def test_cli_negative_energy_window_and_tolerance_are_refused_before_any_work(tmp_path, capsys, no_minimisation):
    flags = ["--composition", "SA1AM1", "--n", "2", "--refine-rounds", "0"]
    flags += ["--energy-window", "-1", "--tolerance", "-1"]
    assert cli_main(_screen_cli(tmp_path, *flags)) == 2
    assert "--energy-window: must be a finite number > 0 kcal/mol, got -1.0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- D9: --rank-by G


@pytest.mark.parametrize("symbol", ["O", "H"])
def test_cli_rank_by_g_of_a_single_atom_is_refused_before_any_work(tmp_path, capsys, no_minimisation, symbol):
    path = tmp_path / "atom.xyz"
    path.write_text(f"1\n\n{symbol} 0.0 0.0 0.0\n")
    flags = ["--candidates", str(path), "--refine-rounds", "0", "--rank-by", "G"]
    assert cli_main(_screen_cli(tmp_path, *flags)) == 2
    err = capsys.readouterr().err
    assert "--rank-by G: atom.xyz:0: " in err and "N >= 2" in err, err
    assert not (tmp_path / "out").exists()


def test_check_rank_by_g_reuses_what_thermochemistry_checks(sa1am1):
    from md.analysis.ranking import check_rank_by_g

    check_rank_by_g([sa1am1, sa1am1.copy()], [298.15])
    with pytest.raises(InputError, match=r"N >= 2"):
        check_rank_by_g([sa1am1, Atoms("O")], [298.15])
    with pytest.raises(InputError, match="temperature"):
        check_rank_by_g([sa1am1], [-5.0])
    with pytest.raises(InputError, match="quasi-harmonic cutoff"):
        check_rank_by_g([sa1am1], [298.15], qh_cutoff=np.nan)
    co = Atoms("CO", positions=[[0, 0, 0], [0, 0, 1.13]])
    check_rank_by_g([co], [298.15])  # binding only where every structure is made of SA, AM and W
    with pytest.raises(InputError, match="cannot be split into whole molecules"):
        check_rank_by_g([co], [298.15], with_binding=True)
    periodic = sa1am1.copy()
    periodic.pbc, periodic.cell = True, [20.0, 20.0, 20.0]
    with pytest.raises(InputError, match="periodic"):
        check_rank_by_g([periodic], [298.15])
