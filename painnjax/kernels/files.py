"""Kernel model files: checksummed, no pickle, nothing executed on load.

Layout: the magic line ``PAINNJAX-KERNEL\\n`` then one msgpack map ``{"header": {...},
"data": <bytes>, "sha256_all": hex}``. The header holds ``format`` ("painnjax-kernel-model"),
``format_version``, ``painnjax_version``, ``config`` (the ``[model]`` section), ``metadata``
and ``arrays``: per array its name, dtype (float64, float32, int32 or int64 only), shape and
byte offset into ``data``, the arrays' raw little-endian bytes end to end. ``sha256_all`` is
the digest of the header (keys sorted) followed by ``data``, as for PaiNN model files
(:mod:`painnjax.io.modelfile`), so any altered or missing byte is refused with a
:class:`~painnjax.errors.ModelFileError` naming the file. The suffix is ``.painn``, as PaiNN's:
:func:`is_kernel_model_file` tells the two apart by the magic line.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import numpy as np

from painnjax._version import __version__
from painnjax.config import from_mapping
from painnjax.errors import InputError, ModelFileError
from painnjax.io.files import atomic_write
from painnjax.io.modelfile import KERNEL_MAGIC, _content_digest
from painnjax.kernels.config import KernelModelConfig
from painnjax.kernels.model import KernelModel

MAGIC = KERNEL_MAGIC  # what PaiNN's load_model recognises, to name such a file where a PaiNN model is expected
FORMAT = "painnjax-kernel-model"
FORMAT_VERSION = 1
DTYPES = ("<f8", "<f4", "<i4", "<i8")


def is_kernel_model_file(path) -> bool:
    """Whether ``path`` is a file that starts as a kernel model file (reads 16 bytes)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def save_kernel_model(model: KernelModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically."""
    arrays, chunks, offset = [], [], 0
    for name in sorted(model.arrays):
        a = np.ascontiguousarray(model.arrays[name])
        a = a.astype(a.dtype.newbyteorder("<"))
        if a.dtype.str not in DTYPES:
            raise InputError(f"kernel model array {name!r} has dtype {a.dtype}, not one of {DTYPES}")
        raw = a.tobytes()
        arrays.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "offset": offset})
        chunks.append(raw)
        offset += len(raw)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "painnjax_version": __version__,
        "config": model.config.to_dict(),
        "metadata": model.metadata,
        "arrays": arrays,
    }
    data = b"".join(chunks)
    stored = msgpack.unpackb(msgpack.packb(header, use_bin_type=True), raw=False, strict_map_key=False)
    payload = {"header": header, "data": data, "sha256_all": _content_digest(stored, data)}
    return atomic_write(Path(path), MAGIC + msgpack.packb(payload, use_bin_type=True))


def load_kernel_model(path: str | os.PathLike) -> KernelModel:
    """Read a kernel model file; a :class:`ModelFileError` naming it for anything wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, expected a painnjax kernel model file") from None
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    if not raw.startswith(MAGIC):
        raise ModelFileError(f"{path}: not a painnjax kernel model file (no {MAGIC[:-1].decode()} line)")
    try:
        payload = msgpack.unpackb(raw[len(MAGIC) :], raw=False, strict_map_key=False)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: altered or damaged: unreadable ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("header"), dict):
        raise ModelFileError(f"{path}: altered or damaged: no header")
    header, data = payload["header"], payload.get("data")
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a painnjax kernel model file (format {header.get('format')!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: kernel model format version {version!r} is not supported by this painnjax "
            f"(reads versions 1..{FORMAT_VERSION}); upgrade painnjax"
        )
    if not isinstance(data, bytes) or _content_digest(header, data) != payload.get("sha256_all"):
        raise ModelFileError(f"{path}: altered or damaged: checksum mismatch")
    arrays = _arrays(path, header.get("arrays"), data)
    try:
        config = from_mapping(KernelModelConfig, "model", header.get("config"))
    except (InputError, TypeError) as exc:
        raise ModelFileError(f"{path}: invalid kernel model config ({exc})") from None
    return KernelModel(config, arrays, header.get("metadata") or {})


def _arrays(path: Path, table, data: bytes) -> dict[str, np.ndarray]:
    """The arrays the header lists, read from ``data`` (copies), checked against its length."""
    if not isinstance(table, list):
        raise ModelFileError(f"{path}: altered or damaged: no array table")
    out = {}
    for entry in table:
        try:
            name, dtype, shape, offset = entry["name"], entry["dtype"], tuple(entry["shape"]), int(entry["offset"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path}: altered or damaged: bad array entry {entry!r}") from None
        if dtype not in DTYPES:
            raise ModelFileError(f"{path}: array {name!r} has dtype {dtype!r}, not one of {DTYPES}")
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if offset < 0 or offset + size > len(data):
            raise ModelFileError(f"{path}: array {name!r} runs past the end of the data")
        out[name] = np.frombuffer(data, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape).copy()
    return out
