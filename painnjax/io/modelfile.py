"""A trained model as one file: config + weights + constants (energy offsets, radial basis) + units + provenance.

File layout (msgpack): ``{"header": {...}, "variables": <flax msgpack bytes>, "sha256": hex,
"sha256_all": hex}``. The header holds ``format`` ("painnjax-model"), ``format_version``,
``painnjax_version``, ``config`` and ``metadata`` (with, for a model painnjax trained, its
``training`` record and its ``domain``: what the training frames covered,
:class:`painnjax.data.domain.Domain`). ``sha256`` is the digest of the weights;
``sha256_all`` (format version 2) is the digest of the whole content, the canonical
serialisation of the header (keys sorted at every level) followed by the weights, so a
truncated file or one with any altered byte of header or weights is refused. Files of format
version 1 (weights-only checksum) still load, with a :class:`ModelFileWarning`.
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
import json
import os
import warnings
from importlib import resources
from pathlib import Path

import jax
import msgpack
import numpy as np
from flax import serialization

from painnjax._version import __version__
from painnjax.errors import InputError, ModelFileError
from painnjax.io.files import atomic_write
from painnjax.model import Model
from painnjax.nn.config import PaiNNConfig
from painnjax.nn.painn import init_variables

FORMAT = "painnjax-model"
FORMAT_VERSION = 2  # 2: "sha256_all" covers header and weights; 1: "sha256" covers the weights only
#: the first line of a kernel model file (painnjax.kernels.files), which shares the .painn suffix
KERNEL_MAGIC = b"PAINNJAX-KERNEL\n"
SUFFIX = ".painn"
#: metadata entries that do not change what a model computes, left out of :func:`model_identity`
NOT_IDENTITY = ("domain",)


class ModelFileWarning(UserWarning):
    """A model file loads but is not fully protected (format version 1: the header has no checksum)."""


def _canonical(obj):
    """``obj`` with the keys of every dict sorted (a fixed order for the checksum)."""
    if isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))
        return {k: _canonical(v) for k, v in items}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


def _content_digest(header: dict, weights: bytes) -> str:
    """sha256 of the header (as read back from the file, keys sorted) followed by the weights.

    A msgpack object delimits itself, so the two parts cannot be shifted into each other.
    """
    h = hashlib.sha256(msgpack.packb(_canonical(header), use_bin_type=True))
    h.update(weights)
    return h.hexdigest()


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
    weights = serialization.msgpack_serialize(jax.device_get(model.variables))
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "painnjax_version": __version__,
        "config": model.config.to_dict(),
        "metadata": model.metadata,
    }
    # The digest is taken over the header as the reader will see it (tuples read back as lists).
    stored = msgpack.unpackb(msgpack.packb(header, use_bin_type=True), raw=False, strict_map_key=False)
    payload = {
        "header": header,
        "variables": weights,
        "sha256": hashlib.sha256(weights).hexdigest(),
        "sha256_all": _content_digest(stored, weights),
    }
    return atomic_write(path, msgpack.packb(payload, use_bin_type=True))


def load_model(name_or_path: str | os.PathLike) -> Model:
    """Read a model file (or a bundled model by name); clear errors for anything wrong."""
    if isinstance(name_or_path, Model):
        return name_or_path
    path = resolve_model_path(name_or_path)
    try:
        # ValueError includes UnicodeDecodeError; TypeError: a damaged map whose key became a map or list.
        payload = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
        if path.read_bytes()[: len(KERNEL_MAGIC)] == KERNEL_MAGIC:
            raise ModelFileError(
                f"{path}: a kernel model file (KRR or k-NN): it predicts binding energies only, without forces, so "
                "it cannot run MD, screening, optimisation, harmonic analysis or i-PI, nor start a PaiNN training; "
                "use it with `painnjax evaluate` (alone) or `painnjax info`"
            ) from None
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
        raise ModelFileError(f"{path}: the weights are altered or damaged: checksum mismatch")
    _check_content(path, version, payload, header, weights)
    try:
        config = PaiNNConfig.from_dict(header["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid model config ({exc})") from None
    variables = serialization.msgpack_restore(weights)
    _check_variables(path, config, variables)
    return Model(config, variables, header.get("metadata") or {})


def _check_content(path: Path, version: int, payload: dict, header: dict, weights: bytes) -> None:
    """The whole-content checksum must match; a version-1 file without one loads with a warning."""
    digest = payload.get("sha256_all")
    if digest is None and version == 1:
        warnings.warn(
            f"{path}: model file of format version 1, whose checksum covers only the weights: an altered "
            "header (config, metadata) would go unnoticed. Re-save it to protect it: "
            "painnjax.save_model(painnjax.load_model(path), path)",
            ModelFileWarning,
            stacklevel=3,
        )
        return
    if not isinstance(digest, str):
        raise ModelFileError(f"{path}: altered or damaged: no checksum over the header (sha256_all is missing)")
    if _content_digest(header, weights) != digest:
        raise ModelFileError(
            f"{path}: altered or damaged: checksum mismatch (the header, i.e. format, config or metadata, "
            "differs from what was saved)"
        )


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


def model_identity(model) -> str:
    """What a model computes, as ``"sha256:<hex>"``: a hash of its config, weights and metadata.

    The same for a model in memory and for that model saved and read back (weights are hashed
    leaf by leaf in key order, with their dtype and shape). A file path or bundled name is read
    first. A list or tuple of models (a committee whose mean drives MD) gets one identity of the
    members in order. Run folders record it so that a restart with another model is refused.
    The metadata entries of :data:`NOT_IDENTITY` (the training domain, which says where the
    model is valid, not what it computes) are left out: recording a domain in a model file
    later does not make its earlier runs another model's.
    """
    if isinstance(model, (list, tuple)):
        if len(model) == 1:
            return model_identity(model[0])
        h = hashlib.sha256(b"painnjax-committee\0")
        for m in model:
            h.update(model_identity(m).encode() + b"\0")
        return "sha256:" + h.hexdigest()
    model = load_model(model)
    h = hashlib.sha256(b"painnjax-model\0")
    metadata = {k: v for k, v in model.metadata.items() if k not in NOT_IDENTITY}
    head = {"config": model.config.to_dict(), "metadata": metadata}
    h.update(json.dumps(head, sort_keys=True, default=_json_value).encode() + b"\0")
    for key, leaf in jax.tree_util.tree_leaves_with_path(jax.device_get(model.variables)):
        x = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{jax.tree_util.keystr(key)} {x.dtype.str} {x.shape}\0".encode())
        h.update(x.tobytes())
    return "sha256:" + h.hexdigest()


def _json_value(x):
    if isinstance(x, np.generic):
        return x.item()
    if hasattr(x, "__array__"):
        return np.asarray(x).tolist()
    return str(x)


def check_same_model(recorded: str | None, recorded_name, model_id: str | None, name, where) -> None:
    """Refuse to continue a run recorded with model ``recorded`` with another one (``model_id``).

    ``recorded`` None (a run folder from before painnjax recorded models): a warning that the
    model cannot be checked. ``model_id`` None (an energy function with no model): nothing to
    check. ``where`` is the file holding the record (for the messages).
    """
    if model_id is None:
        return
    if recorded is None:
        warnings.warn(
            f"{where}: written before painnjax recorded the model of a run; cannot check that it is "
            f"continued with the same model as before ({name})",
            UserWarning,
            stacklevel=3,
        )
        return
    if recorded != model_id:
        raise InputError(
            f"{where}: the run was made with model {recorded_name} ({_short(recorded)}), this call uses "
            f"{name} ({_short(model_id)}): continuing would mix two potentials; use the same model or "
            "another folder"
        )


def _short(identity: str) -> str:
    return identity[: len("sha256:") + 12]
