"""``painnjax evaporation`` on a malformed ``summary.json`` (issue 32, D7): every field the reader
uses is checked, and a bad one is exit 2 naming the file and the field, never a traceback.

The summaries start from one tiny real ``painnjax md`` run (its summary.json as the md writer
makes it), with a few stopped replicas added in the form ``md.dynamics.simulate`` writes them;
then one field at a time is broken.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys

import pytest

from md.analysis import evaporation as ev
from painnjax.cli import main
from painnjax.errors import InputError


@pytest.fixture(scope="module")
def real_summary(tmp_path_factory) -> dict:
    """The summary.json of a 20-step run of SA1AM1, plus a fragmentation, an older fragmentation
    (no "fragments", no stop_time_fs) and a temperature stop."""
    out = tmp_path_factory.mktemp("md") / "run"
    assert main(["md", "saam-gfn1", "SA1AM1", "--steps", "20", "--log-every", "10", "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    s["replica_status"] += [
        {
            "replica": 1,
            "temperature_K": 300.0,
            "status": "stopped",
            "stop_reason": "fragmentation",
            "stop_step": 10,
            "stop_time_fs": 5.0,
            "message": "a fragment H3N (atoms 6, 7, 8, 9) is more than 5 Å from the rest of the cluster",
            "fragments": ["H3N"],
        },
        {
            "replica": 2,
            "temperature_K": 300.0,
            "status": "stopped",
            "stop_reason": "fragmentation",
            "stop_step": 12,
            "message": "a fragment H3N (atoms 6, 7, 8, 9) is more than 5 Å from the rest of the cluster",
        },
        {
            "replica": 3,
            "temperature_K": 300.0,
            "status": "stopped",
            "stop_reason": "temperature",
            "stop_step": 14,
            "stop_time_fs": 7.0,
            "message": "hot",
        },
    ]
    s["temperatures_K"] = [300.0] * 4
    s["replicas"] = 4
    return s


def _folder(tmp_path, summary: dict, name="run"):
    folder = tmp_path / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def test_the_intact_summary_reads(tmp_path, real_summary):
    records = ev.read_run(_folder(tmp_path, real_summary))
    got = [(r.replica, r.outcome, r.time_fs, r.fragments) for r in records]
    assert got == [(0, "completed", 10.0, ()), (1, "evaporated", 5.0, ("H3N",)), (2, "evaporated", 6.0, ("H3N",)),
                   (3, "stopped", 7.0, ())]  # fmt: skip


def _set(path: tuple, value):
    """A change of one field (``value`` DELETE: the key removed)."""

    def change(s):
        target = s
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


class _Delete:
    """The field is taken out (a sentinel with a stable repr: pytest-xdist workers must collect the same ids)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()

#: (the field, a bad value or DELETE, what the message must say besides the file)
MALFORMED = [
    (("replica_status", 0, "replica"), "abc", "replica_status[0].replica must be a whole number >= 0, got 'abc'"),
    (("replica_status", 0, "replica"), 1.5, "replica_status[0].replica must be a whole number >= 0, got 1.5"),
    (("replica_status", 0, "replica"), True, "replica_status[0].replica must be a whole number >= 0, got True"),
    (("replica_status", 0, "replica"), -1, "replica_status[0].replica must be a whole number >= 0, got -1"),
    (("replica_status", 0, "replica"), None, "replica_status[0].replica must be a whole number >= 0, got None"),
    (("replica_status", 0, "temperature_K"), "300", "replica_status[0].temperature_K must be a finite number"),
    (("replica_status", 0, "status"), DELETE, "replica_status[0].status is missing"),
    (("replica_status", 0, "status"), 3, "replica_status[0].status 3 is an unknown status"),
    (("replica_status", 0, "formula"), 7, "replica_status[0].formula must be a text, got 7"),
    (("replica_status", 1, "stop_reason"), ["fragmentation"], "replica_status[1].stop_reason must be a text"),
    (("replica_status", 3, "stop_reason"), DELETE, "replica_status[3].stop_reason is missing"),
    (("replica_status", 1, "stop_time_fs"), "5", "replica_status[1].stop_time_fs must be a finite number"),
    (("replica_status", 2, "stop_step"), 1.5, "replica_status[2].stop_step must be a whole number >= 0, got 1.5"),
    (("replica_status", 2, "stop_step"), DELETE, "replica_status[2] has neither stop_time_fs nor stop_step"),
    (("replica_status", 2, "message"), 5, "replica_status[2].message must be a text, got 5"),
    (("replica_status", 1, "fragments"), "H3N", "replica_status[1].fragments must be a list of formulas"),
    (("replica_status", 1), "stopped", "replica_status[1] must be an object"),
    (("dt_fs",), "0.5", "dt_fs must be a finite number > 0, got '0.5'"),
    (("dt_fs",), 0, "dt_fs must be a finite number > 0, got 0"),
    (("dt_fs",), DELETE, "dt_fs is missing"),
    (("steps_done",), 2.5, "steps_done must be a whole number >= 0, got 2.5"),
    (("steps_done",), DELETE, "steps_done is missing"),
    (("temperatures_K",), "300", "temperatures_K must be a list of numbers, got '300'"),
    (("formula",), ["H5NO4S"], "formula must be a text"),
    (("ensemble",), 1, "ensemble must be a text, got 1"),
    (("config",), [], "config must be an object, got []"),
    (("config", "fragment_distance"), "abc", "config.fragment_distance must be a finite number >= 0, got 'abc'"),
    (("config", "wall_radius"), "12", "config.wall_radius must be a finite number > 0, got '12'"),
    (("config", "exchange_every"), "x", "config.exchange_every must be a whole number >= 0, got 'x'"),
    (("config", "log_every"), "10", "config.log_every must be a whole number >= 1, got '10'"),
    (("config", "log_every"), 0, "config.log_every must be a whole number >= 1, got 0"),
]


@pytest.mark.parametrize(("field", "value", "message"), MALFORMED, ids=lambda x: repr(x)[:40])
def test_a_malformed_field_is_named(tmp_path, real_summary, capsys, field, value, message):
    s = copy.deepcopy(real_summary)
    _set(field, value)(s)
    folder = _folder(tmp_path, s)
    path = folder / "summary.json"
    with pytest.raises(InputError) as err:
        ev.read_run(folder)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    # the command: exit 2 with that one line, no traceback
    assert main(["evaporation", str(folder), "--out", str(tmp_path / "out")]) == 2
    printed = capsys.readouterr().err
    assert f"{path}: " in printed and message in printed and "Traceback" not in printed, printed
    assert not (tmp_path / "out" / "evaporation.json").exists()


def test_a_replica_id_that_is_not_a_number_in_a_subprocess(tmp_path, real_summary):
    """The issue's repro, as a user runs it: ``painnjax evaporation`` exits 2, one line."""
    s = copy.deepcopy(real_summary)
    s["replica_status"][0]["replica"] = "abc"
    folder = _folder(tmp_path, s)
    run = subprocess.run(
        [sys.executable, "-m", "painnjax.cli", "evaporation", str(folder)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert f"{folder / 'summary.json'}: replica_status[0].replica must be a whole number >= 0, got 'abc'" in run.stderr
