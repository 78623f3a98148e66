"""Evaporation statistics (md.analysis.evaporation): the rate and its interval on synthetic
first-passage times, Kaplan–Meier by hand and on a large sample, the Arrhenius fit, reading run
folders (molecules, broken molecules, other stops, old messages), the ``evaporation`` command,
and one short real MD run of two waters held by a weak Morse well.
"""

from __future__ import annotations

import doctest
import json
import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from md_helpers import elastic_network

from md.analysis import evaporation as ev
from painnjax.cli import main
from painnjax.data.molecules import parse_formula
from painnjax.errors import InputError

# --------------------------------------------------------------------------------------------
# The rate


def test_docstring_example():
    result = doctest.testmod(ev)
    assert result.failed == 0 and result.attempted > 0


def test_rate_interval_by_hand():
    # d = 0: no lower bound, upper -ln(alpha/2) / T (chi-square with 2 degrees of freedom)
    k, lo, hi = ev.rate_interval(0, 10.0, 0.95)
    assert k == lo == 0.0 and hi == pytest.approx(-math.log(0.025) / 10.0, rel=1e-12)
    # d = 1, 90 %: lower -ln(0.95) / T, upper from chi2(0.95; 4) = 9.4877
    k, lo, hi = ev.rate_interval(1, 2.0, 0.90)
    assert k == 0.5 and lo == pytest.approx(-math.log(0.95) / 2.0, rel=1e-12)
    assert hi == pytest.approx(9.487729 / 4.0, rel=1e-6)
    with pytest.raises(InputError, match="time at risk"):
        ev.rate_interval(1, 0.0)
    with pytest.raises(InputError, match="confidence"):
        ev.rate_interval(1, 1.0, 1.5)


def test_rate_interval_covers_the_true_rate():
    """200 seeded samples of 40 exponential lifetimes (k = 2) with random right censoring."""
    rng = np.random.default_rng(7)
    k_true, samples, n = 2.0, 200, 40
    life = rng.exponential(1.0 / k_true, (samples, n))
    censor = rng.uniform(0.0, 1.5, (samples, n))  # about 40 % censored
    events = (life <= censor).sum(axis=1)
    at_risk = np.minimum(life, censor).sum(axis=1)
    k, lo, hi = ev.rate_interval(events, at_risk, 0.95)
    assert 0.3 < 1 - events.mean() / n < 0.5  # censoring really happens
    assert np.all((lo <= k) & (k <= hi))
    coverage = np.mean((lo <= k_true) & (k_true <= hi))
    assert 0.90 <= coverage <= 0.99
    assert abs(np.mean(k) / k_true - 1) < 0.05  # the estimate is unbiased to a few %


# --------------------------------------------------------------------------------------------
# Kaplan–Meier


def test_kaplan_meier_by_hand():
    # events at 1, 2, 3, 4, 4; censored at 2 (a tie with an event: still at risk there) and 5
    t = [1, 2, 2, 3, 4, 4, 5]
    e = [1, 1, 0, 1, 1, 1, 0]
    km = ev.kaplan_meier(t, np.array(e, bool), confidence=0.95)
    assert km.time.tolist() == [0, 1, 2, 3, 4, 5]
    assert km.at_risk.tolist() == [7, 7, 6, 4, 3, 1]
    assert km.events.tolist() == [0, 1, 1, 1, 2, 0]
    assert km.censored.tolist() == [0, 0, 1, 0, 0, 1]
    S = [1, 6 / 7, 5 / 7, 15 / 28, 5 / 28, 5 / 28]
    np.testing.assert_allclose(km.survival, S, rtol=1e-12)
    gw = np.cumsum([0, 1 / (7 * 6), 1 / (6 * 5), 1 / (4 * 3), 2 / (3 * 1), 0])
    np.testing.assert_allclose(km.greenwood, gw, rtol=1e-12)
    # the log(-log) band at t = 3
    s, z = 15 / 28, 1.959963984540054
    sigma = math.sqrt(gw[3]) / abs(math.log(s))
    assert km.lower[3] == pytest.approx(s ** math.exp(z * sigma), rel=1e-9)
    assert km.upper[3] == pytest.approx(s ** math.exp(-z * sigma), rel=1e-9)
    assert km.lower[0] == km.upper[0] == 1.0
    assert np.all((km.lower <= km.survival) & (km.survival <= km.upper))
    assert km.median() == 4.0
    assert km.at([0.5, 1.0, 3.9, 10.0]).tolist() == pytest.approx([1.0, 6 / 7, 15 / 28, 5 / 28])
    assert ev.kaplan_meier([1.0, 2.0], [False, False]).median() is None


