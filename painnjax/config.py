"""One style for every config section: a frozen dataclass beside its component, checked when built.

The sections -- ``[model]`` (:class:`painnjax.nn.config.PaiNNConfig`), ``[train]``
(:class:`painnjax.training.config.TrainConfig`), ``[data]`` and ``[split]`` (:mod:`painnjax.data.config`),
``[md]`` (:class:`md.dynamics.config.MDConfig`) and ``[learn]`` (:class:`painnjax.active.learn.LearnConfig`)
-- check their values in ``__post_init__`` with :func:`check`; :func:`from_mapping` builds one from a
file's table and refuses unknown keys. Every error is an :class:`~painnjax.errors.InputError` that
names the section and the key.

Example:
    >>> check(0.5 > 0, "train", "lr", "must be > 0")
    >>> str(error("train", "lr", "must be > 0, got -1.0"))
    '[train] lr: must be > 0, got -1.0'
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

from painnjax.errors import InputError

C = TypeVar("C")


def error(section: str, key: str, message: str) -> InputError:
    """The error of one bad value: ``[section] key: message``."""
    return InputError(f"[{section}] {key}: {message}")


def check(ok: Any, section: str, key: str, message: str) -> None:
    """Raise :func:`error` unless ``ok``."""
    if not ok:
        raise error(section, key, message)


def is_int(value) -> bool:
    """An integer, Python's or numpy's (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def integer(section: str, key: str, value, low: int) -> None:
    """Check that ``value`` is an integer >= ``low``."""
    check(is_int(value) and value >= low, section, key, f"must be an integer >= {low}, got {value!r}")


def positive(section: str, key: str, value, unit: str = "") -> None:
    """Check that ``value`` is a finite number > 0 (in ``unit``)."""
    check(
        is_real(value) and value > 0,
        section,
        key,
        f"must be a finite number > 0{' ' + unit if unit else ''}, got {value!r}",
    )


def from_mapping(cls: type[C], section: str, mapping: Mapping | None) -> C:
    """``cls(**mapping)`` (a config dataclass) after refusing keys it does not have."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        raise InputError(f"[{section}] must be a table of key = value, got {type(mapping).__name__}")
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(str(k) for k in set(mapping) - set(known))
    if unknown:
        raise InputError(f"[{section}] has unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return cls(**mapping)
