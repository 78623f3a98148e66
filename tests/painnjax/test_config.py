"""The shared config helpers: one error style, ``[section] key: message``, and unknown keys refused."""

from __future__ import annotations

import dataclasses

import pytest

from painnjax.config import check, error, from_mapping, integer, is_int, is_real, positive
from painnjax.errors import InputError


@dataclasses.dataclass(frozen=True)
class Toy:
    size: int = 1
    rate: float = 0.5

    def __post_init__(self):
        integer("toy", "size", self.size, 1)
        positive("toy", "rate", self.rate, "1/fs")


def test_error_names_the_section_and_the_key():
    e = error("train", "lr", "must be > 0, got -1.0")
    assert isinstance(e, InputError) and isinstance(e, ValueError)
    assert str(e) == "[train] lr: must be > 0, got -1.0"
    check(True, "train", "lr", "never raised")
    with pytest.raises(InputError, match=r"^\[md\] dt: must be > 0$"):
        check(False, "md", "dt", "must be > 0")


def test_number_checks():
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    assert is_real(3) and is_real(0.5) and not is_real(float("nan")) and not is_real(False) and not is_real("1")
    with pytest.raises(InputError, match=r"\[toy\] size: must be an integer >= 1, got 0"):
        Toy(size=0)
    with pytest.raises(InputError, match=r"\[toy\] size: must be an integer >= 1, got 2.0"):
        Toy(size=2.0)
    with pytest.raises(InputError, match=r"\[toy\] rate: must be a finite number > 0 1/fs, got inf"):
        Toy(rate=float("inf"))


def test_from_mapping_builds_and_refuses_unknown_keys():
    assert from_mapping(Toy, "toy", {"size": 3}) == Toy(size=3)
    assert from_mapping(Toy, "toy", None) == Toy()
    with pytest.raises(InputError) as err:
        from_mapping(Toy, "toy", {"size": 3, "sise": 4})
    assert str(err.value) == "[toy] has unknown key(s) sise; known: size, rate"
    with pytest.raises(InputError, match=r"\[toy\] must be a table of key = value, got list"):
        from_mapping(Toy, "toy", [1, 2])
    with pytest.raises(InputError, match=r"\[toy\] rate: must be a finite number > 0"):
        from_mapping(Toy, "toy", {"rate": "fast"})
