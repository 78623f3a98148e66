"""Regression tests of issue 32 item 2 (benchmarks/audit/issue32_new_routes.sh): the new routes' bad
input is named (exit 2, no traceback), nothing is lost, a dead worker or a peer that does not speak
i-PI is one line. Each test fails on the code before the fix of its audit row."""

from __future__ import annotations

import os
import socket
import struct
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write

from painnjax.active.calculators import ASELabeller, Labeller, PySCFLabeller, parse_calculator
from painnjax.active.label import WORKER_DIED, label_file
from painnjax.cli import main
from painnjax.config import read_sections
from painnjax.errors import InputError
from painnjax.interfaces.ipi import Address, ServerGone, serve

WATER = Atoms("OH2", positions=[[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])


# --------------------------------------------------------------------------------------------
# label --calculator


@dataclass(frozen=True)
class DyingLabeller(Labeller):
    """Energy = sum of x; the worker computing frame ``die_at`` exits (once: a marker file) as a
    killed worker process does."""

    marker: str = ""
    die_at: float = 1.0

    @property
    def level(self) -> str:
        return "dying test labeller"

    def __call__(self, atoms, charge, uhf: int):
        if abs(atoms.positions[0, 0] - self.die_at) < 1e-9 and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(9)
        return float(atoms.positions[:, 0].sum()), np.zeros((len(atoms), 3))


@pytest.mark.slow
def test_a_killed_worker_fails_its_frames_and_a_retry_completes_them(tmp_path):
    """L6: before, the dead worker's BrokenProcessPool ended `label --workers 2` with a traceback."""
    frames = []
    for i in range(5):
        a = WATER.copy()
        a.positions[0, 0] = float(i)
        frames.append(a)
    inp, out = tmp_path / "in.extxyz", tmp_path / "out.extxyz"
    write(inp, frames)
    lab = DyingLabeller(marker=str(tmp_path / "died"), die_at=1.0)
    report = label_file(inp, out, calculator=lab, workers=2, progress=False)
    assert (tmp_path / "died").exists() and report.failed >= 1
    assert report.labelled + report.failed == 5  # every frame is in one of the two files
    reasons = [a.info["label_error"] for a in read(report.failed_path, ":")]
    assert all(r == WORKER_DIED for r in reasons)
    again = label_file(inp, out, calculator=lab, retry_failed=True, progress=False)  # in process: no kill
    assert again.complete
    got = {a.info["label_index"]: a.get_potential_energy() for a in read(out, ":")}
    assert got == pytest.approx({i: f.positions[:, 0].sum() for i, f in enumerate(frames)}, abs=1e-9)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("pyscf:", "give the method and the basis"),
        ("pyscf:basis=sto-3g", "give the method"),
        ("pyscf:hf/sto-3g,grids=abc", "grids must be a grid level 0 to 9"),
        ("pyscf:hf/sto-3g,grids=42", "grids must be a grid level 0 to 9"),
        ("pyscf:hf/sto-3g,forces=maybe", "forces must be true or false"),
        ("pyscf:hf/sto-3g,level=3", "level must be a text"),
        ("ase:ase.calculators.emt.EMT,forces=maybe", "forces must be true or false"),
        ("ase:ase.calculators.emt.EMT,scratch=/nonexistent/painnjax-dir", "is not an existing folder"),
    ],
)
def test_bad_calculator_specs_are_refused(spec, message):
    """L3: before, these labelled with a silent default (hf/sto-3g) or ignored the value."""
    with pytest.raises(InputError, match=message):
        parse_calculator(spec)