def test_kaplan_meier_follows_the_exponential():
    rng = np.random.default_rng(3)
    life = rng.exponential(1.0, 4000)
    censor = rng.uniform(0.0, 3.0, 4000)
    km = ev.kaplan_meier(np.minimum(life, censor), life <= censor)
    grid = np.linspace(0.0, 2.0, 41)
    assert np.max(np.abs(km.at(grid) - np.exp(-grid))) < 0.02
    i = np.searchsorted(km.time, grid[1:], side="right") - 1
    se = km.survival[i] * np.sqrt(km.greenwood[i])  # Greenwood's standard error
    assert np.all(np.abs(km.survival[i] - np.exp(-grid[1:])) < 3 * se)
    # for a large sample the log(-log) band is about S ± 1.96 SE
    np.testing.assert_allclose(km.upper[i] - km.lower[i], 2 * 1.96 * se, rtol=0.05)
    assert 0.8 < np.mean((km.lower[i] <= np.exp(-grid[1:])) & (np.exp(-grid[1:]) <= km.upper[i]))
    assert km.median() == pytest.approx(math.log(2), abs=0.05)


# --------------------------------------------------------------------------------------------
# Arrhenius


R = ev.R_KCAL_PER_MOL_K


def test_arrhenius_recovers_the_activation_energy():
    T = np.array([500.0, 600.0, 700.0, 800.0])
    ea, ln_a = 10.0, math.log(1e4)
    k = np.exp(ln_a - ea / (R * T))
    fit = ev.arrhenius_fit(T, k, [5, 10, 20, 40])
    assert fit.ea == pytest.approx(ea, rel=1e-9) and fit.ln_a == pytest.approx(ln_a, rel=1e-9)
    assert fit.reduced_chi2 == pytest.approx(0.0, abs=1e-12) and fit.n_points == 4
    np.testing.assert_allclose(fit.rate(T), k, rtol=1e-9)
    # Poisson counts: within three standard errors of the truth, which shrink with the counts
    rng = np.random.default_rng(11)
    t_risk = 2000.0 / k  # about 2000 events at each temperature
    d = rng.poisson(k * t_risk)
    noisy = ev.arrhenius_fit(T, d / t_risk, d)
    assert abs(noisy.ea - ea) < 3 * noisy.ea_se and 0.05 < noisy.ea_se < 0.5
    two = ev.arrhenius_fit(T[:2], k[:2], [3, 4])
    assert two.ea == pytest.approx(ea, rel=1e-9) and "only two" in two.note and two.reduced_chi2 is None
    # a standard error by hand for two points: var(slope) = 1 / (w1 w2/(w1+w2) (x1-x2)^2)
    x = 1 / T[:2]
    assert two.ea_se == pytest.approx(R * math.sqrt((3 + 4) / (3 * 4)) / abs(x[0] - x[1]), rel=1e-9)
    with pytest.raises(InputError, match="two or more"):
        ev.arrhenius_fit([500.0, 500.0], [1.0, 2.0], [1, 2])


# --------------------------------------------------------------------------------------------
# Formulas


