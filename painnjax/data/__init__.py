"""Small data shipped inside the package (structures; see README.md here)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from painnjax.errors import InputError


def bundled_structure_path(name: str) -> Path:
    """Path of a bundled structure, e.g. ``"SA7AM7"``."""
    p = Path(str(resources.files("painnjax.data") / f"{name}.xyz"))
    if not p.is_file():
        raise InputError(f"no bundled structure {name!r}; bundled: {', '.join(bundled_structures())}")
    return p


def bundled_structures() -> list[str]:
    d = Path(str(resources.files("painnjax.data")))
    return sorted((p.stem for p in d.glob("*.xyz")), key=lambda s: (len(s), s))


def bundled_structure(name: str):
    """The bundled structure ``name`` as an ``ase.Atoms``."""
    from ase.io import read

    return read(bundled_structure_path(name))
