"""Resuming a screen (md.screening.folder, ``painnjax screen --resume``): refused when it would mix
screens, models or damaged records, and bit-identical to an uninterrupted screen when it goes on.

Issue 32, defects D2 (a screen whose ``screen.json`` is gone resumed with another model), D6 (a
damaged ``screen.json``), D8 (a bad ``candidate_index`` in ``minimised.extxyz``) and D10 (the
refinement made from minima read back with 8 decimals differed from the uninterrupted screen's).
"""

from __future__ import annotations

import json
import re
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.io import read
from lj_helpers import lj, random_lj_starts

from md.screening.folder import PARTIAL_FILE, screen_to_folder
from md.screening.report import SCREEN_FILE
from painnjax import PaiNNConfig
from painnjax.cli import main as cli_main
from painnjax.errors import InputError
from painnjax.io.modelfile import save_model
from painnjax.model import Model


def _lj64(n):
    """LJ ``n`` in float64 (with ``dtype="float64"``): the screen's minima then hold every bit of
    float64, as a float64 model's do."""
    energy = lj(n)
    return lambda R, **kwargs: energy(R.astype(jnp.float64), **kwargs)


LJ7 = _lj64(7)
KW = dict(fmax=1e-3, max_steps=3000, slots=2, log=None, plot=False, description="lj7 test", dtype="float64")
REFINE = {"rounds": 2, "top": 3, "moves": 2, "shift": 2.0}  # makes fewer than the 2 x 3 x 2 it could


def _frames_text(path) -> list[str]:
    """The frames of an extxyz file, each as its text."""
    lines = path.read_text().splitlines(keepends=True)
    frames, i = [], 0
    while i < len(lines):
        n = int(lines[i])
        frames.append("".join(lines[i : i + n + 2]))
        i += n + 2
    return frames


