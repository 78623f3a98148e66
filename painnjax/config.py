"""One style for every config section: a frozen dataclass beside its component, checked when built.

The sections -- ``[model]`` (:class:`painnjax.nn.config.PaiNNConfig`), ``[train]``
(:class:`painnjax.training.config.TrainConfig`), ``[data]`` and ``[split]`` (:mod:`painnjax.data.config`),
``[md]`` (:class:`md.dynamics.config.MDConfig`) and ``[learn]`` (:class:`painnjax.active.learn.LearnConfig`)
-- check their values in ``__post_init__`` with :func:`check`; :func:`from_mapping` builds one from a
file's table and refuses unknown keys. Every error is an :class:`~painnjax.errors.InputError` that
names the section and the key.

Config files (``painnjax train|learn|md|screen --config FILE``): :func:`read_file` is the one
reader of TOML and YAML; :func:`read_sections` takes a command's sections (:class:`Section`) out
of a file, refusing unknown sections and keys with the file named; :func:`resolved` builds one
section's dataclass from the file's values with the command line's put over them. :func:`toml_text`
writes sections back as TOML (the run folder's ``config.toml``, ``painnjax template``), with
:func:`field_notes` giving each key the description its dataclass documents.

Example:
    >>> check(0.5 > 0, "train", "lr", "must be > 0")
    >>> str(error("train", "lr", "must be > 0, got -1.0"))
    '[train] lr: must be > 0, got -1.0'
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import numbers
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

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


#: the largest integer a setting may take: TOML's (a signed 64-bit integer), so that every setting
#: painnjax writes to a run folder's config.toml reads back in any TOML reader
INT_MAX = 2**63 - 1


def integer(section: str, key: str, value, low: int) -> None:
    """Check that ``value`` is an integer >= ``low`` (and at most :data:`INT_MAX`)."""
    check(is_int(value) and value >= low, section, key, f"must be an integer >= {low}, got {value!r}")
    check(value <= INT_MAX, section, key, f"must be at most 2^63 - 1 (a TOML integer), got {value!r}")


def positive(section: str, key: str, value, unit: str = "") -> None:
    """Check that ``value`` is a finite number > 0 (in ``unit``)."""
    check(
        is_real(value) and value > 0,
        section,
        key,
        f"must be a finite number > 0{' ' + unit if unit else ''}, got {value!r}",
    )


def keys(cls, exclude: tuple[str, ...] = ()) -> list[str]:
    """The keys of a config dataclass's section: its fields, but those in ``exclude``."""
    return [f.name for f in dataclasses.fields(cls) if f.init and f.name not in exclude]


def check_keys(cls, section: str, mapping, exclude: tuple[str, ...] = ()) -> None:
    """Refuse a ``mapping`` that is not a table or has keys ``cls`` (less ``exclude``) does not have."""
    if not isinstance(mapping, Mapping):
        raise InputError(f"[{section}] must be a table of key = value, got {type(mapping).__name__}")
    known = keys(cls, exclude)
    unknown = sorted(str(k) for k in set(mapping) - set(known))
    if unknown:
        raise InputError(f"[{section}] has unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")


def from_mapping(cls: type[C], section: str, mapping: Mapping | None) -> C:
    """``cls(**mapping)`` (a config dataclass) after refusing keys it does not have."""
    if mapping is None:
        mapping = {}
    check_keys(cls, section, mapping)
    return cls(**mapping)


# --------------------------------------------------------------------------------------------
# Config files


class Section(NamedTuple):
    """One section of a command's config file.

    Attributes:
        cls: its frozen config dataclass.
        exclude: fields that are not keys of the file (the command line gives them).
        unset: keys a template leaves commented out although they have a value: their default
            depends on the command line (``[md] replicas``: one per ``--T``).
    """

    cls: type
    exclude: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()


