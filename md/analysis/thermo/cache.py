"""The monomer references of a model, minimised once and kept: a JSON file per model and settings.

:func:`md.analysis.thermo.workflow.monomer_references` minimises the SA, AM and W templates with a
model and takes their Hessians: seconds to a minute of compilation and FIRE on every call, for
the same numbers each time. What the thermochemistry needs of a monomer does not depend on the
temperatures or the treatment of soft modes: its positions, energy, frequencies and linearity.
Those are kept here, keyed by what decides them:

- the model's identity (:func:`painnjax.io.modelfile.model_identity`: config, weights, metadata);
- the precision, FIRE's ``fmax`` and step limit, the settle threshold
  (:mod:`md.analysis.settle`), and each template's atoms and start positions
  (:func:`md.clusters.molecule`), hashed with :data:`CACHE_VERSION`.

The file is ``<cache>/painnjax/monomers/<identity>-<settings>.json`` where ``<cache>`` is
``$XDG_CACHE_HOME`` or ``~/.cache``: a user's folder, not the model file's (which may not be
writable, and is shared). A damaged or unreadable file is warned about and computed again; a
folder that cannot be written only loses the cache (warned about), never the run.

Example:
    >>> path = cache_path("sha256:ab12...", settings_key)             # doctest: +SKIP
    >>> entries = read_cache(path)                                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from painnjax.errors import InputError
from painnjax.io.files import user_cache_folder, write_json

#: bump when what is stored, or how it is computed, changes: old files are then not used
CACHE_VERSION = 1
#: the fields of one monomer's entry
FIELDS = ("numbers", "positions_A", "energy_eV", "frequencies_cm-1", "linear", "fmax_eV_per_A")


class MonomerCacheWarning(UserWarning):
    """The monomer cache could not be read or written: the references are computed (again)."""


def cache_folder() -> Path:
    """``$XDG_CACHE_HOME/painnjax/monomers`` (``~/.cache`` when the variable is unset or empty)."""
    return user_cache_folder("monomers")


def settings_key(settings: dict, templates: dict) -> str:
    """A short hash of the settings that decide the monomers and of the templates' atoms and positions."""
    blob = {
        "version": CACHE_VERSION,
        "settings": settings,
        "templates": {
            n: {"numbers": [int(z) for z in a.numbers], "positions": np.round(a.positions, 8).tolist()}
            for n, a in sorted(templates.items())
        },
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def cache_path(identity: str, key: str, folder: Path | None = None) -> Path:
    """The file of the model ``identity`` (``sha256:<hex>``) with the settings ``key``."""
    ident = identity.split(":", 1)[-1][:32]
    return (cache_folder() if folder is None else Path(folder)) / f"{ident}-{key}.json"


def _valid(entry) -> bool:
    if not isinstance(entry, dict) or not all(k in entry for k in FIELDS):
        return False
    try:
        n = len(entry["numbers"])
        R = np.asarray(entry["positions_A"], np.float64)
        f = np.asarray(entry["frequencies_cm-1"], np.float64)
        e = float(entry["energy_eV"])
    except (TypeError, ValueError):
        return False
    return R.shape == (n, 3) and f.ndim == 1 and np.all(np.isfinite(R)) and np.all(np.isfinite(f)) and np.isfinite(e)


def read_cache(path: Path) -> dict:
    """The monomer entries the file holds (``{}`` when there is none); a damaged file: a
    :class:`MonomerCacheWarning` and ``{}`` (they are computed again and the file rewritten)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            raise ValueError("not a monomer cache of this version")
        entries = data.get("monomers")
        if not isinstance(entries, dict) or not all(_valid(v) for v in entries.values()):
            raise ValueError("a damaged monomer entry")
        return entries
    except (OSError, ValueError) as exc:
        warnings.warn(
            f"{path}: the monomer cache is unreadable ({exc}): the monomers are minimised again",
            MonomerCacheWarning,
            stacklevel=2,
        )
        return {}


def write_cache(path: Path, entries: dict, about: dict) -> None:
    """Write the entries (atomically); a folder that cannot be written: a :class:`MonomerCacheWarning`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"version": CACHE_VERSION, **about, "monomers": entries})
    except (OSError, InputError) as exc:
        warnings.warn(
            f"{path}: the monomer cache cannot be written ({exc}): the monomers will be minimised again next time",
            MonomerCacheWarning,
            stacklevel=2,
        )
