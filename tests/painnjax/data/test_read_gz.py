"""Gzipped structure files read as the plain file does (read_frames decompresses (ext)xyz in memory)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from painnjax.data.dataset import read_frames
from painnjax.errors import InputError


def _frames(n=5):
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        a = Atoms("OH2", positions=rng.normal(size=(3, 3)))
        a.calc = SinglePointCalculator(a, energy=-10.0 - i, forces=rng.normal(size=(3, 3)))
        a.info["composition"] = "W"
        a.arrays["gfn2_forces"] = rng.normal(size=(3, 3))
        out.append(a)
    return out


@pytest.mark.parametrize("name", ["f.extxyz", "f.xyz"])
def test_gz_equals_plain(tmp_path, name):
    plain = tmp_path / name
    write(plain, _frames(), format="extxyz")
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = read_frames(plain), read_frames(packed)
    assert len(a) == len(b) == 5
    for x, y in zip(a, b):
        assert np.array_equal(x.positions, y.positions) and np.array_equal(x.numbers, y.numbers)
        assert x.get_potential_energy() == y.get_potential_energy()
        assert np.array_equal(x.get_forces(), y.get_forces())
        assert np.array_equal(x.arrays["gfn2_forces"], y.arrays["gfn2_forces"]) and x.info == y.info


def test_damaged_gz_is_an_input_error(tmp_path):
    packed = tmp_path / "bad.extxyz.gz"
    packed.write_bytes(gzip.compress(b"3\nProperties=species:S:1:pos:R:3\nO 0 0 0\n")[:-12])
    with pytest.raises(InputError, match="bad.extxyz.gz: cannot be read"):
        read_frames(packed)