def test_molecules_and_broken_molecules():
    assert ev.molecule_name("H3N") == "AM"
    assert ev.molecule_name("H2O4S") == "SA"
    assert ev.molecule_name("H4N") == "AH"
    assert ev.molecule_name("HO4S") == "B"
    assert ev.molecule_name("H3O") == "H3O"
    assert ev.molecule_name("H5NO4S") == "SA+AM"  # a dimer evaporating
    assert ev.molecule_name("H4O2") == "2W"
    for broken in ("HO", "H", "O", "H2", "HN", "HO3S", "CH4"):
        assert ev.molecule_name(broken) is None, broken
    assert ev.molecule_name("H3N", {"W": "H2O"}) is None  # the table is an argument
    msg = "a fragment H2O4S (atoms 0, 1, 2, 3, 4, 5, 6, 7, ...); H3N (atom 12) is more than 5 Å from the rest"
    assert ev.fragments_from_message(msg) == ["H2O4S", "H3N"]
    with pytest.raises(InputError, match="formula"):
        parse_formula("h2o")


# --------------------------------------------------------------------------------------------
# Run folders


def _write_run(folder, statuses, *, T=300.0, dt=0.5, steps_done=2000, formula="H20N4O16S4", **config):
    folder.mkdir(parents=True, exist_ok=True)
    temps = [s.get("temperature_K", T) for s in statuses]
    summary = {
        "ensemble": "nvt-langevin",
        "formula": formula,
        "n_atoms": 44,
        "replicas": len(statuses),
        "temperatures_K": temps,
        "dt_fs": dt,
        "steps_target": 2000,
        "steps_done": steps_done,
        "replica_status": [{"replica": r, "temperature_K": temps[r], **s} for r, s in enumerate(statuses)],
        "config": {"log_every": 10, "fragment_distance": None, **config},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def _fragment(t_fs, fragments=None, message=None, **extra):
    s = {"status": "stopped", "stop_reason": "fragmentation", "stop_time_fs": t_fs, **extra}
    if fragments is not None:
        s["fragments"] = fragments
    s["message"] = message or f"a fragment {'; '.join(f'{f} (atom 1)' for f in fragments)} is more than 5 Å"
    return s


def _two_runs(tmp_path):
    a = _write_run(
        tmp_path / "a",
        [
            {"status": "completed"},  # censored at 2000 * 0.5 fs
            _fragment(500.0, ["H3N"]),
            {  # an older run: no "fragments", no stop_time_fs; two groups left at once
                "status": "stopped",
                "stop_reason": "fragmentation",
                "stop_step": 1400,
                "message": "a fragment H2O4S (atoms 0, 1, 2, 3, 4, 5, 6); H3N (atom 12) is more than 5 Å "
                "from the rest of the cluster",
            },
            _fragment(800.0, ["HO"]),  # a broken molecule
            {"status": "stopped", "stop_reason": "temperature", "stop_time_fs": 250.0, "message": "hot"},
        ],
    )
    b = _write_run(  # interrupted at step 1000: replica 0 still running
        tmp_path / "b",
        [
            {"status": "running", "temperature_K": 350.0},
            _fragment(400.0, ["H2O"], temperature_K=350.0),
            _fragment(300.0, ["H5NO4S"], temperature_K=300.04),  # pooled with the 300 K of run a
        ],
        steps_done=1000,
    )
    return a, b


def test_reading_runs(tmp_path):
    a, b = _two_runs(tmp_path)
    with pytest.warns(ev.BrokenMoleculeWarning, match=r"replica 3 \(300 K\) lost HO at 0.8 ps"):
        records = ev.read_runs([a, b])
    got = [(r.run[-1], r.replica, r.temperature, r.time_fs, r.outcome, r.fragments, r.lost) for r in records]
    assert got == [
        ("a", 0, 300.0, 1000.0, "completed", (), ()),
        ("a", 1, 300.0, 500.0, "evaporated", ("H3N",), ("AM",)),
        ("a", 2, 300.0, 700.0, "evaporated", ("H2O4S", "H3N"), ("SA", "AM")),
        ("a", 3, 300.0, 800.0, "broken", ("HO",), (None,)),
        ("a", 4, 300.0, 250.0, "stopped", (), ()),
        ("b", 0, 350.0, 500.0, "running", (), ()),
        ("b", 1, 350.0, 400.0, "evaporated", ("H2O",), ("W",)),
        ("b", 2, 300.04, 300.0, "evaporated", ("H5NO4S",), ("SA+AM",)),
    ]
    assert [r.event for r in records] == [False, True, True, False, False, False, True, True]
    assert records[4].stop_reason == "temperature" and records[0].resolution_fs == 5.0

    study = ev.evaporation_statistics(records, confidence=0.95)
    cold, hot = study.temperatures
    assert (cold.temperature, cold.replicas, cold.evaporated, cold.broken, cold.other_stops) == (300.0, 6, 3, 1, 1)
    assert (cold.completed, cold.running, cold.stop_kinds) == (1, 0, {"temperature": 1})
    assert cold.time_at_risk_ps == pytest.approx((1000 + 500 + 700 + 800 + 250 + 300) / 1000)
    assert cold.rate == pytest.approx(3 / 3.55 * 1000)  # 1/ns
    assert cold.lost == {"H3N": 2, "H2O4S": 1, "H5NO4S": 1} and cold.broken_fragments == {"HO": 1}
    assert cold.lifetime_ps == pytest.approx(3.55 / 3)
    assert (hot.temperature, hot.replicas, hot.evaporated, hot.running) == (350.0, 2, 1, 1)
    assert hot.time_at_risk_ps == pytest.approx(0.9) and hot.median_ps == pytest.approx(0.4)
    assert study.arrhenius is not None and "only two" in study.arrhenius.note


def test_bad_run_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no summary.json"):
        ev.read_run(tmp_path / "empty")
    with pytest.raises(InputError, match="no such folder"):
        ev.read_run(tmp_path / "missing")
    (tmp_path / "notjson").mkdir()
    (tmp_path / "notjson" / "summary.json").write_text("{")
    with pytest.raises(InputError, match=r"notjson/summary.json: cannot read it as JSON"):
        ev.read_run(tmp_path / "notjson")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "summary.json").write_text('{"epochs": 3}')
    with pytest.raises(InputError, match="not the summary of a painnjax md run"):
        ev.read_run(tmp_path / "other")
    off = _write_run(tmp_path / "off", [{"status": "completed"}], fragment_distance=0)
    with pytest.raises(InputError, match="without the fragmentation check"):
        ev.read_run(off)
    walled = _write_run(tmp_path / "wall", [{"status": "completed"}], wall_radius=12.0)
    with pytest.raises(InputError, match="without the fragmentation check"):
        ev.read_run(walled)
    rex = _write_run(tmp_path / "rex", [{"status": "completed"}], exchange_every=100)
    with pytest.raises(InputError, match="replica-exchange"):
        ev.read_run(rex)
    one = _write_run(tmp_path / "one", [{"status": "completed"}])
    with pytest.raises(InputError, match="given twice"):
        ev.read_runs([one, tmp_path / "." / "one"])
    two = _write_run(tmp_path / "two", [{"status": "completed"}], formula="H6N2O4S")
    with pytest.raises(InputError, match="different clusters"):
        ev.read_runs([one, two])
    # a run of several clusters: each replica names its own; --cluster picks one
    mixed = _write_run(
        tmp_path / "mixed",
        [{"status": "completed", "formula": "H5NO4S"}, _fragment(300.0, ["H3N"], formula="H20N4O16S4")],
        formula="H5NO4S, H20N4O16S4",
    )
    with pytest.raises(InputError, match="different clusters.*--cluster"):
        ev.read_runs([mixed])
    (kept,) = ev.read_runs([mixed], cluster="H20N4O16S4")
    assert (kept.cluster, kept.replica, kept.outcome) == ("H20N4O16S4", 1, "evaporated")
    with pytest.raises(InputError, match="no replica of the cluster H2O"):
        ev.read_runs([mixed], cluster="H2O")
    weird = _write_run(tmp_path / "weird", [{"status": "exploded"}])
    with pytest.raises(InputError, match="unknown status"):
        ev.read_run(weird)


