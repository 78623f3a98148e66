"""A small SA–W set (GFN1 and GFN2 labels) for the kernel models' tests: 43 frames of the shared files.

A plugin of ``tests/conftest.py`` (``pytest_plugins``), not a second ``conftest.py``: tests import
helpers from ``conftest`` by name, and a conftest module in a sub-folder would shadow the one in
``tests/``."""

from __future__ import annotations

from pathlib import Path

import pytest

SAW = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "saw"


@pytest.fixture(scope="session")
def saw_small(tmp_path_factory) -> Path:
    """41 frames of round 1 (every 65th: 43 compositions, 3-52 atoms) and 2 of SA4W5, as one extxyz."""
    from ase.io import write

    from painnjax.data.dataset import read_frames

    train = read_frames(SAW / "round1_gfn1_gfn2.extxyz.gz")[::65]
    test = read_frames(SAW / "SA4W5_300K_gfn1_gfn2.extxyz.gz")[::61]
    path = tmp_path_factory.mktemp("saw") / "saw_small.extxyz"
    write(path, train + test, format="extxyz")
    return path


@pytest.fixture(scope="session")
def saw_dataset(saw_small):
    from painnjax.data.dataset import read_dataset

    return read_dataset(saw_small, require_forces=False)