def read_file(path: str | Path) -> dict:
    """A config file as a dict of sections: YAML for ``.yaml``/``.yml``, else TOML.

    :class:`InputError` naming the file when it is missing, cannot be parsed or is not a table."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a config file")
    if not path.is_file():
        raise InputError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a text config ({exc})") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text) or {}
        else:
            import tomllib

            raw = tomllib.loads(text)
    except Exception as exc:
        raise InputError(f"{path}: cannot parse the config ({exc})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the config must be a table of sections, got {type(raw).__name__}")
    return raw


def read_sections(path: str | Path | None, sections: Mapping[str, Section]) -> dict[str, dict]:
    """The tables of ``sections`` in the config file at ``path`` (None: no file, every table empty).

    An unknown section, a section that is not a table or an unknown key is an :class:`InputError`
    naming the file, the section and the key. The values are checked when the dataclasses are
    built (:func:`resolved`)."""
    if path is None:
        return {name: {} for name in sections}
    raw = read_file(path)
    unknown = sorted(str(k) for k in set(raw) - set(sections))
    if unknown:
        raise InputError(f"{path}: unknown section(s) {unknown}; known: {list(sections)}")
    out = {}
    for name, sec in sections.items():
        table = raw.get(name)
        table = {} if table is None else table  # YAML's `md:` with nothing under it; `md = 0` is refused below
        try:
            check_keys(sec.cls, name, table, sec.exclude)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        out[name] = dict(table)
    return out


def resolved(cls: type[C], section: str, from_file: Mapping, given: Mapping, path=None) -> C:
    """``cls`` built from a file's table ``from_file`` with ``given`` put over it (the command line's
    values; None values are not given). A bad value that came from the file is named with the file
    (``run.toml: [md] dt: ...``); one that came from ``given`` as the dataclass names it."""
    given = {k: v for k, v in given.items() if v is not None}
    values = {**from_file, **given}
    try:
        return cls(**values)
    except InputError as exc:
        m = re.match(rf"\[{re.escape(section)}\] (\w+):", str(exc))
        if path is not None and m and m.group(1) in from_file and m.group(1) not in given:
            raise InputError(f"{path}: {exc}") from None
        raise


# --------------------------------------------------------------------------------------------
# Writing TOML


def toml_value(value) -> str:
    """``value`` (a string, number, bool or a list of them) as a TOML value."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if is_int(value):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        return ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")) if not math.isfinite(x) else repr(x)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _comment(text: str, width: int = 100) -> list[str]:
    """``text`` as ``# ...`` lines of at most about ``width`` characters."""
    lines, line = [], "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    return lines + [line] if line != "#" else lines


def toml_text(
    sections: Mapping[str, Mapping], header: str = "", notes: Mapping[str, Mapping[str, str]] | None = None, unset=()
) -> str:
    """``{section: {key: value}}`` as TOML text: ``header`` and each key's note (``notes[section][key]``)
    as comments; a None value, or a key in ``unset`` (``"section.key"``), as a commented-out line
    (TOML has no null: a key left out takes its default)."""
    out = _comment(header) if header else []
    for name, table in sections.items():
        out += ["", f"[{name}]"]
        for key, value in table.items():
            note = (notes or {}).get(name, {}).get(key)
            if note:
                out += _comment(note)
            if value is None:
                out.append(f"# {key} =    (not set)")
            elif f"{name}.{key}" in unset:
                out.append(f"# {key} = {toml_value(value)}")
            else:
                out.append(f"{key} = {toml_value(value)}")
    return "\n".join(out).lstrip("\n") + "\n"


def field_notes(cls) -> dict[str, str]:
    """Each field's description as ``cls`` documents it: its entry under ``Attributes:`` in the
    docstring (``name: text``, or ``a, b: text`` for several), else the comment on or just above its
    line in the class's source."""
    notes: dict[str, str] = {}
    doc = inspect.getdoc(cls) or ""
    if "Attributes:" in doc:
        body = doc.split("Attributes:", 1)[1].splitlines()
        names: list[str] = []
        for line in body:
            m = re.match(r"^ {4}([\w, ]+):\s*(.*)$", line)
            if m and all(n.strip().isidentifier() for n in m.group(1).split(",")):
                names = [n.strip() for n in m.group(1).split(",")]
                for n in names:
                    notes[n] = m.group(2).strip()
            elif line.startswith("        ") and names:
                for n in names:
                    notes[n] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                break  # the next docstring section
    try:
        source = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # pragma: no cover - no source (frozen app)
        source = []
    above: list[str] = []
    for line in source:
        m = re.match(r"^ {4}(\w+): [^=]+=[^#]*(?:#\s*(.*))?$", line)
        comment = line.strip()
        if comment.startswith("#"):
            above.append(comment.lstrip("# "))
            continue
        if m and m.group(1) not in notes:
            text = " ".join([*above, m.group(2) or ""]).strip()
            if text:
                notes[m.group(1)] = text
        above = []
    return {k: re.sub(r"``|:\w+:`~?([^`]*)`", lambda x: x.group(1) or "", v) for k, v in notes.items()}