def test_a_missing_program_is_refused_before_any_frame(tmp_path, capsys):
    """L2: before, every frame failed alike (exit 1), each leaving a scratch folder."""
    inp, out = tmp_path / "in.extxyz", tmp_path / "o.extxyz"
    write(inp, [WATER, WATER])
    for spec in (
        "ase:ase.calculators.orca.ORCA,orcasimpleinput='HF STO-3G EnGrad',command=/nonexistent/orca",
        "ase:ase.calculators.gaussian.Gaussian,method=hf,basis=sto-3g,command='no-such-g16 < PREFIX.com > PREFIX.log'",
    ):
        lab = parse_calculator(spec, trust=False)
        assert isinstance(lab, ASELabeller)
        assert main(["label", str(inp), str(out), "--calculator", spec, "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is not" in err[0] and ("orca" in err[0] or "no-such-g16" in err[0])
        assert not out.exists() and not out.with_suffix(".failed.extxyz").exists()
    # a program that exists passes the check (the shell on PATH)
    parse_calculator("ase:ase.calculators.orca.ORCA,orcasimpleinput='x',command=sh").check_program()


def test_a_missing_auxiliary_basis_is_refused_before_any_frame(tmp_path):
    """L3 density_fit=nobasis: before, each frame failed in PySCF."""
    pytest.importorskip("pyscf")
    from painnjax.active.label import read_inputs

    inp = tmp_path / "in.extxyz"
    write(inp, WATER)
    with pytest.raises(InputError, match="auxiliary basis .*'nobasis' has no functions for"):
        PySCFLabeller("hf", "sto-3g", density_fit="nobasis").check_frames(read_inputs([inp]))
    PySCFLabeller("hf", "sto-3g", density_fit="def2-universal-jkfit").check_frames(read_inputs([inp]))


# --------------------------------------------------------------------------------------------
# convert-jkqc


def test_convert_jkqc_never_overwrites(tmp_path, capsys):
    """J output exists: before, the file was replaced."""
    pd = pytest.importorskip("pandas")
    db = tmp_path / "db.pkl"
    pd.DataFrame({("xyz", "structure"): [WATER], ("log", "electronic_energy"): [-76.0]}).to_pickle(db)
    out = tmp_path / "labels.extxyz"
    out.write_text("precious\n")
    assert main(["convert-jkqc", str(db), str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "precious\n"
    assert main(["convert-jkqc", str(db), str(tmp_path / "new.extxyz")]) == 0


# --------------------------------------------------------------------------------------------
# ipi


def _peer(send: bytes):
    """A UNIX-socket server at a fresh i-PI address that sends ``send`` and waits."""
    name = f"painnjax-audit-{uuid.uuid4().hex[:8]}"
    path = Address.parse(unix=name).path
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(1)
    stop = threading.Event()

    def run():
        conn, _ = srv.accept()
        try:
            conn.sendall(send)
            stop.wait(20)
        finally:
            conn.close()
            srv.close()
            os.unlink(path)

    threading.Thread(target=run, daemon=True).start()
    return name, stop


def _posdata(natoms: int, positions=None) -> bytes:
    head = b"POSDATA".ljust(12) + np.eye(3).tobytes() * 2 + struct.pack("i", natoms)
    return head + (b"" if positions is None else np.asarray(positions, np.float64).tobytes())


@pytest.fixture(scope="module")
def water_model(tmp_path_factory):
    import painnjax

    model = painnjax.Model.init(painnjax.PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1, 8])
    return painnjax.save_model(model, tmp_path_factory.mktemp("audit") / "water.painn")


@pytest.mark.parametrize(
    "send, error, message",
    [
        (b"\xff" * 64, ServerGone, "does not speak i-PI's protocol"),  # before: UnicodeDecodeError
        (_posdata(-5), ServerGone, "POSDATA of -5 atoms"),  # before: ValueError from numpy
        (_posdata(2**31 - 1), InputError, "sends 2147483647 atoms; the structure given has 3"),  # before: a 48 GB read
        (b"INIT".ljust(12) + struct.pack("ii", 0, 2**31 - 1), ServerGone, "INIT announces 2147483647 bytes"),
        (_posdata(3, [[np.nan, 0, 0], [0, 1, 0], [0, 0, 1]]), ServerGone, "non-finite positions"),  # AssertionError
    ],
    ids=["bytes-ff", "negative-natoms", "huge-natoms", "huge-init", "nan-position"],
)
@pytest.mark.filterwarnings("ignore::painnjax.data.domain.DomainWarning")
def test_a_peer_that_does_not_speak_ipi_is_one_error(water_model, send, error, message):
    name, stop = _peer(send)
    try:
        with pytest.raises(error, match=message):
            serve(water_model, WATER, Address.parse(unix=name), wait=5, timeout=5)
    finally:
        stop.set()


@pytest.mark.filterwarnings("ignore::painnjax.data.domain.DomainWarning")
def test_ipi_timeout_must_be_positive(water_model, capsys):
    """--timeout 0: before, a non-blocking socket and a BlockingIOError traceback."""
    with pytest.raises(InputError, match="timeout must be a number of seconds > 0"):
        serve(water_model, WATER, Address.parse(unix="never"), timeout=0)
    assert main(["ipi", str(water_model), "SA1AM1", "--unix", "never", "--timeout", "0"]) == 2
    assert "--timeout must be a number of seconds > 0" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# config files and templates


def test_config_file_not_text_or_section_not_a_table(tmp_path):
    """C1: before, a non-UTF-8 file was a UnicodeDecodeError traceback and `md = 0` was taken as `[md]`."""
    from md.dynamics.config import MDConfig
    from painnjax.config import Section

    sections = {"md": Section(MDConfig)}
    binary = tmp_path / "md.toml"
    binary.write_bytes(b"\xff\xfe[md]\n")
    with pytest.raises(InputError, match="md.toml: cannot be read as a text config"):
        read_sections(binary, sections)
    zero = tmp_path / "zero.toml"
    zero.write_text("md = 0\n")
    with pytest.raises(InputError, match=r"\[md\] must be a table"):
        read_sections(zero, sections)
    empty = tmp_path / "empty.yaml"
    empty.write_text("md:\n")
    assert read_sections(empty, sections) == {"md": {}}


def test_template_refuses_a_yaml_name(tmp_path, capsys):
    """C3: before, a TOML template was written to md.yaml, which --config then read as YAML and refused."""
    out = tmp_path / "md.yaml"
    assert main(["template", "md", "--out", str(out)]) == 2
    assert "a template is TOML" in capsys.readouterr().err and not out.exists()


# --------------------------------------------------------------------------------------------
# kernel model files


@pytest.mark.slow
def test_a_kernel_file_where_a_painn_model_is_expected_is_named(tmp_path, capsys):
    """K2: before, `md KERNEL_FILE` said "not a painnjax model file (unreadable: unpack(b) received extra data.)"."""
    from painnjax.io.modelfile import KERNEL_MAGIC
    from painnjax.kernels.files import MAGIC

    assert MAGIC == KERNEL_MAGIC  # one definition of the first line
    kernel = tmp_path / "krr.painn"
    kernel.write_bytes(KERNEL_MAGIC + b"\x81\xa6header\x80")
    out = tmp_path / "run"
    assert main(["md", str(kernel), "SA1AM1", "--steps", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a kernel model file (KRR or k-NN)" in err[0] and "cannot run MD" in err[0]
    assert not out.exists()


def test_knn_k_above_the_training_set_is_refused_and_leaves_no_folder(saw_small, tmp_path, capsys):
    """K3 k > n_train: before, k was quietly cut to the training set's size (rc 0). K4 a missing data
    file: before, the run folder was left behind with only its lock file."""
    pytest.importorskip("qmllib")
    config = tmp_path / "knn.toml"
    config.write_text(
        '[model]\nkind = "knn"\nk = 1000\n[data]\nenergy_key = "gfn2_energy"\nmonomers = "gfn2-monomers"\n'
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(saw_small), "--out", str(out), "--quiet"]) == 2
    assert "k = 1000 neighbours, but only" in capsys.readouterr().err and not out.exists()
    assert main(["train", "--config", str(config), "--data", str(tmp_path / "no.extxyz"), "--out", str(out)]) == 2
    assert "no.extxyz" in capsys.readouterr().err and not out.exists()
    out.mkdir()  # a folder that was there before is left
    assert main(["train", "--config", str(config), "--data", str(tmp_path / "no.extxyz"), "--out", str(out)]) == 2
    assert out.is_dir()


def test_a_folder_is_not_a_config_file(tmp_path, capsys):
    """C1/C3 with a folder: before, "no such config file" and "exists; ... does not overwrite a file"."""
    assert main(["md", "saam-gfn1", "SA1AM1", "--out", str(tmp_path / "m"), "--config", str(tmp_path)]) == 2
    assert "is a folder, not a config file" in capsys.readouterr().err
    assert main(["template", "md", "--out", str(tmp_path)]) == 2
    assert "is a folder; give --out a file name" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# screen's search: --refine-kinds, --refine-patience, --refine-rounds, SO4 states, found, resume (group S)

# small, so that a value wrongly accepted costs a short screen, not a long one
SEARCH = ["screen", "saam-gfn1", "--n", "2", "--refine-top", "1", "--refine-moves", "1", "--fmax", "0.5", "--quiet"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--refine-kinds", "nope"], "--refine-kinds: unknown move 'nope'; known: perturb, splice"),
        (["--refine-kinds", "PERTURB"], "--refine-kinds: unknown move 'PERTURB'"),
        (["--refine-kinds", "perturb,perturb"], "--refine-kinds: perturb given more than once"),
        (["--refine-kinds", ""], "--refine-kinds: has an empty entry"),
        (["--refine-kinds", " , "], "--refine-kinds: has an empty entry"),
        (["--refine-kinds", "perturb,,splice"], "--refine-kinds: has an empty entry: 'perturb,,splice'"),
        (["--refine-kinds", "perturb,"], "--refine-kinds: has an empty entry: 'perturb,'"),
        (["--refine-patience", str(10**23)], "--refine-patience: must be at most 2^63 - 1"),
        (["--refine-patience", "-1"], "--refine-patience: must be an integer >= 0, got -1"),
        (["--refine-rounds", "-1"], "--refine-rounds: must be an integer >= 0, got -1"),
        (["--composition", "SA1SO41"], "net charge -2 e"),
        (["--composition", "SO4"], "a sulfate SO4 (SO4 2-) needs two ammonium AH (NH4+) beside it"),
        (["--composition", "SO41"], "a sulfate SO4 (SO4 2-) needs two ammonium AH (NH4+) beside it"),
        (["--transfers", "3"], "SA1AM2: 3 proton transfers is not possible; allowed 0 ... 2"),
        (["--transfers", "2,3"], "SA1AM2: 3 proton transfers is not possible"),
        (["--composition", "SA0SO41AM0AH2", "--transfers", "1"], "SA0SO41AM0AH2 already gives its ions"),
        (["--composition", "SO4"], "'SO4'"),  # refused; the message reads it as a formula (RESULTS.md)
    ],
)
def test_bad_search_options_and_sulfate_compositions_are_one_line(tmp_path, capsys, argv, message):
    """S1, S3: each is exit 2 with one line naming the option (or the composition), before any
    minimisation: no output folder."""
    out = tmp_path / "s"
    composition = [] if "--composition" in argv else ["--composition", "SA1AM2"]
    assert main([*SEARCH, *composition, *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("painnjax screen: error: ") and message in err[0], err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv", [["--refine-patience", "1.5"], ["--refine-patience", "nan"], ["--refine-rounds", "1.5"]]
)
def test_search_counts_that_are_not_whole_numbers_are_refused_by_the_parser(tmp_path, capsys, argv):
    out = tmp_path / "s"
    with pytest.raises(SystemExit) as exc:
        main([*SEARCH, "--composition", "SA1AM1", *argv, "--out", str(out)])
    assert exc.value.code == 2 and f"argument {argv[0]}: invalid int value" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "table, extra, message",
    [
        ('kinds = ["perturb", "nope"]', [], "[refine] kinds: unknown move 'nope'"),
        ('kinds = ["perturb", "nope"]', ["--refine-rounds", "0"], "[refine] kinds: unknown move 'nope'"),
        ("kinds = []", [], "[refine] kinds: must be one or more of"),
        ('patience = "3"', [], "[refine] patience: must be an integer >= 0, got '3'"),
        ("patience = 1.5", [], "[refine] patience: must be an integer >= 0, got 1.5"),
        ("rounds = -1", [], "[refine] rounds: must be an integer >= 0, got -1"),
    ],
)
def test_bad_refine_table_names_the_file_and_key(tmp_path, capsys, table, extra, message):
    """S2: a bad [refine] value of a --config file names the file, section and key (also with
    --refine-rounds 0: the refinement's settings are checked even when it does not run)."""
    config, out = tmp_path / "search.toml", tmp_path / "s"
    config.write_text(f"[refine]\n{table}\n")
    assert main([*SEARCH, "--composition", "SA1AM1", "--config", str(config), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"error: {config}: {message}" in err[0], err
    assert not out.exists()


def test_sulfate_compositions_in_any_case_and_spacing_are_one_name():
    """S3: the composition name of the SO4²⁻ states, however the composition is written."""
    from md.screening.candidates import composition_name, parse_composition
    from md.screening.protonation import protonation_states

    forms = ["SA0SO41AM0AH2", "sa0so41am0ah2", "SO4 1 AH 2", "SO4AH2", "so4ah2"]
    assert {composition_name(parse_composition(f)) for f in forms} == {"SA0SO41AM0AH2"}
    assert composition_name(parse_composition("SO42AH4")) == "SA0SO42AM0AH4"
    assert [composition_name(c) for _, c in protonation_states("SA1AM2")] == [
        "SA1AM2",
        "SA0B1AM1AH1",
        "SA0SO41AM0AH2",
    ]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::painnjax.data.domain.DomainWarning")
def test_a_search_resumed_with_other_moves_or_patience_is_refused_and_found_is_printed(tmp_path, capsys):
    """S4, S5: the closing "found N times (M independently)" line is what screen.json records; a resume
    with other --refine-kinds or --refine-patience is exit 2 naming them, minimised.extxyz unchanged."""
    import json
    import re

    import painnjax

    model = painnjax.save_model(
        painnjax.Model.init(painnjax.PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4), elements=[1, 7, 8, 16]),
        tmp_path / "tiny.painn",
    )
    out = tmp_path / "s"
    argv = ["screen", str(model), "--composition", "SA1AM1", "--n", "1", "--refine-rounds", "1", "--refine-top", "1"]
    argv += [
        "--refine-moves",
        "1",
        "--refine-patience",
        "2",
        "--fmax",
        "50",
        "--steps",
        "5",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = re.findall(
        r"^(\S+): lowest minimum .* found (\d+) times? \((\d+) independently\)", capsys.readouterr().out, re.M
    )
    found = json.loads((out / "screen.json").read_text())["found"]
    assert printed and {c: (int(n), int(i)) for c, n, i in printed} == {
        c: (f["found"], f["independently"]) for c, f in found.items()
    }
    before = (out / "minimised.extxyz").read_bytes()
    for other, shown in (
        (["--refine-kinds", "perturb"], "refine.kinds "),
        (["--refine-patience", "0"], "refine.patience 2 -> 0"),
    ):
        assert main([*argv, "--resume", *other]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds a screen with other settings (refine" in err[0] and shown in err[0], err
    assert (out / "minimised.extxyz").read_bytes() == before
    assert main([*argv, "--resume"]) == 0  # the same settings go on