def test_the_command(tmp_path, capsys):
    a, b = _two_runs(tmp_path)
    out = tmp_path / "out"
    assert main(["evaporation", str(a), str(b), "--out", str(out), "--confidence", "0.9"]) == 0
    printed = capsys.readouterr()
    assert "lost HO" in printed.err and "warning" in printed.err
    assert "k/ns^-1 [90%]" in printed.out and "H3N (AM) x2" in printed.out and "H5NO4S (SA+AM) x1" in printed.out
    assert "broken molecules (model failures" in printed.out and "temperature x1" in printed.out
    assert "Arrhenius over 2 temperatures" in printed.out and "only two temperatures" in printed.out
    data = json.loads((out / "evaporation.json").read_text())
    assert data["confidence"] == 0.9 and [t["T_K"] for t in data["temperatures"]] == [300.0, 350.0]
    assert [t["evaporated"] for t in data["temperatures"]] == [3, 1] and len(data["replicas"]) == 8
    assert data["arrhenius"]["points"][0]["events"] == 3 and data["runs"][0]["resolution_ps"] == 0.005
    rows = (out / "survival.csv").read_text().splitlines()
    assert rows[0] == ",".join(ev.CSV_COLUMNS) and len(rows) == 1 + 7 + 3  # 0 and 6 times; 0 and 2 times
    assert (out / "survival.png").read_bytes()[:4] == b"\x89PNG"
    # --out defaults to the first run folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["evaporation", str(b)]) == 0
    assert (b / "evaporation.json").is_file() and (b / "survival.png").is_file()
    # a folder without summary.json: bad input, named
    (tmp_path / "empty").mkdir()
    assert main(["evaporation", str(a), str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert f"{tmp_path / 'empty'}: no summary.json" in capsys.readouterr().err
    assert main(["evaporation", str(a), "--confidence", "95"]) == 2


# --------------------------------------------------------------------------------------------
# Real MD


def test_real_md_run(tmp_path):
    """Two waters held by a 0.15 eV Morse well between the oxygens, Langevin at 900 K: several of
    8 replicas lose a water within 1.5 ps; every fragmentation stop is one evaporation event."""
    from md import MDConfig, run_md

    water = np.array([[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    pos = np.vstack([water, water + [3.0, 0, 0]])  # O-O 3 Å, the well's minimum
    springs = elastic_network(pos, k=20.0, molecules=[[0, 1, 2], [3, 4, 5]])

    def energy(R, **unused_kwargs):
        r = jnp.linalg.norm(R[3] - R[0])
        return springs(R) + 0.15 * ((1 - jnp.exp(-1.2 * (r - 3.0))) ** 2 - 1)

    cfg = MDConfig(
        ensemble="nvt-langevin",
        temperature=900.0,
        dt=1.0,
        steps=1500,
        replicas=8,
        seed=1,
        log_every=10,
        traj_every=0,
        checkpoint_every=1500,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the safety stops
        res = run_md(energy, Atoms("OH2OH2", positions=pos), cfg, out=tmp_path, progress=False)
    stopped = [s for s in res.summary["replica_status"] if s.get("stop_reason") == "fragmentation"]
    assert 2 <= len(stopped) < 8

    study = ev.evaporation_study([tmp_path])
    (s,) = study.temperatures
    assert s.temperature == 900.0 and s.replicas == 8 and s.evaporated == len(stopped) and s.broken == 0
    assert s.lost == {"H2O": len(stopped)}
    expected = sum(st["stop_time_fs"] for st in stopped) + 1500.0 * (8 - len(stopped))
    assert s.time_at_risk_ps == pytest.approx(expected / 1000)
    assert s.rate_lower < s.rate < s.rate_upper
    assert s.km.survival[-1] == pytest.approx(1 - len(stopped) / 8)