def _killed_copy(src, dst, k: int, *, cut: bool = True):
    """What a screen killed after ``k`` structures leaves: their frames in minimised.extxyz (and a
    frame cut short after them), ``screen.json`` as written at the start, no outputs."""
    dst.mkdir()
    frames = _frames_text(src / PARTIAL_FILE)
    text = "".join(frames[:k]) + (frames[k][: len(frames[k]) // 2] if cut else "")
    (dst / PARTIAL_FILE).write_text(text)
    settings = json.loads((src / SCREEN_FILE).read_text())["settings"]
    (dst / SCREEN_FILE).write_text(json.dumps({"settings": settings, "finished": False}))


def _screen_json(path) -> dict:
    record = json.loads(path.read_text())
    for key in ("seconds", "compile_seconds", "structures_per_second", "resumed_from"):
        record.pop(key)
    return record


@pytest.fixture(scope="module")
def lj_screen(tmp_path_factory):
    """An uninterrupted LJ7 screen with two rounds of refinement: (folder, result, starts)."""
    starts = random_lj_starts(4)
    out = tmp_path_factory.mktemp("full") / "s"
    res = screen_to_folder(LJ7, starts, out, keep=5, refine=REFINE, **KW)
    assert len(res.energies) > 4 + 4  # both rounds made candidates
    return out, res, starts


# D10 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 6], ids=["killed-in-candidates", "killed-in-refinement"])
def test_resumed_screen_is_bit_identical_to_an_uninterrupted_one(lj_screen, tmp_path, k):
    """Killed after ``k`` structures (a frame cut short after them) and resumed: every energy and
    position, ``summary.csv``, ``best.extxyz`` and ``screen.json`` (but its timings and
    ``resumed_from``) are those of the uninterrupted screen, to the bit."""
    full, ref, starts = lj_screen
    _killed_copy(full, tmp_path / "s", k)
    res = screen_to_folder(LJ7, starts, tmp_path / "s", keep=5, refine=REFINE, resume=True, **KW)
    assert res.resumed == k
    np.testing.assert_array_equal(res.energies, ref.energies)
    for a, b in zip(res.structures, ref.structures, strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)
    for name in ("summary.csv", "best.extxyz", "unconverged.extxyz"):
        assert (tmp_path / "s" / name).read_bytes() == (full / name).read_bytes(), name
    assert _screen_json(tmp_path / "s" / SCREEN_FILE) == _screen_json(full / SCREEN_FILE)
    assert json.loads((tmp_path / "s" / SCREEN_FILE).read_text())["resumed_from"] == k
    # minimised.extxyz holds each structure once, at full precision: as the uninterrupted screen's (in the
    # order they finished, which for a batch begun again after the kill may be another)
    assert sorted(_frames_text(tmp_path / "s" / PARTIAL_FILE)) == sorted(_frames_text(full / PARTIAL_FILE))


def test_minimised_extxyz_keeps_positions_to_the_last_bit(lj_screen):
    full, ref, _ = lj_screen
    frames = read(full / PARTIAL_FILE, ":")
    for atoms in frames:
        k = atoms.info["candidate_index"]
        np.testing.assert_array_equal(atoms.positions, ref.structures[k].positions)
        assert atoms.get_potential_energy() == ref.energies[k]


# D8 ----------------------------------------------------------------------------------------------


def _edit_index(path, frame: int, value: str | None):
    """Set (or with None remove) the candidate_index of frame ``frame`` of ``path``."""
    frames = _frames_text(path)
    head, comment, rest = frames[frame].split("\n", 2)
    comment = re.sub(r" candidate_index=\S+", "" if value is None else f" candidate_index={value}", comment)
    frames[frame] = "\n".join([head, comment, rest])
    path.write_text("".join(frames))


@pytest.mark.parametrize(
    "frame, value, message",
    [
        (
            0,
            "999",
            r"frame 0: candidate_index 999 is out of range: the screen has 4 candidates \(0-3\) and no refinement",
        ),
        (0, "-1", r"frame 0: candidate_index -1 is out of range"),
        (0, "1.5", r"frame 0: candidate_index 1.5 is not an integer"),
        (0, "abc", r"frame 0: candidate_index 'abc' is not an integer"),
        (0, "T", r"frame 0: candidate_index True is not an integer"),
        (0, None, r"frame 0: no candidate_index"),
        (1, "0", r"frames 0 and 1 both hold candidate 0"),
    ],
    ids=["out-of-range", "negative", "not-integer", "text", "bool", "missing", "duplicate"],
)
def test_bad_candidate_index_is_refused(tmp_path, frame, value, message):
    """A frame of minimised.extxyz whose candidate_index is not one of a candidate still to be
    minimised is refused naming the file, the frame and the field; nothing is minimised again."""
    starts = random_lj_starts(4)
    screen_to_folder(LJ7, starts, tmp_path / "s", keep=5, **KW)
    _edit_index(tmp_path / "s" / PARTIAL_FILE, frame, value)
    with pytest.raises(InputError, match=f"{PARTIAL_FILE}: {message}"):
        screen_to_folder(LJ7, starts, tmp_path / "s", keep=5, resume=True, **KW)


def test_frame_of_other_atoms_is_refused(tmp_path):
    starts = random_lj_starts(3) + [Atoms("Ar6", positions=random_lj_starts(1, n_atoms=6)[0].positions)]
    screen_to_folder(LJ7, starts[:3], tmp_path / "s", keep=5, **KW)
    # the same description, another candidate 2: a 6-atom cluster
    swapped = [starts[0], starts[1], starts[3]]
    with pytest.raises(InputError, match=rf"{PARTIAL_FILE}: frame 2: candidate_index 2 holds Ar7, candidate 2 is Ar6"):
        screen_to_folder(LJ7, swapped, tmp_path / "s", keep=5, resume=True, **KW)


def test_refinement_frames_the_screen_cannot_have_made_are_refused(lj_screen, tmp_path):
    full, ref, starts = lj_screen
    # a refinement candidate without every given candidate: the refinement starts after them all
    shutil.copytree(full, tmp_path / "a")
    frames = _frames_text(tmp_path / "a" / PARTIAL_FILE)
    (tmp_path / "a" / PARTIAL_FILE).write_text("".join(frames[1:]))
    with pytest.raises(InputError, match=r"candidate_index 4 is a refinement candidate, but candidate 0 is not"):
        screen_to_folder(LJ7, starts, tmp_path / "a", keep=5, refine=REFINE, resume=True, **KW)
    # a refinement candidate beyond what the rounds can make
    shutil.copytree(full, tmp_path / "b")
    _edit_index(tmp_path / "b" / PARTIAL_FILE, len(ref.energies) - 1, "100")
    with pytest.raises(InputError, match=r"candidate_index 100 is out of range: the screen has 4 candidates"):
        screen_to_folder(LJ7, starts, tmp_path / "b", keep=5, refine=REFINE, resume=True, **KW)
    # in range, but not a candidate the refinement made (it made fewer than it could)
    shutil.copytree(full, tmp_path / "c")
    last = len(ref.energies) - 1
    assert last < 4 + 2 * 3 * 2 - 1
    _edit_index(tmp_path / "c" / PARTIAL_FILE, last, str(4 + 2 * 3 * 2 - 1))
    with pytest.raises(InputError, match=rf"frame {last}: candidate_index 15 is not a candidate this screen made"):
        screen_to_folder(LJ7, starts, tmp_path / "c", keep=5, refine=REFINE, resume=True, **KW)


# D6 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, why",
    [("{garbage\n", "not JSON"), ("[1, 2]\n", "not a screen record"), ('{"settings": 3}\n', "not a screen record")],
    ids=["garbage", "list", "settings-not-a-dict"],
)
def test_damaged_screen_json_is_refused(tmp_path, text, why):
    starts = random_lj_starts(2)
    screen_to_folder(LJ7, starts, tmp_path / "s", keep=5, **KW)
    (tmp_path / "s" / SCREEN_FILE).write_text(text)
    with pytest.raises(InputError, match=rf"{SCREEN_FILE}: {why}"):
        screen_to_folder(LJ7, starts, tmp_path / "s", keep=5, resume=True, **KW)


def test_cli_damaged_screen_json_exits_2(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    (out / SCREEN_FILE).write_text("{garbage\n")
    args = ["screen", "saam-gfn1", "--composition", "SA1AM1", "--n", "2", "--out", str(out), "--resume", "--quiet"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert f"{out / SCREEN_FILE}: not JSON" in err and "Traceback" not in err


# D2 ----------------------------------------------------------------------------------------------


def _waters(n: int) -> list:
    rng = np.random.default_rng(0)
    base = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    return [Atoms("OH2", positions=base + 0.05 * rng.standard_normal((3, 3))) for _ in range(n)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cfg = PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4)
    folder = tmp_path_factory.mktemp("models")
    return [save_model(Model.init(cfg, seed=s, elements=[1, 8]), folder / f"m{s}.painn") for s in (0, 1)]


def test_resume_without_screen_json_checks_the_model_of_the_frames(models, tmp_path):
    """screen.json gone: the model identity in each frame of minimised.extxyz refuses another model."""
    waters = _waters(3)
    kw = dict(fmax=0.05, max_steps=5, log=None, plot=False, description="waters")
    screen_to_folder(models[0], waters, tmp_path / "s", **kw)
    shutil.copytree(tmp_path / "s", tmp_path / "t")
    (tmp_path / "s" / SCREEN_FILE).unlink()
    with pytest.raises(InputError, match=rf"{PARTIAL_FILE}: frame 0 was minimised with another model"):
        screen_to_folder(models[1], waters, tmp_path / "s", resume=True, **kw)
    with pytest.raises(InputError, match=rf"{PARTIAL_FILE}: frame 0 was minimised with other screen settings"):
        screen_to_folder(models[0], waters, tmp_path / "s", resume=True, **{**kw, "fmax": 0.1})
    res = screen_to_folder(models[0], waters, tmp_path / "s", resume=True, **kw)  # the same model: goes on
    assert res.resumed == 3
    # with screen.json, the frames are checked too (a minimised.extxyz from another screen)
    shutil.copy(tmp_path / "s" / PARTIAL_FILE, tmp_path / "u.extxyz")
    screen_to_folder(models[1], waters, tmp_path / "v", **kw)
    shutil.copy(tmp_path / "u.extxyz", tmp_path / "v" / PARTIAL_FILE)
    with pytest.raises(InputError, match=rf"{PARTIAL_FILE}: frame 0 was minimised with another model"):
        screen_to_folder(models[1], waters, tmp_path / "v", resume=True, **kw)


def test_resume_of_frames_without_a_model_and_no_screen_json_is_refused(models, tmp_path):
    """Frames written before the model was recorded in them, and no screen.json: nothing says which
    model made them, so the resume is refused rather than mixing potentials unseen."""
    waters = _waters(2)
    kw = dict(fmax=0.05, max_steps=5, log=None, plot=False, description="waters")
    screen_to_folder(models[0], waters, tmp_path / "s", **kw)
    path = tmp_path / "s" / PARTIAL_FILE
    path.write_text(re.sub(r" (model_id|screen_id)=\S+", "", path.read_text()))
    (tmp_path / "s" / SCREEN_FILE).unlink()
    with pytest.raises(InputError, match=rf"{PARTIAL_FILE}: its structures do not record their model"):
        screen_to_folder(models[0], waters, tmp_path / "s", resume=True, **kw)


def test_cli_resume_with_another_model_after_screen_json_is_gone_exits_2(models, tmp_path, capsys):
    args = ["--composition", "SA1AM1", "--n", "1", "--steps", "3", "--refine-rounds", "0", "--quiet"]
    out = str(tmp_path / "s")
    assert cli_main(["screen", "saam-gfn1", *args, "--out", out]) in (0, 1)  # 1: none converged in 3 steps
    (tmp_path / "s" / SCREEN_FILE).unlink()
    other = tmp_path / "other.painn"
    save_model(Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1, 7, 8, 16]), other)
    assert cli_main(["screen", str(other), *args, "--out", out, "--resume"]) == 2
    assert "minimised with another model" in capsys.readouterr().err


def test_a_resumed_screen_stops_at_the_round_the_uninterrupted_one_stopped(tmp_path):
    """The stop rule reads only the minima: killed in the refinement and resumed, a screen stops after the
    same round, with the same candidates and outputs."""
    starts = random_lj_starts(1)
    refine = {"rounds": 8, "top": 2, "moves": 3, "patience": 2}
    ref = screen_to_folder(LJ7, starts, tmp_path / "full", keep=5, refine=refine, **KW)
    assert ref.search["stopped"] == "patience" and 2 < ref.search["rounds"] < 8
    for k in (2, len(ref.energies) - 1):  # in the first round, in the last
        _killed_copy(tmp_path / "full", tmp_path / f"s{k}", k)
        res = screen_to_folder(LJ7, starts, tmp_path / f"s{k}", keep=5, refine=refine, resume=True, **KW)
        assert res.resumed == k and res.search == ref.search and res.found == ref.found
        for name in ("summary.csv", "best.extxyz"):
            assert (tmp_path / f"s{k}" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
        assert _screen_json(tmp_path / f"s{k}" / SCREEN_FILE) == _screen_json(tmp_path / "full" / SCREEN_FILE)
    # the energy window decides when it stops (and which minima are refined): a resume with another is refused
    with pytest.raises(InputError, match="holds a screen with other settings"):
        screen_to_folder(LJ7, starts, tmp_path / "full", keep=5, refine=refine, resume=True, energy_window=0.2, **KW)
