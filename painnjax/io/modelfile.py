"""A trained model as one file: config + weights + constants (energy offsets, radial basis) + units + provenance.

File layout (msgpack): ``{"header": {...}, "variables": <flax msgpack bytes>, "sha256": hex}``.
The header holds ``format`` ("painnjax-model"), ``format_version``, ``config`` and
``metadata``; the checksum covers the weights, so a truncated or altered file is refused.
Energies of a model are always eV and lengths Å (converters fold other units in).

Example:
    >>> from painnjax.model import Model
    >>> model = Model.init(PaiNNConfig(n_atom_basis=8, n_interactions=1, n_rbf=4))
    >>> save_model(model, "/tmp/tiny.painn")          # doctest: +SKIP
    >>> load_model("/tmp/tiny.painn").config.n_atom_basis  # doctest: +SKIP
    8
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

import jax
import msgpack
import numpy as np
from flax import serialization

from painnjax.errors import ModelFileError
from painnjax.io.files import atomic_write
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig
from painnjax.nn.painn import init_variables

FORMAT = "painnjax-model"
FORMAT_VERSION = 1
SUFFIX = ".painn"


def _bundled_dir() -> Path:
    return Path(str(resources.files("painnjax") / "models"))


def bundled_models() -> list[str]:
    """Names of the models shipped inside the package (loadable by name)."""
    d = _bundled_dir()
    return sorted(p.stem for p in d.glob(f"*{SUFFIX}")) if d.is_dir() else []


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    """A path to a model file: the path itself, or the bundled model of that name."""
    p = Path(name_or_path)
    if p.exists():
        return p
    bundled = _bundled_dir() / f"{p.name}{SUFFIX}"
    if p.parent == Path(".") and bundled.exists():
        return bundled
    names = bundled_models()
    hint = f"; bundled models: {', '.join(names)}" if names else ""
    raise ModelFileError(f"{name_or_path}: no such model file{hint}")


def save_model(model: Model, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically (a crash never leaves half a file)."""
    path = Path(path)
    from painnjax._version import __version__

    weights = serialization.msgpack_serialize(jax.device_get(model.variables))
    payload = {
        "header": {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "painnjax_version": __version__,
            "config": model.config.to_dict(),
            "metadata": model.metadata,
        },
        "variables": weights,
        "sha256": hashlib.sha256(weights).hexdigest(),
    }
    return atomic_write(path, msgpack.packb(payload, use_bin_type=True))


def load_model(name_or_path: str | os.PathLike) -> Model:
    """Read a model file (or a bundled model by name); clear errors for anything wrong."""
    if isinstance(name_or_path, Model):
        return name_or_path
    path = resolve_model_path(name_or_path)
    try:
        payload = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: not a painnjax model file (unreadable: {exc})") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, expected a painnjax model file") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("header"), dict):
        raise ModelFileError(f"{path}: not a painnjax model file (no header)")
    header = payload["header"]
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a painnjax model file (format {header.get('format')!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(
            f"{path}: model format version {version!r} is not supported by this painnjax "
            f"(reads versions 1..{FORMAT_VERSION}); upgrade painnjax"
        )
    weights = payload.get("variables")
    if not isinstance(weights, bytes) or hashlib.sha256(weights).hexdigest() != payload.get("sha256"):
        raise ModelFileError(f"{path}: the weights are corrupt (checksum mismatch)")
    try:
        config = PaiNNConfig.from_dict(header["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid model config ({exc})") from None
    variables = serialization.msgpack_restore(weights)
    _check_variables(path, config, variables)
    return Model(config, variables, header.get("metadata") or {})


def _check_variables(path: Path, config: PaiNNConfig, variables) -> None:
    """The stored arrays must have exactly the shapes the config implies."""
    expected = jax.eval_shape(lambda: init_variables(config))
    flat_exp = {jax.tree_util.keystr(k): v.shape for k, v in jax.tree_util.tree_leaves_with_path(expected)}
    try:
        flat_got = {jax.tree_util.keystr(k): np.shape(v) for k, v in jax.tree_util.tree_leaves_with_path(variables)}
    except Exception as exc:  # pragma: no cover - defensive
        raise ModelFileError(f"{path}: weights are not a tree of arrays ({exc})") from None
    missing = sorted(set(flat_exp) - set(flat_got))
    extra = sorted(set(flat_got) - set(flat_exp))
    if missing or extra:
        raise ModelFileError(f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {extra[:3]})")
    for k, shape in flat_exp.items():
        if tuple(flat_got[k]) != tuple(shape):
            raise ModelFileError(f"{path}: weight {k} has shape {flat_got[k]}, config implies {shape}")
