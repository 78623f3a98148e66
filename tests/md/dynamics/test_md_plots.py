"""Every MD run folder gets energies.png: what it draws (per replica, or mean and band), and that a
run writes it as a readable image."""

from __future__ import annotations

import numpy as np
import pytest
from md_helpers import elastic_network

from md.dynamics.config import MDConfig
from md.dynamics.output import read_thermo
from md.dynamics.simulate import run_md
from painnjax.io import plots


@pytest.fixture
def drawn(monkeypatch):
    """The figures md_energies would save, kept open for the test to read."""
    figures = []

    def keep(fig, path, dpi=110, title=""):
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save_figure", keep)
    yield figures
    for fig in figures:
        plots.pyplot().close(fig)


def _thermo(replicas: int, n: int = 6, conserved=True):
    rng = np.random.default_rng(replicas)
    size = replicas * n
    return {
        "time_fs": np.tile(np.arange(n) * 5.0, replicas),
        "replica": np.repeat(np.arange(replicas), n),
        "temperature_K": rng.uniform(250, 350, size),
        "e_pot_eV": rng.normal(-50, 0.1, size),
        "e_kin_eV": rng.uniform(0.1, 0.3, size),
        "e_total_eV": rng.normal(-49.8, 0.01, size),
        "conserved_eV": rng.normal(-49.7, 0.001, size) if conserved else np.full(size, np.nan),
    }


def test_one_line_per_replica_energies_from_their_start(drawn):
    th = _thermo(2)
    plots.md_energies(th, "x.png")
    pot, kin, cons, temp = drawn[0].axes
    for r in range(2):
        sel = th["replica"] == r
        np.testing.assert_allclose(pot.lines[r].get_xdata(), th["time_fs"][sel] / 1000)
        np.testing.assert_allclose(pot.lines[r].get_ydata(), th["e_pot_eV"][sel] - th["e_pot_eV"][sel][0])
        np.testing.assert_allclose(kin.lines[r].get_ydata(), th["e_kin_eV"][sel])
        np.testing.assert_allclose(cons.lines[r].get_ydata(), th["conserved_eV"][sel] - th["conserved_eV"][sel][0])
        np.testing.assert_allclose(temp.lines[r].get_ydata(), th["temperature_K"][sel])
    assert "conserved" in cons.get_ylabel() and "(K)" in temp.get_ylabel()


def test_langevin_draws_the_total_energy_and_many_replicas_a_band(drawn):
    th = _thermo(12, conserved=False)
    plots.md_energies(th, "x.png")
    _, _, cons, temp = drawn[0].axes
    assert "total energy" in cons.get_ylabel()
    assert len(temp.lines) == 1 and len(temp.collections) == 1  # the mean, and the min-max band
    T = th["temperature_K"].reshape(12, -1)
    np.testing.assert_allclose(temp.lines[0].get_ydata(), T.mean(axis=0))


def test_no_records_no_plot(drawn):
    assert plots.md_energies({"time_fs": np.zeros(0)}, "x.png") is None
    assert not drawn


@pytest.mark.slow
def test_md_run_folder_has_energies_png(sa1am1, tmp_path):
    from matplotlib.image import imread

    energy = elastic_network(sa1am1.positions)
    cfg = MDConfig(steps=20, replicas=2, log_every=5, traj_every=10, temperature=(200.0, 300.0))
    run_md(energy, sa1am1, cfg, out=tmp_path, progress=False)
    png = tmp_path / "energies.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 500 and np.ptp(image) > 0
    assert len(read_thermo(tmp_path)["step"]) == 2 * 5  # what it drew from
