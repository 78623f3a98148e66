"""Small data shipped inside the package (structures and a small training set; see README.md here).

Bundled datasets can be named wherever a data file is read, e.g.
``painnjax train --data saam-gfn1-small --monomers saam-gfn1-monomers``.
"""

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
    from ase.io import read  # here, not at the head: see painnjax.data.dataset.read_frames

    return read(bundled_structure_path(name))


DATASET_SUFFIXES = (".extxyz.gz", ".extxyz")


def bundled_datasets() -> list[str]:
    """Names of the bundled datasets (frames with energies and forces, and monomer references)."""
    d = Path(str(resources.files("painnjax.data")))
    names = {p.name[: -len(s)] for s in DATASET_SUFFIXES for p in d.glob(f"*{s}")}
    return sorted(names)


def bundled_dataset_path(name: str) -> Path:
    """Path of the bundled dataset ``name``, e.g. ``"saam-gfn1-small"``."""
    d = Path(str(resources.files("painnjax.data")))
    for suffix in DATASET_SUFFIXES:
        p = d / f"{name}{suffix}"
        if p.is_file():
            return p
    raise InputError(f"no bundled dataset {name!r}; bundled: {', '.join(bundled_datasets())}")
