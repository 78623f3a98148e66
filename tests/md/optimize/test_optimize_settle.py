"""``optimize_file`` with a check of the minimum (``settle``): the checked positions are what is written,
FIRE runs again from them in the run's precision, and the record comes back; a true minimum is left."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from md.workflow import optimize_file


@pytest.mark.filterwarnings("ignore::painnjax.data.domain.DomainWarning")
def test_optimize_file_takes_the_settled_positions(small_model, tmp_path):
    calls = []
    shift = np.array([0.0, 0.0, 0.05])

    def settle(model, atoms, *, fmax, max_steps):  # as md.analysis.settle.settle_model_minimum answers
        calls.append((fmax, max_steps))
        moved = atoms.get_positions() + shift
        return moved, {"moved": True, "is_minimum": True, "rounds": [{"fire_steps": 0}], "summary": "stepped"}

    out = tmp_path / "o.xyz"
    # fmax 1e3: FIRE converges where it starts, so the file holds exactly the settled positions
    res = optimize_file(small_model, "SA1AM1", out, fmax=1e3, settle=settle)
    start = read("painnjax/data/SA1AM1.xyz")
    assert calls == [(1e3, 1000)] and res.settled["summary"] == "stepped" and res.converged
    written = read(out)
    np.testing.assert_allclose(written.positions, start.positions + shift, atol=1e-5)
    assert written.info["settle_rounds"] == 1 and written.info["is_minimum"]

    def unchanged(model, atoms, *, fmax, max_steps):
        return atoms.get_positions(), {"moved": False, "is_minimum": True, "rounds": [], "summary": ""}

    res = optimize_file(small_model, "SA1AM1", out, fmax=1e3, settle=unchanged)
    np.testing.assert_allclose(read(out).positions, start.positions, atol=1e-5)
    assert read(out).info["settle_rounds"] == 0 and res.settled["moved"] is False
